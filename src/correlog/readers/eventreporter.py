"""Adiscon EventReporter (classic syslog format), with or without a syslog header.

``EvntSLog: [AUS] Tue Mar 04 09:15:00 2003: IIS01/Security (592) - "A new process has ..."``

``[AUS]``/``[AUF]`` is audit success/failure (``[INF]``, ``[WRN]``, ``[ERR]`` for other logs);
the time is the host's local time; ``HOST/Log`` names the computer and the log; the quoted text
is the rendered message. A message cut short by a syslog size limit may lack its closing quote,
so the quotes are optional.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import tzinfo
from typing import ClassVar, Final

from .._errors import Malformed
from .._time import LocalTime, ctime_fields
from ..decoders import EVENT_IDS, decode_message
from ._core import LineFormat, ParseResult

__all__ = ["FORMAT", "NAME", "EventReporterParser", "sniff"]

#: The format's name for :func:`correlog.read`.
NAME: Final = "eventreporter"
_MARK: Final = "EvntSLog:"
# Linear on any line: it is matched once, where the mark is (a search would retry it at every
# mark a hostile line repeats), every repetition is possessive, and the log name runs up to the
# first ``(digits)`` without a lazy scan that would retry ``\s*`` inside a run of spaces.
_LINE: Final = re.compile(
    r"EvntSLog:\s*+\[[A-Z]{2,4}\]\s*+"
    r"(\w{3}\s++\w{3}\s++\d{1,2}\s++\d{1,2}:\d{2}:\d{2}\s++\d{4}):\s*+"
    r"([^/\s]++)/((?:[^(]|\((?!\d++\)))*+)\((\d++)\)\s*+-\s?(.*)",
    re.DOTALL,
).match


def _record(line: str) -> re.Match[str] | None:
    at = line.find(_MARK)
    return None if at < 0 else _LINE(line, at)


def sniff(line: str) -> bool:
    """True when ``line`` looks like an EventReporter record."""
    return _record(line) is not None


class EventReporterParser:
    """Parse one EventReporter line into an event."""

    multiline: ClassVar[bool] = False
    __slots__ = ("_last_ns", "_last_text", "_local")

    def __init__(self, tz: tzinfo, clock: Callable[[], int]) -> None:
        del clock  # every record carries its time
        self._local = LocalTime(tz)
        self._last_text: str | None = None
        self._last_ns = 0

    def __call__(self, line: str) -> ParseResult:
        """Parse one line (without its newline)."""
        m = _record(line)
        if m is None:
            raise Malformed("not an eventreporter record", "no 'EvntSLog: [XXX] time: HOST/Log'")
        text, host, log, id_text, message = m.groups()
        event_id = int(id_text) if len(id_text) < 10 else -1
        if event_id not in EVENT_IDS or log.strip() != "Security":
            return None
        if text == self._last_text:
            ns = self._last_ns
        else:
            ns = self._local(*ctime_fields(text))
            self._last_text = text
            self._last_ns = ns
        message = message.strip()
        if message.startswith('"'):
            message = message[1:]
        if message.endswith('"'):
            message = message[:-1]
        return decode_message(event_id, message, host=host, time=ns)


#: The format, as the reader registry lists it.
FORMAT: Final = LineFormat(NAME, sniff, EventReporterParser)
