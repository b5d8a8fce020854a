"""The Beam transforms: events keyed by host, one correlator (or monitor) per host in Beam state.

Per host (the key) the DoFn keeps:

* ``buffer``: the events not folded yet (a bag);
* ``correlator``: the host's :meth:`~correlog.Correlator.state` (with rules, its
  :meth:`~correlog.Monitor.state`), as JSON text;
* ``horizon``: the time (ns) before which every event has been folded;
* ``release``: the event-time timer (milliseconds) at which the buffer is folded next.

When the ``release`` timer fires, the buffered events before the horizon are folded in
(time, record number) order; an event that arrives behind the horizon is *late*
(:meth:`~correlog.beam._fold.HostFold.late`) and counted in the ``correlog/late_events``
metric. The ``end`` timer fires when the input ends (the watermark reaches the end of the
global window): the rest of the buffer is folded and the correlator closed, so its open
processes come out ``flushed``, exactly as :meth:`~correlog.Correlator.close` at the end of a
file. Records go to the main output, alerts to :data:`ALERTS`, each as it becomes final.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Final

import apache_beam as beam
from apache_beam.coders import PickleCoder, StrUtf8Coder, VarIntCoder
from apache_beam.metrics.metric import Metrics
from apache_beam.pvalue import TaggedOutput
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import (
    BagStateSpec,
    ReadModifyWriteStateSpec,
    TimerSpec,
    on_timer,
)
from apache_beam.transforms.window import GlobalWindow, TimestampedValue
from apache_beam.utils.timestamp import Timestamp

from .._events import Event
from .._monitor import RuleLike, _named_rules
from ._fold import Folded, HostFold, Settings, release

__all__ = ["ALERTS", "AlertByHost", "CorrelateByHost"]

#: The tag of the alerts output of the per-host DoFn.
ALERTS: Final = "alerts"

_BUFFER = BagStateSpec("buffer", PickleCoder())
_CORRELATOR = ReadModifyWriteStateSpec("correlator", StrUtf8Coder())
_HORIZON = ReadModifyWriteStateSpec("horizon", VarIntCoder())
_NEXT_RELEASE = ReadModifyWriteStateSpec("next_release", VarIntCoder())
_RELEASE = TimerSpec("release", TimeDomain.WATERMARK)
_END = TimerSpec("end", TimeDomain.WATERMARK)
# The DoFn's parameters, as the module-level singletons Beam matches them by.
_BUFFER_P = beam.DoFn.StateParam(_BUFFER)
_CORRELATOR_P = beam.DoFn.StateParam(_CORRELATOR)
_HORIZON_P = beam.DoFn.StateParam(_HORIZON)
_NEXT_RELEASE_P = beam.DoFn.StateParam(_NEXT_RELEASE)
_RELEASE_P = beam.DoFn.TimerParam(_RELEASE)
_END_P = beam.DoFn.TimerParam(_END)
#: Events that came behind the folded horizon (folded into their process, or ``late`` records).
_LATE_EVENTS = Metrics.counter("correlog", "late_events")


#: When the end timer fires: the end of the global window, reached only when the input ends.
_END_OF_INPUT = GlobalWindow().max_timestamp()


def _ms(ms: int) -> Timestamp:
    return Timestamp(micros=ms * 1000)


class _CorrelateHostFn(beam.DoFn):
    """One host's correlator (and monitor, with rules), in Beam state; see the module docs.

    Records go to the main output; alerts, with rules, to the ``alerts`` tagged output.
    """

    def __init__(self, settings: Settings, release_early: bool, rules: Sequence[RuleLike]) -> None:
        super().__init__()
        self.settings = settings
        #: Fold as the watermark passes (unbounded input); else only at the end of the input,
        #: which gives the same records (a bounded input's timers all fire after its last
        #: element anyway) without a timer round per release.
        self.release_early = release_early
        self.rules = tuple(rules)

    def _load(self, saved: Any) -> HostFold:
        return HostFold.load(saved.read(), self.settings, self.rules)

    def process(
        self,
        element: tuple[str, Event],
        buffer: Any = _BUFFER_P,
        saved: Any = _CORRELATOR_P,
        horizon: Any = _HORIZON_P,
        next_release: Any = _NEXT_RELEASE_P,
        release_timer: Any = _RELEASE_P,
        end_timer: Any = _END_P,
    ) -> Iterator[Any]:
        _, event = element
        end_timer.set(_END_OF_INPUT)
        if not self.release_early:
            buffer.add(event)  # nothing is folded before the end: nothing can be late
            return
        folded_before = horizon.read()
        if folded_before is not None and event.time < folded_before:
            _LATE_EVENTS.inc()
            fold = self._load(saved)
            if fold.closed:  # after the end of the input: on its own, nothing to join
                yield from _outputs(HostFold.load(None, self.settings, self.rules).late(event))
                return
            yield from _outputs(fold.late(event))
            saved.write(fold.save())
            return
        buffer.add(event)
        due = self.settings.release_ms(event)
        pending = next_release.read()
        if pending is None or due < pending:
            next_release.write(due)
            release_timer.set(_ms(due))

    @on_timer(_RELEASE)
    def on_release(
        self,
        buffer: Any = _BUFFER_P,
        saved: Any = _CORRELATOR_P,
        horizon: Any = _HORIZON_P,
        next_release: Any = _NEXT_RELEASE_P,
        release_timer: Any = _RELEASE_P,
    ) -> Iterator[Any]:
        fired = next_release.read()
        next_release.clear()
        fold = self._load(saved)
        if fired is None or fold.closed:
            return
        settings = self.settings
        cut = settings.horizon_ns(fired)
        folded, kept = release(fold, buffer.read(), cut)
        yield from _outputs(folded)
        if settings.expire_idle:
            yield from _outputs(fold.advance(cut))
        buffer.clear()
        for event in kept:
            buffer.add(event)
        horizon.write(max(cut, horizon.read() or cut))
        saved.write(fold.save())
        # The next release waits for the watermark to pass *every* event kept now, so a steady
        # stream still releases (no starvation) in a bounded number of timer firings.
        due = max((settings.release_ms(event) for event in kept), default=None)
        correlator = fold.correlator
        if due is None and settings.expire_idle and len(correlator):
            oldest = min(record.first_seen for record in correlator.open_records())
            deadline = oldest + round(settings.ttl * 1e9) + 1
            due = (deadline + settings.lateness_ns) // 1_000_000 + 1
            if due <= fired:  # a re-based entry (new epoch) lives longer: look again a ttl on
                due = fired + max(1, round(settings.ttl * 1000))
        if due is not None:
            next_release.write(due)
            release_timer.set(_ms(due))

    @on_timer(_END)
    def on_end(
        self,
        buffer: Any = _BUFFER_P,
        saved: Any = _CORRELATOR_P,
        next_release: Any = _NEXT_RELEASE_P,
        release_timer: Any = _RELEASE_P,
    ) -> Iterator[Any]:
        fold = self._load(saved)
        if fold.closed:
            return
        folded, _ = release(fold, buffer.read(), None)
        yield from _outputs(folded)
        yield from _outputs(fold.close())
        buffer.clear()
        next_release.clear()
        release_timer.clear()
        saved.write(fold.save())


def _outputs(folded: Folded) -> Iterator[Any]:
    """Records to the main output, alerts to :data:`ALERTS`, in the order they became final."""
    records, alerts = folded
    yield from records
    for alert in alerts:
        yield TaggedOutput(ALERTS, alert)


def _timestamped(event: Event) -> TimestampedValue[tuple[str, Event]]:
    return TimestampedValue((event.host, event), Timestamp(micros=event.time // 1000))


class CorrelateByHost(beam.PTransform[Any, Any]):
    """Normalized events (:class:`~correlog.ProcessEvent`, :class:`~correlog.HostEvent`) in,
    :class:`~correlog.Record` s out: one :class:`~correlog.Correlator` per host, in Beam state.

    ``ttl``, ``max_skew``: as for the correlator. ``max_open``, ``memo_size``: bounds per host
    (a bound over all hosts cannot exist per key). ``lateness``: seconds behind the watermark
    that events are still put in order; later ones go through the correlator's own late path
    (folded into their open process, or ``late`` records), counted in the
    ``correlog/late_events`` metric. ``expire_idle``: expire a quiet host's processes as the
    watermark passes their ttl (unbounded input only). ``release_early``: fold each host's
    events as the watermark passes them (the default on an unbounded input), rather than all at
    the end of the input (the default on a bounded one, where both give the same records and
    the end is cheaper).

    The events' Beam timestamps are set from their own times (the input's are ignored). On a
    bounded input the records are those of an in-process correlator fed each host's events in
    :func:`~correlog.beam.event_order` and then closed.
    """

    def __init__(
        self,
        *,
        ttl: float = 3600.0,
        max_open: int = 100_000,
        max_skew: float = 3600.0,
        memo_size: int = 4096,
        lateness: float = 0.0,
        expire_idle: bool = False,
        release_early: bool | None = None,
    ) -> None:
        super().__init__()
        self.release_early = release_early
        self.settings = Settings(
            ttl=ttl,
            max_open=max_open,
            max_skew=max_skew,
            memo_size=memo_size,
            lateness=lateness,
            expire_idle=expire_idle,
        )
        self.settings.new_correlator()  # bad settings fail here, not on a worker

    def _per_host(self, events: Any, rules: Sequence[RuleLike]) -> Any:
        """The keyed DoFn's outputs: records (main), alerts (:data:`ALERTS`)."""
        release_early = self.release_early
        if release_early is None:
            release_early = not getattr(events, "is_bounded", False)
        return (
            events
            | "KeyByHost" >> beam.Map(_timestamped).with_output_types(tuple[str, Any])
            | "Correlate"
            >> beam.ParDo(_CorrelateHostFn(self.settings, release_early, rules)).with_outputs(
                ALERTS, main="records"
            )
        )

    def expand(self, events: Any) -> Any:
        return self._per_host(events, ())["records"]


