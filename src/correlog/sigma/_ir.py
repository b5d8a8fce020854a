"""A rule's condition as a small tree, and the three things done with it.

Theory of operation
-------------------
pySigma parses a rule's YAML, applies its value modifiers (``contains``, ``windash``,
``base64offset``, ...) and resolves its condition (``1 of sel*``, ``all of them``) into a tree
of AND/OR/NOT over *field = value* leaves. :mod:`._convert` turns that tree into this module's
nodes, which no longer depend on pySigma. From them:

* :func:`compile_predicate` writes one Python function per rule, ``p(v, l) -> bool``, over the
  view ``v`` and the same view with every value lower-cased ``l`` (lowered once per record and
  shared by every rule). Sigma strings compare case-insensitively, so they are lowered once
  when compiled and tested with ``==``, ``in``, ``startswith``/``endswith`` (tuples of
  alternatives in one call) or a compiled regex; regular expressions and ``|cased`` strings
  see the original values. An absent field is ``None``: every comparison on it is false,
  ``null`` is true. This is Sigma's two-valued reading, used whenever every field the rule
  tests is one the record's source carries.
* :func:`evaluate3` walks the tree in Kleene's three-valued logic for a record whose source
  lacks some field the rule tests (a Windows 2000 log has no command line): a leaf on such a
  field is *unknown*, ``not unknown`` is unknown, ``false and unknown`` is false, ``true or
  unknown`` is true. A rule that comes out unknown is not applicable to that record, which is
  not the same as not matching it. Slow, and only used for such records.
* :func:`achievable` tells, without any record, which of true/false/unknown a rule can still
  reach when given fields are missing: the coverage report's "partial" versus "not
  applicable".

:mod:`._index` reads the same nodes for the literals a match requires.
"""

from __future__ import annotations

import importlib
import ipaddress
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Final, TypeAlias

import attrs

__all__ = [
    "And",
    "Cidr",
    "Compare",
    "Const",
    "Exists",
    "FieldRef",
    "Glob",
    "Keyword",
    "Leaf",
    "Node",
    "Not",
    "Null",
    "Number",
    "Or",
    "Predicate",
    "Regex",
    "Str",
    "achievable",
    "compile_predicate",
    "decided",
    "evaluate3",
    "fields_of",
    "required_literals",
]

#: A compiled rule: ``predicate(view, lowered_view) -> bool``.
Predicate: TypeAlias = Callable[[Mapping[str, str], Mapping[str, str]], bool]


# -- nodes ----------------------------------------------------------------------------------


@attrs.frozen
class Str:
    """A wildcard-free string test. ``text`` is lower-cased unless ``cased``."""

    field: str
    #: ``eq``, ``contains``, ``startswith`` or ``endswith``.
    kind: str
    text: str
    cased: bool = False


@attrs.frozen
class Glob:
    """A string with wildcards anywhere else: a full match of ``pattern`` (a regex source)."""

    field: str
    pattern: str
    #: The literal runs between wildcards (lower-cased unless ``cased``), for the index.
    literals: tuple[str, ...]
    cased: bool = False


@attrs.frozen
class Regex:
    """``|re``: a search (unanchored, as SigmaHQ's rules are written) on the original value.

    ``required``: lower-cased literal runs every match contains (:func:`required_literals`),
    tested first on the lowered value (cheap) and offered to the index.
    """

    field: str
    pattern: str
    flags: int = 0
    required: tuple[str, ...] = ()


#: Characters whose lower case depends on context or spans two characters: a run holding one
#: may not be a substring of the lowered value, so it is not used as a requirement.
_UNSAFE_LOWER: Final = frozenset("\u03a3\u03c3\u03c2\u0130")


def required_literals(pattern: str, flags: int) -> tuple[str, ...]:
    """Lower-cased runs of literal characters at the top level of a regex: every match holds
    each of them. Empty when the pattern's structure hides them (alternation at the top,
    say), which only costs speed.

    Read with the standard library's own regex parser (a private module; any surprise from it
    means no requirements, never a wrong one).
    """
    try:
        parser: Any = importlib.import_module("re._parser")
        literal = importlib.import_module("re._constants").LITERAL
        parsed = parser.parse(pattern, flags)
    except Exception:
        return ()
    runs: list[str] = []
    current: list[str] = []
    for op, arg in parsed:
        if op is literal:
            current.append(chr(arg))
            continue
        if current:
            runs.append("".join(current))
            current = []
    if current:
        runs.append("".join(current))
    return tuple(run.lower() for run in runs if not any(ch in _UNSAFE_LOWER for ch in run))


