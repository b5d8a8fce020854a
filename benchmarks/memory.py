"""Bytes per open process: the memory a correlator holds for each process still open.

A correlator is filled with ``n`` processes that never exit (fresh pids, a 600 for about one in
five: :func:`benchmarks.streams.churn_events`), batch by batch through ``feed_many``; the traced
size after, less the traced size before, over the entries open. Events come lazily, so only what
the engine keeps survives. The runner calls :func:`entry_bytes` in a fresh interpreter per size
(``python -m benchmarks --probe N``), so nothing a previous case allocated is counted.

What the figure includes: everything allocated through Python's allocators while the probe
runs: the engine's state, and the lazy generator's own (a few hundred pending follow-ups). Host,
image and account strings are interned, as every reader interns them.

``python -m benchmarks.memory [N ...]`` prints the figure for each ``N`` and where it goes
(:func:`breakdown`): each object an open entry holds counted once, by kind, with
``sys.getsizeof`` (which includes the collector's header).
"""

from __future__ import annotations

import gc
import sys
import tracemalloc
from collections import Counter
from itertools import islice

from correlog import Correlator
from correlog._layout import OPEN_FIELDS

from .streams import churn_events

__all__ = ["breakdown", "entry_bytes", "main"]


def _filled(n: int) -> Correlator:
    correlator = Correlator(max_open=2 * n + 1024)
    # About 1.2 events per process: a 600 for one in five.
    events = churn_events(n + n // 5, exit_share=0.0, token_share=0.2)
    while batch := list(islice(events, 1024)):
        correlator.feed_many(batch)
    return correlator


def breakdown(n: int) -> dict[str, float]:
    """Bytes per open entry by kind of object, for the correlator :func:`entry_bytes` fills.

    Each object is counted once (ints and tuples shared between slots, or between entries, are
    not counted twice; interned strings and small ints are not the entries' own). Reads the
    engine's private state: a profile, not an API.
    """
    correlator = _filled(n)
    parts: Counter[str] = Counter()
    seen: set[int] = set()

    def count(kind: str, value: object) -> None:
        if id(value) not in seen:
            seen.add(id(value))
            parts[kind] += sys.getsizeof(value)

    open_ = 0
    for log in correlator._hosts.values():
        count("per-log dicts (pid -> entry)", log.entries)
        for entry in log.entries.values():
            open_ += 1
            count(f"entry lists ({len(OPEN_FIELDS)} slots)", entry)
            for value in entry:
                if type(value) is tuple:
                    count("tuples (provenance of two events or more)", value)
                    values = value
                else:
                    values = (value,)
                for item in values:
                    if type(item) is int and not -5 <= item <= 256:
                        count("ints (pid, time, record numbers)", item)
    count("eviction FIFO", correlator._fifo)
    return {kind: size / open_ for kind, size in parts.most_common()}


def entry_bytes(n: int) -> float:
    """Fill a correlator with about ``n`` never-exiting processes; traced bytes per open entry."""
    tracemalloc.start()
    gc.collect()
    before = tracemalloc.get_traced_memory()[0]
    correlator = _filled(n)
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return (after - before) / len(correlator)


def main(argv: list[str] | None = None) -> int:
    """Print bytes per open entry, traced and by kind, for each size given (10,000 and
    100,000 by default)."""
    for n in [int(arg) for arg in (sys.argv[1:] if argv is None else argv)] or [10_000, 100_000]:
        print(f"{n:,} open: {entry_bytes(n):.0f} B per open process (tracemalloc)")
        parts = breakdown(n)
        for kind, size in parts.items():
            print(f"  {size:6.1f} B  {kind}")
        print(f"  {sum(parts.values()):6.1f} B  in all (sys.getsizeof)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
