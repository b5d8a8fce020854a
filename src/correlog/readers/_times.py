"""Source times to correlog time: wall-clock fields in a zone -> integer ns since the epoch, UTC.

Legacy transports print local times with no zone (Snare, EventReporter, Event Viewer, LogParser),
so the caller says which zone they were written in (``tz``, UTC by default). Times repeat from
line to line (EVT time has one-second resolution), so each reader keeps the last text it
converted and its result, which turns most conversions into one string comparison.
"""

from __future__ import annotations

import datetime as _dt
import re
import zoneinfo
from typing import Final

from .._errors import UsageError
from .._time import NS_PER_SECOND, from_datetime
from ..decoders._common import Malformed

__all__ = ["MONTHS", "LocalTime", "ctime_fields", "resolve_tz"]

#: English month abbreviations, as every legacy transport prints them.
MONTHS: Final = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
        start=1,
    )
}
_OFFSET: Final = re.compile(r"([+-])(\d{2}):?(\d{2})").fullmatch
_EPOCH_ORDINAL: Final = _dt.date(1970, 1, 1).toordinal()


def resolve_tz(tz: _dt.tzinfo | str | None) -> _dt.tzinfo:
    """``None`` -> UTC; a ``tzinfo`` as is; ``"+HH:MM"``/``"-HHMM"``/``"Z"``; an IANA name.

    Raises :class:`~correlog.UsageError` for anything else.
    """
    if tz is None:
        return _dt.UTC
    if isinstance(tz, _dt.tzinfo):
        return tz
    if not isinstance(tz, str):
        raise UsageError(f"tz must be a tzinfo, an IANA name or +HH:MM, not {tz!r}")
    text = tz.strip()
    if text in ("Z", "z", "UTC", "utc"):
        return _dt.UTC
    match = _OFFSET(text)
    if match is not None:
        hours, minutes = int(match[2]), int(match[3])
        if hours > 23 or minutes > 59:
            raise UsageError(f"tz offset out of range: {tz!r}")
        delta = _dt.timedelta(hours=hours, minutes=minutes)
        return _dt.timezone(-delta if match[1] == "-" else delta)
    try:
        return zoneinfo.ZoneInfo(text)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise UsageError(f"unknown time zone {tz!r}: {exc}") from None


class LocalTime:
    """Convert wall-clock fields, read in one zone, to integer ns since the epoch (UTC).

    For a fixed offset (UTC included) this is integer arithmetic; for a zone with daylight
    saving it goes through :mod:`datetime` (an ambiguous hour at the autumn change is taken as
    the first of the two, ``fold=0``).
    """

    __slots__ = ("_offset", "_tz")

    def __init__(self, tz: _dt.tzinfo) -> None:
        self._tz = tz
        offset = tz.utcoffset(None) if isinstance(tz, _dt.timezone) else None
        self._offset = None if offset is None else int(offset.total_seconds())

    def __call__(self, year: int, month: int, day: int, hour: int, minute: int, second: int) -> int:
        """Nanoseconds for the given local time; :class:`Malformed` ("bad time") if invalid."""
        if self._offset is not None:
            if not (0 <= hour < 24 and 0 <= minute < 60 and 0 <= second < 60):
                raise _bad_time(year, month, day, hour, minute, second)
            try:
                days = _dt.date(year, month, day).toordinal() - _EPOCH_ORDINAL
            except ValueError:
                raise _bad_time(year, month, day, hour, minute, second) from None
            secs = days * 86_400 + hour * 3600 + minute * 60 + second - self._offset
            return secs * NS_PER_SECOND
        try:
            moment = _dt.datetime(year, month, day, hour, minute, second, tzinfo=self._tz)
        except ValueError:
            raise _bad_time(year, month, day, hour, minute, second) from None
        return from_datetime(moment)


def _bad_time(year: int, month: int, day: int, hour: int, minute: int, second: int) -> Malformed:
    return Malformed(
        "bad time",
        f"{year:04d}-{month:02d}-{day:02d} {hour:02d}:{minute:02d}:{second:02d} is not a time",
    )


def ctime_fields(text: str) -> tuple[int, int, int, int, int, int]:
    """``Tue Mar 04 09:15:00 2003`` (C ``ctime`` order) -> (year, month, day, h, m, s).

    Snare and EventReporter print event times this way. Raises :class:`Malformed` ("bad time").
    """
    parts = text.split()
    if len(parts) == 5:
        month = MONTHS.get(parts[1])
        clock = parts[3].split(":")
        if month is not None and len(clock) == 3:
            try:
                return (
                    int(parts[4]),
                    month,
                    int(parts[2]),
                    int(clock[0]),
                    int(clock[1]),
                    int(clock[2]),
                )
            except ValueError:
                pass
    raise Malformed("bad time", f"{text!r} is not a time like 'Tue Mar 04 09:15:00 2003'")
