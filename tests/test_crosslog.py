"""One record per process across logs: a process's Sysmon record and Security record merged.

The stage (``correlog._crosslog.LogMerger``) is checked three ways: against a plain reference
written from its documentation (a list scanned in full on every record, no index, no heap), by
properties every output must have (each record fed leaves in exactly one record; never two
records of one log merged, never two hosts), and end to end on event streams of processes that
both logs saw, through the real correlator. The OTRF archives, which hold both logs of the same
processes, are in ``test_crosslog_otrf.py``.
"""

from __future__ import annotations

import itertools
from collections import Counter
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from correlog import (
    Alert,
    Correlator,
    EventKind,
    Layout,
    ProcessEvent,
    Reason,
    Record,
    Status,
    UsageError,
)
from correlog._crosslog import (
    AlertMerger,
    ClockOffset,
    LogMerger,
    fast_merge,
    log_of,
    merge_records,
    pairs,
    parse_log_offset,
    shift_events,
)
from correlog._policy import CROSS_LOG_POLICY

S = 1_000_000_000
_rn = itertools.count(1)


def record(
    channel: str | None,
    *,
    host: str = "ws1",
    pid: int = 4,
    image: str | None = "C:\\Windows\\cmd.exe",
    start: int | None = 100 * S,
    end: int | None = 160 * S,
    events: tuple[int, ...] | None = None,
    **fields: Any,
) -> Record:
    """A record of one log; each gets record numbers of its own (the test's identity)."""
    if events is None:
        ids = (1, 5) if channel == "sysmon" else (4688, 4689)
        events = tuple(e for e, t in zip(ids, (start, end), strict=True) if t is not None)
    provenance = tuple(x for e in events for x in (e, next(_rn)))
    base: dict[str, Any] = {
        "host": host,
        "pid": pid,
        "image": image,
        "user": None,
        "domain": None,
        "logon_id": None,
        "owner_source": None,
        "creator_pid": None,
        "creator_image": None,
        "start": start,
        "end": end,
        "status": Status.COMPLETE if start is not None and end is not None else Status.PARTIAL,
        "reason": Reason.EXITED if end is not None else Reason.FLUSHED,
        "provenance": provenance,
        "layout": Layout.VISTA,
        "first_seen": start if start is not None else (end or 0),
        "channel": channel,
        "process_id": (host, channel, pid, start or end or 0, provenance[1]),
    }
    base.update(fields)
    return Record(**base)


# -- the policy and the merge of one pair -------------------------------------------------


def test_every_record_field_is_in_exactly_one_row_of_the_cross_log_policy() -> None:
    named = Counter(field for rule in CROSS_LOG_POLICY for field in rule.fields)
    assert set(named) == set(Record._fields)
    assert set(named.values()) == {1}
    assert {rule.how for rule in CROSS_LOG_POLICY} <= {
        "first",
        "each",
        "union",
        "concat",
        "any",
        "derived",
    }


