"""Invariants of the correlator over arbitrary event streams (hypothesis).

* Conservation: every event fed is in exactly one emitted record, once the stream is closed.
* The open set never exceeds ``max_open``.
* Output does not depend on how the input is chunked.
* Every record is what the merge policy says its own events make.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from correlog import (
    MERGE_POLICY,
    Correlator,
    EventKind,
    HostEvent,
    ProcessEvent,
    Reason,
    Record,
    Status,
    merge,
    process_id,
)

from .strategies import S, event_fields, ident, streams

POLICY_FIELDS = [
    name for rule in MERGE_POLICY for name in (*rule.fields, *filter(None, [rule.witness]))
]


def run(events: list[ProcessEvent], **kw: float) -> tuple[Correlator, list[Record]]:
    corr = Correlator(**kw)  # type: ignore[arg-type]
    return corr, list(corr.process(events))


def provenance_pairs(record: Record) -> list[tuple[int | None, int | None]]:
    p = record.provenance
    return list(zip(p[0::2], p[1::2], strict=True))


@given(
    streams(jumps=True, shuffled_records=True, lifecycle=True),
    st.integers(1, 8),
    st.sampled_from([1.0, 30.0, 3600.0]),
)
def test_every_event_ends_in_exactly_one_record(
    events: list[ProcessEvent], max_open: int, ttl: float
) -> None:
    _, records = run(events, max_open=max_open, ttl=ttl, max_skew=600.0)
    emitted = Counter(pair for record in records for pair in provenance_pairs(record))
    assert emitted == Counter(ident(e) for e in events if isinstance(e, ProcessEvent))


@given(streams(jumps=True, shuffled_records=True, lifecycle=True), st.integers(1, 6))
def test_the_open_set_never_exceeds_max_open(events: list[ProcessEvent], max_open: int) -> None:
    corr = Correlator(max_open=max_open, ttl=30.0, max_skew=600.0)
    for event in events:
        corr.feed(event)
        assert len(corr) <= max_open
        assert corr.stats.peak_open <= max_open


@given(
    streams(jumps=True, shuffled_records=True, lifecycle=True),
    st.integers(1, 7),
    st.integers(1, 8),
)
def test_output_is_independent_of_chunking(
    events: list[ProcessEvent], chunk: int, max_open: int
) -> None:
    kw = {"max_open": max_open, "ttl": 30.0, "max_skew": 600.0}
    one_by_one = Correlator(**kw)  # type: ignore[arg-type]
    expected = [r for e in events for r in one_by_one.feed(e)] + one_by_one.close()
    chunked = list(Correlator(**kw).process(events, chunk=chunk))  # type: ignore[arg-type]
    assert chunked == expected


@given(streams(), st.integers(1, 8))
def test_each_record_is_the_merge_policy_applied_to_its_own_events(
    events: list[ProcessEvent], max_open: int
) -> None:
    by_ident = {ident(e): e for e in events}
    _, records = run(events, max_open=max_open, ttl=45.0)
    for record in records:
        own = [by_ident[pair] for pair in provenance_pairs(record)]  # type: ignore[index]
        expected = merge(own)
        # A 592 names no creator image; the correlator fills it from the creator's own open
        # entry (at the creation's rank), which merge() cannot see.
        enriched = any(
            e.kind is EventKind.CREATED and e.creator_image is None and e.creator_pid is not None
            for e in own
        )
        for field in POLICY_FIELDS:
            if field == "creator_image" and enriched:
                continue
            assert getattr(record, field) == expected[field], (field, record, own)
        # Its identity is its first event's, whatever folded in after.
        first = own[0]
        assert record.process_id == process_id(
            first.host, first.channel, first.pid, first.time, first.record_number
        )
    # A child names its creator by an identity that creator's own record carries.
    by_id = {record.process_id: record for record in records}
    assert len(by_id) == len(records)
    for record in records:
        if record.creator_process_id is not None:
            creator = by_id[record.creator_process_id]
            assert (creator.host, creator.pid) == (record.host, record.creator_pid)


@given(streams(), st.integers(1, 8))
def test_reasons_and_statuses_are_consistent_with_the_events(
    events: list[ProcessEvent], max_open: int
) -> None:
    _, records = run(events, max_open=max_open, ttl=45.0)
    for record in records:
        kinds = record.events
        if record.reason is Reason.ORPHAN:
            assert kinds == (593,)
        if record.reason in (Reason.EXITED, Reason.ORPHAN):
            assert kinds[-1] == 593
        else:
            assert 593 not in kinds
        # A creation only ever opens a record; an exit only ever closes one.
        assert 592 not in kinds[1:]
        assert 593 not in kinds[:-1]
        complete = record.reason is Reason.EXITED and kinds[0] == 592
        assert (record.status is Status.COMPLETE) == complete


@given(streams(max_size=80), st.sampled_from([1.0, 10.0, 45.0]))
def test_expired_records_had_been_quiet_for_ttl(events: list[ProcessEvent], ttl: float) -> None:
    """No entry is expired early; (in-order streams) none outlives ttl once its host moves on."""
    corr = Correlator(ttl=ttl, max_open=10**6)
    for event in events:
        for record in corr.feed(event):
            if record.reason is Reason.EXPIRED:
                assert corr.clock(record.host, record.channel) - record.first_seen >= ttl * S  # type: ignore[operator]
        for snap in corr.open_records():
            assert corr.clock(snap.host, snap.channel) - snap.first_seen < ttl * S  # type: ignore[operator]


@given(st.data())
def test_one_process_in_every_arrival_order_follows_the_policy_table(data: st.DataObject) -> None:
    """Creation first if any, then tokens, then the exit if any: every shape the FIFO allows."""
    shape = data.draw(
        st.sampled_from(
            [
                "C",
                "CT",
                "CTE",
                "CE",
                "T",
                "TE",
                "CTTE",
                "TT",
            ]
        )
    )
    kinds = {"C": EventKind.CREATED, "T": EventKind.TOKEN_ASSIGNED, "E": EventKind.EXITED}
    ids = {"C": 592, "T": 600, "E": 593}
    events = [
        ProcessEvent(
            kind=kinds[ch],
            host="h",
            pid=4,
            time=i * S,
            event_id=ids[ch],
            record_number=i + 1,
            **data.draw(event_fields(kinds[ch])),
        )
        for i, ch in enumerate(shape)
    ]
    corr = Correlator()
    [record] = corr.feed_many(events) + corr.close()
    expected = merge(events)
    for field in POLICY_FIELDS:
        assert getattr(record, field) == expected[field], field


def fresh(event: ProcessEvent | HostEvent) -> ProcessEvent | HostEvent:
    """The same event built again from new string objects (nothing shared with ``event``)."""
    values: list[Any] = ["".join(list(v)) if type(v) is str else v for v in event]
    return type(event)._make(values)


@given(
    streams(max_size=40, lifecycle=True),
    streams(max_size=40, lifecycle=True),
    st.integers(1, 4),
)
def test_the_same_input_gives_the_same_records_whatever_else_runs_beside_it(
    events: list[ProcessEvent | HostEvent], other: list[ProcessEvent | HostEvent], max_open: int
) -> None:
    kw = {"ttl": 30.0, "max_open": max_open, "max_skew": 600.0}
    _, first = run(events, **kw)  # type: ignore[arg-type]
    # A second run of the same events, rebuilt from new strings, while another correlator in
    # the same process is fed other events in between: no state may leak from one to the other
    # (module-level memos, interning) and string identity must not matter.
    again = Correlator(**kw)  # type: ignore[arg-type]
    beside = Correlator(**kw)  # type: ignore[arg-type]
    second: list[Record] = []
    for i in range(max(len(events), len(other))):
        if i < len(other):
            beside.feed(other[i])
        if i < len(events):
            second.extend(again.feed(fresh(events[i])))
    second.extend(again.close())
    assert second == first
