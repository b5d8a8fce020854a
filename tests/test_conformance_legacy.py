"""Conformance: the six legacy exemplar files carry the same 7 events, whatever the transport.

The exemplars live in the shared data folder beside the repository (``../shared/data/legacy``);
a checkout without it skips these tests. Each file is read with format detection, so this also
checks that detection recognises every transport from its content.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from correlog import EventKind, Layout, ProcessEvent, iso, read

LEGACY = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "legacy"

TRANSPORTS = {
    "iis.snare": "snare",
    "iis.snare-syslog": "snare",
    "iis.eventreporter": "eventreporter",
    "iis.ossec": "ossec",
    "iis.logparser.csv": "logparser",
    "iis.evtviewer.csv": "evtviewer",
}
#: Transports that keep the event log record number.
WITH_RECORDS = {"iis.snare", "iis.snare-syslog", "iis.logparser.csv"}

W3WP = "C:\\WINDOWS\\system32\\inetsrv\\w3wp.exe"
PHP = "C:\\PHP\\php.exe"
PING = "C:\\WINDOWS\\system32\\ping.exe"
SYSTEM = ("SYSTEM", "NT AUTHORITY", 0x3E7)
IUSR2 = ("IUSR_IIS02", "IIS02", 0x2A3C1)
C, T, E = EventKind.CREATED, EventKind.TOKEN_ASSIGNED, EventKind.EXITED
XP = Layout.XP_2003
# kind, host, pid, image, (user, domain, logon), creator pid, creator image, layout, time, record
EXPECTED = [
    (C, "iis01", 1452, "\\WINNT\\system32\\cmd.exe", SYSTEM, 1020, None, None, "09:15:00", 5001),
    (E, "iis01", 1452, None, ("IUSR_IIS01", "IIS01", 0x2A3C1), None, None, Layout.NT4_2000,
     "09:15:01", 5002),
    (C, "iis02", 2208, PHP, SYSTEM, 3120, None, None, "09:15:02", 812),
    (T, "iis02", 2208, PHP, IUSR2, 3120, W3WP, XP, "09:15:02", 813),
    (E, "iis02", 2208, PHP, IUSR2, None, None, XP, "09:15:03", 814),
    (C, "iis02", 2216, PING, SYSTEM, 3120, None, None, "09:15:05", 815),
    (T, "iis02", 2216, PING, IUSR2, 3120, W3WP, XP, "09:15:05", 816),
]  # fmt: skip


def _process_events(path: Path) -> list[ProcessEvent]:
    found = list(read(path))
    assert all(isinstance(event, ProcessEvent) for event in found)
    return [event for event in found if isinstance(event, ProcessEvent)]


def _normalized(event: ProcessEvent, with_record: bool) -> tuple[object, ...]:
    return (
        event.kind,
        event.host,
        event.pid,
        event.image,
        (event.user, event.domain, event.logon_id),
        event.creator_pid,
        event.creator_image,
        event.layout,
        iso(event.time),
        event.record_number if with_record else None,
    )


@pytest.fixture(scope="module")
def legacy_dir() -> Path:
    if not LEGACY.is_dir():
        pytest.skip(f"the shared legacy exemplars are not beside this checkout ({LEGACY.name})")
    return LEGACY


@pytest.mark.parametrize("filename", sorted(TRANSPORTS))
def test_every_transport_yields_the_same_seven_events(legacy_dir: Path, filename: str) -> None:
    reader = read(legacy_dir / filename)
    assert reader.format == TRANSPORTS[filename]
    found = [event for event in reader if isinstance(event, ProcessEvent)]
    assert reader.stats.events == len(found)
    with_record = filename in WITH_RECORDS
    expected = [
        (*row[:8], f"2003-03-04T{row[8]}Z", row[9] if with_record else None) for row in EXPECTED
    ]
    assert [_normalized(event, with_record) for event in found] == expected
    assert reader.stats.skipped == 0
    assert reader.stats.lines == reader.stats.accounted()


def test_all_transports_agree_with_each_other(legacy_dir: Path) -> None:
    seen = {
        name: [event._replace(record_number=None) for event in _process_events(legacy_dir / name)]
        for name in TRANSPORTS
    }
    first = seen["iis.snare"]
    assert len(first) == 7
    for name, found in seen.items():
        assert found == first, name


def test_no_other_files_are_expected(legacy_dir: Path) -> None:
    present = {path.name for path in legacy_dir.iterdir() if path.name.startswith("iis.")}
    assert present == set(TRANSPORTS)
