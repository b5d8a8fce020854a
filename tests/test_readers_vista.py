"""Vista+ and Sysmon decoders, and the readers of EVTX, Event XML, NXLog, Winlogbeat, ECS and .evt.

The JSON and XML lines here are shaped on the real data in ``../shared/data`` (the same field
names and value forms); ``test_conformance_vista.py`` runs the readers on the files themselves.
"""

from __future__ import annotations

import builtins
import calendar
import datetime as _dt
import gzip
import io
import json
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import correlog
from correlog import EventKind, HostEvent, HostEventKind, Layout, ParseError, ProcessEvent, read
from correlog._time import _full_time, sysmon_time
from correlog.decoders import decode_fields, decode_sysmon, fields_decoders
from correlog.readers import EvtRecord, evt_bytes
from correlog.readers.evt import HEADER_SIZE

T0 = correlog.parse_iso("2021-11-13T14:30:58.226925Z")
SUBJECT = {
    "SubjectUserSid": "S-1-5-18",
    "SubjectUserName": "FS03$",
    "SubjectDomainName": "OFFSEC",
    "SubjectLogonId": "0x3e7",
}
V1 = {
    **SUBJECT,
    "NewProcessId": "0x1c4",
    "NewProcessName": "C:\\Windows\\System32\\cmd.exe",
    "TokenElevationType": "%%1938",
    "ProcessId": "0x85c",
    "CommandLine": "cmd.exe",
}
RUNAS = {
    **V1,
    "TargetUserSid": "S-1-5-21-1",
    "TargetUserName": "hack1",
    "TargetDomainName": "OFFSEC",
    "TargetLogonId": "0xa6f5fc2",
}
SAME_TOKEN = {
    **V1,
    "TargetUserSid": "S-1-0-0",
    "TargetUserName": "-",
    "TargetDomainName": "-",
    "TargetLogonId": "0x0",
    "ParentProcessName": "C:\\Windows\\explorer.exe",
    "MandatoryLabel": "S-1-16-12288",
}


def processes(events: Iterable[correlog.Event]) -> list[ProcessEvent]:
    """The events, checked to be process events (and typed as such)."""
    found = list(events)
    assert all(isinstance(event, ProcessEvent) for event in found)
    return [event for event in found if isinstance(event, ProcessEvent)]


def decode(event_id: int, fields: dict[str, Any]) -> ProcessEvent:
    event = decode_fields(event_id, fields, host="FS03.offsec.lan", time=T0, record_number=7)
    assert isinstance(event, ProcessEvent)
    return event


