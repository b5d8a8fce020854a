"""The Sigma view of a record: a fat record under Sigma's process_creation field names.

SigmaHQ's process_creation rules are written against Sysmon event 1's field names. The view
renders a :class:`~correlog.Record` as the flat mapping such a rule expects, with every value a
string spelled the way Sysmon spells it:

========================  =============================================================
Sigma field               from the record
========================  =============================================================
``Image``                 ``image``
``CommandLine``           ``command_line``
``ProcessId``             ``pid``, decimal (Sysmon's spelling)
``ParentProcessId``       ``creator_pid``, decimal
``ParentImage``           ``creator_image``
``User``                  ``domain\\user`` (``user`` alone when no domain is known)
``LogonId``               ``logon_id`` as lower-case hex with ``0x`` (``0x3e7``): Sysmon's
                          spelling, which is what SigmaHQ rules compare against
``IntegrityLevel``        ``integrity`` (``Low``, ``Medium``, ``High``, ``System``)
``Provider_Name``         the event provider, from the log and event ids:
                          ``Microsoft-Windows-Sysmon``, ``Microsoft-Windows-Security-Auditing``
                          (4688...), ``Security`` (592...). SigmaHQ filters on it to drop
                          other telemetry's half-filled events.
anything else             ``extra``, under the source's own names (Sysmon's
                          ``OriginalFileName``, ``Hashes``, ``CurrentDirectory``,
                          ``ParentCommandLine``, ``Company``, ``ParentUser``...;
                          4688's ``TokenElevationType``, ``MandatoryLabel``...)
========================  =============================================================

A field the record does not know is *absent* from the view, never an empty string: Sigma
tells ``Field: null`` from ``Field: ''``. An ``extra`` name never overrides one of the fields
above, which come from the merge policy.

Which fields a record's *source* carries (its schema, :func:`record_schema`) is a separate
question from which fields this record has: a Sysmon 1 event always carries ``CommandLine``,
a legacy 592 never does. The engine reads a field that is absent but in the schema as Sigma
does (null: every comparison on it is false), and a field outside the schema as *unknown*,
so that a rule needing a command line is "not applicable" to a Windows 2000 log rather than
"no match". See ``docs/sigma.md``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

from .._records import Record

__all__ = [
    "CORE_FIELDS",
    "EVENT_FIELDS",
    "PROVIDERS",
    "SYSMON_CREATE_FIELDS",
    "record_schema",
    "schema_label",
    "sigma_view",
]

#: The fields the view takes from the record's own columns (an ``extra`` never overrides them).
CORE_FIELDS: Final = frozenset(
    {
        "Image",
        "CommandLine",
        "ProcessId",
        "ParentProcessId",
        "ParentImage",
        "User",
        "LogonId",
        "IntegrityLevel",
        "Provider_Name",
    }
)

#: Every field of a Sysmon event 1 (schema 4.x), the names SigmaHQ's rules are written in.
SYSMON_CREATE_FIELDS: Final = frozenset(
    {
        "RuleName",
        "UtcTime",
        "ProcessGuid",
        "ProcessId",
        "Image",
        "FileVersion",
        "Description",
        "Product",
        "Company",
        "OriginalFileName",
        "CommandLine",
        "CurrentDirectory",
        "User",
        "LogonGuid",
        "LogonId",
        "TerminalSessionId",
        "IntegrityLevel",
        "Hashes",
        "ParentProcessGuid",
        "ParentProcessId",
        "ParentImage",
        "ParentCommandLine",
        "ParentUser",
        "Provider_Name",
    }
)

_LEGACY_ACCOUNT: Final = frozenset({"ProcessId", "User", "LogonId", "Provider_Name"})

#: For each source event, keyed ``(channel, event_id)`` (channel ``None`` for the Security log),
#: the view fields that event *always* carries. Fields an event carries only sometimes (4688's
#: command line and parent name exist from v1 and v2 on; a 593 names its image on XP/2003 but
#: not on 2000) are left out: when such a field is absent it is unknown, not null.
EVENT_FIELDS: Final[Mapping[tuple[str | None, int], frozenset[str]]] = {
    ("sysmon", 1): SYSMON_CREATE_FIELDS,
    ("sysmon", 5): frozenset(
        {"RuleName", "UtcTime", "ProcessGuid", "ProcessId", "Image", "User", "Provider_Name"}
    ),
    # 592: the creator's account; the creator's pid but never its image.
    (None, 592): _LEGACY_ACCOUNT | {"Image", "ParentProcessId"},
    # 600: the assigning process (the creator) with its image, the new process and its token.
    (None, 600): _LEGACY_ACCOUNT | {"Image", "ParentProcessId", "ParentImage"},
    (None, 593): _LEGACY_ACCOUNT,
    (None, 4688): _LEGACY_ACCOUNT | {"Image", "ParentProcessId"},
    (None, 4696): _LEGACY_ACCOUNT | {"Image", "ParentProcessId", "ParentImage"},
    (None, 4689): _LEGACY_ACCOUNT | {"Image"},
}

#: The provider that writes each source event, for ``Provider_Name``.
PROVIDERS: Final[Mapping[tuple[str | None, int], str]] = {
    **{("sysmon", e): "Microsoft-Windows-Sysmon" for e in (1, 5)},
    **{(None, e): "Security" for e in (592, 593, 600)},
    **{(None, e): "Microsoft-Windows-Security-Auditing" for e in (4688, 4689, 4696)},
}

_EMPTY: Final[frozenset[str]] = frozenset()
_schema_cache: dict[tuple[str | None, tuple[int, ...]], frozenset[str]] = {}


def sigma_view(record: Record) -> dict[str, str]:
    """The record under Sigma process_creation names (see the module docs); a new dict.

    >>> from correlog import EventKind, Reason, Record, Status
    >>> record = Record(host="ws1", pid=7732, image=r"C:\\Windows\\System32\\cmd.exe",
    ...     user="SYSTEM", domain="NT AUTHORITY", logon_id=0x3E7, owner_source=EventKind.CREATED,
    ...     creator_pid=740, creator_image=None, start=0, end=None, status=Status.PARTIAL,
    ...     reason=Reason.OPEN, provenance=(592, 1), layout=None, first_seen=0)
    >>> view = sigma_view(record)
    >>> view["Image"], view["User"], view["LogonId"], view["Provider_Name"]
    ('C:\\\\Windows\\\\System32\\\\cmd.exe', 'NT AUTHORITY\\\\SYSTEM', '0x3e7', 'Security')
    >>> "CommandLine" in view, "ParentImage" in view  # a 592 names neither
    (False, False)
    """
    extra = record.extra
    view: dict[str, str] = (
        {name: value for name, value in extra.items() if name not in CORE_FIELDS} if extra else {}
    )
    if record.image is not None:
        view["Image"] = record.image
    if record.command_line is not None:
        view["CommandLine"] = record.command_line
    view["ProcessId"] = str(record.pid)
    if record.creator_pid is not None:
        view["ParentProcessId"] = str(record.creator_pid)
    if record.creator_image is not None:
        view["ParentImage"] = record.creator_image
    user = record.user
    if user is not None:
        domain = record.domain
        view["User"] = f"{domain}\\{user}" if domain else user
    if record.logon_id is not None:
        view["LogonId"] = f"0x{record.logon_id:x}"
    if record.integrity is not None:
        view["IntegrityLevel"] = record.integrity
    for i in range(0, len(record.provenance), 2):
        provider = PROVIDERS.get((record.channel, record.provenance[i]))  # type: ignore[arg-type]
        if provider is not None:
            view["Provider_Name"] = provider
            break
    return view


def _sources(record: Record) -> tuple[int, ...]:
    return tuple(sorted({e for e in record.provenance[0::2] if e is not None}))


def record_schema(record: Record) -> frozenset[str]:
    """The fields the record's source events always carry (:data:`EVENT_FIELDS`, united).

    A record whose events are not in the table (a source correlog does not know yet, or a
    record built by hand without provenance) has an empty schema: every field it lacks is
    unknown.
    """
    key = (record.channel, _sources(record))
    schema = _schema_cache.get(key)
    if schema is None:
        schema = _union(EVENT_FIELDS.get((record.channel, e), _EMPTY) for e in key[1])
        if len(_schema_cache) < 1024:  # a handful in practice; bounded whatever the input
            _schema_cache[key] = schema
    return schema


def _union(sets: Iterable[frozenset[str]]) -> frozenset[str]:
    out: set[str] = set()
    for s in sets:
        out |= s
    return frozenset(out)


def schema_label(record: Record) -> str:
    """A short name for the record's source: its log and event ids (``security:592+593``)."""
    return f"{record.channel or 'security'}:{'+'.join(map(str, _sources(record))) or '-'}"
