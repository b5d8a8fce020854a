"""Saved state: a correlator cut anywhere, saved and restored, goes on as if never cut.

The uncut run of the reference correlator is the oracle: the records of the first part plus
those of the restored correlator must be exactly the reference's, and so must the counters.
The state goes through JSON text on the way, as a checkpoint stores it.
"""

from __future__ import annotations

import json
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from correlog import Correlator, EventKind, HostEventKind, Layout, Reason, StateError, Status
from correlog.testing import ReferenceCorrelator, created, exited, token

from .strategies import correlator_calls, correlator_settings


def _run(corr: Any, calls: list[tuple[Any, ...]]) -> list[Any]:
    answers = []
    for verb, *args in calls:
        try:
            answers.append(("ok", getattr(corr, verb)(*args)))
        except Exception as exc:
            answers.append((type(exc).__name__, getattr(exc, "records", None)))
    return answers


@settings(max_examples=150)
@given(options=correlator_settings, calls=correlator_calls(), data=st.data())
def test_cut_save_restore_gives_the_uncut_records(
    options: dict[str, Any], calls: list[tuple[Any, ...]], data: st.DataObject
) -> None:
    cut = data.draw(st.integers(0, len(calls)), label="cut")
    want = _run(ReferenceCorrelator(**options), calls)
    first = Correlator(**options)
    got = _run(first, calls[:cut])
    saved = json.loads(json.dumps(first.state()))
    restored = Correlator.from_state(saved)
    got += _run(restored, calls[cut:])
    assert got == want
    reference = ReferenceCorrelator(**options)
    _run(reference, calls)
    assert restored.stats == reference.stats
    assert restored.state() == json.loads(json.dumps(restored.state())), "plain data only"


def test_a_state_of_another_format_is_refused() -> None:
    state = Correlator().state()
    with pytest.raises(StateError, match="format"):
        Correlator.from_state({**state, "format": "correlog.correlator/0"})
    with pytest.raises(StateError):
        Correlator.from_state("not a state")


def test_a_damaged_state_is_refused_whole() -> None:
    corr = Correlator(ttl=60)
    corr.feed_many([created(8, 0, rn=1), token(8, 1, rn=2), created(12, 2, rn=3)])
    good = corr.state()
    damaged: list[dict[str, Any]] = [
        {**good, field: "garbage"} for field in ("logs", "open", "stats", "settings", "closed")
    ]
    damaged.append({**good, "memo": [["h", None]]})
    entry = dict(good["open"][0])
    damaged.append({**good, "open": [{**entry, "reason": "no such reason"}]})
    damaged.append({**good, "open": [entry, entry]})  # one process twice
    damaged.append({**good, "open": [{**entry, "host": "unknown"}]})
    # first seen after its log's clock: an entry takes the clock's time when it opens
    damaged.append({**good, "open": [{**entry, "first_seen": good["logs"][0]["clock"] + 1}]})
    for state in damaged:
        with pytest.raises(StateError):
            Correlator.from_state(state)
    restored = Correlator.from_state(good)
    (record,) = restored.feed(exited(8, 3, rn=4))
    assert record.provenance == (592, 1, 600, 2, 593, 4)


def test_a_restored_monitor_does_not_alert_twice_and_still_alerts_once() -> None:
    from correlog import Monitor, SingleEventMonitor
    from correlog.rules import AnonymousWeb

    story = [created(2216, 0, rn=1), token(2216, 1, rn=2), exited(2216, 5, rn=3)]
    whole = Monitor([AnonymousWeb()]).feed_many(story)
    assert [a.event_id for a in whole] == [600]
    for cut in range(len(story) + 1):
        first = Monitor([AnonymousWeb()])
        got = first.feed_many(story[:cut])
        saved = json.loads(json.dumps(first.state()))
        second = Monitor.from_state([AnonymousWeb()], saved)
        got += second.feed_many(story[cut:]) + second.close()
        assert [a.event_id for a in got] == [600], cut
    single = SingleEventMonitor([AnonymousWeb()])
    assert len(single.feed_many(story[:2])) == 1
    restored = SingleEventMonitor.from_state([AnonymousWeb()], single.state())
    assert restored.feed(story[2]) == []  # the exit of a process that already alerted
    with pytest.raises(StateError):
        Monitor.from_state([AnonymousWeb()], single.state())


def _as_json(state: Any) -> str:
    from correlog._state import JSON_OPTIONS

    return json.dumps(state, **JSON_OPTIONS)


@settings(max_examples=100)
@given(options=correlator_settings, calls=correlator_calls())
def test_the_state_in_pieces_is_exactly_the_state_as_json_text(
    options: dict[str, Any], calls: list[tuple[Any, ...]]
) -> None:
    from correlog import Monitor
    from correlog.rules import AnonymousWeb

    correlator = Correlator(**options)
    monitor = Monitor([AnonymousWeb()], correlator=correlator)
    _run(monitor, calls)
    assert "".join(correlator.state_pieces()) == _as_json(correlator.state())
    assert "".join(monitor.state_pieces()) == _as_json(monitor.state())


def test_the_state_in_pieces_holds_fired_rules_and_alerted_processes() -> None:
    from correlog import Monitor, SingleEventMonitor
    from correlog.rules import AnonymousWeb

    story = [created(2216, 0, rn=1), token(2216, 1, rn=2), created(12, 2, rn=3)]
    for monitor in (Monitor([AnonymousWeb()]), SingleEventMonitor([AnonymousWeb()])):
        assert len(monitor.feed_many(story)) == 1
        text = "".join(monitor.state_pieces())
        assert text == _as_json(monitor.state())
        assert "2216" in text
    empty = SingleEventMonitor([AnonymousWeb()])
    assert "".join(empty.state_pieces()) == _as_json(empty.state())


_ENUM_VALUES = st.sampled_from(
    [*EventKind, *Status, *Reason, *Layout, *HostEventKind]  # every enum a field holds
)
_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(max_size=5), st.floats(), _ENUM_VALUES
)
_FIELD_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.tuples(inner, inner),
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(st.text(max_size=3), st.text(max_size=3)).map(MappingProxyType),
        st.dictionaries(st.text(max_size=3), st.text(max_size=3)),
        st.lists(inner, max_size=3),
    ),
    max_leaves=8,
)


def _typed(value: Any) -> Any:
    """``value`` with every container's and scalar's exact type, to compare beyond ``==``."""
    if isinstance(value, list | tuple):
        return (type(value), [_typed(v) for v in value])
    if isinstance(value, dict | MappingProxyType):
        return (type(value), {k: _typed(v) for k, v in value.items()})
    return (type(value), repr(value))


@given(value=_FIELD_VALUES)
def test_the_fast_plain_is_the_reference(value: Any) -> None:
    from correlog._state import _plain, _plain_reference

    assert _typed(_plain(value)) == _typed(_plain_reference(value))
