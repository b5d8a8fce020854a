"""The text readers: one transport at a time, then detection, error modes, sources and zones.

The lines are the IIS story from the legacy exemplars (an IIS worker on Windows 2003 starting
php.exe as IUSR_IIS02), written out in each transport. Each reader must turn its transport into
the same normalized events; ``test_conformance_legacy.py`` checks that on the full exemplar
files when they are present.
"""

from __future__ import annotations

import builtins
import contextlib
import datetime as dt
import importlib
import io
import sys
import zoneinfo
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

import correlog
from correlog import (
    FORMATS,
    EventKind,
    EventReader,
    HostEvent,
    HostEventKind,
    Layout,
    ParseError,
    ProcessEvent,
    ReadStats,
    UsageError,
    iso,
    read,
)
from correlog.readers import (
    BINARY_FORMATS,
    DETECTION_ORDER,
    MAX_KEPT_ERRORS,
    event_from_json,
    event_to_json,
)

from .strategies import events

MSG_592 = (
    "A new process has been created: New Process ID: 2208 Image File Name: C:\\PHP\\php.exe "
    "Creator Process ID: 3120 User Name: SYSTEM Domain: NT AUTHORITY Logon ID: (0x0,0x3E7)"
)
MSG_600 = (
    "A process was assigned a primary token. Assigning Process Information: Process ID: 3120 "
    "Image File Name: C:\\WINDOWS\\system32\\inetsrv\\w3wp.exe Primary User Name: IUSR_IIS02 "
    "Primary Domain: IIS02 Primary Logon ID: (0x0,0x2A3C1) New Process Information: "
    "Process ID: 2208 Image File Name: C:\\PHP\\php.exe Target User Name: IUSR_IIS02 "
    "Target Domain: IIS02 Target Logon ID: (0x0,0x2A3C1)"
)
MSG_593 = (
    "A process has exited: Process ID: 2208 Image File Name: C:\\PHP\\php.exe "
    "User Name: IUSR_IIS02 Domain: IIS02 Logon ID: (0x0,0x2A3C1)"
)
MSG_528 = "Successful Logon: User Name: bob Domain: IIS02 Logon ID: (0x0,0x2A3C2) Logon Type: 2"
T0 = correlog.parse_iso("2003-03-04T09:15:02Z")

PHP_592 = ProcessEvent(
    kind=EventKind.CREATED,
    host="iis02",
    pid=2208,
    time=T0,
    event_id=592,
    image="C:\\PHP\\php.exe",
    user="SYSTEM",
    domain="NT AUTHORITY",
    logon_id=0x3E7,
    own_account=False,
    creator_pid=3120,
)
PHP_600 = ProcessEvent(
    kind=EventKind.TOKEN_ASSIGNED,
    host="iis02",
    pid=2208,
    time=T0,
    event_id=600,
    image="C:\\PHP\\php.exe",
    user="IUSR_IIS02",
    domain="IIS02",
    logon_id=0x2A3C1,
    own_account=True,
    creator_pid=3120,
    creator_image="C:\\WINDOWS\\system32\\inetsrv\\w3wp.exe",
    layout=Layout.XP_2003,
)
PHP_593 = ProcessEvent(
    kind=EventKind.EXITED,
    host="iis02",
    pid=2208,
    time=T0 + 1_000_000_000,
    event_id=593,
    image="C:\\PHP\\php.exe",
    user="IUSR_IIS02",
    domain="IIS02",
    logon_id=0x2A3C1,
    own_account=True,
    layout=Layout.XP_2003,
)
STORY = [PHP_592, PHP_600, PHP_593]
#: The formats read from lines of text (the binary ones need a file).
TEXT_FORMATS = tuple(fmt for fmt in FORMATS if fmt not in BINARY_FORMATS)
#: The formats whose unit is one line (an XML reader counts ``<Event>`` elements instead).
LINE_FORMATS = tuple(fmt for fmt in TEXT_FORMATS if fmt != "xml")


def numbered(*records: int) -> list[ProcessEvent]:
    """The story's events with the record numbers a transport that has them gives."""
    return [event._replace(record_number=n) for event, n in zip(STORY, records, strict=True)]


def snare_line(
    event_id: int,
    message: str,
    *,
    when: str = "Tue Mar 04 09:15:02 2003",
    record: str = "812",
    log: str = "Security",
    counter: int = 1,
) -> str:
    return "\t".join(
        [
            "IIS02",
            "MSWinEventLog",
            "1",
            log,
            str(counter),
            when,
            str(event_id),
            "Security",
            "SYSTEM",
            "User",
            "Success Audit",
            "IIS02",
            "Detailed Tracking",
            message,
            record,
        ]
    )


