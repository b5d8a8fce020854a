"""``python -m correlog.beam correlate``: files in, sharded JSON lines of records out."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("apache_beam")

import correlog
from correlog.beam._pipeline import main

from .pipelines import in_process

SAMPLE = Path(correlog.__file__).parent / "samples" / "iis-intrusion.snare"
SRC = Path(correlog.__file__).parents[1]


def _lines(prefix: Path) -> list[str]:
    shards = sorted(prefix.parent.glob(prefix.name + "*"))
    assert shards, f"no output named {prefix.name}*"
    return [line for shard in shards for line in shard.read_text("utf-8").splitlines()]


def test_correlate_writes_the_in_process_records_as_json_lines(tmp_path: Path) -> None:
    prefix = tmp_path / "records"
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    command = [sys.executable, "-m", "correlog.beam", "correlate", str(SAMPLE)]
    command += ["--output", str(prefix), "--ttl", "600", "--runner", "FnApiRunner"]
    subprocess.run(command, check=True, env=env, capture_output=True, timeout=300)
    expected = in_process(correlog.read(SAMPLE), ttl=600)
    assert sorted(_lines(prefix)) == sorted(expected)


def test_an_unreadable_input_is_a_clear_error_and_a_failing_status(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_text("not a log\n" * 12, "utf-8")
    assert main(["correlate", str(bad), "--output", str(tmp_path / "out")]) == 1
    assert "cannot tell the format" in capsys.readouterr().err
