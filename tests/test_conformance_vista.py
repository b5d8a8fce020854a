"""Conformance on real Vista+ data: OTRF's JSON archives and hayabusa's EVTX files.

The data sets live in the shared data folder beside the repository (``../shared/data``); a
checkout without it skips these tests. See that folder's README for sources and licences.

The OTRF archives log the same processes twice: Security 4688/4689 and Sysmon 1/5. Sysmon and
Security are correlated as separate logs, so each such process gives two records, which must
agree on pid, image, parent pid, start, end and owner. Known, explained differences:

* Time zones. NXLog's ``EventTime`` is the collecting host's local time. The OTRF lab logged in
  US Eastern daylight time (UTC-4): every line's ``EventReceivedTime`` (local) is 4 h behind its
  ``@timestamp`` (UTC, Logstash's), which the test checks before it trusts the offset.
* aptsimulator's times are 16 h early. That archive was flattened by Logstash without
  ``EventTime``; its ``TimeCreated`` and ``@timestamp`` read 09:07Z where Sysmon's ``UtcTime``
  reads 01:07Z the next day. Sysmon is right: the archive's own name says it was recorded at
  2021-06-11 21:08 local, which is 01:08Z on the 12th in UTC-4; 21:07 local read on a 12-hour
  clock as 09:07 and then taken as UTC is exactly 16 h early. So the test shifts the Security
  times by +16 h before comparing.
* Owner names of service logons. For the SYSTEM (0x3e7) and NETWORK SERVICE (0x3e4) logon
  sessions, the Security log names the computer account (``MORDORDC$``) where Sysmon names
  ``NT AUTHORITY\\SYSTEM`` / ``NETWORK SERVICE``. The logon id is the identity; the test
  compares it, and the names only for other logons.
"""

from __future__ import annotations

import json
import zipfile
from collections import defaultdict
from pathlib import Path

import pytest

import correlog
from correlog import Correlator, Record, read
from correlog._time import NS_PER_SECOND

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

pytest.importorskip("evtx", reason="the evtx extra is not installed")

HOUR = 3600 * NS_PER_SECOND
#: archive -> (zone of its EventTime, correction of its Security times) -- see the module docs.
ARCHIVES = {
    "aptsimulator_cobaltstrike.zip": (None, 16 * HOUR),
    "covenant_sharpsc_query_dcerpc_smb_svcctl.zip": ("-04:00", 0),
    "msf_record_mic.zip": ("-04:00", 0),
}
#: How many processes of each archive have both a 4688/4689 pair and a Sysmon 1/5 pair. Fewer
#: than the archives' event counts: in aptsimulator one PING.EXE's 4688 predates the Security
#: capture (its 4689 is an orphan) and one timeout.exe never exits; in msf one WmiPrvSE.exe never
#: exits and the other 4689s/Sysmon 5s are exits of processes started before the capture.
BOTH_PAIRS = {
    "aptsimulator_cobaltstrike.zip": 35,
    "covenant_sharpsc_query_dcerpc_smb_svcctl.zip": 2,
    "msf_record_mic.zip": 11,
}
SERVICE_LOGONS = {0x3E7, 0x3E4, 0x3E5}
EVTX_FILES = {
    "hayabusa_mitre_T1027_Tchopper_4688.evtx": 735,
    "hayabusa_mitre_T1059.003_sqlserver_4688v2_15fields.evtx": 140,
    "hayabusa_mitre_T1134_runas_4688_4648_4624.evtx": 9,
}


@pytest.fixture(scope="module")
def data() -> Path:
    if not DATA.is_dir():
        pytest.skip(f"the shared data folder is not beside this checkout ({DATA.name})")
    return DATA


def correlate(path: Path, tz: str | None) -> list[Record]:
    # A ttl longer than any capture, so nothing expires: only exits and reuse close records.
    correlator = Correlator(ttl=30 * 86_400)
    reader = read(path, tz=tz)
    records = list(correlator.process(reader))
    assert reader.stats.skipped == 0, reader.stats.errors
    return records


def complete(records: list[Record], channel: str | None) -> list[Record]:
    return [r for r in records if r.channel == channel and r.start is not None and r.end]


def same_owner(security: Record, sysmon: Record) -> bool:
    if security.logon_id != sysmon.logon_id:
        return False
    if security.logon_id in SERVICE_LOGONS:
        return True
    return (security.user, security.domain) == (sysmon.user, sysmon.domain)


def test_eastern_time_is_what_the_lines_say(data: Path) -> None:
    # EventReceivedTime (local) against @timestamp (UTC) on every NXLog line: 4 h, always.
    for archive in ("covenant_sharpsc_query_dcerpc_smb_svcctl.zip", "msf_record_mic.zip"):
        with zipfile.ZipFile(data / "json" / archive) as zipped:
            (member,) = zipped.namelist()
            offsets = set()
            for raw in zipped.open(member):
                line = json.loads(raw)
                local = correlog.parse_iso(line["EventReceivedTime"].replace(" ", "T"))
                utc = correlog.parse_iso(line["@timestamp"])
                offsets.add(round((local - utc) / (900 * NS_PER_SECOND)) * 900)
        assert offsets == {-4 * 3600}, archive


