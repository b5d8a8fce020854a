"""The web rules on every IIS era, and the audit-tamper rule, read through the real decoders."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

import correlog
from correlog import Alert, EventKind, HostEvent, Monitor, Reason, Record, Status
from correlog.rules import AnonymousWeb, AuditTamper, WebServerChild, basename

from . import iis7
from .iis7 import Spawn

#: The shared sample data beside the repository (``../shared/data``).
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def alerts_of(lines: Iterable[str], rule: Any = None) -> list[Alert]:
    monitor = Monitor([AnonymousWeb() if rule is None else rule])
    return monitor.feed_many(correlog.read(lines)) + monitor.close()


def alerted(alerts: list[Alert]) -> list[str]:
    return [basename(a.image or "?") for a in alerts]


class TestIis7:
    def test_the_web_shell_alerts_by_default_and_compilation_does_not(self) -> None:
        alerts = alerts_of(iis7.log_lines(iis7.webshell_story()))
        assert alerted(alerts) == ["powershell.exe"] + ["appcmd.exe"] * iis7.APPCMDS
        first = alerts[0]
        assert (first.user, first.domain, first.event_id) == ("DefaultAppPool", "IIS APPPOOL", 4688)
        assert first.message == f"DefaultAppPool ran {iis7.POWERSHELL}"

    def test_the_old_default_account_pattern_saw_nothing(self) -> None:
        """Why the defaults changed: ``IUSR_*`` alone is blind on IIS 7+."""
        lines = iis7.log_lines(iis7.webshell_story())
        assert alerts_of(lines, AnonymousWeb(accounts=["IUSR_*"])) == []

    def test_the_builtin_iusr_running_a_cgi_alerts(self) -> None:
        spawns = [
            iis7.worker(),
            Spawn(5.0, 0x1500, iis7.CMD, "cmd /c whoami", 0xD4C, iis7.W3WP, iis7.POOL, iis7.IUSR),
        ]
        alerts = alerts_of(iis7.log_lines(spawns))
        assert [(a.user, a.domain, basename(a.image or "")) for a in alerts] == [
            ("IUSR", "NT AUTHORITY", "cmd.exe")
        ]

    @pytest.mark.parametrize("service", [iis7.NETWORK_SERVICE, iis7.LOCAL_SERVICE])
    def test_a_pool_running_as_a_service_account_alerts_on_the_servers_children(
        self, service: tuple[str, str, int]
    ) -> None:
        """NETWORK SERVICE runs much else: only what a web server image started counts, so the
        shell's own children (created by powershell.exe) are left to the shell's alert."""
        alerts = alerts_of(iis7.log_lines(iis7.webshell_story(service)))
        assert alerted(alerts) == ["powershell.exe"]
        assert alerts[0].record is not None
        assert alerts[0].record.logon_id == service[2]

    @pytest.mark.parametrize("service", [iis7.NETWORK_SERVICE, iis7.LOCAL_SERVICE])
    def test_service_accounts_outside_a_web_server_do_not_alert(
        self, service: tuple[str, str, int]
    ) -> None:
        spawns = [
            Spawn(
                1.0,
                0x900,
                iis7.SVCHOST,
                "svchost -k NetworkService",
                0x270,
                "services.exe",
                iis7.SYSTEM,
                service,
            ),
            Spawn(2.0, 0x904, iis7.CMD, "cmd /c ipconfig", 0x900, iis7.SVCHOST, service),
        ]
        assert alerts_of(iis7.log_lines(spawns)) == []

    def test_service_accounts_can_be_turned_off(self) -> None:
        lines = iis7.log_lines(iis7.webshell_story(iis7.NETWORK_SERVICE))
        rule = AnonymousWeb(service_accounts=(), service_logons=())
        assert alerts_of(lines, rule) == []


def record(**kw: Any) -> Record:
    fields: dict[str, Any] = {
        "host": "web03",
        "pid": 2216,
        "image": r"C:\WINDOWS\system32\cmd.exe",
        "user": "IWAM_WEB03",
        "domain": "WEB03",
        "logon_id": 0x2A3C5,
        "owner_source": EventKind.TOKEN_ASSIGNED,
        "creator_pid": 1800,
        "creator_image": r"C:\WINDOWS\system32\dllhost.exe",
        "start": 0,
        "end": None,
        "status": Status.PARTIAL,
        "reason": Reason.OPEN,
        "provenance": (592, None, 600, None),
        "layout": None,
        "first_seen": 0,
    }
    fields.update(kw)
    return Record(**fields)


class TestIis5And6:
    def test_an_out_of_process_application_running_a_shell_alerts(self) -> None:
        assert AnonymousWeb()(record()) == r"IWAM_WEB03 ran C:\WINDOWS\system32\cmd.exe"

    def test_the_servers_own_processes_do_not_alert(self) -> None:
        dllhost = record(image=r"C:\WINDOWS\system32\dllhost.exe", creator_image="svchost.exe")
        assert AnonymousWeb()(dllhost) is None
        pool = record(user="DefaultAppPool", domain="IIS APPPOOL", image=iis7.W3WP)
        assert AnonymousWeb()(pool) is None

    def test_apaches_child_server_is_not_a_web_server_child(self) -> None:
        httpd = r"C:\Apache24\bin\httpd.exe"
        child = record(user="SYSTEM", image=httpd, creator_image=httpd)
        assert WebServerChild()(child) is None
        assert WebServerChild()(child._replace(image=r"C:\Windows\System32\cmd.exe"))


def host_events(xml_events: Iterable[tuple[int, str]]) -> list[HostEvent]:
    lines = ["<Events>"]
    for n, (event_id, channel) in enumerate(xml_events):
        lines.append(
            '<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System>'
            '<Provider Name="Microsoft-Windows-Eventlog"/>'
            f"<EventID>{event_id}</EventID><Version>0</Version>"
            f'<TimeCreated SystemTime="2024-05-06T10:0{n}:00.000000Z"/>'
            f"<EventRecordID>{500 + n}</EventRecordID><Channel>{channel}</Channel>"
            f"<Computer>{iis7.HOST}</Computer></System></Event>"
        )
    lines.append("</Events>")
    return [e for e in correlog.read(lines) if isinstance(e, HostEvent)]


LEGACY_517 = (
    "WEB2K\tMSWinEventLog\t1\tSecurity\t9\tTue Mar 04 09:20:00 2003\t517\tSecurity\tSYSTEM\tUser\t"
    "Success Audit\tWEB2K\tSystem Event\tThe audit log was cleared Primary User Name: SYSTEM "
    "Primary Domain: NT AUTHORITY Primary Logon ID: (0x0,0x3E7) Client User Name: administrator "
    "Client Domain: WEB2K Client Logon ID: (0x0,0x804C2)\t7109"
)


class TestAuditTamper:
    def test_clears_and_losses_alert_restarts_do_not(self) -> None:
        events = host_events([(1102, "Security"), (1101, "Security"), (4608, "Security")])
        rule = AuditTamper()
        assert [e.event_id for e in events] == [1102, 1101, 4608]
        assert [rule.host_event(e) for e in events] == [
            "the Security log of web08.example.corp was cleared (event 1102)",
            "web08.example.corp discarded audits (event 1101)",
            None,
        ]

    def test_a_legacy_clear_alerts(self) -> None:
        [event] = [e for e in correlog.read([LEGACY_517]) if isinstance(e, HostEvent)]
        assert (
            AuditTamper().host_event(event) == "the Security log of web2k was cleared (event 517)"
        )

    def test_a_counted_loss_says_how_many(self) -> None:
        event = HostEvent(
            kind=correlog.HostEventKind.AUDITS_DISCARDED,
            host="web2k",
            time=0,
            event_id=516,
            dropped=12,
        )
        assert AuditTamper().host_event(event) == "web2k discarded 12 audits (event 516)"

    def test_no_process_fires_it(self) -> None:
        rule = AuditTamper()
        assert rule(record()) is False
        monitor = Monitor([rule])
        assert monitor.feed_many(correlog.read(iis7.log_lines(iis7.webshell_story()))) == []


@pytest.mark.skipif(not SHARED.is_dir(), reason="shared sample data not present")
def test_on_the_shared_samples_only_the_legacy_intrusions_alert() -> None:
    """The new defaults on every real sample: the IIS stories keep exactly their two alerts, and
    nothing else alerts (the OTRF and hayabusa logs hold NETWORK SERVICE processes)."""
    inputs = sorted(
        [*SHARED.glob("evtx/*.evtx"), *SHARED.glob("json/*.zip"), *SHARED.glob("legacy/iis.*")]
    )
    inputs += sorted(SHARED.glob("sigma/regression/*/*.evtx"))
    assert len(inputs) > 100
    alerts_by_file: dict[str, list[tuple[str, int | None, str]]] = {}
    for path in inputs:
        monitor = Monitor([AnonymousWeb(), WebServerChild()])
        alerts = monitor.feed_many(correlog.read(path)) + monitor.close()
        if alerts:
            alerts_by_file[path.name] = [(a.rule, a.pid, basename(a.image or "?")) for a in alerts]
    legacy = [
        ("anonymous-web", 1452, "cmd.exe"),
        ("anonymous-web", 2216, "ping.exe"),
        ("web-server-child", 2216, "ping.exe"),
    ]
    assert alerts_by_file == {p.name: legacy for p in SHARED.glob("legacy/iis.*")}
