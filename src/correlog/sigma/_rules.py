"""Compiled Sigma rules, rule sets with their index, and loading with a report."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Final, NamedTuple

import attrs

from .._errors import UsageError
from .._records import Record, Verdict
from .._time import DECIMALS, iso
from . import _ir
from ._convert import NotSupported, condition_tree, supported_logsource
from ._index import RuleIndex
from ._route import ANY_LOG, Router, applies
from .view import record_schema, sigma_view

if TYPE_CHECKING:
    from sigma.rule import SigmaRule as PySigmaRule

    from ._coverage import Coverage

__all__ = ["LoadReport", "Match", "RuleSet", "SigmaRule", "Unsupported"]

_INSTALL_HINT: Final = "Sigma rules need pySigma: pip install 'correlog[sigma]'"
_leaf_cache: dict[_ir.Leaf, _ir.Predicate] = {}
#: The tree of a rule whose tree is not made yet (:meth:`SigmaRule._deferred`), told by identity.
_PENDING: Final[_ir.Node] = _ir.Const(False)


def _leaf_predicate(leaf: _ir.Leaf) -> _ir.Predicate:
    predicate = _leaf_cache.get(leaf)
    if predicate is None:
        predicate = _leaf_cache[leaf] = _ir.compile_predicate(leaf, "leaf")
    return predicate


def _lower(view: Mapping[str, str]) -> dict[str, str]:
    return {k: x.lower() for k, x in view.items()}


def _pysigma() -> Any:
    try:
        import sigma.collection
        import sigma.rule
    except ImportError:  # pragma: no cover - the sigma extra is part of the test extra
        raise UsageError(_INSTALL_HINT) from None
    return sigma


def _bad_input() -> tuple[type[Exception], ...]:
    """What pySigma raises for a rule it cannot read: its own errors, and YAML's."""
    import yaml
    from sigma.exceptions import SigmaError

    return (SigmaError, yaml.YAMLError)


class _Seen(NamedTuple):
    record: Record | None
    view: dict[str, str]
    lowered: dict[str, str]
    schema: frozenset[str]


class _ViewCache:
    """The view of the last record asked about: a monitor asks every rule about one record in
    a row, so one entry spares rebuilding the view once per rule. The entry is one tuple,
    replaced whole, so a reader never sees one record's view with another's schema."""

    __slots__ = ("_last",)

    def __init__(self) -> None:
        self._last = _Seen(None, {}, {}, frozenset())

    def get(self, record: Record) -> _Seen:
        last = self._last
        if record is not last.record:
            view = sigma_view(record)
            last = self._last = _Seen(record, view, _lower(view), record_schema(record))
        return last


_views = _ViewCache()


