"""``correlog watch`` against ``correlog correlate`` end to end, on the same Snare file.

Both commands run as subprocesses on one generated Snare stream (the generator and renderer of
:mod:`benchmarks.bench_output`), output (JSON lines: not a terminal) dropped, interleaved, and
each keeps its best CPU time (user + system, :func:`benchmarks.end_to_end.cpu_and_rss`) of
``--repeat`` runs. The figure is ``watch``'s speed as a fraction of ``correlate``'s: what the
rules cost over correlating alone (``watch`` writes only the alerts, ``correlate`` every
record). With ``--src DIR`` the two commands run from another source tree too (``DIR`` first
on the path), in the same run: a previous release against this one.

Run: ``python -m benchmarks.bench_watch [--events 200000] [--repeat 3] [--src DIR]``. The
seed is fixed.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.end_to_end import cpu_and_rss
from benchmarks.render import snare_lines, write_lines
from benchmarks.streams import make_stream

__all__ = ["main", "ratios"]

_THIS_SRC = Path(__file__).resolve().parents[1] / "src"


def _command(src: Path, verb: str, path: Path) -> list[str]:
    """``correlog VERB --format snare PATH`` with ``src`` first on the path."""
    code = (
        f"import sys; sys.path.insert(0, {str(src)!r}); sys.argv[0] = 'correlog';"
        "from correlog.cli import main; raise SystemExit(main())"
    )
    return [sys.executable, "-c", code, verb, "--format", "snare", str(path)]


def ratios(path: Path, trees: dict[str, Path], repeat: int) -> dict[str, tuple[float, float]]:
    """For each tree: (best CPU seconds of ``correlate``, of ``watch``), runs interleaved."""
    best: dict[tuple[str, str], float] = {}
    env_path = os.environ.pop("PYTHONPATH", None)  # each run names its own tree
    try:
        for _ in range(repeat):
            for label, src in trees.items():
                for verb in ("correlate", "watch"):
                    cpu, _rss = cpu_and_rss(_command(src, verb, path))
                    best[label, verb] = min(cpu, best.get((label, verb), float("inf")))
    finally:
        if env_path is not None:
            os.environ["PYTHONPATH"] = env_path
    return {label: (best[label, "correlate"], best[label, "watch"]) for label in trees}


def main(argv: Sequence[str] | None = None) -> None:
    """Print ``watch``'s speed against ``correlate``'s, for this tree and any ``--src``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--src", action="append", default=[], help="another tree's src folder")
    args = parser.parse_args(argv)
    trees = {"this tree": _THIS_SRC} | {str(Path(s)): Path(s).resolve() for s in args.src}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "stream.snare"
        write_lines(path, snare_lines(make_stream(args.events).events))
        found = ratios(path, trees, args.repeat)
    print(f"watch / correlate, {args.events:,} Snare events (CPU seconds, best of {args.repeat})")
    for label, (correlate, watch) in found.items():
        print(
            f"  {label:30s} correlate {correlate:6.2f} s  watch {watch:6.2f} s  "
            f"watch runs at {correlate / watch:4.2f}x correlate's speed"
        )


if __name__ == "__main__":
    main()
