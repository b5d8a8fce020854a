"""Monitors: events in, alerts out, as early as possible. Two of them, one shape.

Theory of operation
-------------------
An alert should fire seconds after the intrusion, also when the process never exits. So
:class:`Monitor` does not wait for final records: after every event it asks each rule about
the process that event touched, as it is known *now* (a snapshot, reason ``open``), until the
rule fires or the process's record becomes final; a final record is asked once more, unless the
rule already fired for it. On XP/2003 the 600 (or a sufficient 593) makes the anonymous-web
rule fire; on Windows 2000 it is the 593 that joins the 592's image with the exiting account.
One process raises at most one alert per rule: the monitor remembers which rules fired for each
*open* process and forgets it when that process's record is emitted, so this memory is bounded
by the correlator's ``max_open``.

:class:`SingleEventMonitor` keeps no correlation state at all: each event that alone names
image and owner (:func:`~correlog.is_sufficient`) becomes a record (reason ``single``) and is
asked directly. A 600 and the 593 of the same process would both qualify; a small bounded TTL
cache of processes that already alerted keeps that to one alert.

Batches. Asking after every event does not mean feeding the correlator one event at a time,
which costs a call's setup per event. :meth:`Monitor.feed_stream` (and ``feed_many``) hands the
correlator a generator of up to ``_BATCH`` events, and the correlator puts each record in a list
the monitor holds the moment it becomes final; so each time the correlator asks the generator
for the next event, the previous one is folded in, its records are in that list, and the
generator does for it exactly what :meth:`Monitor.feed` does: the same records, asks, alerts and
order (a differential test holds the two paths equal). When every rule keeps its verdicts on
open processes (see :class:`_Verdicts`), the generator looks the event's open entry up
itself and calls :meth:`Monitor._ask_open` only when a rule has not judged its values yet or
would fire: most events of a log then cost two dict lookups. Final records are judged the same
way, from their own values: a record whose values every rule already said no to costs one
lookup per rule and no call. A rule that says it reads no field of a
record (``fields`` empty, as :class:`~correlog.rules.AuditTamper`) answers the same for every
record: once it has said no it is not asked about records again.

Both take the same rules, have the same verbs (``feed``, ``feed_many``, ``feed_stream``,
``advance``, ``close``), and pass every record they make to ``on_record``. An alert names the
event that made its rule fire (``time`` and ``event_id``), or none when a clock's advance or the
end of the input made the record final.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from itertools import chain, islice
from operator import itemgetter
from typing import Any, Final, Protocol

from ._correlator import Correlator
from ._errors import StateError, UsageError
from ._events import Event, EventKind, HostEvent, ProcessEvent
from ._layout import OPEN_SLOT
from ._records import Alert, LevelledAlert, Record, Verdict
from ._single import single_record
from ._state import Stream, expect, json_pieces
from ._time import seconds

__all__ = ["HostRule", "Monitor", "RuleLike", "SingleEventMonitor", "rule_fields", "rule_name"]

#: A rule: a callable over a record returning a message, True, or None/False.
RuleLike = Callable[[Record], str | bool | None]

_E: Final = EventKind.EXITED
_C: Final = EventKind.CREATED
#: Events per call of the correlator on the batched path (:meth:`Monitor.feed_stream`): the
#: call's own cost vanishes, and the correlator tidies up (its eviction queue) once per call.
_BATCH: Final = 1024
_END: Final = object()
#: The rules fired for a process no rule fired for yet.
_NONE: Final[frozenset[str]] = frozenset()
#: The formats of :meth:`Monitor.state` and :meth:`SingleEventMonitor.state`.
MONITOR_FORMAT: Final = "correlog.monitor/1"
SINGLE_EVENT_FORMAT: Final = "correlog.single-event-monitor/1"


def rule_name(rule: RuleLike) -> str:
    """A rule's name: its ``name`` attribute, else its ``__name__``, else its class name."""
    for name in (getattr(rule, "name", None), getattr(rule, "__name__", None)):
        if isinstance(name, str) and name:
            return name
    return type(rule).__name__


