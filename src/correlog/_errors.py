"""Errors: one base class, a usage error for callers, a parse error for bad input.

Odd but valid data (an exit with no start, a reused pid, a late event) is never an error: it
becomes a record with a reason, or a counter. See ``docs/errors.md`` for what state remains after
each error.
"""

from __future__ import annotations

__all__ = ["CorrelogError", "Malformed", "ParseError", "StateError", "UsageError"]


class CorrelogError(Exception):
    """Base class of every error correlog raises on purpose."""


class UsageError(CorrelogError, ValueError):
    """The caller used the API wrong (bad argument, feeding a closed correlator, ...).

    What remains is what was done before the mistake was met. A call that takes one thing
    (``feed``, ``advance``, a constructor, ``read``) changes nothing. ``feed_many`` is the
    exception: the events before the item that raised stay folded in, the records they
    completed are on the error's ``records`` attribute, and no item after it is fed.
    """


class ParseError(CorrelogError, ValueError):
    """A reader met input it cannot turn into an event.

    ``source`` names the input (a path, ``"<stdin>"``), ``offset`` is the 1-based line number for
    text formats or the byte offset for binary ones, ``record`` is the event's record number when
    it was read before the failure. In ``errors="skip"`` mode readers count these instead of
    raising them, and keep reading.
    """

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        offset: int | None = None,
        record: int | None = None,
    ) -> None:
        self.reason = message
        self.source = source
        self.offset = offset
        self.record = record
        super().__init__(self._render())

    def _render(self) -> str:
        where = []
        if self.source is not None:
            where.append(self.source)
        if self.offset is not None:
            where.append(str(self.offset))
        text = ":".join(where)
        if self.record is not None:
            text += f" (record {self.record})"
        return f"{text}: {self.reason}" if text else self.reason

    def located(self, *, source: str | None, offset: int | None) -> ParseError:
        """Return a copy that also says where the bad input was."""
        return ParseError(
            self.reason,
            source=self.source if self.source is not None else source,
            offset=self.offset if self.offset is not None else offset,
            record=self.record,
        )


class StateError(CorrelogError, ValueError):
    """A saved state (:meth:`correlog.Correlator.from_state`, a checkpoint) cannot be loaded:
    another format version, or damaged. Nothing was loaded."""


class Malformed(ParseError):
    """A :class:`ParseError` with a short, stable ``category``: "this event is bad".

    Decoders and readers raise it; readers count skipped lines by category (``"bad process
    id"``), so the counter has a handful of keys however varied the bad values are; the message
    adds the detail.
    """

    def __init__(
        self,
        category: str,
        detail: str = "",
        *,
        source: str | None = None,
        offset: int | None = None,
        record: int | None = None,
    ) -> None:
        self.category = category
        self.detail = detail
        super().__init__(
            f"{category}: {detail}" if detail else category,
            source=source,
            offset=offset,
            record=record,
        )

    def located(self, *, source: str | None, offset: int | None) -> Malformed:
        """Return a copy that also says where the bad input was (keeps the category)."""
        return Malformed(
            self.category,
            self.detail,
            source=self.source if self.source is not None else source,
            offset=self.offset if self.offset is not None else offset,
            record=self.record,
        )

    def with_record(self, record: int | None) -> Malformed:
        """Return a copy naming the record number, when it was not known where this was raised."""
        if record is None or self.record is not None:
            return self
        return Malformed(
            self.category, self.detail, source=self.source, offset=self.offset, record=record
        )
