"""``correlog tree`` and ``correlog report`` on the bundled sample, as an analyst runs them."""

from __future__ import annotations

from pathlib import Path

import pytest

from correlog.cli import main


def test_tree_marks_the_intrusions_under_their_creators(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["tree", "--sample", "--width", "200"]) == 0
    text = capsys.readouterr().out
    lines = text.splitlines()
    assert lines[0] == "web03"
    ping = next(line for line in lines if "ping.exe" in line)
    assert "! 2216" in ping
    assert "anonymous-web" in ping
    cmd = next(line for line in lines if "cmd.exe" in line)
    assert "anonymous-web" in cmd
    assert any("w3wp.exe" in line and "no record" in line for line in lines)


def test_report_writes_one_page_with_the_alerts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("jinja2")
    page = tmp_path / "report.html"
    assert main(["report", "--sample", "-o", str(page)]) == 0
    html = page.read_text(encoding="utf-8")
    assert "ping.exe" in html
    assert "anonymous-web" in html
    assert "http://" not in html
    assert "https://" not in html
    assert "wrote" in capsys.readouterr().err


def test_report_needs_an_output_file(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["report", "--sample"])
    assert stop.value.code == 2
