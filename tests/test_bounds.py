"""Memory stays bounded whatever the number of hosts: open entries by ``max_open``, the creator
memo by ``memo_size`` over all hosts, idle logs by ``max_idle_logs``."""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Iterator
from itertools import islice

from correlog import Correlator, ProcessEvent
from correlog.testing import created, exited


def _stream(hosts: int, events: int) -> Iterator[ProcessEvent]:
    """Creations spread over ``hosts`` hosts, each exiting a few events later, some never."""
    for i in range(events):
        host = f"h{i % hosts}"
        yield created(4 * (i % 50_000), i / 100, host=host, rn=i)
        if i % 3:
            yield exited(4 * (i % 50_000), i / 100, host=host, rn=i)


def _peak(hosts: int, events: int, max_open: int) -> int:
    gc.collect()
    tracemalloc.start()
    corr = Correlator(max_open=max_open, ttl=3600, memo_size=512, max_idle_logs=256)
    stream = _stream(hosts, events)
    while batch := list(islice(stream, 1000)):
        corr.feed_many(batch)  # the records are dropped, as a streaming caller does
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(corr) <= max_open
    assert corr._memo_count == sum(len(hs.gone) for hs in corr._hosts.values()) <= 512
    assert len(corr._hosts) <= max_open + 256 + 512  # open, idle, and remembered in the memo
    return peak


def test_many_hosts_cost_at_most_twice_one_host() -> None:
    one = _peak(hosts=1, events=40_000, max_open=2000)
    many = _peak(hosts=40_000, events=40_000, max_open=2000)
    assert many <= 2 * one, (one, many)
