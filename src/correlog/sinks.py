"""Sinks: where records and alerts go once the core has produced them.

A sink is any callable taking one record or alert. These are the ones correlog ships; each
writes what :meth:`~correlog.Record.to_json` / :meth:`~correlog.Alert.to_json` return, so every
sink says the same thing in its own medium. The JSON text comes from :mod:`correlog.output`'s
compiled encoder: the same bytes as ``json.dumps`` of ``to_json()``, several times faster, and
never an error (see ``docs/output.md``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Protocol, TextIO

import attrs

from ._records import Alert, Record
from .output import json_lines, json_text

__all__ = ["JsonLines", "LoggingSink", "Sink", "dumps"]


class Sink(Protocol):
    """Anything that takes a record or an alert."""

    def __call__(self, item: Record | Alert, /) -> object: ...


def dumps(item: Record | Alert) -> str:
    """One compact JSON line (no newline) for a record or an alert.

    The bytes of ``json.dumps(item.to_json(), ensure_ascii=False, separators=(",", ":"))``,
    except where that cannot be written as UTF-8 or raises: see ``docs/output.md``.
    """
    return json_text(item)


@attrs.define
class JsonLines:
    """Write one JSON object per line to a text stream.

    ``flush=True`` flushes after every line, for live monitoring through a pipe.
    """

    stream: TextIO
    flush: bool = False
    written: int = 0

    def __call__(self, item: Record | Alert, /) -> None:
        self.stream.write(json_text(item) + "\n")
        self.written += 1
        if self.flush:
            self.stream.flush()

    def write_many(self, items: Iterable[Record | Alert], /) -> int:
        """Write ``items`` with one ``write`` call; return how many were written."""
        batch = list(items)
        if batch:
            self.stream.write(json_lines(batch))
            self.written += len(batch)
            if self.flush:
                self.stream.flush()
        return len(batch)


@attrs.define
class LoggingSink:
    """Send each item to a :mod:`logging` logger, as its JSON text, alerts at WARNING."""

    logger: logging.Logger = attrs.field(factory=lambda: logging.getLogger("correlog"))
    record_level: int = logging.INFO
    alert_level: int = logging.WARNING

    def __call__(self, item: Record | Alert, /) -> None:
        level = self.alert_level if isinstance(item, Alert) else self.record_level
        self.logger.log(level, "%s", dumps(item))