class AlertByHost(CorrelateByHost):
    """Normalized events in, :class:`~correlog.Alert` s out: ``correlog watch`` per host.

    Each host's events are folded as :class:`CorrelateByHost` folds them, by a
    :class:`~correlog.Monitor` with ``rules`` (those of :mod:`correlog.rules`, Sigma rules,
    any :data:`~correlog.rules.RuleLike`; they travel to the workers pickled), so each rule is
    asked as early as the events allow and fires at most once per process. On a bounded input
    the alerts are those of an in-process monitor fed each host's events in
    :func:`~correlog.beam.event_order` and then closed; on a stream they come out as the
    watermark passes the events that decide them. ``records=True``: expand to a
    ``(alerts, records)`` pair of collections, the records those of :class:`CorrelateByHost`.
    The other options are :class:`CorrelateByHost`'s.
    """

    def __init__(self, rules: Sequence[RuleLike], *, records: bool = False, **options: Any) -> None:
        super().__init__(**options)
        _named_rules(rules)  # no rule, a non-callable, a name twice: a UsageError here
        self.rules = tuple(rules)
        self.records = records

    def expand(self, events: Any) -> Any:
        outputs = self._per_host(events, self.rules)
        if self.records:
            return outputs[ALERTS], outputs["records"]
        return outputs[ALERTS]
