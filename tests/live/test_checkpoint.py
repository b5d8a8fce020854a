"""The checkpoint file: one transaction per batch, refused when unusable, a bounded outbox."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from correlog import Alert, UsageError, format_process_id
from correlog.live import FORMAT_VERSION, Checkpoint, CheckpointError, alert_id
from correlog.sinks import dumps

from .helpers import distinct_alerts, sample_alerts

#: A stand-in for the engine's saved state: any JSON-ready dict with a version of its own.
ENGINE: dict[str, Any] = {"version": 1, "open": [["web2k", 1452, None]], "alerted": []}

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text()
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


def test_a_fresh_file_loads_empty(tmp_path: Path) -> None:
    with Checkpoint(tmp_path / "state") as checkpoint:
        snapshot = checkpoint.load()
    assert snapshot.engine is None
    assert snapshot.positions == {}


def test_state_positions_and_outbox_survive_reopening(tmp_path: Path) -> None:
    alerts = sample_alerts()
    with Checkpoint(tmp_path / "state") as checkpoint:
        added = checkpoint.commit(engine=ENGINE, positions={"a.log": {"offset": 12}}, alerts=alerts)
    assert added == [alert_id(a) for a in alerts]
    with Checkpoint(tmp_path / "state") as checkpoint:
        snapshot = checkpoint.load()
        pending = checkpoint.pending()
    assert snapshot.engine == ENGINE
    assert snapshot.positions == {"a.log": {"offset": 12}}
    assert [item.id for item in pending] == added
    assert [item.to_json() for item in pending] == [
        {"id": alert_id(a), **json.loads(dumps(a))} for a in alerts
    ]


@given(engine=st.dictionaries(st.text(), json_values), position=json_values)
def test_any_json_state_comes_back_equal(engine: dict[str, Any], position: Any) -> None:
    with Checkpoint(":memory:") as checkpoint:
        checkpoint.commit(engine=engine, positions={"src": position})
        snapshot = checkpoint.load()
    assert snapshot.engine == engine
    assert snapshot.positions == {"src": position}


def test_the_alert_id_is_rule_host_and_process_id() -> None:
    first, second, third = sample_alerts()
    assert first.record is not None
    assert second.record is not None
    assert third.record is not None
    # the same process, two rules: two ids; the same rule again on a copy: the same id
    assert second.record.process_id == third.record.process_id
    assert alert_id(second) != alert_id(third)
    assert alert_id(first) == alert_id(sample_alerts()[0])
    assert format_process_id(first.record.process_id) != format_process_id(second.record.process_id)


def test_an_alert_already_pending_is_not_added_twice(tmp_path: Path) -> None:
    alerts = sample_alerts()
    with Checkpoint(tmp_path / "state") as checkpoint:
        checkpoint.commit(alerts=alerts)
        assert checkpoint.commit(alerts=alerts) == []
        assert checkpoint.outbox_stats().depth == 3


def test_a_failed_batch_writes_nothing(tmp_path: Path) -> None:
    with Checkpoint(tmp_path / "state") as checkpoint:
        checkpoint.commit(engine=ENGINE, positions={"a": 1})
        with pytest.raises(UsageError, match="position of 'b' is not JSON-ready"):
            checkpoint.commit(
                engine={"version": 2}, positions={"a": 2, "b": object()}, alerts=sample_alerts()
            )
        snapshot = checkpoint.load()
        assert snapshot.engine == ENGINE
        assert snapshot.positions == {"a": 1}
        assert checkpoint.outbox_stats().depth == 0


def test_an_alert_leaves_only_when_every_sink_accepted(tmp_path: Path) -> None:
    (alert, *_) = sample_alerts()
    with Checkpoint(tmp_path / "state") as checkpoint:
        (id,) = checkpoint.commit(alerts=[alert])
        assert not checkpoint.accept(id, "mail", ["mail", "hook"])
        (item,) = checkpoint.pending()
        assert item.accepted == {"mail"}
        assert checkpoint.accept(id, "hook", ["mail", "hook"])
        assert checkpoint.pending() == []


def test_at_the_bound_the_oldest_alerts_are_dropped_and_counted(tmp_path: Path) -> None:
    alerts = distinct_alerts(7)
    with Checkpoint(tmp_path / "state", max_outbox=5) as checkpoint:
        checkpoint.commit(alerts=alerts[:4])
        checkpoint.commit(alerts=alerts[4:])
        stats = checkpoint.outbox_stats()
        kept = [item.id for item in checkpoint.pending()]
    assert (stats.depth, stats.dropped, stats.limit) == (5, 2, 5)
    assert kept == [alert_id(a) for a in alerts[2:]]
    with Checkpoint(tmp_path / "state", max_outbox=5) as checkpoint:
        assert checkpoint.outbox_stats().dropped == 2
        # one batch larger than the bound keeps its newest alerts
        more = distinct_alerts(12)[7:]
        assert checkpoint.commit(alerts=more) == [alert_id(a) for a in more]
        assert checkpoint.commit(alerts=distinct_alerts(20)[12:]) == [
            alert_id(a) for a in distinct_alerts(20)[15:]
        ]
        assert checkpoint.outbox_stats().dropped == 2 + 5 + 8


def test_an_unknown_format_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state"
    Checkpoint(path).close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'format'")
    db.close()
    with pytest.raises(CheckpointError, match="format version '99' is not supported"):
        Checkpoint(path)


def test_a_file_that_is_not_sqlite_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state"
    path.write_bytes(b"this is not a database\n" * 100)
    with pytest.raises(CheckpointError, match="not a usable checkpoint"):
        Checkpoint(path)
    assert path.read_bytes() == b"this is not a database\n" * 100


def test_another_sqlite_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE t (x)")
    db.close()
    with pytest.raises(CheckpointError, match="not a correlog checkpoint"):
        Checkpoint(path)


def test_a_corrupted_page_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state"
    with Checkpoint(path) as checkpoint:
        checkpoint.commit(engine={"blob": "x" * 20_000}, alerts=distinct_alerts(50))
    data = bytearray(path.read_bytes())
    for at in range(4096 + 100, len(data), 4096):  # scribble over every page but the header
        data[at : at + 64] = b"\xff" * 64
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError):
        Checkpoint(path).load()


def test_engine_state_that_is_not_json_is_refused_on_load(tmp_path: Path) -> None:
    path = tmp_path / "state"
    Checkpoint(path).close()
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO engine (id, state) VALUES (1, 'not json {')")
    db.close()
    with Checkpoint(path) as checkpoint, pytest.raises(CheckpointError, match="engine state"):
        checkpoint.load()


def test_the_file_holds_no_pickle(tmp_path: Path) -> None:
    path = tmp_path / "state"
    with Checkpoint(path) as checkpoint:
        checkpoint.commit(engine=ENGINE, positions={"a": {"x": 1}}, alerts=sample_alerts())
    with sqlite3.connect(path) as db:
        types = {
            row[0]
            for table, column in (("positions", "position"), ("outbox", "text"))
            for row in db.execute(f"SELECT typeof({column}) FROM {table}")
        }
        # The engine state is written in pieces (incremental blob I/O): its UTF-8 JSON text.
        (state,) = db.execute("SELECT state FROM engine").fetchone()
    db.close()
    assert types == {"text"}
    assert json.loads(state.decode("utf-8")) == ENGINE


def test_the_file_is_in_wal_mode(tmp_path: Path) -> None:
    with Checkpoint(tmp_path / "state") as checkpoint:
        checkpoint.commit(engine=ENGINE)
        with sqlite3.connect(tmp_path / "state") as db:
            (mode,) = db.execute("PRAGMA journal_mode").fetchone()
        db.close()
    assert mode == "wal"


def test_a_checkpoint_in_use_is_refused_until_it_is_closed(tmp_path: Path) -> None:
    first = Checkpoint(tmp_path / "state")
    with pytest.raises(CheckpointError, match="in use by another monitor"):
        Checkpoint(tmp_path / "state")
    first.close()
    Checkpoint(tmp_path / "state").close()


def test_an_alert_on_a_host_event_has_a_stable_id_too() -> None:
    from correlog import HostEvent, HostEventKind, Monitor
    from correlog.rules import AuditTamper

    def alert_at(time: int) -> Alert:
        clear = HostEvent(HostEventKind.LOG_CLEARED, "iis02", time, 1102, None)
        (alert,) = Monitor([AuditTamper()]).feed(clear)
        return alert

    assert alert_id(alert_at(5)) == alert_id(alert_at(5))
    assert alert_id(alert_at(5)) != alert_id(alert_at(6))


def test_alerts_ahead_of_the_state_are_remembered_until_the_state_is_saved(
    tmp_path: Path,
) -> None:
    alerts = distinct_alerts(3)
    with Checkpoint(tmp_path / "state") as checkpoint:
        checkpoint.commit(engine=ENGINE, positions={"a": 1})
        checkpoint.commit(alerts=alerts[:2], ahead_of_state=True)
        checkpoint.commit(alerts=alerts[2:])  # not ahead: the caller saved its state with it
    with Checkpoint(tmp_path / "state") as checkpoint:
        saved = checkpoint.load()
        assert saved.raised == {alert_id(a) for a in alerts[:2]}
        assert (saved.engine, saved.positions) == (ENGINE, {"a": 1})
        checkpoint.commit(engine={**ENGINE, "n": 2}, positions={"a": 2})
        assert checkpoint.load().raised == frozenset()
        assert checkpoint.outbox_stats().depth == 3  # the outbox is not the state's to clear


def test_the_journal_is_kept_in_order_until_a_state_covers_it(tmp_path: Path) -> None:
    rows = [("syslog", f"host{n}", f"line {n}") for n in range(5)]
    with Checkpoint(tmp_path / "state") as checkpoint:
        checkpoint.commit(journal=rows[:2])
        checkpoint.commit(journal=rows[2:], alerts=sample_alerts()[:1], ahead_of_state=True)
    with Checkpoint(tmp_path / "state") as checkpoint:
        assert checkpoint.load().journal == tuple(rows)
        checkpoint.commit(engine=ENGINE, journal=[("syslog", "h", "covered by the state")])
        saved = checkpoint.load()
    assert (saved.journal, saved.raised, saved.engine) == ((), frozenset(), ENGINE)


#: What each older version's file lacks (version 1: the journal and raised alerts; version 2:
#: the cross-log merge state).
_LACKING = {"1": ("journal", "raised", "merge"), "2": ("merge",)}


@pytest.mark.parametrize("version", sorted(_LACKING))
def test_an_older_file_is_upgraded_in_place(tmp_path: Path, version: str) -> None:
    path = tmp_path / "state"
    with Checkpoint(path) as checkpoint:
        checkpoint.commit(engine=ENGINE, positions={"a": 1}, alerts=sample_alerts()[:1])
    with sqlite3.connect(path) as db:  # what that version wrote
        for table in _LACKING[version]:
            db.execute(f"DROP TABLE {table}")
        db.execute("UPDATE meta SET value = ? WHERE key = 'format'", (version,))
    db.close()
    with Checkpoint(path) as checkpoint:
        saved = checkpoint.load()
        assert (saved.engine, saved.positions, saved.journal) == (ENGINE, {"a": 1}, ())
        assert saved.merge is None  # those versions' monitors did not merge across logs
        assert checkpoint.outbox_stats().depth == 1
        checkpoint.commit(engine=ENGINE, merge={"records": {}})
        assert checkpoint.load().merge == {"records": {}}
    with sqlite3.connect(path) as db:
        (found,) = db.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
    db.close()
    assert found == str(FORMAT_VERSION) == "3"


def test_the_merge_state_is_saved_with_the_engine_state_only(tmp_path: Path) -> None:
    merge = {"records": {"waiting": [1]}, "alerts": {}}
    with Checkpoint(tmp_path / "state") as checkpoint:
        checkpoint.commit(engine=ENGINE, merge=merge)
        checkpoint.commit(alerts=sample_alerts()[:1], ahead_of_state=True)  # leaves it as it is
        assert checkpoint.load().merge == merge
        with pytest.raises(UsageError, match="goes with the engine state"):
            checkpoint.commit(merge=merge)
        with pytest.raises(UsageError, match="not JSON-ready"):
            checkpoint.commit(engine=ENGINE, merge={"a": object()})
        assert checkpoint.load().merge == merge  # nothing written by the refused commits
    with Checkpoint(tmp_path / "state") as checkpoint:
        assert checkpoint.load().merge == merge
        checkpoint.commit(engine=ENGINE)  # a state without a merge stage: the old one goes
        assert checkpoint.load().merge is None


def test_a_merge_state_that_is_not_json_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state"
    with Checkpoint(path) as checkpoint:
        checkpoint.commit(engine=ENGINE, merge={"records": {}})
    with sqlite3.connect(path) as db:
        db.execute("UPDATE merge SET state = '{not json'")
    db.close()
    with Checkpoint(path) as checkpoint, pytest.raises(CheckpointError, match="merge state"):
        checkpoint.load()


def test_the_engine_state_given_as_its_json_text(tmp_path: Path) -> None:
    from correlog.live.checkpoint import state_json

    with Checkpoint(tmp_path / "state") as checkpoint:
        checkpoint.commit(engine_json=state_json(ENGINE))
        assert checkpoint.load().engine == ENGINE
        with pytest.raises(UsageError, match="not both"):
            checkpoint.commit(engine=ENGINE, engine_json=state_json(ENGINE))
        with pytest.raises(UsageError, match="not JSON-ready"):
            state_json({"a": object()})


def test_the_engine_state_given_in_pieces_and_the_text_older_files_hold(tmp_path: Path) -> None:
    from correlog import Monitor
    from correlog._state import Stream, json_pieces
    from correlog.rules import AnonymousWeb
    from correlog.testing import created

    monitor = Monitor([AnonymousWeb()])
    monitor.feed_many([created(pid, pid, rn=pid) for pid in range(1, 3000)])
    path = tmp_path / "state"
    with Checkpoint(path) as checkpoint:
        checkpoint.commit(engine_json=monitor.state_pieces(), positions={"a": 1})
        assert checkpoint.load().engine == monitor.state()
        with pytest.raises(UsageError, match="not JSON-ready"):
            checkpoint.commit(engine_json=json_pieces({"a": Stream([object()])}))
        assert checkpoint.load().engine == monitor.state()  # nothing written
    with sqlite3.connect(path) as db:  # what earlier versions wrote: the text as TEXT
        db.execute("UPDATE engine SET state = ?", (json.dumps(ENGINE),))
    db.close()
    with Checkpoint(path) as checkpoint:
        assert checkpoint.load().engine == ENGINE
