"""The correlator: the one stateful module.

Theory of operation
-------------------
Windows logs a process's life as up to three thin events with the same (host, pid): a creation,
maybe a token assignment, an exit. The kernel queues audits through one FIFO, so for one process
they arrive in that order; between two processes with the same pid (pids are reused within
seconds) the old one's exit comes before the new one's creation, unless it was lost.

The correlator keeps one *open entry* per (host, pid) it has heard of and not yet closed. Each
entry is a plain list laid out like :class:`~correlog.Record` less the four fields an open
process does without (:data:`~correlog._layout.OPEN_FIELDS`: no end, status, reason or channel;
its ``host`` slot holds its log's key). Folding an event in writes a few slots; emitting it is
one unpack of the entry and one tuple in Record's order
(:data:`~correlog._layout.record_from_entry`), and a closed entry's key slot holds ``None``
until the FIFO drops it. The process id slot holds only the first event's time until the id
is wanted (see :func:`_process_id`); while an entry holds one event, its provenance slot holds
that event's record number and its exit status slot the event id (see :func:`_provenance`).
Which event's value wins for each
slot is :data:`~correlog.MERGE_POLICY`; the fold code below is that table specialised by hand for
the arrival orders that can occur (a creation always opens an entry, an exit always closes one),
and the test suite checks the two agree.

Every process event ends up in exactly one emitted record:

* an exit closes its entry (``exited``), or becomes a record of its own (``orphan``);
* a creation for a pid that is still open closes the old entry first (``superseded``);
* an entry that hears nothing for ``ttl`` seconds of its host's clock closes (``expired``);
* when more than ``max_open`` entries are open, the oldest closes (``evicted``);
* :meth:`Correlator.close` closes the rest (``flushed``).

Clocks. There is no wall clock in here. Each host (and log) has its own clock: it starts at the
host's first event and then follows the events that open entries (creations, and tokens for
processes not seen yet), guarded against nonsense. Exits only close entries: they neither move
the clock nor expire anything, so an exit that arrives after its process's deadline still
completes it (and costs the hot path nothing more). A jump of more than ``max_skew`` (forwards
or backwards) takes effect only when the host's next opening event agrees with it (within
``max_skew``); a single corrupt or skewed record is folded in normally but cannot expire every
open entry or freeze the clock. An entry's ttl counts from its host's clock when it opened
(``Record.first_seen``), so within a host the open entries are in deadline order and expiry only
ever looks at the oldest.

Epochs. Record numbers only grow within one log. A decrease (seen on an event that opens an
entry) on one of a host's logs, or a log-clear event, starts a new epoch: the clock is reset to
the new event's time (it may go back; for a decrease, only within ``max_skew``, else the skew
guard decides) and open entries are re-based onto it, so they neither expire at once nor live
forever.

Creator images. A 592 names its creator's pid, not its image. The correlator takes the image
from the creator's open entry; when that entry already closed by expiry or eviction (a long-lived
w3wp.exe outlives any ttl) a small per-host memo of such images answers instead. Exits and new
creations drop a pid from the memo, so it never names a process that is known to be gone.

Eviction order is arrival order across all hosts, kept in a FIFO of entries with lazy deletion
(closed entries are skipped, and the FIFO is compacted once it holds more than twice the open
count), so eviction is O(1) amortised however many hosts there are.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from itertools import islice
from typing import Any, Final

import attrs

from ._engine import CorrelatorStats, check_new_host, settings
from ._errors import StateError, UsageError
from ._events import Event, EventKind, HostEvent, HostEventKind, ProcessEvent
from ._layout import OPEN_FIELDS, OPEN_SLOT, RECORD_SLOT, record_from_entry, record_from_event
from ._records import ProcessId, Reason, Record, Status
from ._sequencer import Sequencer
from ._state import (
    CORRELATOR_FORMAT,
    Stream,
    expect,
    json_pieces,
    record_from_data,
    record_to_data,
)

__all__ = ["Correlator", "CorrelatorStats"]

_C: Final = EventKind.CREATED
_T: Final = EventKind.TOKEN_ASSIGNED
_E: Final = EventKind.EXITED
_COMPLETE: Final = Status.COMPLETE
_PARTIAL: Final = Status.PARTIAL
# Enum members as module constants: on Python 3.11 ``Reason.EXITED`` goes through the enum
# metaclass's __getattr__ (about 140 ns against 27 ns for a global).
_EXITED: Final = Reason.EXITED
_SUPERSEDED: Final = Reason.SUPERSEDED
_EVICTED: Final = Reason.EVICTED
_ORPHAN: Final = Reason.ORPHAN
_EVENT_TYPES: Final = (ProcessEvent, HostEvent)
_INF: Final = float("inf")
_NEVER: Final = -(2**63)
#: Placeholders of the fold's per-host locals before its first event (never written to).
_NO_ENTRIES: Final[dict[int, list[Any]]] = {}
_UNSET: Final = object()

# Slots of an open entry list (see OPEN_FIELDS), from the one layout module.
_LOG: Final = OPEN_SLOT["host"]  # the key of the entry's log while it is open (_Host.key)
_PID: Final = OPEN_SLOT["pid"]
_IMAGE: Final = OPEN_SLOT["image"]
_USER: Final = OPEN_SLOT["user"]
_DOMAIN: Final = OPEN_SLOT["domain"]
_LOGON: Final = OPEN_SLOT["logon_id"]
_OWNER_SRC: Final = OPEN_SLOT["owner_source"]
_CPID: Final = OPEN_SLOT["creator_pid"]
_CIMAGE: Final = OPEN_SLOT["creator_image"]
_START: Final = OPEN_SLOT["start"]
_PROV: Final = OPEN_SLOT["provenance"]
_LAYOUT: Final = OPEN_SLOT["layout"]
_FIRST_SEEN: Final = OPEN_SLOT["first_seen"]
_CMDLINE: Final = OPEN_SLOT["command_line"]
_EXIT_STATUS: Final = OPEN_SLOT["exit_status"]
_INTEGRITY: Final = OPEN_SLOT["integrity"]
_EXTRA: Final = OPEN_SLOT["extra"]
_PROCESS_ID: Final = OPEN_SLOT["process_id"]
_AUDITS_LOST: Final = OPEN_SLOT["audits_lost"]
#: What a closed entry holds in place of its log's key: the FIFO drops it lazily.
_CLOSED: Final = None
#: The record fields a saved open entry has none of.
_NONE_WHILE_OPEN: Final = ("end", "status", "reason", "exit_status")
# Slots of a record (the creator memo holds records).
_R_HOST: Final = RECORD_SLOT["host"]
_R_PID: Final = RECORD_SLOT["pid"]
_R_IMAGE: Final = RECORD_SLOT["image"]
_R_CHANNEL: Final = RECORD_SLOT["channel"]
_R_PROCESS_ID: Final = RECORD_SLOT["process_id"]

_new_record = tuple.__new__


def _key(host: str, channel: str | None) -> str | tuple[str, str]:
    """The key of a host's log in :attr:`Correlator._hosts`."""
    return host if channel is None else (host, channel)


