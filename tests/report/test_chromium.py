"""The report in a real headless Chromium: it loads offline without a console error, the alert
is on screen, and a tree branch opens when clicked."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import correlog
from correlog import Monitor
from correlog.report import render_report
from correlog.rules import AnonymousWeb

from . import chromium

pytestmark = pytest.mark.skipif(not chromium.available(), reason="no /usr/bin/chromium")

pytest.importorskip("jinja2")

SAMPLE = Path(correlog.__file__).parent / "samples" / "iis-intrusion.snare"
ALERT = r"IUSR_WEB2K ran \WINNT\system32\cmd.exe"


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    records: list[correlog.Record] = []
    monitor = Monitor([AnonymousWeb()], on_record=records.append)
    alerts = monitor.feed_many(correlog.read(SAMPLE)) + monitor.close()
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(render_report(records, alerts, sources=[SAMPLE.name]), encoding="utf-8")
    return path


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[chromium.DevTools]:
    devtools = chromium.DevTools(tmp_path / "profile")
    try:
        yield devtools
    finally:
        devtools.close()


def test_the_dumped_dom_holds_the_alert_and_the_log_no_console_error(
    report: Path, tmp_path: Path
) -> None:
    run = chromium.run_cli(tmp_path / "profile", "--dump-dom", report.as_uri())
    assert run.returncode == 0, run.stderr[-2000:]
    assert ALERT in run.stdout
    assert "2216</span> <span class" in run.stdout  # the tree was laid out, not just the tables
    assert chromium.console_lines(run.stderr) == []


def test_the_console_check_sees_a_refused_load(tmp_path: Path) -> None:
    """The check above can fail: a page that tries to load from the network under the report's
    policy is blocked (before any request) and the console says so."""
    page = tmp_path / "bad.html"
    policy = "default-src 'none'; style-src 'unsafe-inline'"
    page.write_text(
        f'<meta http-equiv="Content-Security-Policy" content="{policy}">'
        '<img src="https://example.invalid/x.png">',
        encoding="utf-8",
    )
    run = chromium.run_cli(tmp_path / "profile", "--dump-dom", page.as_uri())
    [line] = chromium.console_lines(run.stderr)
    assert "Loading the image 'https://example.invalid/x.png' violates" in line


def test_the_screenshot_shows_a_page_not_a_blank(report: Path, tmp_path: Path) -> None:
    shot = tmp_path / "shot.png"
    run = chromium.run_cli(
        tmp_path / "profile", "--window-size=1024,900", f"--screenshot={shot}", report.as_uri()
    )
    assert run.returncode == 0, run.stderr[-2000:]
    colours = chromium.png_colours(shot.read_bytes())
    assert len(colours) >= 8
    # The header's dark blue, the finding highlight and the alert badge's red are all on it.
    assert {(0x17, 0x23, 0x3B), (0xFD, 0xE8, 0xE6), (0xB4, 0x23, 0x18)} <= colours


def test_the_alert_is_visible_and_a_tree_branch_opens_on_a_click(
    report: Path, browser: chromium.DevTools
) -> None:
    browser.load(report.as_uri())
    # The branches holding the alerts started open: both alerted processes are visible.
    shown = browser.evaluate(
        """[...document.querySelectorAll('#trees li.finding')]
           .map(li => [li.checkVisibility(), li.innerText])"""
    )
    assert [visible for visible, _ in shown] == [True, True]
    assert ["anonymous-web" in text for _, text in shown] == [True, True]
    # A branch without a finding starts folded: its child is hidden until the summary is clicked.
    branch = """[...document.querySelectorAll('#trees details')]
                .find(d => d.querySelector('summary').innerText.startsWith('1188'))"""
    state = f"""(() => {{ const d = {branch};
                         return [d.open, d.querySelector('li').checkVisibility()]; }})()"""
    assert browser.evaluate(state) == [False, False]
    x, y = browser.evaluate(
        f"""(() => {{ const s = {branch}.querySelector('summary');
                     s.scrollIntoView({{block: 'center'}});
                     const r = s.getBoundingClientRect();
                     return [r.left + 8, r.top + r.height / 2]; }})()"""
    )
    browser.click(x, y)
    assert browser.evaluate(state) == [True, True]
    assert "notepad.exe" in browser.evaluate(f"{branch}.querySelector('li').innerText")
    assert len(chromium.png_colours(browser.screenshot())) >= 8
    assert browser.errors() == []


def test_the_devtools_checks_can_fail(tmp_path: Path, browser: chromium.DevTools) -> None:
    """A blank page has one colour, and a blocked load is an error the harness reports."""
    blank = tmp_path / "blank.html"
    blank.write_text("<p></p>", encoding="utf-8")
    browser.load(blank.as_uri())
    assert len(chromium.png_colours(browser.screenshot())) == 1
    assert browser.errors() == []
    page = tmp_path / "bad.html"
    page.write_text(
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'">'
        '<img src="https://example.invalid/x.png">',
        encoding="utf-8",
    )
    browser.load(page.as_uri())
    [error] = browser.errors()
    assert "https://example.invalid/x.png" in error
