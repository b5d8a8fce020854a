"""The benchmark runner: ``python -m benchmarks`` (or ``python benchmarks/run.py``, the same).

Prints one table: each case's subject against the baseline measured beside it in the same run
(the median of alternating pairs, the lowest and highest pair in brackets; see
:mod:`benchmarks.timing`), its absolute rate for orders of magnitude, and the goal or the
figure it is checked against. Sections (``--only``, comma-separated; all by default):

* ``core``: ``Correlator.feed_many``, ``single_record`` and ``SingleEventMonitor``
  against the floor; eviction at ``max_open`` against the same stream unbounded.
* ``readers``: ``watch`` against ``correlate`` on one Snare file; Snare, NXLog (with orjson)
  and EVTX (the shared files) read into the correlator, each against its parse floor.
* ``sigma``: SigmaHQ's process_creation rules hunting the shared EVTX files' records, against
  one trivial rule; the rules' load time.
* ``memory``: bytes per open process at 10,000 and 100,000 open, each in a fresh interpreter.
* ``end_to_end`` (:mod:`benchmarks.end_to_end`): whole ``correlog correlate`` processes, CPU time
  and peak RSS: Snare against SEC, NXLog and EVTX against a process that only parses.
* ``--instructions`` adds callgrind's instructions per event of the core cases (valgrind).

More sections come from the modules named in :data:`SECTION_MODULES`: each defines ``SECTIONS``,
a mapping of section name to a function ``(sizes) -> rows``. A module that is not there is left
out, so a benchmark file of its own adds its rows to the one table by being named there.

Cases whose input is missing (no orjson, no evtx package, no shared data) are listed as
skipped. ``--quick`` runs everything on tiny inputs, for a smoke run.
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):
    # Run as a script (``python benchmarks/run.py``): make the package importable.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import cases, instructions
from benchmarks.memory import entry_bytes
from benchmarks.render import nxlog_lines, snare_lines, write_lines
from benchmarks.streams import make_stream
from benchmarks.timing import Duel, frozen_gc
from correlog import Correlator, Record, read

__all__ = ["Row", "main"]

#: Modules whose ``SECTIONS`` add to the table (see the module docs).
SECTION_MODULES = ("benchmarks.end_to_end", "benchmarks.hunt_zircolite")
_ROOT = Path(__file__).resolve().parent.parent

#: Ratios this code reached when the suite was cut to these cases (CPython 3.11). These cases
#: measure a layer, not what a user waits for (the fold against a bare dict loop, one reader
#: against a split): they carry no goal, only a regression check, "no slower than this" less
#: :data:`NOISE` for a shared machine.
WAS = {
    "feed_many": 0.16,
    "single_record": 0.53,
    "single_event_monitor": 0.17,
    "snare": 0.15,
    "monitor": 0.75,
}
#: How far under its ``WAS`` figure a regression check may measure before it counts as slower.
NOISE = 0.8


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the table."""

    case: str
    measured: str
    rate: str
    target: str
    #: None: reported, not judged (or skipped: the measured cell says so).
    met: bool | None = None


@dataclass(frozen=True, slots=True)
class Sizes:
    """How big each case's input is."""

    events: int
    pairs: int
    evict_max_open: int
    evict_events: int
    snare_events: int
    nxlog_events: int
    evtx_loops: int
    entries: tuple[int, ...]
    instruction_events: int
    end_to_end_events: int
    #: Copies of the shared EVTX files the end-to-end EVTX rows read: enough records that the
    #: interpreter's start (in every side) does not pull the ratios towards 1.
    end_to_end_evtx_loops: int


FULL = Sizes(
    300_000, 5, 100_000, 200_000, 100_000, 50_000, 20, (10_000, 100_000), 10_000, 200_000, 200
)
QUICK = Sizes(3_000, 3, 1_000, 3_000, 2_000, 1_000, 1, (1_000,), 2_000, 2_000, 1)


def _duel_row(case: str, duel: Duel, target: str = "", at_least: float | None = None) -> Row:
    met = None if at_least is None else duel.ratio >= at_least
    return Row(case, f"{duel.spread()} x", f"{duel.subject_rate:,.0f}/s", target, met)


