"""The correlator, told as stories: what a user feeds in and which records come out, when."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from correlog import (
    Correlator,
    EventKind,
    HostEvent,
    HostEventKind,
    Layout,
    ProcessEvent,
    Reason,
    Record,
    Status,
    UsageError,
    format_process_id,
    process_id,
)
from correlog.testing import T0, S, created, exited, token


def feed_all(corr: Correlator, *events: ProcessEvent | HostEvent) -> list[Record]:
    out: list[Record] = []
    for event in events:
        out.extend(corr.feed(event))
    return out


class TestWindows2000:
    """Only the 592 (image, SYSTEM) and the 593 (IUSR, no image) together say "IUSR ran cmd"."""

    def test_592_and_593_make_one_complete_record_owned_by_the_exiting_account(self) -> None:
        corr = Correlator()
        c = created(1452, host="iis01", image=r"\WINNT\system32\cmd.exe", creator_pid=1020, rn=5001)
        e = exited(
            1452,
            1,
            host="iis01",
            image=None,
            user="IUSR_IIS01",
            domain="IIS01",
            layout=Layout.NT4_2000,
            rn=5002,
        )
        assert corr.feed(c) == []
        [record] = corr.feed(e)
        assert record.image == r"\WINNT\system32\cmd.exe"
        assert (record.user, record.domain, record.logon_id) == ("IUSR_IIS01", "IIS01", 0x2A3C1)
        assert record.owner_source is EventKind.EXITED
        assert record.creator_pid == 1020
        assert (record.start, record.end) == (c.time, e.time)
        assert record.status is Status.COMPLETE
        assert record.reason is Reason.EXITED
        assert record.events == (592, 593)
        assert record.record_numbers == (5001, 5002)
        assert record.layout is Layout.NT4_2000
        assert len(corr) == 0

    def test_a_592_alone_keeps_the_creators_account_as_a_weak_owner(self) -> None:
        corr = Correlator()
        corr.feed(created(1452, host="iis01"))
        [record] = corr.close()
        assert record.user == "SYSTEM"
        assert record.owner_source is EventKind.CREATED
        assert record.reason is Reason.FLUSHED
        assert record.status is Status.PARTIAL


class TestWindows2003:
    def test_600_target_account_wins_over_592_and_593(self) -> None:
        corr = Correlator()
        records = feed_all(
            corr,
            created(2208, image=r"C:\PHP\php.exe"),
            token(2208, image=r"C:\PHP\php.exe", user="IUSR_IIS02"),
            exited(2208, 1, image=r"C:\PHP\php.exe", user="someone_else"),
        )
        [record] = records
        assert record.user == "IUSR_IIS02"
        assert record.owner_source is EventKind.TOKEN_ASSIGNED
        assert record.creator_image == r"C:\WINDOWS\system32\inetsrv\w3wp.exe"
        assert record.events == (592, 600, 593)
        assert record.status is Status.COMPLETE

    def test_a_process_that_never_exits_is_flushed_at_close_with_what_was_known(self) -> None:
        corr = Correlator()
        assert feed_all(corr, created(2216, 5), token(2216, 5)) == []
        assert (("iis02", 2216)) in corr
        [record] = corr.close()
        assert record.reason is Reason.FLUSHED
        assert record.status is Status.PARTIAL
        assert record.user == "IUSR_IIS02"
        assert record.end is None
        assert corr.closed

    def test_creator_image_from_600_only_when_its_assigning_pid_is_the_creator(self) -> None:
        corr = Correlator()
        feed_all(corr, created(40, creator_pid=1000), token(40, creator_pid=3120))
        [record] = corr.close()
        assert record.creator_pid == 1000
        assert record.creator_image is None


class TestLifecycle:
    def test_exit_without_start_is_an_orphan_record_of_its_own(self) -> None:
        corr = Correlator()
        [record] = corr.feed(exited(12, rn=7))
        assert record.reason is Reason.ORPHAN
        assert record.status is Status.PARTIAL
        assert record.start is None
        assert record.end == T0
        assert record.provenance == (593, 7)

    def test_a_token_for_an_unseen_process_opens_an_entry_the_exit_completes(self) -> None:
        corr = Correlator()
        assert corr.feed(token(12)) == []
        [record] = corr.feed(exited(12, 1))
        assert record.reason is Reason.EXITED
        assert record.status is Status.PARTIAL  # the creation was never seen
        assert record.events == (600, 593)

    def test_a_creation_reusing_an_open_pid_supersedes_the_old_entry(self) -> None:
        corr = Correlator()
        corr.feed(created(8, image="old.exe"))
        [old] = corr.feed(created(8, 17, image="new.exe"))
        assert old.image == "old.exe"
        assert old.reason is Reason.SUPERSEDED
        assert old.status is Status.PARTIAL
        assert corr.snapshot("iis02", 8) is not None
        assert corr.snapshot("iis02", 8).image == "new.exe"  # type: ignore[union-attr]

    def test_an_entry_expires_after_ttl_of_its_hosts_clock(self) -> None:
        corr = Correlator(ttl=60)
        corr.feed(created(8))
        assert corr.feed(created(12, 59)) == []
        [record] = corr.feed(created(16, 60))
        assert record.pid == 8
        assert record.reason is Reason.EXPIRED
        assert [r.pid for r in corr.close()] == [12, 16]

    def test_another_hosts_time_does_not_expire_this_host(self) -> None:
        corr = Correlator(ttl=60)
        corr.feed(created(8, host="a"))
        assert corr.feed(created(8, 3000, host="b")) == []
        assert ("a", 8) in corr

    def test_advance_moves_the_clock_without_an_event(self) -> None:
        corr = Correlator(ttl=60)
        corr.feed(created(8))
        assert corr.advance(T0 + 59 * S) == []
        [record] = corr.advance(T0 + 61 * S, host="iis02")
        assert record.reason is Reason.EXPIRED
        assert corr.advance(T0 + 1000 * S, host="unknown") == []

    def test_over_max_open_the_oldest_entry_is_evicted_first(self) -> None:
        corr = Correlator(max_open=2)
        feed_all(corr, created(4, host="a"), created(8, host="b"))
        [record] = corr.feed(created(12, host="a"))
        assert (record.host, record.pid, record.reason) == ("a", 4, Reason.EVICTED)
        assert len(corr) == 2

    def test_an_exit_after_eviction_becomes_an_orphan_so_nothing_is_lost(self) -> None:
        corr = Correlator(max_open=1)
        corr.feed(created(4))
        [evicted] = corr.feed(created(8))
        [orphan] = corr.feed(exited(4, 1))
        assert evicted.reason is Reason.EVICTED
        assert orphan.reason is Reason.ORPHAN

    def test_creator_image_comes_from_the_creators_own_open_entry(self) -> None:
        corr = Correlator()
        corr.feed(created(3120, image=r"C:\WINDOWS\system32\inetsrv\w3wp.exe", creator_pid=4))
        corr.feed(created(40, creator_pid=3120))
        record = corr.snapshot("iis02", 40)
        assert record is not None
        assert record.creator_image == r"C:\WINDOWS\system32\inetsrv\w3wp.exe"
        assert record.reason is Reason.OPEN


class TestVistaFields:
    def test_command_line_exit_status_integrity_and_extra_fields_are_merged(self) -> None:
        corr = Correlator()
        corr.feed(
            created(
                8,
                command_line="cmd.exe /c whoami",
                integrity="High",
                extra={"TokenElevationType": "%%1937", "Shared": "from creation"},
            )
        )
        [record] = corr.feed(exited(8, 1, exit_status=5, extra={"Shared": "from exit", "X": "y"}))
        assert record.command_line == "cmd.exe /c whoami"
        assert record.integrity == "High"
        assert record.exit_status == 5
        assert record.extra == {"TokenElevationType": "%%1937", "Shared": "from creation", "X": "y"}

    def test_each_log_is_correlated_on_its_own(self) -> None:
        """A Sysmon 1 and a 4688 for one process do not supersede each other."""
        corr = Correlator()
        corr.feed(created(8, rn=10, channel="sysmon"))
        assert corr.feed(created(8, rn=500)) == []
        assert ("iis02", 8) in corr
        assert ("iis02", 8, "sysmon") in corr
        [sysmon] = corr.feed(exited(8, 1, rn=11, channel="sysmon"))
        [security] = corr.feed(exited(8, 1, rn=501))
        assert (sysmon.channel, security.channel) == ("sysmon", None)
        assert sysmon.status is security.status is Status.COMPLETE
        # Record numbers count per log: Sysmon's small numbers start no Security epoch.
        assert corr.stats.epochs == 0


class TestCreatorMemo:
    W3WP = r"C:\WINDOWS\system32\inetsrv\w3wp.exe"

    def test_a_creator_that_expired_still_names_its_childrens_creator_image(self) -> None:
        corr = Correlator(ttl=60)
        corr.feed(created(3120, image=self.W3WP, creator_pid=4))
        [expired] = corr.feed(created(40, 100, creator_pid=8))  # w3wp outlives the ttl
        assert expired.pid == 3120
        corr.feed(created(44, 101, creator_pid=3120))
        child = corr.snapshot("iis02", 44)
        assert child is not None
        assert child.creator_image == self.W3WP

    def test_an_evicted_creator_is_remembered_too(self) -> None:
        corr = Correlator(max_open=1, memo_size=1)
        corr.feed(created(3120, image=self.W3WP, creator_pid=4))
        [w3wp] = corr.feed(created(40, 1, creator_pid=8))  # evicts w3wp's entry
        assert w3wp.reason is Reason.EVICTED
        corr.feed(created(44, 2, creator_pid=3120))  # w3wp is known from the memo only
        child = corr.snapshot("iis02", 44)
        assert child is not None
        assert child.creator_image == self.W3WP
        assert child.creator_process_id == w3wp.process_id
        # The memo holds one: pid 40, evicted by the child, pushed w3wp out of it.
        corr.feed(created(48, 3, creator_pid=3120))
        [last] = corr.close()
        assert (last.pid, last.creator_image, last.creator_process_id) == (48, None, None)

    def test_an_exit_or_a_new_process_on_the_pid_forgets_it(self) -> None:
        corr = Correlator(ttl=60)
        corr.feed(created(3120, image=self.W3WP, creator_pid=4))
        corr.feed(created(40, 100, creator_pid=8))
        corr.feed(exited(3120, 101))  # orphan now: w3wp is gone
        corr.feed(created(44, 102, creator_pid=3120))
        child = corr.snapshot("iis02", 44)
        assert child is not None
        assert child.creator_image is None

    def test_the_memo_is_bounded(self) -> None:
        corr = Correlator(ttl=1, memo_size=2)
        for i, pid in enumerate((100, 104, 108)):
            corr.feed(created(pid, i * 10, image=f"p{pid}.exe"))
        corr.feed(created(200, 100.5))  # expires 108; the memo keeps the newest two
        for creator in (100, 104, 108):
            corr.feed(created(300 + creator, 101, creator_pid=creator))
        images = {r.creator_pid: r.creator_image for r in corr.close() if r.pid > 300}
        assert images == {100: None, 104: "p104.exe", 108: "p108.exe"}
        with pytest.raises(UsageError):
            Correlator(memo_size=-1)


class TestClockGuard:
    def test_one_far_future_event_does_not_expire_everything(self) -> None:
        corr = Correlator(ttl=60, max_skew=3600)
        corr.feed(created(8))
        corr.feed(created(12, 10))
        # A corrupt record dated a year ahead is folded in, but the clock does not follow it.
        assert corr.feed(created(16, 365 * 86400)) == []
        assert len(corr) == 3
        assert corr.clock("iis02") == T0 + 10 * S
        assert corr.stats.clock_held == 1
        # The next normal event cancels the held jump.
        assert corr.feed(created(20, 11)) == []

    def test_a_jump_confirmed_by_the_next_event_is_taken(self) -> None:
        corr = Correlator(ttl=60, max_skew=3600)
        corr.feed(created(8))
        assert corr.feed(created(12, 8 * 3600)) == []
        expired = corr.feed(created(16, 8 * 3600 + 1))
        assert {r.pid for r in expired} == {8, 12}
        assert corr.stats.clock_jumps == 1

    def test_a_host_whose_first_event_was_corrupt_recovers(self) -> None:
        corr = Correlator(ttl=60, max_skew=3600)
        corr.feed(created(8, 365 * 86400))  # the first event sets the clock a year ahead
        corr.feed(created(12, 0))
        corr.feed(created(16, 1))  # two agreeing events bring the clock back
        assert corr.clock("iis02") == T0 + 1 * S
        records = corr.feed(created(20, 61))
        # The entries opened under the bad clock were re-based, so they expire on time.
        assert {r.pid for r in records} == {8, 12, 16}


class TestEpochs:
    def test_a_record_number_decrease_resets_the_clock_backwards(self) -> None:
        corr = Correlator(ttl=60, max_skew=1e9)
        corr.feed(created(8, 10_000, rn=100))
        corr.feed(created(12, 0, rn=1))  # a cleared log, replayed older file, ...
        assert corr.stats.epochs == 1
        assert corr.clock("iis02") == T0
        assert corr.feed(created(16, 59, rn=2)) == []
        # 8 was re-based onto the new clock, so it neither expired at once nor lives forever.
        assert {r.pid for r in corr.feed(created(20, 60, rn=3))} == {8, 12}

    def test_a_log_clear_closes_open_processes_and_starts_a_new_epoch(self) -> None:
        corr = Correlator()
        corr.feed(created(8, rn=100))
        clear = HostEvent(
            kind=HostEventKind.LOG_CLEARED, host="iis02", time=T0 + S, event_id=517, record_number=1
        )
        [cleared] = corr.feed(clear)
        assert (cleared.pid, cleared.reason) == (8, Reason.LOG_CLEARED)
        assert corr.stats.epochs == 1
        # Its exit, logged in the new log, is an orphan: nothing is lost, nothing merged wrongly.
        [orphan] = corr.feed(exited(8, 2, rn=2))
        assert orphan.reason is Reason.ORPHAN
        assert corr.stats.epochs == 1  # record 2 after the clear's record 1 is no decrease


class TestHostLifecycle:
    def test_a_restart_closes_every_process_of_the_host_in_every_log(self) -> None:
        corr = Correlator()
        corr.feed(created(8))
        corr.feed(created(8, channel="sysmon"))
        corr.feed(created(12, host="other"))
        start = HostEvent(kind=HostEventKind.HOST_STARTED, host="iis02", time=T0 + S, event_id=512)
        closed = corr.feed(start)
        assert [(r.pid, r.channel, r.reason) for r in closed] == [
            (8, None, Reason.HOST_RESTART),
            (8, "sysmon", Reason.HOST_RESTART),
        ]
        assert ("other", 12) in corr

    def test_dropped_audits_mark_open_processes_and_those_from_the_gap(self) -> None:
        corr = Correlator()
        corr.feed(created(8, 0))
        lost = HostEvent(
            kind=HostEventKind.AUDITS_DISCARDED,
            host="iis02",
            time=T0 + 5 * S,
            event_id=516,
            dropped=37,
        )
        assert corr.feed(lost) == []
        corr.feed(created(12, 4))  # its first event predates the report: it is in the gap
        corr.feed(created(16, 6))
        flags = {r.pid: r.audits_lost for r in corr.close()}
        assert flags == {8: True, 12: True, 16: False}
        assert corr.stats.audits_lost == 1


class TestProcessIds:
    def test_ids_are_stable_unique_and_name_the_creator(self) -> None:
        def run() -> list[Record]:
            corr = Correlator()
            out = feed_all(
                corr,
                created(3120, 0, rn=1, image="w3wp.exe"),
                created(40, 1, rn=2, creator_pid=3120),
                exited(40, 2, rn=3),
                created(40, 3, rn=4, creator_pid=3120),  # the pid reused: a new process
            )
            return out + corr.close()

        first, second = run(), run()
        assert [r.process_id for r in first] == [r.process_id for r in second]
        ids = [r.process_id for r in first]
        assert len(set(ids)) == len(ids) == 3
        w3wp = next(r for r in first if r.pid == 3120)
        children = [r for r in first if r.pid == 40]
        assert all(r.creator_process_id == w3wp.process_id for r in children)
        assert w3wp.creator_process_id is None
        assert w3wp.process_id == process_id("iis02", None, 3120, T0, 1)

    def test_the_id_renders_like_a_guid_of_its_parts(self) -> None:
        value = process_id("iis02", None, 0x1A4, 0x10, 7)
        text = format_process_id(value)
        assert text.split("-")[1:] == ["000001a4", "0000000000000010", "0000000000000007"]
        assert process_id("iis02", "sysmon", 0x1A4, 0x10, 7) != value


class TestUsage:
    def test_bad_arguments_are_usage_errors(self) -> None:
        with pytest.raises(UsageError):
            Correlator(ttl=0)
        with pytest.raises(UsageError):
            Correlator(max_open=0)
        with pytest.raises(UsageError):
            Correlator(max_skew=-1)

    def test_feeding_a_non_event_raises_and_changes_nothing(self) -> None:
        corr = Correlator()
        with pytest.raises(UsageError):
            corr.feed("592")  # type: ignore[arg-type]
        assert corr.stats.events == 0

    @pytest.mark.parametrize(
        "bad",
        [{"host": None}, {"host": 7}, {"channel": b"sysmon"}, {"time": 1.5}, {"time": None}],
    )
    def test_an_event_with_a_malformed_host_or_time_is_a_usage_error(
        self, bad: dict[str, Any]
    ) -> None:
        corr = Correlator()
        corr.feed(created(8))
        with pytest.raises(UsageError, match="not an event"):
            corr.feed(created(12, host="iis03")._replace(**bad))  # a host not seen yet
        assert corr.stats.events == 1
        assert len(corr) == 1
        [record] = corr.close()
        assert record.pid == 8

    def test_feed_many_keeps_the_records_of_events_before_a_bad_item(self) -> None:
        corr = Correlator()
        corr.feed(created(8))
        with pytest.raises(UsageError) as info:
            corr.feed_many([exited(8, 1), "junk"])  # type: ignore[list-item]
        [record] = info.value.records  # type: ignore[attr-defined]
        assert record.reason is Reason.EXITED

    def test_process_yields_records_read_before_a_failing_source_then_reraises(self) -> None:
        def source() -> Any:
            yield created(8)
            yield exited(8, 1)
            raise OSError("disk gone")

        corr = Correlator()
        got: list[Record] = []
        with pytest.raises(OSError, match="disk gone"):
            got.extend(corr.process(source(), chunk=100))
        assert [r.reason for r in got] == [Reason.EXITED]
        assert not corr.closed

    def test_the_end_of_a_stream_is_flushed_one_record_at_a_time(self) -> None:
        corr = Correlator()
        stream = corr.process([created(8), created(12), created(16)])
        first = next(stream)
        stream.close()  # the consumer stops early: nothing is lost
        assert first.pid == 8
        assert not corr.closed
        assert [r.pid for r in corr.close()] == [12, 16]

    def test_a_closed_correlator_refuses_events(self) -> None:
        corr = Correlator()
        corr.close()
        assert corr.close() == []
        with pytest.raises(UsageError):
            corr.feed(created(8))
        with pytest.raises(UsageError):
            corr.advance(T0)

    def test_stats_count_events_and_records_by_reason(self) -> None:
        corr = Correlator()
        feed_all(corr, created(8), exited(8, 1), exited(12, 2), created(16, 3))
        corr.close()
        stats = corr.stats.as_dict()
        assert stats["events"] == 4
        assert stats["records"] == {"exited": 1, "flushed": 1, "orphan": 1}
        assert stats["peak_open"] == 1


class TestOneEventCannotDefeatTheGuards:
    """Hostile input: one event must not close more than its own process."""

    def test_a_lower_record_number_far_ahead_does_not_expire_every_open_process(self) -> None:
        corr = Correlator(ttl=600, max_skew=3600)
        corr.feed_many([created(pid, pid, rn=100 + pid) for pid in (4, 8, 12)])
        # A lower record number and a time 11.6 days ahead: a new epoch, but not a clock reset.
        bogus = created(16, 1_000_000, rn=1)
        assert corr.feed(bogus) == []
        assert corr.stats.epochs == 1
        assert corr.stats.clock_held == 1
        assert len(corr) == 4
        assert corr.clock("iis02") == T0 + 12 * S

    def test_a_far_future_event_does_not_make_the_window_call_everything_late(self) -> None:
        corr = Correlator(lateness=10, max_skew=3600)
        events = [created(pid, pid, rn=pid) for pid in range(4, 200, 4)]
        corr.feed(events[0])
        corr.feed(created(2, 100 * 365 * 86400, rn=1))  # the year 2103
        swapped = [ev for pair in zip(events[2::2], events[1::2], strict=False) for ev in pair]
        corr.feed_many(swapped)  # shuffled within the window
        assert corr.stats.late == 0
        records = corr.close()
        assert sum(len(r.provenance) // 2 for r in records) == len(events) + 1


class TestThreads:
    def test_a_thread_calling_in_while_another_thread_runs_a_verb_gets_a_usage_error(self) -> None:
        """Deterministic: the second thread calls in while ``feed_many`` is inside its loop."""
        import threading

        corr = Correlator()
        refused: list[BaseException] = []
        fed: list[list[Record]] = []

        def second_caller() -> None:
            verbs: list[Callable[[], list[Record]]] = [
                lambda: corr.feed(created(8, 1)),
                lambda: corr.feed_many([created(12, 1)]),
                lambda: corr.advance(T0 + 10 * S),
                corr.close,
            ]
            for verb in verbs:
                try:
                    fed.append(verb())
                except UsageError as exc:
                    refused.append(exc)

        def events() -> Iterator[ProcessEvent]:
            yield created(4, 0)
            thread = threading.Thread(target=second_caller)
            thread.start()
            thread.join()
            yield created(16, 2)

        corr.feed_many(events())
        assert fed == []
        assert len(refused) == 4
        assert all("another thread" in str(exc) for exc in refused)
        assert len(corr) == 2  # only the first thread's events
        corr.feed(created(20, 3))  # the turn is back once the verb returned
        assert len(corr) == 3

    def test_two_threads_feeding_one_correlator_fail_loudly_and_corrupt_nothing(self) -> None:
        import sys
        import threading

        corr = Correlator(ttl=3600, max_open=50)
        errors: list[BaseException] = []
        fed: list[int] = []

        def feed(base: int) -> None:
            for i in range(2000):
                ev = created(base + 4 * (i % 40), i, rn=None)
                try:
                    corr.feed(ev)
                    fed.append(1)
                except UsageError as exc:
                    errors.append(exc)

        threads = [threading.Thread(target=feed, args=(1000 * n,)) for n in range(4)]
        interval = sys.getswitchinterval()
        sys.setswitchinterval(1e-6)  # switch threads as often as the interpreter can
        try:
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        finally:
            sys.setswitchinterval(interval)
        assert all("another thread" in str(exc) for exc in errors)
        assert 0 <= len(corr) <= 50
        assert corr.stats.events == len(fed)
        records = corr.close()
        emitted = sum(corr.stats.records.values())
        assert emitted == corr.stats.events  # every creation is in exactly one record
        assert len(records) <= 50


def test_absurd_time_settings_are_usage_errors() -> None:
    for bad in (1e308, float("inf")):
        with pytest.raises(UsageError, match="out of range"):
            Correlator(ttl=bad)
        with pytest.raises(UsageError):
            Correlator(max_skew=bad)
