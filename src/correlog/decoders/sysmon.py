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

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final

from .._errors import Malformed
from .._events import Event, EventKind, HostEvent, Layout, ProcessEvent
from .._time import sysmon_time
from ._common import (
    extra_fields,
    field_logon,
    field_pid,
    field_text,
    host_name,
    new_event,
    optional_field_pid,
)
from .vista import FieldsDecoder

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
            host_name(host, record),
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
            extra_fields(fields, _EXTRA_1),
        ),
    )


def _decode_5(fields: Mapping[str, Any], host: str, time: int, record: int | None) -> Event:
    get = fields.get
    user, domain = _account(get("User"))
    return new_event(
        ProcessEvent,
        (
            _EXITED,
            host_name(host, record),
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
            extra_fields(fields, ("ProcessGuid",)),
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
