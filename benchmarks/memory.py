"""Bytes per open process: the memory a correlator holds for each process still open.

A correlator is filled with ``n`` processes that never exit (fresh pids, a 600 for about one in
five: :func:`benchmarks.streams.churn_events`), batch by batch through ``feed_many``; the traced
size after, less the traced size before, over the entries open. Events come lazily, so only what
the engine keeps survives. The runner calls :func:`entry_bytes` in a fresh interpreter per size
(``python -m benchmarks --probe N``), so nothing a previous case allocated is counted.

What the figure includes: everything allocated through Python's allocators while the probe
runs: the engine's state, and the lazy generator's own (a few hundred pending follow-ups). Host,
image and account strings are interned, as every reader interns them.
"""

from __future__ import annotations

import gc
import tracemalloc
from itertools import islice

from correlog import Correlator

from .streams import churn_events

__all__ = ["entry_bytes"]


def entry_bytes(n: int) -> float:
    """Fill a correlator with about ``n`` never-exiting processes; traced bytes per open entry."""
    tracemalloc.start()
    correlator = Correlator(max_open=2 * n + 1024)
    # About 1.2 events per process: a 600 for one in five.
    events = churn_events(n + n // 5, exit_share=0.0, token_share=0.2)
    gc.collect()
    before = tracemalloc.get_traced_memory()[0]
    while batch := list(islice(events, 1024)):
        correlator.feed_many(batch)
    del events, batch
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return (after - before) / len(correlator)
