"""The checkpoint: engine state, source positions and the alert outbox in one SQLite file.

Theory of operation. A live monitor reads a batch of lines, feeds the engine, and gets alerts.
:meth:`Checkpoint.commit` then writes, in ONE SQLite transaction, the engine's state (an opaque
JSON-ready dict such as ``Monitor.state()`` returns), each source's position after the batch,
and the batch's alerts into the outbox. Either all of it is on disk or none of it is, so after a
crash the positions, the engine state and the outbox always agree: the monitor re-reads exactly
the lines whose effects were not committed, and no alert raised by a committed line is lost.

Saving the whole engine state costs in proportion to the open processes, so a busy monitor
saves it at intervals, not per batch, and commits in between only what cannot wait:

* a batch's alerts go into the outbox at once (``ahead_of_state=True``), and their ids into
  ``raised``: after a crash the lines since the last state are read again and raise the same
  alerts, which the restarted monitor recognises by id and does not add again;
* a source that cannot be read again (a syslog receiver: the sender does not keep what it sent)
  appends what it received to the ``journal``, which a restart replays after loading the state.

A commit with an engine state covers everything before it: it empties ``journal`` and
``raised`` in the same transaction. The cross-log merge stage's state (records waiting for
their partner, the alerts already raised on either log's view of a process; see
:mod:`correlog._crosslog`) is the engine's too: it is written with the engine state, in the
same transaction, or removed when a state comes without it, so the two never disagree. A
followed file needs no journal: its position simply advances with the state, and the file is
read again from there.

The delivery worker (:mod:`correlog.live.delivery`) takes alerts from the outbox and records
each sink's acceptance with :meth:`Checkpoint.accept`; an alert leaves the outbox only when every
configured sink has accepted it. Delivery is at-least-once: an alert that a sink accepted just
before a crash, but whose acceptance was not yet recorded, is sent again with the same id.

The file holds plain JSON text only (never pickle: loading a checkpoint must not run code) and a
format version. An unknown version, a file that is not SQLite, a failed integrity check or a
value that is not the JSON it should be raises :class:`CheckpointError` before anything is
returned: a checkpoint is loaded whole or not at all.

The outbox is bounded (``max_outbox`` alerts). At the bound the OLDEST pending alert is dropped
to make room for the new one, and the drop is counted (:attr:`OutboxStats.dropped`, persisted in
the same file): the monitor keeps correlating through a long outage, and the alerts a user most
needs (the newest) are the ones kept.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import IO, Any, Final

import attrs

from .._errors import CorrelogError, UsageError
from .._records import Alert, format_process_id
from .._state import JSON_OPTIONS
from ..sinks import dumps

__all__ = [
    "FORMAT_VERSION",
    "Checkpoint",
    "CheckpointError",
    "OutboxItem",
    "OutboxStats",
    "Snapshot",
    "alert_id",
    "alert_text",
    "state_json",
]

#: The checkpoint file's format version; a file with any other version is refused.
FORMAT_VERSION: Final = 3
#: Older versions this one opens (and upgrades in place: versions 2 and 3 only added tables).
_UPGRADABLE: Final = ("1", "2")
#: The default outbox bound, in alerts.
DEFAULT_MAX_OUTBOX: Final = 100_000
#: A fixed namespace so :func:`alert_id` is the same on every host and every run.
_ID_NAMESPACE: Final = uuid.UUID("7c0f3c1e-2f59-5c7e-9d1a-6f1b8a0c4e21")

_SCHEMA: Final = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS engine ("
    " id INTEGER PRIMARY KEY CHECK (id = 1), state TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS positions (source TEXT PRIMARY KEY, position TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS outbox ("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, rule TEXT NOT NULL,"
    " text TEXT NOT NULL, committed REAL NOT NULL)",
    "CREATE TABLE IF NOT EXISTS accepted ("
    " id TEXT NOT NULL, sink TEXT NOT NULL, PRIMARY KEY (id, sink))",
    "CREATE TABLE IF NOT EXISTS journal ("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT, source TEXT NOT NULL, host TEXT NOT NULL,"
    " line TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS raised (id TEXT PRIMARY KEY)",
    "CREATE TABLE IF NOT EXISTS merge ("
    " id INTEGER PRIMARY KEY CHECK (id = 1), state TEXT NOT NULL)",
)
#: The tables of every version this one opens (the others are added by the upgrade).
_REQUIRED_TABLES: Final = frozenset({"meta", "engine", "positions", "outbox", "accepted"})


class CheckpointError(CorrelogError):
    """A checkpoint file cannot be used: not SQLite, corrupt, or of an unknown format version.

    Nothing was loaded; the file was not changed.
    """


def alert_id(alert: Alert) -> str:
    """The alert's stable id: a UUID (version 5) of its rule, host and process id.

    The process id is :func:`correlog.format_process_id` of ``alert.record.process_id``, so the
    same rule firing on the same process gives the same id in every run, before and after a
    restart: a receiver that keeps the ids it has seen can drop repeats. An alert on a host event
    (no process: :class:`correlog.rules.AuditTamper`) is identified by that event's id and time.
    """
    if alert.record is None:
        subject = f"host event {alert.event_id} at {alert.time}"
    else:
        subject = format_process_id(alert.record.process_id)
    key = json.dumps([alert.rule, alert.host, subject])
    return str(uuid.uuid5(_ID_NAMESPACE, key))


def alert_text(alert: Alert, id: str) -> str:
    """The alert's JSON text as sinks send it: ``{"id": ..., <the alert's JSON keys>}``.

    The alert's keys are exactly :func:`correlog.sinks.dumps`'s; the id goes first.
    """
    body = dumps(alert)
    return '{"id":' + json.dumps(id) + ("," + body[1:] if body != "{}" else "}")


@attrs.frozen
class OutboxItem:
    """One alert waiting in the outbox.

    ``text`` is its JSON text (:func:`alert_text`); ``accepted`` the sinks that already took it.
    """

    seq: int
    id: str
    rule: str
    text: str
    committed: float
    accepted: frozenset[str] = frozenset()

    def to_json(self) -> dict[str, Any]:
        """The alert as a JSON-ready dict (its id included)."""
        value: dict[str, Any] = json.loads(self.text)
        return value


@attrs.frozen
class Snapshot:
    """What :meth:`Checkpoint.load` found: the engine state (None when none was saved yet),
    each source's position, the journal to replay after the state (``(source, host, line)``,
    oldest first), the ids of alerts committed since the state (``raised``), and the cross-log
    merge stage's state saved with the engine's (``merge``; None when there was none)."""

    engine: dict[str, Any] | None
    positions: dict[str, Any]
    journal: tuple[tuple[str, str, str], ...] = ()
    raised: frozenset[str] = frozenset()
    merge: dict[str, Any] | None = None


@attrs.define
class OutboxStats:
    """The outbox's counters (``dropped`` persists across restarts)."""

    #: Alerts waiting for at least one sink.
    depth: int = 0
    #: Alerts dropped at the bound (the oldest pending ones), since the file was made.
    dropped: int = 0
    #: The bound.
    limit: int = DEFAULT_MAX_OUTBOX