@attrs.frozen
class Null:
    """``Field: null``: the field is absent."""

    field: str


@attrs.frozen
class Exists:
    """``Field|exists: true/false``."""

    field: str
    present: bool


@attrs.frozen
class FieldRef:
    """``Field|fieldref: Other``: the two values compare equal (case-insensitively), or one
    starts with, ends with or contains the other (``kind``)."""

    field: str
    other: str
    kind: str = "eq"


@attrs.frozen
class Number:
    """A number: equal to the value read as a number (decimal, or hex with ``0x``)."""

    field: str
    value: int | float


@attrs.frozen
class Compare:
    """``|lt``, ``|lte``, ``|gt``, ``|gte``, ``|neq`` on a number: a value that is not a number
    never compares."""

    field: str
    op: str
    value: int | float


@attrs.frozen
class Cidr:
    """``|cidr``: the value is an IP address inside the network."""

    field: str
    network: ipaddress.IPv4Network | ipaddress.IPv6Network


@attrs.frozen
class Bool:
    """A YAML boolean: the value spelled ``true``/``false`` (or ``1``/``0``)."""

    field: str
    value: bool


@attrs.frozen
class Keyword:
    """A value without a field (Sigma keywords): any view value contains it (or, for a
    regex, matches it). ``node`` is a :class:`Str`, :class:`Glob` or :class:`Regex` on the
    placeholder field ``""``."""

    node: Str | Glob | Regex


@attrs.frozen
class Const:
    """A constant outcome."""

    value: bool


Leaf: TypeAlias = (
    Str | Glob | Regex | Null | Exists | FieldRef | Number | Compare | Cidr | Bool | Keyword
)


@attrs.frozen
class And:
    items: tuple[Node, ...]


@attrs.frozen
class Or:
    items: tuple[Node, ...]


@attrs.frozen
class Not:
    item: Node


Node: TypeAlias = Leaf | Const | And | Or | Not


def leaf_fields(leaf: Leaf) -> tuple[str, ...]:
    """The view fields one leaf reads (a keyword reads none by name)."""
    if isinstance(leaf, Keyword):
        return ()
    if isinstance(leaf, FieldRef):
        return (leaf.field, leaf.other)
    return (leaf.field,)


def walk(node: Node) -> Iterator[Node]:
    """The node and every node under it."""
    yield node
    if isinstance(node, And | Or):
        for item in node.items:
            yield from walk(item)
    elif isinstance(node, Not):
        yield from walk(node.item)


def fields_of(node: Node) -> frozenset[str]:
    """Every view field the tree tests (a loop, not :func:`walk`: loading SigmaHQ's rules from
    the cache asks this of 21,000 nodes)."""
    found: set[str] = set()
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, And | Or):
            stack.extend(n.items)
        elif isinstance(n, Not):
            stack.append(n.item)
        elif isinstance(n, FieldRef):
            found.update((n.field, n.other))
        elif not isinstance(n, Keyword | Const):
            found.add(n.field)
    return frozenset(found)


# -- value helpers shared by both evaluators ---------------------------------------------------


def _as_number(text: str | None) -> int | float | None:
    if text is None:
        return None
    s = text.strip()
    try:
        return int(s, 0) if s[:2].lower() == "0x" else int(s)
    except ValueError:
        pass
    try:
        return float(s)
    except ValueError:
        return None


def _number_eq(value: int | float) -> Callable[[str | None], bool]:
    spelled = str(value)

    def test(text: str | None) -> bool:
        if text is None:
            return False
        return text == spelled or _as_number(text) == value

    return test


_COMPARE: Final[dict[str, Callable[[Any, Any], bool]]] = {
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "neq": lambda a, b: a != b,
}


def _compare(op: str, value: int | float) -> Callable[[str | None], bool]:
    cmp = _COMPARE[op]

    def test(text: str | None) -> bool:
        number = _as_number(text)
        return number is not None and cmp(number, value)

    return test