def _names(key: str | tuple[str, str]) -> tuple[str, str | None]:
    """The host and log named by a log's key (see :func:`_key`)."""
    return (key, None) if type(key) is str else key  # type: ignore[return-value]


def _open_data(entry: list[Any]) -> dict[str, Any]:
    """An open entry as saved: in Record's layout, with no status and no reason."""
    return record_to_data(_view(entry, None, None))


def _view(entry: list[Any], status: Status | None, reason: Reason | None) -> Record:
    """An open entry as a record that has not exited, the entry left open (its process id and
    provenance made final)."""
    ident = _process_id(entry)
    prov = _provenance(entry)
    host, channel = _names(entry[_LOG])
    return record_from_entry(entry, host, None, status, reason, prov, channel, None, ident)


def _close(entry: list[Any], reason: Reason) -> Record:
    """The record an entry that did not exit closes with (its status is partial); the entry is
    closed from then on (the FIFO skips it: see _CLOSED). The fold's exit and eviction write
    this out inline."""
    ident = _process_id(entry)
    prov = _provenance(entry)
    host, channel = _names(entry[_LOG])
    entry[_LOG] = _CLOSED
    return record_from_entry(entry, host, None, _PARTIAL, reason, prov, channel, None, ident)


def _reopen(slots: list[Any], log: _Host) -> list[Any]:
    """A record's slots (a saved open entry) as an open entry of ``log``."""
    entry = [slots[RECORD_SLOT[name]] for name in OPEN_FIELDS]
    entry[_LOG] = log.key
    return entry


def _stats_value(_inst: object, _field: object, value: Any) -> Any:
    """Counters as plain data: reasons by their names."""
    if isinstance(value, Counter):
        return {str(reason): n for reason, n in value.items()}
    return value


def _concurrent_use() -> UsageError:
    return UsageError(
        "the correlator is in use by another thread: feed one correlator from one thread at a "
        "time (or guard it with a lock)"
    )


def _union(known: Mapping[str, str] | None, more: Mapping[str, str]) -> Mapping[str, str]:
    """Fields of ``known`` and ``more``; ``known`` (from earlier events) wins a shared name."""
    return more if known is None else {**more, **known}


def _process_id(entry: list[Any]) -> ProcessId:
    """The entry's process id, made (and kept) the first time it is needed.

    An open entry holds only its first event's time in the slot (the rest of the id is in other
    slots: host, log, pid, and the first record number at ``provenance[1]``), which saves a
    tuple of five per open entry until the id is wanted: at emission, or when a child names it.
    """
    known = entry[_PROCESS_ID]
    if type(known) is not tuple:
        prov = entry[_PROV]
        host, channel = _names(entry[_LOG])
        known = entry[_PROCESS_ID] = (
            host,
            channel,
            entry[_PID],
            known,
            prov[1] if type(prov) is tuple else prov,  # see _provenance
        )
    return known  # type: ignore[no-any-return]


def _provenance(entry: list[Any]) -> tuple[int | None, ...]:
    """The entry's provenance, in its full form from now on.

    An open entry that holds one event keeps that event's record number alone in the
    provenance slot, and its event id in the exit status slot (which an open entry does not use
    otherwise): that saves a tuple of two per open entry. The pair is made when a second event
    comes, or when the entry is wanted whole (emitted, snapshot, saved).
    """
    prov = entry[_PROV]
    if type(prov) is not tuple:
        prov = entry[_PROV] = (entry[_EXIT_STATUS], prov)
        entry[_EXIT_STATUS] = None
    return prov  # type: ignore[no-any-return]


def _memo_record(
    host: str, channel: str | None, pid: int, image: str | None, ident: list[Any]
) -> Record:
    """A creator memo item read back from a saved state: in Record's layout, holding only what
    the memo reads (log, pid, image, process id); never emitted."""
    slots: list[Any] = [None] * len(Record._fields)
    slots[_R_HOST] = host
    slots[_R_CHANNEL] = channel
    slots[_R_PID] = pid
    slots[_R_IMAGE] = image
    slots[_R_PROCESS_ID] = tuple(ident)
    return _new_record(Record, slots)


class _Host:
    """Per host and log: the clock, the open entries (pid -> entry, in deadline order)."""

    __slots__ = (
        "channel",
        "clock",
        "entries",
        "gone",
        "jump",
        "key",
        "last_record",
        "lost_until",
        "name",
        "next_deadline",
    )

    def __init__(self, name: str, clock: int, channel: str | None = None) -> None:
        self.name = name
        self.channel = channel
        #: This log's key in :attr:`Correlator._hosts`; its open entries hold it, one object for
        #: all (an entry holding its _Host would make a reference cycle of every entry).
        self.key: str | tuple[str, str] = _key(name, channel)
        self.clock = clock
        #: This log's part of the creator memo: pid -> the record a process's entry closed with
        #: (expired or evicted) while it may still run; its image and process id answer for
        #: children created later. The memo's bound and its oldest-first order over all logs
        #: are the correlator's (see _remember).
        self.gone: dict[int, Record] = {}
        self.entries: dict[int, list[Any]] = {}
        self.next_deadline: float = _INF
        #: A far jump held by the guard: the time the next event must agree with.
        self.jump: int | None = None
        #: Last record number seen (-1: none yet).
        self.last_record = -1
        #: Processes whose first event is at or before this time may miss events (516, 1101).
        self.lost_until = _NEVER


