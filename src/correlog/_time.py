"""Time as correlog keeps it: integer nanoseconds since 1970-01-01 UTC.

Integers keep EVTX's 100 ns resolution exactly and compare fast on the hot path; these helpers
convert at the edges.
"""

from __future__ import annotations

import datetime as _dt

__all__ = ["NS_PER_SECOND", "from_datetime", "iso", "parse_iso", "seconds", "to_datetime"]

NS_PER_SECOND = 1_000_000_000
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)


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
    """An aware UTC datetime for ``ns`` (sub-microsecond digits are dropped)."""
    return _EPOCH + _dt.timedelta(microseconds=ns // 1_000)


def iso(ns: int | None) -> str | None:
    """ISO 8601 UTC text, ``2003-03-04T09:15:00Z``; fractions only when there are any.

    Keeps 100 ns (and finer) digits, which ``datetime`` would drop.
    """
    if ns is None:
        return None
    secs, frac = divmod(ns, NS_PER_SECOND)
    base = (_EPOCH + _dt.timedelta(seconds=secs)).strftime("%Y-%m-%dT%H:%M:%S")
    if frac:
        return f"{base}.{frac:09d}".rstrip("0") + "Z"
    return base + "Z"


def parse_iso(text: str) -> int:
    """Nanoseconds for ISO 8601 text such as :func:`iso` writes (``Z`` or an offset; naive = UTC).

    Accepts up to nine fractional digits.
    """
    value = text.strip()
    frac_ns = 0
    head, dot, rest = value.partition(".")
    if dot:
        digits = ""
        for ch in rest:
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
    return from_datetime(_dt.datetime.fromisoformat(value)) + frac_ns
