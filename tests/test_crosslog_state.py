"""The cross-log stage's saved state: cut anywhere, saved through JSON, restored, it goes on as
if never cut.

The uncut run is the oracle: the records the merger gave before each cut plus those the
restored merger gives after must be exactly the uncut run's, and so must its counters, the
clock offsets it reports, and what it holds at the end. The same for the alert merger. A state
of another format or a damaged one is refused whole with a :class:`~correlog.StateError`.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from correlog import Record, StateError
from correlog._crosslog import AlertMerger, LogMerger

from .test_crosslog import S, _alert, record, record_streams


def _through_json(state: dict[str, Any]) -> Any:
    return json.loads(json.dumps(state, allow_nan=False))


def _cuts(data: st.DataObject, length: int) -> list[int]:
    return sorted(data.draw(st.sets(st.integers(0, length), max_size=3), label="cuts"))


@settings(max_examples=400)
@given(
    records=record_streams,
    tolerance=st.sampled_from([0, S, 2 * S]),
    window=st.sampled_from([0, S, 5 * S, 10**15]),
    max_held=st.integers(0, 6),
    evidence_size=st.sampled_from([0, 2, 65_536]),
    data=st.data(),
)
def test_a_merger_cut_saved_and_restored_gives_the_uncut_records(
    records: list[Record],
    tolerance: int,
    window: int,
    max_held: int,
    evidence_size: int,
    data: st.DataObject,
) -> None:
    options: dict[str, Any] = {
        "tolerance": tolerance / S,
        "window": window / S,
        "max_held": max_held,
        "evidence_size": evidence_size,
    }
    uncut = LogMerger(**options)
    want = [uncut.feed(rec) for rec in records]
    cuts = set(_cuts(data, len(records)))
    merger = LogMerger(**options)
    got = []
    for at, rec in enumerate(records):
        if at in cuts:
            merger = LogMerger.from_state(_through_json(merger.state()))
        got.append(merger.feed(rec))
    if len(records) in cuts:
        merger = LogMerger.from_state(_through_json(merger.state()))
    assert got == want  # the same records, leaving at the same calls
    assert merger.stats == uncut.stats
    assert merger.offsets() == uncut.offsets()
    assert len(merger) == len(uncut)
    assert merger.state() == uncut.state()
    assert merger.close() == uncut.close()


@settings(max_examples=200)
@given(records=record_streams, size=st.integers(1, 5), data=st.data())
def test_an_alert_merger_cut_saved_and_restored_raises_the_uncut_alerts(
    records: list[Record], size: int, data: st.DataObject
) -> None:
    alerts = [_alert(rec, rule=rule) for rec in records for rule in ("r", "s")[: rec.pid // 4]]
    uncut = AlertMerger(size=size)
    want = [uncut.keep(alert) for alert in alerts]
    cuts = set(_cuts(data, len(alerts)))
    merger = AlertMerger(size=size)
    got = []
    for at, alert in enumerate(alerts):
        if at in cuts:
            merger = AlertMerger.from_state(_through_json(merger.state()))
        got.append(merger.keep(alert))
    assert got == want
    assert merger.merged == uncut.merged
    assert merger.state() == uncut.state()


def _busy_merger() -> LogMerger:
    """One record waiting, and a pair merged (its heap entry left behind)."""
    merger = LogMerger(window=10**6)
    merger.feed(record("sysmon", pid=4, end=None))
    merger.feed(record(None, pid=8, start=3600 * S, end=None))
    assert len(merger.feed(record("sysmon", pid=8, start=3600 * S + S // 2, end=None))) == 1
    assert len(merger) == 1
    return merger


def test_a_merger_state_of_another_format_is_refused() -> None:
    state = _busy_merger().state()
    with pytest.raises(StateError, match="format"):
        LogMerger.from_state({**state, "format": "correlog.log-merger/0"})
    with pytest.raises(StateError):
        LogMerger.from_state("not a state")
    alerts = AlertMerger().state()
    with pytest.raises(StateError, match="format"):
        AlertMerger.from_state({**alerts, "format": "correlog.alert-merger/9"})
    with pytest.raises(StateError, match="format"):
        LogMerger.from_state(alerts)  # the other stage's state


def test_a_damaged_merger_state_is_refused_whole() -> None:
    good = _through_json(_busy_merger().state())
    assert good["waiting"]
    assert good["due"]
    waiting = dict(good["waiting"][0])
    damaged: list[dict[str, Any]] = [
        {**good, field: "garbage"}
        for field in ("settings", "stats", "waiting", "due", "clocks", "recent", "seq")
    ]
    damaged += [
        {**good, "settings": {**good["settings"], "tolerance": -1}},
        {**good, "stats": {**good["stats"], "merged": "many"}},
        {**good, "stats": {**good["stats"], "unknown": 1}},
        {**good, "waiting": [{**waiting, "log": "application"}]},
        {**good, "waiting": [{**waiting, "log": "security"}]},  # a Sysmon record
        {**good, "waiting": [waiting, waiting]},  # one record twice
        {**good, "waiting": [{**waiting, "record": {**waiting["record"], "status": "odd"}}]},
        {**good, "waiting": [{**waiting, "record": {**waiting["record"], "pid": "4"}}]},
        {**good, "due": []},  # a waiting record that never comes due
        {**good, "due": [["ws1", [[1, waiting["seq"]]]]]},  # not its deadline
        {**good, "clocks": [["ws1", [["application", 1]]]]},
        {**good, "recent": [["ws1", 4, "x", "sysmon", "soon", None]]},
        {**good, "apart": [["ws1", [[1]]]]},
    ]
    for state in damaged:
        with pytest.raises(StateError):
            LogMerger.from_state(state)
    restored = LogMerger.from_state(good)
    (merged,) = restored.feed(record(None, pid=4, end=None))
    assert merged.events == (1, 4688)  # the waiting Sysmon record found its partner


def test_a_damaged_alert_merger_state_is_refused_whole() -> None:
    merger = AlertMerger()
    merger.keep(_alert(record("sysmon")))
    good = _through_json(merger.state())
    seen = good["seen"][0]
    damaged: list[dict[str, Any]] = [
        {**good, field: "garbage"} for field in ("settings", "merged", "seen")
    ]
    damaged += [
        {**good, "seen": [[seen[1]]]},
        {**good, "seen": [[seen[0], {**seen[1], "image": None}]]},
        {**good, "seen": [[seen[0], {**seen[1], "channel": "application"}]]},
    ]
    for state in damaged:
        with pytest.raises(StateError):
            AlertMerger.from_state(state)
    restored = AlertMerger.from_state(good)
    assert not restored.keep(_alert(record(None, start=100 * S + S // 2)))  # not raised again