def _goal(at_least: float) -> str:
    return f">= {at_least:g} x"


def _regression_row(case: str, duel: Duel, was: float) -> Row:
    """A case that measures a layer: checked against what it reached before, less noise."""
    return _duel_row(case, duel, f"no slower: >= {was * NOISE:.2f} x (was {was})", was * NOISE)


def core(sizes: Sizes) -> Iterator[Row]:
    """The correlator's hot paths against the floor, and eviction against no eviction."""
    batches = make_stream(sizes.events).batches(1024)
    floor = cases.floor_side(batches)
    with frozen_gc():
        for name, side in (
            ("feed_many", cases.feed_many_side(batches)),
            ("single_record", cases.single_record_side(batches)),
            ("single_event_monitor", cases.monitor_single_side(batches)),
        ):
            duel = Duel(side, floor).run(sizes.pairs)
            yield _regression_row(f"{side.name} / floor", duel, WAS[name])
        evicting, unbounded = cases.eviction_sides(sizes.evict_max_open, sizes.evict_events)
        duel = Duel(evicting, unbounded).run(sizes.pairs)
        yield _duel_row(f"{evicting.name} / {unbounded.name}", duel, _goal(0.5), 0.5)


def readers(sizes: Sizes) -> Iterator[Row]:
    """The monitor against the correlator alone; each reader against its floor."""
    with tempfile.TemporaryDirectory() as tmp:
        snare = Path(tmp) / "stream.snare"
        snare_n = write_lines(snare, snare_lines(make_stream(sizes.snare_events).events))
        duel = Duel(*cases.watch_sides(snare, snare_n)).run(sizes.pairs)
        # The monitor against a correlator that writes nothing: a layer, so a regression check
        # (the commands, where correlate writes its records, are compared in end_to_end).
        yield _regression_row("Monitor / Correlator.process (Snare)", duel, WAS["monitor"])
        duel = Duel(*cases.snare_sides(snare, snare_n)).run(sizes.pairs)
        yield _regression_row("Snare read + process / decode + split", duel, WAS["snare"])
        if cases.has_orjson():
            nxlog = Path(tmp) / "stream.json"
            events = make_stream(sizes.nxlog_events, seed=4688).events
            nxlog_n = write_lines(nxlog, nxlog_lines(events))
            duel = Duel(*cases.nxlog_sides(nxlog, nxlog_n)).run(sizes.pairs)
            yield _duel_row("NXLog read + process / orjson.loads", duel, _goal(0.5), 0.5)
        else:
            yield Row("NXLog read + process / orjson.loads", "skipped: no orjson", "", "")
    paths = cases.evtx_files()
    if paths:
        duel = Duel(*cases.evtx_sides(paths, sizes.evtx_loops)).run(sizes.pairs)
        yield _duel_row("EVTX read + process / records_json + loads", duel, _goal(0.5), 0.5)
    else:
        yield Row("EVTX read + process", "skipped: no evtx package or shared EVTX", "", "")


def sigma(sizes: Sizes) -> Iterator[Row]:
    """All of SigmaHQ's rules against one trivial rule, over the shared EVTX records."""
    paths = cases.evtx_files()
    if not paths or not cases.SIGMA_RULES.is_dir():
        yield Row("Sigma hunt", "skipped: no shared rules or EVTX", "", "")
        return
    from correlog.sigma import load_rules

    started = time.perf_counter()
    ruleset = load_rules(cases.SIGMA_RULES)
    loaded = time.perf_counter() - started
    records = [r for p in paths for r in correlog_records(p)]
    with frozen_gc():
        duel = Duel(*cases.hunt_sides(ruleset, records)).run(sizes.pairs)
    yield _duel_row(f"hunt, {len(ruleset):,} rules / one trivial rule", duel)
    yield Row(f"load {len(ruleset):,} rules", f"{loaded:.2f} s", "", "<= 0.3 s (cached)")


