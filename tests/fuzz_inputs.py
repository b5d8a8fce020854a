"""Inputs for fuzzing the readers: one small sample per format, and ways to damage it.

Shared by ``tests/test_fuzz_readers.py`` (hypothesis, in CI) and ``benchmarks/fuzz.py`` (a
longer run). Everything here is built in code: no input files are needed.
"""

from __future__ import annotations

import gzip
import io
import json
import random
import re
import tracemalloc
import zipfile
from collections.abc import Callable
from typing import Any

from correlog import Event, ParseError, read
from correlog.readers.evt import EvtRecord, evt_bytes

MSG_592 = (
    "A new process has been created: New Process ID: 2208 Image File Name: C:\\PHP\\php.exe "
    "Creator Process ID: 3120 User Name: SYSTEM Domain: NT AUTHORITY Logon ID: (0x0,0x3E7)"
)
MSG_593 = (
    "A process has exited: Process ID: 2208 Image File Name: C:\\PHP\\php.exe User Name: SYSTEM "
    "Domain: NT AUTHORITY Logon ID: (0x0,0x3E7)"
)
_VISTA = {
    "SubjectUserName": "FS03$",
    "SubjectDomainName": "OFFSEC",
    "SubjectLogonId": "0x3e7",
    "NewProcessId": "0x1c4",
    "NewProcessName": "C:\\Windows\\System32\\cmd.exe",
    "TokenElevationType": "%%1936",
    "ProcessId": "0x2a8",
    "CommandLine": "cmd /c whoami",
    "TargetUserName": "alice",
    "TargetDomainName": "OFFSEC",
    "TargetLogonId": "0x1f2e3",
    "ParentProcessName": "C:\\Windows\\explorer.exe",
    "MandatoryLabel": "S-1-16-8192",
}


def _snare(event_id: int, message: str, record: int) -> str:
    head = ("IIS02", "MSWinEventLog", "1", "Security", "1", "Tue Mar 04 09:15:02 2003")
    middle = ("Security", "SYSTEM", "User", "Success Audit", "IIS02", "Detailed Tracking")
    return "\t".join((*head, str(event_id), *middle, message, str(record)))


def _xml_event(record: int) -> str:
    data = "".join(f'<Data Name="{k}">{v}</Data>' for k, v in _VISTA.items())
    return (
        '<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System>'
        "<Provider Name='Microsoft-Windows-Security-Auditing'/><EventID>4688</EventID>"
        "<TimeCreated SystemTime='2021-11-13T14:30:58.2269250Z'/>"
        f"<EventRecordID>{record}</EventRecordID><Channel>Security</Channel>"
        f"<Computer>FS03.offsec.lan</Computer></System><EventData>{data}</EventData></Event>"
    )


