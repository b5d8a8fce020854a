"""Compiled rules as plain data (lists, dicts, strings, numbers) and back, checked on the way in.

This is what the rule cache (:mod:`._cache`) stores: each rule's metadata and condition tree,
the load report and the index's keys. Nothing executable is stored: reading it back builds
:mod:`._ir` nodes from checked values, and the rules' predicates are generated again from those
nodes by :func:`~correlog.sigma._ir.compile_predicate`, exactly as when the rules were compiled
from YAML. A value of the wrong type, an unknown node or kind, an index out of range: each
raises :class:`BadPlainData`, and the caller compiles the rules afresh.

A node is a list: its tag, then its values in field order (``["str", "Image", "endswith",
"\\\\cmd.exe", false]``); ``and``/``or`` hold a list of nodes, ``not`` and ``keyword`` one node.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Sequence
from itertools import chain
from typing import Any, Final

import attrs

from . import _ir
from ._index import KINDS, Tables

__all__ = ["BadPlainData", "node_from_plain", "node_to_plain", "tables_from_plain"]


class BadPlainData(ValueError):
    """Plain data that is not what :func:`node_to_plain` (or the cache) writes."""


def _text(value: object) -> str:
    if type(value) is not str:
        raise BadPlainData(f"expected text, not {type(value).__name__}")
    return value


def _texts(value: object) -> tuple[str, ...]:
    if type(value) is not list or not all(type(v) is str for v in value):
        raise BadPlainData("expected a list of texts")
    return tuple(value)


def _bad(data: list[Any]) -> BadPlainData:
    return BadPlainData(f"bad {data[0]!r} node: {data!r:.200}")


_STR_KINDS: Final = frozenset({"eq", "contains", "startswith", "endswith"})
_OPS: Final = frozenset({"lt", "lte", "gt", "gte", "neq"})
#: The only regex flags a rule's ``|re`` modifiers set (``i``, ``m``, ``s``).
_RE_FLAGS: Final = re.IGNORECASE | re.MULTILINE | re.DOTALL
_NUMBER: Final = (int, float)


# One function per tag, each checking every value's type before building the node: loading
# SigmaHQ's rules decodes 21,000 nodes, so the checks are written out, not generic.


def _str(data: list[Any]) -> _ir.Node:
    _, field, kind, text, cased = data
    if type(field) is not str or kind not in _STR_KINDS or type(text) is not str:
        raise _bad(data)
    if type(cased) is not bool:
        raise _bad(data)
    return _ir.Str(field, kind, text, cased)


def _glob(data: list[Any]) -> _ir.Node:
    _, field, pattern, literals, cased = data
    if type(field) is not str or type(pattern) is not str or type(cased) is not bool:
        raise _bad(data)
    return _ir.Glob(field, pattern, _texts(literals), cased)


def _regex(data: list[Any]) -> _ir.Node:
    _, field, pattern, flags, required = data
    if type(field) is not str or type(pattern) is not str:
        raise _bad(data)
    if type(flags) is not int or flags & ~_RE_FLAGS:
        raise _bad(data)
    return _ir.Regex(field, pattern, flags, _texts(required))


def _null(data: list[Any]) -> _ir.Node:
    _, field = data
    return _ir.Null(_text(field))


def _exists(data: list[Any]) -> _ir.Node:
    _, field, present = data
    if type(present) is not bool:
        raise _bad(data)
    return _ir.Exists(_text(field), present)


def _fieldref(data: list[Any]) -> _ir.Node:
    _, field, other, kind = data
    if kind not in _STR_KINDS:
        raise _bad(data)
    return _ir.FieldRef(_text(field), _text(other), kind)


def _number(data: list[Any]) -> _ir.Node:
    _, field, value = data
    if type(value) not in _NUMBER:
        raise _bad(data)
    return _ir.Number(_text(field), value)


def _compare(data: list[Any]) -> _ir.Node:
    _, field, op, value = data
    if op not in _OPS or type(value) not in _NUMBER:
        raise _bad(data)
    return _ir.Compare(_text(field), op, value)


def _cidr(data: list[Any]) -> _ir.Node:
    _, field, network = data
    try:
        return _ir.Cidr(_text(field), ipaddress.ip_network(_text(network)))
    except ValueError as exc:
        raise BadPlainData(str(exc)) from None


def _bool(data: list[Any]) -> _ir.Node:
    _, field, value = data
    if type(value) is not bool:
        raise _bad(data)
    return _ir.Bool(_text(field), value)


def _and(data: list[Any]) -> _ir.Node:
    _, items = data
    if type(items) is not list:
        raise _bad(data)
    return _ir.And(tuple(map(node_from_plain, items)))


def _or(data: list[Any]) -> _ir.Node:
    _, items = data
    if type(items) is not list:
        raise _bad(data)
    return _ir.Or(tuple(map(node_from_plain, items)))


def _not(data: list[Any]) -> _ir.Node:
    _, item = data
    return _ir.Not(node_from_plain(item))


def _const(data: list[Any]) -> _ir.Node:
    _, value = data
    if type(value) is not bool:
        raise _bad(data)
    return _ir.Const(value)


def _keyword(data: list[Any]) -> _ir.Node:
    _, item = data
    inner = node_from_plain(item)
    if not isinstance(inner, _ir.Str | _ir.Glob | _ir.Regex):
        raise BadPlainData("a keyword holds a string, glob or regex node")
    return _ir.Keyword(inner)


_DECODE: Final[dict[str, Callable[[list[Any]], _ir.Node]]] = {
    "str": _str,
    "glob": _glob,
    "regex": _regex,
    "null": _null,
    "exists": _exists,
    "fieldref": _fieldref,
    "number": _number,
    "compare": _compare,
    "cidr": _cidr,
    "bool": _bool,
    "and": _and,
    "or": _or,
    "not": _not,
    "const": _const,
    "keyword": _keyword,
}
_TAGS: Final[dict[type, str]] = {
    _ir.Str: "str",
    _ir.Glob: "glob",
    _ir.Regex: "regex",
    _ir.Null: "null",
    _ir.Exists: "exists",
    _ir.FieldRef: "fieldref",
    _ir.Number: "number",
    _ir.Compare: "compare",
    _ir.Cidr: "cidr",
    _ir.Bool: "bool",
}


def _plain_value(value: object) -> object:
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, ipaddress.IPv4Network | ipaddress.IPv6Network):
        return str(value)
    if isinstance(value, re.RegexFlag):
        return int(value)
    return value


def node_to_plain(node: _ir.Node) -> list[Any]:
    """A tree as plain data (see the module docs)."""
    if isinstance(node, _ir.And | _ir.Or):
        tag = "and" if isinstance(node, _ir.And) else "or"
        return [tag, [node_to_plain(n) for n in node.items]]
    if isinstance(node, _ir.Not):
        return ["not", node_to_plain(node.item)]
    if isinstance(node, _ir.Const):
        return ["const", node.value]
    if isinstance(node, _ir.Keyword):
        return ["keyword", node_to_plain(node.node)]
    values = attrs.astuple(node, recurse=False)
    return [_TAGS[type(node)], *(_plain_value(v) for v in values)]


def node_from_plain(data: object) -> _ir.Node:
    """The tree :func:`node_to_plain` wrote; :class:`BadPlainData` for anything else."""
    if type(data) is not list or not data or type(data[0]) is not str:
        raise BadPlainData(f"a node is a list starting with its tag, not {data!r:.100}")
    decode = _DECODE.get(data[0])
    if decode is None:
        raise BadPlainData(f"unknown node {data[0]!r}")
    try:
        return decode(data)
    except ValueError as exc:  # too many or too few values to unpack
        if isinstance(exc, BadPlainData):
            raise
        raise BadPlainData(f"bad {data[0]!r} node: {exc}") from None


def tables_from_plain(data: object, size: int) -> Tables:
    """The index's keys (:attr:`RuleIndex.tables`), checked: known kinds, indices below
    ``size``. The mappings and lists are taken as they are (freshly parsed, nobody else's),
    and checked in bulk: the index of SigmaHQ's rules holds 6,000 keys and 20,000 indices."""
    if type(data) is not dict:
        raise BadPlainData("the index is a mapping")
    lists: list[object] = []
    for field, kinds in data.items():
        if type(kinds) is not dict:
            raise BadPlainData("an index field is a mapping")
        _text(field)
        for kind, keys in kinds.items():
            if kind not in KINDS or type(keys) is not dict:
                raise BadPlainData(f"unknown index kind {kind!r}")
            lists.extend(keys.values())
    if not {list}.issuperset(map(type, lists)):
        raise BadPlainData("an index key names a list of rules")
    indices(list(chain.from_iterable(lists)), size)  # type: ignore[arg-type]
    return data


def indices(data: object, size: int) -> list[int]:
    """A list of rule indices, each in ``range(size)``."""
    # Types by set, bounds by min and max: the index holds 20,000 of them.
    if type(data) is not list or not {int}.issuperset(map(type, data)):
        raise BadPlainData(f"bad rule indices (there are {size} rules)")
    if data and (min(data) < 0 or max(data) >= size):
        raise BadPlainData(f"bad rule indices (there are {size} rules)")
    return list(data)


def optional_text(value: object) -> str | None:
    """Text or None."""
    return None if value is None else _text(value)


def expect_keys(data: object, keys: Sequence[str]) -> dict[str, Any]:
    """A mapping with exactly ``keys``."""
    if type(data) is not dict or sorted(data) != sorted(keys):
        raise BadPlainData(f"expected a mapping of {', '.join(keys)}")
    return data
