"""The Windows live sources against replayed event XML with the documented API semantics.

These run on Linux with the replay backends; the pywin32 backends were not run here.
"""

from __future__ import annotations

import json
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

import correlog
from correlog import EventKind, UsageError
from correlog.live.windows import (
    EVT_SUBSCRIBE_START_AFTER_BOOKMARK,
    EVT_SUBSCRIBE_START_AT_OLDEST_RECORD,
    EVT_SUBSCRIBE_STRICT,
    EVT_SUBSCRIBE_TO_FUTURE_EVENTS,
    BookmarkNotFound,
    EventLogSource,
    Gap,
    Pywin32EventLogApi,
    Pywin32SubscriptionApi,
    RecordedLog,
    ReplayEventLogApi,
    ReplaySubscriptionApi,
    SubscriptionSource,
)

NS = "http://schemas.microsoft.com/win/2004/08/events/event"


def legacy(event_id: int, pid: int, *strings: str, second: int = 0) -> str:
    """Recorded Event XML of a legacy Security event (as EvtRender gives it)."""
    data = "".join(f"<Data>{s}</Data>" for s in strings)
    return (
        f'<Event xmlns="{NS}"><System><Provider Name="Security"/><EventID>{event_id}</EventID>'
        f'<TimeCreated SystemTime="2003-03-04T09:14:{second:02d}Z"/>'
        f"<EventRecordID>0</EventRecordID><Channel>Security</Channel>"
        f"<Computer>WEB2K</Computer></System><EventData>{data}</EventData></Event>"
    )


def created(pid: int, second: int = 0) -> str:
    return legacy(
        592, pid, str(pid), "\\WINNT\\system32\\cmd.exe", "1188", "SYSTEM", "NT AUTHORITY",
        "(0x0,0x3E7)", second=second,
    )  # fmt: skip


def exited(pid: int, second: int = 0) -> str:
    return legacy(593, pid, str(pid), "IUSR_WEB2K", "WEB2K", "(0x0,0x2A3C1)", second=second)


LOGON = legacy(528, 0, "administrator", "WEB2K")


def pids(xml: list[str]) -> list[tuple[EventKind, int]]:
    """What correlog reads from the XML the source returned."""
    return [
        (event.kind, event.pid)
        for event in correlog.read(xml, "xml")
        if isinstance(event, correlog.ProcessEvent)
    ]


def record_ids(xml: list[str]) -> list[int]:
    return [int(x.split("<EventRecordID>")[1].split("<")[0]) for x in xml]


class TestSubscription:
    def test_a_first_run_reads_the_log_from_its_oldest_record_through_the_filter(self) -> None:
        log = RecordedLog()
        for xml in (created(100), LOGON, exited(100)):
            log.append(xml)
        api = ReplaySubscriptionApi(log)
        source = SubscriptionSource(api)
        assert pids(source.poll()) == [(EventKind.CREATED, 100), (EventKind.EXITED, 100)]
        assert api.calls == [
            ("subscribe", EVT_SUBSCRIBE_START_AT_OLDEST_RECORD | EVT_SUBSCRIBE_STRICT)
        ]
        assert source.poll() == []

    def test_resume_after_the_saved_bookmark_with_strict(self) -> None:
        log = RecordedLog()
        log.append(created(100))
        first = SubscriptionSource(ReplaySubscriptionApi(log))
        first.poll()
        saved = json.loads(json.dumps(first.position))
        first.close()
        log.append(exited(100))  # written while the monitor was down
        api = ReplaySubscriptionApi(log)
        second = SubscriptionSource(api, position=saved)
        assert pids(second.poll()) == [(EventKind.EXITED, 100)]
        assert api.calls == [
            ("subscribe", EVT_SUBSCRIBE_START_AFTER_BOOKMARK | EVT_SUBSCRIBE_STRICT)
        ]
        assert second.gaps == []

    def test_a_stale_bookmark_restarts_from_the_oldest_record_and_reports_a_gap(self) -> None:
        log = RecordedLog()
        for pid in (100, 104, 108):
            log.append(created(pid))
        first = SubscriptionSource(ReplaySubscriptionApi(log))
        first.poll()
        saved = first.position
        log.clear()  # while the monitor was down; then two new records (numbers 1, 2)
        log.append(created(200))
        log.append(exited(200))
        api = ReplaySubscriptionApi(log)
        second = SubscriptionSource(api, position=saved)
        assert pids(second.poll()) == [(EventKind.CREATED, 200), (EventKind.EXITED, 200)]
        assert [flags for _, flags in api.calls] == [
            EVT_SUBSCRIBE_START_AFTER_BOOKMARK | EVT_SUBSCRIBE_STRICT,
            EVT_SUBSCRIBE_START_AT_OLDEST_RECORD | EVT_SUBSCRIBE_STRICT,
        ]
        assert second.gaps == [
            Gap("the bookmarked record is gone (log cleared or overwritten)", None)
        ]

    def test_without_strict_the_api_would_skip_to_future_events(self) -> None:
        """What the strict flag prevents (the documented default that lost other shippers'
        events): a missing bookmark silently means 'from now on'."""
        log = RecordedLog()
        log.append(created(100))
        api = ReplaySubscriptionApi(log)
        bookmark = api.create_bookmark(
            "<BookmarkList><Bookmark Channel='Security' RecordId='99'/></BookmarkList>"
        )
        with pytest.raises(BookmarkNotFound):
            api.subscribe("Security", "*", bookmark, 3 | EVT_SUBSCRIBE_STRICT)
        loose = api.subscribe("Security", "*[System[(EventID=592)]]", bookmark, 3)
        assert api.next(loose, 10, 0) == []
        future = api.subscribe("Security", "x", None, EVT_SUBSCRIBE_TO_FUTURE_EVENTS)
        assert api.next(future, 10, 0) == []

    def test_a_live_subscription_goes_on_after_a_clear(self) -> None:
        log = RecordedLog()
        log.append(created(100))
        source = SubscriptionSource(ReplaySubscriptionApi(log))
        source.poll()
        log.clear()
        log.append(legacy(517, 0, "x", second=5))
        log.append(created(300))
        assert record_ids(source.poll()) == [1, 2]

    def test_records_overwritten_while_subscribed_are_a_gap_not_a_silent_skip(self) -> None:
        log = RecordedLog(capacity=3)
        log.append(created(100))
        source = SubscriptionSource(ReplaySubscriptionApi(log))
        assert record_ids(source.poll()) == [1]
        for pid in range(104, 124, 4):  # records 2..6; 2 and 3 are overwritten unread
            log.append(created(pid))
        assert record_ids(source.poll()) == [4, 5, 6]
        assert source.gaps == [Gap("records were overwritten before they were read")]

    def test_a_position_of_another_backend_is_a_usage_error(self) -> None:
        log = RecordedLog()
        with pytest.raises(UsageError, match="not an EvtSubscribe position"):
            SubscriptionSource(ReplaySubscriptionApi(log), position={"backend": "readeventlog"})