SNARE = [
    snare_line(592, MSG_592, record="812"),
    snare_line(600, MSG_600, record="813"),
    snare_line(593, MSG_593, when="Tue Mar 04 09:15:03 2003", record="814"),
]
EVENTREPORTER = [
    'EvntSLog: [AUS] Tue Mar 04 09:15:02 2003: IIS02/Security (592) - "' + MSG_592 + '"',
    'EvntSLog: [AUS] Tue Mar 04 09:15:02 2003: IIS02/Security (600) - "' + MSG_600 + '"',
    'EvntSLog: [AUS] Tue Mar 04 09:15:03 2003: IIS02/Security (593) - "' + MSG_593 + '"',
]
OSSEC = [
    "2003 Mar 04 09:15:02 WinEvtLog: Security: AUDIT_SUCCESS(592): Security: SYSTEM: IIS02: "
    "IIS02: " + MSG_592,
    "2003 Mar 04 09:15:02 WinEvtLog: Security: AUDIT_SUCCESS(600): Security: IUSR_IIS02: "
    "IIS02: IIS02: " + MSG_600,
    "2003 Mar 04 09:15:03 WinEvtLog: Security: AUDIT_SUCCESS(593): Security: IUSR_IIS02: "
    "IIS02: IIS02: " + MSG_593,
]
LOGPARSER_HEADER = (
    "EventLog,RecordNumber,TimeGenerated,TimeWritten,EventID,EventType,EventTypeName,"
    "EventCategory,EventCategoryName,SourceName,Strings,ComputerName,SID,Message,Data"
)
LOGPARSER = [
    LOGPARSER_HEADER,
    "Security,812,2003-03-04 09:15:02,2003-03-04 09:15:02,592,8,Success Audit event,5,"
    'Detailed Tracking,Security,"2208|C:\\PHP\\php.exe|3120|SYSTEM|NT AUTHORITY|(0x0,0x3E7)",'
    'IIS02,S-1-5-18,"' + MSG_592 + '",',
    "Security,813,2003-03-04 09:15:02,2003-03-04 09:15:02,600,8,Success Audit event,5,"
    'Detailed Tracking,Security,"3120|C:\\WINDOWS\\system32\\inetsrv\\w3wp.exe|IUSR_IIS02|IIS02|'
    '(0x0,0x2A3C1)|2208|C:\\PHP\\php.exe|IUSR_IIS02|IIS02|(0x0,0x2A3C1)",IIS02,S-1-5-18,"'
    + MSG_600
    + '",',
    "Security,814,2003-03-04 09:15:03,2003-03-04 09:15:03,593,8,Success Audit event,5,"
    'Detailed Tracking,Security,"2208|C:\\PHP\\php.exe|IUSR_IIS02|IIS02|(0x0,0x2A3C1)",IIS02,'
    'S-1-5-18,"' + MSG_593 + '",',
]
EVTVIEWER = [
    "03/04/2003,09:15:02 AM,Security,Success Audit,Detailed Tracking,592,NT AUTHORITY\\SYSTEM,"
    'IIS02,"' + MSG_592 + '"',
    "03/04/2003,09:15:02 AM,Security,Success Audit,Detailed Tracking,600,IIS02\\IUSR_IIS02,"
    'IIS02,"' + MSG_600 + '"',
    "03/04/2003,09:15:03 AM,Security,Success Audit,Detailed Tracking,593,IIS02\\IUSR_IIS02,"
    'IIS02,"' + MSG_593 + '"',
]
JSONL = [
    '{"kind": "created", "host": "iis02", "pid": 2208, "time": "2003-03-04T09:15:02Z", '
    '"event_id": 592, "image": "C:\\\\PHP\\\\php.exe", "user": "SYSTEM", '
    '"domain": "NT AUTHORITY", "logon_id": 999, "own_account": false, "creator_pid": 3120}',
]
SAMPLES = {
    "snare": SNARE,
    "eventreporter": EVENTREPORTER,
    "ossec": OSSEC,
    "logparser": LOGPARSER,
    "evtviewer": EVTVIEWER,
    "jsonl": JSONL,
}


@contextlib.contextmanager
def files_opened() -> Iterator[list[Any]]:
    """Collect the file objects ``open()`` returns while the block runs."""
    opened: list[Any] = []
    real_open = builtins.open

    def spy(*args: Any, **kwargs: Any) -> Any:
        handle = real_open(*args, **kwargs)
        opened.append(handle)
        return handle

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(builtins, "open", spy)
        yield opened


def assert_accounted(stats: ReadStats) -> None:
    assert stats.lines == stats.accounted()