class Checkpoint:
    """A checkpoint file (SQLite, WAL mode), shared by the reading thread and the delivery worker.

    ``path``: the file (made when missing). ``max_outbox``: the outbox bound in alerts.
    ``clock``: seconds (for the outbox's commit times, which the latency benchmark reads).
    Raises :class:`CheckpointError` for a file it cannot use. Use it as a context manager or
    call :meth:`close`.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        max_outbox: int = DEFAULT_MAX_OUTBOX,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if max_outbox < 1:
            raise UsageError(f"max_outbox must be at least 1, not {max_outbox}")
        import time

        self.path = os.fspath(path)
        self.max_outbox = max_outbox
        self._clock = clock or time.time
        self._lock = threading.Lock()
        self._listeners: list[Callable[[], None]] = []
        self._held = _hold(self.path)
        try:
            self._db = self._open(self.path)
        except BaseException:
            _release(self._held)
            raise

    # -- opening ---------------------------------------------------------------------------

    @staticmethod
    def _open(path: str) -> sqlite3.Connection:
        fresh = not os.path.exists(path) or os.path.getsize(path) == 0
        try:
            db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise CheckpointError(f"{path}: cannot open the checkpoint: {exc}") from exc
        try:
            if fresh:
                Checkpoint._create(db)
            else:
                Checkpoint._verify(db, path)
            db.execute("PRAGMA journal_mode=WAL")
            # FULL: a committed batch survives a power cut, not only a process crash.
            db.execute("PRAGMA synchronous=FULL")
        except sqlite3.DatabaseError as exc:
            db.close()
            raise CheckpointError(f"{path}: not a usable checkpoint file: {exc}") from exc
        except CheckpointError:
            db.close()
            raise
        return db

    @staticmethod
    def _create(db: sqlite3.Connection) -> None:
        db.execute("BEGIN IMMEDIATE")
        for statement in _SCHEMA:
            db.execute(statement)
        db.execute(
            "INSERT INTO meta (key, value) VALUES ('format', ?), ('dropped', '0')",
            (str(FORMAT_VERSION),),
        )
        db.execute("COMMIT")

    @staticmethod
    def _verify(db: sqlite3.Connection, path: str) -> None:
        (verdict,) = db.execute("PRAGMA quick_check").fetchone()
        if verdict != "ok":
            raise CheckpointError(
                f"{path}: the checkpoint failed SQLite's integrity check: {verdict}"
            )
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        missing = _REQUIRED_TABLES - tables
        if missing:
            raise CheckpointError(
                f"{path}: not a correlog checkpoint (no table {', '.join(sorted(missing))})"
            )
        row = db.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
        if row is None:
            raise CheckpointError(f"{path}: not a correlog checkpoint (no format version)")
        if row[0] in _UPGRADABLE:
            Checkpoint._upgrade(db)
        elif row[0] != str(FORMAT_VERSION):
            raise CheckpointError(
                f"{path}: checkpoint format version {row[0]!r} is not supported "
                f"(this correlog reads version {FORMAT_VERSION})"
            )

    @staticmethod
    def _upgrade(db: sqlite3.Connection) -> None:
        """Versions 1 and 2 to 3: the tables they lack, empty. Version 1 saved the state with
        every batch, so no journal and no raised alerts were ahead of it; neither version saved
        a cross-log merge state (their monitors did not merge)."""
        db.execute("BEGIN IMMEDIATE")
        for statement in _SCHEMA:
            db.execute(statement)
        db.execute("UPDATE meta SET value = ? WHERE key = 'format'", (str(FORMAT_VERSION),))
        db.execute("COMMIT")

    def close(self) -> None:
        """Close the file (a WAL checkpoint folds the log back into it) and let it go."""
        with self._lock:
            self._db.close()
            _release(self._held)
            self._held = None

    def __enter__(self) -> Checkpoint:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def subscribe(self, listener: Callable[[], None]) -> None:
        """Call ``listener()`` after every commit that added alerts (the delivery worker's wake)."""
        self._listeners.append(listener)

    # -- the reading side ------------------------------------------------------------------

    def load(self) -> Snapshot:
        """The engine state and the source positions, whole, or :class:`CheckpointError`."""
        with self._lock:
            try:
                db = self._db
                row = db.execute("SELECT state FROM engine WHERE id = 1").fetchone()
                rows = db.execute("SELECT source, position FROM positions").fetchall()
                journal = db.execute("SELECT source, host, line FROM journal ORDER BY seq")
                journal_rows = tuple((str(a), str(b), str(c)) for a, b, c in journal)
                raised = frozenset(str(id) for (id,) in db.execute("SELECT id FROM raised"))
                merge_row = db.execute("SELECT state FROM merge WHERE id = 1").fetchone()
            except sqlite3.DatabaseError as exc:
                raise CheckpointError(f"{self.path}: cannot read the checkpoint: {exc}") from exc
        engine = None if row is None else _json_object(row[0], self.path, "the engine state")
        positions = {
            source: _json_value(text, self.path, f"the position of {source!r}")
            for source, text in rows
        }
        merge = (
            None if merge_row is None else _json_object(merge_row[0], self.path, "the merge state")
        )
        return Snapshot(
            engine=engine, positions=positions, journal=journal_rows, raised=raised, merge=merge
        )

    def commit(
        self,
        *,
        engine: Mapping[str, Any] | None = None,
        positions: Mapping[str, Any] | None = None,
        alerts: Iterable[Alert] = (),
        journal: Iterable[tuple[str, str, str]] = (),
        ahead_of_state: bool = False,
        engine_json: str | Iterable[str] | None = None,
        merge: Mapping[str, Any] | None = None,
    ) -> list[str]:
        """Save one batch in one transaction: engine state, positions, and alerts into the outbox.

        ``engine``: the JSON-ready engine state after everything fed so far (left as it was
        when None); it covers the journal and the raised ids, which it empties. ``positions``:
        each source's JSON-ready position after the batch. ``journal``: ``(source, host, line)``
        received since the state, appended to be replayed after it (ignored with ``engine``,
        which covers them). ``ahead_of_state``: the alerts come from input the saved state does
        not cover yet; their ids are kept in ``raised`` until the next state (see the module's
        docstring). ``engine_json``: the engine state already as JSON text
        (:func:`state_json`), or as pieces of it (``Monitor.state_pieces()``), so that no dict
        of the whole state is built: a state with many open processes is large, and the dicts,
        the text and SQLite's copy of it need not all be in memory at once. ``merge``: the
        cross-log merge stage's JSON-ready state, only with an engine state (they were taken
        together); an engine state given without it removes the saved one. Returns the ids of
        the alerts added (an alert whose id is already pending is not added twice; one dropped
        at the bound at once, when a single batch holds more than the bound, is not among
        them). Raises
        :class:`UsageError` for a value that is not JSON (nothing is written then).
        """
        if engine is not None and engine_json is not None:
            raise UsageError("give the engine state as engine or as engine_json, not both")
        engine_chunks = None
        if engine is not None:
            engine_chunks = _chunks((_to_json(engine, "the engine state"),))
        elif engine_json is not None:
            engine_chunks = _chunks((engine_json,) if isinstance(engine_json, str) else engine_json)
        if merge is not None and engine_chunks is None:
            raise UsageError("a merge state goes with the engine state it was taken with")
        merge_text = None if merge is None else _to_json(merge, "the merge state")
        position_rows = [
            (source, _to_json(value, f"the position of {source!r}"))
            for source, value in (positions or {}).items()
        ]
        now = self._clock()
        outbox_rows = []
        for alert in alerts:
            id = alert_id(alert)
            outbox_rows.append((id, alert.rule, alert_text(alert, id), now))
        added: list[str] = []
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                if engine_chunks is not None:
                    _write_state(db, engine_chunks)
                    if merge_text is None:
                        db.execute("DELETE FROM merge")
                    else:
                        db.execute(
                            "INSERT INTO merge (id, state) VALUES (1, ?) "
                            "ON CONFLICT (id) DO UPDATE SET state = excluded.state",
                            (merge_text,),
                        )
                    db.execute("DELETE FROM journal")
                    db.execute("DELETE FROM raised")
                else:
                    db.executemany(
                        "INSERT INTO journal (source, host, line) VALUES (?, ?, ?)", journal
                    )
                    if ahead_of_state:
                        db.executemany(
                            "INSERT OR IGNORE INTO raised (id) VALUES (?)",
                            [(row[0],) for row in outbox_rows],
                        )
                db.executemany(
                    "INSERT INTO positions (source, position) VALUES (?, ?) "
                    "ON CONFLICT (source) DO UPDATE SET position = excluded.position",
                    position_rows,
                )
                for row in outbox_rows:
                    cursor = db.execute(
                        "INSERT OR IGNORE INTO outbox (id, rule, text, committed) "
                        "VALUES (?, ?, ?, ?)",
                        row,
                    )
                    if cursor.rowcount:
                        added.append(row[0])
                if added:
                    dropped = self._enforce_bound(db)
                    added = [id for id in added if id not in dropped]
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        if added:
            for listener in self._listeners:
                listener()
        return added

    def _enforce_bound(self, db: sqlite3.Connection) -> set[str]:
        """Drop the oldest alerts over the bound, count them, return their ids."""
        (depth,) = db.execute("SELECT count(*) FROM outbox").fetchone()
        excess = depth - self.max_outbox
        if excess <= 0:
            return set()
        oldest = [
            row[0] for row in db.execute("SELECT id FROM outbox ORDER BY seq LIMIT ?", (excess,))
        ]
        db.executemany("DELETE FROM outbox WHERE id = ?", [(id,) for id in oldest])
        db.executemany("DELETE FROM accepted WHERE id = ?", [(id,) for id in oldest])
        db.execute(
            "UPDATE meta SET value = CAST(value AS INTEGER) + ? WHERE key = 'dropped'", (excess,)
        )
        return set(oldest)

    # -- the delivery side -----------------------------------------------------------------

    def pending(self, limit: int = 100, *, after: int = 0) -> list[OutboxItem]:
        """Up to ``limit`` waiting alerts with ``seq > after``, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, id, rule, text, committed FROM outbox WHERE seq > ? "
                "ORDER BY seq LIMIT ?",
                (after, limit),
            ).fetchall()
            accepted: dict[str, set[str]] = {}
            if rows:
                marks = ",".join("?" * len(rows))
                for id, sink in self._db.execute(
                    f"SELECT id, sink FROM accepted WHERE id IN ({marks})",
                    [row[1] for row in rows],
                ):
                    accepted.setdefault(id, set()).add(sink)
        return [
            OutboxItem(
                seq=seq,
                id=id,
                rule=rule,
                text=text,
                committed=committed,
                accepted=frozenset(accepted.get(id, ())),
            )
            for seq, id, rule, text, committed in rows
        ]

    def accept(self, id: str, sink: str, sinks: Sequence[str]) -> bool:
        """Record that ``sink`` accepted alert ``id``; when every one of ``sinks`` has, the alert
        leaves the outbox. Returns True when it left."""
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                if db.execute("SELECT 1 FROM outbox WHERE id = ?", (id,)).fetchone() is None:
                    db.execute("COMMIT")  # dropped at the bound meanwhile
                    return False
                db.execute("INSERT OR IGNORE INTO accepted (id, sink) VALUES (?, ?)", (id, sink))
                done = {
                    row[0] for row in db.execute("SELECT sink FROM accepted WHERE id = ?", (id,))
                }
                left = set(sinks) <= done
                if left:
                    db.execute("DELETE FROM outbox WHERE id = ?", (id,))
                    db.execute("DELETE FROM accepted WHERE id = ?", (id,))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return left

    def outbox_stats(self) -> OutboxStats:
        """The outbox's depth, drops and bound."""
        with self._lock:
            (depth,) = self._db.execute("SELECT count(*) FROM outbox").fetchone()
            (dropped,) = self._db.execute("SELECT value FROM meta WHERE key = 'dropped'").fetchone()
        return OutboxStats(depth=depth, dropped=int(dropped), limit=self.max_outbox)


def _hold(path: str) -> IO[bytes] | None:
    """Lock ``path + ".lock"`` for this process, or raise :class:`CheckpointError`.

    Two monitors on one checkpoint would fight over positions and deliver twice; the lock is
    an OS lock (``flock``; ``msvcrt.locking`` on Windows), so a killed monitor leaves none.
    """
    if path == ":memory:":
        return None
    handle = open(path + ".lock", "a+b")  # noqa: SIM115 - held open while the file is in use
    try:
        if os.name == "nt":
            import msvcrt

            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined,unused-ignore]
        else:
            import fcntl

            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise CheckpointError(f"{path}: the checkpoint is in use by another monitor") from None
    return handle


