"""``correlog beam correlate|watch`` (also ``python -m correlog.beam``): files in, sharded JSON
lines of records and alerts out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("apache_beam")

import correlog
from correlog.beam._pipeline import main
from correlog.cli import main as cli_main
from correlog.rules import AnonymousWeb, AuditTamper, RuleLike

from .pipelines import in_process, monitor_in_process

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


def test_correlog_beam_watch_writes_the_monitors_alerts_with_their_ids(tmp_path: Path) -> None:
    """``correlog beam watch``, through correlog's own command: ``correlog watch``'s default
    rules, each alert as the live monitor sends it, and the records of the same pass."""
    alerts, records = tmp_path / "alerts", tmp_path / "records"
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    command = [sys.executable, "-m", "correlog", "beam", "watch", str(SAMPLE)]
    command += ["--output", str(alerts), "--records", str(records), "--ttl", "600"]
    subprocess.run(command, check=True, env=env, capture_output=True, timeout=300)
    rules: list[RuleLike] = [AnonymousWeb(), AuditTamper()]
    expected_alerts, expected_records = monitor_in_process(correlog.read(SAMPLE), rules, ttl=600)
    assert len(expected_alerts) == 2
    assert sorted(_lines(alerts)) == sorted(expected_alerts)
    assert sorted(_lines(records)) == sorted(expected_records)


def test_beam_watch_runs_sigma_rules_and_correlate_has_the_correlog_spelling(
    tmp_path: Path,
) -> None:
    pytest.importorskip("sigma")
    from correlog.sigma import load_rules

    rule = tmp_path / "cmd.yml"
    rule_id = "00000000-0000-4000-8000-00000000c3d0"
    rule.write_text(
        f"title: cmd\nid: {rule_id}\n"
        "logsource: {category: process_creation, product: windows}\n"
        "detection: {sel: {Image|endswith: '\\\\cmd.exe'}, condition: sel}\n",
        encoding="utf-8",
    )
    prefix = tmp_path / "alerts"
    argv = ["beam", "watch", str(SAMPLE), "--output", str(prefix), "--sigma", str(rule)]
    assert cli_main(argv) == 0
    expected, _ = monitor_in_process(
        correlog.read(SAMPLE), load_rules(rule).monitor_rules(), ttl=3600
    )
    assert [json.loads(line)["rule"] for line in expected] == [
        "00000000-0000-4000-8000-00000000c3d0"
    ]
    assert sorted(_lines(prefix)) == sorted(expected)
    records = tmp_path / "records"
    assert cli_main(["beam", "correlate", str(SAMPLE), "--output", str(records)]) == 0
    assert sorted(_lines(records)) == sorted(in_process(correlog.read(SAMPLE), ttl=3600))


def test_beam_usage_errors_say_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["beam", "watch", str(SAMPLE), "--output", str(tmp_path / "a"), "--rule", "nope"]
    with pytest.raises(SystemExit) as exc:
        cli_main(argv)
    assert exc.value.code == 2
    assert "invalid choice: 'nope'" in capsys.readouterr().err