class TestEachTransport:
    def test_snare(self) -> None:
        reader = read(SNARE, "snare")
        found = list(reader)
        assert found == numbered(812, 813, 814)
        assert reader.format == "snare"
        assert (reader.stats.lines, reader.stats.events) == (3, 3)

    def test_snare_behind_a_syslog_header(self) -> None:
        lines = ["<13>Mar  4 09:15:00 iis02 " + line for line in SNARE]
        found = list(read(lines, "snare"))
        assert found == numbered(812, 813, 814)

    def test_snare_without_the_record_number_field(self) -> None:
        lines = [line.rsplit("\t", 1)[0] for line in SNARE]
        assert list(read(lines, "snare")) == STORY

    def test_snare_documented_2000_593_with_labels_run_together(self) -> None:
        # Snare's "Appendix A" example, with its fields joined by real tabs.
        fields = [
            "Test_Host",
            "MSWinEventLog",
            "2",
            "Security",
            "3027",
            "Fri May 24 20:30:43 2010",
            "593",
            "Security",
            "Administrator",
            "User",
            "Success Audit",
            "LE5678WSP",
            "Detailed Tracking",
            "A process has exited:Process ID: 656 User Name: Administrator "
            "Domain: LE5678WSPLogon ID: (0x0,0x6C52)",
        ]
        (event,) = read(["\t".join(fields)], "snare")
        assert isinstance(event, ProcessEvent)
        assert (event.host, event.pid, event.user, event.domain) == (
            "le5678wsp",
            656,
            "Administrator",
            "LE5678WSP",
        )
        assert event.layout is Layout.NT4_2000
        assert iso(event.time) == "2010-05-24T20:30:43Z"

    def test_snare_documented_4689_is_a_valid_line_that_legacy_readers_ignore(self) -> None:
        # LogZilla's Snare example of a Windows Server 2019 4689: not a legacy event.
        fields = [
            "WIN2019-DC-SNAR",
            "MSWinEventLog",
            "0",
            "Security",
            "12399",
            "Fri Feb 25 08:15:52 2022",
            "4689",
            "Microsoft-Windows-Security-Auditing",
            "WIN2019-DC-SNAR\\Administrator",
            "N/A",
            "Success Audit",
            "Win2019-DC-snare",
            "Process Termination",
            "A process has exited.    Subject:   Security ID:  "
            "S-1-5-21-889138511-2922568610-3431993163-500   Account Name:  Administrator   "
            "Account Domain:  WIN2019-DC-SNAR   Logon ID:  0xF199D4B    Process Information:   "
            "Process ID: 0x12dc   Process Name: C:\\Windows\\System32\\PING.EXE   Exit Status: 0x0",
            "12370",
        ]
        reader = read(["\t".join(fields)], "snare")
        assert list(reader) == []
        assert (reader.stats.ignored, reader.stats.skipped) == (1, 0)

    def test_eventreporter(self) -> None:
        assert list(read(EVENTREPORTER, "eventreporter")) == STORY

    def test_eventreporter_behind_a_syslog_header_and_without_closing_quote(self) -> None:
        lines = ["<13>Mar  4 09:15:02 iis02 " + line for line in EVENTREPORTER]
        lines[2] = lines[2].removesuffix('"')
        assert list(read(lines, "eventreporter")) == STORY

    def test_ossec_with_and_without_a_timestamp(self) -> None:
        assert list(read(OSSEC, "ossec")) == STORY
        bare = [line.split(" ", 4)[4] for line in OSSEC]
        assert bare[0].startswith("WinEvtLog: ")
        found = list(read(bare, "ossec", clock=lambda: 42))
        assert found == [event._replace(time=42) for event in STORY]

    def test_ossec_archive_line_takes_the_event_time_before_winevtlog(self) -> None:
        line = (
            "2003 Mar 04 10:00:00 (iis02) 10.0.0.5->WinEvtLog 2003 Mar 04 09:15:02 " + OSSEC[0][21:]
        )
        assert list(read([line], "ossec")) == [PHP_592]

    def test_logparser_prefers_insertion_strings(self) -> None:
        # Break every message: the reader must not need them when Strings is there.
        lines = [LOGPARSER[0]] + [line.replace("Process ID:", "PID:") for line in LOGPARSER[1:]]
        reader = read(lines, "logparser")
        found = list(reader)
        assert found == numbered(812, 813, 814)
        assert reader.stats.headers == 1

    def test_logparser_falls_back_to_the_message(self) -> None:
        header = "EventID,TimeGenerated,ComputerName,Message,RecordNumber"
        row = f'592,2003-03-04 09:15:02,IIS02,"{MSG_592}",812'
        assert list(read([header, row], "logparser")) == [PHP_592._replace(record_number=812)]

    def test_logparser_without_a_header_assumes_select_star(self) -> None:
        found = list(read(LOGPARSER[1:], "logparser"))
        assert found == numbered(812, 813, 814)

    def test_logparser_header_without_required_columns(self) -> None:
        with pytest.raises(ParseError, match=r"bad header.*ComputerName"):
            list(
                read(
                    ["EventID,TimeGenerated,Strings,Whatever,More,Cols,A,B,C,D,E,F,G,H,I"],
                    "logparser",
                )
            )

    def test_evtviewer(self) -> None:
        assert list(read(EVTVIEWER, "evtviewer")) == STORY

    @pytest.mark.parametrize(
        ("date", "clock"),
        [
            ("03/04/2003", "9:15:02 AM"),
            ("3/4/2003", "09:15:02"),
            ("04.03.2003", "09:15:02"),
            ("2003-03-04", "9:15:02 a.m."),
        ],
    )
    def test_evtviewer_date_formats(self, date: str, clock: str) -> None:
        line = EVTVIEWER[0].replace("03/04/2003,09:15:02 AM", f"{date},{clock}")
        assert list(read([line], "evtviewer")) == [PHP_592]

    def test_evtviewer_twelve_hour_edges(self) -> None:
        noon = EVTVIEWER[0].replace("09:15:02 AM", "12:15:02 PM")
        midnight = EVTVIEWER[0].replace("09:15:02 AM", "12:15:02 AM")
        (at_noon,) = read([noon], "evtviewer")
        (at_midnight,) = read([midnight], "evtviewer")
        assert iso(at_noon.time) == "2003-03-04T12:15:02Z"
        assert iso(at_midnight.time) == "2003-03-04T00:15:02Z"

    def test_evtviewer_description_spanning_lines(self) -> None:
        text = (
            EVTVIEWER[0]
            .replace("Image File Name:", "\nImage File Name:")
            .replace("User Name:", "\r\n  User Name:")
        )
        lines = text.splitlines()
        assert len(lines) == 3
        reader = read([*lines, EVTVIEWER[1]], "evtviewer")
        assert list(reader) == [PHP_592, PHP_600]
        assert (reader.stats.lines, reader.stats.continued, reader.stats.events) == (4, 2, 2)
        assert_accounted(reader.stats)

    def test_an_unclosed_quote_does_not_swallow_the_input(self) -> None:
        broken = '03/04/2003,09:15:02 AM,Security,Success Audit,Detailed Tracking,592,X,IIS02,"oops'
        lines = [broken] + ["plain line without quotes"] * 150 + EVTVIEWER
        reader = read(lines, "evtviewer", errors="skip")
        assert list(reader) == STORY
        # The bound is 100 continuation lines; the other 50 are skipped one by one.
        assert reader.stats.continued == 100
        assert reader.stats.skipped == 51
        assert_accounted(reader.stats)

    def test_jsonl(self) -> None:
        assert list(read(JSONL, "jsonl")) == [PHP_592]

    @pytest.mark.parametrize(
        ("fmt", "line"),
        [
            ("snare", snare_line(528, MSG_528)),
            ("snare", snare_line(592, MSG_592, log="Application")),
            (
                "eventreporter",
                'EvntSLog: [AUS] Tue Mar 04 09:15:02 2003: IIS02/Security (528) - "x"',
            ),
            ("eventreporter", 'EvntSLog: [INF] Tue Mar 04 09:15:02 2003: IIS02/System (592) - "x"'),
            ("ossec", "WinEvtLog: Security: AUDIT_SUCCESS(528): Security: bob: IIS02: IIS02: x"),
            ("ossec", "WinEvtLog: Application: INFORMATION(592): App: (no user): no domain: H: x"),
            ("logparser", LOGPARSER[1].replace(",592,", ",528,", 1)),
            ("logparser", LOGPARSER[1].replace(",Detailed Tracking,Security,", ",D,MyApp,")),
            ("evtviewer", EVTVIEWER[0].replace(",592,", ",528,")),
            ("evtviewer", EVTVIEWER[0].replace(",Security,", ",MyApp,", 1)),
        ],
    )
    def test_other_events_and_other_logs_are_ignored_not_skipped(self, fmt: str, line: str) -> None:
        reader = read([line], fmt)
        assert list(reader) == []
        assert (reader.stats.ignored, reader.stats.skipped) == (1, 0)

    @pytest.mark.parametrize(
        ("fmt", "line", "reason"),
        [
            ("snare", "just some syslog noise", "not a snare record"),
            ("snare", snare_line(592, MSG_592, when="Tue Foo 04 09:15:02 2003"), "bad time"),
            ("snare", snare_line(592, MSG_592, when="Tue Feb 30 09:15:02 2003"), "bad time"),
            ("snare", snare_line(592, MSG_592.replace("2208", "22x8")), "bad process id"),
            ("snare", SNARE[0].replace("\t592\t", "\tfive92\t"), "bad event id"),
            ("eventreporter", "EvntSLog: garbage", "not an eventreporter record"),
            ("ossec", "WinEvtLog: Security: AUDIT_SUCCESS(592): too few", "not an ossec record"),
            ("ossec", OSSEC[0].replace("AUDIT_SUCCESS(592)", "AUDIT_SUCCESS"), "bad event id"),
            ("logparser", "a,b,c", "too few fields"),
            ("logparser", LOGPARSER[1].replace("2003-03-04 09:15:02", "yesterday", 1), "bad time"),
            ("logparser", LOGPARSER[1].replace(",812,", ",x12,"), "bad record number"),
            ("logparser", LOGPARSER[1].replace("|SYSTEM|", "|"), "wrong number of strings"),
            ("evtviewer", EVTVIEWER[0].replace("03/04/2003", "03/04/03"), "bad time"),
            ("evtviewer", EVTVIEWER[0].replace("09:15:02 AM", "13:15:02 PM"), "bad time"),
            ("evtviewer", EVTVIEWER[0].replace("New Process ID", "Process"), "unreadable message"),
            ("jsonl", "{not json", "bad json"),
            ("jsonl", '{"kind": "created", "host": "h"}', "bad json event"),
            ("jsonl", '{"kind": "exploded", "host": "h"}', "bad json event"),
            ("jsonl", JSONL[0].replace('"pid": 2208', '"pid": "2208"'), "bad json event"),
            ("jsonl", JSONL[0].replace("2003-03-04T09:15:02Z", "noon"), "bad json event"),
            ("jsonl", "[1, 2]", "bad json event"),
        ],
    )
    def test_malformed_lines(self, fmt: str, line: str, reason: str) -> None:
        with pytest.raises(ParseError) as info:
            list(read(["", line], fmt, name="feed"))
        error = info.value
        assert error.reason.startswith(reason)
        assert (error.source, error.offset) == ("feed", 2)


