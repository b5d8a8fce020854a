"""The delivery worker: alerts from the outbox to every sink, off the reading thread.

Theory of operation. The reading thread commits alerts to the checkpoint's outbox and goes on
correlating; it never waits for a sink. A :class:`DeliveryWorker` (one thread) takes the waiting
alerts oldest first and offers each to every sink that has not accepted it yet. A sink that
fails is backed off as a whole: it is not offered any alert until its next attempt is due, so a
dead mail server costs one attempt per back-off period, not one per alert, and the sinks that
work keep delivering. The delay doubles with each consecutive failure (``base * factor**n``,
capped at ``cap``), with jitter (a random point in its upper half, so many monitors that lost
the same receiver do not come back in step); a receiver's ``Retry-After`` wins when it is longer.
An alert leaves the outbox only when every sink has accepted it; the acceptance of each sink is
recorded as it happens, so a restart re-offers an alert only to the sinks that had not taken it.

Nothing in here sleeps on its own clock: ``clock`` (seconds, monotonic) and ``random`` are
injectable, and :meth:`DeliveryWorker.deliver_due` does one round without a thread, so tests
can walk through a 503 with ``Retry-After: 120`` without waiting two minutes.
"""

from __future__ import annotations

import random as _random
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Final

import attrs

from .._errors import UsageError
from .checkpoint import Checkpoint, OutboxItem
from .sinks import LiveSink, SinkError

__all__ = ["Backoff", "DeliveryWorker", "SinkStats"]

#: How many outbox rows one read takes.
_BATCH: Final = 200


@attrs.frozen
class Backoff:
    """Retry delays: ``base * factor**(failures - 1)`` seconds capped at ``cap``, jittered into
    its upper half."""

    base: float = 1.0
    factor: float = 2.0
    cap: float = 300.0

    def delay(self, failures: int, random: float, retry_after: float | None = None) -> float:
        """The wait after ``failures`` consecutive failures; ``random`` is in [0, 1)."""
        full = min(self.cap, self.base * self.factor ** max(0, failures - 1))
        jittered = full / 2 + random * full / 2
        return jittered if retry_after is None else max(jittered, retry_after)


@attrs.define
class SinkStats:
    """One sink's counters."""

    #: Alerts it accepted.
    delivered: int = 0
    #: Failed attempts (each is retried later).
    failures: int = 0
    #: Attempts that followed a failure.
    retries: int = 0
    #: Consecutive failures so far (0 when the last attempt worked).
    failing: int = 0
    #: The last failure's message.
    last_error: str | None = None
    #: When (worker clock) the sink will next be offered an alert.
    next_attempt: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """The counters as a JSON-ready dict."""
        return {
            "delivered": self.delivered,
            "failures": self.failures,
            "retries": self.retries,
            "failing": self.failing,
            "last_error": self.last_error,
        }


class DeliveryWorker:
    """Deliver the checkpoint's outbox to ``sinks`` with retry; :meth:`start` runs it in a thread.

    ``backoff``: the retry delays. ``poll``: seconds between looks at the outbox when nothing
    woke the worker (the checkpoint wakes it on every commit that added alerts). ``clock``,
    ``random``: injectable time (seconds, monotonic) and jitter source. ``on_delivered``: called
    with ``(item, sink name)`` after each acceptance was recorded (for measurements).
    """

    def __init__(
        self,
        checkpoint: Checkpoint,
        sinks: Sequence[LiveSink],
        *,
        backoff: Backoff | None = None,
        poll: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        random: Callable[[], float] = _random.random,
        on_delivered: Callable[[OutboxItem, str], object] | None = None,
    ) -> None:
        names = [sink.name for sink in sinks]
        if not sinks:
            raise UsageError("a delivery worker needs at least one sink")
        if len(set(names)) != len(names):
            raise UsageError(f"sink names must be unique: {names}")
        self._checkpoint = checkpoint
        self._sinks = tuple(sinks)
        self._names = tuple(names)
        self._backoff = backoff or Backoff()
        self._poll = poll
        self._clock = clock
        self._random = random
        self._on_delivered = on_delivered
        self.stats: dict[str, SinkStats] = {name: SinkStats() for name in names}
        #: Rounds the worker thread could not finish (the checkpoint itself failed), and why.
        self.errors = 0
        self.last_error: str | None = None
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        checkpoint.subscribe(self._wake.set)

    # -- one round, no thread ----------------------------------------------------------------

    def deliver_due(self) -> float | None:
        """Offer every waiting alert to every sink that is due; return when (worker clock) the
        next backed-off sink is due, or None when nothing waits for a backed-off sink."""
        after = 0
        while True:
            due = {name for name in self._names if self.stats[name].next_attempt <= self._clock()}
            if not due:
                break
            items = self._checkpoint.pending(_BATCH, after=after)
            if not items:
                break
            for item in items:
                for sink in self._sinks:
                    offer = sink.name in due and sink.name not in item.accepted
                    if offer and not self._offer(sink, item):
                        due.discard(sink.name)
                if not due:
                    break
            after = items[-1].seq
        waiting = [s.next_attempt for s in self.stats.values() if s.failing]
        return min(waiting) if waiting and self._checkpoint.outbox_stats().depth else None

    def _offer(self, sink: LiveSink, item: OutboxItem) -> bool:
        stats = self.stats[sink.name]
        if stats.failing:
            stats.retries += 1
        try:
            sink.send(item)
        except Exception as exc:  # any failure of a sink is retried, never lost
            retry_after = exc.retry_after if isinstance(exc, SinkError) else None
            stats.failures += 1
            stats.failing += 1
            stats.last_error = f"{type(exc).__name__}: {exc}"
            delay = self._backoff.delay(stats.failing, self._random(), retry_after)
            stats.next_attempt = self._clock() + delay
            return False
        stats.failing = 0
        stats.next_attempt = 0.0
        stats.delivered += 1
        self._checkpoint.accept(item.id, sink.name, self._names)
        if self._on_delivered is not None:
            self._on_delivered(item, sink.name)
        return True

    # -- the thread --------------------------------------------------------------------------

    def start(self) -> DeliveryWorker:
        """Run :meth:`deliver_due` in a daemon thread until :meth:`stop`."""
        if self._thread is not None:
            raise UsageError("the delivery worker is already running")
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="correlog-delivery", daemon=True)
        self._thread.start()
        return self

    def wake(self) -> None:
        """Look at the outbox now (the checkpoint calls this after each commit with alerts)."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                next_due = self.deliver_due()
            except Exception as exc:  # the checkpoint failed (disk full, ...): retry, report
                self.errors += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                next_due = self._clock() + self._poll
            timeout = self._poll if next_due is None else max(0.0, next_due - self._clock())
            self._wake.wait(min(timeout, self._poll))

    def stop(self, timeout: float | None = 10.0) -> None:
        """Finish the alert in hand, stop the thread and close the sinks. What was not
        delivered stays in the outbox for the next worker."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        for sink in self._sinks:
            sink.close()

    def __enter__(self) -> DeliveryWorker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def to_json(self) -> dict[str, Any]:
        """Every sink's counters, by name."""
        return {name: stats.to_json() for name, stats in self.stats.items()}