def test_a_merged_record_has_sysmons_guid_and_hashes_and_the_security_logs_fields() -> None:
    sysmon = record(
        "sysmon",
        start=100 * S + 691_000_000,
        end=None,
        user="SYSTEM",
        domain="NT AUTHORITY",
        logon_id=0x3E7,
        owner_source=EventKind.CREATED,
        creator_pid=600,
        creator_image="C:\\Windows\\services.exe",
        command_line="cmd /c whoami",
        integrity="System",
        extra={"ProcessGuid": "{g}", "Hashes": "SHA1=AB", "CurrentDirectory": "C:\\"},
    )
    security = record(
        None,
        image="C:\\WINDOWS\\CMD.EXE",
        start=100 * S,
        end=101 * S,
        user="DC1$",
        domain="CORP",
        logon_id=0x3E7,
        owner_source=EventKind.EXITED,
        creator_pid=600,
        exit_status=0,
        extra={"SubjectUserName": "DC1$", "TokenElevationType": "%%1936", "Hashes": "x"},
        audits_lost=True,
    )
    assert pairs(sysmon, security, 2 * S)
    assert pairs(security, sysmon, 2 * S)
    merged = merge_records(sysmon, security)
    # Sysmon's identity, owner spelling and times; the Security log fills what Sysmon lacks.
    assert merged.channel == "sysmon"
    assert merged.process_id == sysmon.process_id
    assert (merged.user, merged.domain, merged.logon_id) == ("SYSTEM", "NT AUTHORITY", 0x3E7)
    assert merged.owner_source is EventKind.CREATED
    assert merged.image == sysmon.image
    assert (merged.start, merged.end) == (sysmon.start, security.end)
    assert (merged.status, merged.reason) == (Status.COMPLETE, Reason.EXITED)
    assert merged.exit_status == 0
    assert merged.command_line == "cmd /c whoami"
    assert merged.audits_lost is True
    assert merged.events == (1, 4688, 4689)
    assert merged.provenance == sysmon.provenance + security.provenance
    assert merged.extra == {
        "ProcessGuid": "{g}",
        "Hashes": "SHA1=AB",
        "CurrentDirectory": "C:\\",
        "SubjectUserName": "DC1$",
        "TokenElevationType": "%%1936",
    }


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"host": "ws2"}, "another host"),
        ({"pid": 8}, "another pid"),
        ({"image": "C:\\Windows\\conhost.exe"}, "another image"),
        ({"image": None}, "no image"),
        ({"start": 103 * S}, "starts 3 s apart"),
        ({"end": 157 * S}, "ends 3 s apart"),
        ({"start": None, "end": None, "events": (4696,)}, "nothing to compare"),
        ({"channel": "sysmon", "events": (1, 5)}, "the same log"),
        ({"events": (592, 593)}, "a legacy Security record"),
    ],
)
def test_records_that_are_not_one_process_do_not_pair(change: dict[str, Any], why: str) -> None:
    sysmon = record("sysmon")
    channel = change.pop("channel", None)
    other = record(channel, **change)
    assert not pairs(sysmon, other, 2 * S), why
    merger = LogMerger()
    assert merger.feed_many([sysmon, other]) + merger.close() in (
        [sysmon, other],
        [other, sysmon],
    )
    assert merger.stats.merged == 0


def test_an_exit_only_record_pairs_on_its_end() -> None:
    # aptsimulator's first PING.EXE: the Security capture began after its 4688.
    security = record(None, start=None, end=160 * S + 500_000_000)
    sysmon = record("sysmon", start=158 * S, end=160 * S)
    merger = LogMerger()
    assert merger.feed(sysmon) == []
    (merged,) = merger.feed(security)
    assert merged.events == (1, 5, 4689)
    assert (merged.start, merged.end, merged.reason) == (158 * S, 160 * S, Reason.EXITED)


def test_the_closest_waiting_record_wins() -> None:
    far = record("sysmon", start=101 * S + 500_000_000, end=None)
    near = record("sysmon", start=100 * S + 100_000_000, end=None, pid=4)
    merger = LogMerger(window=10**6)
    assert merger.feed_many([far, near]) == []
    (merged,) = merger.feed(record(None, start=100 * S, end=None))
    assert merged.provenance[:2] == near.provenance
    assert merger.close() == [far]
    # As close as each other: the one that came first.
    early, late = (record("sysmon", start=101 * S, end=None) for _ in range(2))
    assert merger.feed_many([early, late]) == []
    (merged,) = merger.feed(record(None, start=100 * S, end=None))
    assert merged.provenance[:2] == early.provenance
    assert merger.close() == [late]


# -- the plain reference and the differential test ----------------------------------------


def _distance(a: Record, b: Record) -> int:
    known = ((a.start, b.start), (a.end, b.end))
    return sum(abs(x - y) for x, y in known if x is not None and y is not None)


def reference(records: list[Record], tolerance: int, window: int, max_held: int) -> list[Record]:
    """The stage as its documentation says, with lists: a record that cannot pair passes; one
    that can pairs with the closest waiting record (then the earliest), else waits; then every
    waiting record of its host whose mark + window the host's clock reached leaves (deadline,
    then arrival order), and the earliest leave while more than ``max_held`` wait; at the end
    the rest leave in arrival order."""
    out: list[Record] = []
    waiting: list[tuple[int, Record, str, int]] = []  # (arrival, record, log, deadline)
    clocks: dict[tuple[str, str], int] = {}
    for arrival, rec in enumerate(records):
        log = log_of(rec)
        if log is None or rec.image is None:
            out.append(rec)
            continue
        latest = max(t for t in (rec.start, rec.end, rec.first_seen) if t is not None)
        mark = clocks[rec.host, log] = max(clocks.get((rec.host, log), latest), latest)
        candidates = [w for w in waiting if pairs(w[1], rec, tolerance)]
        if candidates:
            distances = [_distance(w[1], rec) for w in candidates]
            best = candidates[distances.index(min(distances))]  # the closest, then the first
            waiting.remove(best)
            sysmon, security = (rec, best[1]) if log == "sysmon" else (best[1], rec)
            out.append(merge_records(sysmon, security))
        else:
            waiting.append((arrival, rec, log, mark + window))
        host_clock = max(c for (h, _), c in clocks.items() if h == rec.host)
        due = sorted(
            (w for w in waiting if w[1].host == rec.host and w[3] <= host_clock),
            key=lambda w: (w[3], w[0]),
        )
        for w in due:
            waiting.remove(w)
            out.append(w[1])
        while len(waiting) > max_held:
            out.append(waiting.pop(0)[1])
    out += [w[1] for w in waiting]
    return out