class TestRecordNumbersInErrors:
    def test_snare_error_names_the_record(self) -> None:
        bad = snare_line(592, MSG_592.replace("(0x0,0x3E7)", "(nope)"), record="4711")
        with pytest.raises(ParseError) as info:
            list(read([bad], "snare", name="iis.snare"))
        assert (info.value.source, info.value.offset, info.value.record) == ("iis.snare", 1, 4711)
        assert str(info.value).startswith("iis.snare:1 (record 4711): bad logon id")

    def test_snare_time_error_names_the_record(self) -> None:
        bad = snare_line(592, MSG_592, when="Tue Mar 04 09:61:00 2003", record="4712")
        with pytest.raises(ParseError, match="bad time") as info:
            list(read([bad], "snare"))
        assert info.value.record == 4712

    def test_logparser_error_names_the_record(self) -> None:
        bad = LOGPARSER[1].replace("|3120|", "|31x0|")
        with pytest.raises(ParseError) as info:
            list(read([LOGPARSER_HEADER, bad], "logparser"))
        assert (info.value.offset, info.value.record) == (2, 812)


class TestDetection:
    @pytest.mark.parametrize("fmt", sorted(SAMPLES))
    def test_every_format_is_detected_from_its_content(self, fmt: str) -> None:
        reader = read(["", "  "] + SAMPLES[fmt], name="no-extension-here")
        assert reader.format == fmt
        assert list(reader) == list(read(SAMPLES[fmt], fmt))
        assert reader.stats.blank == 2
        assert_accounted(reader.stats)

    def test_snare_behind_syslog_headers_is_still_snare(self) -> None:
        assert read(["<13>Mar  4 09:15:00 iis02 " + SNARE[0]]).format == "snare"

    def test_eventreporter_behind_syslog_headers(self) -> None:
        assert read(["<13>Mar  4 09:15:02 iis02 " + EVENTREPORTER[0]]).format == "eventreporter"

    def test_logparser_without_header_is_told_from_event_viewer(self) -> None:
        assert read(LOGPARSER[1:]).format == "logparser"
        assert read(EVTVIEWER).format == "evtviewer"

    def test_detection_looks_past_a_few_unrecognised_lines(self) -> None:
        reader = read(["-- MARK --", "junk", *SNARE], errors="skip")
        assert reader.format == "snare"
        assert len(list(reader)) == 3
        assert reader.stats.skipped == 2
        assert_accounted(reader.stats)

    def test_nothing_recognised_names_the_formats_tried(self) -> None:
        with pytest.raises(ParseError) as info:
            read(["hello", "world"], name="mystery.log")
        message = str(info.value)
        assert message.startswith("mystery.log: cannot tell the format")
        for fmt in FORMATS:
            assert fmt in message

    def test_detection_gives_up_after_ten_non_blank_lines(self) -> None:
        with pytest.raises(ParseError, match="first 10 non-blank"):
            read(["noise"] * 10 + SNARE)

    def test_empty_input_reads_nothing(self) -> None:
        reader = read(["", "   ", "\r\n"])
        assert reader.format is None
        assert list(reader) == []
        assert (reader.stats.lines, reader.stats.blank) == (3, 3)

    def test_one_registry_gives_the_formats_and_their_detection_order(self) -> None:
        import pkgutil

        from correlog import readers
        from correlog.readers import REGISTRY
        from correlog.readers._core import RecordFormat

        modules = [
            importlib.import_module(f"correlog.readers.{info.name}")
            for info in pkgutil.iter_modules(readers.__path__)
            if not info.name.startswith("_")
        ]
        declared = {module.FORMAT.name for module in modules}
        assert declared == set(FORMATS)
        assert FORMATS == DETECTION_ORDER == tuple(fmt.name for fmt in REGISTRY)
        assert FORMATS[:2] == BINARY_FORMATS == ("evtx", "evt")
        # The formats told by magic bytes, which detection tries first, are those listed.
        binary = tuple(f.name for f in REGISTRY if isinstance(f, RecordFormat) and f.binary)
        magic = tuple(fmt.name for fmt in REGISTRY if getattr(fmt, "sniff_bytes", None))
        assert binary == magic == BINARY_FORMATS

    def test_detection_is_lazy_about_the_rest_of_the_input(self) -> None:
        pulled: list[str] = []

        def lines() -> Iterator[str]:
            for line in SNARE * 1000:
                pulled.append(line)
                yield line

        reader = read(lines())
        assert reader.format == "snare"
        assert len(pulled) == 1
        next(reader)
        assert len(pulled) == 1


