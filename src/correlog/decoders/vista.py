"""Decoders for the Vista+ Security events: 4688, 4689, 4696, and host events 4608, 1102, 1101.

Vista+ events carry named fields (EVTX ``EventData/Data[@Name]``, NXLog's flattened keys,
Winlogbeat's ``winlog.event_data``), so these decoders take a mapping of field name to value and
read it by name, never by position: real 4688 v2 events come with 13 or 15 fields, v0 has no
``CommandLine``, v1 no ``Target*``. Every field but the process id may be missing. Values may
be strings (``"0x1a4"``, as rendered XML and JSON carry them) or integers (ECS, or a JSON
renderer that keeps numbers); both are accepted.

Whose account a 4688 names, and why ``own_account`` differs by version:

* v2 with ``Target*`` naming another logon (a runas child, a service started by services.exe):
  the Target account is the new process's own token, ``own_account=True``;
* v2 with ``Target*`` empty (``-`` / ``0x0``): the new process has its creator's token, so the
  Subject is its own account, ``own_account=True``;
* v0/v1, no ``Target*`` at all: the Subject is the creator's account, and the new process may
  have been given another token (the 592 situation), ``own_account=False``.

The creator's account always goes into ``extra`` (``SubjectUserName``, ``SubjectDomainName``,
``SubjectLogonId``) with the raw ``TokenElevationType`` and ``MandatoryLabel``, under Windows'
own field names.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Final

from .._errors import Malformed
from .._events import Event, EventKind, HostEvent, HostEventKind, Layout, ProcessEvent
from .._memo import Memo
from ._common import (
    HOSTS,
    LOGONS,
    PIDS,
    STATUSES,
    VALUES,
    extra_fields,
    field_logon,
    field_pid,
    field_text,
    host_name,
    new_event,
    optional_field_pid,
    status,
)

__all__ = [
    "EVENT_IDS",
    "INTEGRITY_LEVELS",
    "PROCESS_EVENT_IDS",
    "VISTA_DECODERS",
    "FieldsDecoder",
    "decode_fields",
    "field_logon",
    "field_pid",
    "field_text",
]

#: The Vista+ process events this module decodes.
PROCESS_EVENT_IDS: Final = frozenset({4688, 4689, 4696})
#: Every event id of the Security log this module decodes; any other decodes to ``None``.
EVENT_IDS: Final = frozenset({4608, 1101, 1102, *PROCESS_EVENT_IDS})

#: Mandatory label SIDs (4688 v2 ``MandatoryLabel``) -> integrity level in Sysmon's words.
#: Medium Plus is a Medium variant and Protected Process sits above System: each maps to the
#: level Sysmon's ``IntegrityLevel`` reports for the same process.
INTEGRITY_LEVELS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "S-1-16-0": "Untrusted",
        "S-1-16-4096": "Low",
        "S-1-16-8192": "Medium",
        "S-1-16-8448": "Medium",
        "S-1-16-12288": "High",
        "S-1-16-16384": "System",
        "S-1-16-20480": "System",
    }
)

_CREATED: Final = EventKind.CREATED
_TOKEN: Final = EventKind.TOKEN_ASSIGNED
_EXITED: Final = EventKind.EXITED
_VISTA: Final = Layout.VISTA
# Kept importable here, where they were first defined.
_extra = extra_fields
_status = status


def _host(host: str, record: int | None) -> str:
    return host_name(host, record)


# -- decoders ------------------------------------------------------------------------------------

_EXTRA_4688: Final = (
    "TokenElevationType",
    "MandatoryLabel",
    "SubjectUserName",
    "SubjectDomainName",
    "SubjectLogonId",
)
_TEXT_OR_NONE: Final = frozenset({str, type(None)})


def _extra_of(values: tuple[str | None, ...]) -> dict[str, str] | None:
    """:func:`extra_fields` of a 4688 whose :data:`_EXTRA_4688` fields hold ``values``."""
    return extra_fields(dict(zip(_EXTRA_4688, values, strict=True)), _EXTRA_4688)


# The five values repeat (one elevation type, label and creator account per session): their
# extra fields are made once. Text only: ``1`` and ``1.0`` are equal keys with other texts.
_EXTRAS_4688: Final[Memo[tuple[str | None, ...], dict[str, str] | None]] = Memo(_extra_of, 4096)


def _decode_4688(fields: Mapping[str, Any], host: str, time: int, record: int | None) -> Event:
    # A memo miss that cannot be read raises without the record number: add it here.
    try:
        # Text, pid and logon-id fields seen before are answered from the memos inline (a pid
        # memo answers None for text it refuses); a value that is not text (None, a number, a
        # list) takes the full field reader, which also raises the located error.
        get = fields.get
        raw = get("NewProcessId")
        pid = PIDS[raw] if type(raw) is str else None
        if pid is None:
            pid = field_pid(raw, "NewProcessId", 4688, record)
        raw = get("ProcessId")
        cpid = PIDS[raw] if type(raw) is str else None
        if cpid is None:
            cpid = optional_field_pid(raw, "ProcessId", 4688, record)
        target_user = get("TargetUserName")
        target_logon = get("TargetLogonId")
        if target_user is None and target_logon is None:
            # v0/v1: only the creator's account is known (like 592).
            own = False
            user = None
            logon = None
        else:
            own = True
            user = VALUES[target_user] if type(target_user) is str else field_text(target_user)
            logon = (
                LOGONS[target_logon]
                if type(target_logon) is str
                else field_logon(target_logon, 4688, record)
            )
            # Target names another logon unless it is "-" / 0x0 (the creator's own token). A source
            # that keeps the target's name but not its logon id (ECS' user.effective) names it.
        if user is not None and logon != 0:
            raw = get("TargetDomainName")
            domain = VALUES[raw] if type(raw) is str else field_text(raw)
        else:
            raw = get("SubjectUserName")
            user = VALUES[raw] if type(raw) is str else field_text(raw)
            raw = get("SubjectDomainName")
            domain = VALUES[raw] if type(raw) is str else field_text(raw)
            raw = get("SubjectLogonId")
            logon = LOGONS[raw] if type(raw) is str else field_logon(raw, 4688, record)
        image = get("NewProcessName")
        parent = get("ParentProcessName")
        command = get("CommandLine")
        label = get("MandatoryLabel")
        # extra_fields(fields, _EXTRA_4688), from the memo when every value is text or absent;
        # each event gets a dict of its own.
        values = (
            get("TokenElevationType"),
            label,
            get("SubjectUserName"),
            get("SubjectDomainName"),
            get("SubjectLogonId"),
        )
        if _TEXT_OR_NONE.issuperset(map(type, values)):
            extra = _EXTRAS_4688[values]
            if extra is not None:
                extra = extra.copy()
        else:
            extra = extra_fields(fields, _EXTRA_4688)
        return new_event(
            ProcessEvent,
            (
                _CREATED,
                HOSTS[host],
                pid,
                time,
                4688,
                record,
                VALUES[image] if type(image) is str else field_text(image),
                user,
                domain,
                logon,
                own,
                cpid,
                VALUES[parent] if type(parent) is str else field_text(parent),
                _VISTA,
                None,
                command or None,
                None,
                None if type(label) is not str else INTEGRITY_LEVELS.get(label),
                extra,
            ),
        )
    except Malformed as exc:
        raise exc.with_record(record) from None


def _decode_4689(fields: Mapping[str, Any], host: str, time: int, record: int | None) -> Event:
    # A memo miss that cannot be read raises without the record number: add it here. Values are
    # read in the tuple's order, so a line with two bad values names the same one on every path.
    try:
        get = fields.get
        host_name_ = HOSTS[host]
        raw = get("ProcessId")
        pid = PIDS[raw] if type(raw) is str else None
        if pid is None:
            pid = field_pid(raw, "ProcessId", 4689, record)
        image = get("ProcessName")
        user = get("SubjectUserName")
        domain = get("SubjectDomainName")
        raw = get("SubjectLogonId")
        logon = LOGONS[raw] if type(raw) is str else field_logon(raw, 4689, record)
        raw = get("Status")
        exit_status = STATUSES[raw] if type(raw) is str else None
        if exit_status is None:
            exit_status = status(raw, 4689, record)
        return new_event(
            ProcessEvent,
            (
                _EXITED,
                host_name_,
                pid,
                time,
                4689,
                record,
                VALUES[image] if type(image) is str else field_text(image),
                VALUES[user] if type(user) is str else field_text(user),
                VALUES[domain] if type(domain) is str else field_text(domain),
                logon,
                True,
                None,
                None,
                _VISTA,
                None,
                None,
                exit_status,
                None,
                None,
            ),
        )
    except Malformed as exc:
        raise exc.with_record(record) from None


def _decode_4696(fields: Mapping[str, Any], host: str, time: int, record: int | None) -> Event:
    get = fields.get
    return new_event(
        ProcessEvent,
        (
            _TOKEN,
            _host(host, record),
            field_pid(get("TargetProcessId"), "TargetProcessId", 4696, record),
            time,
            4696,
            record,
            field_text(get("TargetProcessName")),
            field_text(get("TargetUserName")),
            field_text(get("TargetDomainName")),
            field_logon(get("TargetLogonId"), 4696, record),
            True,
            optional_field_pid(get("ProcessId"), "ProcessId", 4696, record),
            field_text(get("ProcessName")),
            _VISTA,
            None,
            None,
            None,
            None,
            extra_fields(fields, ("SubjectUserName", "SubjectDomainName", "SubjectLogonId")),
        ),
    )


def _host_decoder(event_id: int, kind: HostEventKind) -> FieldsDecoder:
    def decode(fields: Mapping[str, Any], host: str, time: int, record: int | None) -> Event:
        # 1101 says why audits were dropped, not how many: ``dropped`` stays unknown.
        return new_event(HostEvent, (kind, _host(host, record), time, event_id, record, None))

    decode.__name__ = f"_decode_{event_id}"
    return decode


#: A decoder of one event's named fields: (fields, host, time, record number) -> event.
FieldsDecoder = Callable[[Mapping[str, Any], str, int, "int | None"], Event]

#: Security-log event id -> decoder of its named fields, called positionally (see
#: :data:`correlog.decoders.STRING_DECODERS` for why).
VISTA_DECODERS: Final[Mapping[int, FieldsDecoder]] = MappingProxyType(
    {
        4688: _decode_4688,
        4689: _decode_4689,
        4696: _decode_4696,
        4608: _host_decoder(4608, HostEventKind.HOST_STARTED),
        1102: _host_decoder(1102, HostEventKind.LOG_CLEARED),
        1101: _host_decoder(1101, HostEventKind.AUDITS_DISCARDED),
    }
)


def decode_fields(
    event_id: int,
    fields: Mapping[str, Any],
    *,
    host: str,
    time: int,
    record_number: int | None = None,
) -> ProcessEvent | HostEvent | None:
    """Decode a Vista+ Security event from its named fields (``EventData`` name -> value).

    ``host`` is the computer name as the source spells it (case-folded here), ``time`` integer
    nanoseconds since the epoch (UTC), ``record_number`` the ``EventRecordID``. Returns ``None``
    for an event id this module does not know; raises :class:`~correlog.ParseError` when a known
    event lacks its process id or has a value that cannot be read.
    """
    decoder = VISTA_DECODERS.get(event_id)
    if decoder is None:
        return None
    return decoder(fields, host, time, record_number)
