"""Snare for Windows: one tab-delimited record per line, with or without a syslog header.

Fields, 0-based: 0 Hostname, 1 ``MSWinEventLog``, 2 Criticality, 3 LogName, 4 Snare counter,
5 DateTime (``Tue Mar 04 09:15:00 2003``, the host's local time), 6 EventID, 7 SourceName,
8 UserName, 9 SIDType, 10 EventLogType, 11 ComputerName, 12 CategoryString, 13 DataString (the
rendered message, tabs and newlines collapsed to spaces), 14 the event log record number.

Sent over syslog, a line starts with an RFC 3164 header (``<13>Mar  4 09:15:00 iis01 ``) that
ends up in field 0; the host comes from ComputerName, so the header needs no parsing at all. The
record number is optional (older agents omit it), and a field after it is ignored.

This is the reader meant to keep up on the monitored host, so the line is split once and a line
that is not a Security process or host event is dismissed after one dictionary lookup.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import tzinfo
from typing import ClassVar, Final

from .._errors import Malformed
from .._time import LocalTime, ctime_fields
from ..decoders import MESSAGE_DECODERS
from ._core import LineFormat, ParseResult

__all__ = ["FORMAT", "NAME", "SnareParser", "sniff"]

#: The format's name for :func:`correlog.read`.
NAME: Final = "snare"
_MARK: Final = "\tMSWinEventLog\t"
_DECODERS: Final = {str(event_id): decode for event_id, decode in MESSAGE_DECODERS.items()}


def sniff(line: str) -> bool:
    """True when ``line`` looks like a Snare record."""
    return _MARK in line and line.count("\t") >= 13


class SnareParser:
    """Parse one Snare line into an event (see the module docs for the fields)."""

    multiline: ClassVar[bool] = False
    __slots__ = ("_last_ns", "_last_text", "_local")

    def __init__(self, tz: tzinfo, clock: Callable[[], int]) -> None:
        # Every Snare record carries its time: the clock is never needed.
        del clock
        self._local = LocalTime(tz)
        self._last_text: str | None = None
        self._last_ns = 0

    def __call__(self, line: str) -> ParseResult:
        """Parse one line (without its newline)."""
        f = line.split("\t")
        if len(f) < 14 or f[1] != "MSWinEventLog":
            raise Malformed("not a snare record", f"{len(f)} tab-separated fields")
        decode = _DECODERS.get(f[6])
        if decode is None or f[3] != "Security":
            if not f[6].isdecimal():
                raise Malformed("bad event id", repr(f[6]))
            return None
        record = None
        if len(f) > 14:
            tail = f[14]
            if not tail.isdecimal():
                tail = tail.strip()
            if tail.isdecimal() and len(tail) < 20:
                record = int(tail)
        text = f[5]
        if text == self._last_text:
            ns = self._last_ns
        else:
            try:
                ns = self._local(*ctime_fields(text))
            except Malformed as exc:
                raise exc.with_record(record) from None
            self._last_text = text
            self._last_ns = ns
        return decode(f[13], f[11] or f[0].rpartition(" ")[2], ns, record)


#: The format, as the reader registry lists it.
FORMAT: Final = LineFormat(NAME, sniff, SnareParser)
