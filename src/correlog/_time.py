"""Time as correlog keeps it, and every time parser the readers use: integer ns since the epoch.

Integers keep EVTX's 100 ns resolution exactly and compare fast on the hot path; the helpers
here convert at the edges. This is the one module that turns text into time:

* :func:`parse_iso` / :func:`iso`: ISO 8601 with a zone, correlog's own form (every output
  writes :data:`DECIMALS` fraction digits, ``2003-03-04T09:15:00.000000000Z``);
* :func:`sysmon_time` / :func:`utc_time`: the UTC times of Vista+ containers (Sysmon's
  ``UtcTime``, EVTX and Event XML ``SystemTime``, Winlogbeat's ``@timestamp``);
* :class:`LocalTime`, :func:`ctime_fields`, :data:`MONTHS`, :func:`resolve_tz`: the wall-clock
  times of the legacy transports (Snare, EventReporter, OSSEC, Event Viewer, LogParser, NXLog),
  read in the zone the caller names.

Range: a parsed time is between :data:`MIN_NS` (0001-01-01T00:00:00Z) and :data:`MAX_NS`
(9999-12-31T23:59:59.999999999Z) *after* conversion to UTC, so every event time can be written
as ISO 8601 and as a :class:`datetime.datetime`. A time outside it is a "bad time"
:class:`~correlog.ParseError` when it is read (``parse_iso`` raises ``ValueError``). :func:`iso`
never raises for an int: one outside the range (an event built by hand) is written in ISO 8601's
expanded-year form, ``+10000-01-01T00:00:00Z`` or ``-0001-12-31T23:00:00Z``.
"""

from __future__ import annotations

import datetime as _dt
import re
from typing import Any, Final

from ._errors import Malformed, UsageError
from ._memo import Memo

__all__ = [
    "DECIMALS",
    "MAX_NS",
    "MIN_NS",
    "MONTHS",
    "NS_PER_SECOND",
    "LocalTime",
    "ctime_fields",
    "from_datetime",
    "iso",
    "parse_iso",
    "resolve_tz",
    "seconds",
    "sysmon_time",
    "to_datetime",
    "utc_time",
]

NS_PER_SECOND = 1_000_000_000
#: Fraction digits of every time correlog writes (JSON lines, CSV, ECS): all nine, so a time is
#: exact to the nanosecond and a column of times sorts as text in time order.
DECIMALS: Final = 9
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
_NAIVE_EPOCH: Final = _dt.datetime(1970, 1, 1)
_EPOCH_ORDINAL: Final = _dt.date(1970, 1, 1).toordinal()
_DAY_NS: Final = 86_400 * NS_PER_SECOND
#: The earliest time correlog reads: 0001-01-01T00:00:00Z.
MIN_NS: Final = (_dt.date(1, 1, 1).toordinal() - _EPOCH_ORDINAL) * _DAY_NS
#: The latest time correlog reads: 9999-12-31T23:59:59.999999999Z.
MAX_NS: Final = (_dt.date(9999, 12, 31).toordinal() - _EPOCH_ORDINAL + 1) * _DAY_NS - 1


def seconds(value: float) -> int:
    """Nanoseconds in ``value`` seconds (for ttl-style arguments)."""
    return round(value * NS_PER_SECOND)