_HALF_SECONDS = st.none() | st.integers(0, 40).map(lambda t: t * S // 2)
_ONE_RECORD = st.tuples(
    st.sampled_from([None, "sysmon"]),
    _HALF_SECONDS,
    _HALF_SECONDS,
    st.integers(0, 20).map(lambda t: t * S),
    st.integers(0, 9),
    st.sampled_from(["a", "b"]),
    st.sampled_from([4, 8]),
    st.sampled_from(["C:\\x.exe", "c:\\X.EXE", "C:\\y.exe", None]),
    st.none() | st.just("u"),
    st.none() | st.just(1),
    st.none() | st.dictionaries(st.sampled_from("xy"), st.sampled_from("st"), max_size=2),
)


def _built(values: tuple[Any, ...]) -> Record:
    channel, start, end, first_seen, legacy, host, pid, image, user, status, extra = values
    if start is None and end is None:
        start = first_seen
    return record(
        channel,
        host=host,
        pid=pid,
        image=image,
        start=start,
        end=end,
        events=(592, 593) if channel is None and legacy == 0 else None,
        first_seen=first_seen,
        user=user,
        exit_status=status,
        extra=extra,
    )


#: Records of two hosts, two pids, both logs, images that agree or not, times near each other
#: or far, some without a start or an end, now and then a legacy one.
record_streams = st.lists(_ONE_RECORD.map(_built), max_size=14)


_OWNERS = st.tuples(
    st.none() | st.sampled_from(["SYSTEM", "DC1$"]),
    st.none() | st.just("NT AUTHORITY"),
    st.none() | st.just(0x3E7),
    st.none() | st.sampled_from(list(EventKind)),
)
_MAYBE = st.none() | st.sampled_from(["a", "b"])


@given(
    both=st.tuples(_ONE_RECORD, _ONE_RECORD),
    owners=st.tuples(_OWNERS, _OWNERS),
    more=st.lists(st.tuples(_MAYBE, _MAYBE, st.none() | st.integers(0, 9)), min_size=2, max_size=2),
    lost=st.tuples(st.booleans(), st.booleans()),
)
def test_the_compiled_merge_is_the_plain_merge(
    both: tuple[Any, Any], owners: Any, more: Any, lost: tuple[bool, bool]
) -> None:
    sysmon, security = (
        _built((channel, *values[1:]))._replace(
            user=owner[0],
            domain=owner[1],
            logon_id=owner[2],
            owner_source=owner[3],
            command_line=extra[0],
            creator_image=extra[1],
            creator_pid=extra[2],
            audits_lost=gone,
        )
        for channel, values, owner, extra, gone in zip(
            ("sysmon", None), both, owners, more, lost, strict=True
        )
    )
    assert fast_merge(sysmon, security) == merge_records(sysmon, security)


@settings(max_examples=400)
@given(
    records=record_streams,
    tolerance=st.sampled_from([0, S, 2 * S]),
    window=st.sampled_from([0, S, 5 * S, 10**15]),
    max_held=st.integers(0, 6),
)
def test_the_merger_gives_what_the_plain_reference_gives(
    records: list[Record], tolerance: int, window: int, max_held: int
) -> None:
    merger = LogMerger(tolerance=tolerance / S, window=window / S, max_held=max_held)
    out = []
    for rec in records:
        out += merger.feed(rec)
        assert len(merger) <= max_held
    out += merger.close()
    assert out == reference(records, tolerance, window, max_held)


def offsets_reference(
    alone: list[tuple[tuple[str, int, str], str, Record]], tolerance: int, evidence_size: int
) -> dict[str, Counter[int]]:
    """The offset evidence as the module docs say, with a list: each record that left without
    a partner is compared with every remembered record of its key (host, pid, image) from the
    other log, oldest first: the Security time minus the Sysmon time (starts, else ends), in
    whole seconds, counted per host when more than ``tolerance`` apart; then it is remembered,
    and the oldest forgotten beyond ``evidence_size``."""
    remembered: list[tuple[tuple[str, int, str], str, int | None, int | None]] = []
    apart: dict[str, Counter[int]] = {}
    for key, log, rec in alone:
        for other_key, other_log, start, end in remembered:
            if other_key != key or other_log == log:
                continue
            if rec.start is not None and start is not None:
                delta = rec.start - start
            elif rec.end is not None and end is not None:
                delta = rec.end - end
            else:
                continue
            if log == "sysmon":
                delta = -delta
            if abs(delta) > tolerance:
                apart.setdefault(key[0], Counter())[round(delta / S)] += 1
        remembered.append((key, log, rec.start, rec.end))
        del remembered[: max(0, len(remembered) - evidence_size)]
    return apart


class _Watched(LogMerger):
    """A merger that keeps what left it without a partner, in order."""

    def __init__(self, **settings: Any) -> None:
        super().__init__(**settings)
        self.alone: list[tuple[tuple[str, int, str], str, Record]] = []

    def _alone(self, held: Any, out: list[Record]) -> None:
        self.alone.append((held.key, held.log, held.record))
        super()._alone(held, out)


#: Records of one host and pid, mostly of one image: a key that comes back in both logs.
_ONE_KEY = st.lists(_ONE_RECORD.map(_built).map(lambda r: r._replace(host="a", pid=4)), max_size=30)


@settings(max_examples=400)
@given(
    records=_ONE_KEY | st.lists(_ONE_RECORD.map(_built), max_size=30),
    tolerance=st.sampled_from([0, S]),
    window=st.sampled_from([0, S, 10**15]),
    evidence_size=st.sampled_from([0, 1, 2, 3, 5, 65_536]),
)
def test_the_offset_evidence_is_what_the_plain_reference_counts(
    records: list[Record], tolerance: int, window: int, evidence_size: int
) -> None:
    merger = _Watched(tolerance=tolerance / S, window=window / S, evidence_size=evidence_size)
    merger.feed_many(records)
    merger.close()
    expected = offsets_reference(merger.alone, tolerance, evidence_size) if evidence_size else {}
    assert merger._apart == expected


def _origin(records: list[Record]) -> dict[int | None, Record]:
    """Each record by its first record number (unique in these tests)."""
    return {rec.provenance[1]: rec for rec in records}


@settings(max_examples=300)
@given(records=record_streams, window=st.sampled_from([0, 5, 300]), max_held=st.integers(0, 8))
def test_every_record_leaves_in_exactly_one_record_and_only_pairs_merge(
    records: list[Record], window: int, max_held: int
) -> None:
    merger = LogMerger(window=window, max_held=max_held)
    out = merger.feed_many(records) + merger.close()
    origin = _origin(records)
    seen: Counter[int | None] = Counter()
    for rec in out:
        parts = [origin[rn] for rn in rec.provenance[1::2] if rn in origin and rn is not None]
        firsts = {p.provenance[1] for p in parts}
        seen.update(firsts)
        if len(firsts) == 1:
            assert rec == parts[0]
            continue
        (sysmon,) = [p for p in parts if p.channel == "sysmon"]
        (security,) = [p for p in parts if p.channel is None]
        assert len(firsts) == 2
        assert sysmon.host == security.host == rec.host  # never across hosts
        assert pairs(sysmon, security, 2 * S)  # one of each log, one process
        assert rec == merge_records(sysmon, security)
    assert seen == Counter(origin.keys())  # each record fed is in exactly one record out
    assert len(merger) == 0


# -- end to end: events of processes both logs saw, through the correlator ----------------


@st.composite
def both_logs(draw: st.DrawFn) -> tuple[list[ProcessEvent], int]:
    """Events of processes on two hosts that Sysmon and the Security log both logged, each log
    in time order, the two interleaved anyhow; Security's times a little off (under 1 s, cut
    to the second as NXLog does). A pid is reused only long after its process ended."""
    events: dict[str | None, list[ProcessEvent]] = {None: [], "sysmon": []}
    count = 0
    for host in ("ws1", "ws2"):
        t = 0
        for _ in range(draw(st.integers(0, 6))):
            t += draw(st.integers(1, 30)) * S
            pid = draw(st.sampled_from([4, 8, 12]))
            life = draw(st.integers(0, 20)) * S + draw(st.integers(0, 999)) * 1_000_000
            image = draw(st.sampled_from(["C:\\Windows\\cmd.exe", "C:\\Windows\\conhost.exe"]))
            for channel, (create, exit_) in (("sysmon", (1, 5)), (None, (4688, 4689))):
                for kind, eid, exact in (
                    (EventKind.CREATED, create, t),
                    (EventKind.EXITED, exit_, t + life),
                ):
                    # NXLog gives the Security log's times to the second.
                    when = exact - exact % S if channel is None else exact
                    events[channel].append(
                        ProcessEvent(
                            kind=kind,
                            host=host,
                            pid=pid,
                            time=when,
                            event_id=eid,
                            image=image,
                            channel=channel,
                            layout=Layout.VISTA,
                        )
                    )
            count += 1
            t += life + 60 * S  # the pid is free again long after
    for log in events.values():
        log.sort(key=lambda e: e.time)
    order = draw(st.permutations([0] * len(events[None]) + [1] * len(events["sysmon"])))
    logs = [iter(events[None]), iter(events["sysmon"])]
    return [next(logs[i]) for i in order], count


@settings(max_examples=200)
@given(stream=both_logs())
def test_processes_both_logs_saw_become_one_record_each(
    stream: tuple[list[ProcessEvent], int],
) -> None:
    events, processes = stream
    merger = LogMerger(window=10**9)  # the logs may be interleaved anyhow: wait for the end
    out = merger.feed_many(Correlator().process(iter(events))) + merger.close()
    assert len(out) == processes
    for rec in out:
        assert sorted(rec.events) == [1, 5, 4688, 4689]
        assert rec.status is Status.COMPLETE
    assert merger.offsets() == []


@settings(max_examples=100)
@given(stream=both_logs(), hours=st.sampled_from([-16, -4, 5]))
def test_a_constant_offset_merges_nothing_and_is_reported_until_shifted_back(
    stream: tuple[list[ProcessEvent], int], hours: int
) -> None:
    events, processes = stream
    offset = hours * 3600 * S
    skewed = [e._replace(time=e.time + offset) if e.channel is None else e for e in events]
    merger = LogMerger(window=10**9)
    out = merger.feed_many(Correlator().process(iter(skewed))) + merger.close()
    assert len(out) == 2 * processes
    assert merger.stats.merged == 0
    found = {o.host: o for o in merger.offsets()}
    for host in {e.host for e in events}:
        pairs_on_host = sum(1 for e in events if e.host == host and e.event_id == 1)
        if pairs_on_host >= 2:
            assert found[host].offset == pytest.approx(offset, abs=S)
            assert found[host].pairs >= pairs_on_host
    fixed = dict([parse_log_offset(f"security={-hours}h")])
    merger = LogMerger(window=10**9)
    shifted = shift_events(skewed, fixed)
    again = merger.feed_many(Correlator().process(shifted)) + merger.close()
    assert len(again) == processes


def test_a_log_far_behind_releases_its_records_at_once() -> None:
    # The Security log 16 h behind: its records can never meet Sysmon's in the window.
    merger = LogMerger()
    sysmon = record("sysmon", start=16 * 3600 * S + 100 * S, end=16 * 3600 * S + 160 * S)
    assert merger.feed(sysmon) == []
    security = record(None)
    assert merger.feed(security) == [security]
    assert len(merger) == 1


def test_a_record_waits_at_most_the_window_of_its_hosts_clock() -> None:
    merger = LogMerger(window=60)
    first = record("sysmon", pid=4, start=100 * S, end=110 * S)
    assert merger.feed(first) == []
    later = record("sysmon", pid=8, start=150 * S, end=169 * S)
    assert merger.feed(later) == []  # 169 < 110 + 60
    other_host = record("sysmon", host="ws2", pid=8, start=900 * S, end=990 * S)
    assert merger.feed(other_host) == []  # another host's clock moves nothing here
    last = record(None, pid=12, start=170 * S, end=171 * S)
    assert merger.feed(last) == [first]  # the host's clock (171) passed 110 + 60


# -- offsets, flags, alerts ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("offset", "zone", "fix"),
    [
        (-4 * 3600 * S - 691_000_000, "-04:00", "--tz=-04:00"),
        (5 * 3600 * S + 1800 * S, "+05:30", "--tz=+05:30"),
        (-16 * 3600 * S, None, "--log-offset ws5/security=+57600"),
        (-37 * S, None, "--log-offset ws5/security=+37"),
    ],
)
def test_an_offset_says_which_flag_fixes_it(offset: int, zone: str | None, fix: str) -> None:
    found = ClockOffset(host="ws5", offset=offset, pairs=12, aligned=0)
    assert found.zone() == zone
    message = found.message()
    assert fix in message
    assert "ws5" in message
    assert "12 processes" in message


