"""The monitor: a correlator plus rules, turning events into alerts as early as possible.

Theory of operation
-------------------
An alert should fire seconds after the intrusion, also when the process never exits. So the
monitor does not wait for final records: after every event it asks each rule about the process
that event touched, as it is known *now* (a snapshot, reason ``open``), until the rule fires or
the process's record becomes final; a final record is asked once more, unless the rule already
fired for it. On XP/2003 the 600 (or a sufficient 593) makes the anonymous-web rule fire; on
Windows 2000 it is the 593 that joins the 592's image with the exiting account.

One process raises at most one alert per rule. The monitor remembers which rules fired for each
*open* process and forgets it when that process's record is emitted, so this memory is bounded
by the correlator's ``max_open``.

In single-event mode there is no correlator: each event that alone names image and owner
(:func:`~correlog.is_sufficient`) becomes a record (reason ``single``) and is asked directly. A 600
and the 593 of the same process would both qualify; a small bounded TTL cache of processes that
already alerted keeps that to one alert.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Final

from cachetools import TTLCache

from ._correlator import Correlator
from ._errors import UsageError
from ._events import Event, EventKind, HostEvent, ProcessEvent
from ._records import Alert, Record
from ._single import single_record
from ._time import seconds
from .rules import RuleLike, rule_name

__all__ = ["Monitor"]

_E: Final = EventKind.EXITED


class Monitor:
    """Feed events, get alerts. Records go to ``on_record`` when given.

    ``rules``: callables over records (see :mod:`correlog.rules`). ``correlator``: the one to
    use (a default :class:`Correlator` otherwise). ``single_event``: run only the stateless
    single-event path. ``dedup_ttl``/``dedup_size``: how long and how many alerted processes the
    single-event path remembers to avoid a second alert from the same process's exit.
    """

    def __init__(
        self,
        rules: Sequence[RuleLike],
        *,
        correlator: Correlator | None = None,
        single_event: bool = False,
        on_record: Callable[[Record], object] | None = None,
        dedup_ttl: float = 3600.0,
        dedup_size: int = 4096,
    ) -> None:
        if not rules:
            raise UsageError("a monitor needs at least one rule")
        for rule in rules:
            if not callable(rule):
                raise UsageError(f"a rule must be callable, not {rule!r}")
        if single_event and correlator is not None:
            raise UsageError("single-event mode uses no correlator")
        self._rules: tuple[tuple[str, RuleLike], ...] = tuple((rule_name(r), r) for r in rules)
        names = [name for name, _ in self._rules]
        if len(set(names)) != len(names):
            raise UsageError(f"rule names must be unique: {names}")
        self._single = single_event
        self._correlator = (
            None if single_event else (correlator if correlator is not None else Correlator())
        )
        if self._correlator is not None:
            self._correlator._track_released()
        self._on_record = on_record
        self._fired: dict[tuple[str, int, str | None], set[str]] = {}
        #: Every key the dedup cache may hold (a superset: it also keeps expired ones a while).
        self._alerted_keys: set[tuple[str, int, str | None]] = set()
        self._alerted: TTLCache[tuple[str, int, str | None], bool] = TTLCache(
            maxsize=dedup_size, ttl=seconds(dedup_ttl), timer=self._now
        )
        self._clock = 0

    def _now(self) -> int:
        return self._clock

    @property
    def correlator(self) -> Correlator | None:
        """The correlator in use (None in single-event mode)."""
        return self._correlator

    @property
    def single_event(self) -> bool:
        """True when only the stateless single-event path runs."""
        return self._single

    def feed(self, event: Event) -> list[Alert]:
        """Fold one event in; return the alerts it raised."""
        alerts: list[Alert] = []
        if self._correlator is None:
            if isinstance(event, ProcessEvent):
                self._feed_single(event, alerts)
            elif not isinstance(event, HostEvent):
                raise UsageError(f"not an event: {event!r}")
            return alerts
        correlator = self._correlator
        records = correlator.feed(event)
        self._final(records, event, alerts)
        # The processes this call changed: the event's own, or, with an ordering window, those
        # of the events the window let go (the one fed may still be waiting in it).
        touched = correlator._take_released() if correlator._windowed else (event,)
        for folded in touched:
            if isinstance(folded, ProcessEvent):
                self._ask_open(folded, alerts)
        return alerts

    def _ask_open(self, event: ProcessEvent, alerts: list[Alert]) -> None:
        """Ask the rules about the still-open process ``event`` belongs to, if any."""
        assert self._correlator is not None
        snap = self._correlator.snapshot(event.host, event.pid, event.channel)
        if snap is None:
            return
        key = (event.host, event.pid, event.channel)
        fired = self._fired.get(key)
        if fired is None:
            fired = set()
            if self._ask(snap, fired, event, alerts):
                self._fired[key] = fired
        else:
            self._ask(snap, fired, event, alerts)

    def feed_many(self, events: Iterable[Event]) -> list[Alert]:
        """Fold events in, in order; return every alert they raised, in order."""
        alerts: list[Alert] = []
        if self._correlator is None:
            # The single-event path, without a list per event.
            feed_single = self._feed_single
            for event in events:
                if isinstance(event, ProcessEvent):
                    feed_single(event, alerts)
                elif not isinstance(event, HostEvent):
                    raise UsageError(f"not an event: {event!r}")
            return alerts
        for event in events:
            alerts.extend(self.feed(event))
        return alerts

    def advance(self, time: int, host: str | None = None) -> list[Alert]:
        """Advance the correlator's clock (see :meth:`Correlator.advance`); alerts on expiry."""
        alerts: list[Alert] = []
        correlator = self._correlator
        if correlator is not None:
            self._final(correlator.advance(time, host), None, alerts)
            self._ask_released(alerts)
        return alerts

    def close(self) -> list[Alert]:
        """Flush the correlator; alerts for records that only now became decidable."""
        alerts: list[Alert] = []
        correlator = self._correlator
        if correlator is not None:
            self._final(correlator.close(), None, alerts)
            self._ask_released(alerts)
        return alerts

    def _ask_released(self, alerts: list[Alert]) -> None:
        # What an ordering window let go on advance or close: records of those processes were
        # already asked when final; the rest are still open (advance) and may decide now.
        assert self._correlator is not None
        if self._correlator._windowed:
            for folded in self._correlator._take_released():
                if isinstance(folded, ProcessEvent):
                    self._ask_open(folded, alerts)

    # -- internals -------------------------------------------------------------------------

    def _final(self, records: list[Record], event: Event | None, alerts: list[Alert]) -> None:
        for record in records:
            if self._on_record is not None:
                self._on_record(record)
            fired = self._fired.pop((record.host, record.pid, record.channel), None)
            self._ask(record, set() if fired is None else fired, event, alerts)

    def _ask(
        self, record: Record, fired: set[str], event: Event | None, alerts: list[Alert]
    ) -> bool:
        """Ask every rule not yet in ``fired``; add those that fire. True if any did."""
        any_fired = False
        for name, rule in self._rules:
            if name in fired:
                continue
            verdict = rule(record)
            if not verdict:
                continue
            fired.add(name)
            any_fired = True
            alerts.append(_alert(name, record, event, verdict))
        return any_fired

    def _feed_single(self, event: ProcessEvent, alerts: list[Alert]) -> None:
        if event.time > self._clock:
            self._clock = event.time
        record = single_record(event)
        if record is not None and self._on_record is not None:
            self._on_record(record)
        kind = event.kind
        seen = False
        key = (event.host, event.pid, event.channel)
        # Alerts are rare: a plain set says which processes the dedup cache may hold, so an
        # ordinary event pays no cache operation at all.
        if key in self._alerted_keys:
            if kind is EventKind.CREATED:
                # A creation is a new process, whatever alerted under its pid before.
                self._alerted.pop(key, None)
                self._alerted_keys.discard(key)
            elif kind is _E:
                # The process's life ends here: nothing more can come from it.
                seen = self._alerted.pop(key, False)
                self._alerted_keys.discard(key)
            else:
                seen = self._alerted.get(key, False)
        if record is None or seen:
            return
        fired = False
        for name, rule in self._rules:
            verdict = rule(record)
            if verdict:
                fired = True
                alerts.append(_alert(name, record, event, verdict))
        if fired and kind is not _E:
            self._alerted[key] = True
            self._alerted_keys.add(key)
            if len(self._alerted_keys) > 2 * self._alerted.maxsize:
                # Keys the cache expired or evicted on its own: forget them too.
                self._alerted_keys = set(self._alerted)


def _alert(name: str, record: Record, event: Event | None, verdict: str | bool) -> Alert:
    message = verdict if isinstance(verdict, str) else ""
    return Alert(
        rule=name,
        host=record.host,
        pid=record.pid,
        image=record.image,
        user=record.user,
        domain=record.domain,
        time=None if event is None else event.time,
        event_id=None if event is None else event.event_id,
        record=record,
        message=message,
    )