class TestErrorModes:
    MIXED: ClassVar[list[str]] = [
        SNARE[0],
        "",
        "garbage line",
        snare_line(528, MSG_528),
        snare_line(592, MSG_592.replace("2208", "x")),
        SNARE[1],
        "   ",
        snare_line(593, MSG_593, when="Tue Mar 04 25:00:00 2003"),
        SNARE[2],
    ]

    def test_strict_raises_at_the_first_bad_line_with_its_location(self) -> None:
        reader = read(self.MIXED, "snare", name="mixed")
        assert next(reader).event_id == 592
        with pytest.raises(ParseError) as info:
            next(reader)
        assert (info.value.source, info.value.offset) == ("mixed", 3)
        assert reader.stats.lines == 3
        assert_accounted(reader.stats)

    def test_skip_counts_and_goes_on(self) -> None:
        reader = read(self.MIXED, "snare", errors="skip", name="mixed")
        assert [event.event_id for event in reader] == [592, 600, 593]
        stats = reader.stats
        assert (stats.lines, stats.events, stats.ignored, stats.blank, stats.skipped) == (
            9,
            3,
            1,
            2,
            3,
        )
        assert stats.skipped_by_reason == {
            "not a snare record": 1,
            "bad process id": 1,
            "bad time": 1,
        }
        assert [error.offset for error in stats.errors] == [3, 5, 8]
        assert all(error.source == "mixed" for error in stats.errors)
        assert_accounted(stats)

    def test_only_the_first_errors_are_kept(self) -> None:
        reader = read(["bad"] * 50 + SNARE, "snare", errors="skip")
        assert len(list(reader)) == 3
        assert reader.stats.skipped == 50
        assert len(reader.stats.errors) == MAX_KEPT_ERRORS == 20
        assert reader.stats.errors[-1].offset == 20

    def test_stats_add_up_between_events(self) -> None:
        reader = read(self.MIXED, "snare", errors="skip")
        for _ in reader:
            assert_accounted(reader.stats)
        assert_accounted(reader.stats)

    def test_stats_as_dict(self) -> None:
        reader = read(self.MIXED, "snare", errors="skip", name="m")
        list(reader)
        data = reader.stats.as_dict()
        assert data["lines"] == 9
        assert data["skipped_by_reason"]["bad time"] == 1
        assert data["errors"][0].startswith("m:3: not a snare record")

    @given(st.lists(st.sampled_from([*MIXED, "\x00\x01", "\t" * 20, '"', "{}"]), max_size=30))
    def test_every_line_is_accounted_for(self, lines: list[str]) -> None:
        for fmt in LINE_FORMATS:
            reader = read(lines, fmt, errors="skip")
            found = list(reader)
            assert reader.stats.events == len(found)
            assert reader.stats.lines == len(lines)
            assert_accounted(reader.stats)