@attrs.frozen(kw_only=True, eq=False)
class SigmaRule:
    """One compiled Sigma rule: a callable over records, usable in :class:`correlog.Monitor`.

    ``rule(record)`` returns an alert message when the rule matches the record's Sigma view
    (:func:`~correlog.sigma.sigma_view`), else None, also when the record's source lacks a
    field the match depends on (see :meth:`evaluate`). Its :attr:`name` is the rule's id.

    Build one from a SigmaHQ file with :func:`load_rules`, or in code with :meth:`from_yaml`,
    :meth:`from_dict` or :meth:`from_pysigma`; each raises :class:`~correlog.UsageError`
    naming what it cannot run.
    """

    id: str | None
    title: str
    level: str | None = None
    status: str | None = None
    author: str | None = None
    #: Where the rule came from (its file, or what the caller named it): with :attr:`author`,
    #: what the Detection Rule License asks a match to show.
    source: str
    description: str | None = None
    references: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    #: The rule's ``logsource.service``: ``sysmon`` or ``security`` (then only records of that
    #: log can match), or None (any log's records).
    service: str | None = None
    #: The condition as a tree (the :attr:`tree` property: see :mod:`correlog.sigma._ir`).
    _tree: _ir.Node = attrs.field(alias="tree", repr=False)
    #: Every view field the rule tests.
    fields: frozenset[str] = attrs.field(init=False, repr=False)
    #: Generated on first use: most rules are never asked about a given log's records, and
    #: generating all of SigmaHQ's costs more than a second.
    _predicate: _ir.Predicate | None = attrs.field(init=False, default=None, repr=False)
    #: A rule read back from the cache: makes its tree when first asked (see :meth:`_deferred`).
    _decode: Callable[[], _ir.Node] | None = attrs.field(init=False, default=None, repr=False)

    def __attrs_post_init__(self) -> None:
        if self._tree is not _PENDING:
            object.__setattr__(self, "fields", _ir.fields_of(self._tree))

    @classmethod
    def _deferred(
        cls, decode: Callable[[], _ir.Node], fields: frozenset[str], **metadata: Any
    ) -> SigmaRule:
        """A rule whose tree ``decode`` makes when it is first needed: most of a large set is
        never asked about a given log's records. ``fields`` is what :attr:`fields` would say
        of that tree, so routing (:mod:`._route`) needs no tree; ``decode`` must check it."""
        rule = cls(tree=_PENDING, **metadata)
        object.__setattr__(rule, "fields", fields)
        object.__setattr__(rule, "_decode", decode)
        return rule

    @property
    def tree(self) -> _ir.Node:
        """The condition as a tree (see :mod:`correlog.sigma._ir`)."""
        tree = self._tree
        if tree is _PENDING:
            assert self._decode is not None
            tree = self._decode()
            object.__setattr__(self, "_tree", tree)
            object.__setattr__(self, "_decode", None)
        return tree

    @property
    def predicate(self) -> _ir.Predicate:
        """The compiled two-valued test: ``predicate(view, lowered_view) -> bool``, the view's
        values lower-cased in the second mapping (Sigma's reading: absent fields are null)."""
        predicate = self._predicate
        if predicate is None:
            predicate = _ir.compile_predicate(self.tree, self.name)
            object.__setattr__(self, "_predicate", predicate)
        return predicate

    @property
    def name(self) -> str:
        """The rule's id (its title when it has none): unique among SigmaHQ's rules."""
        return self.id or self.title

    @property
    def attribution(self) -> str:
        """``title (id) by author, source``: what a shown match must carry (DRL 1.1)."""
        return f"{self.title} ({self.id}) by {self.author or 'unknown author'}, {self.source}"

    # -- building ----------------------------------------------------------------------------

    @classmethod
    def from_pysigma(cls, rule: PySigmaRule, *, source: str) -> SigmaRule:
        """Compile a parsed pySigma rule. Raises :class:`UsageError` if it cannot be run."""
        try:
            return _build(rule, source)
        except NotSupported as exc:
            raise UsageError(f"{source}: {rule.title}: {exc}") from None

    @classmethod
    def from_yaml(cls, text: str, *, source: str = "<yaml>") -> SigmaRule:
        """Compile one rule from Sigma YAML text."""
        sigma = _pysigma()
        try:
            rule = sigma.rule.SigmaRule.from_yaml(text)
        except _bad_input() as exc:
            raise UsageError(f"{source}: {exc}") from None
        return cls.from_pysigma(rule, source=source)

    @classmethod
    def from_dict(cls, rule: Mapping[str, Any], *, source: str = "<dict>") -> SigmaRule:
        """Compile one rule from the dict its YAML would load as (see ``docs/sigma.md``)."""
        sigma = _pysigma()
        try:
            parsed = sigma.rule.SigmaRule.from_dict(dict(rule))
        except _bad_input() as exc:
            raise UsageError(f"{source}: {exc}") from None
        return cls.from_pysigma(parsed, source=source)

    # -- matching ----------------------------------------------------------------------------

    def matches(self, view: Mapping[str, str], schema: Iterable[str] | None = None) -> bool:
        """True when the rule matches a view (a mapping of Sigma field names to strings).

        ``schema``: the fields the view's source carries; a field outside it that the view
        lacks is unknown, and a rule that depends on it does not match. None (the default)
        reads every absent field as null, as Sigma does.
        """
        return self.evaluate(view, schema) is True

    def evaluate(self, view: Mapping[str, str], schema: Iterable[str] | None = None) -> bool | None:
        """True (match), False (no match) or None: the outcome depends on a field the view
        lacks and its source does not carry (the rule is not applicable to it)."""
        lowered = _lower(view)
        if schema is None:
            return self.predicate(view, lowered)
        known = schema if isinstance(schema, frozenset | set) else frozenset(schema)
        return self._evaluate(view, lowered, known)

    def _evaluate(
        self, view: Mapping[str, str], lowered: Mapping[str, str], known: frozenset[str] | set[str]
    ) -> bool | None:
        for field in self.fields:
            if field not in known and field not in view:
                return _ir.evaluate3(self.tree, view, lowered, known.__contains__, _leaf_predicate)
        return self.predicate(view, lowered)

    def __call__(self, record: Record) -> str | None:
        if not applies(self.service, record.channel):
            return None
        cached = _views.get(record)
        if self._evaluate(cached.view, cached.lowered, cached.schema) is True:
            return self.verdict
        return None

    @property
    def message(self) -> str:
        """The alert message: title, level, and the attribution."""
        return f"Sigma [{self.level or '-'}] {self.attribution}"

    @property
    def verdict(self) -> Verdict:
        """What the rule answers a :class:`~correlog.Monitor` when it matches: the
        :attr:`message`, with the rule's level and title for the alert to carry."""
        return Verdict(self.message, level=self.level, title=self.title)


