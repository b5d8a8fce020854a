"""Writing a record never raises, and its line is valid UTF-8 JSON, whatever the values: times
outside years 1-9999, ints too long to print, lone surrogates in any text (the hardening issue's
class 2). What is written for each is documented in docs/output.md and pinned here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs
from hypothesis import given
from hypothesis import strategies as st

from correlog import Alert, Reason, Record, Status, iso
from correlog.output import json_lines, json_text
from correlog.sinks import JsonLines

from .strategies import alerts, records

NS = 10**9
HUGE = 7**6000  # 5,071 decimal digits: more than int-to-text allows (4,300)


def _record(**fields: Any) -> Record:
    base: dict[str, Any] = {
        "host": "web01",
        "pid": 1452,
        "image": "C:\\WINDOWS\\system32\\cmd.exe",
        "user": "IUSR_WEB01",
        "domain": "WEB01",
        "logon_id": 0x2A3C1,
        "owner_source": None,
        "creator_pid": 1020,
        "creator_image": None,
        "start": 1_046_769_300 * NS,
        "end": None,
        "status": Status.PARTIAL,
        "reason": Reason.FLUSHED,
        "provenance": (592, 7104),
        "layout": None,
        "first_seen": 1_046_769_300 * NS,
        "process_id": ("web01", None, 1452, 1_046_769_300 * NS, 7104),
    }
    return Record(**(base | fields))


def _written(item: Record | Alert) -> dict[str, Any]:
    text = json_text(item)
    text.encode("utf-8")  # strict: a lone surrogate left in the text would raise here
    value: dict[str, Any] = json.loads(text)
    return value


def test_times_past_year_9999_and_before_year_1_are_written_with_an_expanded_year() -> None:
    year_10000 = 253_402_300_800 * NS  # 10000-01-01T00:00:00Z
    got = _written(_record(start=year_10000 + 5, end=-62_135_596_801 * NS))
    assert got["start"] == "+10000-01-01T00:00:00.000000005Z" == iso(year_10000 + 5, 9)
    # the second before 0001-01-01 (year 0)
    assert got["end"] == "+0000-12-31T23:59:59.000000000Z" == iso(-62_135_596_801 * NS, 9)


def test_times_in_range_are_what_iso_writes() -> None:
    for ns in (0, -1, 1, 1_046_769_300 * NS + 1_000, -62_135_596_800 * NS):
        assert _written(_record(start=ns))["start"] == iso(ns, 9)


def test_a_time_too_large_for_any_calendar_is_written_in_hex_nanoseconds() -> None:
    got = _written(_record(start=HUGE, end=-HUGE))
    assert got["start"] == f"{HUGE:#x}ns"
    assert got["end"] == f"{-HUGE:#x}ns"


def test_ints_too_long_to_print_are_written_as_hex_strings() -> None:
    record = _record(
        pid=HUGE,
        creator_pid=-HUGE,
        exit_status=HUGE,
        logon_id=HUGE,
        provenance=(592, HUGE, None, 3),
        process_id=("web01", None, HUGE, HUGE, HUGE),
        extra={"n": "1"},
    )
    got = _written(record)
    assert got["pid"] == hex(HUGE)
    assert got["creator_pid"] == hex(-HUGE)
    assert got["exit_status"] == hex(HUGE)
    assert got["logon_id"] == f"0x{HUGE:x}"  # logon ids are hex text anyway
    assert got["events"] == [592]
    assert got["record_numbers"] == [hex(HUGE), 3]
    assert got["process_id"].count("-") == 3  # masked to 8-8-16-16 as always


def test_lone_surrogates_are_escaped_and_read_back_as_the_same_text() -> None:
    odd = "web\udc80\ud800"
    record = _record(
        host=odd,
        image=odd,
        user=odd,
        command_line=odd,
        extra={odd: odd},
        process_id=(odd, None, 1452, 0, None),
    )
    text = json_text(record)
    assert "\\udc80\\ud800" in text
    got = json.loads(text)
    assert got["host"] == got["image"] == got["user"] == got["command_line"] == odd
    assert got["extra"] == {odd: odd}
    # The host CRC of a process id is taken over the host's code points as they are.
    other = json.loads(json_text(record._replace(process_id=("web\udc81", None, 1452, 0, None))))
    assert got["process_id"] != other["process_id"]


hostile_ints = st.one_of(st.integers(), st.sampled_from([HUGE, -HUGE, 2**64, -(2**63)]))


@given(
    st.one_of(
        records(start=st.none() | hostile_ints, end=st.none() | hostile_ints, pid=hostile_ints),
        alerts(start=st.none() | hostile_ints, end=st.none() | hostile_ints),
    ),
    st.none() | hostile_ints,
)
def test_any_int_time_or_value_writes_a_valid_line(item: Record | Alert, time: int | None) -> None:
    if isinstance(item, Alert):
        item = attrs.evolve(item, time=time)
    got = _written(item)
    assert set(got) >= {"host", "pid"}


def test_json_lines_on_a_real_utf8_file_takes_every_hostile_record(tmp_path: Path) -> None:
    hostile = [
        _record(host="web\ud800", image="\udfff.exe", user="\udc80"),
        _record(start=HUGE, end=-(10**25)),
        _record(pid=HUGE, logon_id=-5, exit_status=-HUGE),
        _record(),
    ]
    alert = Alert(
        rule="anonymous-web",
        host="web\ud800",
        pid=HUGE,
        image=None,
        user="\udc80",
        domain=None,
        time=10**30,
        event_id=593,
        record=hostile[0],
        message="ran \ud800",
    )
    path = tmp_path / "out.jsonl"
    with path.open("w", encoding="utf-8") as stream:  # errors="strict", as a terminal or file
        sink = JsonLines(stream)
        everything: list[Record | Alert] = [*hostile, alert]
        for item in everything:
            sink(item)
        assert sink.write_many(hostile) == len(hostile)
    lines = path.read_bytes().decode("utf-8").splitlines()
    assert len(lines) == 2 * len(hostile) + 1
    assert [json.loads(line) for line in lines[:4]] == [json.loads(x) for x in lines[5:]]
    assert json_lines(hostile).splitlines() == lines[5:]
    assert json.loads(lines[4])["record"]["host"] == "web\ud800"
