"""Saved state: a correlator cut anywhere, saved and restored, goes on as if never cut.

The uncut run of the reference correlator is the oracle: the records of the first part plus
those of the restored correlator must be exactly the reference's, and so must the counters.
The state goes through JSON text on the way, as a checkpoint stores it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from correlog import Correlator, StateError
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
