"""One host's correlation between two releases: plain Python, no Beam.

The stateful DoFn keeps a host's events in a buffer until the watermark passes them, then calls
:func:`release` with that buffer and the host's saved :meth:`~correlog.Correlator.state`. All
the semantics are the library's own :class:`~correlog.Correlator`; this module only decides
*which* events are folded, in *what* order, and what a late one becomes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Final

import attrs

from .._correlator import Correlator
from .._events import Event, EventKind, HostEvent
from .._layout import record_from_event
from .._records import Reason, Record

__all__ = ["Settings", "event_order", "fold_late", "load", "release", "save"]

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


def load(saved: str | None, settings: Settings) -> Correlator:
    """The host's correlator from its saved state (a fresh one when there is none)."""
    if saved is None:
        return settings.new_correlator()
    return Correlator.from_state(json.loads(saved))


def save(correlator: Correlator) -> str:
    """The correlator's state as the JSON text the DoFn keeps."""
    return json.dumps(correlator.state(), separators=(",", ":"))


def release(
    correlator: Correlator, buffered: Iterable[Event], horizon: int | None
) -> tuple[list[Record], list[Event]]:
    """Fold the buffered events before ``horizon`` (all when None), in :func:`event_order`.

    Returns the records that became final and the events kept for a later release.
    """
    ready: list[Event] = []
    kept: list[Event] = []
    for event in buffered:
        (ready if horizon is None or event.time < horizon else kept).append(event)
    ready.sort(key=event_order)
    return correlator.feed_many(ready), kept


def fold_late(correlator: Correlator, event: Event) -> list[Record]:
    """An event that came after its place in the order was already folded.

    As the in-process ordering window does: a host event is applied; a token or an exit of a
    process that is still open is folded into it; anything else becomes a record of its own with
    reason ``late``. Nothing is dropped.
    """
    if isinstance(event, HostEvent):
        return correlator.feed(event)
    if event.kind is not EventKind.CREATED and (
        correlator.snapshot(event.host, event.pid, event.channel) is not None
    ):
        return correlator.feed(event)
    clock = correlator.clock(event.host, event.channel)
    return [record_from_event(event, Reason.LATE, event.time if clock is None else clock, False)]
