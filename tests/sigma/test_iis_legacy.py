"""An ordinary SigmaHQ rule on ParentImage + Image fires on a Windows 2000 intrusion that only a
fat record shows: no legacy event names a process's parent image, so a rule that needs one can
only be answered by joining events.

* Windows 2000, IIS 5: an ASP page in a pooled application runs in ``dllhost.exe``; the web
  shell starts ``cmd.exe``. 592s for both processes, then 593 for cmd.exe, which names
  IUSR_WEB2K. SigmaHQ's "Unusual Parent Process For Cmd.EXE" (dllhost.exe -> cmd.exe) fires on
  the record the correlator makes (image from the child's 592, parent image from dllhost's own
  592, owner from the 593), and on no record made from one event alone.
* Windows 2003, IIS 6: ``w3wp.exe`` starts ``cmd.exe`` with the anonymous account's token:
  592, then 600. "Suspicious Process By Web Server Process" (w3wp.exe -> cmd.exe, with
  command-line filters a legacy log cannot check, which cannot spare a w3wp child anyway)
  fires on the fat record. Here the 600 alone suffices: it names the assigning process's
  image and the new process's, so the single-event path sees it too; the 592 alone does not.

The events are decoded from their insertion strings by correlog's own legacy decoders.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from correlog import Correlator, Monitor, ProcessEvent, Record, parse_iso, single_record
from correlog.decoders import decode_strings
from correlog.sigma import RuleSet

UNUSUAL_CMD_PARENT = "4b991083-3d0e-44ce-8fc4-b254025d8d4b"
WEB_SERVER_CHILD = "8202070f-edeb-4d31-a010-a26c72ac5600"
T0 = parse_iso("2003-03-04T09:15:00Z")


def _event(event_id: int, strings: Sequence[str], host: str, n: int) -> ProcessEvent:
    event = decode_strings(event_id, strings, host=host, time=T0 + n * 10**9, record_number=n)
    assert isinstance(event, ProcessEvent)
    return event


def windows_2000() -> list[ProcessEvent]:
    dllhost, cmd = r"\WINNT\system32\dllhost.exe", r"\WINNT\system32\cmd.exe"
    iwam = ["IWAM_WEB2K", "WEB2K", "(0x0,0x2A1F0)"]
    return [
        _event(592, ["1020", dllhost, "640", *iwam], "WEB2K", 1),
        _event(592, ["1452", cmd, "1020", *iwam], "WEB2K", 2),
        _event(593, ["1452", "IUSR_WEB2K", "WEB2K", "(0x0,0x2A3C1)"], "WEB2K", 3),
    ]


def windows_2003() -> list[ProcessEvent]:
    w3wp = r"C:\WINDOWS\system32\inetsrv\w3wp.exe"
    cmd = r"C:\WINDOWS\system32\cmd.exe"
    iusr = ["IUSR_WEB03", "WEB03", "(0x0,0x3A2B1)"]
    return [
        _event(592, ["2216", cmd, "3120", "SYSTEM", "NT AUTHORITY", "(0x0,0x3E7)"], "WEB03", 1),
        _event(600, ["3120", w3wp, *iusr, "2216", cmd, *iusr], "WEB03", 2),
    ]


def _fat(events: list[ProcessEvent], pid: int) -> Record:
    [record] = [r for r in Correlator().process(events) if r.pid == pid]
    return record


def _alone(event: ProcessEvent) -> Record:
    """The record correlog makes from this one event and nothing else."""
    [record] = Correlator().process([event])
    return record


def _ids(ruleset: RuleSet, record: Record) -> set[str | None]:
    return {r.id for r in ruleset.match(record)}


def test_windows_2000_the_fat_record_matches_and_no_single_event_does(sigmahq: RuleSet) -> None:
    events = windows_2000()
    fat = _fat(events, 1452)
    assert (fat.image, fat.creator_image, fat.user) == (
        r"\WINNT\system32\cmd.exe",
        r"\WINNT\system32\dllhost.exe",
        "IUSR_WEB2K",
    )
    assert fat.events == (592, 593)
    assert UNUSUAL_CMD_PARENT in _ids(sigmahq, fat)
    for event in events:
        record = _alone(event)
        assert UNUSUAL_CMD_PARENT not in _ids(sigmahq, record), event
        # The single-event path has no record at all for these events.
        assert single_record(event) is None
    # Undecided, not "no match": alone, the child's 592 does not say who its parent was.
    [rule] = [r for r in sigmahq if r.id == UNUSUAL_CMD_PARENT]
    assert rule(_alone(events[1])) is None
    assert rule(fat) is not None


def test_windows_2003_the_fat_record_matches(sigmahq: RuleSet) -> None:
    created, token = windows_2003()
    fat = _fat([created, token], 2216)
    assert fat.events == (592, 600)
    assert fat.user == "IUSR_WEB03"
    assert WEB_SERVER_CHILD in _ids(sigmahq, fat)
    assert WEB_SERVER_CHILD not in _ids(sigmahq, _alone(created))
    # The 600 names the assigning process's image: alone it already satisfies the rule, and
    # the stateless single-event path sees it (the Windows 2000 case above needs the join).
    assert WEB_SERVER_CHILD in _ids(sigmahq, _alone(token))
    single = single_record(token)
    assert single is not None
    assert WEB_SERVER_CHILD in _ids(sigmahq, single)


@pytest.mark.parametrize(
    ("events", "rule_id", "event_id"),
    [(windows_2000, UNUSUAL_CMD_PARENT, 592), (windows_2003, WEB_SERVER_CHILD, 600)],
)
def test_the_monitor_alerts_as_soon_as_the_join_allows(
    sigmahq: RuleSet, events: object, rule_id: str, event_id: int
) -> None:
    assert callable(events)
    monitor = Monitor(sigmahq.monitor_rules())
    alerts = [a for e in events() for a in monitor.feed(e)] + monitor.close()
    fired = [a for a in alerts if a.rule == rule_id]
    assert len(fired) == 1
    # On 2000 the child's 592 already joins with dllhost's open entry for the parent image.
    assert fired[0].event_id == event_id
    assert "Nextron" in fired[0].message or "Elastic" in fired[0].message  # the author