class Correlator:
    """Correlate thin process events into fat records, by (host, pid), in bounded memory.

    ``ttl``: seconds of a host's own clock after which an open entry is emitted as ``expired``.
    ``max_open``: the most entries open at once, over all hosts; the oldest is ``evicted`` beyond.
    ``max_skew``: seconds a host's clock may jump on one event's word (see the module docs).
    ``memo_size``: over all hosts and logs, how many images of processes that expired or were
    evicted (so may still be running) are remembered, for the creator image of children created
    later. ``max_idle_logs``: how many logs with no open entry are remembered beyond
    ``max_open`` (their clock, record number, held jump); past that they are forgotten, and the
    next event of a forgotten log starts it afresh. So memory is bounded by ``max_open``,
    ``memo_size`` and ``max_idle_logs``, whatever the number of hosts.
    ``lateness``: seconds of the ordering window (0: arrival order). Each host's events are put
    back in (time, record number) order before they are correlated, so any arrival order within
    the window gives the same records; later events are still folded in, or become ``late``
    records; duplicates are folded once. See :mod:`correlog._sequencer`.

    Not thread-safe: one correlator is fed by one thread at a time (two at once get a
    :class:`UsageError`, not a corrupted state).

    The verbs are :meth:`feed`, :meth:`feed_many`, :meth:`advance` and :meth:`close`; each returns
    the records that became final, in emission order. No I/O, no threads, no wall clock: time
    comes from the events, or from the caller through :meth:`advance`.
    """

    def __init__(
        self,
        *,
        ttl: float = 3600.0,
        max_open: int = 100_000,
        max_skew: float = 3600.0,
        memo_size: int = 4096,
        lateness: float = 0.0,
        max_idle_logs: int = 1024,
    ) -> None:
        config = settings(
            ttl=ttl,
            max_open=max_open,
            max_skew=max_skew,
            memo_size=memo_size,
            lateness=lateness,
            max_idle_logs=max_idle_logs,
        )
        self._memo_size = config.memo_size
        self._max_idle_logs = config.max_idle_logs
        self._max_logs = config.max_open + config.max_idle_logs
        #: The creator memo lives in each log (``_Host.gone``, looked up by pid on the hot path);
        #: its bound is over all logs: this is the order the remembered records came in, the
        #: stale ones (no longer in their log's memo: see _memo_owner) skipped and compacted.
        #: A record names its own log and pid, so the order needs nothing allocated beside it.
        self._memo_order: deque[Record] = deque()
        self._memo_count = 0
        self._ttl = config.ttl
        self._max_open = config.max_open
        self._max_skew = config.max_skew
        #: Per host and log (key: the host for the Security log, else (host, channel)): each log
        #: of a host is correlated on its own.
        self._hosts: dict[str | tuple[str, str], _Host] = {}
        self._fifo: deque[list[Any]] = deque()
        self._open = 0
        self._closed = False
        #: Holds one token while no verb runs: a verb takes it (``list.pop`` is atomic) and puts
        #: it back when it returns, so a second thread calling in meanwhile finds the list empty
        #: and gets a UsageError at once. A Lock's ``acquire(False)`` and ``release()`` did the
        #: same at several times the cost (see the performance page).
        self._turn: list[bool] = [True]
        self.stats = CorrelatorStats()
        self._lateness = config.lateness
        #: Events the ordering window let go (False) or handed on as late (True), to fold next.
        self._pending: list[tuple[bool, Event]] = []
        #: With a window and :meth:`_track_released`, the events folded since the last take.
        self._released: list[Event] | None = None
        self._sequencer = (
            Sequencer(
                self._lateness,
                release=lambda ev: self._pending.append((False, ev)),
                late=lambda ev: self._pending.append((True, ev)),
                max_skew=self._max_skew,
            )
            if self._lateness
            else None
        )

    # -- read-only views -------------------------------------------------------------------

    @property
    def ttl(self) -> float:
        """The ttl in seconds."""
        return self._ttl / 1e9

    @property
    def max_open(self) -> int:
        """The bound on open entries."""
        return self._max_open

    @property
    def max_skew(self) -> float:
        """The largest clock jump, in seconds, one event may cause on its own."""
        return self._max_skew / 1e9

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._closed

    def __len__(self) -> int:
        """How many entries are open."""
        return self._open

    def __contains__(self, key: object) -> bool:
        """``(host, pid) in correlator``: is that process open (``(host, pid, channel)`` for
        another log than Security)?"""
        if not isinstance(key, tuple) or len(key) not in (2, 3):
            return False
        hs = self._hosts.get(_key(key[0], key[2] if len(key) == 3 else None))
        return hs is not None and key[1] in hs.entries

    def clock(self, host: str, channel: str | None = None) -> int | None:
        """The host's clock (ns) for that log, or None for a host never seen."""
        hs = self._hosts.get(_key(host, channel))
        return None if hs is None else hs.clock

    def _open_entry(self, host: str, pid: int, channel: str | None) -> list[Any] | None:
        """The open entry for (host, pid) itself, or None (the monitor reads fields of it)."""
        hs = self._hosts.get(_key(host, channel))
        return None if hs is None else hs.entries.get(pid)

    def snapshot(self, host: str, pid: int, channel: str | None = None) -> Record | None:
        """The open entry for (host, pid) as a record with reason ``open``, or None."""
        entry = self._open_entry(host, pid, channel)
        return None if entry is None else self._snapshot_of(entry)

    @staticmethod
    def _snapshot_of(entry: list[Any]) -> Record:
        """An open entry as a record with reason ``open`` (see :meth:`snapshot`)."""
        return _view(entry, _PARTIAL, Reason.OPEN)

    def open_records(self) -> list[Record]:
        """Snapshots of every open entry, oldest first."""
        return [
            _view(entry, _PARTIAL, Reason.OPEN)
            for entry in self._fifo
            if entry[_LOG] is not _CLOSED
        ]

    # -- saved state -----------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """Everything this correlator holds, as plain JSON-ready data with a format version.

        :meth:`from_state` builds a correlator that goes on exactly as this one would: the same
        records for the same further calls (a property test cuts streams anywhere to check it).
        Take it between calls, never from inside a ``process`` loop that is still running.
        """
        tree: dict[str, Any] = self._state_tree(list)
        return tree

    def state_pieces(self) -> Iterator[str]:
        """:meth:`state` as compact JSON text, in pieces, one open entry at a time: the whole
        state never exists as dicts at once. Consume it before the next call on the correlator."""
        return json_pieces(self._state_tree(Stream))

    def _state_tree(self, stream: Callable[[Iterable[Any]], Any]) -> Any:
        """The state's layout, its long lists made by ``stream`` (see :mod:`correlog._state`)."""
        logs = []
        for key, hs in self._hosts.items():
            logs.append(
                {
                    "host": hs.name,
                    "channel": None if isinstance(key, str) else key[1],
                    "clock": hs.clock,
                    "jump": hs.jump,
                    "last_record": hs.last_record,
                    "lost_until": hs.lost_until,
                }
            )
        return {
            "format": CORRELATOR_FORMAT,
            "settings": {
                "ttl": self._ttl,
                "max_open": self._max_open,
                "max_skew": self._max_skew,
                "memo_size": self._memo_size,
                "lateness": self._lateness,
                "max_idle_logs": self._max_idle_logs,
            },
            "memo": stream(
                [record.host, record.channel, record.pid, record.image, list(record.process_id)]
                for record in self._memo_order
                if self._memo_owner(record) is not None
            ),
            "closed": self._closed,
            "stats": attrs.asdict(self.stats, value_serializer=_stats_value),
            "logs": logs,
            "open": stream(_open_data(entry) for entry in self._fifo if entry[_LOG] is not _CLOSED),
            "window": None if self._sequencer is None else self._sequencer.state(),
        }

    @classmethod
    def from_state(cls, data: Any) -> Correlator:
        """A correlator that goes on where the one that gave ``data`` (:meth:`state`) was.

        The settings are the saved ones. Raises :class:`~correlog.StateError` for a state of
        another format or a damaged one; nothing is half-loaded.
        """
        data = expect(data, dict, "the correlator state")
        if data.get("format") != CORRELATOR_FORMAT:
            raise StateError(
                f"not a correlator state of format {CORRELATOR_FORMAT!r}: {data.get('format')!r}"
            )
        config = expect(data.get("settings"), dict, "settings")
        ns = 1e-9
        try:
            new = cls(
                ttl=expect(config.get("ttl"), int, "ttl") * ns,
                max_open=expect(config.get("max_open"), int, "max_open"),
                max_skew=expect(config.get("max_skew"), int, "max_skew") * ns,
                memo_size=expect(config.get("memo_size"), int, "memo_size"),
                lateness=expect(config.get("lateness"), int, "lateness") * ns,
                max_idle_logs=expect(config.get("max_idle_logs"), int, "max_idle_logs"),
            )
        except UsageError as exc:
            raise StateError(f"damaged state: {exc}") from exc
        # Exact nanoseconds, whatever the float round trip above did.
        new._ttl, new._max_skew = config["ttl"], config["max_skew"]
        new._lateness = config["lateness"]
        if new._sequencer is not None:
            new._sequencer.lateness = config["lateness"]
            new._sequencer.max_skew = config["max_skew"]
        new._restore(data)
        return new

    def _restore(self, data: dict[str, Any]) -> None:
        hosts: dict[str | tuple[str, str], _Host] = {}
        for raw in expect(data.get("logs"), list, "logs"):
            item = expect(raw, dict, "a log")
            host = expect(item.get("host"), str, "a host")
            channel = item.get("channel")
            if channel is not None:
                expect(channel, str, "a log name")
            hs = _Host(host, expect(item.get("clock"), int, "a clock"), channel)
            jump = item.get("jump")
            hs.jump = None if jump is None else expect(jump, int, "a held jump")
            hs.last_record = expect(item.get("last_record"), int, "a record number")
            hs.lost_until = expect(item.get("lost_until"), int, "a lost-audits time")
            hosts[hs.key] = hs
        order: deque[Record] = deque()
        for raw in expect(data.get("memo"), list, "the creator memo"):
            try:
                host, channel, pid, image, ident = expect(raw, list, "a memo entry")
            except ValueError as exc:
                raise StateError(f"damaged state: memo entry {raw!r}") from exc
            owner = hosts.get(_key(expect(host, str, "a host"), channel))
            if owner is None or expect(pid, int, "a pid") in owner.gone:
                raise StateError(f"damaged state: memo entry {raw!r}")
            remembered = _memo_record(
                host, channel, pid, image, expect(ident, list, "a process id")
            )
            owner.gone[pid] = remembered
            order.append(remembered)
        fifo: deque[list[Any]] = deque()
        for item in expect(data.get("open"), list, "open entries"):
            slots = record_from_data(item)
            hs_ = hosts.get(_key(slots[_R_HOST], slots[_R_CHANNEL]))
            if (
                hs_ is None
                or slots[_R_PID] in hs_.entries
                or any(slots[RECORD_SLOT[name]] is not None for name in _NONE_WHILE_OPEN)
                or type(slots[RECORD_SLOT["provenance"]]) is not tuple
                # an entry takes its log's clock when it opens, and stays at or before it
                or slots[RECORD_SLOT["first_seen"]] > hs_.clock
            ):
                raise StateError(f"damaged state: open entry {item!r}")
            entry = _reopen(slots, hs_)
            hs_.entries[entry[_PID]] = entry
            fifo.append(entry)
        stats = expect(data.get("stats"), dict, "stats")
        try:
            records = Counter(
                {Reason(k): expect(v, int, "a count") for k, v in stats["records"].items()}
            )
            restored = CorrelatorStats(**{**stats, "records": records})
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise StateError(f"damaged state: stats {stats!r}") from exc
        window = data.get("window")
        if (window is None) != (self._sequencer is None):
            raise StateError("damaged state: the ordering window does not match the settings")
        if self._sequencer is not None:
            self._sequencer.restore(window)
        for hs in hosts.values():
            hs.next_deadline = -_INF if hs.entries else _INF  # the next clock step recomputes
        self._hosts = hosts
        self._memo_order = order
        self._memo_count = len(order)
        self._fifo = fifo
        self._open = len(fifo)
        self._closed = expect(data.get("closed"), bool, "closed")
        self.stats = restored

    # -- the verbs -------------------------------------------------------------------------

    def feed(self, event: Event) -> list[Record]:
        """Fold one event in; return the records that became final because of it."""
        if not isinstance(event, _EVENT_TYPES):
            raise UsageError(f"not an event: {event!r}")
        if self._closed:
            raise UsageError("the correlator is closed")
        try:
            self._turn.pop()  # this verb's turn (see _turn)
        except IndexError:
            raise _concurrent_use() from None
        try:
            if self._sequencer is not None:
                return self._feed_window((event,))
            return self._fold((event,))
        finally:
            self._turn.append(True)

    def feed_many(self, events: Iterable[Event]) -> list[Record]:
        """Fold events in, in order; return every record that became final, in order.

        This is the hot path. If an item is not an event it raises :class:`UsageError`; if
        iterating ``events`` raises, that error propagates. Either way the events before it were
        folded in and the records they completed are on the error's ``records`` attribute, so
        nothing is lost. (:meth:`process` handles this for you.) With a ``lateness`` window the
        events first go through it (see :mod:`correlog._sequencer`).
        """
        if self._closed:
            raise UsageError("the correlator is closed")
        try:
            self._turn.pop()  # this verb's turn (see _turn)
        except IndexError:
            raise _concurrent_use() from None
        try:
            if self._sequencer is not None:
                return self._feed_window(events)
            return self._fold(events)
        finally:
            self._turn.append(True)

    def _feed_window(self, events: Iterable[Event]) -> list[Record]:
        out: list[Record] = []
        push = self._sequencer.push  # type: ignore[union-attr]
        try:
            for ev in events:
                if not isinstance(ev, _EVENT_TYPES):
                    raise UsageError(f"not an event: {ev!r}")
                push(ev)
                if self._pending:
                    self._fold_pending(out)
        except Exception as exc:
            exc.records = out  # type: ignore[attr-defined]
            raise
        finally:
            self._count_window()
        return out

    def _feed_into(self, events: Iterable[Event], out: list[Record]) -> None:
        """:meth:`feed_many` with no ordering window, each record appended to ``out`` the
        moment it becomes final: the monitor's batched path (``events`` a generator) reads
        ``out`` between two events to see what the previous one completed. Not public API."""
        if self._closed:
            raise UsageError("the correlator is closed")
        try:
            self._turn.pop()  # this verb's turn (see _turn)
        except IndexError:
            raise _concurrent_use() from None
        try:
            self._fold(events, out)
        finally:
            self._turn.append(True)

    def _count_window(self) -> None:
        """The window's counters (late events, duplicates) into :attr:`stats`."""
        sequencer = self._sequencer
        if sequencer is not None:
            self.stats.late = sequencer.late_events
            self.stats.duplicates = sequencer.duplicates

    def _track_released(self) -> None:
        """Start keeping the events the ordering window lets go, for :meth:`_take_released`.

        A monitor that asks rules about the processes an event touched needs this: with a
        window, the events folded in by one :meth:`feed` are the ones released, not the one fed.
        """
        if self._released is None:
            self._released = []

    def _take_released(self) -> list[Event]:
        """The events folded in since the last call (window mode, after :meth:`_track_released`).

        For :class:`~correlog.Monitor` only; not public API."""
        released = self._released or []
        if self._released is not None:
            self._released = []
        return released

    @property
    def _windowed(self) -> bool:
        """True when events go through an ordering window (``lateness`` > 0)."""
        return self._sequencer is not None

    def _fold_pending(self, out: list[Record]) -> None:
        """Fold what the window released, in order: runs of in-order events, and late ones."""
        pending = self._pending
        self._pending = []
        if self._released is not None:
            self._released.extend(ev for _, ev in pending)
        run: list[Event] = []
        for late, ev in pending:
            if late:
                if run:
                    out += self._fold(run)
                    run = []
                self._fold_late(ev, out)
            else:
                run.append(ev)
        if run:
            out += self._fold(run)
        self._count_window()

    def _fold(self, events: Iterable[Event], out: list[Record] | None = None) -> list[Record]:
        """The hot path proper: fold events, in the order given; records go to ``out`` (a new
        list unless given) as they become final."""
        if out is None:
            out = []
        emit = out.append
        hosts = self._hosts
        push = self._fifo.append
        ttl = self._ttl
        max_open = self._max_open
        max_skew = self._max_skew
        records = self.stats.records
        count = self._open
        peak = self.stats.peak_open
        n_events = 0
        # Records by reason, counted in locals and added to the Counter once per call: a Reason
        # is an enum, and hashing one runs Enum.__hash__ in Python.
        n_exited = n_orphans = n_superseded = n_evicted = 0
        # The host and log of the previous event; _UNSET is no host, so the first event switches.
        cur: object = _UNSET
        cur_channel: str | None = None
        hs: _Host = None  # type: ignore[assignment]  # set at the first event (cur is _UNSET)
        ents: dict[int, list[Any]] = _NO_ENTRIES  # likewise
        log: str | tuple[str, str] = ""  # likewise: the log's key (hs.key)
        entry: list[Any] | None
        owner_source: EventKind | None
        start: int | None
        try:
            for ev in events:
                # One unpack reads every field: far cheaper than ten attribute loads.
                try:
                    (
                        kind,
                        host,
                        pid,
                        time,
                        event_id,
                        record_number,
                        image,
                        user,
                        domain,
                        logon_id,
                        _own_account,
                        creator_pid,
                        creator_image,
                        layout,
                        channel,
                        command_line,
                        exit_status,
                        integrity,
                        extra,
                    ) = ev[:]  # type: ignore[misc]  # a HostEvent does not unpack: see below
                except (TypeError, ValueError, LookupError):
                    if not isinstance(ev, HostEvent):
                        raise UsageError(f"not an event: {ev!r}") from None
                    self._open = count
                    self._host_event(ev, out)
                    count = self._open
                    cur = _UNSET
                    continue
                if host is not cur or channel is not cur_channel:
                    key = host if channel is None else (host, channel)
                    hs_ = hosts.get(key)
                    if hs_ is None:
                        check_new_host(host, channel, time, ev)
                        hs_ = self._new_log(key, host, time)
                    hs = hs_
                    log = hs.key
                    ents = hs.entries
                    cur = host
                    cur_channel = channel
                n_events += 1
                if kind is _E:
                    entry = ents.pop(pid, None)
                    if entry is None:
                        if hs.gone and hs.gone.pop(pid, None) is not None:
                            self._memo_count -= 1  # it has exited now
                        lost = time <= hs.lost_until
                        emit(record_from_event(ev, _ORPHAN, hs.clock, lost))  # type: ignore[arg-type]
                        n_orphans += 1
                        continue
                    count -= 1
                    entry[_LOG] = _CLOSED  # the FIFO drops it lazily
                    # The entry closes: one unpack reads every slot, the exit is merged into
                    # the locals, and one tuple in Record's order is the record
                    # (record_from_entry, written out; tests/test_layout.py pins both).
                    (
                        _o_host,
                        _o_pid,
                        o_image,
                        o_user,
                        o_domain,
                        o_logon_id,
                        o_owner_source,
                        o_creator_pid,
                        o_creator_image,
                        o_start,
                        o_provenance,
                        o_layout,
                        o_first_seen,
                        o_command_line,
                        o_exit_status,
                        o_integrity,
                        o_extra,
                        o_process_id,
                        o_creator_process_id,
                        o_audits_lost,
                    ) = entry
                    if user is not None and o_owner_source is not _T:
                        o_user = user
                        o_domain = domain
                        o_logon_id = logon_id
                        o_owner_source = _E
                    if o_image is None:
                        o_image = image
                    if o_layout is None:
                        o_layout = layout
                    if extra:
                        o_extra = _union(o_extra, extra)
                    if type(o_provenance) is not tuple:
                        # The entry held one event: its record number, its id in the exit
                        # status slot (see _provenance).
                        if type(o_process_id) is not tuple:
                            o_process_id = (host, channel, pid, o_process_id, o_provenance)
                        o_provenance = (o_exit_status, o_provenance, event_id, record_number)
                    else:
                        if type(o_process_id) is not tuple:
                            o_process_id = (host, channel, pid, o_process_id, o_provenance[1])
                        # Concatenation is faster than a display with unpacking here.
                        o_provenance = o_provenance + (event_id, record_number)  # noqa: RUF005
                    emit(
                        _new_record(
                            Record,
                            (
                                host,
                                pid,
                                o_image,
                                o_user,
                                o_domain,
                                o_logon_id,
                                o_owner_source,
                                o_creator_pid,
                                o_creator_image,
                                o_start,
                                time,
                                _PARTIAL if o_start is None else _COMPLETE,
                                _EXITED,
                                o_provenance,
                                o_layout,
                                o_first_seen,
                                channel,
                                o_command_line,
                                exit_status,
                                o_integrity,
                                o_extra,
                                o_process_id,
                                o_creator_process_id,
                                o_audits_lost,
                            ),
                        )
                    )
                    n_exited += 1
                    continue
                if kind is _T:
                    entry = ents.get(pid)
                    if entry is not None:
                        if user is not None and entry[_OWNER_SRC] is not _T:
                            entry[_USER] = user
                            entry[_DOMAIN] = domain
                            entry[_LOGON] = logon_id
                            entry[_OWNER_SRC] = _T
                        if entry[_IMAGE] is None:
                            entry[_IMAGE] = image
                        known = entry[_CPID]
                        if known is None:
                            entry[_CPID] = known = creator_pid
                        if entry[_CIMAGE] is None and (creator_pid is None or creator_pid == known):
                            entry[_CIMAGE] = creator_image
                        if entry[_LAYOUT] is None:
                            entry[_LAYOUT] = layout
                        if extra:
                            entry[_EXTRA] = _union(entry[_EXTRA], extra)
                        prov = entry[_PROV]
                        if type(prov) is not tuple:  # it held one event (see _provenance)
                            entry[_PROV] = (entry[_EXIT_STATUS], prov, event_id, record_number)
                            entry[_EXIT_STATUS] = None
                        else:
                            entry[_PROV] = prov + (event_id, record_number)  # noqa: RUF005
                        continue
                elif kind is not _C:
                    n_events -= 1
                    raise UsageError(f"unknown event kind {kind!r} in {ev!r}")
                # An entry opens: only these events move the host's clock and check its record
                # numbers (exits just close; see the module docs).
                if record_number is not None:
                    if record_number < hs.last_record:
                        count -= self._new_epoch(hs, time, out)
                    hs.last_record = record_number
                clock = hs.clock
                if time > clock:
                    if time - clock <= max_skew:
                        hs.clock = time
                        if hs.jump is not None:
                            hs.jump = None
                        if time >= hs.next_deadline:
                            count -= self._expire(hs, out)
                    else:
                        count -= self._far(hs, time, out)
                elif clock - time > max_skew:
                    count -= self._far(hs, time, out)
                elif hs.jump is not None:
                    hs.jump = None
                if kind is _C:
                    old = ents.pop(pid, None)
                    if old is not None:
                        count -= 1
                        emit(_close(old, _SUPERSEDED))
                        n_superseded += 1
                    creator_id = found = None
                    if creator_pid is not None:
                        creator = ents.get(creator_pid)
                        if creator is not None:
                            found = creator[_IMAGE]
                            creator_id = creator[_PROCESS_ID]
                            if type(creator_id) is not tuple:
                                creator_id = _process_id(creator)
                        elif hs.gone:
                            known_creator = hs.gone.get(creator_pid)
                            if known_creator is not None:
                                found = known_creator[_R_IMAGE]
                                creator_id = known_creator[_R_PROCESS_ID]
                    if hs.gone and hs.gone.pop(pid, None) is not None:
                        # A new process holds this pid now: what was remembered under it is stale.
                        self._memo_count -= 1
                    if creator_image is None:
                        creator_image = found  # at the creation's rank
                    owner_source = _C
                    start = time
                else:
                    creator = None if creator_pid is None else ents.get(creator_pid)
                    creator_id = None
                    if creator is not None:
                        creator_id = creator[_PROCESS_ID]
                        if type(creator_id) is not tuple:
                            creator_id = _process_id(creator)
                    owner_source = _T
                    start = command_line = integrity = None
                if user is None:
                    domain = logon_id = owner_source = None
                # A new entry opens (a creation, or a token for a process not seen yet): the
                # merge policy applied to this one event, as one list display in the order of
                # OPEN_FIELDS (a builder call would cost a frame per event). tests/test_layout.py
                # pins the display to those fields; the reference test pins what it holds.
                entry = [
                    log,  # host: its log's key while it is open
                    pid,
                    image,
                    user,
                    domain,
                    logon_id,
                    owner_source,
                    creator_pid,
                    creator_image,
                    start,
                    record_number,  # provenance: while it is the only event (see _provenance)
                    layout,
                    hs.clock,  # first_seen
                    command_line,
                    event_id,  # exit_status: likewise
                    integrity,
                    extra or None,
                    time,  # the process id, made when wanted: see _process_id
                    creator_id,
                    time <= hs.lost_until,  # audits_lost
                ]
                if not ents:
                    hs.next_deadline = hs.clock + ttl
                ents[pid] = entry
                push(entry)
                count += 1
                if count > max_open:
                    evicted = self._evict(count, out)
                    count -= evicted
                    n_evicted += evicted
                if count > peak:
                    peak = count
        except Exception as exc:
            exc.records = out  # type: ignore[attr-defined]
            raise
        finally:
            self._open = count
            if len(self._fifo) > 2 * count + 64:
                self._compact()  # once per batch: the FIFO holds at most a batch of stale entries
            self.stats.events += n_events
            self.stats.peak_open = peak
            if n_exited:
                records[_EXITED] += n_exited
            if n_orphans:
                records[_ORPHAN] += n_orphans
            if n_superseded:
                records[_SUPERSEDED] += n_superseded
            if n_evicted:
                records[_EVICTED] += n_evicted
        return out

    def process(
        self, events: Iterable[Event], *, chunk: int = 1024
    ) -> Generator[Record, None, None]:
        """Stream: fold ``events`` in chunks and yield records as they become final.

        At the end of ``events`` the correlator is closed and the open entries are yielded as
        ``flushed``. Memory stays bounded by ``max_open`` and ``chunk``, whatever the input size.
        """
        if chunk < 1:
            raise UsageError(f"chunk must be at least 1, not {chunk!r}")
        iterator = iter(events)
        while True:
            batch: list[Event] = []
            try:
                batch.extend(islice(iterator, chunk))
            except BaseException:  # Ctrl-C too: keep what was read
                # The source failed mid-batch: fold what it gave before failing, then re-raise.
                yield from self.feed_many(batch)
                raise
            if not batch:
                break
            yield from self.feed_many(batch)
        yield from self._flush()

    def advance(self, time: int, host: str | None = None) -> list[Record]:
        """Move the clock of ``host`` (of every known host when None) to ``time`` if later.

        The caller's clock is trusted: no skew guard. Returns the records that expired.
        """
        if self._closed:
            raise UsageError("the correlator is closed")
        if not isinstance(time, int):
            raise UsageError(f"time must be int nanoseconds since the epoch, not {time!r}")
        try:
            self._turn.pop()  # this verb's turn (see _turn)
        except IndexError:
            raise _concurrent_use() from None
        try:
            out: list[Record] = []
            if self._sequencer is not None:
                self._sequencer.advance(time, host)
                self._fold_pending(out)
            for hs in list(self._hosts.values()):
                if host is not None and hs.name != host:
                    continue
                if time > hs.clock:
                    hs.clock = time
                    hs.jump = None
                    if time >= hs.next_deadline:
                        self._open -= self._expire(hs, out)
            return out
        finally:
            self._turn.append(True)

    def close(self) -> list[Record]:
        """Emit every open entry as ``flushed``, oldest first; the correlator is then closed.

        Closing a closed correlator returns an empty list.
        """
        return list(self._flush())

    def _flush(self) -> Iterator[Record]:
        """:meth:`close`, one record at a time, so a stream's end needs no list of them all.

        Each entry leaves the open set as its record is yielded: a consumer that stops early
        leaves the rest open, and :meth:`close` still flushes them.
        """
        if self._closed:
            return
        turn = self._turn
        if self._sequencer is not None:
            out: list[Record] = []
            try:
                turn.pop()  # this verb's turn (see _turn)
            except IndexError:
                raise _concurrent_use() from None
            try:
                self._sequencer.flush()
                self._fold_pending(out)
            finally:
                turn.append(True)
            yield from out
        fifo = self._fifo
        one: list[Record] = []
        while fifo:
            try:
                turn.pop()
            except IndexError:
                raise _concurrent_use() from None
            try:
                entry = fifo.popleft()
                if entry[_LOG] is _CLOSED:
                    continue  # closed earlier; lazily deleted
                del self._hosts[entry[_LOG]].entries[entry[_PID]]
                self._open -= 1
                self._emit(entry, Reason.FLUSHED, one)
            finally:
                turn.append(True)
            yield one.pop()
        self._closed = True

    # -- slow paths ------------------------------------------------------------------------

    def _fold_late(self, ev: Event, out: list[Record]) -> None:
        """An event the window could not put in order: into its open process, or on its own."""
        if isinstance(ev, HostEvent):
            self._host_event(ev, out)
            return
        hs = self._hosts.get(_key(ev.host, ev.channel))
        entry = None if hs is None else hs.entries.get(ev.pid)
        if entry is None or (
            ev.kind is _C and (len(_provenance(entry)) != 2 or entry[_START] is not None)
        ):
            # Alone: its process is not open, or it is a creation for an entry holding more
            # than the token that opened it (see LATE_LIFECYCLE).
            first_seen = ev.time if hs is None else hs.clock
            out.append(record_from_event(ev, Reason.LATE, first_seen, False))
            self.stats.events += 1
            self.stats.records[Reason.LATE] += 1
        elif ev.kind is _C:
            self._fold_late_creation(entry, ev)
            self.stats.events += 1
        else:
            out += self._fold((ev,))  # a token or an exit folds into an open entry as usual

    def _fold_late_creation(self, entry: list[Any], ev: ProcessEvent) -> None:
        """The creation of a process whose token opened its entry, the window let by late.

        The merge policy over (creation, token), the entry holding the token's fields: the
        creation wins image, creator, start, command line, integrity, layout and the extra
        names it shares; it names the owner only when the token did not; the token's creator
        image stays only when the token's creator pid agrees with the creation's.
        """
        if entry[_OWNER_SRC] is None and ev.user is not None:
            entry[_USER] = ev.user
            entry[_DOMAIN] = ev.domain
            entry[_LOGON] = ev.logon_id
            entry[_OWNER_SRC] = _C
        if ev.image is not None:
            entry[_IMAGE] = ev.image
        cpid = ev.creator_pid
        if ev.creator_image is not None:
            entry[_CIMAGE] = ev.creator_image
        elif cpid is not None and entry[_CPID] is not None and entry[_CPID] != cpid:
            entry[_CIMAGE] = None
        if cpid is not None:
            entry[_CPID] = cpid
        if ev.layout is not None:
            entry[_LAYOUT] = ev.layout
        entry[_START] = ev.time
        entry[_CMDLINE] = ev.command_line
        entry[_INTEGRITY] = ev.integrity
        if ev.extra:
            entry[_EXTRA] = _union(ev.extra, entry[_EXTRA] or {})
        _process_id(entry)  # before the first record number moves
        entry[_PROV] = (ev.event_id, ev.record_number, *_provenance(entry))

    def _emit(self, entry: list[Any], reason: Reason, out: list[Record]) -> None:
        """Close an entry that did not exit (its status is partial) with ``reason``."""
        out.append(_close(entry, reason))
        self.stats.records[reason] += 1

    def _expire(self, hs: _Host, out: list[Record]) -> int:
        """Emit the host's entries whose ttl ran out; return how many."""
        limit = hs.clock - self._ttl
        ents = hs.entries
        expired = []
        hs.next_deadline = _INF
        for pid, entry in ents.items():
            if entry[_FIRST_SEEN] > limit:
                hs.next_deadline = entry[_FIRST_SEEN] + self._ttl
                break
            expired.append(pid)
        for pid in expired:
            self._emit(ents.pop(pid), Reason.EXPIRED, out)
            self._remember(hs, pid, out[-1])
        return len(expired)

    def _evict(self, count: int, out: list[Record]) -> int:
        """Emit the oldest entries until ``count`` is within max_open; return how many.

        At the bound every creation lands here, so :meth:`_remember` and :meth:`_emit` are
        written out inline (an evicted entry has not exited: its status is partial).
        """
        evicted = 0
        hosts = self._hosts
        # Usually one entry: attributes are read in the loop rather than copied to locals first.
        while count - evicted > self._max_open:
            entry = self._fifo.popleft()
            key = entry[_LOG]
            if key is _CLOSED:
                continue  # closed earlier; lazily deleted
            hs = hosts[key]
            host = hs.name
            channel = hs.channel
            pid = entry[_PID]
            del hs.entries[pid]
            # record_from_entry, written out (as in the fold's exit); the entry left the FIFO
            # and its log's dict already, so it needs no _CLOSED mark.
            (
                _o_host,
                _o_pid,
                o_image,
                o_user,
                o_domain,
                o_logon_id,
                o_owner_source,
                o_creator_pid,
                o_creator_image,
                o_start,
                o_provenance,
                o_layout,
                o_first_seen,
                o_command_line,
                o_exit_status,
                o_integrity,
                o_extra,
                o_process_id,
                o_creator_process_id,
                o_audits_lost,
            ) = entry
            if type(o_provenance) is not tuple:  # _provenance, written out
                o_provenance = (o_exit_status, o_provenance)
            if type(o_process_id) is not tuple:
                o_process_id = (host, channel, pid, o_process_id, o_provenance[1])
            record = _new_record(
                Record,
                (
                    host,
                    pid,
                    o_image,
                    o_user,
                    o_domain,
                    o_logon_id,
                    o_owner_source,
                    o_creator_pid,
                    o_creator_image,
                    o_start,
                    None,
                    _PARTIAL,
                    _EVICTED,
                    o_provenance,
                    o_layout,
                    o_first_seen,
                    channel,
                    o_command_line,
                    None,
                    o_integrity,
                    o_extra,
                    o_process_id,
                    o_creator_process_id,
                    o_audits_lost,
                ),
            )
            out.append(record)
            evicted += 1
            # _remember, written out (see above).
            gone = hs.gone
            if gone.pop(pid, None) is None:
                self._memo_count += 1
            gone[pid] = record
            order = self._memo_order
            order.append(record)
            if self._memo_count > self._memo_size:
                # At the bound, each eviction drops the oldest remembered: one step here
                # (_memo_owner, written out).
                old: Any = order.popleft()  # a Record, read by position
                old_host = old[_R_HOST]
                old_channel = old[_R_CHANNEL]
                old_pid = old[_R_PID]
                old_hs = hosts.get(old_host if old_channel is None else (old_host, old_channel))
                if old_hs is not None and old_hs.gone.get(old_pid) is old:
                    del old_hs.gone[old_pid]
                    self._memo_count -= 1
            if self._memo_count > self._memo_size or len(order) > 2 * self._memo_size + 64:
                self._trim_memo()
        return evicted  # the caller counts them in stats.records

    def _remember(self, hs: _Host, pid: int, record: Record) -> None:
        """Keep who a process was (the record its entry closed with) when its entry closed
        before its exit was seen; past ``memo_size`` over all logs, the oldest remembered goes."""
        gone = hs.gone
        if gone.pop(pid, None) is None:
            self._memo_count += 1
        gone[pid] = record
        order = self._memo_order
        order.append(record)
        if self._memo_count > self._memo_size or len(order) > 2 * self._memo_size + 64:
            self._trim_memo()

    def _memo_owner(self, record: Record) -> _Host | None:
        """The log whose memo holds ``record``, or None when it left the memo (its process
        exited, its pid was reused, it was remembered again, or its host restarted)."""
        hs = self._hosts.get(_key(record.host, record.channel))
        return hs if hs is not None and hs.gone.get(record.pid) is record else None

    def _trim_memo(self) -> None:
        """Drop the oldest remembered past ``memo_size``; compact the order's stale items."""
        order = self._memo_order
        while self._memo_count > self._memo_size:
            old = order.popleft()
            owner = self._memo_owner(old)
            if owner is not None:
                del owner.gone[old.pid]
                self._memo_count -= 1
        if len(order) > 2 * self._memo_size + 64:
            self._memo_order = deque(
                record for record in order if self._memo_owner(record) is not None
            )

    def _new_log(self, key: str | tuple[str, str], host: str, clock: int) -> _Host:
        """A log seen for the first time. When ``max_open + max_idle_logs`` logs are known
        already, the logs with no open entry are forgotten first (see 'idle logs')."""
        hosts = self._hosts
        if len(hosts) >= self._max_logs:
            for idle in [k for k, hs in hosts.items() if not hs.entries and not hs.gone]:
                del hosts[idle]
        hs = _Host(host, clock, None if isinstance(key, str) else key[1])
        hosts[hs.key] = hs
        return hs

    def _compact(self) -> None:
        """Drop closed entries from the FIFO (see _CLOSED)."""
        self._fifo = deque(entry for entry in self._fifo if entry[_LOG] is not _CLOSED)

    def _far(self, hs: _Host, t: int, out: list[Record]) -> int:
        """``t`` is more than max_skew from the host's clock: hold it, or take the jump.

        Returns how many entries the jump expired.
        """
        jump = hs.jump
        if jump is not None and abs(t - jump) <= self._max_skew:
            self.stats.clock_jumps += 1
            return self._reset_clock(hs, t, out)
        hs.jump = t
        self.stats.clock_held += 1
        return 0

    def _reset_clock(self, hs: _Host, t: int, out: list[Record]) -> int:
        """Set the host's clock to ``t`` (maybe backwards); re-base entries; expire what is due.

        Returns how many entries expired.
        """
        if t < hs.clock:
            # No entry was first seen after the clock (an entry takes the clock's time, and the
            # clock only goes back here): only a clock going back can leave one after it.
            for entry in hs.entries.values():
                if entry[_FIRST_SEEN] > t:
                    entry[_FIRST_SEEN] = t
        hs.clock = t
        hs.jump = None
        hs.next_deadline = -_INF if hs.entries else _INF
        return self._expire(hs, out)

    def _new_epoch(self, hs: _Host, t: int, out: list[Record]) -> int:
        """Record numbers went down: a new epoch. The clock is reset to ``t`` (it may go back)
        only within ``max_skew``; a farther time is left to the skew guard (hold and confirm),
        so one event cannot expire a host's open processes. Returns how many expired."""
        self.stats.epochs += 1
        if abs(t - hs.clock) > self._max_skew:
            return 0
        return self._reset_clock(hs, t, out)

    def _host_event(self, ev: HostEvent, out: list[Record]) -> None:
        """What a host event does to the host's open processes (see :class:`HostEventKind`)."""
        self.stats.host_events += 1
        # Host events come from the Security (or System) log: they act on its entries, except a
        # restart, after which no process of the host, in any log, is still running.
        hs = self._hosts.get(ev.host)
        if hs is None:
            hs = self._new_log(ev.host, ev.host, ev.time)
        kind = ev.kind
        if kind is HostEventKind.HOST_STARTED:
            for other in list(self._hosts.values()):
                if other.name == ev.host:
                    self._close_all(other, Reason.HOST_RESTART, out)
            for other in self._hosts.values():
                if other.name == ev.host:
                    self._memo_count -= len(other.gone)
                    other.gone.clear()
        elif kind is HostEventKind.LOG_CLEARED:
            self._close_all(hs, Reason.LOG_CLEARED, out)
            self.stats.epochs += 1
            self._reset_clock(hs, ev.time, out)
            hs.last_record = -1 if ev.record_number is None else ev.record_number
            return
        elif kind is HostEventKind.AUDITS_DISCARDED:
            self.stats.audits_lost += 1
            for entry in hs.entries.values():
                entry[_AUDITS_LOST] = True
            if ev.time > hs.lost_until:
                hs.lost_until = ev.time
        if ev.time > hs.clock and ev.time - hs.clock <= self._max_skew:
            hs.clock = ev.time
            if ev.time >= hs.next_deadline:
                self._open -= self._expire(hs, out)

    def _close_all(self, hs: _Host, reason: Reason, out: list[Record]) -> None:
        """Emit every open entry of one host and log with ``reason``, oldest first."""
        for entry in hs.entries.values():
            self._emit(entry, reason, out)
        self._open -= len(hs.entries)
        hs.entries.clear()
        hs.next_deadline = _INF