@st.composite
def damaged_lines(draw: st.DrawFn) -> str:
    """A valid line of some transport with a few characters replaced, cut or inserted."""
    fmt = draw(st.sampled_from(sorted(SAMPLES)))
    line = draw(st.sampled_from(SAMPLES[fmt]))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(line)))
        cut = draw(st.integers(0, 12))
        insert = draw(st.text(alphabet=st.sampled_from('\t ,"|:()-0x9AZé\x00'), max_size=4))
        line = line[:at] + insert + line[at + cut :]
    return line


class TestNeverCrashes:
    @given(st.lists(st.text(max_size=80) | damaged_lines(), max_size=12))
    def test_skip_mode_reads_any_text_to_the_end(self, lines: list[str]) -> None:
        for fmt in LINE_FORMATS:
            reader = read(lines, fmt, errors="skip")
            found = list(reader)
            assert all(isinstance(event, ProcessEvent | HostEvent) for event in found)
            assert reader.stats.lines == len(lines)
            assert_accounted(reader.stats)

    @given(st.lists(damaged_lines(), min_size=1, max_size=6))
    def test_strict_mode_raises_only_parse_errors(self, lines: list[str]) -> None:
        for fmt in LINE_FORMATS:
            reader = read(lines, fmt)
            offsets: list[int | None] = []
            try:
                list(reader)
            except ParseError as error:
                offsets.append(error.offset)
            # Strict mode stops at the first bad record and names the line it starts on (a CSV
            # record may have continued over the lines read after it).
            stats = reader.stats
            assert stats.skipped == len(offsets) <= 1
            for offset in offsets:
                assert offset is not None
                assert stats.lines - stats.continued <= offset <= stats.lines


