"""Where end-to-end reading spends its time: ``python benchmarks/profile_readers.py FORMAT``.

``FORMAT`` is ``snare``, ``nxlog``, ``nxlog-lean`` or ``evtx``. The input is generated as for
``run.py --all`` (:func:`benchmarks.goals.write_inputs`; EVTX: the shared files), then read
with ``correlog.read`` into ``Correlator.process`` once to warm up and once under cProfile,
whose functions are printed by own time. cProfile charges a fixed overhead per call, so many
small calls weigh more than they cost: read shares, and compare only profiles taken the same way.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import correlog
from benchmarks.goals import evtx_files, write_inputs
from correlog import Correlator

__all__ = ["main", "profile"]


def _correlate(paths: Sequence[Path], fmt: str) -> int:
    n = 0
    for path in paths:
        for _ in Correlator().process(correlog.read(path, fmt)):
            n += 1
    return n


def profile(paths: Sequence[Path], fmt: str, top: int) -> str:
    """cProfile of reading ``paths`` as ``fmt`` into a correlator: ``top`` functions by own time."""
    _correlate(paths, fmt)
    profiler = cProfile.Profile()
    profiler.runcall(_correlate, paths, fmt)
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text)
    stats.strip_dirs().sort_stats(pstats.SortKey.TIME).print_stats(top)
    return text.getvalue()


def main(argv: Sequence[str] | None = None) -> int:
    """Generate the input, profile the reader, print the report."""
    parser = argparse.ArgumentParser(prog="python benchmarks/profile_readers.py")
    parser.add_argument("format", choices=("snare", "nxlog", "nxlog-lean", "evtx"))
    parser.add_argument("--events", type=int, default=30_000, help="stream events rendered")
    parser.add_argument("--top", type=int, default=15, help="rows of the report")
    args = parser.parse_args(argv)
    if args.format == "evtx":
        paths = evtx_files()
        if not paths:
            parser.error("no shared EVTX files, or the evtx package is missing")
        print(profile(paths * 5, "evtx", args.top))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        inputs = write_inputs(Path(tmp), args.events, args.events)
        path, _ = inputs[args.format]
        fmt = "snare" if args.format == "snare" else "nxlog"
        print(profile([path], fmt, args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