class TestVistaDecoder:
    def test_4688_v2_runas_is_owned_by_its_target(self) -> None:
        event = decode(4688, RUNAS)
        assert (event.kind, event.host, event.pid, event.creator_pid) == (
            EventKind.CREATED,
            "fs03.offsec.lan",
            0x1C4,
            0x85C,
        )
        assert (event.user, event.domain, event.logon_id, event.own_account) == (
            "hack1",
            "OFFSEC",
            0xA6F5FC2,
            True,
        )
        assert event.extra == {
            "TokenElevationType": "%%1938",
            "SubjectUserName": "FS03$",
            "SubjectDomainName": "OFFSEC",
            "SubjectLogonId": "0x3e7",
        }
        assert (event.layout, event.record_number, event.command_line) == (
            Layout.VISTA,
            7,
            "cmd.exe",
        )

    def test_4688_v2_same_token_is_owned_by_its_subject(self) -> None:
        event = decode(4688, SAME_TOKEN)
        assert (event.user, event.logon_id, event.own_account) == ("FS03$", 0x3E7, True)
        assert event.creator_image == "C:\\Windows\\explorer.exe"
        assert event.integrity == "High"
        assert event.extra is not None
        assert event.extra["MandatoryLabel"] == "S-1-16-12288"

    def test_4688_v1_and_v0_name_the_creator(self) -> None:
        event = decode(4688, V1)
        assert (event.user, event.own_account, event.creator_image) == ("FS03$", False, None)
        v0 = {k: v for k, v in V1.items() if k != "CommandLine"}
        assert decode(4688, v0).command_line is None
        assert decode(4688, {**V1, "CommandLine": ""}).command_line is None

    @pytest.mark.parametrize(
        ("label", "level"),
        [
            ("S-1-16-4096", "Low"),
            ("S-1-16-8192", "Medium"),
            ("S-1-16-8448", "Medium"),
            ("S-1-16-12288", "High"),
            ("S-1-16-16384", "System"),
            ("S-1-16-20480", "System"),
            ("S-1-16-9999", None),
        ],
    )
    def test_integrity_levels(self, label: str, level: str | None) -> None:
        assert decode(4688, {**SAME_TOKEN, "MandatoryLabel": label}).integrity == level

    @pytest.mark.parametrize(("text", "pid"), [("0x1A4", 0x1A4), ("0x1a4", 0x1A4), ("420", 420)])
    def test_pid_forms(self, text: str, pid: int) -> None:
        assert decode(4688, {**V1, "NewProcessId": text}).pid == pid
        assert decode(4688, {**V1, "NewProcessId": pid}).pid == pid

    def test_4689_and_4696(self) -> None:
        exited = decode(
            4689,
            {**SUBJECT, "Status": "0xC0000005", "ProcessId": "0x1c4", "ProcessName": "C:\\x.exe"},
        )
        assert (exited.kind, exited.pid, exited.image, exited.exit_status) == (
            EventKind.EXITED,
            0x1C4,
            "C:\\x.exe",
            0xC0000005,
        )
        assert (exited.user, exited.own_account) == ("FS03$", True)
        token = decode(
            4696,
            {
                **SUBJECT,
                "TargetUserName": "svc",
                "TargetDomainName": "D",
                "TargetLogonId": "0x10",
                "TargetProcessId": "0x20",
                "TargetProcessName": "C:\\t.exe",
                "ProcessId": "0x30",
                "ProcessName": "C:\\p.exe",
            },
        )
        assert (token.kind, token.pid, token.user, token.creator_pid, token.creator_image) == (
            EventKind.TOKEN_ASSIGNED,
            0x20,
            "svc",
            0x30,
            "C:\\p.exe",
        )

    def test_fields_that_are_not_text_read_the_same_the_second_time(self) -> None:
        """JSON sources may give numbers, or damaged lines lists, where text is expected."""
        odd = {
            **RUNAS,
            "TargetUserName": 42,
            "TargetLogonId": 0x2A3C1,
            "NewProcessName": ["C:\\a.exe"],
            "ParentProcessName": None,
        }
        for _ in range(2):  # the second time through the decoders' caches
            event = decode(4688, odd)
            assert (event.user, event.logon_id, event.image, event.creator_image) == (
                "42",
                0x2A3C1,
                "['C:\\\\a.exe']",
                None,
            )
            exited = decode(4689, {**SUBJECT, "ProcessId": 8, "SubjectUserName": 7})
            assert (exited.user, exited.domain, exited.logon_id) == ("7", "OFFSEC", 0x3E7)

    @pytest.mark.parametrize(
        ("event_id", "kind"),
        [
            (4608, HostEventKind.HOST_STARTED),
            (1102, HostEventKind.LOG_CLEARED),
            (1101, HostEventKind.AUDITS_DISCARDED),
        ],
    )
    def test_host_events(self, event_id: int, kind: HostEventKind) -> None:
        event = decode_fields(event_id, {}, host="H", time=T0, record_number=3)
        assert event == HostEvent(kind=kind, host="h", time=T0, event_id=event_id, record_number=3)

    @pytest.mark.parametrize(
        ("fields", "reason"),
        [
            ({**V1, "NewProcessId": None}, "missing process id"),
            ({k: v for k, v in V1.items() if k != "NewProcessId"}, "missing process id"),
            ({**V1, "NewProcessId": "0xzz"}, "bad process id"),
            ({**V1, "NewProcessId": ["1"]}, "bad process id"),
            ({**V1, "SubjectLogonId": "nope"}, "bad logon id"),
        ],
    )
    def test_bad_values_are_parse_errors(self, fields: dict[str, Any], reason: str) -> None:
        with pytest.raises(ParseError) as info:
            decode(4688, fields)
        assert info.value.reason.startswith(reason)
        assert info.value.record == 7

    def test_unknown_ids_decode_to_nothing(self) -> None:
        assert decode_fields(4624, V1, host="h", time=0) is None
        assert fields_decoders("Application") is None
        assert fields_decoders(None, "Microsoft-Windows-Sysmon") is fields_decoders(
            "Microsoft-Windows-Sysmon/Operational"
        )