def from_datetime(value: _dt.datetime) -> int:
    """Nanoseconds since the epoch for an aware datetime (a naive one is taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=_dt.UTC)
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * NS_PER_SECOND + delta.microseconds * 1_000


def to_datetime(ns: int) -> _dt.datetime:
    """An aware UTC datetime for ``ns`` (sub-microsecond digits are dropped).

    Raises :class:`OverflowError` outside :data:`MIN_NS` .. :data:`MAX_NS`, which no reader
    produces.
    """
    return _EPOCH + _dt.timedelta(microseconds=ns // 1_000)


def iso(ns: int | None, decimals: int | None = None) -> str | None:
    """ISO 8601 UTC text, ``2003-03-04T09:15:00Z``; fractions only when there are any.

    ``decimals``: ``None`` writes the shortest exact text (no fraction for a whole second); an
    int writes exactly that many fraction digits, truncated, so that texts of equal length sort
    as their times do. Every output of correlog writes :data:`DECIMALS` (nine, exact to the
    nanosecond): ``iso(ns, DECIMALS)`` is ``2003-03-04T09:15:00.000000000Z``.

    Keeps 100 ns (and finer) digits, which ``datetime`` would drop. Never raises for an int:
    outside years 1-9999 the year is written in the expanded form (a sign and at least four
    digits: ``+10000-01-01T00:00:00Z``), which :func:`parse_iso` refuses.
    """
    if ns is None:
        return None
    secs, frac = divmod(ns, NS_PER_SECOND)
    if MIN_NS <= ns <= MAX_NS:
        # isoformat, not strftime: %Y drops a small year's leading zeros on some platforms.
        base = (_NAIVE_EPOCH + _dt.timedelta(seconds=secs)).isoformat()
    else:
        base = _expanded(secs)
    if decimals is not None:
        return f"{base}.{frac:09d}"[: len(base) + 1 + decimals].rstrip(".") + "Z"
    if frac:
        return f"{base}.{frac:09d}".rstrip("0") + "Z"
    return base + "Z"


def _expanded(secs: int) -> str:
    """Proleptic Gregorian date and time of ``secs`` since the epoch, for any year."""
    days, rest = divmod(secs, 86_400)
    # civil_from_days (H. Hinnant): exact for every integer day count.
    days += 719_468
    era = days // 146_097
    day_of_era = days - era * 146_097
    year_of_era = (
        day_of_era - day_of_era // 1460 + day_of_era // 36_524 - day_of_era // 146_096
    ) // 365
    day_of_year = day_of_era - (365 * year_of_era + year_of_era // 4 - year_of_era // 100)
    shifted_month = (5 * day_of_year + 2) // 153
    day = day_of_year - (153 * shifted_month + 2) // 5 + 1
    month = shifted_month + 3 if shifted_month < 10 else shifted_month - 9
    year = year_of_era + era * 400 + (month <= 2)
    hour, rest = divmod(rest, 3600)
    minute, second = divmod(rest, 60)
    sign = "-" if year < 0 else "+"
    return f"{sign}{abs(year):04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}"


def parse_iso(text: str) -> int:
    """Nanoseconds for ISO 8601 text such as :func:`iso` writes (``Z`` or an offset; naive = UTC).

    Accepts up to nine fractional digits. Raises :class:`ValueError` for anything else, and for
    a time outside years 1-9999 once converted to UTC.
    """
    value = text.strip()
    frac_ns = 0
    head, dot, rest = value.partition(".")
    if dot:
        digits = ""
        for ch in rest[:10]:
            if not ch.isdigit():
                break
            digits += ch
        tail = rest[len(digits) :]
        if not digits or len(digits) > 9:
            raise ValueError(f"bad fraction of a second in {text!r}")
        frac_ns = int(digits.ljust(9, "0"))
        value = head + tail
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    ns = from_datetime(_dt.datetime.fromisoformat(value)) + frac_ns
    if not MIN_NS <= ns <= MAX_NS:
        raise ValueError(f"{text!r} is outside years 1-9999 in UTC")
    return ns


# -- UTC times of the Vista+ containers ----------------------------------------------------------


def _minute_base(prefix: str) -> int:
    """``2021-06-12 01:07`` (or with a ``T``) -> seconds since the epoch; strict ASCII digits."""
    digits = prefix[0:4] + prefix[5:7] + prefix[8:10] + prefix[11:13] + prefix[14:16]
    if (
        len(prefix) != 16
        or prefix[4] != "-"
        or prefix[7] != "-"
        or prefix[10] not in " T"
        or prefix[13] != ":"
        or not (digits.isdecimal() and digits.isascii())
    ):
        raise Malformed("bad time", f"{prefix!r} does not start a time")
    hour, minute = int(prefix[11:13]), int(prefix[14:16])
    if hour > 23 or minute > 59:
        raise Malformed("bad time", f"{prefix!r} is not a time of day")
    try:
        day = _dt.date(int(prefix[0:4]), int(prefix[5:7]), int(prefix[8:10])).toordinal()
    except ValueError:
        raise Malformed("bad time", f"{prefix!r} is not a date") from None
    return (day - _EPOCH_ORDINAL) * 86_400 + hour * 3600 + minute * 60


# Text up to the minute (``2021-06-12T01:07``) -> seconds since the epoch: most events of a log
# share their minute with the one before, so a time costs one lookup and the seconds' check.
_MINUTES: Final = Memo(_minute_base, 4096)


def sysmon_time(text: str) -> int:
    """``2021-06-12 01:07:15.633`` (Sysmon's UtcTime, UTC) -> integer ns since the epoch.

    Also takes the ISO form EVTX and Event XML use, ``2021-06-12T01:07:15.6330000Z`` (a ``T``,
    up to nine fractional digits, a ``Z``). Raises :class:`~correlog.ParseError` ("bad time")
    for anything else. Answers exactly as :func:`_full_time`, the plain reference.
    """
    if text[-1:] in ("Z", "z"):
        text = text[:-1]
    try:
        base = _MINUTES[text[:16]]
    except Malformed:
        return _full_time(text)
    seconds_text = text[17:19]
    if text[16:17] == ":" and seconds_text.isdecimal() and seconds_text.isascii():
        second = int(seconds_text)
        frac = text[20:]
        if second < 60:  # a leap second takes the reference path (it may end year 9999)
            if not frac:
                if len(text) == 19:
                    return (base + second) * NS_PER_SECOND
            elif text[19] == "." and len(frac) <= 9 and frac.isdecimal() and frac.isascii():
                return (base + second) * NS_PER_SECOND + int(frac.ljust(9, "0"))
    return _full_time(text)


def _full_time(text: str) -> int:
    """:func:`sysmon_time` written plainly, without the memo (``text`` without its ``Z``)."""
    try:
        day = _dt.date(int(text[0:4]), int(text[5:7]), int(text[8:10])).toordinal()
        if text[4] != "-" or text[7] != "-":
            raise ValueError(text)
        if text[10] not in " T" or text[13] != ":" or text[16] != ":":
            raise ValueError(text)
        hour, minute, second = int(text[11:13]), int(text[14:16]), int(text[17:19])
        if hour > 23 or minute > 59 or second > 60:
            raise ValueError(text)
        frac = text[20:]
        if (frac and (text[19] != "." or len(frac) > 9 or not frac.isdecimal())) or (
            not frac and len(text) != 19
        ):
            raise ValueError(text)
        ns = int(frac.ljust(9, "0")) if frac else 0
    except (ValueError, IndexError):
        raise Malformed(
            "bad time", f"{text!r} is not a time like '2021-06-12 01:07:15.633'"
        ) from None
    secs = (day - _EPOCH_ORDINAL) * 86_400 + hour * 3600 + minute * 60 + second
    if secs * NS_PER_SECOND + ns > MAX_NS:  # 9999-12-31 23:59:60
        raise Malformed("bad time", f"{text!r} is after year 9999")
    return secs * NS_PER_SECOND + ns


def utc_time(text: Any, record: int | None = None) -> int:
    """An ISO 8601 event time -> ns; the common ``...Z`` form without going through datetime."""
    if type(text) is not str or not text:
        raise Malformed("bad time", f"{text!r} is not a time", record=record)
    try:
        return sysmon_time(text)
    except Malformed:
        pass
    try:
        return parse_iso(text)
    except ValueError:
        raise Malformed(
            "bad time", f"{text[:64]!r} is not ISO 8601 in years 1-9999", record=record
        ) from None


# -- wall-clock times of the legacy transports ---------------------------------------------------

#: English month abbreviations, as every legacy transport prints them.
MONTHS: Final = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
        start=1,
    )
}
_OFFSET: Final = re.compile(r"([+-])(\d{2}):?(\d{2})").fullmatch


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
    import zoneinfo  # only for a named zone: importing it reads the interpreter's configuration

    try:
        return zoneinfo.ZoneInfo(text)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise UsageError(f"unknown time zone {tz!r}: {exc}") from None


class LocalTime:
    """Convert wall-clock fields, read in one zone, to integer ns since the epoch (UTC).

    For a fixed offset (UTC included) this is integer arithmetic; for a zone with daylight
    saving it goes through :mod:`datetime` (an ambiguous hour at the autumn change is taken as
    the first of the two, ``fold=0``). A field out of range, or a time outside years 1-9999 once
    converted to UTC, is a "bad time" :class:`~correlog.ParseError`.
    """

    __slots__ = ("_offset", "_tz")

    def __init__(self, tz: _dt.tzinfo) -> None:
        self._tz = tz
        offset = tz.utcoffset(None) if isinstance(tz, _dt.timezone) else None
        self._offset = None if offset is None else int(offset.total_seconds())

    def __call__(self, year: int, month: int, day: int, hour: int, minute: int, second: int) -> int:
        """Nanoseconds for the given local time; :class:`Malformed` ("bad time") if invalid."""
        if not (1 <= year <= 9999 and 0 <= hour < 24 and 0 <= minute < 60 and 0 <= second < 60):
            raise _bad_time(year, month, day, hour, minute, second)
        try:
            if self._offset is not None:
                days = _dt.date(year, month, day).toordinal() - _EPOCH_ORDINAL
                secs = days * 86_400 + hour * 3600 + minute * 60 + second - self._offset
                ns = secs * NS_PER_SECOND
            else:
                moment = _dt.datetime(year, month, day, hour, minute, second, tzinfo=self._tz)
                ns = from_datetime(moment)
        except (ValueError, OverflowError):
            raise _bad_time(year, month, day, hour, minute, second) from None
        if not MIN_NS <= ns <= MAX_NS:
            raise _bad_time(year, month, day, hour, minute, second, "outside years 1-9999 in UTC")
        return ns


def _bad_time(
    year: int,
    month: int,
    day: int,
    hour: int,
    minute: int,
    second: int,
    why: str = "not a time",
) -> Malformed:
    fields = (year, month, day, hour, minute, second)
    if any(abs(field) > 99_999 for field in fields):
        return Malformed("bad time", f"a field is out of range: {fields!r}"[:200])
    return Malformed(
        "bad time",
        f"{year:04d}-{month:02d}-{day:02d} {hour:02d}:{minute:02d}:{second:02d} is {why}",
    )


def ctime_fields(text: str) -> tuple[int, int, int, int, int, int]:
    """``Tue Mar 04 09:15:00 2003`` (C ``ctime`` order) -> (year, month, day, h, m, s).

    Snare and EventReporter print event times this way. Raises :class:`Malformed` ("bad time").
    """
    parts = text.split()
    if len(parts) == 5 and len(text) <= 64:
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
    raise Malformed("bad time", f"{text[:64]!r} is not a time like 'Tue Mar 04 09:15:00 2003'")
