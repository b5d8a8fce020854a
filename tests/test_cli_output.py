"""The CLI's output flags: JSON lines unchanged off a terminal, a table, CSV, a file, a
timeline, and the summary of findings."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest

from correlog.cli import main


def test_json_lines_stay_the_default_off_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["watch", "--sample"]) == 0
    captured = capsys.readouterr()
    alerts = [json.loads(line) for line in captured.out.splitlines()]
    assert [a["pid"] for a in alerts] == [1452, 2216]
    assert "Summary: 2 alerts" in captured.err


def test_table_csv_and_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["watch", "--sample", "--output", "table", "--color", "never"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:3] == ["time", "(UTC)", "host"]
    assert any("cmd.exe" in line and "anonymous-web" in line for line in table[1:])
    target = tmp_path / "records.csv"
    assert main(["correlate", "--sample", "--output", "csv", "-o", str(target)]) == 0
    assert capsys.readouterr().out == ""
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))
    assert {row["pid"] for row in rows} >= {"1452", "2216"}


def test_sort_time_gives_a_timeline(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["correlate", "--sample", "--sort", "time"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    starts = [r["start"] or r["end"] for r in records if r["start"] or r["end"]]
    assert starts == sorted(starts)


def _lines(capsys: pytest.CaptureFixture[str], *argv: str) -> list[dict[str, Any]]:
    assert main(list(argv)) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def _flat(item: dict[str, Any]) -> dict[str, Any]:
    """An alert's or hit's own keys and its record's keys, side by side."""
    return {**item, **(item.get("record") or {})}


def test_each_field_has_one_type_and_one_time_form_in_every_command(
    capsys: pytest.CaptureFixture[str],
) -> None:
    outputs = {
        "events": _lines(capsys, "events", "--sample"),
        "correlate": _lines(capsys, "correlate", "--sample"),
        "watch": [_flat(x) for x in _lines(capsys, "watch", "--records", "--sample")],
        "ecs": [x["correlog"] for x in _lines(capsys, "correlate", "--output", "ecs", "--sample")],
    }
    types: dict[str, set[str]] = {}
    for items in outputs.values():
        for item in items:
            for key, value in item.items():
                if value is not None:
                    types.setdefault(key, set()).add(type(value).__name__)
    assert {key: kinds for key, kinds in types.items() if len(kinds) > 1} == {}
    assert types["logon_id"] == {"str"}
    assert types["pid"] == {"int"}
    logons = [x["logon_id"] for items in outputs.values() for x in items if x.get("logon_id")]
    assert logons
    assert all(re.fullmatch("0x[0-9a-f]+", text) for text in logons)
    times = [
        x[key]
        for items in outputs.values()
        for x in items
        for key in ("time", "start", "end")
        if x.get(key)
    ]
    assert len(times) > 20
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z", t) for t in times), times


def test_events_read_back_as_the_same_events(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = _lines(capsys, "events", "--sample")
    written = tmp_path / "events.jsonl"
    written.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    assert _lines(capsys, "correlate", str(written)) == _lines(capsys, "correlate", "--sample")