def rule_fields(rule: RuleLike) -> frozenset[str] | None:
    """The record fields a rule's verdict reads (its ``record_fields`` attribute), or None when it
    does not say (it may read any). A rule that reads none answers the same for every record.
    (Not ``fields``: a Sigma rule's ``fields`` are its view fields, not what it reads.)"""
    fields = getattr(rule, "record_fields", None)
    return None if fields is None else frozenset(fields)


#: Fields an open entry holds in another form until it is wanted whole (see
#: :meth:`Correlator.snapshot` and :data:`correlog._layout.OPEN_FIELDS`), or whose values
#: cannot key a dict: a rule that reads one is asked about every snapshot.
_UNKEYED: Final = frozenset(
    {"host", "channel", "provenance", "exit_status", "process_id", "extra", "first_seen"}
)
#: Fields every snapshot of an open process has alike: status partial, reason open, no end.
_SNAPSHOT_ALIKE: Final = frozenset({"status", "reason", "end"})
#: How many verdicts each table of a rule's (:class:`_Verdicts`) keeps before it starts afresh:
#: about 2.5 MB at most. A busy log has thousands of distinct owner, logon, creator and image values
#: (the benchmark's 200,000 Snare events: 10,762); 4096 emptied the table every few thousand
#: events and asked twice as often (23,698 asks against 10,762).
_VERDICTS_BOUND: Final = 16384
_UNASKED: Final = object()


class _Verdicts:
    """A rule's verdicts, by the values of the fields it says it reads.

    A rule that names what it reads (``record_fields``) gives one verdict to all records that
    agree on those fields, so a record whose fields hold values the rule has already judged
    needs no call. Two tables per rule: one on open processes (:meth:`for_open`, keyed from the
    open entry, so that neither a snapshot nor a call is needed: ``watch`` asks the open
    process of every creation and token event, and most of them repeat an image and owner seen
    before), one on final records (:meth:`for_final`, keyed from the record). Bounded: emptied
    when full. (A test drives monitors with and without them to the same alerts.)
    """

    __slots__ = ("key", "known")

    def __init__(self, key: Callable[[Any], Any]) -> None:
        #: The values a verdict depends on, read from an open entry or a final record.
        self.key = key
        #: key -> the rule's verdict on a record with those values.
        self.known: dict[Any, Any] = {}

    @staticmethod
    def for_open(rule: RuleLike) -> _Verdicts | None:
        """The verdicts of ``rule`` on open processes, when the fields it names key them."""
        fields = rule_fields(rule)
        if (
            not fields
            or not fields <= _RECORD_FIELDS
            or fields & _UNKEYED
            or not fields - _SNAPSHOT_ALIKE <= OPEN_SLOT.keys()
        ):
            return None
        slots = sorted(OPEN_SLOT[name] for name in fields - _SNAPSHOT_ALIKE)
        return _Verdicts(itemgetter(*slots) if slots else _no_key)

    @staticmethod
    def for_final(rule: RuleLike) -> _Verdicts | None:
        """The verdicts of ``rule`` on final records, when the fields it names key them."""
        fields = rule_fields(rule)
        if not fields or not fields <= _RECORD_FIELDS or fields & _UNKEYED_FINAL:
            return None
        return _Verdicts(itemgetter(*sorted(_RECORD_INDEX[name] for name in fields)))

    def remember(self, key: Any, verdict: Any) -> None:
        if len(self.known) >= _VERDICTS_BOUND:
            self.known.clear()
        self.known[key] = verdict


def _no_key(entry: list[Any]) -> tuple[()]:
    return ()


_RECORD_FIELDS: Final = frozenset(Record._fields)
_RECORD_INDEX: Final = {name: i for i, name in enumerate(Record._fields)}
#: A record's (host, pid, log): the key of :attr:`Monitor._fired`.
_process_key: Final = itemgetter(*(_RECORD_INDEX[name] for name in ("host", "pid", "channel")))
#: Fields of a final record that cannot key its verdicts: a mapping (not hashable), and values
#: that differ for every record (a table of them would only fill up).
_UNKEYED_FINAL: Final = frozenset(
    {"extra", "provenance", "first_seen", "process_id", "creator_process_id"}
)


