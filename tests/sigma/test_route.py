"""Routing: a record is asked only about the rules its log source can satisfy, each through one
compiled test per source, and the answers are those of asking every rule the plain way."""

from __future__ import annotations

import random
import re
from collections.abc import Mapping

import pytest
from hypothesis import given
from hypothesis import strategies as st

from correlog.sigma import RuleSet, SigmaRule, _ir
from correlog.sigma._route import ANY_LOG
from correlog.sigma._rules import _leaf_predicate
from correlog.sigma.view import EVENT_FIELDS

from .records import sysmon_record
from .views import views_for_all

FIELDS = ("A", "B", "C", "D")
_texts = st.sampled_from(["", "x", "xy", "yx", "y"])

leaves = st.one_of(
    st.builds(_ir.Str, st.sampled_from(FIELDS), st.sampled_from(["eq", "contains"]), _texts),
    st.builds(_ir.Null, st.sampled_from(FIELDS)),
    st.builds(_ir.Exists, st.sampled_from(FIELDS), st.booleans()),
    st.builds(_ir.Const, st.booleans()),
    st.builds(_ir.FieldRef, st.sampled_from(FIELDS), st.sampled_from(FIELDS)),
)
trees = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.builds(_ir.Not, inner),
        st.lists(inner, min_size=1, max_size=4).map(lambda xs: _ir.And(tuple(xs))),
        st.lists(inner, min_size=1, max_size=4).map(lambda xs: _ir.Or(tuple(xs))),
    ),
    max_leaves=12,
)
views = st.dictionaries(st.sampled_from(FIELDS), _texts)


@given(trees, views, st.sets(st.sampled_from(FIELDS)), st.booleans())
def test_the_decided_tree_answers_as_the_three_valued_walk(
    tree: _ir.Node, view: dict[str, str], unknown: set[str], value: bool
) -> None:
    view = {k: v for k, v in view.items() if k not in unknown}  # unknown fields are absent
    lowered = {k: v.lower() for k, v in view.items()}
    known = frozenset(FIELDS) - unknown
    walked = _ir.evaluate3(tree, view, lowered, known.__contains__, _leaf_predicate)
    decided = _ir.decided(tree, unknown.__contains__, value)
    assert _ir.compile_predicate(decided)(view, lowered) is (walked is value)
    if decided == _ir.Const(False):  # "cannot be `value`" is never said of a view that is
        assert walked is not value


@given(trees)
def test_fields_of_names_every_field_a_leaf_reads(tree: _ir.Node) -> None:
    leaves = [n for n in _ir.walk(tree) if not isinstance(n, _ir.And | _ir.Or | _ir.Not)]
    expected = {f for n in leaves if not isinstance(n, _ir.Const) for f in _ir.leaf_fields(n)}
    assert _ir.fields_of(tree) == expected


def _rule(rule_id: str, service: str | None) -> SigmaRule:
    logsource = {"category": "process_creation", "product": "windows"}
    if service:
        logsource["service"] = service
    return SigmaRule.from_dict(
        {
            "title": f"cmd from {service}",
            "id": rule_id,
            "logsource": logsource,
            "detection": {"sel": {"Image|endswith": "\\cmd.exe"}, "condition": "sel"},
        }
    )


def test_a_rule_for_one_log_matches_only_that_logs_records() -> None:
    rules = RuleSet(
        [
            _rule("00000000-0000-4000-8000-000000000001", None),
            _rule("00000000-0000-4000-8000-000000000002", "sysmon"),
            _rule("00000000-0000-4000-8000-000000000003", "security"),
        ]
    )
    sysmon = sysmon_record(image="C:\\Windows\\cmd.exe")
    security = sysmon._replace(channel=None, provenance=(4688, 7))
    assert [r.service for r in rules.match(sysmon)] == [None, "sysmon"]
    assert [r.service for r in rules.match(security)] == [None, "security"]
    assert [r(security) is not None for r in rules] == [True, False, True]
    # A view with no record: of any log.
    assert len(rules.match_view({"Image": "C:\\cmd.exe"}, schema=EVENT_FIELDS["sysmon", 1])) == 3
    with pytest.raises(Exception, match="is not windows process_creation"):
        _rule("00000000-0000-4000-8000-000000000004", "powershell")


#: The sources a record can come from: (channel, the schema of its events).
SOURCES = [
    ("sysmon", EVENT_FIELDS["sysmon", 1]),
    (None, EVENT_FIELDS[None, 4688]),
    (None, EVENT_FIELDS[None, 592] | EVENT_FIELDS[None, 593]),
    (None, EVENT_FIELDS[None, 592] | EVENT_FIELDS[None, 600]),
    (ANY_LOG, frozenset()),
]


def _matched(
    rules: RuleSet, view: Mapping[str, str], schema: frozenset[str], channel: str | None
) -> list[int]:
    lowered = {k: v.lower() for k, v in view.items()}
    return rules._match(view, lowered, schema, channel)


def test_routed_matching_equals_asking_every_rule(sigmahq: RuleSet) -> None:
    rnd = random.Random(11)
    made = views_for_all(list(sigmahq))
    matched = 0
    for view in rnd.sample(made, 400):
        channel, schema = rnd.choice(SOURCES)
        # Thin the view as a thin log would: some fields dropped (unknown unless in schema).
        thin = {k: v for k, v in view.items() if rnd.random() < 0.7}
        for seen in (view, thin):
            found = _matched(sigmahq, seen, schema, channel)
            assert found == sigmahq._reference(seen, schema, channel), (channel, seen)
            matched += len(found)
    assert matched > 100  # the views were made to match: a check that saw none proves nothing


def test_a_4688_record_is_asked_only_what_its_log_can_answer(sigmahq: RuleSet) -> None:
    record = sysmon_record(channel=None, provenance=(4688, 1), extra=None)
    view = {"Image": record.image or "", "ProcessId": "1"}
    schema = EVENT_FIELDS[None, 4688]
    plan = sigmahq._router.plan(None, schema, view)
    possible = plan.possible()
    # Most SigmaHQ rules need a command line, hashes or an original file name: not these.
    assert 0 < len(possible) < len(sigmahq) // 2
    for i in range(len(sigmahq)):
        if i not in possible:
            rule = sigmahq.rules[i]
            unknown = rule.fields - schema - set(view)
            assert True not in _ir.achievable(rule.tree, unknown.__contains__), rule.title


_words = st.text(alphabet="abxy.\\", min_size=1, max_size=4)


@given(
    st.sampled_from([r"a.x", r"^x", r"(ab|y)\\", r"y$"]),
    st.lists(_words, min_size=7, max_size=12, unique=True),
    st.lists(st.text(alphabet="abxyAB.\\", max_size=8), min_size=1, max_size=5),
)
def test_regular_expressions_compiled_on_first_use_answer_every_call_alike(
    pattern: str, words: list[str], values: list[str]
) -> None:
    # A predicate's regexes (its own, a glob's, a long list's trie) are compiled on their first
    # call: the first and every later call answer as the expression itself.
    regex = _ir.compile_predicate(_ir.Regex("A", pattern))
    glob = _ir.compile_predicate(_ir.Glob("A", "a.*x", ("a", "x")))
    trie = _ir.compile_predicate(_ir.Or(tuple(_ir.Str("A", "contains", w) for w in words)))
    for value in values * 2:
        view, lowered = {"A": value}, {"A": value.lower()}
        assert regex(view, lowered) is (re.search(pattern, value) is not None)
        assert glob(view, lowered) is (re.fullmatch("a.*x", value.lower(), re.DOTALL) is not None)
        assert trie(view, lowered) is any(w in value.lower() for w in words)
