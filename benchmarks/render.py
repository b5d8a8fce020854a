"""Render a generated stream as the lines a transport would carry: Snare and NXLog JSON.

The end-to-end benchmarks read these files with :func:`correlog.read`, so the lines must look
like what a host sends, not like a convenient test format:

* :func:`snare_lines`: Snare for Windows' tab-delimited records of the XP/2003 Security log,
  one per 592, 600 and 593 of the stream, with the rendered message (tabs collapsed, as Snare
  writes it), the host's local time to the second (UTC here) and the record number last.
* :func:`nxlog_lines`: NXLog ``im_msvistalog`` + ``to_json()`` lines, EventData flattened to the
  top level, for the same processes told the Vista+ way: a 592 becomes a 4688 v2 (its Target
  account is the account the process's 600 will assign, ``-`` / ``0x0`` when it gets none, as
  Windows writes it), a 593 a 4689; a 600 has no Vista+ counterpart in practice (4696 is no
  longer logged) and is left out. ``message=True`` keeps NXLog's ``Message`` key (the whole
  rendered text, about 60 % of a 4688 line), as NXLog writes it by default.

Both are generators of ``str`` lines with their newline; :func:`write_lines` writes them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from correlog import EventKind, ProcessEvent

__all__ = ["nxlog_lines", "snare_lines", "write_lines"]

_NS = 1_000_000_000


def _legacy_logon(logon_id: int | None) -> str:
    value = 0 if logon_id is None else logon_id
    return f"(0x{value >> 32:X},0x{value & 0xFFFF_FFFF:X})"


def _snare_message(ev: ProcessEvent) -> str:
    logon = _legacy_logon(ev.logon_id)
    if ev.kind is EventKind.CREATED:
        return (
            f"A new process has been created: New Process ID: {ev.pid} Image File Name: "
            f"{ev.image} Creator Process ID: {ev.creator_pid} User Name: {ev.user} "
            f"Domain: {ev.domain} Logon ID: {logon}"
        )
    if ev.kind is EventKind.TOKEN_ASSIGNED:
        # The assigning thread's effective account: IIS's worker impersonating the new owner.
        return (
            "A process was assigned a primary token. Assigning Process Information: Process ID: "
            f"{ev.creator_pid} Image File Name: {ev.creator_image} Primary User Name: {ev.user} "
            f"Primary Domain: {ev.domain} Primary Logon ID: {logon} New Process Information: "
            f"Process ID: {ev.pid} Image File Name: {ev.image} Target User Name: {ev.user} "
            f"Target Domain: {ev.domain} Target Logon ID: {logon}"
        )
    return (
        f"A process has exited: Process ID: {ev.pid} Image File Name: {ev.image} "
        f"User Name: {ev.user} Domain: {ev.domain} Logon ID: {logon}"
    )


def snare_lines(events: Iterable[ProcessEvent]) -> Iterator[str]:
    """One Snare line per event (592, 600, 593), in order; the Snare counter runs per host."""
    counters: dict[str, int] = {}
    for ev in events:
        machine = ev.host.upper()
        counter = counters[ev.host] = counters.get(ev.host, 0) + 1
        stamp = time.strftime("%a %b %d %H:%M:%S %Y", time.gmtime(ev.time // _NS))
        yield (
            f"{machine}\tMSWinEventLog\t1\tSecurity\t{counter}\t{stamp}\t{ev.event_id}\t"
            f"Security\t{ev.user}\tUser\tSuccess Audit\t{machine}\tDetailed Tracking\t"
            f"{_snare_message(ev)}\t{ev.record_number}\n"
        )


_MESSAGE_4688 = (
    "A new process has been created.\r\n\r\nCreator Subject:\r\n\tSecurity ID:\t\t{subject_sid}"
    "\r\n\tAccount Name:\t\t{subject_user}\r\n\tAccount Domain:\t\t{subject_domain}\r\n\t"
    "Logon ID:\t\t{subject_logon}\r\n\r\nTarget Subject:\r\n\tSecurity ID:\t\t{target_sid}\r\n\t"
    "Account Name:\t\t{target_user}\r\n\tAccount Domain:\t\t{target_domain}\r\n\tLogon ID:\t\t"
    "{target_logon}\r\n\r\nProcess Information:\r\n\tNew Process ID:\t\t{pid}\r\n\tNew Process "
    "Name:\t{image}\r\n\tToken Elevation Type:\t%%1936\r\n\tMandatory Label:\t\tS-1-16-16384\r\n\t"
    "Creator Process ID:\t{cpid}\r\n\tCreator Process Name:\t{cimage}\r\n\tProcess Command Line:"
    "\t{image}\r\n\r\nToken Elevation Type indicates the type of token that was assigned to the "
    "new process in accordance with User Account Control policy.\r\n\r\nType 1 is a full token "
    "with no privileges removed or groups disabled.  A full token is only used if User Account "
    "Control is disabled or if the user is the built-in Administrator account or a service "
    "account.\r\n\r\nType 2 is an elevated token with no privileges removed or groups disabled.  "
    "An elevated token is used when User Account Control is enabled and the user chooses to "
    "start the program using Run as administrator.  An elevated token is also used when an "
    "application is configured to always require administrative privilege or to always require "
    "maximum privilege, and the user is a member of the Administrators group.\r\n\r\nType 3 is a "
    "limited token with administrative privileges removed and administrative groups disabled.  "
    "The limited token is used when User Account Control is enabled, the application does not "
    "require administrative privilege, and the user does not choose to start the program using "
    "Run as administrator."
)
_MESSAGE_4689 = (
    "A process has exited.\r\n\r\nSubject:\r\n\tSecurity ID:\t\t{sid}\r\n\tAccount Name:\t\t"
    "{user}\r\n\tAccount Domain:\t\t{domain}\r\n\tLogon ID:\t\t{logon}\r\n\r\nProcess "
    "Information:\r\n\tProcess ID:\t{pid}\r\n\tProcess Name:\t{image}\r\n\tExit Status:\t0x0"
)
_SYSTEM_SID = "S-1-5-18"
_USER_SID = "S-1-5-21-1004336348-1177238915-682003330-1005"


def _nxlog_common(ev: ProcessEvent, machine: str, task: int, category: str) -> dict[str, object]:
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ev.time // _NS))
    return {
        "EventTime": stamp,
        "Hostname": machine,
        "Keywords": -9214364837600034816,
        "EventType": "AUDIT_SUCCESS",
        "SeverityValue": 2,
        "Severity": "INFO",
        "EventID": 4688 if task == 13312 else 4689,
        "SourceName": "Microsoft-Windows-Security-Auditing",
        "ProviderGuid": "{54849625-5478-4994-A5BA-3E3B0328C30D}",
        "Version": 2 if task == 13312 else 0,
        "Task": task,
        "OpcodeValue": 0,
        "RecordNumber": ev.record_number,
        "ExecutionProcessID": 4,
        "ExecutionThreadID": 180 + ev.pid % 7 * 4,
        "Channel": "Security",
        "Category": category,
        "Opcode": "Info",
    }


def nxlog_lines(events: Iterable[ProcessEvent], *, message: bool = True) -> Iterator[str]:
    """NXLog JSON lines for the stream told the Vista+ way (see the module docs).

    ``events`` must be a list (or other re-iterable): it is read twice, first to find which
    processes a 600 will give another account.
    """
    events = list(events)
    # The account each creation's process will be given by its 600, if any.
    target: dict[int, ProcessEvent] = {}
    opened: dict[tuple[str, int], int] = {}
    for i, ev in enumerate(events):
        key = (ev.host, ev.pid)
        if ev.kind is EventKind.CREATED:
            opened[key] = i
        elif ev.kind is EventKind.TOKEN_ASSIGNED and key in opened:
            target[opened[key]] = ev
    for i, ev in enumerate(events):
        if ev.kind is EventKind.TOKEN_ASSIGNED:
            continue
        machine = f"{ev.host.upper()}.corp.local"
        if ev.kind is EventKind.CREATED:
            data = _nxlog_common(ev, machine, 13312, "Process Creation")
            token = target.get(i)
            subject = {
                "subject_sid": _SYSTEM_SID,
                "subject_user": f"{ev.host.upper()}$",
                "subject_domain": "CORP",
                "subject_logon": "0x3e7",
            }
            if token is None:
                tgt = {"target_sid": "S-1-0-0", "target_user": "-", "target_domain": "-"}
                tgt["target_logon"] = "0x0"
            else:
                tgt = {
                    "target_sid": _USER_SID,
                    "target_user": str(token.user),
                    "target_domain": str(token.domain),
                    "target_logon": hex(token.logon_id or 0),
                }
            cimage = "C:\\Windows\\System32\\services.exe"
            fields = {
                "pid": hex(ev.pid),
                "image": str(ev.image),
                "cpid": hex(ev.creator_pid or 0),
                "cimage": cimage,
            }
            if message:
                data["Message"] = _MESSAGE_4688.format(**subject, **tgt, **fields)
            data.update(
                {
                    "SubjectUserSid": subject["subject_sid"],
                    "SubjectUserName": subject["subject_user"],
                    "SubjectDomainName": subject["subject_domain"],
                    "SubjectLogonId": subject["subject_logon"],
                    "NewProcessId": fields["pid"],
                    "NewProcessName": fields["image"],
                    "TokenElevationType": "%%1936",
                    "ProcessId": fields["cpid"],
                    "CommandLine": fields["image"],
                    "TargetUserSid": tgt["target_sid"],
                    "TargetUserName": tgt["target_user"],
                    "TargetDomainName": tgt["target_domain"],
                    "TargetLogonId": tgt["target_logon"],
                    "ParentProcessName": cimage,
                    "MandatoryLabel": "S-1-16-16384",
                }
            )
        else:
            data = _nxlog_common(ev, machine, 13313, "Process Termination")
            system = ev.user == "SYSTEM"
            account = {
                "sid": _SYSTEM_SID if system else _USER_SID,
                "user": f"{ev.host.upper()}$" if system else str(ev.user),
                "domain": "CORP" if system else str(ev.domain),
                "logon": hex(ev.logon_id or 0),
            }
            if message:
                data["Message"] = _MESSAGE_4689.format(
                    **account, pid=hex(ev.pid), image=str(ev.image)
                )
            data.update(
                {
                    "SubjectUserSid": account["sid"],
                    "SubjectUserName": account["user"],
                    "SubjectDomainName": account["domain"],
                    "SubjectLogonId": account["logon"],
                    "Status": "0x0",
                    "ProcessId": hex(ev.pid),
                    "ProcessName": str(ev.image),
                }
            )
        data.update(
            {
                "EventReceivedTime": data["EventTime"],
                "SourceModuleName": "eventlog",
                "SourceModuleType": "im_msvistalog",
            }
        )
        yield json.dumps(data, separators=(",", ":")) + "\n"


def write_lines(path: Path, lines: Iterable[str]) -> int:
    """Write ``lines`` (each with its newline) to ``path`` as UTF-8; return how many."""
    n = 0
    with path.open("w", encoding="utf-8", newline="\n") as out:
        for line in lines:
            out.write(line)
            n += 1
    return n
