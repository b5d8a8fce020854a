"""The CLI's output flags: JSON lines unchanged off a terminal, a table, CSV, a file, a
timeline, and the summary of findings."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

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