def _release(handle: IO[bytes] | None) -> None:
    if handle is not None:
        handle.close()  # closing the file drops the lock


#: The size of the pieces the engine state is written in.
_CHUNK_BYTES: Final = 1 << 16


def _chunks(pieces: Iterable[str]) -> list[bytes]:
    """The state's text as UTF-8 in chunks of about ``_CHUNK_BYTES`` (few objects, and never
    the whole text as one more copy); :class:`UsageError` when it is not JSON-ready."""
    chunks: list[bytes] = []
    held: list[str] = []
    size = 0
    try:
        for piece in pieces:
            held.append(piece)
            size += len(piece)
            if size >= _CHUNK_BYTES:
                chunks.append("".join(held).encode())
                held.clear()
                size = 0
    except (TypeError, ValueError) as exc:
        raise UsageError(f"the engine state is not JSON-ready: {exc}") from exc
    chunks.append("".join(held).encode())
    return chunks


def _write_state(db: sqlite3.Connection, chunks: list[bytes]) -> None:
    """Store the state's UTF-8 text, chunk by chunk, through SQLite's incremental blob I/O
    (the row is made at its full size first, ``zeroblob``), so SQLite never holds the whole
    text at once. The value is a BLOB of the text's UTF-8 bytes, which :meth:`Checkpoint.load`
    (and ``json.loads``) reads like the TEXT older versions wrote."""
    db.execute(
        "INSERT INTO engine (id, state) VALUES (1, zeroblob(?)) "
        "ON CONFLICT (id) DO UPDATE SET state = excluded.state",
        (sum(len(chunk) for chunk in chunks),),
    )
    with db.blobopen("engine", "state", 1) as blob:
        for chunk in chunks:
            blob.write(chunk)


def state_json(engine: Mapping[str, Any]) -> str:
    """The engine state as the JSON text :meth:`Checkpoint.commit` stores
    (:class:`UsageError` when it is not JSON-ready)."""
    return _to_json(engine, "the engine state")


def _to_json(value: object, what: str) -> str:
    try:
        return json.dumps(value, **JSON_OPTIONS)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"{what} is not JSON-ready: {exc}") from exc


def _json_value(text: str | bytes, path: str, what: str) -> Any:
    try:
        return json.loads(text.decode() if isinstance(text, bytes) else text)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: {what} is not valid JSON: {exc}") from exc


def _json_object(text: str | bytes, path: str, what: str) -> dict[str, Any]:
    value = _json_value(text, path, what)
    if not isinstance(value, dict):
        raise CheckpointError(f"{path}: {what} is not a JSON object")
    return value