SYSMON_1 = {
    "UtcTime": "2021-06-12 01:07:15.633",
    "ProcessGuid": "{e2c04bb9-08c3-60c4-1c17-400100000000}",
    "ProcessId": "2164",
    "Image": "C:\\Windows\\System32\\PING.EXE",
    "OriginalFileName": "ping.exe",
    "CommandLine": "ping  -n 3 127.0.0.1 ",
    "CurrentDirectory": "C:\\Users\\x\\",
    "User": "WORKSTATION5\\APT-Simulator",
    "LogonGuid": "{e2c04bb9-a708-60c3-fb19-370000000000}",
    "LogonId": "0x3719FB",
    "TerminalSessionId": 2,
    "IntegrityLevel": "High",
    "Hashes": "SHA1=5655",
    "ParentProcessGuid": "{e2c04bb9-d0f0-60c3-48da-ec0000000000}",
    "ParentProcessId": "5632",
    "ParentImage": "C:\\Windows\\System32\\cmd.exe",
    "ParentCommandLine": '"C:\\Windows\\system32\\cmd.exe" ',
    "RuleName": "-",
}


class TestSysmonDecoder:
    def test_process_create(self) -> None:
        event = decode_sysmon(1, SYSMON_1, host="WORKSTATION5", time=0, record_number=9)
        assert isinstance(event, ProcessEvent)
        assert (event.channel, event.pid, event.creator_pid, event.user, event.domain) == (
            "sysmon",
            2164,
            5632,
            "APT-Simulator",
            "WORKSTATION5",
        )
        assert (event.logon_id, event.integrity, event.own_account) == (0x3719FB, "High", True)
        assert correlog.iso(event.time) == "2021-06-12T01:07:15.633Z"
        assert event.extra is not None
        assert event.extra["TerminalSessionId"] == "2"
        assert event.extra["OriginalFileName"] == "ping.exe"
        assert "RuleName" not in event.extra

    def test_terminate_and_fallback_time(self) -> None:
        fields = {"ProcessId": 2164, "Image": "C:\\p.exe", "ProcessGuid": "{g}"}
        event = decode_sysmon(5, fields, host="h", time=42)
        assert isinstance(event, ProcessEvent)
        assert (event.kind, event.time, event.user, event.extra) == (
            EventKind.EXITED,
            42,
            None,
            {"ProcessGuid": "{g}"},
        )
        named = decode_sysmon(5, {**fields, "User": "NT AUTHORITY\\SYSTEM"}, host="h", time=42)
        assert isinstance(named, ProcessEvent)
        assert (named.user, named.domain) == ("SYSTEM", "NT AUTHORITY")

    @pytest.mark.parametrize("text", ["2021-13-12 01:07:15.633", "yesterday", "2021-06-12 1:07"])
    def test_bad_utc_time(self, text: str) -> None:
        with pytest.raises(ParseError, match="bad time"):
            decode_sysmon(1, {**SYSMON_1, "UtcTime": text}, host="h", time=0)


_TIME_CHARS = "0123456789-:T .Zz+\u0661"
SEEN_TIMES = ["2021-06-12 01:07:15.633", "2021-11-03T08:34:27.978376Z", "1999-12-31T23:59:59"]


@given(
    st.datetimes(min_value=_dt.datetime(1970, 1, 1), max_value=_dt.datetime(2100, 1, 1)),
    st.sampled_from(["T", " "]),
    st.integers(min_value=0, max_value=9),
    st.sampled_from(["", "Z"]),
)
def test_utc_time_is_exact(when: _dt.datetime, sep: str, digits: int, zone: str) -> None:
    """Any valid time reads to the nanosecond, the first time its minute is seen and after."""
    frac = f"{when.microsecond:06d}000"[:digits]
    text = when.strftime(f"%Y-%m-%d{sep}%H:%M:%S") + ("." + frac if digits else "") + zone
    expected = calendar.timegm(when.timetuple()) * 10**9 + (
        int(frac.ljust(9, "0")) if digits else 0
    )
    assert sysmon_time(text) == expected
    assert sysmon_time(text) == expected  # now from the per-minute memo