@pytest.mark.parametrize("archive", sorted(ARCHIVES))
def test_security_and_sysmon_records_agree(data: Path, archive: str) -> None:
    tz, shift = ARCHIVES[archive]
    records = correlate(data / "json" / archive, tz)
    sysmon_by_pid: dict[tuple[str, int], list[Record]] = defaultdict(list)
    for record in complete(records, "sysmon"):
        sysmon_by_pid[record.host, record.pid].append(record)
    pairs = []
    for security in complete(records, None):
        assert security.events == (4688, 4689)
        assert security.start is not None
        assert security.end is not None
        start, end = security.start + shift, security.end + shift
        # The Sysmon record of the same process: same host and pid, alive at the same time.
        matches = [
            s
            for s in sysmon_by_pid[security.host, security.pid]
            if s.start is not None
            and s.end is not None
            and s.start - NS_PER_SECOND <= start
            and end <= s.end + NS_PER_SECOND
        ]
        assert len(matches) <= 1
        if matches:
            pairs.append((security, matches[0], start, end))
    agree = 0
    for security, sysmon, start, end in pairs:
        assert sysmon.events == (1, 5)
        assert security.image == sysmon.image, (security, sysmon)
        assert security.creator_pid == sysmon.creator_pid
        assert sysmon.start is not None
        assert sysmon.end is not None
        assert abs(start - sysmon.start) <= NS_PER_SECOND
        assert abs(end - sysmon.end) <= NS_PER_SECOND
        assert same_owner(security, sysmon), (security, sysmon)
        agree += 1
    print(f"\n{archive}: {agree} of {len(pairs)} processes with both pairs agree")
    assert agree == len(pairs) == BOTH_PAIRS[archive]


def test_the_iis_like_owner_quirk_in_msf(data: Path) -> None:
    # 4688's creator is SYSTEM (0x3e7) and its Target names the user's logon 0xed9495, which
    # 4689 names too: the record's owner is the user, its creator's account is in ``extra``.
    records = correlate(data / "json" / "msf_record_mic.zip", "-04:00")
    quirky = [
        r
        for r in complete(records, None)
        if r.logon_id == 0xED9495 and r.extra and r.extra.get("SubjectLogonId") == "0x3e7"
    ]
    assert quirky
    for record in quirky:
        assert record.user == "sbeavers"


@pytest.mark.parametrize("filename", sorted(EVTX_FILES))
def test_evtx_record_counts(data: Path, filename: str) -> None:
    reader = read(data / "evtx" / filename)
    events = list(reader)
    assert reader.format == "evtx"
    assert reader.stats.lines == EVTX_FILES[filename]
    assert reader.stats.skipped == 0
    assert reader.stats.lines == reader.stats.accounted()
    creations = [e for e in events if e.event_id == 4688]
    records = list(Correlator(ttl=30 * 86_400).process(iter(events)))
    # Every 4688 is in exactly one record, and no record holds two of them.
    per_record = [r.events.count(4688) for r in records]
    assert sum(per_record) == len(creations)
    assert set(per_record) <= {0, 1}


def test_tchopper_pid_reuse_never_merges_two_processes(data: Path) -> None:
    found = list(read(data / "evtx" / "hayabusa_mitre_T1027_Tchopper_4688.evtx"))
    events = [e for e in found if isinstance(e, correlog.ProcessEvent)]
    assert len(events) == len(found) == 735
    numbers = [e.record_number or 0 for e in events]
    # EventRecordID, not the export's renumbered record headers (which start at 1).
    assert numbers[0] >= 293884
    assert numbers == sorted(numbers)
    records = list(Correlator(ttl=30 * 86_400).process(iter(events)))
    assert len(records) == 735
    reused = sum(1 for r in records if r.reason == correlog.Reason.SUPERSEDED)
    assert reused == 521
    by_record = {r.record_numbers[0]: r for r in records}
    for event in events:
        record = by_record[event.record_number]
        assert (record.pid, record.image, record.start) == (event.pid, event.image, event.time)


def test_t1134_runas_child_is_owned_by_hack1(data: Path) -> None:
    events = list(read(data / "evtx" / "hayabusa_mitre_T1134_runas_4688_4648_4624.evtx"))
    kinds = [e.event_id for e in events]
    assert kinds.count(4688) == 4
    assert kinds.count(1102) == 1
    # hack1's own children name hack1 as Subject too; the runas child is the one whose creator
    # (Subject) is the machine account and whose Target is hack1.
    runas = [
        e
        for e in events
        if isinstance(e, correlog.ProcessEvent)
        and e.user == "hack1"
        and e.extra is not None
        and e.extra["SubjectUserName"] != "hack1"
    ]
    assert len(runas) == 1
    (event,) = runas
    assert (event.domain, event.logon_id, event.own_account) == ("OFFSEC", 0xA6F5FC2, True)
    assert event.extra is not None
    assert event.extra["SubjectUserName"] == "FS03$"
    assert event.extra["SubjectLogonId"] == "0x3e7"
    assert event.image == "C:\\Windows\\System32\\cmd.exe"
    (record,) = [
        r
        for r in Correlator(ttl=30 * 86_400).process(iter(events))
        if r.pid == event.pid and r.start == event.time
    ]
    assert (record.user, record.extra and record.extra["SubjectUserName"]) == ("hack1", "FS03$")


def test_sqlserver_15_field_events_carry_parent_and_integrity(data: Path) -> None:
    events = list(read(data / "evtx" / "hayabusa_mitre_T1059.003_sqlserver_4688v2_15fields.evtx"))
    assert len(events) == 140
    for event in events:
        assert isinstance(event, correlog.ProcessEvent)
        assert event.creator_image is not None
        assert event.integrity in {"Low", "Medium", "High", "System"}
        assert event.extra is not None
        assert "MandatoryLabel" in event.extra
