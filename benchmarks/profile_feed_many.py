"""Where ``Correlator.feed_many`` spends its time: ``python benchmarks/profile_feed_many.py``.

Prints a cProfile summary (functions by own time) of ``feed_many`` over a generated stream in
batches, and with ``--lines`` a line-level profile of ``feed_many`` itself, its lines sorted by
their share of its time (needs ``line_profiler``: ``pip install line_profiler``; it is not a
dependency of the project). ``--evict MAX_OPEN`` profiles a correlator kept at ``MAX_OPEN`` by
a stream of processes that never exit instead, so every creation evicts. Profilers add their
own overhead per call and per line, so read shares, not absolute times, and compare only with
other profiles taken the same way.
"""

from __future__ import annotations

import argparse
import cProfile
import importlib
import io
import linecache
import pstats
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    # Run as a script: make the ``benchmarks`` package importable.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.cases import DEFAULT_BATCH, Workload, make_workload
from benchmarks.streams import churn_events, make_stream
from benchmarks.timing import frozen_gc
from correlog import Correlator


def _fold_all(work: Workload) -> int:
    correlator = Correlator()
    emitted = 0
    for batch in work.batches:
        emitted += len(correlator.feed_many(batch))
    return emitted + len(correlator.close())


def _evicting(max_open: int, events: int) -> Callable[[], object]:
    """feed_many over a churn stream at ``max_open``, pre-filled (untimed) so it evicts."""
    prefill = max_open * 3 // 2 + 1024
    stream = list(churn_events(prefill + events))
    correlator = Correlator(max_open=max_open, ttl=1e9)
    for i in range(0, prefill, DEFAULT_BATCH):
        correlator.feed_many(stream[i : min(i + DEFAULT_BATCH, prefill)])
    tail = [stream[i : i + DEFAULT_BATCH] for i in range(prefill, len(stream), DEFAULT_BATCH)]

    def run() -> int:
        return sum(len(correlator.feed_many(batch)) for batch in tail)

    return run


def cprofile_report(work: Workload | Callable[[], object], top: int) -> str:
    """cProfile of feed_many over ``work`` (or of a prepared run): ``top`` functions by own time."""
    profiler = cProfile.Profile()
    if callable(work):
        profiler.runcall(work)
    else:
        profiler.runcall(_fold_all, work)
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text)
    stats.strip_dirs().sort_stats(pstats.SortKey.TIME).print_stats(top)
    return text.getvalue()


def line_report(work: Workload, top: int) -> str:
    """line_profiler of feed_many over ``work``: the ``top`` lines by share of its time."""
    module: Any = importlib.import_module("line_profiler")
    # feed_many hands the events to _fold (the loop proper) when no ordering window is set.
    profiler = module.LineProfiler(getattr(Correlator, "_fold", Correlator.feed_many))
    profiler.runcall(_fold_all, work)
    stats = profiler.get_stats()
    lines: list[tuple[float, int, int, str]] = []
    filename = ""
    for (filename, _, _), timings in stats.timings.items():
        for lineno, hits, total in timings:
            source = linecache.getline(filename, lineno).strip()
            lines.append((total * stats.unit, lineno, hits, source))
    whole = sum(t for t, *_ in lines) or 1.0
    out = [
        f"# feed_many, line by line ({Path(filename).name}), {whole:.3f} s under the profiler",
        f"{'share':>6} {'line':>5} {'hits':>9}  source",
    ]
    for seconds, lineno, hits, source in sorted(lines, reverse=True)[:top]:
        out.append(f"{100 * seconds / whole:5.1f}% {lineno:5d} {hits:9d}  {source}")
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    """Profile feed_many on a generated stream and print the reports."""
    parser = argparse.ArgumentParser(prog="python benchmarks/profile_feed_many.py")
    parser.add_argument("--events", type=int, default=200_000, help="events in the stream")
    parser.add_argument("--top", type=int, default=12, help="rows per report")
    parser.add_argument("--lines", action="store_true", help="add a line-level profile")
    parser.add_argument(
        "--evict",
        type=int,
        default=0,
        metavar="MAX_OPEN",
        help="profile a correlator kept at MAX_OPEN by a churn stream (eviction on every creation)",
    )
    args = parser.parse_args(argv)
    if args.evict:
        print(cprofile_report(_evicting(args.evict, args.events), args.top))
        return 0
    work = make_workload(make_stream(args.events), batch=DEFAULT_BATCH)
    with frozen_gc():
        _fold_all(work)  # warm up
        print(cprofile_report(work, args.top))
        if args.lines:
            print(line_report(work, args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
