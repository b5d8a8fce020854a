"""What the Vista+ readers share: routing an event to its decoder, event times, JSON parsing.

EVTX, Event XML, NXLog, Winlogbeat and ECS all describe one Windows event the same way once
unpacked: an event id, the log (``Channel``) and provider it came from, the computer, a time, a
record number and named fields. :func:`decode_event` takes those and picks the decoder: the
Vista+ Security table, the Sysmon table, or (for a legacy event in a modern container, whose
fields have no names) the legacy insertion-string decoders.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .._errors import Malformed
from .._events import Event
from .._time import utc_time
from ..decoders import STRING_DECODERS, VISTA_DECODERS, fields_decoders
from ..decoders._common import MAX_ID, MAX_ID_CHARS, bounded_id

__all__ = ["decode_event", "event_id_of", "json_loads", "record_of", "utc_time", "wanted"]


def decode_event(
    event_id: int,
    channel: str | None,
    provider: str | None,
    fields: Mapping[str, Any] | Sequence[str],
    host: str,
    time: int,
    record: int | None,
) -> Event | None:
    """The event these parts describe, or None when no decoder knows it (not an error)."""
    table = fields_decoders(channel, provider)
    if table is None:
        return None
    decode = table.get(event_id)
    if decode is not None:
        if not isinstance(fields, Mapping):
            raise Malformed("unnamed fields", f"event {event_id} has no field names")
        return decode(fields, host, time, record)
    if table is VISTA_DECODERS:
        legacy = STRING_DECODERS.get(event_id)
        if legacy is not None:
            strings = list(fields.values()) if isinstance(fields, Mapping) else fields
            return legacy([s if type(s) is str else str(s) for s in strings], host, time, record)
    return None


def wanted(event_id: int, channel: str | None, provider: str | None) -> bool:
    """True when :func:`decode_event` would decode this event id from this log (cheap check)."""
    table = fields_decoders(channel, provider)
    if table is None:
        return False
    return event_id in table or (table is VISTA_DECODERS and event_id in STRING_DECODERS)


def event_id_of(raw: Any) -> int:
    """An event id as JSON carries it: an integer, decimal text, or ``{"#text": ...}``."""
    if type(raw) is int:
        return raw
    if type(raw) is dict:
        raw = raw.get("#text")
        if type(raw) is int:
            return raw
    if type(raw) is str and raw.isdecimal() and len(raw) <= MAX_ID_CHARS:
        return int(raw)
    raise Malformed("bad event id", repr(raw)[:40])


def record_of(raw: Any) -> int | None:
    """A record number (EventRecordID, RecordNumber, record_id): integer or decimal text."""
    if raw is None:
        return None
    if type(raw) is int and 0 <= raw < MAX_ID:
        return raw
    if type(raw) is str and raw.isdecimal() and len(raw) <= MAX_ID_CHARS:
        return bounded_id(int(raw), "record number", "bad record number")
    raise Malformed("bad record number", f"{str(raw)[:40]!r} is not a number below 2**64")


def _pick_loads() -> tuple[Callable[[str | bytes], Any], tuple[type[Exception], ...]]:
    """The fastest JSON parser installed (the ``fast`` extra), imported on first use."""
    try:
        import orjson
    except ImportError:
        pass
    else:
        return orjson.loads, (ValueError, RecursionError)
    try:
        import msgspec
    except ImportError:
        pass
    else:
        decoder = msgspec.json.Decoder()
        return decoder.decode, (ValueError, RecursionError, msgspec.DecodeError)
    # The standard library's parser recurses once per nesting level: a line nested deeper than
    # the interpreter's recursion limit is bad JSON like any other.
    return json.loads, (ValueError, RecursionError)


_LOADS: list[tuple[Callable[[str | bytes], Any], tuple[type[Exception], ...]]] = []


def json_loads() -> tuple[Callable[[str | bytes], Any], tuple[type[Exception], ...]]:
    """``(loads, errors)``: the JSON parser to use and the exceptions it raises on bad input."""
    if not _LOADS:
        _LOADS.append(_pick_loads())
    return _LOADS[0]


def json_object(line: str) -> dict[str, Any] | None:
    """The JSON object on ``line`` when there is one (format sniffing; not the hot path)."""
    if not line.lstrip().startswith("{"):
        return None
    try:
        data = json.loads(line)
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None
