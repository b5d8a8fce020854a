"""What the report shows, as plain data: findings, the summary, timeline rows and tree lines.

The template only lays this out; every decision (what is a finding, how a tree nests, which
branches start open) is made here, in Python, where it is tested.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final, NamedTuple

import attrs

from .._events import HostEvent
from .._records import Alert, ProcessId, Record
from .._time import iso
from ..rules import basename
from ..tree import Forest, Node, build_forest, marks_of

if TYPE_CHECKING:
    from ..sigma import Match

#: Sigma's levels, most severe first; findings without a level (the built-in rules) come last.
LEVELS: Final = ("critical", "high", "medium", "low", "informational")


def _when(ns: int | None) -> str:
    text = iso(ns)
    return "-" if text is None else text[:19].replace("T", " ")


def _owner(user: str | None, domain: str | None) -> str:
    if user is None:
        return "-"
    return f"{domain}\\{user}" if domain else user


@attrs.frozen(kw_only=True)
class Finding:
    """An alert or a Sigma hit, flattened for display."""

    #: ``"alert"`` (a :class:`~correlog.Monitor` rule) or ``"sigma"`` (a hunt hit).
    kind: str
    #: The rule's name (a Sigma rule's id) and what to call it (a Sigma rule's title).
    rule: str
    title: str
    level: str | None
    message: str
    time: int | None
    record: Record

    @classmethod
    def from_alert(cls, alert: Alert) -> Finding:
        """An alert: its rule, message and the time of the event that made it fire."""
        if alert.record is None:
            raise ValueError("an alert on a host event names no process: see host_alerts")
        return cls(
            kind="alert",
            rule=alert.rule,
            title=alert.rule,
            level=None,
            message=alert.message,
            time=alert.time,
            record=alert.record,
        )

    @classmethod
    def from_hit(cls, hit: Match) -> Finding:
        """A Sigma hit: its rule's title, level and attribution, at the process's start."""
        rule = hit.rule
        return cls(
            kind="sigma",
            rule=rule.name,
            title=rule.title,
            level=rule.level,
            message=rule.attribution,
            time=hit.record.start if hit.record.start is not None else hit.record.first_seen,
            record=hit.record,
        )

    @property
    def when(self) -> str:
        """The time as ``YYYY-MM-DD HH:MM:SS`` (UTC), ``-`` when unknown."""
        return _when(self.time)

    @property
    def name(self) -> str:
        """The image's file name (``?`` when unknown)."""
        return basename(self.record.image) if self.record.image else "?"

    @property
    def owner(self) -> str:
        """``domain\\user`` of the process."""
        return _owner(self.record.user, self.record.domain)


class HostAlert(NamedTuple):
    """A host event that deserves an alert (a log cleared, audits lost, a policy changed)."""

    when: str
    host: str
    event_id: int
    message: str


@attrs.frozen(kw_only=True)
class Summary:
    """Counts for the top of the report."""

    records: int
    hosts: int
    alerts: int
    hits: int
    #: Host events with an alert (None when the caller passed none at all).
    host_alerts: int | None
    #: The earliest and latest time any record or finding names (``-`` when none does).
    first: str
    last: str
    #: (title, kind, level, count), most findings first.
    by_rule: list[tuple[str, str, str, int]]
    #: (level, count), most severe first; ``-`` for findings without a level.
    by_level: list[tuple[str, int]]
    #: (host, records, findings), by host name.
    by_host: list[tuple[str, int, int]]


class Row(NamedTuple):
    """One process of the timeline."""

    when: str
    host: str
    pid: int
    name: str
    image: str
    owner: str
    creator: str
    command: str
    labels: tuple[str, ...]


class TreeLine(NamedTuple):
    """One step of a tree's layout: ``open`` a node that has children (``expanded`` when a
    finding is below it), a ``leaf``, or ``close`` the last opened node."""

    step: str
    expanded: bool
    pid: int
    name: str
    image: str
    when: str
    owner: str
    command: str
    labels: tuple[str, ...]
    synthetic: bool


_CLOSE: Final = TreeLine("close", False, 0, "", "", "", "", "", (), False)


def _level_order(level: str) -> int:
    return LEVELS.index(level) if level in LEVELS else len(LEVELS)