@given(st.text(alphabet=_TIME_CHARS, max_size=32), st.sampled_from(SEEN_TIMES))
@example("61", SEEN_TIMES[0])
@example("60.5", SEEN_TIMES[0])
@example("-1.5", SEEN_TIMES[0])
@example("1\u0661.25", SEEN_TIMES[0])
@example("15.1234567890", SEEN_TIMES[0])
@example("15.", SEEN_TIMES[0])
def test_utc_time_memo_changes_nothing(text: str, seen: str) -> None:
    """The per-minute memo gives what the full parse gives, bad times included."""
    sysmon_time(seen)  # its minute is memoised
    for candidate in (text, seen[:16] + text, seen[:17] + text):
        bare = candidate[:-1] if candidate[-1:] in ("Z", "z") else candidate
        assert _outcome(sysmon_time, candidate) == _outcome(_full_time, bare)


def _outcome(parse: Any, text: str) -> int | str:
    try:
        return int(parse(text))
    except ParseError as exc:
        return exc.reason


# -- JSON line formats ---------------------------------------------------------------------------

NXLOG_4688 = {
    "EventTime": "2021-11-13 09:30:58",
    "Hostname": "FS03.offsec.lan",
    "EventID": 4688,
    "RecordNumber": 469351,
    "Channel": "Security",
    "SourceName": "Microsoft-Windows-Security-Auditing",
    "Message": "A new process has been created.",
    **RUNAS,
}
WINLOGBEAT_4688 = {
    "@timestamp": "2021-11-13T14:30:58.226Z",
    "winlog": {
        "event_id": "4688",
        "record_id": 469351,
        "computer_name": "FS03.offsec.lan",
        "channel": "Security",
        "provider_name": "Microsoft-Windows-Security-Auditing",
        "event_data": RUNAS,
    },
}
ECS_4688 = {
    "@timestamp": "2021-11-13T14:30:58.226Z",
    "event": {"code": "4688", "provider": "Microsoft-Windows-Security-Auditing"},
    "host": {"name": "FS03.offsec.lan"},
    "process": {
        "pid": 0x1C4,
        "executable": "C:\\Windows\\System32\\cmd.exe",
        "command_line": "cmd.exe",
        "parent": {"pid": 0x85C},
    },
    "user": {
        "name": "FS03$",
        "domain": "OFFSEC",
        "effective": {"name": "hack1", "domain": "OFFSEC"},
    },
}


def line(data: dict[str, Any]) -> str:
    return json.dumps(data)


