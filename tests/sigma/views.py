"""Views made from rules: records built to match, or nearly match, each rule.

Real logs match few rules, so they exercise few paths of the engine. For each rule this makes
three views from the literals of its leaves (all of them, about half, about a third), with
their case shuffled, wrapped in other text, some fields blanked to ``""`` or ``-`` and the
negated parts sometimes satisfied too. Deterministic for a seed.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from correlog.sigma import SigmaRule, _ir


def _shuffle(text: str, rnd: random.Random) -> str:
    return "".join(c.upper() if rnd.random() < 0.3 else c for c in text)


def _fragment(leaf: _ir.Node, rnd: random.Random) -> str | None:
    if isinstance(leaf, _ir.Str):
        text = leaf.text if leaf.cased else _shuffle(leaf.text, rnd)
        return {
            "eq": text,
            "contains": f"a {text} z",
            "startswith": f"{text} z",
            "endswith": f"a\\{text}",
        }[leaf.kind]
    if isinstance(leaf, _ir.Glob):
        return "q".join(leaf.literals)
    if isinstance(leaf, _ir.Regex):
        return " ".join(leaf.required) or "x"
    return None


def _leaves(node: _ir.Node, rnd: random.Random, keep: float) -> Iterator[_ir.Node]:
    if isinstance(node, _ir.And | _ir.Or):
        for item in node.items:
            yield from _leaves(item, rnd, keep)
    elif isinstance(node, _ir.Not):
        if rnd.random() < 0.5:
            yield from _leaves(node.item, rnd, keep)
    elif rnd.random() < keep:
        yield node


def views_for(rule: SigmaRule, rnd: random.Random) -> list[dict[str, str]]:
    """Three views aimed at ``rule``."""
    out = []
    for keep in (1.0, 0.6, 0.3):
        view: dict[str, str] = {}
        for leaf in _leaves(rule.tree, rnd, keep):
            fragment = _fragment(leaf, rnd)
            field = getattr(leaf, "field", "")
            if fragment is None or not field:
                continue
            if isinstance(leaf, _ir.Str) and leaf.kind == "eq":
                view[field] = fragment
            elif rnd.random() < 0.7:
                view[field] = (view.get(field, "") + " " + fragment).strip()
            else:
                view[field] = fragment
        if view and rnd.random() < 0.2:
            view[rnd.choice(sorted(view))] = rnd.choice(["", "-"])
        out.append(view)
    return out


def views_for_all(rules: list[SigmaRule], seed: int = 5) -> list[dict[str, str]]:
    """Three views per rule, in the rules' order."""
    rnd = random.Random(seed)
    return [view for rule in rules for view in views_for(rule, rnd)]
