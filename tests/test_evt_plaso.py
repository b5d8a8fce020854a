"""The one public legacy ``.evt`` file: a wrapped circular Windows XP System log (plaso's test
data, Apache-2.0), read from the shared data folder (skipped when it is absent).

Its data README counts 6,499 records: what a linear scan for the ``LfLe`` signature finds. The
reader follows the circular buffer instead, and must enumerate every one of those, plus the
live record that the wrap point splits in two (which no linear scan can see): 6,063 live records
with consecutive record numbers, and the whole older records left in the free space.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from correlog import read
from correlog.readers.evt import evt_records

EVT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "evt"
PLASO = EVT / "plaso_test_data_SysEvent.Evt"

pytestmark = pytest.mark.skipif(not PLASO.is_file(), reason="no shared .evt sample")


def _linear_scan(data: bytes) -> list[bytes]:
    """Every well-formed record a naive scan finds: signature, sane length, closing length."""
    found = []
    for match in re.finditer(b"LfLe", data):
        start = match.start() - 4
        if start < 0:
            continue
        length = int.from_bytes(data[start : start + 4], "little")
        if length < 56 or length % 4 or start + length > len(data):
            continue
        record = data[start : start + length]
        if int.from_bytes(record[-4:], "little") == length:
            found.append(record)
    return found


def test_every_record_a_linear_scan_finds_is_enumerated_and_the_split_one_too() -> None:
    data = PLASO.read_bytes()
    scanned = _linear_scan(data[48:])  # past the file header, whose own signature is not a record
    assert len(scanned) == 6_499
    with PLASO.open("rb") as handle:
        units = list(evt_records(handle))
    raws = [raw[0] if isinstance(raw, tuple) else raw for _, raw in units]
    assert all(isinstance(raw, bytes) for raw in raws)
    assert len(units) == 6_500
    enumerated = set(raws)
    assert all(record in enumerated for record in scanned)
    live = [raw for _, raw in units if isinstance(raw, bytes)]
    numbers = [int.from_bytes(raw[8:12], "little") for raw in live]
    assert len(live) == 6_063
    assert numbers == list(range(1392, 7455))
    # The one live record no linear scan sees: it wraps from the end of the file to its start.
    assert len([raw for raw in live if raw not in set(scanned)]) == 1


def test_read_counts_every_record_of_the_system_log_as_ignored() -> None:
    reader = read(PLASO)
    assert list(reader) == []
    assert reader.format == "evt"
    assert (reader.stats.lines, reader.stats.ignored, reader.stats.skipped) == (6_500, 6_500, 0)