class TestJsonFormats:
    def test_nxlog_reads_local_event_time_in_tz(self) -> None:
        (event,) = read([line(NXLOG_4688)], tz="-05:00")
        assert isinstance(event, ProcessEvent)
        assert (event.user, event.pid, event.record_number) == ("hack1", 0x1C4, 469351)
        assert correlog.iso(event.time) == "2021-11-13T14:30:58Z"

    def test_nxlog_falls_back_to_iso_times(self) -> None:
        data = {k: v for k, v in NXLOG_4688.items() if k != "EventTime"}
        (event,) = read([line({**data, "TimeCreated": "2021-11-13T14:30:58.5Z"})], "nxlog")
        assert correlog.iso(event.time) == "2021-11-13T14:30:58.5Z"

    def test_nxlog_legacy_message(self) -> None:
        data = {
            "EventTime": "2003-03-04 09:15:02",
            "Hostname": "IIS02",
            "EventID": 592,
            "SourceName": "Security",
            "Message": "A new process has been created: New Process ID: 2208 Image File Name: "
            "C:\\PHP\\php.exe Creator Process ID: 3120 User Name: SYSTEM Domain: NT AUTHORITY "
            "Logon ID: (0x0,0x3E7)",
        }
        (event,) = read([line(data)], "nxlog")
        assert isinstance(event, ProcessEvent)
        assert (event.pid, event.event_id, event.own_account) == (2208, 592, False)

    def test_winlogbeat_and_ecs_read_the_same_process(self) -> None:
        (beat,) = processes(read([line(WINLOGBEAT_4688)]))
        (ecs,) = processes(read([line(ECS_4688)]))
        for event in (beat, ecs):
            assert isinstance(event, ProcessEvent)
            assert (event.host, event.pid, event.image, event.creator_pid) == (
                "fs03.offsec.lan",
                0x1C4,
                "C:\\Windows\\System32\\cmd.exe",
                0x85C,
            )
            assert (event.user, event.domain, event.own_account) == ("hack1", "OFFSEC", True)
            assert correlog.iso(event.time) == "2021-11-13T14:30:58.226Z"
        assert read([line(WINLOGBEAT_4688)]).format == "winlogbeat"
        assert read([line(ECS_4688)]).format == "ecs"
        assert read([line(NXLOG_4688)]).format == "nxlog"

    def test_ecs_without_an_effective_user_names_the_creator(self) -> None:
        data = {**ECS_4688, "user": {"name": "bob", "domain": "D"}}
        (event,) = processes(read([line(data)], "ecs"))
        assert (event.user, event.own_account) == ("bob", False)

    def test_ecs_sysmon(self) -> None:
        data = {
            "@timestamp": "2021-06-12T01:07:16Z",
            "event": {"code": "1", "module": "sysmon"},
            "host": {"name": "w5"},
            "process": {"pid": 2164, "executable": "C:\\p.exe", "entity_id": "{g}"},
            "user": {"name": "x", "domain": "W5"},
        }
        (event,) = processes(read([line(data)], "ecs"))
        assert (event.channel, event.user, event.domain, event.extra) == (
            "sysmon",
            "x",
            "W5",
            {"ProcessGuid": "{g}"},
        )

    @pytest.mark.parametrize(
        ("fmt", "data", "reason"),
        [
            ("nxlog", {**NXLOG_4688, "NewProcessId": "0xq"}, "bad process id"),
            ("nxlog", {**NXLOG_4688, "EventTime": "2021-13-13 09:30:58"}, "bad time"),
            ("nxlog", {k: v for k, v in NXLOG_4688.items() if k != "Hostname"}, "missing host"),
            ("winlogbeat", {**WINLOGBEAT_4688, "winlog": "x"}, "bad json event"),
            ("winlogbeat", {**WINLOGBEAT_4688, "@timestamp": "soon"}, "bad time"),
            ("ecs", {**ECS_4688, "process": {"pid": "x"}}, "bad process id"),
            ("ecs", {**ECS_4688, "event": {"code": "x"}}, "bad event id"),
        ],
    )
    def test_bad_lines(self, fmt: str, data: dict[str, Any], reason: str) -> None:
        with pytest.raises(ParseError) as info:
            list(read(["", line(data)], fmt, name="feed"))
        assert info.value.reason.startswith(reason)
        assert (info.value.source, info.value.offset) == ("feed", 2)

    def test_other_events_are_ignored(self) -> None:
        logon = {**NXLOG_4688, "EventID": 4624}
        other_log = {**NXLOG_4688, "Channel": "Application", "SourceName": "App"}
        reader = read([line(logon), line(other_log), "{broken", line(NXLOG_4688)], errors="skip")
        assert len(list(reader)) == 1
        assert (reader.stats.ignored, reader.stats.skipped) == (2, 1)
        assert reader.stats.lines == reader.stats.accounted()


# -- Event XML -----------------------------------------------------------------------------------

NS = 'xmlns="http://schemas.microsoft.com/win/2004/08/events/event"'


def xml_event(record: int, fields: dict[str, str], event_id: int = 4688, ns: str = NS) -> str:
    data = "".join(f'<Data Name="{k}">{v}</Data>' for k, v in fields.items())
    return (
        f"<Event {ns}><System><Provider Name='Microsoft-Windows-Security-Auditing'/>"
        f"<EventID>{event_id}</EventID><TimeCreated SystemTime='2021-11-13T14:30:58.2269253Z'/>"
        f"<EventRecordID>{record}</EventRecordID><Channel>Security</Channel>"
        f"<Computer>FS03.offsec.lan</Computer></System><EventData>{data}</EventData></Event>"
    )


