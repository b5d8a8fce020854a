"""Instructions per item under callgrind: ``python benchmarks/instructions.py [CASE ...]``.

Wall time on a shared machine moves by a third from run to run; the number of instructions a
pass executes does not. For each case this runs, under ``valgrind --tool=callgrind``, a fresh
interpreter that builds the workload (:func:`benchmarks.cases.make_workload`, fixed seed) and
then runs the case once (the inputs frozen out of the collector's reach, as ``run.py`` does),
and a second one that builds the same workload and runs nothing. The
difference of their instruction counts (``Ir``), divided by the items one pass handles, is the
case's cost per item, noise-free (``PYTHONHASHSEED=0`` makes both interpreters hash alike).
``--top N`` also prints the C functions whose own instruction count differs most: where in
the interpreter the case spends (allocation, the collector, dict probes, the eval loop);
``--no-gc`` disables the collector in both runs, so the difference to a normal run is the
collector's share.

Cases: the names of :data:`benchmarks.cases.CASES`, ``record loop`` (the record-build loop
appending each entry itself), and ``evicting`` / ``unevicted``: the eviction goal's two sides
(:func:`benchmarks.goals.eviction_sides`, ``max_open`` a fifth of the events), each measured
against an interpreter that prepared the same correlator (filled past the bound) and stopped,
so only the evicting (or growing) part is counted. Needs valgrind; about 20 s per case for the
default 10,000 events.
"""

from __future__ import annotations

import argparse
import gc
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Final

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.cases import CASES, Workload, make_workload
from benchmarks.goals import eviction_sides, record_build_sides
from benchmarks.streams import make_stream

__all__ = ["main", "measure"]

_ROOT = Path(__file__).resolve().parent.parent
_TOTAL = re.compile(r"^summary:\s+(\d+)", re.MULTILINE)
_RECURSION = re.compile(r"'\d+$")  # callgrind's mark of a recursive call depth
_FUNCTION = re.compile(r"^\s*([\d,]+)\s+\([^)]*\)\s+(\S.*)$")


#: Cases measured against a baseline of their own (``NAME:prepare``), not against ``none``.
_PREPARED: Final = ("evicting", "unevicted")


def _run_case(name: str, work: Workload) -> int:
    """Run one case once over ``work``; how many items it handled."""
    if name == "none":
        return 0
    side_name, _, stage = name.partition(":")
    if side_name in _PREPARED:
        events = len(work.events)
        sides = eviction_sides(max(events // 5, 100), events)
        side = sides[_PREPARED.index(side_name)]
        run = side.prepare()
        if stage == "prepare":
            return 0
        run()
        return side.items
    if name == "record loop":
        _, loop = record_build_sides(work)
        loop.prepare()()
        return loop.items
    case = next(case for case in CASES if case.name == name)
    case.run(work)
    return case.items(work)


def _callgrind(name: str, events: int, out: Path, *, no_gc: bool = False) -> int:
    """Run ``name`` under callgrind into ``out``; its total instruction count."""
    env = dict(os.environ, PYTHONHASHSEED="0")
    subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={out}",
            sys.executable,
            "-m",
            "benchmarks.instructions",
            "--inner",
            name,
            "--events",
            str(events),
            *(["--no-gc"] if no_gc else []),
        ],
        cwd=_ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    found = _TOTAL.search(out.read_text(errors="replace"))
    if found is None:
        raise RuntimeError(f"no instruction total in {out}")
    return int(found[1])


def _self_costs(path: Path) -> dict[str, int]:
    """Own (exclusive) instruction counts by function, from ``callgrind_annotate``."""
    text = subprocess.run(
        ["callgrind_annotate", "--threshold=100", str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    costs: dict[str, int] = {}
    for line in text.splitlines():
        m = _FUNCTION.match(line)
        if m and "PROGRAM TOTALS" not in m[2]:
            # "/path/to/Objects/listobject.c:list_traverse" -> "listobject.c:list_traverse"
            where, _, function = m[2].split(" [")[0].rpartition(":")
            name = f"{where.rpartition('/')[2]}:{_RECURSION.sub('', function)}"
            costs[name] = costs.get(name, 0) + int(m[1].replace(",", ""))
    return costs


def measure(cases: Sequence[str], events: int, top: int, *, no_gc: bool = False) -> list[str]:
    """Instructions per item for each case (and, with ``top``, where they go)."""
    work = make_workload(make_stream(events))
    collector = ", collector disabled" if no_gc else ""
    lines = [f"# instructions per item, {events:,} events, callgrind (valgrind){collector}"]
    with tempfile.TemporaryDirectory() as tmp:
        base_file = Path(tmp) / "none.out"
        none_base = _callgrind("none", events, base_file, no_gc=no_gc)
        none_costs = _self_costs(base_file) if top else {}
        for name in cases:
            items = _run_case(name, work) if name != "none" else 1
            out = Path(tmp) / "case.out"
            total = _callgrind(name, events, out, no_gc=no_gc)
            if name in _PREPARED:
                # This case's own baseline: the same interpreter up to the prepared correlator.
                prepared_file = Path(tmp) / "prepared.out"
                base = _callgrind(f"{name}:prepare", events, prepared_file, no_gc=no_gc)
                base_costs = _self_costs(prepared_file) if top else {}
            else:
                base, base_costs = none_base, none_costs
            lines.append(f"{name:24s} {(total - base) / items:10,.0f} Ir/item  ({items:,} items)")
            if top:
                costs = _self_costs(out)
                delta = {
                    fn: (cost - base_costs.get(fn, 0)) / items
                    for fn, cost in costs.items()
                    if cost - base_costs.get(fn, 0) > 0
                }
                for fn, per in sorted(delta.items(), key=lambda kv: -kv[1])[:top]:
                    lines.append(f"    {per:8,.0f}  {fn}")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """Print instructions per item for the cases named (all but the baselines by default)."""
    parser = argparse.ArgumentParser(prog="python benchmarks/instructions.py")
    parser.add_argument("cases", nargs="*", help="case names (default: every case)")
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--top", type=int, default=0, help="C functions to list per case")
    parser.add_argument(
        "--no-gc", action="store_true", help="disable the collector in the runs (its share)"
    )
    parser.add_argument("--inner", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.inner is not None:
        work = make_workload(make_stream(args.events))
        # As run.py does: the inputs out of the collector's reach (see benchmarks.timing).
        gc.collect()
        gc.freeze()
        if args.no_gc:
            gc.disable()
        _run_case(args.inner, work)
        return 0
    if shutil.which("valgrind") is None:
        parser.error("valgrind is not installed")
    names = args.cases or [case.name for case in CASES] + ["record loop", *_PREPARED]
    for line in measure(names, args.events, args.top, no_gc=args.no_gc):
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