class TestSources:
    def test_path_and_pathlike(self, tmp_path: Path) -> None:
        path = tmp_path / "iis.snare"
        path.write_text("\n".join(SNARE) + "\n", encoding="utf-8")
        with read(path) as reader:
            assert reader.name == str(path)
            assert len(list(reader)) == 3
        assert len(list(read(str(path), "snare"))) == 3

    def test_crlf_and_utf8_bom(self, tmp_path: Path) -> None:
        path = tmp_path / "iis.csv"
        path.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(EVTVIEWER).encode() + b"\r\n")
        reader = read(path)
        assert reader.format == "evtviewer"
        assert list(reader) == STORY

    def test_utf16_with_bom(self, tmp_path: Path) -> None:
        path = tmp_path / "iis.csv"
        path.write_bytes("\r\n".join(EVTVIEWER).encode("utf-16"))
        assert list(read(path)) == STORY

    def test_utf16_file_objects_are_decoded_and_left_open(self, tmp_path: Path) -> None:
        data = "\r\n".join(EVTVIEWER).encode("utf-16")
        buffered = io.BytesIO(data)
        path = tmp_path / "iis.csv"
        path.write_bytes(data)
        with path.open("rb", buffering=0) as raw:
            assert isinstance(raw, io.RawIOBase)
            for source in (buffered, raw):
                reader = read(source)
                assert list(reader) == STORY
                reader.close()
                assert not source.closed

    def test_cp1252_lines_keep_their_letters(self) -> None:
        line = snare_line(593, MSG_593.replace("IUSR_IIS02", "Müller"))
        (event,) = read([line.encode("cp1252")])
        assert isinstance(event, ProcessEvent)
        assert event.user == "Müller"

    def test_utf8_lines(self) -> None:
        line = snare_line(593, MSG_593.replace("IUSR_IIS02", "Jürgen"))
        (event,) = read(io.BytesIO(line.encode("utf-8")))
        assert isinstance(event, ProcessEvent)
        assert event.user == "Jürgen"

    def test_stdin_binary(self, monkeypatch: pytest.MonkeyPatch) -> None:
        data = ("\n".join(SNARE) + "\n").encode()
        fake = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8")
        monkeypatch.setattr(sys, "stdin", fake)
        reader = read("-")
        assert (reader.name, reader.format) == ("<stdin>", "snare")
        assert len(list(reader)) == 3

    def test_stdin_without_a_buffer(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(OSSEC)))
        assert list(read("-")) == STORY

    def test_text_and_binary_file_objects_are_left_open(self, tmp_path: Path) -> None:
        path = tmp_path / "iis.eventreporter"
        path.write_text("\n".join(EVENTREPORTER), encoding="utf-8")
        text = io.StringIO("\n".join(EVENTREPORTER))
        binary = io.BytesIO("\n".join(EVENTREPORTER).encode())
        with path.open("rb", buffering=0) as raw, path.open(encoding="utf-8") as text_file:
            for source in (text, binary, raw, text_file):
                reader = read(source)
                assert list(reader) == STORY
                reader.close()
                assert not source.closed

    def test_a_file_the_reader_opened_is_closed_at_the_end(self, tmp_path: Path) -> None:
        path = tmp_path / "x.snare"
        path.write_text("\n".join(SNARE), encoding="utf-8")
        with files_opened() as opened:
            reader = read(path)
        assert not opened[0].closed
        assert len(list(reader)) == 3
        assert opened[0].closed

    def test_close_before_reading_closes_the_file(self, tmp_path: Path) -> None:
        path = tmp_path / "x.snare"
        path.write_text("\n".join(SNARE), encoding="utf-8")
        with files_opened() as opened:
            reader = read(path, "snare")
        reader.close()
        reader.close()
        assert opened[0].closed
        assert list(reader) == []

    def test_a_strict_error_closes_the_file(self, tmp_path: Path) -> None:
        path = tmp_path / "x.snare"
        path.write_text("garbage\n" + "\n".join(SNARE), encoding="utf-8")
        with files_opened() as opened:
            reader = read(path, "snare")
        with pytest.raises(ParseError):
            next(reader)
        assert opened[0].closed

    def test_failed_detection_closes_the_file(self, tmp_path: Path) -> None:
        path = tmp_path / "x.log"
        path.write_text("what is this\n", encoding="utf-8")
        with files_opened() as opened, pytest.raises(ParseError):
            read(path)
        assert opened[0].closed

    def test_iter_and_next_share_one_stream(self) -> None:
        reader = read(SNARE, "snare")
        first = next(reader)
        rest = list(reader)
        assert [first, *rest] == list(read(SNARE, "snare"))
        assert isinstance(reader, EventReader)
        assert "snare" in repr(reader)

    def test_bad_sources(self) -> None:
        with pytest.raises(UsageError):
            read(42, "snare")  # type: ignore[arg-type]
        with pytest.raises(UsageError):
            read(b"one bytes object", "snare")  # type: ignore[arg-type]
        with pytest.raises(UsageError):
            list(read([1, 2], "snare"))  # type: ignore[arg-type]

    def test_bad_arguments(self) -> None:
        with pytest.raises(UsageError, match="unknown format"):
            read(SNARE, "evtx2")
        with pytest.raises(UsageError, match="needs a path or a binary file"):
            read(SNARE, "evtx")
        with pytest.raises(UsageError, match="errors"):
            read(SNARE, "snare", errors="ignore")
        with pytest.raises(UsageError, match="time zone"):
            read(SNARE, "snare", tz="Mars/Olympus_Mons")
        with pytest.raises(UsageError, match="tz"):
            read(SNARE, "snare", tz=5)  # type: ignore[arg-type]

    def test_a_missing_file_is_an_os_error(self, tmp_path: Path) -> None:
        with pytest.raises(FileNotFoundError):
            read(tmp_path / "absent.snare")