class TestEventXml:
    @pytest.mark.parametrize(
        "text",
        [
            xml_event(1, RUNAS) + "\n" + xml_event(2, V1),
            '<?xml version="1.0" encoding="utf-8"?>\n<Events>'
            + xml_event(1, RUNAS)
            + xml_event(2, V1)
            + "</Events>",
            xml_event(1, RUNAS, ns="") + xml_event(2, V1, ns=""),
        ],
        ids=["bare-elements", "wrapped", "no-namespace"],
    )
    def test_every_form_reads_the_same(self, text: str, tmp_path: Path) -> None:
        path = tmp_path / "events"
        path.write_text(text, encoding="utf-8")
        reader = read(path)
        events = processes(reader)
        assert reader.format == "xml"
        assert [(e.record_number, e.user) for e in events] == [(1, "hack1"), (2, "FS03$")]
        # The 100 ns digits of SystemTime are kept.
        assert events[0].time % 1000 == 300

    def test_utf16_with_bom(self, tmp_path: Path) -> None:
        path = tmp_path / "events.xml"
        path.write_bytes(("<Events>" + xml_event(5, RUNAS) + "</Events>").encode("utf-16"))
        (event,) = read(path)
        assert event.record_number == 5

    def test_elements_do_not_pile_up(self) -> None:
        text = "<Events>" + xml_event(1, V1, event_id=4624) * 3000 + "</Events>"
        reader = read(io.BytesIO(text.encode()), "xml")
        assert list(reader) == []
        assert reader.stats.ignored == 3000

    def test_bad_values_and_broken_xml(self) -> None:
        text = xml_event(1, {**V1, "NewProcessId": "0xq"}) + xml_event(2, V1) + "<Event><oops>"
        reader = read(io.BytesIO(text.encode()), errors="skip", name="x.xml")
        assert [e.record_number for e in reader] == [2]
        assert reader.stats.skipped == 2
        assert set(reader.stats.skipped_by_reason) == {"bad process id", "bad xml"}
        assert reader.stats.errors[0].offset == 1
        assert reader.stats.errors[0].record == 1
        with pytest.raises(ParseError, match="bad process id"):
            list(read(io.BytesIO(text.encode())))


# -- binary and compressed inputs ----------------------------------------------------------------

ASSEMBLY = [
    EvtRecord(100, 1_046_769_300, 592, "IIS02", ["2208", "C:\\PHP\\php.exe", "3120", "SYSTEM",
                                                   "NT AUTHORITY", "(0x0,0x3E7)"]),
    EvtRecord(101, 1_046_769_300, 600, "IIS02", ["3120", "C:\\w3wp.exe", "IUSR_IIS02", "IIS02",
                                                   "(0x0,0x2A3C1)", "2208", "C:\\PHP\\php.exe",
                                                   "IUSR_IIS02", "IIS02", "(0x0,0x2A3C1)"]),
    EvtRecord(102, 1_046_769_301, 7036, "IIS02", ["x"], source="Service Control Manager"),
    EvtRecord(103, 1_046_769_302, 593, "IIS02", ["2208", "C:\\PHP\\php.exe", "IUSR_IIS02",
                                                   "IIS02", "(0x0,0x2A3C1)"]),
]  # fmt: skip