def _lines(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode()


#: A small valid input per format, as bytes.
SAMPLES: dict[str, bytes] = {
    "snare": _lines(_snare(592, MSG_592, 812), _snare(593, MSG_593, 813)),
    "eventreporter": _lines(
        f'EvntSLog: [AUS] Tue Mar 04 09:15:02 2003: IIS02/Security (592) - "{MSG_592}"',
        f'EvntSLog: [AUS] Tue Mar 04 09:15:03 2003: IIS02/Security (593) - "{MSG_593}"',
    ),
    "ossec": _lines(
        "2003 Mar 04 09:15:02 WinEvtLog: Security: AUDIT_SUCCESS(592): Security: SYSTEM: "
        f"IIS02: IIS02: {MSG_592}",
    ),
    "logparser": _lines(
        "EventLog,RecordNumber,TimeGenerated,TimeWritten,EventID,EventType,EventTypeName,"
        "EventCategory,EventCategoryName,SourceName,Strings,ComputerName,SID,Message,Data",
        "Security,812,2003-03-04 09:15:02,2003-03-04 09:15:02,592,8,Success Audit event,5,"
        'Detailed Tracking,Security,"2208|C:\\PHP\\php.exe|3120|SYSTEM|NT AUTHORITY|(0x0,0x3E7)",'
        f'IIS02,S-1-5-18,"{MSG_592}",',
    ),
    "evtviewer": _lines(
        "03/04/2003,09:15:02 AM,Security,Success Audit,Detailed Tracking,592,"
        f'NT AUTHORITY\\SYSTEM,IIS02,"{MSG_592}"',
    ),
    "jsonl": _lines(
        json.dumps(
            {"kind": "created", "host": "iis02", "pid": 2208, "time": "2003-03-04T09:15:02Z"}
            | {"event_id": 592, "image": "C:\\PHP\\php.exe", "logon_id": 999, "creator_pid": 31}
        ),
    ),
    "nxlog": _lines(
        json.dumps(
            {"EventTime": "2021-11-13 09:30:58", "Hostname": "FS03.offsec.lan", "EventID": 4688}
            | {"RecordNumber": 469351, "Channel": "Security"}
            | {"SourceName": "Microsoft-Windows-Security-Auditing"}
            | _VISTA
        ),
    ),
    "winlogbeat": _lines(
        json.dumps(
            {
                "@timestamp": "2021-11-13T14:30:58.226Z",
                "winlog": {
                    "event_id": "4688",
                    "record_id": 469351,
                    "computer_name": "FS03.offsec.lan",
                    "channel": "Security",
                    "provider_name": "Microsoft-Windows-Security-Auditing",
                    "event_data": _VISTA,
                },
            }
        ),
    ),
    "ecs": _lines(
        json.dumps(
            {
                "@timestamp": "2021-11-13T14:30:58.226Z",
                "event": {"code": "4688", "provider": "Microsoft-Windows-Security-Auditing"},
                "host": {"name": "FS03.offsec.lan"},
                "process": {"pid": 452, "executable": "C:\\Windows\\System32\\cmd.exe"},
                "winlog": {"record_id": 469351, "channel": "Security"},
            }
        ),
    ),
    "xml": ("<Events>" + _xml_event(1) + _xml_event(2) + "</Events>\n").encode(),
    "evt": evt_bytes(
        [
            EvtRecord(
                100,
                1_046_769_300,
                592,
                "IIS02",
                ["2208", "C:\\PHP\\php.exe", "3120", "SYSTEM", "NT AUTHORITY", "(0x0,0x3E7)"],
            ),
            EvtRecord(101, 1_046_769_303, 593, "IIS02", ["2208", "SYSTEM", "NT", "(0x0,0x3E7)"]),
        ],
        free_space=b"LfLe" * 8,
    ),
}

_DIGITS = re.compile(rb"\d+")
_YEAR = re.compile(rb"(?<!\d)(19|20)\d\d(?!\d)")


def mutate(data: bytes, rng: random.Random) -> bytes:
    """``data`` damaged one of the ways hostile input is: see the branches."""
    choice = rng.randrange(12)
    size = len(data)
    at = rng.randrange(size + 1)
    if choice == 0:  # flip bytes
        out = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            if out:
                out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
        return bytes(out)
    if choice == 1:  # truncate
        return data[:at]
    if choice == 2:  # NULs
        return data[:at] + b"\x00" * rng.randint(1, 64) + data[at:]
    if choice == 3:  # another encoding
        text = data.decode("utf-8", "replace")
        return text.encode(rng.choice(["utf-16", "utf-16-le", "cp1252", "latin-1"]), "replace")
    if choice == 4:  # a huge field
        piece = data[at : at + rng.randint(1, 16)] or b"A"
        return data[:at] + piece * rng.randint(1000, 40_000) + data[at:]
    if choice == 5:  # deep nesting
        opener = rng.choice([b"[", b"{", b"<a>", b"("])
        return data[:at] + opener * rng.randint(1000, 20_000) + data[at:]
    if choice == 6:  # absurd years
        year = rng.choice([b"0000", b"9999", b"99999", b"2147483648", b"1" * 30])
        return _YEAR.sub(year, data, count=rng.randint(1, 3))
    if choice == 7:  # absurd numbers where numbers are (pids, record numbers, ids)
        number = rng.choice([b"0x" + b"f" * 3000, b"9" * 5000, b"-1", b"18446744073709551616"])
        found = list(_DIGITS.finditer(data))
        if found:
            match = rng.choice(found)
            return data[: match.start()] + number + data[match.end() :]
        return data + number
    if choice == 8:  # splice two parts
        other = rng.randrange(size + 1)
        return data[:at] + data[other:]
    if choice == 9:  # random bytes inserted
        return data[:at] + rng.randbytes(rng.randint(1, 256)) + data[at:]
    if choice == 10:  # line endings
        return data.replace(b"\n", rng.choice([b"\r\n", b"\r", b"", b"\n\n\n"]))
    return rng.randbytes(rng.randint(0, 2048))  # noise


def wrap(data: bytes, rng: random.Random) -> bytes:
    """``data`` inside an archive layer (gzip, zip, nested), sometimes itself damaged."""
    for _ in range(rng.randint(1, 3)):
        if rng.random() < 0.5:
            data = gzip.compress(data, compresslevel=1)
        else:
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", rng.choice([zipfile.ZIP_STORED, 8])) as archive:
                for n in range(rng.randint(1, 3)):
                    archive.writestr(f"m{n}", data)
            data = buffer.getvalue()
    if rng.random() < 0.5:
        data = mutate(data, rng)
    return data


class Untyped(Exception):
    """A reader let through something other than correlog's own errors."""


def check(
    data: bytes, fmt: str = "auto", *, trace_memory: bool = True, **limits: Any
) -> tuple[int, int]:
    """Read ``data`` with ``errors="skip"``: ``(events, skips)``; raise :class:`Untyped` else.

    The invariant: every input yields events, or typed and located errors counted as skips; a
    :class:`~correlog.ParseError` may end :func:`~correlog.read` itself only when the input as
    a whole is refused (no format recognised, a zip that cannot be opened, a limit), and then it
    names the source. Memory: the reader's peak (traced, unless ``trace_memory`` is false:
    tracing makes reading several times slower) stays below a bound.
    """
    if trace_memory:
        tracemalloc.start()
    try:
        try:
            reader = read(io.BytesIO(data), fmt, errors="skip", name="fuzz", **limits)
        except ParseError as exc:
            if exc.source is None:
                raise Untyped(f"unlocated {exc!r}") from exc
            return 0, 1
        try:
            events = 0
            for event in reader:
                if not isinstance(event, Event):
                    raise Untyped(f"not an event: {event!r}")
                events += 1
        except Exception as exc:
            raise Untyped(f"{type(exc).__name__}: {exc}"[:300]) from exc
        stats = reader.stats
        if stats.lines != stats.accounted():
            raise Untyped(f"unaccounted lines: {stats.as_dict()}")
        for error in stats.errors:
            if error.source is None:
                raise Untyped(f"unlocated {error!r}")
        if trace_memory:
            _, peak = tracemalloc.get_traced_memory()
            bound = 64 * (1 << 20) + 20 * len(data)
            if peak > bound:
                raise Untyped(f"peak memory {peak} bytes, more than {bound}")
        return events, stats.skipped
    finally:
        if trace_memory:
            tracemalloc.stop()


def failure_signature(exc: BaseException) -> str:
    """A short key for grouping failures: the exception type and where it was raised."""
    cause = exc.__cause__ or exc
    tb = cause.__traceback__
    where = "?"
    while tb is not None:
        where = f"{tb.tb_frame.f_code.co_filename.rsplit('/', 1)[-1]}:{tb.tb_lineno}"
        tb = tb.tb_next
    return f"{type(cause).__name__} at {where}"


#: The formats the fuzzers exercise, with the sample each starts from.
FORMAT_NAMES: tuple[str, ...] = tuple(SAMPLES)
Mutator = Callable[[bytes, random.Random], bytes]
