"""Memory stays bounded whatever the number of hosts: open entries by ``max_open``, the creator
memo by ``memo_size`` over all hosts, idle logs by ``max_idle_logs``."""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Iterator
from itertools import islice
from typing import Any

from hypothesis import given, settings

from correlog import Correlator, ProcessEvent, Reason
from correlog.testing import S, created, exited

from .strategies import correlator_calls, correlator_settings


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


@settings(max_examples=200)
@given(options=correlator_settings, calls=correlator_calls(max_calls=60))
def test_one_event_closes_at_most_its_own_process_and_what_was_due(
    options: dict[str, Any], calls: list[tuple[Any, ...]]
) -> None:
    """Adversarial streams (far jumps both ways, record numbers that go back, two logs): one
    process event closes its own process, evicts past ``max_open``, or expires only entries
    whose ttl the clock reached within ``max_skew`` of where it was (unless it confirmed a held
    jump). Never more, whatever its record number. (No ordering
    window here: with one, a feed folds the events the window lets go, not the one fed.)"""
    corr = Correlator(**{**options, "lateness": 0.0})
    ttl, skew = int(options["ttl"] * S), int(options["max_skew"] * S)
    for verb, *args in calls:
        if verb != "feed" or not isinstance(args[0], ProcessEvent) or corr.closed:
            continue
        ev = args[0]
        before = corr.clock(ev.host, ev.channel)
        confirmed = corr.stats.clock_jumps
        records = corr.feed(ev)
        # A jump that a second event confirmed is the clock moving on two events' word: what
        # it expires is due.
        agreed = corr.stats.clock_jumps != confirmed
        for record in records:
            if (record.host, record.pid, record.channel) == (ev.host, ev.pid, ev.channel):
                continue
            assert record.reason in (Reason.EXPIRED, Reason.EVICTED), record
            if record.reason is Reason.EXPIRED and not agreed:
                assert before is not None
                assert record.first_seen + ttl <= before + skew, (record, before)
