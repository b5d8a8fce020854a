"""Elastic Common Schema events: the process and user in ECS fields, no raw ``event_data``.

::

    {"@timestamp": "2021-11-13T14:30:58.226Z", "event": {"code": "4688",
     "provider": "Microsoft-Windows-Security-Auditing"}, "host": {"name": "fs03.offsec.lan"},
     "process": {"pid": 452, "executable": "C:\\\\Windows\\\\System32\\\\cmd.exe",
                 "command_line": "cmd.exe", "parent": {"pid": 2140, "executable": "..."}},
     "user": {"name": "FS03$", "domain": "OFFSEC", "effective": {"name": "hack1",
              "domain": "OFFSEC"}}}

The ECS fields are mapped back onto the Windows field names and decoded by the same decoders
as the raw formats, so one process reads the same whichever way it was shipped:

======================== ================== =============== =================
ECS                      4688               4689            Sysmon 1 / 5
======================== ================== =============== =================
process.pid              NewProcessId       ProcessId       ProcessId
process.executable       NewProcessName     ProcessName     Image
process.command_line     CommandLine                        CommandLine
process.parent.pid       ProcessId                          ParentProcessId
process.parent.executable ParentProcessName                 ParentImage
user.name, user.domain   SubjectUserName,   the same        User (domain\\name)
                         SubjectDomainName
user.effective.*         TargetUserName,
                         TargetDomainName
process.exit_code                           Status
======================== ================== =============== =================

ECS keeps no target logon id, so a 4688 with ``user.effective`` is owned by that account
(``own_account=True``) and one without by its creator's (``own_account=False``: ECS cannot say
whether the token differed). The log is told by ``winlog.channel``, ``event.provider`` or
``event.module`` (``security``, ``sysmon``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import tzinfo
from typing import Any, ClassVar, Final

from .._errors import Malformed
from ._core import LineFormat, ParseResult
from ._winevent import (
    decode_event,
    event_id_of,
    json_loads,
    json_object,
    record_of,
    utc_time,
    wanted,
)

__all__ = ["FORMAT", "NAME", "EcsParser", "sniff"]

#: The format's name for :func:`correlog.read`.
NAME: Final = "ecs"
_MODULES: Final = {
    "security": "Security",
    "sysmon": "Microsoft-Windows-Sysmon/Operational",
}
# (Windows field, ECS path) per event kind; Security and Sysmon name the same things differently.
_SECURITY: Final = {
    4688: (
        ("NewProcessId", ("process", "pid")),
        ("NewProcessName", ("process", "executable")),
        ("CommandLine", ("process", "command_line")),
        ("ProcessId", ("process", "parent", "pid")),
        ("ParentProcessName", ("process", "parent", "executable")),
        ("SubjectUserName", ("user", "name")),
        ("SubjectDomainName", ("user", "domain")),
        ("SubjectLogonId", ("winlog", "logon", "id")),
        ("TargetUserName", ("user", "effective", "name")),
        ("TargetDomainName", ("user", "effective", "domain")),
    ),
    4689: (
        ("ProcessId", ("process", "pid")),
        ("ProcessName", ("process", "executable")),
        ("SubjectUserName", ("user", "name")),
        ("SubjectDomainName", ("user", "domain")),
        ("SubjectLogonId", ("winlog", "logon", "id")),
        ("Status", ("process", "exit_code")),
    ),
    4696: (
        ("TargetProcessId", ("process", "pid")),
        ("TargetProcessName", ("process", "executable")),
        ("ProcessId", ("process", "parent", "pid")),
        ("ProcessName", ("process", "parent", "executable")),
        ("TargetUserName", ("user", "effective", "name")),
        ("TargetDomainName", ("user", "effective", "domain")),
    ),
}
_SYSMON: Final = {
    1: (
        ("ProcessId", ("process", "pid")),
        ("Image", ("process", "executable")),
        ("CommandLine", ("process", "command_line")),
        ("ParentProcessId", ("process", "parent", "pid")),
        ("ParentImage", ("process", "parent", "executable")),
        ("ParentCommandLine", ("process", "parent", "command_line")),
        ("ProcessGuid", ("process", "entity_id")),
        ("ParentProcessGuid", ("process", "parent", "entity_id")),
        ("CurrentDirectory", ("process", "working_directory")),
        ("OriginalFileName", ("process", "pe", "original_file_name")),
        ("Company", ("process", "pe", "company")),
        ("Description", ("process", "pe", "description")),
        ("Product", ("process", "pe", "product")),
        ("FileVersion", ("process", "pe", "file_version")),
        ("UtcTime", ("process", "start")),
        ("LogonId", ("winlog", "logon", "id")),
    ),
    5: (
        ("ProcessId", ("process", "pid")),
        ("Image", ("process", "executable")),
        ("ProcessGuid", ("process", "entity_id")),
        ("UtcTime", ("process", "end")),
    ),
}


def sniff(line: str) -> bool:
    """True for a JSON object with an ECS ``event.code``."""
    data = json_object(line)
    return data is not None and isinstance(data.get("event"), dict) and "code" in data["event"]


def _dig(data: dict[str, Any], path: tuple[str, ...]) -> Any:
    found: Any = data
    for key in path:
        if type(found) is not dict:
            return None
        found = found.get(key)
        if found is None:
            # Some shippers flatten the rest of the path into one dotted key.
            return None
    return found


def _account(data: dict[str, Any]) -> str | None:
    name = _dig(data, ("user", "name"))
    if name is None:
        return None
    domain = _dig(data, ("user", "domain"))
    return f"{domain}\\{name}" if domain else str(name)


class EcsParser:
    """Parse one ECS JSON line into an event (see the module docs)."""

    multiline: ClassVar[bool] = False
    __slots__ = ("_errors", "_loads")

    def __init__(self, tz: tzinfo, clock: Callable[[], int]) -> None:
        del tz, clock  # @timestamp is UTC, and always there
        self._loads, self._errors = json_loads()

    def __call__(self, line: str) -> ParseResult:
        """Parse one line (without its newline)."""
        try:
            data = self._loads(line)
        except self._errors as exc:
            raise Malformed("bad json", str(exc)) from None
        if type(data) is not dict or type(data.get("event")) is not dict:
            raise Malformed("bad json event", "no 'event' object")
        event = data["event"]
        event_id = event_id_of(event.get("code"))
        provider = event.get("provider") or _dig(data, ("winlog", "provider_name"))
        channel = _dig(data, ("winlog", "channel")) or _MODULES.get(event.get("module") or "")
        if not wanted(event_id, channel, provider):
            return None
        record = record_of(_dig(data, ("winlog", "record_id")))
        host = _dig(data, ("host", "name")) or _dig(data, ("winlog", "computer_name"))
        if type(host) is not str:
            raise Malformed("missing host", "no host.name", record=record)
        sysmon = event_id in _SYSMON and event_id not in _SECURITY
        table = (_SYSMON if sysmon else _SECURITY).get(event_id, ())
        fields = {}
        for name, path in table:
            found = _dig(data, path)
            if found is not None:
                fields[name] = found
        if sysmon:
            account = _account(data)
            if account is not None:
                fields["User"] = account
        try:
            return decode_event(
                event_id,
                channel,
                provider,
                fields,
                host,
                utc_time(data.get("@timestamp"), record),
                record,
            )
        except Malformed as exc:
            raise exc.with_record(record) from None


#: The format, as the reader registry lists it.
FORMAT: Final = LineFormat(NAME, sniff, EcsParser)
