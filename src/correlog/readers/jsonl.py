"""correlog's own JSON lines: one normalized event per line, as :func:`event_to_json` writes it.

Every field of :class:`~correlog.ProcessEvent` / :class:`~correlog.HostEvent` is a key, with
``null`` for a missing value; ``kind`` tells the two apart (their values do not overlap);
``time`` is ISO 8601 UTC text from :func:`correlog.iso` with nine decimals, exact to the
nanosecond; ``logon_id`` is hex text (``"0x3e7"``), as in records (an integer is read too, as
older versions wrote it). Reading a line
back gives an event equal to the one written. Unknown keys are ignored, so a later version may
add fields.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping
from datetime import tzinfo
from typing import Any, ClassVar, Final

from .._errors import Malformed
from .._events import Event, EventKind, HostEvent, HostEventKind, Layout, ProcessEvent
from .._time import DECIMALS, iso, parse_iso
from ..decoders._common import MAX_ID, host_name
from ._core import LineFormat, ParseResult

__all__ = ["FORMAT", "NAME", "JsonLinesParser", "event_from_json", "event_to_json", "sniff"]

#: The format's name for :func:`correlog.read`.
NAME: Final = "jsonl"
_PROCESS_KINDS: Final = {kind.value: kind for kind in EventKind}
_HOST_KINDS: Final = {kind.value: kind for kind in HostEventKind}
_LAYOUTS: Final = {layout.value: layout for layout in Layout}
_loads = json.loads
_intern = sys.intern
_HEX: Final = frozenset("0123456789abcdefABCDEF")


def event_to_json(event: Event) -> dict[str, Any]:
    """A JSON-ready dict for ``event`` (see the module docs); :func:`event_from_json` inverts it."""
    if isinstance(event, ProcessEvent):
        return {
            "kind": event.kind.value,
            "host": event.host,
            "pid": event.pid,
            "time": iso(event.time, DECIMALS),
            "event_id": event.event_id,
            "record_number": event.record_number,
            "image": event.image,
            "user": event.user,
            "domain": event.domain,
            "logon_id": None if event.logon_id is None else f"0x{event.logon_id:x}",
            "own_account": event.own_account,
            "creator_pid": event.creator_pid,
            "creator_image": event.creator_image,
            "layout": None if event.layout is None else event.layout.value,
            "channel": event.channel,
            "command_line": event.command_line,
            "exit_status": event.exit_status,
            "integrity": event.integrity,
            "extra": None if event.extra is None else dict(event.extra),
        }
    return {
        "kind": event.kind.value,
        "host": event.host,
        "time": iso(event.time, DECIMALS),
        "event_id": event.event_id,
        "record_number": event.record_number,
        "dropped": event.dropped,
    }


def event_from_json(data: Mapping[str, Any]) -> Event:
    """The event a dict from :func:`event_to_json` describes.

    Raises :class:`~correlog.ParseError` when a key is missing or a value has the wrong type.
    Hosts are case-folded and strings interned, as a reader would; for what
    :func:`event_to_json` wrote, that changes nothing.
    """
    if not isinstance(data, Mapping):
        raise Malformed("bad json event", f"a JSON object is needed, not {type(data).__name__}")
    kind_text = data.get("kind")
    if not isinstance(kind_text, str):
        raise Malformed("bad json event", "no 'kind'")
    get = _Fields(data)
    process_kind = _PROCESS_KINDS.get(kind_text)
    if process_kind is not None:
        layout_text = get.text("layout", required=False)
        layout = None
        if layout_text is not None:
            layout = _LAYOUTS.get(layout_text)
            if layout is None:
                raise Malformed("bad json event", f"unknown layout {layout_text!r}")
        own = data.get("own_account", True)
        if not isinstance(own, bool):
            raise Malformed("bad json event", "'own_account' must be true or false")
        return ProcessEvent(
            kind=process_kind,
            host=get.host(),
            pid=get.identifier("pid"),
            time=get.time(),
            event_id=get.integer("event_id"),
            record_number=get.identifier("record_number", required=False),
            image=get.text("image", required=False),
            user=get.text("user", required=False),
            domain=get.text("domain", required=False),
            logon_id=get.logon_id(),
            own_account=own,
            creator_pid=get.identifier("creator_pid", required=False),
            creator_image=get.text("creator_image", required=False),
            layout=layout,
            channel=get.text("channel", required=False),
            command_line=get.text("command_line", required=False),
            exit_status=get.integer("exit_status", required=False),
            integrity=get.text("integrity", required=False),
            extra=get.fields("extra"),
        )
    host_kind = _HOST_KINDS.get(kind_text)
    if host_kind is None:
        raise Malformed("bad json event", f"unknown kind {kind_text!r}")
    return HostEvent(
        kind=host_kind,
        host=get.host(),
        time=get.time(),
        event_id=get.integer("event_id"),
        record_number=get.identifier("record_number", required=False),
        dropped=get.integer("dropped", required=False),
    )


def _shown(found: Any) -> str:
    """A wrong value, briefly: a scalar's repr cut short, a container's type."""
    if isinstance(found, dict | list):
        return f"a JSON {'object' if isinstance(found, dict) else 'array'}"
    return repr(found)[:40]


class _Fields:
    """Typed access to one JSON object's values, raising :class:`Malformed` on a wrong type."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._data = data

    def _get(self, key: str, required: bool) -> Any:
        found = self._data.get(key)
        if found is None and required:
            raise Malformed("bad json event", f"no {key!r}")
        return found

    def integer(self, key: str, *, required: bool = True) -> Any:
        found = self._get(key, required)
        if found is not None and (isinstance(found, bool) or not isinstance(found, int)):
            raise Malformed("bad json event", f"{key!r} must be an integer, not {_shown(found)}")
        return found

    def text(self, key: str, *, required: bool = True) -> Any:
        found = self._get(key, required)
        if found is None:
            return None
        if not isinstance(found, str):
            raise Malformed("bad json event", f"{key!r} must be a string, not {_shown(found)}")
        return _intern(found)

    def fields(self, key: str) -> dict[str, str] | None:
        found = self._get(key, False)
        if found is None:
            return None
        if not isinstance(found, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in found.items()
        ):
            raise Malformed("bad json event", f"{key!r} must map names to strings")
        return found

    def identifier(self, key: str, *, required: bool = True) -> Any:
        """A pid, logon id or record number: an integer in 0..2**64-1."""
        found = self.integer(key, required=required)
        if found is not None and not 0 <= found < MAX_ID:
            raise Malformed("bad json event", f"{key!r} {_shown(found)} is outside 0..2**64-1")
        return found

    def logon_id(self) -> int | None:
        """Hex text as the records write it (``"0x3e7"``), or an integer (older files)."""
        found = self._data.get("logon_id")
        if isinstance(found, str):
            digits = found[2:] if found[:2] in ("0x", "0X") else ""
            if not (0 < len(digits) <= 16 and all(c in _HEX for c in digits)):
                raise Malformed("bad json event", f"'logon_id' {_shown(found)} is not hex text")
            return int(digits, 16)
        value: int | None = self.identifier("logon_id", required=False)
        return value

    def host(self) -> str:
        return host_name(self.text("host"))

    def time(self) -> int:
        text = self.text("time")
        try:
            return parse_iso(text)
        except ValueError:
            raise Malformed(
                "bad json event", f"'time' {text[:64]!r} is not ISO 8601 in years 1-9999"
            ) from None


def sniff(line: str) -> bool:
    """True when ``line`` is a JSON object with a ``kind`` correlog knows."""
    if not line.lstrip().startswith("{"):
        return False
    try:
        data = _loads(line)
    except (ValueError, RecursionError):
        return False
    if not isinstance(data, dict):
        return False
    kind = data.get("kind")
    return type(kind) is str and (kind in _PROCESS_KINDS or kind in _HOST_KINDS)


class JsonLinesParser:
    """Parse one JSON line into an event."""

    multiline: ClassVar[bool] = False
    __slots__ = ()

    def __init__(self, tz: tzinfo, clock: Callable[[], int]) -> None:
        # Times are ISO 8601 with their zone, and always present.
        del tz, clock

    def __call__(self, line: str) -> ParseResult:
        """Parse one line (without its newline)."""
        try:
            data = _loads(line)
        except ValueError as exc:
            raise Malformed("bad json", str(exc)[:200]) from None
        except RecursionError:
            # The standard library's parser recurses once per nesting level.
            raise Malformed("bad json", "nested deeper than the parser's recursion limit") from None
        return event_from_json(data)


#: The format, as the reader registry lists it.
FORMAT: Final = LineFormat(NAME, sniff, JsonLinesParser)