class TestTimeZones:
    @pytest.mark.parametrize(
        ("tz", "expected"),
        [
            (None, "2003-03-04T09:15:02Z"),
            ("UTC", "2003-03-04T09:15:02Z"),
            ("+01:00", "2003-03-04T08:15:02Z"),
            ("-0500", "2003-03-04T14:15:02Z"),
            (dt.timezone(dt.timedelta(hours=2)), "2003-03-04T07:15:02Z"),
            ("Europe/Berlin", "2003-03-04T08:15:02Z"),
            (zoneinfo.ZoneInfo("America/New_York"), "2003-03-04T14:15:02Z"),
        ],
    )
    def test_zone_of_source_times(self, tz: dt.tzinfo | str | None, expected: str) -> None:
        for fmt, lines in SAMPLES.items():
            if fmt == "jsonl":
                continue
            event = next(read(lines, fmt, tz=tz))
            assert iso(event.time) == expected, fmt

    def test_daylight_saving_is_honoured(self) -> None:
        summer = snare_line(592, MSG_592, when="Fri Jul 04 09:15:02 2003")
        event = next(read([summer], "snare", tz="Europe/Berlin"))
        assert iso(event.time) == "2003-07-04T07:15:02Z"

    def test_jsonl_times_carry_their_own_zone(self) -> None:
        (event,) = read(JSONL, "jsonl", tz="+05:00")
        assert iso(event.time) == "2003-03-04T09:15:02Z"

    def test_bad_offsets(self) -> None:
        with pytest.raises(UsageError):
            read(SNARE, "snare", tz="+25:00")


class TestJsonLines:
    @given(events)
    def test_round_trip_is_exact(self, event: ProcessEvent | HostEvent) -> None:
        back = event_from_json(event_to_json(event))
        assert back == event
        assert type(back) is type(event)

    @given(st.lists(events, max_size=5))
    def test_reader_reads_what_event_to_json_writes(
        self, written: list[ProcessEvent | HostEvent]
    ) -> None:
        import json

        lines = [json.dumps(event_to_json(event)) for event in written]
        reader = read(lines) if lines else read(lines, "jsonl")
        assert list(reader) == written

    def test_sub_second_times_survive(self) -> None:
        event = PHP_592._replace(time=T0 + 123_456_789)
        data = event_to_json(event)
        assert data["time"] == "2003-03-04T09:15:02.123456789Z"
        assert event_from_json(data) == event

    def test_host_events(self) -> None:
        event = HostEvent(
            kind=HostEventKind.AUDITS_DISCARDED, host="h", time=T0, event_id=516, dropped=3
        )
        assert event_to_json(event)["kind"] == "audits_discarded"
        assert event_from_json(event_to_json(event)) == event

    def test_unknown_keys_are_ignored(self) -> None:
        data = event_to_json(PHP_592) | {"added_later": 1}
        assert event_from_json(data) == PHP_592