def correlog_records(path: Path) -> list[Record]:
    """The records of one file, as ``correlog correlate`` makes them."""
    return list(Correlator().process(read(path)))


def memory(sizes: Sizes) -> Iterator[Row]:
    """Bytes per open process, each size in a fresh interpreter."""
    for n in sizes.entries:
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks", "--probe", str(n)],
            cwd=_ROOT,
            check=True,
            capture_output=True,
            text=True,
        )
        per_entry = float(done.stdout)
        met = per_entry <= 400 if n >= 100_000 else None
        yield Row(f"bytes per open process, {n:,} open", f"{per_entry:.0f} B", "", "<= 400 B", met)


def instruction_rows(sizes: Sizes) -> Iterator[Row]:
    """Instructions per event of the core cases (callgrind), and each over the floor's."""
    if shutil.which("valgrind") is None:
        yield Row("instructions (callgrind)", "skipped: no valgrind", "", "")
        return
    counts = instructions.measure(sizes.instruction_events)
    for name, count in counts.items():
        share = "" if name == "floor" else f"floor / this: {counts['floor'] / count:.2f}"
        yield Row(f"instructions/event, {name}", f"{count:,.0f}", "", share)


#: A section of the table: rows from the input sizes.
Section = Callable[[Sizes], Iterable[Row]]


def sections() -> dict[str, Section]:
    """Every section by name: this module's, then each of :data:`SECTION_MODULES`'s."""
    found: dict[str, Section] = {"core": core, "readers": readers, "sigma": sigma, "memory": memory}
    for name in SECTION_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # the module is there but needs something missing
                raise
            continue
        found.update(module.SECTIONS)
    return found


def render(rows: Sequence[Row]) -> list[str]:
    """The table as Markdown lines."""
    verdict = {True: "met", False: "NOT met", None: ""}
    header = ("case", "x baseline [min-max]", "rate", "goal", "met")
    cells = [(r.case, r.measured, r.rate, r.target, verdict[r.met]) for r in rows]
    widths = [max(len(row[i]) for row in (header, *cells)) for i in range(len(header))]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |"]
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    lines += [
        "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
        for row in cells
    ]
    return lines


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="correlog's benchmarks, each case against a baseline from the same run.",
    )
    parser.add_argument("--quick", action="store_true", help="tiny inputs: a smoke run")
    known = sections()
    parser.add_argument("--only", default=",".join(known), help="sections, comma-separated")
    parser.add_argument("--instructions", action="store_true", help="callgrind counts too")
    parser.add_argument("--pairs", type=int, default=None, help="pairs per case (5)")
    parser.add_argument("--events", type=int, default=None, help="core events (300,000)")
    parser.add_argument("--inner", help=argparse.SUPPRESS)
    parser.add_argument("--probe", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.sections = [s for s in args.only.split(",") if s]
    unknown = set(args.sections) - set(known)
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)}; choose from {', '.join(known)}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the sections asked for and print the table."""
    args = _parse(argv)
    sizes = QUICK if args.quick else FULL
    if args.inner:  # one interpreter of an instruction count
        instructions.inner(args.inner, args.events or sizes.instruction_events)
        return 0
    if args.probe:  # one memory probe
        print(entry_bytes(args.probe))
        return 0
    if args.pairs or args.events:
        sizes = Sizes(
            **{
                **{f: getattr(sizes, f) for f in Sizes.__dataclass_fields__},
                "pairs": args.pairs or sizes.pairs,
                "events": args.events or sizes.events,
            }
        )
    started = time.perf_counter()
    print(
        f"# correlog benchmarks: {platform.python_implementation()} {platform.python_version()} "
        f"on {platform.system()} {platform.machine()}, {os.cpu_count()} CPUs; "
        f"{sizes.events:,} core events, {sizes.pairs} pairs a case",
        flush=True,
    )
    known = sections()
    rows: list[Row] = []
    for name in args.sections:
        print(f"# {name} ...", file=sys.stderr, flush=True)
        rows += known[name](sizes)
    if args.instructions:
        rows += instruction_rows(sizes)
    for line in render(rows):
        print(line)
    print(f"# {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