def _cidr(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> Callable[[str | None], bool]:
    def test(text: str | None) -> bool:
        if text is None:
            return False
        try:
            return ipaddress.ip_address(text.strip()) in network
        except ValueError:
            return False

    return test


def _keyword(node: Str | Glob | Regex) -> Callable[[Mapping[str, str], Mapping[str, str]], bool]:
    single = compile_predicate(node)

    def test(v: Mapping[str, str], lowered: Mapping[str, str]) -> bool:
        # The leaf reads field "": offer it each value in turn.
        return any(
            single({"": a}, {"": b}) for a, b in zip(v.values(), lowered.values(), strict=True)
        )

    return test


# -- code generation -----------------------------------------------------------------------


#: Up to this many alternatives, a chain of ``in`` tests beats a regex.
_CHAIN_MAX: Final = 6


def trie_regex(words: Iterable[str]) -> str:
    """A regex matching any of ``words`` (non-empty), alternatives factored by prefix."""
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict[str, Any]) -> str:
        optional = "" in node
        alternatives = [re.escape(ch) + build(sub) for ch, sub in sorted(node.items()) if ch]
        if not alternatives:
            return ""
        body = alternatives[0] if len(alternatives) == 1 else "(?:" + "|".join(alternatives) + ")"
        return f"(?:{body})?" if optional else body

    return build(trie)


class _FirstCall:
    """``re.compile(pattern, flags).<method>``, compiled on the first call, which then puts the
    compiled method in its own place in the predicate's namespace: later calls go straight to
    it. Compiling a rule's regular expressions (its own, its globs, the tries of its long lists)
    is most of what making its predicate costs, and most are never reached: a test before
    them fails first (a rule on one image never reads the command line of another's)."""

    __slots__ = ("_flags", "_method", "_name", "_namespace", "_pattern")

    def __init__(
        self, pattern: str, flags: int, method: str, namespace: dict[str, object], name: str
    ) -> None:
        self._pattern, self._flags, self._method = pattern, flags, method
        self._namespace, self._name = namespace, name

    def __call__(self, text: str) -> re.Match[str] | None:
        compiled: Callable[[str], re.Match[str] | None]
        compiled = getattr(re.compile(self._pattern, self._flags), self._method)
        self._namespace[self._name] = compiled
        return compiled(text)


