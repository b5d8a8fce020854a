"""Event Viewer (Windows 2003) "Save Log File As" CSV: one record per event, no header row.

Columns: Date, Time, Source, Type, Category, Event, User, Computer, Description. Date and Time
are the local time of the machine that saved the file, in its regional format; read in ``tz``.
Dates are read as ``M/D/YYYY`` when written with slashes (the US format Event Viewer uses by
default), ``D.M.YYYY`` with dots, ``YYYY-MM-DD`` with dashes; times as ``h:mm:ss AM``/``PM`` or
24-hour ``HH:mm:ss``. A day-first date written with slashes cannot be told from a US one: save
such logs with another format, or convert the dates first.

Description is the rendered message; the Security log's records have Source ``Security``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import tzinfo
from typing import ClassVar, Final

from .._errors import Malformed
from .._time import LocalTime
from ..decoders import EVENT_IDS, decode_message
from ._core import LineFormat, ParseResult, csv_row

__all__ = ["FORMAT", "NAME", "EvtViewerParser", "sniff"]

#: The format's name for :func:`correlog.read`.
NAME: Final = "evtviewer"
_WIDTH: Final = 9
_DATE: Final = re.compile(r"(\d{1,4})([/.-])(\d{1,2})\2(\d{1,4})").fullmatch
_TIME: Final = re.compile(r"(\d{1,2}):(\d{2}):(\d{2})(?:\s*([AaPp])\.?[Mm]\.?)?").fullmatch


def sniff(line: str) -> bool:
    """True when ``line`` looks like an Event Viewer CSV record."""
    try:
        row = csv_row(line)
    except Malformed:
        return False
    return (
        len(row) >= _WIDTH
        and row[5].strip().isdecimal()
        and _DATE(row[0].strip()) is not None
        and _TIME(row[1].strip()) is not None
    )


class EvtViewerParser:
    """Parse one Event Viewer CSV record into an event."""

    multiline: ClassVar[bool] = True
    __slots__ = ("_last_ns", "_last_text", "_local")

    def __init__(self, tz: tzinfo, clock: Callable[[], int]) -> None:
        del clock  # every record carries its time
        self._local = LocalTime(tz)
        self._last_text: tuple[str, str] | None = None
        self._last_ns = 0

    def __call__(self, line: str) -> ParseResult:
        """Parse one CSV record (its lines joined)."""
        row = csv_row(line)
        if len(row) < _WIDTH:
            raise Malformed("too few fields", f"{len(row)} CSV fields, not {_WIDTH}")
        id_text = row[5].strip()
        if not id_text.isdecimal():
            raise Malformed("bad event id", repr(id_text))
        event_id = int(id_text)
        if event_id not in EVENT_IDS or row[2].strip() != "Security":
            return None
        when = (row[0].strip(), row[1].strip())
        if when == self._last_text:
            ns = self._last_ns
        else:
            ns = self._time(*when)
            self._last_text = when
            self._last_ns = ns
        return decode_message(event_id, row[8], host=row[7], time=ns)

    def _time(self, date_text: str, time_text: str) -> int:
        date = _DATE(date_text)
        clock = _TIME(time_text)
        if date is None or clock is None:
            raise Malformed("bad time", f"{date_text!r} {time_text!r} is not a date and a time")
        first, sep, second, third = date[1], date[2], int(date[3]), date[4]
        if len(first if sep == "-" else third) != 4:
            raise Malformed("bad time", f"{date_text!r} has no four-digit year")
        if sep == "/":
            year, month, day = int(third), int(first), second
        elif sep == ".":
            year, month, day = int(third), second, int(first)
        else:
            year, month, day = int(first), second, int(third)
        hour = int(clock[1])
        if clock[4] is not None:
            if not 1 <= hour <= 12:
                raise Malformed("bad time", f"{time_text!r} is not a 12-hour time")
            hour = hour % 12 + (12 if clock[4] in "Pp" else 0)
        return self._local(year, month, day, hour, int(clock[2]), int(clock[3]))


#: The format, as the reader registry lists it.
FORMAT: Final = LineFormat(NAME, sniff, EvtViewerParser)
