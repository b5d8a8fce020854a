"""Which rules a record's log source can satisfy, and how each is asked about its records.

Theory of operation
-------------------
A record comes from a log (its ``channel``: Sysmon's, or the Security log's) and carries the
fields of its source events (its *schema*, :func:`~correlog.sigma.record_schema`) plus whatever
else its events held. A rule's answer on it depends on three things only: whether the rule's log
source is that log (``logsource.service``: ``sysmon``, ``security``, or none, which is any), which
of the fields it tests are *unknown* (absent and outside the schema: a Windows 2000 log has no
command line), and the values of the others. Records of one log with the same unknown fields
share a :class:`SourcePlan`, made on the first such record, which holds per rule the test to ask:

* a rule for another log: never true, not asked;
* a rule none of whose fields is unknown: its own compiled predicate (Sigma's two-valued
  reading, absent fields null);
* any other: :func:`~correlog.sigma._ir.decided` rewrites its tree into the question "does the
  three-valued evaluation say true?" over the known fields, compiled like a rule; when the
  rewrite is ``Const(False)`` the rule cannot match that source and is not asked.

So a record is matched against only the rules its source can satisfy, each as one compiled
function, instead of walking the tree of every rule with an unknown field on every record
(:func:`~correlog.sigma._ir.evaluate3`), which is what :meth:`RuleSet._reference` still does,
and what the differential tests compare against. Tests are compiled when a rule is first asked
(the index names few rules per record); plans are few (one per log and field pattern) and
bounded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final, Protocol

from . import _ir

__all__ = ["ANY_LOG", "SERVICES", "Router", "SourcePlan", "applies"]

#: The channel of a view with no record: a rule of any log source may match it.
ANY_LOG: Final = "*"
#: ``logsource.service`` values a process record can satisfy, and the channel of each (the
#: Security log's records have none).
SERVICES: Final[Mapping[str, str | None]] = {"sysmon": "sysmon", "security": None}
#: Plans kept per rule set (one per log and pattern of unknown fields: a handful in practice).
MAX_PLANS: Final = 256


class _Rule(Protocol):
    @property
    def tree(self) -> _ir.Node: ...
    @property
    def fields(self) -> frozenset[str]: ...
    @property
    def service(self) -> str | None: ...
    @property
    def predicate(self) -> _ir.Predicate: ...
    @property
    def name(self) -> str: ...


def applies(service: str | None, channel: str | None) -> bool:
    """Whether a rule for ``service`` can match a record of ``channel``."""
    return service is None or channel == ANY_LOG or SERVICES.get(service, ANY_LOG) == channel


def _never(view: Mapping[str, str], lowered: Mapping[str, str]) -> bool:
    return False


class SourcePlan:
    """Per rule, the test to ask records of one log with the same unknown fields."""

    __slots__ = ("_channel", "_rules", "_unknown", "tests")

    def __init__(self, rules: Sequence[_Rule], channel: str | None, unknown: frozenset[str]):
        self._rules = rules
        self._channel = channel
        self._unknown = unknown
        #: Each rule's test once made (:meth:`test`); None before.
        self.tests: list[_ir.Predicate | None] = [None] * len(rules)

    def test(self, i: int) -> _ir.Predicate:
        """Rule ``i``'s test on this source, made (and kept) on first use."""
        rule = self._rules[i]
        test: _ir.Predicate
        if not applies(rule.service, self._channel):
            test = _never
        elif rule.fields.isdisjoint(self._unknown):
            test = rule.predicate
        else:
            tree = _ir.decided(rule.tree, self._unknown.__contains__)
            if tree == _ir.Const(False):
                test = _never
            else:
                test = _ir.compile_predicate(tree, f"{rule.name} on {self._channel}")
        self.tests[i] = test
        return test

    def possible(self) -> list[int]:
        """The rules this source can satisfy (makes every test: for reports and tests)."""
        return [i for i in range(len(self._rules)) if (self.tests[i] or self.test(i)) is not _never]


class Router:
    """The plans of one rule set's records, by log and unknown fields."""

    __slots__ = ("_fields", "_outside", "_plans", "_rules")

    def __init__(self, rules: Sequence[_Rule]) -> None:
        self._rules = rules
        self._fields = frozenset(f for rule in rules for f in rule.fields)
        # Per schema: the fields some rule tests and the schema lacks, in a fixed order.
        self._outside: dict[frozenset[str], tuple[str, ...]] = {}
        self._plans: dict[tuple[str | None, frozenset[str]], SourcePlan] = {}

    def plan(
        self, channel: str | None, schema: frozenset[str], view: Mapping[str, str]
    ) -> SourcePlan:
        """The plan for a record of ``channel`` with this schema and view."""
        outside = self._outside.get(schema)
        if outside is None:
            outside = tuple(sorted(self._fields - schema))
            if len(self._outside) >= MAX_PLANS:
                self._outside.clear()
            self._outside[schema] = outside
        key = (channel, frozenset([f for f in outside if f not in view]))
        plan = self._plans.get(key)
        if plan is None:
            if len(self._plans) >= MAX_PLANS:
                self._plans.clear()
            plan = self._plans[key] = SourcePlan(self._rules, channel, key[1])
        return plan
