"""Coverage: which rules an input's sources let correlog evaluate, and which they do not.

A rule tests fields; a source carries some of them. Over an input, records are grouped by
source (:func:`~correlog.sigma.schema_label`: ``sysmon:1``, ``security:592+593``...), and for
each source and rule the report says:

* ``evaluable``: the source carries every field the rule tests; a record it does not match is
  a real "no match".
* ``partial``: some field is missing, but the rule can still be decided from the others on
  some records (the web-shell rule's command-line *filters* on a Windows 2000 log: when the
  parent is a web server and the child a shell, the filters cannot save it, so it matches;
  when the parent is unknown, the rule is undecided). ``undecided`` counts those records.
* ``not_applicable``: the rule cannot match without a field the source lacks (a command-line
  rule on a legacy log): silence from it means nothing.

A source's fields are those its events always carry (:data:`~correlog.sigma.view.EVENT_FIELDS`)
and any field one of its records had.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .._records import Record
from . import _ir
from ._rules import _leaf_predicate
from .view import schema_label

if TYPE_CHECKING:
    from ._rules import RuleSet

__all__ = ["Coverage"]


class _Source:
    __slots__ = ("fields", "matched", "records", "undecided")

    def __init__(self) -> None:
        self.records = 0
        self.fields: set[str] = set()
        self.matched: Counter[int] = Counter()
        self.undecided: Counter[int] = Counter()


class Coverage:
    """Collects, while a :class:`~correlog.sigma.RuleSet` hunts, what each source allowed.

    Pass it to :meth:`RuleSet.hunt`; read :meth:`report` at the end. Counting undecided
    records costs a three-valued evaluation of each partial rule on each record of a source
    that lacks fields (legacy logs); sources with every field cost nothing extra.
    """

    def __init__(self, ruleset: RuleSet) -> None:
        self._set = ruleset
        self._sources: dict[str, _Source] = {}
        # Per source label and fields known so far: the rules that may be undecided.
        self._partial: dict[tuple[str, frozenset[str]], tuple[int, ...]] = {}

    def observe(
        self,
        record: Record,
        view: Mapping[str, str],
        lowered: Mapping[str, str],
        schema: frozenset[str],
        found: list[int],
    ) -> None:
        """Count one record, the rules it matched, and the partial rules it left undecided."""
        label = schema_label(record)
        source = self._sources.get(label)
        if source is None:
            source = self._sources[label] = _Source()
        source.records += 1
        source.fields.update(view)
        source.fields.update(schema)
        for i in found:
            source.matched[i] += 1
        known = schema | frozenset(view)
        key = (label, known)
        partial = self._partial.get(key)
        if partial is None:
            partial = tuple(
                i
                for i, rule in enumerate(self._set.rules)
                if not rule.fields <= known
                and True in _ir.achievable(rule.tree, lambda f: f not in known)
            )
            if len(self._partial) < 4096:
                self._partial[key] = partial
        for i in partial:
            value = _ir.evaluate3(
                self._set.rules[i].tree, view, lowered, schema.__contains__, _leaf_predicate
            )
            if value is None:
                source.undecided[i] += 1

    def sources(self) -> list[str]:
        """The source labels seen, sorted."""
        return sorted(self._sources)

    def classify(self, label: str) -> list[tuple[int, str, tuple[str, ...]]]:
        """Per rule (by index): ``evaluable``, ``partial`` or ``not_applicable`` for a source,
        and the fields it tests that the source lacks."""
        fields = frozenset(self._sources[label].fields)
        out: list[tuple[int, str, tuple[str, ...]]] = []
        for i, rule in enumerate(self._set.rules):
            missing = rule.fields - fields
            if not missing:
                out.append((i, "evaluable", ()))
            elif True in _ir.achievable(rule.tree, missing.__contains__):
                out.append((i, "partial", tuple(sorted(missing))))
            else:
                out.append((i, "not_applicable", tuple(sorted(missing))))
        return out

    def report(self) -> list[dict[str, Any]]:
        """JSON-ready lines: per source a summary, then one line per rule."""
        lines: list[dict[str, Any]] = []
        for label in self.sources():
            source = self._sources[label]
            verdicts = self.classify(label)
            counts = Counter(kind for _, kind, _m in verdicts)
            lines.append(
                {
                    "source": label,
                    "records": source.records,
                    "fields": sorted(source.fields),
                    "evaluable": counts["evaluable"],
                    "partial": counts["partial"],
                    "not_applicable": counts["not_applicable"],
                }
            )
            for i, kind, missing in verdicts:
                rule = self._set.rules[i]
                line: dict[str, Any] = {
                    "source": label,
                    "rule_id": rule.id,
                    "title": rule.title,
                    "coverage": kind,
                    "missing": list(missing),
                    "matched": source.matched[i],
                }
                if kind == "partial":
                    line["undecided"] = source.undecided[i]
                lines.append(line)
        return lines
