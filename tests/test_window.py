"""The ordering window: shuffled arrivals within ``lateness`` give the records of the ordered
stream; later events and duplicates are counted and never lost."""

from __future__ import annotations

from collections import Counter, defaultdict

from hypothesis import given
from hypothesis import strategies as st

from correlog import (
    Correlator,
    EventKind,
    HostEvent,
    ProcessEvent,
    Reason,
    Record,
    Status,
    process_id,
)
from correlog.testing import T0, created, exited, token

from .strategies import S, event_fields, ident, stream_hosts, stream_pids

LATENESS = 5  # seconds
IDS = {EventKind.CREATED: 592, EventKind.TOKEN_ASSIGNED: 600, EventKind.EXITED: 593}


@st.composite
def ordered_streams(draw: st.DrawFn, max_size: int = 50) -> list[ProcessEvent]:
    """Per host: times never go back, record numbers grow (and break time ties)."""
    n = draw(st.integers(0, max_size))
    clock: dict[str, int] = {}
    out = []
    for i in range(n):
        host = draw(stream_hosts)
        kind = draw(st.sampled_from(list(IDS)))
        clock[host] = clock.get(host, T0) + draw(
            st.integers(0, 3).map(lambda s: s * S) | st.integers(0, 3 * S)
        )
        out.append(
            ProcessEvent(
                kind=kind,
                host=host,
                pid=draw(stream_pids),
                time=clock[host],
                event_id=IDS[kind],
                record_number=i + 1,
                **draw(event_fields(kind)),
            )
        )
    return out


def per_host(records: list[Record]) -> dict[tuple[str, str | None], list[Record]]:
    grouped: dict[tuple[str, str | None], list[Record]] = defaultdict(list)
    for record in records:
        grouped[record.host, record.channel].append(record)
    return dict(grouped)


def correlate(events: list[ProcessEvent], lateness: float) -> list[Record]:
    corr = Correlator(lateness=lateness, ttl=30, max_open=10**6)
    return list(corr.process(events, chunk=7))


@given(ordered_streams(), st.data())
def test_any_arrival_order_within_the_window_gives_the_same_records(
    events: list[ProcessEvent], data: st.DataObject
) -> None:
    # Each event is delayed by less than the window; arrival order follows the delayed times.
    delays = data.draw(
        st.lists(
            st.integers(0, LATENESS * S - 1),
            min_size=len(events),
            max_size=len(events),
        )
    )
    arrival = [
        e
        for _, _, e in sorted(
            (e.time + d, i, e) for i, (e, d) in enumerate(zip(events, delays, strict=True))
        )
    ]
    ordered = correlate(events, LATENESS)
    shuffled = correlate(arrival, LATENESS)
    # Hosts are independent, so only their interleaving may differ.
    assert per_host(shuffled) == per_host(ordered)
    assert sorted(map(repr, shuffled)) == sorted(map(repr, ordered))


@given(ordered_streams(), st.data())
def test_late_and_duplicate_events_are_never_lost_nor_emitted_twice(
    events: list[ProcessEvent], data: st.DataObject
) -> None:
    # Any delays, some far beyond the window, and some events arriving twice.
    delays = data.draw(st.lists(st.integers(0, 40 * S), min_size=len(events), max_size=len(events)))
    twice = data.draw(st.lists(st.booleans(), min_size=len(events), max_size=len(events)))
    timed = [(e.time + d, i, e) for i, (e, d) in enumerate(zip(events, delays, strict=True))]
    timed += [
        (e.time + d + 1, i, e)
        for (_, i, e), again, d in zip(timed, twice, delays, strict=True)
        if again
    ]
    arrival = [e for _, _, e in sorted(timed)]
    corr = Correlator(lateness=LATENESS, ttl=30, max_open=4)
    records = list(corr.process(arrival, chunk=5))
    emitted = Counter(
        pair for r in records for pair in zip(r.provenance[0::2], r.provenance[1::2], strict=True)
    )
    assert emitted == Counter(ident(e) for e in events)
    assert corr.stats.duplicates <= sum(twice)
    # Every late record is a counted late event (others were folded into open processes).
    assert sum(1 for r in records if r.reason is Reason.LATE) <= corr.stats.late


class TestLateEvents:
    def test_events_wait_for_the_window_then_come_out_in_order(self) -> None:
        corr = Correlator(lateness=5)
        assert corr.feed(exited(8, 2, rn=3)) == []  # arrives first, but happened last
        assert corr.feed(token(8, 1, rn=2)) == []
        assert corr.feed(created(8, 0, rn=1)) == []
        [record] = corr.feed(created(99, 8, rn=4))  # the watermark passes 2 s + 5 s
        assert record.events == (592, 600, 593)
        assert record.status is Status.COMPLETE
        assert corr.stats.late == 0

    def test_a_creation_later_than_the_window_still_joins_its_open_process(self) -> None:
        corr = Correlator(lateness=5)
        corr.feed(token(8, 10, rn=2))
        corr.feed(created(12, 20, rn=3))  # releases the token: process 8 is open
        corr.feed(created(8, 9, rn=1, command_line="cmd /c ping"))  # 11 s late
        records = corr.close()
        [record] = [r for r in records if r.pid == 8]
        assert record.events == (592, 600)
        assert record.start == T0 + 9 * S
        assert record.command_line == "cmd /c ping"
        assert record.user == "IUSR_IIS02"  # the 600's owner still wins
        assert corr.stats.late == 1
        # Its identity stays the one it had while open (the token's): a child may hold it.
        assert record.process_id == process_id("iis02", None, 8, T0 + 10 * S, 2)

    def test_a_late_event_of_a_closed_process_is_a_late_record(self) -> None:
        corr = Correlator(lateness=5)
        corr.feed(created(8, 0, rn=1))
        corr.feed(exited(8, 1, rn=3))
        out = corr.feed(created(12, 10, rn=4))
        assert [r.reason for r in out] == [Reason.EXITED]
        [late] = corr.feed(token(8, 0.5, rn=2))
        assert late.reason is Reason.LATE
        assert late.provenance == (600, 2)
        assert corr.stats.records[Reason.LATE] == 1

    def test_a_duplicate_is_folded_once_and_counted(self) -> None:
        corr = Correlator(lateness=5)
        c = created(8, 0, rn=1)
        corr.feed(c)
        corr.feed(c)  # the same record number from a second source
        corr.feed(exited(8, 1, rn=2))
        corr.feed(exited(8, 1, rn=2))
        [record] = corr.close()
        assert record.events == (592, 593)
        assert corr.stats.duplicates == 2

    def test_advance_releases_what_the_window_holds(self) -> None:
        corr = Correlator(lateness=5)
        corr.feed(created(8, 0, rn=1))
        corr.feed(exited(8, 1, rn=2))
        assert corr.advance(T0 + 5 * S) == []
        [record] = corr.advance(T0 + 6 * S)
        assert record.reason is Reason.EXITED

    def test_host_events_are_ordered_too(self) -> None:
        from correlog import HostEventKind

        corr = Correlator(lateness=5)
        corr.feed(created(8, 2, rn=2))
        clear = HostEvent(
            kind=HostEventKind.LOG_CLEARED, host="iis02", time=T0 + S, event_id=517, record_number=1
        )
        corr.feed(clear)  # happened before the creation: it must not close it
        [record] = corr.close()
        assert record.reason is Reason.FLUSHED
