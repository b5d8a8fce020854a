"""The live monitor's counters, as one JSON-ready dict.

:class:`LiveCounters` counts what passes the reading thread (events by kind, records by reason,
alerts by rule) and, in :meth:`LiveCounters.snapshot`, adds what the other parts keep: the
decoder's skips, the correlator's open entries, the outbox's depth and drops, each sink's
retries and failures, each followed file's rotations and gaps, the listener's drops. The CLI
prints :func:`stats_line` of a snapshot for ``--stats`` (one JSON line on stderr); a program
embedding correlog calls :meth:`~LiveCounters.snapshot` itself.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Protocol

from .._events import Event
from .._records import Alert, Record

__all__ = ["LiveCounters", "stats_line"]


class _HasJson(Protocol):
    def to_json(self) -> Any: ...


class LiveCounters:
    """Counters of the reading thread; pass :meth:`count_record` as ``Monitor(on_record=...)``."""

    def __init__(self) -> None:
        self.started = time.time()
        self.events: Counter[str] = Counter()
        self.records: Counter[str] = Counter()
        self.alerts: Counter[str] = Counter()

    def count_events(self, events: Iterable[Event]) -> None:
        """Count events by kind (``created``, ``exited``, ``log_cleared``, ...)."""
        self.events.update(str(event.kind) for event in events)

    def counted(self, events: Iterable[Event]) -> Iterator[Event]:
        """``events``, each counted by kind as it passes (for a consumer that streams them)."""
        counts = self.events
        for event in events:
            counts[str(event.kind)] += 1
            yield event

    def count_record(self, record: Record) -> None:
        """Count one final record by its reason."""
        self.records[str(record.reason)] += 1

    def count_alerts(self, alerts: Iterable[Alert]) -> None:
        """Count alerts by rule."""
        self.alerts.update(alert.rule for alert in alerts)

    def snapshot(
        self,
        *,
        open_entries: int | None = None,
        decoder: _HasJson | None = None,
        outbox: Any | None = None,
        delivery: _HasJson | None = None,
        sources: Mapping[str, _HasJson | Mapping[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Every counter as one JSON-ready dict.

        ``open_entries``: the correlator's open processes (``len(correlator)``). ``decoder``:
        a :class:`~correlog.live.decode.LineDecoder`. ``outbox``: a
        :class:`~correlog.live.checkpoint.OutboxStats` (``checkpoint.outbox_stats()``).
        ``delivery``: a :class:`~correlog.live.delivery.DeliveryWorker`. ``sources``: each
        source's counters by name (a follower's ``stats``, a listener, or a plain dict).
        """
        skipped = decoder.to_json() if decoder is not None else None
        return {
            "uptime": round(time.time() - self.started, 3),
            "events": dict(sorted(self.events.items())),
            "skipped": skipped,
            "records": dict(sorted(self.records.items())),
            "alerts": dict(sorted(self.alerts.items())),
            "open": open_entries,
            "outbox": None
            if outbox is None
            else {"depth": outbox.depth, "dropped": outbox.dropped, "limit": outbox.limit},
            "sinks": None if delivery is None else delivery.to_json(),
            "delivery_errors": getattr(delivery, "errors", None),
            "sources": {
                name: value if isinstance(value, Mapping) else value.to_json()
                for name, value in (sources or {}).items()
            },
        }


def stats_line(snapshot: Mapping[str, Any]) -> str:
    """One compact JSON line (no newline) for a snapshot, as ``--stats`` prints it."""
    return json.dumps(snapshot, ensure_ascii=False, separators=(",", ":"), sort_keys=False)
