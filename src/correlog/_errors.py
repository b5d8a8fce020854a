"""Errors: one base class, a usage error for callers, a parse error for bad input.

Odd but valid data (an exit with no start, a reused pid, a late event) is never an error: it
becomes a record with a reason, or a counter. See ``docs/errors.md`` for what state remains after
each error.
"""

from __future__ import annotations

__all__ = ["CorrelogError", "ParseError", "StateError", "UsageError"]


class CorrelogError(Exception):
    """Base class of every error correlog raises on purpose."""


class UsageError(CorrelogError, ValueError):
    """The caller used the API wrong (bad argument, feeding a closed correlator, ...).

    Nothing was changed: the object that raised it is in the state it was in before the call.
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
