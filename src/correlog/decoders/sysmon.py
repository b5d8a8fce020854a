"""Decoders for Sysmon's process events: 1 (process create) and 5 (process terminated).

Sysmon logs to its own channel (``Microsoft-Windows-Sysmon/Operational``), so its events carry
``channel="sysmon"`` and the correlator keeps them apart from the Security log's: one process
seen by both makes two records, which should agree. Sysmon's process ids are decimal, its
``User`` is ``DOMAIN\\name`` and always the process's own token, and its ``UtcTime`` is when the
process was created or ended, in UTC to the millisecond (the event's own ``TimeCreated`` is when
Sysmon logged it, a little later). Fields beyond the core ones go into ``extra`` under Sysmon's
own names.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final

from .._events import Event, EventKind, HostEvent, Layout, ProcessEvent
from .._time import NS_PER_SECOND
from ._common import Malformed, new_event
from .vista import (
    FieldsDecoder,
    _extra,
    _host,
    field_logon,
    field_pid,
    field_text,
    optional_field_pid,
)

__all__ = [
    "CHANNEL",
    "EVENT_IDS",
    "SYSMON_DECODERS",
    "decode_sysmon",
    "sysmon_time",
]

#: The ``channel`` of every event decoded here.
CHANNEL: Final = "sysmon"
#: The Sysmon event ids this module decodes.
EVENT_IDS: Final = frozenset({1, 5})

_CREATED: Final = EventKind.CREATED
_EXITED: Final = EventKind.EXITED
_VISTA: Final = Layout.VISTA
_EPOCH_ORDINAL: Final = _dt.date(1970, 1, 1).toordinal()
# Date text -> days since the epoch: a log spans few days, so this stays tiny; bounded anyway.
_days: dict[str, int] = {}
# Text up to the minute (``2021-06-12T01:07``) -> seconds since the epoch, for times the full
# parse below has already checked: most events of a log share their minute with the one before,
# and this skips five slices and four int() calls for them. Bounded like _days.
_minutes: dict[str, int] = {}
_CACHE_BOUND: Final = 4096


def sysmon_time(text: str) -> int:
    """``2021-06-12 01:07:15.633`` (Sysmon's UtcTime, UTC) -> integer ns since the epoch.

    Also takes the ISO form EVTX and Event XML use, ``2021-06-12T01:07:15.6330000Z`` (a ``T``,
    up to nine fractional digits, a ``Z``). Raises :class:`~correlog.ParseError` ("bad time")
    for anything else.
    """
    if text[-1:] in ("Z", "z"):
        text = text[:-1]
    base = _minutes.get(text[:16])
    if base is not None and text[16:17] == ":":
        # A minute seen before: only the seconds and the fraction are left to check.
        seconds_text = text[17:19]
        if seconds_text.isdecimal() and seconds_text.isascii():
            second = int(seconds_text)
            frac = text[20:]
            if second <= 60:
                if not frac:
                    if len(text) == 19:
                        return (base + second) * NS_PER_SECOND
                elif text[19] == "." and len(frac) <= 9 and frac.isdecimal() and frac.isascii():
                    return (base + second) * NS_PER_SECOND + int(frac.ljust(9, "0"))
    return _full_time(text)


def _full_time(text: str) -> int:
    """:func:`sysmon_time` without the per-minute cache (``text`` without its ``Z``)."""
    day = _days.get(text[:10])
    try:
        if day is None:
            day = _dt.date(int(text[0:4]), int(text[5:7]), int(text[8:10])).toordinal()
            day -= _EPOCH_ORDINAL
            if text[4] != "-" or text[7] != "-":
                raise ValueError(text)
            if len(_days) > _CACHE_BOUND:
                _days.clear()
            _days[text[:10]] = day
        if text[10] not in " T" or text[13] != ":" or text[16] != ":":
            raise ValueError(text)
        hour, minute, second = int(text[11:13]), int(text[14:16]), int(text[17:19])
        if hour > 23 or minute > 59 or second > 60:
            raise ValueError(text)
        frac = text[20:]
        ns = int(frac.ljust(9, "0")) if frac else 0
        if (frac and (text[19] != "." or len(frac) > 9 or not frac.isdecimal())) or (
            not frac and len(text) != 19
        ):
            raise ValueError(text)
    except (ValueError, IndexError):
        raise Malformed(
            "bad time", f"{text!r} is not a time like '2021-06-12 01:07:15.633'"
        ) from None
    minute_base = day * 86_400 + hour * 3600 + minute * 60
    # Everything before the seconds was checked above and only text[:16] went into it, so the
    # memo gives exactly what this parse would.
    if len(_minutes) > _CACHE_BOUND:
        _minutes.clear()
    _minutes[text[:16]] = minute_base
    return (minute_base + second) * NS_PER_SECOND + ns


def _own_time(raw: Any, fallback: int, record: int | None) -> int:
    if raw is None or raw == "":
        return fallback
    try:
        return sysmon_time(raw if type(raw) is str else str(raw))
    except Malformed as exc:
        raise exc.with_record(record) from None


def _account(raw: Any) -> tuple[str | None, str | None]:
    """``DOMAIN\\name`` -> (name, domain); a bare name has no domain."""
    text = field_text(raw)
    if text is None:
        return None, None
    domain, sep, name = text.rpartition("\\")
    if not sep:
        return text, None
    return field_text(name), field_text(domain)


_EXTRA_1: Final = (
    "OriginalFileName",
    "Hashes",
    "CurrentDirectory",
    "ParentCommandLine",
    "ProcessGuid",
    "ParentProcessGuid",
    "LogonGuid",
    "FileVersion",
    "Description",
    "Product",
    "Company",
    "TerminalSessionId",
    "ParentUser",
)


def _decode_1(fields: Mapping[str, Any], host: str, time: int, record: int | None) -> Event:
    get = fields.get
    user, domain = _account(get("User"))
    command = get("CommandLine")
    return new_event(
        ProcessEvent,
        (
            _CREATED,
            _host(host, record),
            field_pid(get("ProcessId"), "ProcessId", 1, record),
            _own_time(get("UtcTime"), time, record),
            1,
            record,
            field_text(get("Image")),
            user,
            domain,
            field_logon(get("LogonId"), 1, record),
            True,
            optional_field_pid(get("ParentProcessId"), "ParentProcessId", 1, record),
            field_text(get("ParentImage")),
            _VISTA,
            CHANNEL,
            command or None,
            None,
            field_text(get("IntegrityLevel")),
            _extra(fields, _EXTRA_1),
        ),
    )


def _decode_5(fields: Mapping[str, Any], host: str, time: int, record: int | None) -> Event:
    get = fields.get
    user, domain = _account(get("User"))
    return new_event(
        ProcessEvent,
        (
            _EXITED,
            _host(host, record),
            field_pid(get("ProcessId"), "ProcessId", 5, record),
            _own_time(get("UtcTime"), time, record),
            5,
            record,
            field_text(get("Image")),
            user,
            domain,
            None,
            True,
            None,
            None,
            _VISTA,
            CHANNEL,
            None,
            None,
            None,
            _extra(fields, ("ProcessGuid",)),
        ),
    )


#: Sysmon event id -> decoder of its named fields (see :data:`~.vista.VISTA_DECODERS`).
SYSMON_DECODERS: Final[Mapping[int, FieldsDecoder]] = MappingProxyType({1: _decode_1, 5: _decode_5})


def decode_sysmon(
    event_id: int,
    fields: Mapping[str, Any],
    *,
    host: str,
    time: int,
    record_number: int | None = None,
) -> ProcessEvent | HostEvent | None:
    """Decode a Sysmon event from its named fields; ``None`` for an id other than 1 or 5.

    ``time`` is the event's own time, used when ``UtcTime`` is missing. Raises
    :class:`~correlog.ParseError` when the process id is missing or a value cannot be read.
    """
    decoder = SYSMON_DECODERS.get(event_id)
    if decoder is None:
        return None
    return decoder(fields, host, time, record_number)
