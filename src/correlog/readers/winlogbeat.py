"""Winlogbeat's raw events: the event under ``winlog``, its fields under ``winlog.event_data``.

::

    {"@timestamp": "2021-11-13T14:30:58.226Z",
     "winlog": {"event_id": 4688, "record_id": 469351, "computer_name": "FS03.offsec.lan",
                "channel": "Security", "provider_name": "Microsoft-Windows-Security-Auditing",
                "event_data": {"NewProcessId": "0x1c4", "NewProcessName": "C:\\\\...", ...}}}

``@timestamp`` is the event's creation time in UTC (Winlogbeat sets it from TimeCreated);
``winlog.event_id`` and ``winlog.record_id`` may be numbers or text (Winlogbeat 8 writes text).
The event's ECS fields, when the document has them too, are not needed: the raw fields say more.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import tzinfo
from typing import ClassVar, Final

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

__all__ = ["FORMAT", "NAME", "WinlogbeatParser", "sniff"]

#: The format's name for :func:`correlog.read`.
NAME: Final = "winlogbeat"


def sniff(line: str) -> bool:
    """True for a JSON object with a ``winlog`` object that has an ``event_id``."""
    data = json_object(line)
    return data is not None and (
        isinstance(data.get("winlog"), dict) and "event_id" in data["winlog"]
    )


class WinlogbeatParser:
    """Parse one Winlogbeat JSON line into an event (see the module docs)."""

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
        if type(data) is not dict or type(data.get("winlog")) is not dict:
            raise Malformed("bad json event", "no 'winlog' object")
        winlog = data["winlog"]
        event_id = event_id_of(winlog.get("event_id"))
        channel = winlog.get("channel")
        provider = winlog.get("provider_name")
        if not wanted(event_id, channel, provider):
            return None
        record = record_of(winlog.get("record_id"))
        host = winlog.get("computer_name")
        if type(host) is not str:
            found = data.get("host")
            host = found.get("name") if type(found) is dict else None
            if type(host) is not str:
                raise Malformed("missing host", "no winlog.computer_name", record=record)
        fields = winlog.get("event_data")
        if type(fields) is not dict:
            fields = {}
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
FORMAT: Final = LineFormat(NAME, sniff, WinlogbeatParser)