def _summary(
    records: Sequence[Record],
    findings: Sequence[Finding],
    host_alerts: Sequence[tuple[HostEvent, str]] | None,
) -> Summary:
    times = [t for r in records for t in (r.start, r.end, r.first_seen) if t is not None]
    times += [f.time for f in findings if f.time is not None]
    times += [event.time for event, _ in host_alerts or ()]
    rules = Counter((f.title, f.kind, f.level or "-") for f in findings)
    levels = Counter(f.level or "-" for f in findings)
    host_records = Counter(r.host for r in records)
    host_findings = Counter(f.record.host for f in findings)
    hosts = sorted(set(host_records) | set(host_findings))
    return Summary(
        records=len(records),
        hosts=len(hosts),
        alerts=sum(f.kind == "alert" for f in findings),
        hits=sum(f.kind == "sigma" for f in findings),
        host_alerts=None if host_alerts is None else len(host_alerts),
        first=_when(min(times)) if times else "-",
        last=_when(max(times)) if times else "-",
        by_rule=[(*key, n) for key, n in sorted(rules.items(), key=lambda kv: (-kv[1], kv[0]))],
        by_level=sorted(levels.items(), key=lambda kv: _level_order(kv[0])),
        by_host=[(h, host_records[h], host_findings[h]) for h in hosts],
    )


def _row(record: Record, labels: Sequence[str]) -> Row:
    creator = "-"
    if record.creator_pid is not None or record.creator_image:
        name = basename(record.creator_image) if record.creator_image else "?"
        creator = f"{record.creator_pid if record.creator_pid is not None else '?'} {name}"
    return Row(
        when=_when(record.start if record.start is not None else record.first_seen),
        host=record.host,
        pid=record.pid,
        name=basename(record.image) if record.image else "?",
        image=record.image or "",
        owner=_owner(record.user, record.domain),
        creator=creator,
        command=record.command_line or "",
        labels=tuple(labels),
    )


def _timeline(
    records: Sequence[Record], marks: dict[ProcessId, list[str]], limit: int
) -> list[Row]:
    ordered = sorted(records, key=lambda r: r.start if r.start is not None else r.first_seen)
    return [_row(r, marks.get(r.process_id, ())) for r in ordered[:limit]]


def _tree_lines(roots: Sequence[Node], marks: dict[ProcessId, list[str]]) -> list[TreeLine]:
    """The layout of one host's trees, without recursion (a chain may be as long as the log)."""
    marked: dict[int, bool] = {}  # id(node) -> a finding is in its subtree
    order = [node for root in roots for _, node in root.walk()]
    for node in reversed(order):  # children before their parents
        own = node.record is not None and node.record.process_id in marks
        marked[id(node)] = own or any(marked[id(c)] for c in node.children)
    lines: list[TreeLine] = []
    stack: list[Node | None] = list(reversed(roots))
    while stack:
        popped = stack.pop()
        if popped is None:  # the end of the children of the last node opened
            lines.append(_CLOSE)
            continue
        node = popped
        record = node.record
        labels = () if record is None else tuple(marks.get(record.process_id, ()))
        step = "open" if node.children else "leaf"
        lines.append(
            TreeLine(
                step=step,
                expanded=any(marked[id(c)] for c in node.children),
                pid=node.pid,
                name=basename(node.image) if node.image else "?",
                image=node.image or "",
                when="" if record is None else _when(record.start),
                owner="" if record is None else _owner(record.user, record.domain),
                command="" if record is None or not record.command_line else record.command_line,
                labels=labels,
                synthetic=record is None,
            )
        )
        if node.children:
            stack.append(None)
            stack.extend(reversed(node.children))
    return lines


def build_model(
    records: list[Record],
    alerts: list[Alert],
    hits: list[Match],
    host_alerts: list[tuple[HostEvent, str]] | None,
    timeline_limit: int,
) -> dict[str, Any]:
    """Everything the template shows, by name."""
    findings = [Finding.from_alert(a) for a in alerts if a.record is not None]
    findings += [Finding.from_hit(h) for h in hits]
    findings.sort(key=lambda f: (f.time is None, f.time or 0, f.record.host, f.record.pid))
    marks = marks_of(alerts, hits)
    forest: Forest = build_forest(records)
    by_rule: dict[tuple[str, str], list[Finding]] = {}
    for finding in findings:
        by_rule.setdefault((finding.kind, finding.title), []).append(finding)
    rules = [
        (title, kind, group[0].level or "-", group)
        for (kind, title), group in sorted(
            by_rule.items(), key=lambda kv: (_level_order(kv[1][0].level or "-"), kv[0])
        )
    ]
    return {
        "summary": _summary(records, findings, host_alerts),
        "host_alerts": None
        if host_alerts is None
        else [
            HostAlert(_when(e.time), e.host, e.event_id, message)
            for e, message in sorted(host_alerts, key=lambda pair: pair[0].time)
        ],
        "findings": findings,
        "rules": rules,
        "timeline": _timeline(records, marks, timeline_limit),
        "timeline_omitted": max(0, len(records) - timeline_limit),
        "trees": [(host, _tree_lines(forest.roots[host], marks)) for host in sorted(forest.roots)],
    }