class TestEvt:
    def check(self, data: bytes) -> correlog.EventReader:
        reader = read(io.BytesIO(data))
        events = processes(reader)
        assert reader.format == "evt"
        assert [e.event_id for e in events] == [592, 600, 593]
        assert [e.record_number for e in events] == [100, 101, 103]
        assert events[2].user == "IUSR_IIS02"
        assert correlog.iso(events[0].time) == "2003-03-04T09:15:00Z"
        assert (reader.stats.lines, reader.stats.ignored) == (4, 1)
        return reader

    def test_a_plain_file(self) -> None:
        self.check(evt_bytes(ASSEMBLY))

    def test_a_wrapped_circular_file(self) -> None:
        size = HEADER_SIZE + 2000
        data = evt_bytes(ASSEMBLY, size=size, start=size - 300)
        assert int.from_bytes(data[36:40], "little") & 2  # WRAP
        self.check(data)

    def test_a_dirty_header_is_not_trusted(self) -> None:
        size = HEADER_SIZE + 2000
        self.check(evt_bytes(ASSEMBLY, size=size, start=size - 500, dirty=True))

    def test_records_left_in_free_space_are_recovered_once(self) -> None:
        older = evt_bytes([EvtRecord(99, 1_046_769_290, 512, "IIS02")])[HEADER_SIZE:-40]
        stale = evt_bytes([ASSEMBLY[0]])[HEADER_SIZE:-40]
        data = evt_bytes(ASSEMBLY, free_space=older + stale)
        reader = read(io.BytesIO(data))
        events = list(reader)
        assert [e.event_id for e in events] == [512, 592, 600, 593]
        assert (reader.stats.lines, reader.stats.ignored) == (6, 2)

    def test_damage_is_located_by_byte_offset(self) -> None:
        data = bytearray(evt_bytes(ASSEMBLY))
        second = HEADER_SIZE + int.from_bytes(data[HEADER_SIZE : HEADER_SIZE + 4], "little")
        data[second + 4 : second + 8] = b"XXXX"
        reader = read(io.BytesIO(bytes(data)), errors="skip", name="sec.evt")
        assert [e.event_id for e in reader] == [592]
        (error,) = reader.stats.errors
        assert (error.source, error.offset) == ("sec.evt", second)
        assert error.reason.startswith("bad evt record: no record signature")
        with pytest.raises(ParseError):
            list(read(io.BytesIO(bytes(data))))

    def test_a_bad_insertion_string_names_the_record(self) -> None:
        bad = ASSEMBLY[0]._replace(strings=["22x8", *ASSEMBLY[0].strings[1:]])
        with pytest.raises(ParseError) as info:
            list(read(io.BytesIO(evt_bytes([bad]))))
        assert (info.value.record, info.value.offset) == (100, HEADER_SIZE)

    def test_standard_input_is_spooled(self, monkeypatch: pytest.MonkeyPatch) -> None:
        class Pipe(io.BufferedReader):
            def seekable(self) -> bool:
                return False

        pipe = Pipe(io.BytesIO(evt_bytes(ASSEMBLY)))
        monkeypatch.setattr("sys.stdin", io.TextIOWrapper(pipe))
        assert len(list(read("-"))) == 3


class TestCompressed:
    def test_gzip_and_zip_members_are_read_through(self, tmp_path: Path) -> None:
        lines = (line(NXLOG_4688) + "\n").encode()
        gz = tmp_path / "a"
        gz.write_bytes(gzip.compress(lines))
        assert [e.user for e in processes(read(gz))] == ["hack1"]
        zipped = tmp_path / "b"
        with zipfile.ZipFile(zipped, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("one.json", lines)
            archive.writestr("dir/", b"")
            archive.writestr("two.evt", evt_bytes(ASSEMBLY))
            archive.writestr("three.json.gz", gzip.compress(lines * 2))
        reader = read(zipped)
        assert reader.format == "nxlog"
        assert [e.event_id for e in reader] == [4688, 592, 600, 593, 4688, 4688]

    def test_errors_in_a_member_name_it_and_count_from_its_start(self, tmp_path: Path) -> None:
        zipped = tmp_path / "c.zip"
        with zipfile.ZipFile(zipped, "w") as archive:
            archive.writestr("one.json", (line(NXLOG_4688) + "\n") * 3)
            archive.writestr("two.json", line(NXLOG_4688) + "\n{broken\n")
        reader = read(zipped, errors="skip")
        assert len(list(reader)) == 4
        (error,) = reader.stats.errors
        assert (error.source, error.offset) == (f"{zipped}[two.json]", 2)


class TestEvtx:
    def test_a_missing_package_is_a_usage_error(self, monkeypatch: pytest.MonkeyPatch) -> None:
        real_import = builtins.__import__

        def no_evtx(name: str, *args: Any, **kwargs: Any) -> Any:
            if name == "evtx":
                raise ImportError(name)
            return real_import(name, *args, **kwargs)

        monkeypatch.setattr(builtins, "__import__", no_evtx)
        with pytest.raises(correlog.UsageError, match=r"pip install 'correlog\[evtx\]'"):
            list(read(io.BytesIO(b"ElfFile\x00" + b"\x00" * 4088)))

    def test_not_really_evtx(self) -> None:
        pytest.importorskip("evtx")
        with pytest.raises(ParseError, match="not an evtx file"):
            list(read(io.BytesIO(b"ElfFile\x00 and then nothing")))