class TestEventLog:
    def test_reads_resumes_and_filters(self) -> None:
        log = RecordedLog()
        for xml in (created(100), LOGON):
            log.append(xml)
        api = ReplayEventLogApi(log)
        first = EventLogSource(api)
        assert pids(first.poll()) == [(EventKind.CREATED, 100)]
        log.append(exited(100))
        second = EventLogSource(api, position=json.loads(json.dumps(first.position)))
        assert pids(second.poll()) == [(EventKind.EXITED, 100)]
        assert second.poll() == []
        assert second.gaps == []

    def test_record_numbers_that_wrap(self) -> None:
        log = RecordedLog(first_record=2**32 - 2)
        source = EventLogSource(ReplayEventLogApi(log))
        log.append(created(100))
        assert record_ids(source.poll()) == [2**32 - 2]
        for pid in (104, 108, 112):
            log.append(created(pid))
        assert record_ids(source.poll()) == [2**32 - 1, 0, 1]
        assert source.position["next"] == 2
        assert source.gaps == []

    def test_a_cleared_log_restarts_at_the_oldest_and_reports_the_gap(self) -> None:
        log = RecordedLog()
        for pid in (100, 104, 108):
            log.append(created(pid))
        source = EventLogSource(ReplayEventLogApi(log))
        source.poll()
        log.clear()
        log.append(created(200))
        assert pids(source.poll()) == [(EventKind.CREATED, 200)]
        assert len(source.gaps) == 1
        assert "cleared" in source.gaps[0].reason

    def test_overwritten_records_are_counted_as_lost(self) -> None:
        log = RecordedLog(capacity=3)
        log.append(created(100))
        source = EventLogSource(ReplayEventLogApi(log))
        source.poll()  # next is record 2
        for pid in range(104, 124, 4):  # records 2..6; 2 and 3 are overwritten
            log.append(created(pid))
        assert record_ids(source.poll()) == [4, 5, 6]
        assert [gap.lost for gap in source.gaps] == [2]


@given(
    steps=st.lists(st.one_of(st.integers(0, 5), st.just("poll")), max_size=25),
    first=st.sampled_from([1, 2**32 - 3, 2**31]),
)
def test_every_record_is_read_once_in_order_across_wraps_and_restarts(
    steps: list[int | str], first: int
) -> None:
    """Both sources, polled and restarted from their saved positions at any point, return
    every wanted record exactly once, in order (no clears here, so no gaps)."""
    log = RecordedLog(first_record=first)
    written: list[int] = []
    sub = SubscriptionSource(ReplaySubscriptionApi(log))
    legacy_source = EventLogSource(ReplayEventLogApi(log))
    got_sub: list[int] = []
    got_legacy: list[int] = []
    for step in steps:
        if step == "poll":
            got_sub += record_ids(sub.poll(count=2))
            got_legacy += record_ids(legacy_source.poll(count=2))
            sub = SubscriptionSource(ReplaySubscriptionApi(log), position=sub.position)
            legacy_source = EventLogSource(ReplayEventLogApi(log), position=legacy_source.position)
        else:
            written.extend(log.append(created(100)) for _ in range(int(step)))
            log.append(LOGON)
    for _ in range(len(written) + 1):
        got_sub += record_ids(sub.poll(count=2))
        got_legacy += record_ids(legacy_source.poll(count=2))
    assert got_sub == written
    assert got_legacy == written
    assert sub.gaps == legacy_source.gaps == []


@pytest.mark.skipif(sys.platform == "win32", reason="pywin32 exists there")
def test_the_pywin32_backends_say_what_they_need_elsewhere() -> None:
    with pytest.raises(UsageError, match=r"correlog\[windows\]"):
        Pywin32SubscriptionApi()
    with pytest.raises(UsageError, match=r"correlog\[windows\]"):
        Pywin32EventLogApi()
