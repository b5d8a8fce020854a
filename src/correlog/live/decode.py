"""Lines to events for the live sources: correlog's own readers, batch by batch.

A live source hands over lines as they come (a followed file's batch, one syslog payload). A
:class:`LineDecoder` runs :func:`correlog.read` over each batch with ``errors="skip"``, so a bad
line is counted and reported, never a crash, and adds up the readers' counters. With
``format="auto"`` each batch is detected on its own until one is recognised; ``sticky=True``
(for a file: one writer, one format) then keeps that format, ``sticky=False`` (for a syslog
receiver with many senders) detects every batch afresh. A batch that no format recognises is
counted whole as skipped, under the reason ``"unrecognised format"``.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from .. import read
from .._errors import ParseError
from .._events import Event

__all__ = ["LineDecoder"]

UNRECOGNISED = "unrecognised format"


class LineDecoder:
    """Turn batches of lines (``str`` or ``bytes``) into events; see the module's docstring.

    ``tz`` and ``clock`` are :func:`correlog.read`'s. ``source``: the name errors carry.
    """

    def __init__(
        self,
        format: str = "auto",
        *,
        sticky: bool = True,
        source: str = "<live>",
        tz: dt.tzinfo | str | None = None,
        clock: Callable[[], int] | None = None,
    ) -> None:
        read([], format)  # a bad format name is a usage error now, not at the first batch
        self.format = format
        self._sticky = sticky
        self._source = source
        self._tz = tz
        self._clock = clock
        #: Lines, events, ignored, blank and skipped lines, added up over every batch.
        self.counts: Counter[str] = Counter()
        #: Skipped lines by reason.
        self.skipped_by_reason: Counter[str] = Counter()
        #: The last few errors (source, line within its batch, reason), for reporting.
        self.recent_errors: list[str] = []

    def decode(self, lines: Sequence[str] | Sequence[bytes]) -> list[Event]:
        """The events in ``lines``; bad lines are counted in :attr:`counts`."""
        if not lines:
            return []
        try:
            reader = read(
                lines, self.format, errors="skip", name=self._source, tz=self._tz, clock=self._clock
            )
        except ParseError as exc:  # "auto" recognised nothing in this batch
            self.counts["lines"] += len(lines)
            self.counts["skipped"] += len(lines)
            self.skipped_by_reason[UNRECOGNISED] += len(lines)
            self._remember(str(exc))
            return []
        events = list(reader)
        stats = reader.stats
        if self._sticky and self.format == "auto" and reader.format is not None:
            self.format = reader.format
        for name in ("lines", "events", "ignored", "blank", "headers", "continued", "skipped"):
            self.counts[name] += getattr(stats, name)
        self.skipped_by_reason.update(stats.skipped_by_reason)
        for error in stats.errors:
            self._remember(str(error))
        return events

    def _remember(self, error: str) -> None:
        self.recent_errors.append(error)
        del self.recent_errors[:-10]

    def to_json(self) -> dict[str, Any]:
        """The counters as a JSON-ready dict."""
        return {
            **{name: self.counts[name] for name in ("lines", "events", "ignored", "skipped")},
            "skipped_by_reason": dict(self.skipped_by_reason),
        }
