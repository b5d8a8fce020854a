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
from collections.abc import Callable, Iterator, Sequence
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
        return list(self.stream(lines))

    def stream(self, lines: Sequence[str] | Sequence[bytes]) -> Iterator[Event]:
        """:meth:`decode` one event at a time: a consumer that folds each in as it comes (a
        monitor) keeps no batch of events alive for the garbage collector to walk again and
        again. The counters are added up when the batch is exhausted."""
        if not lines:
            return
        lines = _as_text(lines)
        try:
            reader = read(
                lines, self.format, errors="skip", name=self._source, tz=self._tz, clock=self._clock
            )
        except ParseError as exc:  # "auto" recognised nothing in this batch
            self.counts["lines"] += len(lines)
            self.counts["skipped"] += len(lines)
            self.skipped_by_reason[UNRECOGNISED] += len(lines)
            self._remember(str(exc))
            return
        yield from reader
        stats = reader.stats
        if self._sticky and self.format == "auto" and reader.format is not None:
            self.format = reader.format
        for name in ("lines", "events", "ignored", "blank", "headers", "continued", "skipped"):
            self.counts[name] += getattr(stats, name)
        self.skipped_by_reason.update(stats.skipped_by_reason)
        for error in stats.errors:
            self._remember(str(error))

    def _remember(self, error: str) -> None:
        self.recent_errors.append(error)
        del self.recent_errors[:-10]

    def to_json(self) -> dict[str, Any]:
        """The counters as a JSON-ready dict."""
        return {
            **{name: self.counts[name] for name in ("lines", "events", "ignored", "skipped")},
            "skipped_by_reason": dict(self.skipped_by_reason),
        }


def _as_text(lines: Sequence[str] | Sequence[bytes]) -> Sequence[str] | Sequence[bytes]:
    """A batch of byte lines decoded in one call when it is all UTF-8 (the readers then take
    each line as it is), else as it came (the readers decode line by line, falling back to
    cp1252 where a line is not UTF-8): the same text either way, without a call per line."""
    if not isinstance(lines[0], bytes):
        return lines
    try:
        text = b"\n".join(lines).decode()  # type: ignore[arg-type]
    except (UnicodeDecodeError, TypeError):
        return lines
    decoded = text.split("\n")
    return decoded if len(decoded) == len(lines) else lines