def _named_rules(rules: Sequence[RuleLike]) -> tuple[tuple[str, RuleLike], ...]:
    """The rules with their names; :class:`UsageError` for none, a non-callable, a name twice."""
    if not rules:
        raise UsageError("a monitor needs at least one rule")
    for rule in rules:
        if not callable(rule):
            raise UsageError(f"a rule must be callable, not {rule!r}")
    named = tuple((rule_name(r), r) for r in rules)
    names = [name for name, _ in named]
    if len(set(names)) != len(names):
        raise UsageError(f"rule names must be unique: {names}")
    return named


def _alert(name: str, record: Record, event: Event | None, verdict: str | bool) -> Alert:
    kind: type[Alert] = Alert
    more: dict[str, str | None] = {}
    if isinstance(verdict, Verdict):  # the rule's level and title too (a Sigma rule's)
        kind, more = LevelledAlert, {"level": verdict.rule_level, "title": verdict.rule_title}
    return kind(
        rule=name,
        host=record.host,
        pid=record.pid,
        image=record.image,
        user=record.user,
        domain=record.domain,
        time=None if event is None else event.time,
        event_id=None if event is None else event.event_id,
        record=record,
        message=str(verdict) if isinstance(verdict, str) else "",
        **more,
    )


class HostRule(Protocol):
    """A rule that also judges host events (log cleared, audits lost): ``host_event`` answers
    with a message when one deserves an alert (see :class:`correlog.rules.AuditTamper`)."""

    def host_event(self, event: HostEvent, /) -> str | None: ...


def _host_rules(rules: tuple[tuple[str, RuleLike], ...]) -> tuple[tuple[str, HostRule], ...]:
    return tuple(
        (name, rule)  # type: ignore[misc]
        for name, rule in rules
        if callable(getattr(rule, "host_event", None))
    )


def _ask_host(
    rules: tuple[tuple[str, HostRule], ...], event: HostEvent, alerts: list[Alert]
) -> None:
    """Host events reach the rules that judge them; an alert names the host, no process."""
    for name, rule in rules:
        message = rule.host_event(event)
        if message:
            alerts.append(
                Alert(
                    rule=name,
                    host=event.host,
                    pid=None,
                    image=None,
                    user=None,
                    domain=None,
                    time=event.time,
                    event_id=event.event_id,
                    record=None,
                    message=message,
                )
            )


def _not_an_event(event: object) -> UsageError:
    return UsageError(f"not an event: {event!r}")


