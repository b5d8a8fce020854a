"""``correlog hunt`` and ``correlog watch --sigma`` end to end, on a JSON-lines event log."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from correlog.cli import main
from correlog.readers import event_to_json
from correlog.sigma import Coverage

from .conftest import RULES_DIR
from .test_iis_legacy import UNUSUAL_CMD_PARENT, windows_2000

needs_rules = pytest.mark.skipif(not RULES_DIR.is_dir(), reason="no shared SigmaHQ rules")


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "web2k.jsonl"
    path.write_text("".join(json.dumps(event_to_json(e)) + "\n" for e in windows_2000()))
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[dict[str, Any]], str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, [json.loads(line) for line in out.splitlines()], err


@needs_rules
def test_hunt_prints_each_match_with_its_attribution(
    capsys: pytest.CaptureFixture[str], log: Path
) -> None:
    status, lines, err = run(capsys, "hunt", str(log), "--rules", str(RULES_DIR))
    assert status == 0
    [match] = [m for m in lines if m["rule_id"] == UNUSUAL_CMD_PARENT]
    assert match["title"] == "Unusual Parent Process For Cmd.EXE"
    assert match["level"] == "medium"
    assert match["author"] == "Tim Rauch, Elastic (idea)"
    assert match["source"].endswith("proc_creation_win_cmd_unusual_parent.yml")
    assert match["record"]["user"] == "IUSR_WEB2K"
    assert match["record"]["creator_image"].endswith("dllhost.exe")
    assert "compiled 1183 Sigma rules" in err
    assert "records 2; matches" in err


@needs_rules
def test_inputs_may_follow_the_rules_as_the_usage_line_shows(
    capsys: pytest.CaptureFixture[str], log: Path
) -> None:
    status, lines, err = run(capsys, "hunt", "--rules", str(RULES_DIR), str(log))
    assert status == 0
    assert UNUSUAL_CMD_PARENT in {m["rule_id"] for m in lines}
    assert "read 3 events" in err


@needs_rules
def test_hunt_coverage_says_what_a_windows_2000_log_allows(
    capsys: pytest.CaptureFixture[str], log: Path
) -> None:
    status, lines, _ = run(capsys, "hunt", "--coverage", "--rules", str(RULES_DIR), "--", str(log))
    assert status == 0
    summaries = {line["source"]: line for line in lines if "evaluable" in line}
    # dllhost.exe's 592 alone (its exit is not in the log), and cmd.exe's 592 + 593.
    assert set(summaries) == {"security:592", "security:592+593"}
    summary = summaries["security:592+593"]
    assert "CommandLine" not in summary["fields"]
    assert summary["evaluable"] + summary["partial"] + summary["not_applicable"] == 1183
    assert summary["not_applicable"] > summary["partial"] > summary["evaluable"] > 0
    by_id = {
        line["rule_id"]: line
        for line in lines
        if "coverage" in line and line["source"] == "security:592+593"
    }
    assert by_id[UNUSUAL_CMD_PARENT]["coverage"] == "evaluable"
    assert by_id[UNUSUAL_CMD_PARENT]["matched"] == 1
    web = by_id["8202070f-edeb-4d31-a010-a26c72ac5600"]  # web server child, with cli filters
    assert web["coverage"] == "partial"
    assert "CommandLine" in web["missing"]
    bits = by_id["d059842b-6b9d-4ed1-b5c3-5b89143c6ede"]  # bitsadmin /transfer: needs the cli
    assert bits["coverage"] == "not_applicable"


@needs_rules
def test_watch_sends_sigma_matches_through_the_alert_path(
    capsys: pytest.CaptureFixture[str], log: Path
) -> None:
    status, lines, _ = run(capsys, "watch", "--sigma", str(RULES_DIR), str(log))
    assert status == 0
    [alert] = [a for a in lines if a["rule"] == UNUSUAL_CMD_PARENT]
    assert alert["event_id"] == 592
    assert "Tim Rauch" in alert["message"]
    # The rule's level and title as fields of their own, before the record.
    assert (alert["level"], alert["title"]) == ("medium", "Unusual Parent Process For Cmd.EXE")
    assert list(alert)[-3:] == ["level", "title", "record"]
    assert "anonymous-web" not in {a["rule"] for a in lines}  # only Sigma rules were asked
    status, lines, _ = run(
        capsys, "watch", "--sigma", str(RULES_DIR), "--rule", "anonymous-web", str(log)
    )
    assert {"anonymous-web", UNUSUAL_CMD_PARENT} <= {a["rule"] for a in lines}
    # A built-in rule's alert is written as before: no level, no title.
    [builtin] = [a for a in lines if a["rule"] == "anonymous-web"]
    assert "level" not in builtin
    assert "title" not in builtin


def test_rules_that_cannot_be_compiled_are_named(
    capsys: pytest.CaptureFixture[str], log: Path, tmp_path: Path
) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "other.yml").write_text(
        "title: File event\nid: 33333333-3333-4333-8333-333333333333\n"
        "logsource: {category: file_event, product: windows}\n"
        "detection: {sel: {TargetFilename: x}, condition: sel}\n"
    )
    status, lines, err = run(capsys, "hunt", str(log), "--rules", str(rules))
    assert status == 0
    assert lines == []
    assert "compiled 0 Sigma rules from 1 files; 1 not compiled (other log source 1)" not in err
    assert "1 not compiled" in err
    assert "other.yml (33333333-3333-4333-8333-333333333333): other log source" in err


def test_hunt_needs_rules(capsys: pytest.CaptureFixture[str], log: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["hunt", str(log)])
    assert exc.value.code == 2
    assert "--rules" in capsys.readouterr().err
    assert main(["hunt", str(log), "--rules", str(log.parent / "absent")]) == 2


def test_coverage_is_collected_only_when_asked(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, log: Path
) -> None:
    # Collecting coverage evaluates every partial rule on every record of a thin source: most
    # of a hunt's time on Security logs, so it must cost nothing unless --coverage asks.
    rule = tmp_path / "cmd.yml"
    rule.write_text(
        "title: cmd\nid: 00000000-0000-4000-8000-00000000c3d0\n"
        "logsource: {category: process_creation, product: windows}\n"
        "detection: {sel: {Image|endswith: '\\\\cmd.exe'}, condition: sel}\n",
        encoding="utf-8",
    )
    observed: list[str] = []
    original = Coverage.observe

    def spy(self: Coverage, record: Any, *rest: Any) -> None:
        observed.append(record.image)
        original(self, record, *rest)

    monkeypatch.setattr(Coverage, "observe", spy)
    status, lines, _ = run(capsys, "hunt", str(log), "--rules", str(rule))
    assert status == 0
    assert [m["rule_id"] for m in lines] == ["00000000-0000-4000-8000-00000000c3d0"]
    assert observed == []
    status, lines, _ = run(capsys, "hunt", "--coverage", "--rules", str(rule), "--", str(log))
    assert status == 0
    assert len(observed) == 2  # both records counted
    assert any(line.get("rule_id") == "00000000-0000-4000-8000-00000000c3d0" for line in lines)
