"""OSSEC / Wazuh Windows event lines, with or without a leading timestamp.

``2003 Mar 04 09:15:00 WinEvtLog: Security: AUDIT_SUCCESS(592): Security: SYSTEM: IIS01:
IIS01: A new process has been created: ...`` (one line).

After ``WinEvtLog:`` come, separated by ``": "``: the log, the type with the event id in
parentheses, the source, the record's user, its domain, the computer, and the rendered message
(which may itself hold ``": "``, so the line is split at most six times). The agent adds no time
of its own; the manager's archive prefixes ``YYYY Mon DD HH:MM:SS`` (possibly followed by
``(agent) ip->location``), read in ``tz``. A line with no timestamp gets the reader's clock
(wall-clock time when read, by default): so does one whose prefix holds no
such timestamp (a syslog relay's header has no year).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import tzinfo
from typing import ClassVar, Final

from .._errors import Malformed
from .._time import MONTHS, LocalTime
from ..decoders import EVENT_IDS, decode_message
from ._core import LineFormat, ParseResult

__all__ = ["FORMAT", "NAME", "OssecParser", "sniff"]

#: The format's name for :func:`correlog.read`.
NAME: Final = "ossec"
_MARK: Final = "WinEvtLog: "
_STAMP: Final = re.compile(r"(\d{4}) (\w{3}) +(\d{1,2}) (\d{1,2}):(\d{2}):(\d{2})\b")
_STAMP_LAST: Final = re.compile(_STAMP.pattern + r"\s*$").search
_STAMP_FIRST: Final = _STAMP.match
_TYPE_ID: Final = re.compile(r"\w+\((\d+)\)").fullmatch


def sniff(line: str) -> bool:
    """True when ``line`` looks like an OSSEC/Wazuh Windows event."""
    at = line.find(_MARK)
    if at < 0:
        parts: list[str] = []
    else:
        parts = line[at:].split(": ", 3)
    return len(parts) == 4 and _TYPE_ID(parts[2].strip()) is not None


class OssecParser:
    """Parse one OSSEC/Wazuh ``WinEvtLog:`` line into an event."""

    multiline: ClassVar[bool] = False
    __slots__ = ("_clock", "_last_ns", "_last_text", "_local")

    def __init__(self, tz: tzinfo, clock: Callable[[], int]) -> None:
        self._local = LocalTime(tz)
        self._clock = clock
        self._last_text: str | None = None
        self._last_ns = 0

    def __call__(self, line: str) -> ParseResult:
        """Parse one line (without its newline)."""
        at = line.find(_MARK)
        if at < 0:
            raise Malformed("not an ossec record", "no 'WinEvtLog: '")
        parts = line[at + len(_MARK) :].split(": ", 6)
        if len(parts) < 7:
            raise Malformed("not an ossec record", f"{len(parts)} ': '-separated fields, not 7")
        log, kind, _source, _user, _domain, host, message = parts
        m = _TYPE_ID(kind.strip())
        if m is None:
            raise Malformed("bad event id", f"{kind!r} is not TYPE(id)")
        event_id = int(m[1])
        if event_id not in EVENT_IDS or log.strip() != "Security":
            return None
        prefix = line[:at]
        if prefix == self._last_text:
            ns = self._last_ns
        else:
            ns = self._time(prefix)
        return decode_message(event_id, message, host=host, time=ns)

    def _time(self, prefix: str) -> int:
        stamp = _STAMP_LAST(prefix) or _STAMP_FIRST(prefix)
        if stamp is None:
            # The agent's own line, or a relay's header without a year: no event time at all.
            return self._clock()
        month = MONTHS.get(stamp[2])
        if month is None:
            raise Malformed("bad time", f"{stamp[2]!r} is not a month")
        ns = self._local(
            int(stamp[1]), month, int(stamp[3]), int(stamp[4]), int(stamp[5]), int(stamp[6])
        )
        self._last_text = prefix
        self._last_ns = ns
        return ns


#: The format, as the reader registry lists it.
FORMAT: Final = LineFormat(NAME, sniff, OssecParser)
