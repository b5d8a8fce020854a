"""Normalization shared by every decoder: ids, field values, hosts, and their memos.

Decoders run once per input line, so these helpers are written for the common case: a value that
is well formed, a host or logon id seen many times before. Raw text seen before is answered by a
:class:`~correlog._memo.Memo` (``HOSTS[raw]``, ``LOGONS[raw]``, ``VALUES[raw]``): a hit is one
dict lookup, a miss runs the plain reader and remembers what it read; the memos empty themselves
when full, which keeps memory flat on a host that runs for months.

Numbers are bounded: a process id, logon id, record number or exit status is below
:data:`MAX_ID` (2**64; Windows' are 32 or 64 bits), and text longer than :data:`MAX_ID_CHARS`
is not read as a number at all, so a line with thousands of hex digits is a ``bad process id``
(or ``bad logon id``...) skip, never a huge integer carried into records.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from typing import Any, Final

from .._errors import Malformed
from .._events import HostEvent, ProcessEvent
from .._memo import Memo, clear_caches

__all__ = [
    "HOSTS",
    "LOGONS",
    "MAX_ID",
    "MAX_ID_CHARS",
    "PIDS",
    "SHORT_DECIMAL",
    "STATUSES",
    "VALUES",
    "Malformed",
    "bounded_id",
    "clear_caches",
    "extra_fields",
    "field_logon",
    "field_pid",
    "field_text",
    "host_name",
    "logon_id",
    "new_event",
    "optional_field_pid",
    "optional_pid",
    "process_id",
    "status",
    "value",
]

_intern = sys.intern
_hex = re.compile(r"[0-9A-Fa-f]+").fullmatch
# Each half is a 32-bit LUID part; more digits than that is not a logon id.
_luid = re.compile(r"\(\s*0[xX]([0-9A-Fa-f]{1,8})\s*,\s*0[xX]([0-9A-Fa-f]{1,8})\s*\)").fullmatch
#: Every id a decoder reads (pid, logon id, record number, exit status) is below this.
MAX_ID: Final = 1 << 64
#: Text longer than this is not read as an id (``0x`` and 16 hex digits, or 20 decimal ones,
#: with room for leading zeros).
MAX_ID_CHARS: Final = 32
#: Decimal text shorter than this (19 digits at most) is below :data:`MAX_ID`: the decoders'
#: fast path converts it with ``int`` and no range check.
SHORT_DECIMAL: Final = 20

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


def bounded_id(number: int, what: str, category: str, record: int | None = None) -> int:
    """``number`` when it is in ``0 <= number < MAX_ID``; else :class:`Malformed` (``category``)."""
    if 0 <= number < MAX_ID:
        return number
    raise Malformed(category, f"{what} {str(number)[:40]} is outside 0..2**64-1", record=record)


def _normalize_value(text: str) -> str | None:
    stripped = text.strip()
    if not stripped or stripped == "-":
        return None
    return _intern(stripped)


#: Raw text -> stripped, interned value (``None`` for Windows' ``-`` and for empty).
VALUES: Final[Memo[str, str | None]] = Memo(_normalize_value, 16384)


def value(text: str) -> str | None:
    """A string value: stripped and interned, or ``None`` for Windows' ``-`` and for empty."""
    return VALUES[text]


def process_id(text: str, what: str, event_id: int, record: int | None) -> int:
    """A required process id: decimal, or hex with ``0x``. APIDs are ordinary large numbers."""
    text = text.strip()
    if len(text) <= MAX_ID_CHARS:
        if text.isascii() and text.isdigit():
            return bounded_id(int(text), what, "bad process id", record)
        if text[:2] in ("0x", "0X") and _hex(text, 2):
            return bounded_id(int(text, 16), what, "bad process id", record)
    if not text or text == "-":
        raise Malformed("missing process id", f"event {event_id} has no {what}", record=record)
    raise Malformed(
        "bad process id",
        f"{what} {text[:40]!r} of event {event_id} is not a number below 2**64",
        record=record,
    )


def optional_pid(text: str, what: str, event_id: int, record: int | None) -> int | None:
    """A process id that Windows may leave out (``-``): then ``None``."""
    stripped = text.strip()
    if not stripped or stripped == "-":
        return None
    return process_id(stripped, what, event_id, record)


def _parse_logon(text: str) -> int | None:
    stripped = text.strip()
    if not stripped or stripped == "-":
        return None
    match = _luid(stripped)
    if match is not None:
        return (int(match[1], 16) << 32) | int(match[2], 16)
    if len(stripped) <= MAX_ID_CHARS and stripped[:2] in ("0x", "0X") and _hex(stripped, 2):
        return bounded_id(int(stripped, 16), "logon id", "bad logon id")
    raise Malformed(
        "bad logon id", f"{stripped[:40]!r} is neither (0xHIGH,0xLOW) nor 0x... below 2**64"
    )


#: Raw text -> logon id: ``(0xHIGH,0xLOW)`` -> ``HIGH << 32 | LOW``, ``0x3e7``, ``-`` -> None.
#: A miss that cannot be read raises :class:`Malformed` ("bad logon id").
LOGONS: Final[Memo[str, int | None]] = Memo(_parse_logon, 4096)


