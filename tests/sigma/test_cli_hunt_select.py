"""``correlog hunt``: choosing rules (level, status, tags), a time window, the output formats."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from correlog import iso
from correlog.cli import main
from correlog.readers import event_to_json

from .test_iis_legacy import T0, windows_2000

CMD = "00000000-0000-4000-8000-0000000000c1"
ANY_EXE = "00000000-0000-4000-8000-0000000000e1"
NO_LEVEL = "00000000-0000-4000-8000-0000000000a1"


def _rule(rule_id: str, ending: str, extra: str) -> str:
    title = ending.replace("\\\\", "")
    return (
        f"title: ends with {title}\nid: {rule_id}\n{extra}"
        "logsource: {category: process_creation, product: windows}\n"
        f"detection: {{sel: {{Image|endswith: '{ending}'}}, condition: sel}}\n"
    )


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "cmd.yml").write_text(
        _rule(CMD, "\\\\cmd.exe", "level: high\nstatus: test\n"
              "tags: [attack.execution, attack.t1059.003]\n"),
        encoding="utf-8",
    )  # fmt: skip
    (folder / "exe.yml").write_text(
        _rule(ANY_EXE, ".exe", "level: low\nstatus: experimental\ntags: [attack.discovery]\n"),
        encoding="utf-8",
    )
    (folder / "nolevel.yml").write_text(_rule(NO_LEVEL, "dllhost.exe", ""), encoding="utf-8")
    return folder


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "web2k.jsonl"
    path.write_text("".join(json.dumps(event_to_json(e)) + "\n" for e in windows_2000()))
    return path


def hunt(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(["hunt", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def hits(capsys: pytest.CaptureFixture[str], *argv: str) -> list[tuple[str, int]]:
    status, out, _ = hunt(capsys, *argv)
    assert status == 0
    return sorted((m["rule_id"], m["record"]["pid"]) for m in map(json.loads, out.splitlines()))


def test_hits_are_compact_json_with_time_host_and_tags_first(
    capsys: pytest.CaptureFixture[str], rules: Path, log: Path
) -> None:
    status, out, _ = hunt(capsys, str(log), "--rules", str(rules))
    assert status == 0
    lines = out.splitlines()
    assert len(lines) == 4  # cmd.exe: two rules; dllhost.exe: two rules
    for line in lines:
        hit = json.loads(line)
        # The same compact form as every other command writes.
        assert line == json.dumps(hit, ensure_ascii=False, separators=(",", ":"))
        assert list(hit)[:3] == ["time", "host", "rule_id"]
    [cmd] = [json.loads(x) for x in lines if CMD in x]
    assert cmd["time"] == iso(T0 + 2 * 10**9, 9) == cmd["record"]["start"]
    assert cmd["host"] == "web2k"
    assert cmd["tags"] == ["attack.execution", "attack.t1059.003"]
    assert (cmd["level"], cmd["status"]) == ("high", "test")


def test_min_level_status_and_tags_choose_the_rules(
    capsys: pytest.CaptureFixture[str], rules: Path, log: Path
) -> None:
    base = (str(log), "--rules", str(rules))
    assert hits(capsys, *base, "--min-level", "medium") == [(CMD, 1452)]
    # A rule without a level is dropped by any minimum; low keeps low and above.
    assert {r for r, _ in hits(capsys, *base, "--min-level", "LOW")} == {CMD, ANY_EXE}
    assert {r for r, _ in hits(capsys, *base, "--status", "experimental")} == {ANY_EXE}
    both = hits(capsys, *base, "--status", "experimental", "--status", "test")
    assert {r for r, _ in both} == {CMD, ANY_EXE}
    # A tag keeps the tags under it; commas and repeats add tags.
    assert hits(capsys, *base, "--tags", "attack.t1059") == [(CMD, 1452)]
    assert {r for r, _ in hits(capsys, *base, "--tags", "attack.discovery,attack.t1059")} == {
        CMD,
        ANY_EXE,
    }
    assert hits(capsys, *base, "--tags", "attack.t1059.001") == []
    _, _, err = hunt(capsys, *base, "--tags", "attack.t1059")
    assert "hunting with 1 of 3 rules" in err


def test_a_wrong_level_or_status_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], rules: Path, log: Path
) -> None:
    status, _, err = hunt(capsys, str(log), "--rules", str(rules), "--min-level", "severe")
    assert status == 2
    assert "unknown level 'severe'" in err
    status, _, err = hunt(capsys, str(log), "--rules", str(rules), "--status", "solid")
    assert status == 2
    assert "unknown status" in err


def test_from_and_to_keep_the_processes_started_in_the_window(
    capsys: pytest.CaptureFixture[str], rules: Path, log: Path
) -> None:
    base = (str(log), "--rules", str(rules))
    # dllhost.exe started at T0 + 1 s, cmd.exe at T0 + 2 s.
    assert {p for _, p in hits(capsys, *base, "--from", "2003-03-04T09:15:01.5")} == {1452}
    assert {p for _, p in hits(capsys, *base, "--to", "2003-03-04T09:15:01Z")} == {1020}
    window = ("--from", "2003-03-04T09:15:01", "--to", "2003-03-04T09:15:02")
    assert {p for _, p in hits(capsys, *base, *window)} == {1020, 1452}
    status, out, err = hunt(capsys, *base, "--from", "2003-03-05", "--to", "2003-03-04")
    assert (status, out) == (2, "")
    assert "--from is after --to" in err
    with pytest.raises(SystemExit) as exc:
        main(["hunt", *base, "--from", "yesterday"])
    assert exc.value.code == 2


def test_hits_as_csv_and_as_a_table(
    capsys: pytest.CaptureFixture[str], rules: Path, log: Path
) -> None:
    status, out, err = hunt(capsys, str(log), "--rules", str(rules), "--output", "csv")
    assert status == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert {(r["kind"], r["rule"], r["level"]) for r in rows if r["pid"] == "1452"} == {
        ("hit", "ends with cmd.exe", "high"),
        ("hit", "ends with .exe", "low"),
    }
    assert "hits by rule and level" in err  # the summary every command prints
    status, out, _ = hunt(capsys, str(log), "--rules", str(rules), "--output", "table")
    assert status == 0
    header, *lines = out.splitlines()
    assert header.split()[:3] == ["time", "(UTC)", "host"]
    assert any("cmd.exe" in line and "high" in line for line in lines)


def test_coverage_is_json_only(capsys: pytest.CaptureFixture[str], rules: Path, log: Path) -> None:
    argv = ("--coverage", "--rules", str(rules), "--", str(log))
    status, _, err = hunt(capsys, "--output", "csv", *argv)
    assert status == 2
    assert "--coverage writes JSON lines" in err
    status, out, _ = hunt(capsys, *argv)
    assert status == 0
    lines = out.splitlines()
    assert lines
    assert all(x == json.dumps(json.loads(x), separators=(",", ":")) for x in lines)