class _Gen:
    """Writes one predicate's source; values and helpers go into its namespace (:attr:`consts`,
    where the function is defined) as ``k<n>``."""

    def __init__(self) -> None:
        self.consts: dict[str, object] = {}
        self.lowered: dict[str, str] = {}
        self.original: dict[str, str] = {}

    def const(self, value: object) -> str:
        name = f"k{len(self.consts)}"
        self.consts[name] = value
        return name

    def regex(self, pattern: str, flags: int, method: str) -> str:
        """The name of ``re.compile(pattern, flags).<method>`` (compiled on its first call)."""
        name = f"k{len(self.consts)}"
        self.consts[name] = _FirstCall(pattern, flags, method, self.consts, name)
        return name

    def low(self, field: str) -> str:
        return self.lowered.setdefault(field, f"a{len(self.lowered)}")

    def orig(self, field: str) -> str:
        return self.original.setdefault(field, f"b{len(self.original)}")

    def var(self, field: str, cased: bool) -> str:
        return self.orig(field) if cased else self.low(field)

    # The grouped forms: alternatives of one field and kind become one test.
    def strs(self, items: list[Str], any_of: bool) -> str:
        first = items[0]
        x = self.var(first.field, first.cased)
        texts = [i.text for i in items]
        if first.kind == "eq":
            if any_of:
                return f"({x} in {self.const(frozenset(texts))})"
            return "(" + " and ".join(f"{x} == {t!r}" for t in texts) + ")"
        if first.kind in ("startswith", "endswith"):
            if any_of:
                return f"({x} is not None and {x}.{first.kind}({tuple(texts)!r}))"
            tests = " and ".join(f"{x}.{first.kind}({t!r})" for t in texts)
            return f"({x} is not None and {tests})"
        if not any_of:
            return f"({x} is not None and " + " and ".join(f"{t!r} in {x}" for t in texts) + ")"
        return f"({x} is not None and {self.contains_any(x, texts)})"

    def contains_any(self, x: str, texts: list[str]) -> str:
        """``x`` contains one of ``texts``: one test for many alternatives.

        A chain of ``in`` tests costs one scan of the value per alternative (12 us for a
        hundred hashes). Single characters become one set test; longer lists a regex whose
        alternatives share their prefixes (a trie), which the regex engine scans for once.
        Characters beyond U+FFFF defeat the regex engine's first-character scan, so lists
        holding them test a set of first characters before the chain.
        """
        tests: list[str] = []
        singles = frozenset(t for t in texts if len(t) == 1)
        multi = sorted({t for t in texts if len(t) != 1})
        if singles:
            tests.append(f"not {self.const(singles)}.isdisjoint({x})")
        if "" in multi:
            return "True"  # contains "": any present value
        if len(multi) <= _CHAIN_MAX:
            tests += [f"{t!r} in {x}" for t in multi]
        elif all(ord(c) <= 0xFFFF for t in multi for c in t):
            search = self.regex(trie_regex(multi), re.DOTALL, "search")
            tests.append(f"{search}({x}) is not None")
        else:
            first = self.const(frozenset(t[0] for t in multi))
            chain = " or ".join(f"{t!r} in {x}" for t in multi)
            tests.append(f"(not {first}.isdisjoint({x}) and ({chain}))")
        return "(" + " or ".join(tests) + ")"

    def leaf(self, n: Leaf) -> str:
        if isinstance(n, Str):
            return self.strs([n], True)
        if isinstance(n, Glob):
            x = self.var(n.field, n.cased)
            match = self.regex(n.pattern, re.DOTALL, "fullmatch")
            return f"({x} is not None and {match}({x}) is not None)"
        if isinstance(n, Regex):
            x = self.orig(n.field)
            search = self.regex(n.pattern, n.flags, "search")
            if not n.required:
                return f"({x} is not None and {search}({x}) is not None)"
            lowered = self.low(n.field)
            needs = " and ".join(f"{t!r} in {lowered}" for t in n.required)
            return f"({lowered} is not None and {needs} and {search}({x}) is not None)"
        if isinstance(n, Null):
            return f"({self.orig(n.field)} is None)"
        if isinstance(n, Exists):
            return f"({self.orig(n.field)} is {'not ' if n.present else ''}None)"
        if isinstance(n, FieldRef):
            a, b = self.low(n.field), self.low(n.other)
            test = {
                "eq": f"{a} == {b}",
                "startswith": f"{a}.startswith({b})",
                "endswith": f"{a}.endswith({b})",
                "contains": f"{b} in {a}",
            }[n.kind]
            return f"({a} is not None and {b} is not None and {test})"
        if isinstance(n, Number):
            return f"{self.const(_number_eq(n.value))}({self.orig(n.field)})"
        if isinstance(n, Compare):
            return f"{self.const(_compare(n.op, n.value))}({self.orig(n.field)})"
        if isinstance(n, Cidr):
            return f"{self.const(_cidr(n.network))}({self.orig(n.field)})"
        if isinstance(n, Bool):
            x = self.low(n.field)
            words = ("true", "1") if n.value else ("false", "0")
            return f"({x} in {words!r})"
        return f"{self.const(_keyword(n.node))}(v, l)"

    def expr(self, node: Node) -> str:
        if isinstance(node, Const):
            return "True" if node.value else "False"
        if isinstance(node, Not):
            return f"(not {self.expr(node.item)})"
        if isinstance(node, And | Or):
            any_of = isinstance(node, Or)
            parts: list[str] = []
            group: list[Str] = []
            for item in node.items:
                if group and not (
                    isinstance(item, Str)
                    and (item.field, item.kind, item.cased)
                    == (group[0].field, group[0].kind, group[0].cased)
                ):
                    parts.append(self.strs(group, any_of))
                    group = []
                if isinstance(item, Str):
                    group.append(item)
                else:
                    parts.append(self.expr(item))
            if group:
                parts.append(self.strs(group, any_of))
            if not parts:
                return "False" if any_of else "True"
            return "(" + (" or " if any_of else " and ").join(parts) + ")"
        return self.leaf(node)


def compile_predicate(node: Node, name: str = "rule") -> Predicate:
    """One Python function for the tree: ``p(view, lowered_view) -> bool`` (two-valued)."""
    gen = _Gen()
    body = gen.expr(node)
    lines = ["def p(v, l):"]
    lines += [f"    {var} = l.get({field!r})" for field, var in gen.lowered.items()]
    lines += [f"    {var} = v.get({field!r})" for field, var in gen.original.items()]
    lines.append(f"    return {body}")
    exec(compile("\n".join(lines), f"<sigma {name}>", "exec"), gen.consts)
    predicate: Predicate = gen.consts["p"]  # type: ignore[assignment]
    return predicate


# -- three-valued logic ----------------------------------------------------------------------

#: Kleene's third value. True and False are themselves.
UNKNOWN: Final = None