def logon_id(text: str, event_id: int, record: int | None) -> int | None:
    """``(0xHIGH,0xLOW)`` -> ``HIGH << 32 | LOW``; plain ``0x3e7`` too; ``-``/empty -> None."""
    try:
        return LOGONS[text]
    except Malformed as exc:
        raise Malformed(exc.category, f"{exc.detail} (event {event_id})", record=record) from None


def _normalize_host(text: str) -> str:
    name = text.strip().casefold()
    if not name or name == "-":
        raise Malformed("missing host", "the event names no computer")
    return _intern(name)


#: Raw text -> host name as events carry it (stripped, case-folded, interned); a miss with no
#: name raises :class:`Malformed` ("missing host").
HOSTS: Final[Memo[str, str]] = Memo(_normalize_host, 4096)


def host_name(text: str, record: int | None = None) -> str:
    """A host name as events carry it: stripped, case-folded, interned."""
    try:
        return HOSTS[text]
    except Malformed as exc:
        raise exc.with_record(record) from None


# -- field readers of the Vista+ decoders ------------------------------------------------------
# Named fields come from XML, JSON or ECS, so a value may be text, an integer, None or (from a
# damaged JSON line) a list or an object. Called several times per event: the common case (a
# string seen before, a lower-case hex pid as rendered XML writes it) is the first branch.


def field_text(raw: Any) -> str | None:
    """A string field: stripped and interned; ``None`` for missing, empty or ``-``."""
    if type(raw) is str:
        return VALUES[raw]
    if raw is None:
        return None
    return VALUES[str(raw)]


def _pid_or_none(text: str) -> int | None:
    """:func:`process_id`'s answer for ``text``, or None where it would raise."""
    try:
        return process_id(text, "", 0, None)
    except Malformed:
        return None


#: Raw text -> process id as :func:`process_id` reads it, or None for text it refuses (the
#: caller then asks :func:`field_pid`, which raises the located error). The Vista+ decoders'
#: fast path: a pid seen before costs one dict lookup.
PIDS: Final[Memo[str, int | None]] = Memo(_pid_or_none, 16384)


def field_pid(raw: Any, what: str, event_id: int, record: int | None) -> int:
    """A required process id: ``0x1a4`` (either case), decimal text, or an integer below 2**64."""
    if type(raw) is str:
        # The common forms, bound-checked inline; anything else takes process_id's full check.
        if raw[:2] == "0x" and len(raw) <= 18:  # 0x and 16 hex digits: always below 2**64
            try:
                return int(raw, 16)
            except ValueError:
                pass
        elif raw.isdecimal() and raw.isascii() and len(raw) < SHORT_DECIMAL:
            return int(raw)
        return process_id(raw, what, event_id, record)
    if type(raw) is int:
        return bounded_id(raw, what, "bad process id", record)
    if raw is None:
        raise Malformed("missing process id", f"event {event_id} has no {what}", record=record)
    raise Malformed(
        "bad process id",
        f"{what} {str(raw)[:40]!r} of event {event_id} is not a number",
        record=record,
    )


def optional_field_pid(raw: Any, what: str, event_id: int, record: int | None) -> int | None:
    """A process id that may be missing (``None``, empty or ``-``)."""
    if raw is None or raw in ("", "-"):
        return None
    return field_pid(raw, what, event_id, record)


def field_logon(raw: Any, event_id: int, record: int | None) -> int | None:
    """A logon id: ``0x3e7`` (either case) or an integer below 2**64; ``None`` when missing."""
    if raw is None:
        return None
    if type(raw) is int:
        return bounded_id(raw, "logon id", "bad logon id", record)
    return logon_id(raw if type(raw) is str else str(raw), event_id, record)


def status(raw: Any, event_id: int, record: int | None) -> int | None:
    """An exit status: ``0x0`` hex text, decimal text or an integer; ``None`` when missing."""
    if raw is None or raw in ("", "-"):
        return None
    if type(raw) is int:
        number = raw
    else:
        number = _status_number(str(raw).strip(), event_id, record)
    if not -_STATUS_MIN <= number < MAX_ID:
        raise Malformed("bad exit status", f"{str(number)[:40]} is out of range", record=record)
    return number


# Windows writes statuses as unsigned hex; a decimal rendering may be signed.
_STATUS_MIN: Final = 1 << 63


def _status_or_none(text: str) -> int | None:
    """:func:`status`'s answer for ``text``, or None where it answers None or raises."""
    try:
        return status(text, 0, None)
    except Malformed:
        return None


#: Raw text -> exit status as :func:`status` reads it, or None (missing, or refused: the
#: caller then asks :func:`status`). A log holds a handful of distinct statuses.
STATUSES: Final[Memo[str, int | None]] = Memo(_status_or_none, 1024)


def _status_number(text: str, event_id: int, record: int | None) -> int:
    try:
        if len(text) > MAX_ID_CHARS:
            raise ValueError(text)
        number = int(text, 16) if text[:2] in ("0x", "0X") else int(text)
    except ValueError:
        raise Malformed(
            "bad exit status",
            f"{text[:40]!r} of event {event_id} is not a number",
            record=record,
        ) from None
    return number


def extra_fields(fields: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, str] | None:
    """The named fields that are present and not empty, as strings; None when there are none."""
    found: dict[str, str] | None = None
    for name in names:
        raw = fields.get(name)
        if raw is None or raw == "":
            continue
        if found is None:
            found = {}
        found[name] = raw if type(raw) is str else str(raw)
    return found
