"""NXLog JSON lines (``im_msvistalog`` + ``to_json()``), and Logstash-flattened event JSON.

One JSON object per line with the event's ``EventData`` fields flattened to the top level beside
NXLog's own keys::

    {"EventTime": "2020-08-06 01:21:18", "Hostname": "MORDORDC.theshire.local",
     "EventID": 4688, "RecordNumber": 297454, "Channel": "Security",
     "SourceName": "Microsoft-Windows-Security-Auditing", "NewProcessId": "0x1684", ...}

``EventTime`` is the host's *local* time to the second, read in ``tz`` (UTC unless told); when a
line has none, ``TimeCreated`` or ``@timestamp`` (ISO 8601 with a zone, as Logstash writes
them), then ``EventReceivedTime`` (local), is taken instead. The log is ``Channel``, else told by
``SourceName``. A legacy event (592/593/600...) from ``im_mseventlog`` has only its rendered
``Message``, which the legacy message decoders read.

The hot path: most lines of a real feed are events correlog does not want (logons, network,
registry). The event id is found with one regular-expression search before the line is parsed,
and a line whose id no decoder knows is ignored unparsed. A ``"EventID":`` key can only be
matched as a key: inside a JSON string its quotes are escaped. The price is that a damaged line
whose id is uninteresting counts as ignored, not skipped.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import tzinfo
from typing import Any, ClassVar, Final

from .._errors import Malformed
from .._memo import Memo
from .._time import LocalTime
from ..decoders import (
    MESSAGE_DECODERS,
    STRING_DECODERS,
    SYSMON_DECODERS,
    VISTA_DECODERS,
    FieldsDecoder,
    MessageDecoder,
    fields_decoders,
)
from ..decoders._common import MAX_ID
from ._core import LineFormat, ParseResult
from ._winevent import event_id_of, json_loads, json_object, record_of, utc_time

__all__ = ["FORMAT", "NAME", "NxlogParser", "sniff"]

#: The format's name for :func:`correlog.read`.
NAME: Final = "nxlog"
_ID: Final = re.compile(r'"EventID"\s*:\s*"?(\d+)').search
_WANTED: Final = frozenset(
    str(event_id) for event_id in (*VISTA_DECODERS, *SYSMON_DECODERS, *STRING_DECODERS)
)


def sniff(line: str) -> bool:
    """True for a JSON object with a Windows ``EventID`` and NXLog's ``Hostname`` or ``Channel``."""
    data = json_object(line)
    return data is not None and (
        "EventID" in data and ("Hostname" in data or "Channel" in data or "SourceName" in data)
    )


#: How a line is decoded: by a named-fields decoder, or (a legacy event) by a message decoder.
_Route = tuple["FieldsDecoder | None", "MessageDecoder | None"]


def _route(key: tuple[int, Any, Any]) -> _Route | None:
    """How events of this id, ``Channel`` and ``SourceName`` decode; None: they are ignored."""
    event_id, channel, provider = key
    table = fields_decoders(channel, provider)
    decode = None if table is None else table.get(event_id)
    if decode is not None:
        return decode, None
    # A legacy Security event: Windows 2003 and older name the log "Security" and the source
    # "Security".
    if event_id in MESSAGE_DECODERS and "Security" in (channel, provider):
        return None, MESSAGE_DECODERS[event_id]
    return None


# (event id, channel, provider) -> route: a feed has a handful of shapes, so a line's route is
# one lookup. Values that are not text name no log (whatever they are), so equal keys of other
# types (``1`` and ``1.0``) route alike; a key that cannot be hashed (a list) is a bad line.
_ROUTES: Final[Memo[tuple[int, Any, Any], _Route | None]] = Memo(_route, 1024)


class NxlogParser:
    """Parse one NXLog JSON line into an event (see the module docs)."""

    multiline: ClassVar[bool] = False
    __slots__ = ("_errors", "_last_ns", "_last_text", "_loads", "_local")

    def __init__(self, tz: tzinfo, clock: Callable[[], int]) -> None:
        del clock  # every line carries a time
        self._local = LocalTime(tz)
        self._loads, self._errors = json_loads()
        self._last_text: str | None = None
        self._last_ns = 0

    def __call__(self, line: str) -> ParseResult:
        """Parse one line (without its newline)."""
        found = _ID(line)
        if found is not None and found[1] not in _WANTED:
            return None
        try:
            data = self._loads(line)
        except self._errors as exc:
            raise Malformed("bad json", str(exc)) from None
        if type(data) is not dict:
            raise Malformed("bad json event", f"a JSON object is needed, not {type(data).__name__}")
        get = data.get
        event_id = get("EventID")
        if type(event_id) is not int:
            event_id = event_id_of(event_id)
        route = _ROUTES[(event_id, get("Channel"), get("SourceName"))]
        if route is None:
            return None
        record = get("RecordNumber")
        if type(record) is not int or not 0 <= record < MAX_ID:
            record = record_of(record)
        host = get("Hostname")
        if type(host) is not str:
            raise Malformed("missing host", "the line has no Hostname", record=record)
        text = get("EventTime")
        if text is not None and text == self._last_text:
            ns = self._last_ns
        else:
            ns = self._time(data, record)
        decode, legacy = route
        try:
            if legacy is not None:
                message = get("Message")
                if type(message) is not str:
                    raise Malformed("unreadable message", f"event {event_id} has no Message")
                return legacy(message, host, ns, record)
            assert decode is not None
            return decode(data, host, ns, record)
        except Malformed as exc:
            raise exc.with_record(record) from None

    def _time(self, data: dict[str, Any], record: int | None) -> int:
        # The caller has compared EventTime with the last one converted.
        text = data.get("EventTime")
        if text is None:
            iso = data.get("TimeCreated") or data.get("@timestamp")
            if iso is not None:
                return utc_time(iso, record)
            text = data.get("EventReceivedTime")
        if text is not None and text == self._last_text:
            return self._last_ns
        if type(text) is not str:
            raise Malformed("bad time", "the line has no EventTime", record=record)
        if len(text) == 19 and text[10] == " ":
            try:
                ns = self._local(
                    int(text[0:4]),
                    int(text[5:7]),
                    int(text[8:10]),
                    int(text[11:13]),
                    int(text[14:16]),
                    int(text[17:19]),
                )
            except Malformed as exc:
                raise exc.with_record(record) from None
            except ValueError:
                raise Malformed("bad time", f"{text!r} is not a time", record=record) from None
        else:
            # NXLog may be told to print ISO 8601 with a zone instead.
            ns = utc_time(text, record)
        self._last_text = text
        self._last_ns = ns
        return ns


#: The format, as the reader registry lists it.
FORMAT: Final = LineFormat(NAME, sniff, NxlogParser)
