"""pySigma's parsed rules in, :mod:`._ir` trees out; anything it cannot run, named.

pySigma is imported here only, and only when a rule is loaded: correlog runs without it until
someone hunts with Sigma rules (``pip install 'correlog[sigma]'``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Final

from . import _ir
from ._ir import And, Node, Not, Or
from ._route import SERVICES

if TYPE_CHECKING:
    from sigma.rule import SigmaRule as PySigmaRule

__all__ = ["NotSupported", "condition_tree", "supported_logsource"]


class NotSupported(Exception):
    """A rule uses something the engine cannot evaluate; the message says what."""


_SIGMA_FLAGS: Final = {"IGNORECASE": re.IGNORECASE, "MULTILINE": re.MULTILINE, "DOTALL": re.DOTALL}
_OPS: Final = {"LT": "lt", "LTE": "lte", "GT": "gt", "GTE": "gte", "NEQ": "neq"}


def supported_logsource(rule: PySigmaRule) -> str | None:
    """Why the rule's log source is not one correlog's records stand for; None when it is."""
    source = rule.logsource
    if (
        source.category == "process_creation"
        and source.product in (None, "windows")
        and source.service in (None, *SERVICES)
    ):
        return None
    return (
        f"log source (category={source.category}, product={source.product}, "
        f"service={source.service}) is not windows process_creation"
    )


def condition_tree(rule: PySigmaRule) -> Node:
    """The rule's conditions (several are OR-ed, as Sigma says) as one tree."""
    trees = [_node(condition.parsed) for condition in rule.detection.parsed_condition]
    return trees[0] if len(trees) == 1 else Or(_ir.flatten(trees, Or))


def _node(cond: Any) -> Node:
    from sigma.conditions import (
        ConditionAND,
        ConditionFieldEqualsValueExpression,
        ConditionNOT,
        ConditionOR,
        ConditionValueExpression,
    )

    if isinstance(cond, ConditionAND):
        return And(_ir.flatten((_node(a) for a in cond.args), And))
    if isinstance(cond, ConditionOR):
        return Or(_ir.flatten((_node(a) for a in cond.args), Or))
    if isinstance(cond, ConditionNOT):
        return Not(_node(cond.args[0]))
    if isinstance(cond, ConditionFieldEqualsValueExpression):
        return _value(cond.field, cond.value)
    if isinstance(cond, ConditionValueExpression):
        return _keyword(cond.value)
    if cond is None:
        raise NotSupported("a detection is empty")
    raise NotSupported(f"condition element {type(cond).__name__}")


def _keyword(value: Any) -> Node:
    from sigma.types import SigmaExpansion, SigmaRegularExpression, SigmaString

    if isinstance(value, SigmaExpansion):
        return Or(tuple(_keyword(v) for v in value.values))
    if isinstance(value, SigmaString | SigmaRegularExpression):
        if isinstance(value, SigmaString):
            # A keyword is found anywhere in a value, as full-text search finds it.
            value = _wrap_contains(value)
        node = _value("", value)
        assert isinstance(node, _ir.Str | _ir.Glob | _ir.Regex)
        return _ir.Keyword(node)
    raise NotSupported(f"keyword value of type {type(value).__name__}")


def _wrap_contains(value: Any) -> Any:
    from sigma.types import SpecialChars

    if not value.startswith(SpecialChars.WILDCARD_MULTI):
        value = SpecialChars.WILDCARD_MULTI + value
    if not value.endswith(SpecialChars.WILDCARD_MULTI):
        value = value + SpecialChars.WILDCARD_MULTI
    return value


def _value(field: str, value: Any) -> Node:
    from sigma.types import (
        SigmaBool,
        SigmaCasedString,
        SigmaCIDRExpression,
        SigmaCompareExpression,
        SigmaExists,
        SigmaExpansion,
        SigmaFieldReference,
        SigmaNull,
        SigmaNumber,
        SigmaRegularExpression,
        SigmaString,
        SigmaTimestampPart,
    )

    if isinstance(value, SigmaExpansion):
        # windash, base64offset: alternatives, OR-ed even inside an |all list.
        return Or(_ir.flatten((_value(field, v) for v in value.values), Or))
    if isinstance(value, SigmaString):
        return _string(field, value, cased=isinstance(value, SigmaCasedString))
    if isinstance(value, SigmaRegularExpression):
        _no_placeholder(value.regexp)
        flags = 0
        for flag in value.flags:
            flags |= _SIGMA_FLAGS[flag.name]
        pattern = str(value.regexp)
        try:
            re.compile(pattern, flags)
        except re.error as exc:
            raise NotSupported(f"regular expression {pattern!r}: {exc}") from None
        return _ir.Regex(field, pattern, flags, _ir.required_literals(pattern, flags))
    if isinstance(value, SigmaNull):
        return _ir.Null(field)
    if isinstance(value, SigmaExists):
        return _ir.Exists(field, bool(value.exists))
    if isinstance(value, SigmaFieldReference):
        kind = (
            "contains"
            if value.starts_with and value.ends_with
            else "endswith"
            if value.ends_with
            else "startswith"
            if value.starts_with
            else "eq"
        )
        return _ir.FieldRef(field, value.field, kind)
    stamp = value.number if isinstance(value, SigmaCompareExpression) else value
    if isinstance(stamp, SigmaTimestampPart):
        raise NotSupported(
            f"timestamp part modifier |{stamp.timestamp_part.name.lower()}: "
            "the Sigma view carries no event time"
        )
    if isinstance(value, SigmaCompareExpression):
        return _ir.Compare(field, _OPS[value.op.name], value.number.number)
    if isinstance(value, SigmaNumber):
        return _ir.Number(field, value.number)
    if isinstance(value, SigmaCIDRExpression):
        return _ir.Cidr(field, value.network)
    if isinstance(value, SigmaBool):
        return _ir.Bool(field, value.boolean)
    raise NotSupported(f"value of type {type(value).__name__} on field {field}")


def _no_placeholder(value: Any) -> None:
    from sigma.types import Placeholder

    for part in value.s:
        if isinstance(part, Placeholder):
            raise NotSupported(
                f"placeholder %{part.name}% (|expand) needs a processing pipeline to fill it"
            )


def _string(field: str, value: Any, *, cased: bool) -> Node:
    from sigma.types import SpecialChars

    _no_placeholder(value)
    # Adjacent plain parts merged; runs of '*' collapsed (they mean the same).
    parts: list[str | SpecialChars] = []
    for part in value.s:
        if isinstance(part, str):
            text = part if cased else part.lower()
            if parts and isinstance(parts[-1], str):
                parts[-1] += text
            else:
                parts.append(text)
        elif not (part is SpecialChars.WILDCARD_MULTI and parts and parts[-1] is part):
            parts.append(part)
    multi, single = SpecialChars.WILDCARD_MULTI, SpecialChars.WILDCARD_SINGLE
    plain = [p for p in parts if isinstance(p, str)]
    if single not in parts and len(plain) <= 1:
        text = plain[0] if plain else ""
        starts, ends = bool(parts) and parts[0] is multi, bool(parts) and parts[-1] is multi
        if not (starts or ends):
            return _ir.Str(field, "eq", text, cased)
        if plain:
            kind = "contains" if starts and ends else "endswith" if starts else "startswith"
            return _ir.Str(field, kind, text, cased)
    pattern = "".join(
        re.escape(p) if isinstance(p, str) else ".*" if p is multi else "." for p in parts
    )
    return _ir.Glob(field, pattern, tuple(plain), cased)