@pytest.mark.parametrize(
    ("text", "key", "seconds"),
    [
        ("security=+16h", (None, "security"), 57600),
        ("WS5/Security=-30m", ("ws5", "security"), -1800),
        ("sysmon=2.5", (None, "sysmon"), 2.5),
        ("dc1.corp.local/sysmon=-90s", ("dc1.corp.local", "sysmon"), -90),
    ],
)
def test_log_offsets_parse(text: str, key: tuple[str | None, str], seconds: float) -> None:
    assert parse_log_offset(text) == (key, round(seconds * S))


@pytest.mark.parametrize("text", ["security", "16h", "system=1", "security=1d", "=1", "a/=1"])
def test_a_bad_log_offset_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError, match="--log-offset"):
        parse_log_offset(text)


def test_shifting_moves_only_the_named_log_of_the_named_host() -> None:
    def ev(host: str, channel: str | None) -> ProcessEvent:
        return ProcessEvent(
            kind=EventKind.CREATED, host=host, pid=4, time=10 * S, event_id=1, channel=channel
        )

    offsets = {("ws1", "security"): 5 * S, (None, "sysmon"): -S}
    events = [ev("ws1", None), ev("ws2", None), ev("ws1", "sysmon"), ev("ws2", "sysmon")]
    assert [e.time for e in shift_events(events, offsets)] == [15 * S, 10 * S, 9 * S, 9 * S]