@attrs.frozen(kw_only=True)
class Match:
    """A rule matched a record (what ``correlog hunt`` prints, one per line)."""

    rule: SigmaRule
    record: Record

    @property
    def time(self) -> int:
        """The record's time (ns): its start, else its first event's (as output rows show)."""
        record = self.record
        return record.process_id[3] if record.start is None else record.start

    def to_json(self) -> dict[str, Any]:
        """The record's time and host first, then the rule's id, title, level, status, tags
        (ATT&CK's among them), author and source, then the record's JSON."""
        rule = self.rule
        return {
            "time": iso(self.time, DECIMALS),
            "host": self.record.host,
            "rule_id": rule.id,
            "title": rule.title,
            "level": rule.level,
            "status": rule.status,
            "tags": list(rule.tags),
            "author": rule.author,
            "source": rule.source,
            "record": self.record.to_json(),
        }


@attrs.frozen
class Unsupported:
    """A rule (or file) that was not compiled, and why."""

    source: str
    rule_id: str | None
    title: str | None
    reason: str


@attrs.frozen(kw_only=True)
class LoadReport:
    """What loading found: files read, rules compiled, and every one that was not, by name."""

    files: int
    compiled: int
    unsupported: tuple[Unsupported, ...] = ()
    #: What the compiled-rules cache did (``off``, ``hit``, ``written``, ``refused: ...``; see
    #: :class:`correlog.sigma._cache.RuleCache`).
    cache: str = "off"

    def summary(self) -> str:
        """One line: counts, and the reasons with their counts."""
        text = f"compiled {self.compiled} Sigma rules from {self.files} files"
        if self.cache == "hit":
            text += " (cached)"
        if not self.unsupported:
            return text + "; none unsupported"
        reasons = Counter(_reason_kind(u.reason) for u in self.unsupported)
        listed = ", ".join(f"{n} {r}" for r, n in reasons.most_common())
        return f"{text}; {len(self.unsupported)} not compiled ({listed})"


def _reason_kind(reason: str) -> str:
    return reason.split(":", 1)[0]