class Monitor:
    """A correlator plus rules: feed events, get alerts. Records go to ``on_record``.

    ``rules``: callables over records (see :mod:`correlog.rules`). ``correlator``: the one to
    use (a default :class:`Correlator` otherwise).
    """

    def __init__(
        self,
        rules: Sequence[RuleLike],
        *,
        correlator: Correlator | None = None,
        on_record: Callable[[Record], object] | None = None,
    ) -> None:
        self._rules = _named_rules(rules)
        self._host_rules = _host_rules(self._rules)
        #: The rules asked about records: a rule that reads no field (``fields`` empty) leaves
        #: once it has said no, since its answer is the same for every record.
        self._record_rules = self._rules
        self._constant = {name for name, rule in self._rules if rule_fields(rule) == _NONE}
        #: Rule name -> its verdicts on open processes, for rules that say what they read.
        self._open_verdicts = {
            name: verdicts
            for name, rule in self._rules
            if (verdicts := _Verdicts.for_open(rule)) is not None
        }
        #: Rule name -> its verdicts on final records, for rules that say what they read.
        self._final_verdicts = {
            name: verdicts
            for name, rule in self._rules
            if (verdicts := _Verdicts.for_final(rule)) is not None
        }
        self._quick = self._quick_check(self._open_verdicts)
        self._final_quick = self._quick_check(self._final_verdicts)
        self._correlator = correlator if correlator is not None else Correlator()
        self._correlator._track_released()
        self._on_record = on_record
        #: (host, pid, log) of each open process a rule fired for -> the rules that fired.
        self._fired: dict[tuple[str, int, str | None], set[str]] = {}

    @property
    def correlator(self) -> Correlator:
        """The correlator in use."""
        return self._correlator

    def state(self) -> dict[str, Any]:
        """The correlator's state and which rules already fired for each open process, as
        plain JSON-ready data (see :meth:`Correlator.state`). The rules are code, not state:
        give them again to :meth:`from_state`."""
        tree: dict[str, Any] = self._state_tree(list)
        return tree

    def state_pieces(self) -> Iterator[str]:
        """:meth:`state` as compact JSON text, in pieces (see :meth:`Correlator.state_pieces`)."""
        return json_pieces(self._state_tree(Stream))

    def _state_tree(self, stream: Callable[[Iterable[Any]], Any]) -> Any:
        return {
            "format": MONITOR_FORMAT,
            "correlator": self._correlator._state_tree(stream),
            "fired": stream(
                [host, pid, channel, sorted(names)]
                for (host, pid, channel), names in self._fired.items()
            ),
        }

    @classmethod
    def from_state(
        cls,
        rules: Sequence[RuleLike],
        data: Any,
        *,
        on_record: Callable[[Record], object] | None = None,
    ) -> Monitor:
        """A monitor that goes on where the one that gave ``data`` was: a process that alerted
        before the save does not alert again for the same rule. :class:`StateError` for a state
        of another format or a damaged one."""
        data = expect(data, dict, "the monitor state")
        if data.get("format") != MONITOR_FORMAT:
            raise StateError(f"not a monitor state of format {MONITOR_FORMAT!r}")
        fired: dict[tuple[str, int, str | None], set[str]] = {}
        for raw in expect(data.get("fired"), list, "fired rules"):
            try:
                host, pid, channel, names = expect(raw, list, "a fired entry")
            except ValueError as exc:
                raise StateError(f"damaged state: fired entry {raw!r}") from exc
            key = (expect(host, str, "a host"), expect(pid, int, "a pid"), channel)
            fired[key] = {expect(name, str, "a rule name") for name in expect(names, list, "")}
        monitor = cls(
            rules, correlator=Correlator.from_state(data.get("correlator")), on_record=on_record
        )
        monitor._fired = fired
        return monitor

    def feed(self, event: Event) -> list[Alert]:
        """Fold one event in; return the alerts it raised."""
        alerts: list[Alert] = []
        correlator = self._correlator
        if self._host_rules and isinstance(event, HostEvent):
            _ask_host(self._host_rules, event, alerts)
        self._final(correlator.feed(event), event, alerts)
        # The processes this call changed: the event's own, or, with an ordering window, those
        # of the events the window let go (the one fed may still be waiting in it).
        touched = correlator._take_released() if correlator._windowed else (event,)
        for folded in touched:
            if isinstance(folded, ProcessEvent):
                self._ask_open(folded, alerts)
        return alerts

    def feed_many(self, events: Iterable[Event]) -> list[Alert]:
        """Fold events in, in order; return every alert they raised, in order: the same alerts
        as :meth:`feed` on each event, at batch speed (see :meth:`feed_stream`)."""
        alerts: list[Alert] = []
        self.feed_stream(events, alerts.append)
        return alerts

    def feed_stream(self, events: Iterable[Event], on_alert: Callable[[Alert], object]) -> None:
        """Fold a stream of events in, in order, and pass each alert to ``on_alert`` as soon as
        the event that raised it is folded in (after that event's records went to
        ``on_record``). The alerts, the records and their order are those of :meth:`feed` on
        each event; the correlator is fed in batches, which costs far less. Events are read
        from ``events`` one at a time, as the correlator takes them, so a slow source (a pipe)
        gets its alerts as early as with :meth:`feed`. A source that never waits (a file) is
        best read a batch at a time and each batch handed over as a list: reading and folding
        then each keep their code and data in the processor's caches, where one event at a
        time through every stage does not (``correlog watch`` on a file runs about a quarter
        faster so)."""
        if self._correlator._windowed:
            # The window folds what it releases, not what is fed: the plain path says which.
            for event in events:
                for alert in self.feed(event):
                    on_alert(alert)
            return
        source = iter(events)
        feed_into = self._correlator._feed_into
        while (first := next(source, _END)) is not _END:
            batch = chain((first,), islice(source, _BATCH - 1))
            out: list[Record] = []
            feed_into(self._folding(batch, out, on_alert), out)  # type: ignore[arg-type]

    def _folding(
        self, events: Iterable[Event], out: list[Record], on_alert: Callable[[Alert], object]
    ) -> Iterator[Event]:
        """Hand ``events`` to the correlator one at a time; each time it asks for the next one,
        do for the one it just folded in what :meth:`feed` does around the correlator's
        ``feed``. ``out`` is where the correlator puts the records as they become final; they
        are taken out of it once passed on, so a non-empty ``out`` holds the last event's."""
        alerts: list[Alert] = []
        host_rules = self._host_rules
        ask_open = self._ask_open
        final = self._final
        logs = self._correlator._hosts
        quick = self._quick
        for event in events:
            if host_rules and isinstance(event, HostEvent):
                _ask_host(host_rules, event, alerts)
            yield event
            if out:
                final(out, event, alerts)
                out.clear()
                quick = self._quick  # a rule may have left (see _drop)
            # An exit's process is never open once the exit is folded in: nothing to ask.
            if isinstance(event, ProcessEvent) and event.kind is not _E:
                if quick is None:
                    ask_open(event, alerts)
                    quick = self._quick
                elif quick:  # () once no rule is asked about records: nothing to look up
                    # _ask_open's answer when every rule already said no to these values:
                    # nothing, found here without its calls (the open entry found as
                    # Correlator._open_entry finds it).
                    host, channel = event.host, event.channel
                    log = logs.get(host if channel is None else (host, channel))
                    entry = None if log is None else log.entries.get(event.pid)
                    if entry is not None:
                        for key, known in quick:
                            if known.get(key(entry), _UNASKED):  # unasked, or it fires
                                ask_open(event, alerts)
                                quick = self._quick
                                break
            if alerts:
                for alert in alerts:
                    on_alert(alert)
                alerts.clear()

    def advance(self, time: int, host: str | None = None) -> list[Alert]:
        """Advance the correlator's clock (see :meth:`Correlator.advance`); alerts on expiry."""
        alerts: list[Alert] = []
        self._final(self._correlator.advance(time, host), None, alerts)
        self._ask_released(alerts)
        return alerts

    def close(self) -> list[Alert]:
        """Flush the correlator; alerts for records that only now became decidable."""
        alerts: list[Alert] = []
        self._final(self._correlator.close(), None, alerts)
        self._ask_released(alerts)
        return alerts

    def _ask_released(self, alerts: list[Alert]) -> None:
        # What an ordering window let go on advance or close: records of those processes were
        # already asked when final; the rest are still open (advance) and may decide now.
        if self._correlator._windowed:
            for folded in self._correlator._take_released():
                if isinstance(folded, ProcessEvent):
                    self._ask_open(folded, alerts)

    def _ask_open(self, event: ProcessEvent, alerts: list[Alert]) -> None:
        """Ask the rules about the still-open process ``event`` belongs to, if any: what
        :meth:`_ask` does on its snapshot, with a verdict already known for the same values
        of a rule's fields taken as given (see :class:`_Verdicts`); the snapshot is made
        only when a rule must be asked or an alert raised."""
        correlator = self._correlator
        entry = correlator._open_entry(event.host, event.pid, event.channel)
        if entry is None:
            return
        key = (event.host, event.pid, event.channel)
        fired = self._fired.get(key)
        asked = len(alerts)
        snap: Record | None = None
        for name, rule in self._record_rules:
            if fired is not None and name in fired:
                continue
            verdicts = self._open_verdicts.get(name)
            if verdicts is None:
                snap = snap or correlator._snapshot_of(entry)
                verdict = rule(snap)
            else:
                values = verdicts.key(entry)
                verdict = verdicts.known.get(values, _UNASKED)
                if verdict is _UNASKED:
                    snap = snap or correlator._snapshot_of(entry)
                    verdict = rule(snap)
                    verdicts.remember(values, verdict)
            if verdict:
                snap = snap or correlator._snapshot_of(entry)
                alerts.append(_alert(name, snap, event, verdict))
            elif name in self._constant:
                self._drop(name)
        if len(alerts) > asked:
            names = {alert.rule for alert in alerts[asked:]}
            if fired is None:
                self._fired[key] = names
            else:
                fired |= names

    def _drop(self, name: str) -> None:
        self._record_rules = tuple(named for named in self._record_rules if named[0] != name)
        self._constant.discard(name)
        self._quick = self._quick_check(self._open_verdicts)
        self._final_quick = self._quick_check(self._final_verdicts)

    def _quick_check(
        self, tables: dict[str, _Verdicts]
    ) -> tuple[tuple[Callable[[Any], Any], dict[Any, Any]], ...] | None:
        """When every rule still asked about records keeps its verdicts in ``tables``: each
        one's (key, verdicts), so that an open entry (see :meth:`_folding`) or a final record
        (see :meth:`_final`) alone can tell that no rule would fire; else None."""
        verdicts = [tables.get(name) for name, _ in self._record_rules]
        if None in verdicts:
            return None
        return tuple((v.key, v.known) for v in verdicts if v is not None)

    def _final(self, records: list[Record], event: Event | None, alerts: list[Alert]) -> None:
        on_record = self._on_record
        fired_for = self._fired
        quick = self._final_quick
        for record in records:
            if on_record is not None:
                on_record(record)
            fired = fired_for.pop(_process_key(record), None) if fired_for else None
            if fired is None and quick is not None:
                # _ask's answer when every rule already said no to these values: nothing,
                # found here without its call (() once no rule is asked about records).
                for key, known in quick:
                    if known.get(key(record), _UNASKED):  # unasked, or it fires
                        break
                else:
                    continue
            self._ask(record, _NONE if fired is None else fired, event, alerts)

    def _ask(
        self, record: Record, fired: AbstractSet[str], event: Event | None, alerts: list[Alert]
    ) -> None:
        """Ask every rule not in ``fired``, or take its verdict on the same values (see
        :class:`_Verdicts`); an alert for each that fires."""
        tables = self._final_verdicts
        for name, rule in self._record_rules:
            if name in fired:
                continue
            verdicts = tables.get(name)
            if verdicts is None:
                verdict = rule(record)
            else:
                values = verdicts.key(record)
                verdict = verdicts.known.get(values, _UNASKED)
                if verdict is _UNASKED:
                    verdict = rule(record)
                    verdicts.remember(values, verdict)
            if verdict:
                alerts.append(_alert(name, record, event, verdict))
            elif name in self._constant:
                # Its verdict reads no field of the record: no, once, is no for every record.
                self._drop(name)