def _alert(rec: Record, rule: str = "r") -> Alert:
    return Alert(
        rule=rule,
        host=rec.host,
        pid=rec.pid,
        image=rec.image,
        user=rec.user,
        domain=rec.domain,
        time=rec.start,
        event_id=None,
        record=rec,
    )


def test_an_alert_is_raised_once_for_a_process_both_logs_saw() -> None:
    sysmon = record("sysmon", end=None, reason=Reason.OPEN)
    security = record(None, start=100 * S + 400_000_000, end=None, reason=Reason.OPEN)
    alerts = AlertMerger()
    assert alerts.keep(_alert(sysmon))
    assert not alerts.keep(_alert(security))  # the same process, the same rule
    assert alerts.keep(_alert(security, rule="other"))  # another rule: a new finding
    assert alerts.keep(_alert(record(None, host="ws2")))  # another host
    assert alerts.keep(_alert(record("sysmon", end=None)))  # the same log again: kept
    assert alerts.merged == 1


def test_merger_settings_are_checked() -> None:
    for bad in ({"tolerance": -1.0}, {"window": float("nan")}, {"max_held": -1}):
        with pytest.raises(UsageError):
            LogMerger(**bad)


def test_tree_and_report_relink_what_named_a_security_record_merged_away() -> None:
    import argparse

    from correlog.cli._crosslog import CrossLog

    args = argparse.Namespace(no_merge_logs=False, merge_tolerance=2.0, max_open=100)
    across = CrossLog.from_args(args, aliases=True)
    parent_sysmon = record("sysmon", pid=4)
    parent_security = record(None, pid=4)
    child = record(None, pid=8, image="C:\\a.exe", creator_process_id=parent_security.process_id)
    out = across.records([parent_security, child, parent_sysmon]) + across.close()
    (merged,) = [r for r in out if r.pid == 4]
    alert = _alert(parent_security._replace(reason=Reason.OPEN))
    records, (moved,) = across.relinked(out, [alert])
    (linked,) = [r for r in records if r.pid == 8]
    assert linked.creator_process_id == merged.process_id == parent_sysmon.process_id
    assert moved.record is not None
    assert moved.record.process_id == merged.process_id