class RuleSet:
    """Compiled rules with an index, so a record is only asked about rules that could match.

    ``RuleSet(rules)`` from :class:`SigmaRule` objects (ids must be unique);
    :func:`load_rules` from files. :meth:`match` one record, :meth:`hunt` many.
    """

    def __init__(
        self,
        rules: Iterable[SigmaRule],
        *,
        report: LoadReport | None = None,
        index: RuleIndex | None = None,
    ) -> None:
        self.rules: tuple[SigmaRule, ...] = tuple(rules)
        names = Counter(r.name for r in self.rules)
        twice = sorted(n for n, c in names.items() if c > 1)
        if twice:
            raise UsageError(f"rule ids must be unique: {', '.join(twice)}")
        #: What loading found (for a set built in code: every rule compiled).
        self.report = report or LoadReport(files=0, compiled=len(self.rules))
        if index is not None and index.size != len(self.rules):
            raise ValueError(f"an index of {index.size} rules for a set of {len(self.rules)}")
        self._index = index or RuleIndex([r.tree for r in self.rules])
        # Each rule's predicate, filled in when the index first names the rule.
        self._predicates: list[_ir.Predicate | None] = [None] * len(self.rules)
        self._router = Router(self.rules)
        self._last: tuple[Record | None, frozenset[int]] = (None, frozenset())

    def __len__(self) -> int:
        return len(self.rules)

    def __iter__(self) -> Iterator[SigmaRule]:
        return iter(self.rules)

    def select(self, keep: Callable[[SigmaRule], bool]) -> RuleSet:
        """The rules ``keep`` accepts (a :class:`~correlog.sigma.RuleFilter`, say), as a new set
        with its own index and this set's load report."""
        kept = [i for i, rule in enumerate(self.rules) if keep(rule)]
        return RuleSet(
            [self.rules[i] for i in kept], report=self.report, index=self._index.subset(kept)
        )

    def index_stats(self) -> dict[str, int]:
        """How the index keys the rules (see :mod:`correlog.sigma._index`)."""
        return self._index.stats()

    def _predicate(self, i: int) -> _ir.Predicate:
        predicate = self._predicates[i] = self.rules[i].predicate
        return predicate

    def _match(
        self,
        view: Mapping[str, str],
        lowered: Mapping[str, str],
        schema: frozenset[str] | None,
        channel: str | None = ANY_LOG,
    ) -> list[int]:
        """The rules that match, by index, in order: the index names the candidates, and the
        source's plan (:mod:`._route`) says how to ask each."""
        candidates = sorted(self._index.candidates(lowered))
        if schema is None:
            predicates = self._predicates
            return [i for i in candidates if (predicates[i] or self._predicate(i))(view, lowered)]
        plan = self._router.plan(channel, schema, view)
        tests = plan.tests
        return [i for i in candidates if (tests[i] or plan.test(i))(view, lowered)]

    def _reference(
        self, view: Mapping[str, str], schema: frozenset[str] | None, channel: str | None
    ) -> list[int]:
        """What :meth:`_match` answers, the plain way: every rule of the record's log asked
        through :meth:`SigmaRule.evaluate` (for the differential tests)."""
        return [
            i
            for i, rule in enumerate(self.rules)
            if applies(rule.service, channel) and rule.evaluate(view, schema) is True
        ]

    def match_view(
        self, view: Mapping[str, str], schema: Iterable[str] | None = None
    ) -> list[SigmaRule]:
        """The rules that match a view (``schema`` as in :meth:`SigmaRule.matches`)."""
        known = None if schema is None else frozenset(schema)
        return [self.rules[i] for i in self._match(view, _lower(view), known)]

    def match(self, record: Record) -> list[SigmaRule]:
        """The rules that match a record, in the set's order."""
        cached = _views.get(record)
        found = self._match(cached.view, cached.lowered, cached.schema, record.channel)
        return [self.rules[i] for i in found]

    def hunt(self, records: Iterable[Record], coverage: Coverage | None = None) -> Iterator[Match]:
        """One :class:`Match` per rule that matches each record, lazily, in order.

        ``coverage``, when given, is told about every record (see
        :class:`~correlog.sigma.Coverage`).
        """
        rules = self.rules
        for record in records:
            view = sigma_view(record)
            lowered = _lower(view)
            schema = record_schema(record)
            found = self._match(view, lowered, schema, record.channel)
            if coverage is not None:
                coverage.observe(record, view, lowered, schema, found)
            for i in found:
                yield Match(rule=rules[i], record=record)

    def monitor_rules(self) -> list[Callable[[Record], str | None]]:
        """The rules as :class:`~correlog.Monitor` rules that share this set's index.

        Each is named like its rule; asked about a record, the first one evaluates the whole
        set once (through the index) and the others read the result.
        """
        return [_Member(self, i) for i in range(len(self.rules))]

    def _matched(self, record: Record) -> frozenset[int]:
        last, found = self._last
        if record is not last:
            cached = _views.get(record)
            found = frozenset(
                self._match(cached.view, cached.lowered, cached.schema, record.channel)
            )
            self._last = (record, found)
        return found


class _Member:
    """One rule of a :class:`RuleSet`, asked through the set (see :meth:`RuleSet.monitor_rules`)."""

    __slots__ = ("_i", "_set", "name")

    def __init__(self, ruleset: RuleSet, i: int) -> None:
        self._set = ruleset
        self._i = i
        self.name = ruleset.rules[i].name

    def __call__(self, record: Record) -> str | None:
        if self._i in self._set._matched(record):
            return self._set.rules[self._i].verdict
        return None


def _build(rule: PySigmaRule, source: str) -> SigmaRule:
    """Compile one parsed rule; :class:`NotSupported` says why it cannot be."""
    from sigma.exceptions import SigmaError

    reason = supported_logsource(rule)
    if reason is not None:
        raise NotSupported(f"other log source: {reason}")
    try:
        tree = condition_tree(rule)
    except (NotSupported, SigmaError) as exc:
        raise NotSupported(f"not supported: {exc}") from None
    return SigmaRule(
        id=None if rule.id is None else str(rule.id),
        title=rule.title,
        level=None if rule.level is None else rule.level.name.lower(),
        status=None if rule.status is None else rule.status.name.lower(),
        author=rule.author,
        source=source,
        description=rule.description,
        references=tuple(rule.references or ()),
        tags=tuple(str(t) for t in rule.tags or ()),
        service=rule.logsource.service,
        tree=tree,
    )
