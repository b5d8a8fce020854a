"""The reference correlator: what correlog means, written plainly. Read this first.

:class:`ReferenceCorrelator` takes the same settings and verbs as :class:`~correlog.Correlator`
and gives the same records and counters for any calls (a differential test checks it over
every feature). It is built from the two tables of :mod:`correlog._policy` and nothing else:

* :data:`~correlog.LIFECYCLE` says what an event does to its process's open entry: open one,
  supersede the old one and open, join it (fold), join and close it, or become a record alone.
  :data:`~correlog.LATE_LIFECYCLE` says the same for events the ordering window let by late.
* :data:`~correlog.MERGE_POLICY` says which event's value becomes each field of the record:
  an entry keeps its events, and :func:`~correlog.merge` is applied when its record is made.
* :data:`~correlog.CLOCK_RULES` name the rules of the per-log clocks (epochs, the skew guard,
  ttl, eviction, the creator memo, lost audits); the methods below cite them by name.

The parts: a :class:`_Log` per host and log (its clock, epoch, record numbers and open
entries); an :class:`_Entry` per open process (its events); the open set over all logs, in
opening order, for eviction; and the creator memo over all logs. No positional tuples, no
speed tricks: the fast :class:`~correlog.Correlator` is the specialised copy, and this is what
it must equal.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Generator, Iterable
from itertools import islice
from typing import Any

import attrs

from ._engine import CorrelatorStats, check_new_host, settings
from ._errors import UsageError
from ._events import Event, EventKind, HostEvent, HostEventKind, ProcessEvent
from ._policy import LATE_LIFECYCLE, LIFECYCLE, Action, EntryState, Transition, merge
from ._records import ProcessId, Reason, Record, Status, process_id
from ._sequencer import Sequencer

__all__ = ["ReferenceCorrelator"]

_NEVER = -(2**63)
LIFECYCLE_KINDS = frozenset(EventKind)
LogKey = tuple[str, str | None]


@attrs.define(eq=False)
class _Entry:
    """One open process: the events folded in so far, in order, and what was found for it."""

    log: _Log
    pid: int
    #: The log's clock when the entry opened; ttl counts from here (re-based on a new epoch).
    first_seen: int
    #: The id of the process: its first event's host, log, pid, time and record number.
    process_id: ProcessId
    events: list[ProcessEvent]
    #: The creator's process id, when the creator was known when the entry opened.
    creator_id: ProcessId | None = None
    #: The creator's image found (open entry or memo) for the opening creation that names none:
    #: it counts as that creation's ``creator_image``.
    found_image: str | None = None
    audits_lost: bool = False

    @property
    def state(self) -> EntryState:
        only_token = len(self.events) == 1 and self.events[0].kind is EventKind.TOKEN_ASSIGNED
        return EntryState.OPEN_ON_TOKEN if only_token else EntryState.OPEN

    def merged(self) -> dict[str, Any]:
        """The merge policy over this entry's events."""
        events = list(self.events)
        first = events[0]
        if self.found_image is not None and first.creator_image is None:
            events[0] = first._replace(creator_image=self.found_image)
        return merge(events)

    def record(self, reason: Reason) -> Record:
        fields = self.merged()
        complete = fields["start"] is not None and fields["end"] is not None
        return Record(
            host=self.log.host,
            pid=self.pid,
            status=Status.COMPLETE if complete else Status.PARTIAL,
            reason=reason,
            provenance=_provenance(self.events),
            first_seen=self.first_seen,
            channel=self.log.channel,
            process_id=self.process_id,
            creator_process_id=self.creator_id,
            audits_lost=self.audits_lost,
            **fields,
        )


@attrs.define(eq=False)
class _Log:
    """One host's log (the Security log, or another such as Sysmon's): clock and open entries."""

    host: str
    channel: str | None
    clock: int
    #: A far jump held by the skew guard, waiting for a second event to confirm it.
    held: int | None = None
    #: The last record number seen on an event that moved the clock (-1: none yet).
    last_record: int = -1
    #: Entries whose first event is at or before this time may miss events (lost audits).
    lost_until: int = _NEVER
    #: pid -> open entry, in opening order (which is also deadline order).
    open: dict[int, _Entry] = attrs.field(factory=dict)


def _provenance(events: Iterable[ProcessEvent]) -> tuple[int | None, ...]:
    return tuple(value for ev in events for value in (ev.event_id, ev.record_number))


def _alone(ev: ProcessEvent, reason: Reason, first_seen: int, audits_lost: bool) -> Record:
    """The record of one event on its own: the merge policy over that event alone."""
    return Record(
        host=ev.host,
        pid=ev.pid,
        status=Status.PARTIAL,
        reason=reason,
        provenance=_provenance([ev]),
        first_seen=first_seen,
        channel=ev.channel,
        process_id=process_id(ev.host, ev.channel, ev.pid, ev.time, ev.record_number),
        creator_process_id=None,
        audits_lost=audits_lost,
        **merge([ev]),
    )


