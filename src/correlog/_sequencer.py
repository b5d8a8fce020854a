"""The ordering window: each host's events, put back in order before they are correlated.

Theory of operation
-------------------
Events reach a collector late and shuffled (UDP syslog, relays, several files of the same hosts).
The sequencer holds each host's events (per host and log) in a heap keyed by (time, record
number, arrival) and releases an event once the host's *watermark*, the latest event time seen
from it, has moved ``lateness`` past it. If every event arrives less than ``lateness`` after the
latest event of its host seen before it, events are released in exactly (time, record number)
order, whatever the arrival order: the correlator then sees the same sequence, and emits the same
records, for any such permutation. (Ties without record numbers keep arrival order.)

An event that arrives after a later one of its host was already released cannot be put in order:
it is *late*, counted, and handed on as such (the correlator folds it into its process when that
is still open, or makes it a record of its own with reason ``late``). Nothing is dropped, except
exact duplicates: an event whose host, log and record number were already seen (the same event
from two sources, e.g. a Snare feed and an EVTX export) is folded once and counted.

Memory: the events inside the window (per host: its event rate times ``lateness``), plus the
record numbers released in the last ``2 * lateness`` of each host, for duplicate detection.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable
from typing import Any, Final

from ._events import Event
from ._state import event_from_data, event_to_data, expect

__all__ = ["Sequencer"]

_Key = tuple[str, str | None]


class _Stream:
    """One host and log: its heap, watermark, last released position, recent record numbers."""

    __slots__ = ("heap", "held", "last", "recent", "recent_order", "watermark")

    def __init__(self, watermark: int) -> None:
        self.heap: list[tuple[int, int, int, Event]] = []
        self.watermark = watermark
        #: A time more than ``max_skew`` ahead of the watermark, waiting for a second event to
        #: confirm it before the watermark follows.
        self.held: int | None = None
        #: (time, record number) of the last event released; an arrival below it is late.
        self.last: tuple[int, int] | None = None
        #: Record numbers buffered or recently released, for duplicate detection.
        self.recent: set[int] = set()
        self.recent_order: deque[tuple[int, int]] = deque()


_NO_RECORD: Final = -1


class Sequencer:
    """Release each host's events in (time, record number) order, ``lateness`` ns behind.

    ``release(event)`` is called for every event in order, ``late(event)`` for each event that
    came too late to be put in order. Both are the correlator's.
    """

    def __init__(
        self,
        lateness: int,
        release: Callable[[Event], Any],
        late: Callable[[Event], Any],
        max_skew: int | None = None,
    ) -> None:
        self.lateness = lateness
        #: The farthest one event may move a watermark on its own word (None: no limit), as the
        #: correlator's clock guard: a year-2100 event cannot make a host's later events late.
        self.max_skew = max_skew
        self._release = release
        self._late = late
        self._streams: dict[_Key, _Stream] = {}
        self._arrivals = 0
        #: Events that came later than the window: handed on as late.
        self.late_events = 0
        #: Exact duplicates (same host, log and record number) folded once.
        self.duplicates = 0

    def push(self, event: Event) -> None:
        """Take one event; release whatever the window now lets go."""
        channel = getattr(event, "channel", None)
        key = (event.host, channel)
        stream = self._streams.get(key)
        if stream is None:
            stream = self._streams[key] = _Stream(event.time)
        rn = event.record_number
        if rn is not None:
            if rn in stream.recent:
                self.duplicates += 1
                return
            stream.recent.add(rn)
            stream.recent_order.append((event.time, rn))
        position = (event.time, _NO_RECORD if rn is None else rn)
        if stream.last is not None and position < stream.last:
            self.late_events += 1
            self._late(event)
            self._forget_old(stream)
            return
        self._arrivals += 1
        heapq.heappush(stream.heap, (*position, self._arrivals, event))
        self._follow(stream, event.time)
        self._drain(stream, stream.watermark - self.lateness)

    def _follow(self, stream: _Stream, t: int) -> None:
        """Move the watermark to ``t`` if later; past ``max_skew``, only once confirmed."""
        if t <= stream.watermark:
            return
        skew = self.max_skew
        if skew is None or t - stream.watermark <= skew:
            stream.watermark = t
            stream.held = None
        elif stream.held is not None and abs(t - stream.held) <= skew:
            stream.watermark = t  # a second event agrees: the jump is real
            stream.held = None
        else:
            stream.held = t

    def advance(self, time: int, host: str | None = None) -> None:
        """Move the watermark of ``host`` (every host when None) to ``time``, releasing."""
        for (name, _), stream in list(self._streams.items()):
            if host is None or name == host:
                if time > stream.watermark:
                    stream.watermark = time
                self._drain(stream, stream.watermark - self.lateness)

    def flush(self) -> None:
        """Release everything still waiting, host by host, in order."""
        for stream in list(self._streams.values()):
            while stream.heap:
                self._pop(stream)

    def _drain(self, stream: _Stream, until: int) -> None:
        heap = stream.heap
        while heap and heap[0][0] <= until:
            self._pop(stream)
        self._forget_old(stream)

    def _forget_old(self, stream: _Stream) -> None:
        """Forget record numbers too old to come again through the window."""
        horizon = stream.watermark - 2 * self.lateness
        order = stream.recent_order
        while order and order[0][0] < horizon:
            stream.recent.discard(order.popleft()[1])

    def _pop(self, stream: _Stream) -> None:
        time, rn, _, event = heapq.heappop(stream.heap)
        stream.last = (time, rn)
        self._release(event)

    # -- saved state -----------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """The window as plain data (see :mod:`correlog._state`)."""
        return {
            "arrivals": self._arrivals,
            "late_events": self.late_events,
            "duplicates": self.duplicates,
            "streams": [
                {
                    "host": host,
                    "channel": channel,
                    "watermark": stream.watermark,
                    "held": stream.held,
                    "last": None if stream.last is None else list(stream.last),
                    "recent": [list(pair) for pair in stream.recent_order],
                    "heap": [[t, rn, n, event_to_data(ev)] for t, rn, n, ev in stream.heap],
                }
                for (host, channel), stream in self._streams.items()
            ],
        }

    def restore(self, data: Any) -> None:
        """Take back what :meth:`state` gave (checked whole before anything changes)."""
        data = expect(data, dict, "the ordering window")
        streams: dict[_Key, _Stream] = {}
        for raw in expect(data.get("streams"), list, "the window's streams"):
            item = expect(raw, dict, "a window stream")
            stream = _Stream(expect(item.get("watermark"), int, "a watermark"))
            held = item.get("held")
            stream.held = None if held is None else expect(held, int, "a held time")
            last = item.get("last")
            if last is not None:
                t, rn = expect(last, list, "a stream's last position")
                stream.last = (expect(t, int, "a time"), expect(rn, int, "a record number"))
            for pair in expect(item.get("recent"), list, "recent record numbers"):
                t, rn = expect(pair, list, "a recent record number")
                stream.recent_order.append((expect(t, int, "a time"), expect(rn, int, "a number")))
                stream.recent.add(rn)
            for entry in expect(item.get("heap"), list, "a window heap"):
                t, rn, n, event = expect(entry, list, "a waiting event")
                stream.heap.append((t, rn, n, event_from_data(event)))
            heapq.heapify(stream.heap)
            key = (expect(item.get("host"), str, "a host"), item.get("channel"))
            streams[key] = stream
        arrivals = expect(data.get("arrivals"), int, "the arrival count")
        late = expect(data.get("late_events"), int, "the late count")
        duplicates = expect(data.get("duplicates"), int, "the duplicate count")
        self._streams = streams
        self._arrivals, self.late_events, self.duplicates = arrivals, late, duplicates
