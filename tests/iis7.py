"""IIS 7+ fixtures built from the documented 4688 v2 account layouts, rendered as Event XML.

A 4688 v2 names the creator in ``Subject*`` and the new process's token in ``Target*`` when it
differs from the creator's (``-`` / ``0x0`` when it is the same). So:

* WAS (``svchost.exe``, SYSTEM: ``WEB08$`` with logon 0x3e7) starts ``w3wp.exe`` with the pool's
  token: Target ``DefaultAppPool`` in domain ``IIS APPPOOL`` (a virtual account);
* everything ``w3wp.exe`` starts keeps that token: Subject is the pool, Target ``-``;
* a pool running as NETWORK SERVICE is named by the machine account (``WEB08$``) with the
  well-known logon id 0x3e4; LOCAL SERVICE is ``LOCAL SERVICE`` with 0x3e5;
* a CGI started with the anonymous user's token runs as the built-in ``IUSR``
  (``NT AUTHORITY``, logon 0x3e3).

The web shell story (:func:`webshell_story`): ASP.NET compiles the site on the first request
(``csc.exe``, which starts ``cvtres.exe`` and its ``conhost.exe``), then the shell runs
``powershell -nop -noni -enc ...`` whose children are 40 ``appcmd.exe``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple
from xml.sax.saxutils import escape

HOST = "WEB08.example.corp"
SYSTEM = ("WEB08$", "EXAMPLE", 0x3E7)
POOL = ("DefaultAppPool", "IIS APPPOOL", 0x1F3A2C)
NETWORK_SERVICE = ("WEB08$", "EXAMPLE", 0x3E4)
LOCAL_SERVICE = ("LOCAL SERVICE", "NT AUTHORITY", 0x3E5)
IUSR = ("IUSR", "NT AUTHORITY", 0x3E3)
SAME = ("-", "-", 0)

INETSRV = "C:\\Windows\\System32\\inetsrv\\"
W3WP = INETSRV + "w3wp.exe"
SVCHOST = "C:\\Windows\\System32\\svchost.exe"
CSC = "C:\\Windows\\Microsoft.NET\\Framework64\\v4.0.30319\\csc.exe"
CVTRES = "C:\\Windows\\Microsoft.NET\\Framework64\\v4.0.30319\\cvtres.exe"
CONHOST = "C:\\Windows\\System32\\conhost.exe"
POWERSHELL = "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe"
APPCMD = INETSRV + "appcmd.exe"
CMD = "C:\\Windows\\System32\\cmd.exe"
ENCODED = "SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAIABOAGUAdAAuAFcAZQBiAEMAbABpAGUAbgB0ACkA"

Account = tuple[str, str, int]


class Spawn(NamedTuple):
    """One 4688 v2 (15 fields): ``creator`` starts ``pid`` running ``image`` at ``second``."""

    second: float
    pid: int
    image: str
    command: str
    creator_pid: int
    creator_image: str
    subject: Account
    target: Account = SAME


def event_xml(spawn: Spawn, record_number: int, host: str = HOST) -> str:
    """A 4688 v2 with the 15 fields of Windows 10 / Server 2016, on one line."""
    seconds = 36_000 + spawn.second
    stamp = f"2024-05-06T{int(seconds // 3600):02d}:{int(seconds % 3600 // 60):02d}:"
    stamp += f"{seconds % 60:09.6f}Z"
    fields = {
        "SubjectUserSid": "S-1-5-18",
        "SubjectUserName": spawn.subject[0],
        "SubjectDomainName": spawn.subject[1],
        "SubjectLogonId": f"0x{spawn.subject[2]:x}",
        "NewProcessId": f"0x{spawn.pid:x}",
        "NewProcessName": spawn.image,
        "TokenElevationType": "%%1936",
        "ProcessId": f"0x{spawn.creator_pid:x}",
        "CommandLine": spawn.command,
        "TargetUserSid": "S-1-0-0",
        "TargetUserName": spawn.target[0],
        "TargetDomainName": spawn.target[1],
        "TargetLogonId": f"0x{spawn.target[2]:x}",
        "ParentProcessName": spawn.creator_image,
        "MandatoryLabel": "S-1-16-8192",
    }
    data = "".join(f'<Data Name="{k}">{escape(v)}</Data>' for k, v in fields.items())
    return (
        '<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System>'
        '<Provider Name="Microsoft-Windows-Security-Auditing"/><EventID>4688</EventID>'
        f'<Version>2</Version><TimeCreated SystemTime="{stamp}"/>'
        f"<EventRecordID>{record_number}</EventRecordID><Channel>Security</Channel>"
        f"<Computer>{host}</Computer></System><EventData>{data}</EventData></Event>"
    )


def log_lines(spawns: Iterable[Spawn], host: str = HOST) -> list[str]:
    """An Event XML log of the spawns, record numbers from 1000 on."""
    body = [event_xml(s, 1000 + n, host) for n, s in enumerate(spawns)]
    return ["<Events>", *body, "</Events>"]


def worker(pool: Account = POOL, pid: int = 0xD4C) -> Spawn:
    """WAS starts the pool's worker process with the pool's token."""
    command = f'{W3WP} -ap "DefaultAppPool" -v "v4.0" -l "webengine4.dll" -a \\\\.\\pipe\\iisipm'
    return Spawn(0.0, pid, W3WP, command, 0x3A8, SVCHOST, SYSTEM, pool)


#: How many appcmd.exe the web shell runs.
APPCMDS = 40


def webshell_story(pool: Account = POOL) -> list[Spawn]:
    """ASP.NET compilation, then a web shell: powershell -enc and 40 appcmd.exe, all as ``pool``."""
    subject = pool
    spawns = [
        worker(pool),
        Spawn(2.0, 0x1210, CSC, f'"{CSC}" /noconfig /fullpaths @"x.cmdline"', 0xD4C, W3WP, subject),
        Spawn(2.1, 0x1214, CONHOST, f"{CONHOST} 0xffffffff -ForceV1", 0x1210, CSC, subject),
        Spawn(2.5, 0x1218, CVTRES, f"{CVTRES} /NOLOGO /READONLY", 0x1210, CSC, subject),
        Spawn(
            60.0, 0x1300, POWERSHELL, f"powershell -nop -noni -enc {ENCODED}", 0xD4C, W3WP, subject
        ),
        Spawn(60.1, 0x1304, CONHOST, f"{CONHOST} 0xffffffff -ForceV1", 0x1300, POWERSHELL, subject),
    ]
    spawns += [
        Spawn(
            61.0 + n,
            0x1400 + 4 * n,
            APPCMD,
            f"{APPCMD} list site /text:name",
            0x1300,
            POWERSHELL,
            subject,
        )
        for n in range(APPCMDS)
    ]
    return spawns