def evaluate3(
    node: Node,
    v: Mapping[str, str],
    lowered: Mapping[str, str],
    known: Callable[[str], bool],
    leaf_predicate: Callable[[Leaf], Predicate],
) -> bool | None:
    """The tree's value for one view, with a leaf on a field that is absent and not ``known``
    (not carried by the source) unknown (``None``). ``leaf_predicate`` gives a leaf's compiled
    two-valued test (cached by the caller)."""
    if isinstance(node, Const):
        return node.value
    if isinstance(node, Not):
        inner = evaluate3(node.item, v, lowered, known, leaf_predicate)
        return None if inner is None else not inner
    if isinstance(node, And):
        result: bool | None = True
        for item in node.items:
            value = evaluate3(item, v, lowered, known, leaf_predicate)
            if value is False:
                return False
            if value is None:
                result = None
        return result
    if isinstance(node, Or):
        result = False
        for item in node.items:
            value = evaluate3(item, v, lowered, known, leaf_predicate)
            if value is True:
                return True
            if value is None:
                result = None
        return result
    for field in leaf_fields(node):
        if field not in v and not known(field):
            return UNKNOWN
    return leaf_predicate(node)(v, lowered)


def decided(node: Node, unknown: Callable[[str], bool], value: bool = True) -> Node:
    """A two-valued tree that is true exactly when :func:`evaluate3` gives ``node`` the
    ``value``, on views where the fields ``unknown`` names are unknown (absent, and outside
    the source's schema) and every other field is known.

    Kleene's logic, written out: a leaf on an unknown field is neither true nor false (both
    questions become ``Const(False)``); ``not x`` is true when ``x`` is false; ``a and b`` is
    true when both are, false when either is; ``a or b`` the other way round. What remains
    tests known fields only, so it compiles (:func:`compile_predicate`) like any rule: the
    three-valued walk, done once per source instead of once per record. ``Const(False)`` means
    the rule can never be ``value`` on such views.
    """
    if isinstance(node, Const):
        return Const(node.value is value)
    if isinstance(node, Not):
        return decided(node.item, unknown, not value)
    if isinstance(node, And | Or):
        # "and" is true when all are true, false when any is false; "or" the other way.
        every = isinstance(node, And) is value
        parts = [decided(item, unknown, value) for item in node.items]
        return _simplified(parts, every)
    if any(unknown(f) for f in leaf_fields(node)):
        return Const(False)
    return node if value else Not(node)


def _simplified(parts: list[Node], every: bool) -> Node:
    """``And(parts)`` (``every``) or ``Or(parts)``, without constants that decide nothing."""
    decisive, neutral = (False, True) if every else (True, False)
    kept: list[Node] = []
    for part in parts:
        if isinstance(part, Const):
            if part.value is decisive:
                return part
            continue
        kept.append(part)
    if not kept:
        return Const(neutral)
    if len(kept) == 1:
        return kept[0]
    kind = And if every else Or
    return kind(flatten(kept, kind))


def achievable(node: Node, missing: Callable[[str], bool]) -> frozenset[bool | None]:
    """Which of True, False and unknown (``None``) the tree can evaluate to when every field
    for which ``missing`` is true is unknown and every other leaf may be true or false.

    Leaves are taken as independent, so this may over-approximate (never under-approximate)
    what is reachable.
    """
    if isinstance(node, Const):
        return frozenset({node.value})
    if isinstance(node, Not):
        return frozenset(None if x is None else not x for x in achievable(node.item, missing))
    if isinstance(node, And | Or):
        sets = [achievable(item, missing) for item in node.items]
        win, lose = (True, False) if isinstance(node, Or) else (False, True)
        out: set[bool | None] = set()
        if any(win in s for s in sets):
            out.add(win)
        if all(lose in s for s in sets):
            out.add(lose)
        if all((lose in s or None in s) for s in sets) and any(None in s for s in sets):
            out.add(None)
        return frozenset(out)
    if any(missing(f) for f in leaf_fields(node)):
        return frozenset({None})
    return frozenset({True, False})


def flatten(items: Iterable[Node], kind: type[And] | type[Or]) -> tuple[Node, ...]:
    """Children of ``kind`` nodes lifted into their parent: ``a or (b or c)`` is ``a or b or c``."""
    out: list[Node] = []
    for item in items:
        if isinstance(item, kind):
            out.extend(item.items)
        else:
            out.append(item)
    return tuple(out)
