"""Microsoft LogParser ``-i:EVT -o:CSV`` output: one CSV record per event, with a header row.

``SELECT *`` gives the columns EventLog, RecordNumber, TimeGenerated, TimeWritten, EventID,
EventType, EventTypeName, EventCategory, EventCategoryName, SourceName, Strings, ComputerName,
SID, Message, Data. The header row, when present, says which column is which (a query may select
fewer, in another order); without one, ``SELECT *`` order is assumed. TimeGenerated
(``2003-03-04 09:15:00``) is in the local time of the machine that ran LogParser, read in
``tz``.

``Strings`` keeps the record's insertion strings joined by ``|`` (LogParser's ``-stringsSep``
default), which is exact; the rendered ``Message`` is used only when ``Strings`` is empty or not
selected. ``EventLog`` may be a file path rather than a log name, so the Security log is told by
``SourceName``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import tzinfo
from typing import ClassVar, Final

from .._errors import Malformed
from .._time import LocalTime
from ..decoders import EVENT_IDS, decode_message, decode_strings
from ._core import HEADER, LineFormat, ParseResult, csv_row

__all__ = ["COLUMNS", "FORMAT", "NAME", "LogParserParser", "sniff"]

#: The format's name for :func:`correlog.read`.
NAME: Final = "logparser"
#: The columns of ``SELECT *``, in order: assumed until a header row says otherwise.
COLUMNS: Final = (
    "EventLog",
    "RecordNumber",
    "TimeGenerated",
    "TimeWritten",
    "EventID",
    "EventType",
    "EventTypeName",
    "EventCategory",
    "EventCategoryName",
    "SourceName",
    "Strings",
    "ComputerName",
    "SID",
    "Message",
    "Data",
)
_REQUIRED: Final = ("EventID", "TimeGenerated", "ComputerName")


def sniff(line: str) -> bool:
    """True for a LogParser EVT header row, or a ``SELECT *`` data row."""
    try:
        row = csv_row(line)
    except Malformed:
        return False
    if "EventID" in row and "TimeGenerated" in row:
        return True
    return (
        len(row) >= len(COLUMNS) - 1
        and row[1].isdecimal()
        and row[4].isdecimal()
        and _looks_like_time(row[2])
    )


def _looks_like_time(text: str) -> bool:
    return len(text) >= 19 and text[4] == "-" and text[7] == "-" and text[13] == ":"


class LogParserParser:
    """Parse one LogParser CSV record into an event; a header row re-maps the columns."""

    multiline: ClassVar[bool] = True
    __slots__ = (
        "_c_computer",
        "_c_id",
        "_c_message",
        "_c_record",
        "_c_source",
        "_c_strings",
        "_c_time",
        "_last_ns",
        "_last_text",
        "_local",
        "_width",
    )

    def __init__(self, tz: tzinfo, clock: Callable[[], int]) -> None:
        del clock  # every record carries its time
        self._local = LocalTime(tz)
        self._last_text: str | None = None
        self._last_ns = 0
        self._use_columns(COLUMNS)

    def _use_columns(self, names: Sequence[str]) -> None:
        index = {name: i for i, name in enumerate(names)}
        missing = [name for name in _REQUIRED if name not in index]
        if "Strings" not in index and "Message" not in index:
            missing.append("Strings or Message")
        if missing:
            raise Malformed("bad header", f"LogParser header lacks {', '.join(missing)}")
        self._c_id = index["EventID"]
        self._c_time = index["TimeGenerated"]
        self._c_computer = index["ComputerName"]
        self._c_record = index.get("RecordNumber")
        self._c_source = index.get("SourceName")
        self._c_strings = index.get("Strings")
        self._c_message = index.get("Message")
        self._width = max(index.values()) + 1

    def __call__(self, line: str) -> ParseResult:
        """Parse one CSV record (its lines joined)."""
        row = csv_row(line)
        if len(row) < self._width:
            if "EventID" in row:
                self._use_columns(row)
                return HEADER
            raise Malformed("too few fields", f"{len(row)} CSV fields, not {self._width}")
        id_text = row[self._c_id].strip()
        if not id_text.isdecimal():
            if "EventID" in row:
                self._use_columns(row)
                return HEADER
            raise Malformed("bad event id", repr(id_text))
        event_id = int(id_text)
        c_source = self._c_source
        if event_id not in EVENT_IDS or (c_source is not None and row[c_source] != "Security"):
            return None
        record = None
        if self._c_record is not None:
            record_text = row[self._c_record].strip()
            if record_text:
                if not record_text.isdecimal() or len(record_text) >= 20:
                    raise Malformed("bad record number", repr(record_text[:40]))
                record = int(record_text)
        ns = self._time(row[self._c_time].strip(), record)
        host = row[self._c_computer]
        strings = None if self._c_strings is None else row[self._c_strings]
        if strings or self._c_message is None:
            return decode_strings(
                event_id,
                strings.split("|") if strings else (),
                host=host,
                time=ns,
                record_number=record,
            )
        return decode_message(
            event_id, row[self._c_message], host=host, time=ns, record_number=record
        )

    def _time(self, text: str, record: int | None) -> int:
        if text == self._last_text:
            return self._last_ns
        ns = self._parse_time(text)
        if ns is None:
            raise Malformed("bad time", f"{text!r} is not 'yyyy-MM-dd hh:mm:ss'", record=record)
        self._last_text = text
        self._last_ns = ns
        return ns

    def _parse_time(self, text: str) -> int | None:
        # yyyy-MM-dd hh:mm:ss, with a fraction when LogParser was told to print one.
        if not (_looks_like_time(text) and text[10] in " T" and text[16] == ":"):
            return None
        fraction = text[19:]
        if fraction and not (
            fraction[0] == "." and fraction[1:].isdecimal() and len(fraction) <= 10
        ):
            return None
        try:
            ns = self._local(
                int(text[0:4]),
                int(text[5:7]),
                int(text[8:10]),
                int(text[11:13]),
                int(text[14:16]),
                int(text[17:19]),
            )
        except ValueError:
            return None
        return ns + (int(fraction[1:].ljust(9, "0")) if fraction else 0)


#: The format, as the reader registry lists it.
FORMAT: Final = LineFormat(NAME, sniff, LogParserParser)
