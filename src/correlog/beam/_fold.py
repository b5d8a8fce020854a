"""One host's correlation between two releases: plain Python, no Beam.

The stateful DoFn keeps a host's events in a buffer until the watermark passes them, then calls
:func:`release` with that buffer and the host's engine (:class:`HostFold`) loaded from its saved
state. All the semantics are the library's own: the :class:`~correlog.Correlator` (its late path
included) and, with rules, the :class:`~correlog.Monitor`; this module only decides *which*
events are folded, and in *what* order.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Final

import attrs

from .._correlator import Correlator
from .._events import Event, HostEvent, ProcessEvent
from .._monitor import Monitor, RuleLike, _ask_host
from .._records import Alert, Record

__all__ = ["Folded", "HostFold", "Settings", "event_order", "release"]

_NS_PER_MS: Final = 1_000_000
_NO_RECORD: Final = -1


def event_order(event: Event) -> tuple[int, int, str]:
    """The order a host's events are folded in: (time, record number, then a tie-break).

    The tie-break (the event's text) only makes the order total, so that any arrival order of
    the same events gives the same fold, whatever the runner shuffles.
    """
    rn = event.record_number
    return (event.time, _NO_RECORD if rn is None else rn, repr(event))


@attrs.frozen
class Settings:
    """The correlation settings of one host's correlator, and the release delay.

    ``ttl`` and ``max_skew`` are seconds as for :class:`~correlog.Correlator`; ``max_open`` and
    ``memo_size`` bound *one host* here. ``lateness``: seconds behind the watermark that events
    are still put in order before they are folded; later ones are handled by :func:`fold_late`.
    ``expire_idle``: when the watermark passes a release, move the host's clock to it (so a
    quiet host's open processes expire); for unbounded input only (see docs/beam.md).
    """

    ttl: float = 3600.0
    max_open: int = 100_000
    max_skew: float = 3600.0
    memo_size: int = 4096
    lateness: float = 0.0
    expire_idle: bool = False

    @property
    def lateness_ns(self) -> int:
        """The lateness in integer nanoseconds."""
        return round(self.lateness * 1e9)

    def new_correlator(self) -> Correlator:
        """A fresh correlator for one host (it orders nothing itself: its window is off)."""
        return Correlator(
            ttl=self.ttl, max_open=self.max_open, max_skew=self.max_skew, memo_size=self.memo_size
        )

    def release_ms(self, event: Event) -> int:
        """The watermark (whole milliseconds) past which ``event`` may be folded.

        Beam runners keep timer times in milliseconds while correlog's are nanoseconds, so the
        release is the first whole millisecond strictly after ``time + lateness``.
        """
        return (event.time + self.lateness_ns) // _NS_PER_MS + 1

    def horizon_ns(self, release_ms: int) -> int:
        """Events strictly before this time are folded when the ``release_ms`` timer fires."""
        return release_ms * _NS_PER_MS - self.lateness_ns


#: What one step of a host's fold gave: the records and the alerts that became final.
Folded = tuple[list[Record], list[Alert]]


class HostFold:
    """One host's engine between two releases: its correlator, and with rules its monitor.

    With rules the :class:`~correlog.Monitor` drives the correlator (the same rules, the same
    one-alert-per-process memory as ``correlog watch``) and hands each final record to
    :attr:`records`; without, the correlator alone is fed. Each verb returns the records and
    alerts that became final, in the order the library's own engine emits them.
    """

    def __init__(self, correlator: Correlator, monitor: Monitor | None) -> None:
        self.correlator = correlator
        self.monitor = monitor
        #: The records the monitor emitted since the last :meth:`take`.
        self.records: list[Record] = []

    @classmethod
    def load(cls, saved: str | None, settings: Settings, rules: Sequence[RuleLike]) -> HostFold:
        """The host's engine from its saved state (a fresh one when there is none)."""
        data = None if saved is None else json.loads(saved)
        if not rules:
            correlator = settings.new_correlator() if data is None else Correlator.from_state(data)
            return cls(correlator, None)
        records: list[Record] = []
        if data is None:
            correlator = settings.new_correlator()
            monitor = Monitor(rules, correlator=correlator, on_record=records.append)
        else:
            monitor = Monitor.from_state(rules, data, on_record=records.append)
        fold = cls(monitor.correlator, monitor)
        fold.records = records
        return fold

    def save(self) -> str:
        """The engine's state as the JSON text the DoFn keeps."""
        owner = self.correlator if self.monitor is None else self.monitor
        return json.dumps(owner.state(), separators=(",", ":"))

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran (the input ended)."""
        return self.correlator.closed

    def _with_records(self, alerts: list[Alert]) -> Folded:
        """The monitor's alerts, with the records it emitted meanwhile."""
        records = list(self.records)
        self.records.clear()
        return records, alerts

    def feed_many(self, events: list[Event]) -> Folded:
        """Fold events in, in the order given."""
        if self.monitor is None:
            return self.correlator.feed_many(events), []
        return self._with_records(self.monitor.feed_many(events))

    def advance(self, time: int) -> Folded:
        """Move the host's clock to ``time`` (expiry as the watermark passes)."""
        if self.monitor is None:
            return self.correlator.advance(time), []
        return self._with_records(self.monitor.advance(time))

    def close(self) -> Folded:
        """The end of the input: what is open comes out ``flushed``."""
        if self.monitor is None:
            return self.correlator.close(), []
        return self._with_records(self.monitor.close())

    def late(self, event: Event) -> Folded:
        """An event that came after its place in the order was already folded.

        The correlator's own late path, as its ordering window takes a late event: a host event
        is applied; a token or an exit of an open process is folded into it; a creation is
        folded into an entry that holds just its token (the creation's fields win, as the merge
        policy says); anything else becomes a record of its own with reason ``late``. Nothing
        is dropped. With rules, the monitor then asks them as it asks about any event the
        window let go: the late records once, the process the event joined while still open.
        """
        records: list[Record] = []
        self.correlator._fold_late(event, records)
        monitor = self.monitor
        if monitor is None:
            return records, []
        alerts: list[Alert] = []
        if monitor._host_rules and isinstance(event, HostEvent):
            _ask_host(monitor._host_rules, event, alerts)
        monitor._final(records, event, alerts)
        if isinstance(event, ProcessEvent):
            monitor._ask_open(event, alerts)
        return self._with_records(alerts)


def release(
    fold: HostFold, buffered: Iterable[Event], horizon: int | None
) -> tuple[Folded, list[Event]]:
    """Fold the buffered events before ``horizon`` (all when None), in :func:`event_order`.

    Returns what became final and the events kept for a later release.
    """
    ready: list[Event] = []
    kept: list[Event] = []
    for event in buffered:
        (ready if horizon is None or event.time < horizon else kept).append(event)
    ready.sort(key=event_order)
    return fold.feed_many(ready), kept
