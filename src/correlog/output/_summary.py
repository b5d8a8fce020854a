"""A summary of what was written: hits by rule and level, by host, and the time span."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from operator import attrgetter
from typing import Any

from .._records import Alert, Record
from ._rows import printable, record_time, row
from ._text import fixed_time

__all__ = ["Summary"]

_RECORDS_ONLY = {Record}
_HOST = attrgetter("host")


class Summary:
    """Counts records, alerts and hits as they pass; :meth:`render` prints them for people.

    It is a sink: ``summary(item)`` adds an item. It keeps counters only (memory grows with
    the number of rules and hosts, not of items).
    """

    def __init__(self) -> None:
        #: Items by kind: ``record``, ``alert``, ``hit``.
        self.kinds: Counter[str] = Counter()
        #: Alerts and hits by ``(rule, level)``; level ``""`` when the rule has none.
        self.by_rule: Counter[tuple[str, str]] = Counter()
        #: Alerts and hits by host.
        self.by_host: Counter[str] = Counter()
        #: Records by host.
        self.records_by_host: Counter[str] = Counter()
        #: The earliest and latest item time seen (ns), ``None`` before any.
        self.first: int | None = None
        self.last: int | None = None
        #: Things the user should know about the input, one line each (two logs of a host a
        #: constant offset apart, and the flag that fixes it).
        self.warnings: list[str] = []

    def add(self, item: Any) -> None:
        """Count one record, alert or hit."""
        if type(item) is Record:
            # A record, the common item, counted from the three facts used: building its whole
            # Row (an account text, a formatted process id) cost more than writing its JSON. A
            # test holds both shortcuts to the counts of the items' rows.
            self.kinds["record"] += 1
            self.records_by_host[item.host] += 1
            self._span(record_time(item))
            return
        if isinstance(item, Alert):
            # Likewise an alert (what watch writes): its rule, level, host and time as row()
            # reads them.
            record = item.record
            self.kinds["alert"] += 1
            self.by_rule[item.rule or "", getattr(item, "level", None) or ""] += 1
            self.by_host[item.host] += 1
            time = item.time
            self._span(record_time(record) if time is None and record is not None else time)
            return
        r = row(item)
        self.kinds[r.kind] += 1
        if r.kind == "record":
            self.records_by_host[r.host] += 1
        else:
            self.by_rule[r.rule or "", r.level or ""] += 1
            self.by_host[r.host] += 1
        self._span(r.time)

    def _span(self, time: int | None) -> None:
        if time is not None:
            if self.first is None or time < self.first:
                self.first = time
            if self.last is None or time > self.last:
                self.last = time

    def add_many(self, items: Sequence[Any]) -> None:
        """Count each of ``items``, as :meth:`add` does; a batch of records in one pass."""
        if not items or set(map(type, items)) != _RECORDS_ONLY:
            for item in items:
                self.add(item)
            return
        self.kinds["record"] += len(items)
        self.records_by_host.update(map(_HOST, items))
        times = list(map(record_time, items))
        self._span(min(times))
        self._span(max(times))

    __call__ = add

    def warn(self, text: str) -> None:
        """Add a warning line to the summary."""
        self.warnings.append(text)

    @property
    def hits(self) -> int:
        """Alerts and Sigma hits together."""
        return self.kinds["alert"] + self.kinds["hit"]

    def render(self) -> str:
        """The summary as text, one fact a line, largest counts first."""
        counts = ", ".join(f"{n:,} {kind}s" for kind, n in sorted(self.kinds.items())) or "nothing"
        lines = [f"Summary: {counts}"]
        if self.first is not None:
            first, last = fixed_time(self.first, 3), fixed_time(self.last, 3)
            lines.append(f"  from {first} to {last}")
        if self.by_rule:
            lines.append("  hits by rule and level:")
            for (rule, level), n in self.by_rule.most_common():
                lines.append(f"    {n:>7,}  {printable(rule)}" + (f" ({level})" if level else ""))
        if self.by_host:
            lines.append("  hits by host:")
            lines.extend(f"    {n:>7,}  {printable(h)}" for h, n in self.by_host.most_common())
        lines.extend(f"  warning: {printable(text)}" for text in self.warnings)
        return "\n".join(lines) + "\n"
