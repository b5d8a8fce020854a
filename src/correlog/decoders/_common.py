"""Normalization shared by every decoder: pids, logon ids, missing values, hosts, errors.

Decoders run once per input line, so these helpers are written for the common case: a value that
is well formed, a host or logon id seen many times before. Caches are small plain dicts that are
emptied when they grow past a bound, which keeps memory flat on a host that runs for months
without paying for LRU bookkeeping on every line.
"""

from __future__ import annotations

import re
import sys
from typing import Final

from .._errors import ParseError
from .._events import HostEvent, ProcessEvent

__all__ = [
    "Malformed",
    "cached_host",
    "cached_logon",
    "cached_value",
    "host_name",
    "logon_id",
    "new_event",
    "optional_pid",
    "process_id",
    "value",
]

_intern = sys.intern
_hex = re.compile(r"[0-9A-Fa-f]+").fullmatch
# Each half is a 32-bit LUID part; more digits than that is not a logon id.
_luid = re.compile(r"\(\s*0[xX]([0-9A-Fa-f]{1,8})\s*,\s*0[xX]([0-9A-Fa-f]{1,8})\s*\)").fullmatch
_CACHE_BOUND: Final = 4096

_VALUE_CACHE_BOUND: Final = 16384

# Raw text -> normalized value. Only successes are kept: a miss (or "-") takes the slow path.
_hosts: dict[str, str] = {}
_logons: dict[str, int] = {}
_values: dict[str, str] = {}
#: ``cached_host(raw)``: the normalized host for raw text seen before, else None.
cached_host = _hosts.get
#: ``cached_logon(raw)``: the logon id for raw text seen before, else None.
cached_logon = _logons.get
#: ``cached_value(raw)``: the stripped, interned value for raw text seen before, else None.
cached_value = _values.get

#: Decoders build events positionally, ``new_event(ProcessEvent, (kind, host, ...))``: keyword
#: construction of a NamedTuple runs a Python-level ``__new__`` and costs about three times as
#: much, and a decoder builds one event per line. The check below keeps the order honest.
new_event = tuple.__new__
if ProcessEvent._fields != (
    "kind",
    "host",
    "pid",
    "time",
    "event_id",
    "record_number",
    "image",
    "user",
    "domain",
    "logon_id",
    "own_account",
    "creator_pid",
    "creator_image",
    "layout",
    "channel",
    "command_line",
    "exit_status",
    "integrity",
    "extra",
) or HostEvent._fields != ("kind", "host", "time", "event_id", "record_number", "dropped"):
    raise ImportError("correlog.decoders builds events positionally: update it to the new fields")


class Malformed(ParseError):
    """A :class:`~correlog.ParseError` with a short, stable ``category``.

    Readers count skipped lines by category (``"bad process id"``), so the counter has a handful
    of keys however varied the bad values are; the message adds the detail.
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


def value(text: str) -> str | None:
    """A string value: stripped and interned, or ``None`` for Windows' ``-`` and for empty."""
    stripped = text.strip()
    if not stripped or stripped == "-":
        return None
    result = _intern(stripped)
    if len(_values) >= _VALUE_CACHE_BOUND:
        _values.clear()
    _values[text] = result
    return result


def process_id(text: str, what: str, event_id: int, record: int | None) -> int:
    """A required process id: decimal, or hex with ``0x``. APIDs are ordinary large numbers."""
    text = text.strip()
    if text.isascii() and text.isdigit():
        return int(text)
    if text[:2] in ("0x", "0X") and _hex(text, 2):
        return int(text, 16)
    if not text or text == "-":
        raise Malformed("missing process id", f"event {event_id} has no {what}", record=record)
    raise Malformed(
        "bad process id", f"{what} {text!r} of event {event_id} is not a number", record=record
    )


def optional_pid(text: str, what: str, event_id: int, record: int | None) -> int | None:
    """A process id that Windows may leave out (``-``): then ``None``."""
    stripped = text.strip()
    if not stripped or stripped == "-":
        return None
    return process_id(stripped, what, event_id, record)


def logon_id(text: str, event_id: int, record: int | None) -> int | None:
    """``(0xHIGH,0xLOW)`` -> ``HIGH << 32 | LOW``; plain ``0x3e7`` too; ``-``/empty -> None."""
    cached = _logons.get(text)
    if cached is not None:
        return cached
    stripped = text.strip()
    if not stripped or stripped == "-":
        return None
    match = _luid(stripped)
    if match is not None:
        result = (int(match[1], 16) << 32) | int(match[2], 16)
    elif stripped[:2] in ("0x", "0X") and _hex(stripped, 2):
        result = int(stripped, 16)
    else:
        raise Malformed(
            "bad logon id",
            f"{stripped!r} of event {event_id} is neither (0xHIGH,0xLOW) nor 0x...",
            record=record,
        )
    if len(_logons) >= _CACHE_BOUND:
        _logons.clear()
    _logons[text] = result
    return result


def host_name(text: str, record: int | None = None) -> str:
    """A host name as events carry it: stripped, case-folded, interned."""
    cached = _hosts.get(text)
    if cached is not None:
        return cached
    name = text.strip().casefold()
    if not name or name == "-":
        raise Malformed("missing host", "the event names no computer", record=record)
    name = _intern(name)
    if len(_hosts) >= _CACHE_BOUND:
        _hosts.clear()
    _hosts[text] = name
    return name