class ReferenceCorrelator:
    """The specification of :class:`~correlog.Correlator`: same settings, verbs and errors."""

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
        self._settings = settings(
            ttl=ttl,
            max_open=max_open,
            max_skew=max_skew,
            memo_size=memo_size,
            lateness=lateness,
            max_idle_logs=max_idle_logs,
        )
        self._logs: dict[LogKey, _Log] = {}
        #: 'creator memo': (host, log, pid) -> (image, process id), oldest first, over all logs.
        self._memo: OrderedDict[tuple[str, str | None, int], tuple[str | None, ProcessId]] = (
            OrderedDict()
        )
        #: Every open entry, over all logs, in opening order: the eviction order.
        self._open: dict[_Entry, None] = {}
        self._closed = False
        self.stats = CorrelatorStats()
        self._released: list[tuple[bool, Event]] = []
        self._window = (
            Sequencer(
                self._settings.lateness,
                release=lambda ev: self._released.append((False, ev)),
                late=lambda ev: self._released.append((True, ev)),
                max_skew=self._settings.max_skew,
            )
            if self._settings.lateness
            else None
        )

    # -- the verbs -------------------------------------------------------------------------

    def feed(self, event: Event) -> list[Record]:
        """Fold one event in; return the records that became final because of it."""
        if not isinstance(event, ProcessEvent | HostEvent):
            raise UsageError(f"not an event: {event!r}")
        return self.feed_many([event])

    def feed_many(self, events: Iterable[Event]) -> list[Record]:
        """Fold events in, in order; on an error, the records so far are on ``error.records``."""
        if self._closed:
            raise UsageError("the correlator is closed")
        out: list[Record] = []
        try:
            for event in events:
                if not isinstance(event, ProcessEvent | HostEvent):
                    raise UsageError(f"not an event: {event!r}")
                if self._window is None:
                    self._fold(event, out)
                else:
                    self._window.push(event)
                    self._fold_released(out)
        except Exception as exc:
            exc.records = out  # type: ignore[attr-defined]
            raise
        return out

    def advance(self, time: int, host: str | None = None) -> list[Record]:
        """Move the clocks of ``host``'s logs (every log when None) to ``time`` if later."""
        if self._closed:
            raise UsageError("the correlator is closed")
        if not isinstance(time, int):
            raise UsageError(f"time must be int nanoseconds since the epoch, not {time!r}")
        out: list[Record] = []
        if self._window is not None:
            self._window.advance(time, host)
            self._fold_released(out)
        for log in list(self._logs.values()):
            if (host is None or log.host == host) and time > log.clock:
                log.clock = time
                log.held = None
                self._expire(log, out)
        return out

    def close(self) -> list[Record]:
        """Emit every open entry as ``flushed``, oldest first; the correlator is then closed."""
        return list(self._flush())

    def process(
        self, events: Iterable[Event], *, chunk: int = 1024
    ) -> Generator[Record, None, None]:
        """Fold ``events`` and yield records as they become final, then close."""
        if chunk < 1:
            raise UsageError(f"chunk must be at least 1, not {chunk!r}")
        iterator = iter(events)
        while True:
            batch: list[Event] = []
            try:
                batch.extend(islice(iterator, chunk))
            except BaseException:  # Ctrl-C too: keep what was read
                yield from self.feed_many(batch)  # what the source gave before it failed
                raise
            if not batch:
                break
            yield from self.feed_many(batch)
        yield from self._flush()

    def _flush(self) -> Generator[Record, None, None]:
        if self._closed:
            return
        if self._window is not None:
            out: list[Record] = []
            self._window.flush()
            self._fold_released(out)
            yield from out
        while self._open:
            entry = next(iter(self._open))
            yield self._close(entry, Reason.FLUSHED)
        self._closed = True

    # -- views -----------------------------------------------------------------------------

    @property
    def ttl(self) -> float:
        return self._settings.ttl / 1e9

    @property
    def max_open(self) -> int:
        return self._settings.max_open

    @property
    def max_skew(self) -> float:
        return self._settings.max_skew / 1e9

    @property
    def closed(self) -> bool:
        return self._closed

    def __len__(self) -> int:
        return len(self._open)

    def __contains__(self, key: object) -> bool:
        """``(host, pid)`` or ``(host, pid, channel)``: is that process open?"""
        if not isinstance(key, tuple) or len(key) not in (2, 3):
            return False
        log = self._logs.get((key[0], key[2] if len(key) == 3 else None))
        return log is not None and key[1] in log.open

    def clock(self, host: str, channel: str | None = None) -> int | None:
        log = self._logs.get((host, channel))
        return None if log is None else log.clock

    def snapshot(self, host: str, pid: int, channel: str | None = None) -> Record | None:
        """The open process as a record with reason ``open``, or None."""
        log = self._logs.get((host, channel))
        entry = None if log is None else log.open.get(pid)
        return None if entry is None else entry.record(Reason.OPEN)

    def open_records(self) -> list[Record]:
        return [entry.record(Reason.OPEN) for entry in self._open]

    # -- one event -------------------------------------------------------------------------

    def _fold(self, event: Event, out: list[Record]) -> None:
        if isinstance(event, HostEvent):
            self._host_event(event, out)
            return
        log = self._log(event)
        if event.kind not in LIFECYCLE_KINDS:  # the log is known from now on, as in the fold
            raise UsageError(f"unknown event kind {event.kind!r} in {event!r}")
        self.stats.events += 1
        transition = self._transition(LIFECYCLE, log, event)
        if transition.moves_clock:
            self._observe(log, event, out)
            transition = self._transition(LIFECYCLE, log, event)  # expiry may have closed it
        self._apply(transition, log, event, out)

    def _fold_late(self, event: Event, out: list[Record]) -> None:
        """An event the window could not put in order: the late lifecycle, no clock."""
        if isinstance(event, HostEvent):
            self._host_event(event, out)
            return
        log = self._logs.get((event.host, event.channel))
        if log is None:  # a log never seen: the event is alone, its own time its first_seen
            self.stats.events += 1
            self._emit_alone(event, Reason.LATE, event.time, False, out)
            return
        transition = self._transition(LATE_LIFECYCLE, log, event)
        if transition.action is Action.ALONE:
            self.stats.events += 1
            self._emit_alone(event, Reason.LATE, log.clock, False, out)
        elif transition.action is Action.FOLD_FIRST:
            self.stats.events += 1
            log.open[event.pid].events.insert(0, event)
        else:  # joins (or closes) its process as an event in order would
            self._fold(event, out)

    def _transition(
        self, table: dict[tuple[EntryState, EventKind], Transition], log: _Log, ev: ProcessEvent
    ) -> Transition:
        entry = log.open.get(ev.pid)
        return table[EntryState.ABSENT if entry is None else entry.state, ev.kind]

    def _apply(
        self, transition: Transition, log: _Log, event: ProcessEvent, out: list[Record]
    ) -> None:
        action = transition.action
        reason = transition.reason
        if action is Action.ALONE:
            assert reason is not None
            self._memo.pop((log.host, log.channel, event.pid), None)  # it is gone now
            self._emit_alone(event, reason, log.clock, event.time <= log.lost_until, out)
            return
        if action in (Action.FOLD, Action.CLOSE):
            entry = log.open[event.pid]
            entry.events.append(event)
            if action is Action.CLOSE:
                assert reason is not None
                out.append(self._close(entry, reason))
            return
        if action is Action.SUPERSEDE_THEN_OPEN:
            assert reason is not None
            out.append(self._close(log.open[event.pid], reason))
        self._open_entry(log, event, out)

    def _emit_alone(
        self, event: ProcessEvent, reason: Reason, first_seen: int, lost: bool, out: list[Record]
    ) -> None:
        out.append(_alone(event, reason, first_seen, lost))
        self.stats.records[reason] += 1

    def _open_entry(self, log: _Log, event: ProcessEvent, out: list[Record]) -> None:
        entry = _Entry(
            log=log,
            pid=event.pid,
            first_seen=log.clock,
            process_id=process_id(
                event.host, event.channel, event.pid, event.time, event.record_number
            ),
            events=[event],
            audits_lost=event.time <= log.lost_until,
        )
        creator = None if event.creator_pid is None else log.open.get(event.creator_pid)
        if creator is not None:
            entry.creator_id = creator.process_id
        if event.kind is EventKind.CREATED:
            if creator is not None:
                entry.found_image = creator.merged()["image"]
            elif event.creator_pid is not None:
                # 'creator memo': the creator's entry closed early, but it may still run.
                remembered = self._memo.get((log.host, log.channel, event.creator_pid))
                if remembered is not None:
                    entry.found_image, entry.creator_id = remembered
            self._memo.pop((log.host, log.channel, event.pid), None)  # the pid is new
        log.open[event.pid] = entry
        self._open[entry] = None
        # 'max open': the oldest opened entry, over all logs, makes room.
        while len(self._open) > self._settings.max_open:
            oldest = next(iter(self._open))
            self._remember(oldest)
            out.append(self._close(oldest, Reason.EVICTED))
        self.stats.peak_open = max(self.stats.peak_open, len(self._open))

    def _close(self, entry: _Entry, reason: Reason) -> Record:
        del entry.log.open[entry.pid]
        del self._open[entry]
        self.stats.records[reason] += 1
        return entry.record(reason)

    def _remember(self, entry: _Entry) -> None:
        """'creator memo': keep who a process was when its entry closed before its exit."""
        key = (entry.log.host, entry.log.channel, entry.pid)
        self._memo.pop(key, None)
        self._memo[key] = (entry.merged()["image"], entry.process_id)
        while len(self._memo) > self._settings.memo_size:
            self._memo.popitem(last=False)

    def _log(self, event: ProcessEvent) -> _Log:
        log = self._logs.get((event.host, event.channel))
        if log is None:
            check_new_host(event.host, event.channel, event.time, event)
            log = self._new_log(event.host, event.channel, event.time)
        return log

    def _new_log(self, host: str, channel: str | None, clock: int) -> _Log:
        """'idle logs': past max_open + max_idle_logs logs, those with no open entry and
        nothing in the creator memo go."""
        if len(self._logs) >= self._settings.max_open + self._settings.max_idle_logs:
            remembered = {(host, channel) for host, channel, _ in self._memo}
            for key in [key for key, log in self._logs.items() if not log.open]:
                if key not in remembered:
                    del self._logs[key]
        log = self._logs[host, channel] = _Log(host, channel, clock)
        return log

    # -- clocks ----------------------------------------------------------------------------

    def _observe(self, log: _Log, event: ProcessEvent, out: list[Record]) -> None:
        """Apply an event that moves the clock: 'new epoch', then 'max skew', then 'ttl'."""
        rn = event.record_number
        if rn is not None:
            if rn < log.last_record:
                self.stats.epochs += 1
                if abs(event.time - log.clock) <= self._settings.max_skew:
                    self._reset_clock(log, event.time, out)
            log.last_record = rn
        t = event.time
        max_skew = self._settings.max_skew
        if abs(t - log.clock) > max_skew:
            if log.held is not None and abs(t - log.held) <= max_skew:
                self.stats.clock_jumps += 1
                self._reset_clock(log, t, out)
            else:
                log.held = t
                self.stats.clock_held += 1
            return
        log.held = None
        if t > log.clock:
            log.clock = t
            self._expire(log, out)

    def _reset_clock(self, log: _Log, t: int, out: list[Record]) -> None:
        log.clock = t
        log.held = None
        for entry in log.open.values():
            entry.first_seen = min(entry.first_seen, t)
        self._expire(log, out)

    def _expire(self, log: _Log, out: list[Record]) -> None:
        """'ttl': entries whose first_seen + ttl the clock has reached, oldest first."""
        for entry in list(log.open.values()):
            if entry.first_seen + self._settings.ttl <= log.clock:
                self._remember(entry)
                out.append(self._close(entry, Reason.EXPIRED))

    # -- host events -----------------------------------------------------------------------

    def _host_event(self, event: HostEvent, out: list[Record]) -> None:
        """:data:`~correlog.HOST_EVENT_RULES`, acting on the host's Security log."""
        self.stats.host_events += 1
        log = self._logs.get((event.host, None)) or self._new_log(event.host, None, event.time)
        if event.kind is HostEventKind.HOST_STARTED:
            for other in list(self._logs.values()):
                if other.host == event.host:
                    self._close_all(other, Reason.HOST_RESTART, out)
            for key in [key for key in self._memo if key[0] == event.host]:
                del self._memo[key]
        elif event.kind is HostEventKind.LOG_CLEARED:
            self._close_all(log, Reason.LOG_CLEARED, out)
            self.stats.epochs += 1
            self._reset_clock(log, event.time, out)
            log.last_record = -1 if event.record_number is None else event.record_number
            return
        elif event.kind is HostEventKind.AUDITS_DISCARDED:
            self.stats.audits_lost += 1
            for entry in log.open.values():
                entry.audits_lost = True
            log.lost_until = max(log.lost_until, event.time)
        if log.clock < event.time <= log.clock + self._settings.max_skew:
            log.clock = event.time
            self._expire(log, out)

    def _close_all(self, log: _Log, reason: Reason, out: list[Record]) -> None:
        out.extend([self._close(entry, reason) for entry in list(log.open.values())])

    # -- the ordering window ---------------------------------------------------------------

    def _fold_released(self, out: list[Record]) -> None:
        """Fold what the window let go, in order; late events by the late lifecycle."""
        released, self._released = self._released, []
        for late, event in released:
            if late:
                self._fold_late(event, out)
            else:
                self._fold(event, out)
        if self._window is not None:
            self.stats.late = self._window.late_events
            self.stats.duplicates = self._window.duplicates