class SingleEventMonitor:
    """Rules over single events, with no correlation state: the lightest footprint on a host.

    Only events that alone name image and owner (:func:`~correlog.is_sufficient`) are asked.
    ``dedup_ttl``/``dedup_size``: how long (seconds of event time) and how many alerted
    processes are remembered, so that a process's exit does not alert a second time.
    """

    def __init__(
        self,
        rules: Sequence[RuleLike],
        *,
        on_record: Callable[[Record], object] | None = None,
        dedup_ttl: float = 3600.0,
        dedup_size: int = 4096,
    ) -> None:
        self._rules = _named_rules(rules)
        self._host_rules = _host_rules(self._rules)
        self._on_record = on_record
        #: Every key the dedup cache may hold (a superset: it also keeps expired ones a while).
        self._alerted_keys: set[tuple[str, int, str | None]] = set()
        from cachetools import TTLCache  # here: importing it costs every start, monitor or not

        self._alerted: TTLCache[tuple[str, int, str | None], bool] = TTLCache(
            maxsize=dedup_size, ttl=seconds(dedup_ttl), timer=self._now
        )
        self._clock = 0

    def _now(self) -> int:
        return self._clock

    def state(self) -> dict[str, Any]:
        """The processes that already alerted, and the clock, as plain JSON-ready data."""
        tree: dict[str, Any] = self._state_tree(list)
        return tree

    def state_pieces(self) -> Iterator[str]:
        """:meth:`state` as compact JSON text, in pieces (see :meth:`Correlator.state_pieces`)."""
        return json_pieces(self._state_tree(Stream))

    def _state_tree(self, stream: Callable[[Iterable[Any]], Any]) -> Any:
        return {
            "format": SINGLE_EVENT_FORMAT,
            "clock": self._clock,
            "alerted": stream([host, pid, channel] for host, pid, channel in self._alerted),
        }

    @classmethod
    def from_state(
        cls,
        rules: Sequence[RuleLike],
        data: Any,
        *,
        on_record: Callable[[Record], object] | None = None,
        dedup_ttl: float = 3600.0,
        dedup_size: int = 4096,
    ) -> SingleEventMonitor:
        """A monitor that remembers what the saved one had alerted on (each for a full
        ``dedup_ttl`` again). :class:`StateError` for another format or a damaged state."""
        data = expect(data, dict, "the monitor state")
        if data.get("format") != SINGLE_EVENT_FORMAT:
            raise StateError(f"not a single-event monitor state of format {SINGLE_EVENT_FORMAT!r}")
        keys = []
        for raw in expect(data.get("alerted"), list, "alerted processes"):
            try:
                host, pid, channel = expect(raw, list, "an alerted process")
            except ValueError as exc:
                raise StateError(f"damaged state: alerted entry {raw!r}") from exc
            keys.append((expect(host, str, "a host"), expect(pid, int, "a pid"), channel))
        monitor = cls(rules, on_record=on_record, dedup_ttl=dedup_ttl, dedup_size=dedup_size)
        monitor._clock = expect(data.get("clock"), int, "the clock")
        for key in keys:
            monitor._alerted[key] = True
            monitor._alerted_keys.add(key)
        return monitor

    def feed(self, event: Event) -> list[Alert]:
        """Ask the rules about one event; return the alerts it raised."""
        return self.feed_many((event,))

    def feed_many(self, events: Iterable[Event]) -> list[Alert]:
        """Ask the rules about each event, in order; return every alert raised, in order."""
        alerts: list[Alert] = []
        ask = self._ask
        for event in events:
            if isinstance(event, ProcessEvent):
                ask(event, alerts)
            elif isinstance(event, HostEvent):
                if self._host_rules:
                    _ask_host(self._host_rules, event, alerts)
            else:
                raise _not_an_event(event)
        return alerts

    def feed_stream(self, events: Iterable[Event], on_alert: Callable[[Alert], object]) -> None:
        """Ask the rules about each event, in order, and pass each alert to ``on_alert`` as
        soon as its event was asked (the same verb as :meth:`Monitor.feed_stream`)."""
        for event in events:
            for alert in self.feed_many((event,)):
                on_alert(alert)

    def advance(self, time: int, host: str | None = None) -> list[Alert]:
        """Nothing waits for a clock here: no alerts. (The same verb as :class:`Monitor`.)"""
        if not isinstance(time, int):
            raise UsageError(f"time must be int nanoseconds since the epoch, not {time!r}")
        return []

    def close(self) -> list[Alert]:
        """Nothing is held open here: no alerts. (The same verb as :class:`Monitor`.)"""
        return []

    def _ask(self, event: ProcessEvent, alerts: list[Alert]) -> None:
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
            if kind is _C:
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
