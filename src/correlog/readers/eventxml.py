"""Windows Event XML: wevtutil ``qe /f:xml``, ``Get-WinEvent | % ToXml()``, WEF subscriptions.

The input is one or many ``<Event>`` elements, with or without an ``<Events>`` wrapper (wevtutil
writes bare elements one after another, which is not a well-formed document), in the event
namespace or none, UTF-8 or UTF-16 with a byte-order mark. It is streamed through
:func:`xml.etree.ElementTree.iterparse` inside a wrapper element of our own, so every form is one
document; each ``<Event>`` is decoded when it ends and then removed from its parent, so memory
stays flat however long the input.

Offsets in errors are the 1-based ordinal of the ``<Event>`` in the input (ElementTree gives no
line numbers for elements). A document that stops being well-formed XML cannot be read past the
damage: in ``errors="skip"`` mode that is counted once (``bad xml``) and the input ends there.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Final

from .._errors import Malformed
from .._events import Event
from ._core import Limits, RecordFormat
from ._winevent import decode_event, record_of, utc_time, wanted

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

__all__ = ["FORMAT", "NAME", "event_from_element", "sniff", "xml_events"]

#: The format's name for :func:`correlog.read`.
NAME: Final = "xml"
# Matched at the start of the first non-blank chunk only (never searched): a search would
# retry a leading run of whitespace from each of its characters.
_DECLARATION: Final = re.compile(r"<\?xml[^>]*\?>").match
_WRAPPER: Final = "correlog-input"
_CHUNK: Final = 1 << 16


def sniff(line: str) -> bool:
    """True when ``line`` (the first non-blank one) opens Event XML."""
    text = line.lstrip("\ufeff \t")
    return text.startswith(("<?xml", "<Events", "<Event ", "<Event>", "<!--"))


class _Wrapped:
    """A file-like view of text chunks inside ``<correlog-input>``, minus XML declarations."""

    __slots__ = ("_chunks", "_pending", "_state")

    def __init__(self, chunks: Iterable[str]) -> None:
        self._chunks = iter(chunks)
        self._pending = f"<{_WRAPPER}>"
        self._state = 0  # 0: the declaration may still come; 1: body; 2: closed

    def read(self, size: int = -1) -> str:
        # Sources may hand over one line at a time: gather about ``size`` characters per call,
        # since each call is one feed into expat.
        want = size if size > 0 else _CHUNK
        parts = []
        total = 0
        if self._pending:
            parts.append(self._pending)
            total = len(self._pending)
            self._pending = ""
        for chunk in self._chunks:
            if self._state == 0:
                stripped = chunk.lstrip("\ufeff \t\r\n")
                if not stripped:
                    continue
                self._state = 1
                declaration = _DECLARATION(stripped)
                text = stripped if declaration is None else stripped[declaration.end() :]
            else:
                text = chunk
            parts.append(text)
            total += len(text)
            if total >= want:
                return "".join(parts)
        if self._state < 2:
            self._state = 2
            parts.append(f"</{_WRAPPER}>")
        return "".join(parts)


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def xml_events(chunks: Iterable[str]) -> Iterator[tuple[int, Any]]:
    """``(ordinal, element)`` for each ``<Event>`` in the text ``chunks``; see the module docs.

    A well-formedness error is yielded once as ``(ordinal, ParseError)`` and ends the stream.
    The element is only valid until the next one is asked for.
    """
    # Imported here: detecting a text input's format imports this module for its sniff.
    from xml.etree.ElementTree import ParseError as XmlError
    from xml.etree.ElementTree import iterparse

    ordinal = 0
    stack: list[Element] = []
    try:
        for action, element in iterparse(_Wrapped(chunks), events=("start", "end")):
            if action == "start":
                stack.append(element)
                continue
            stack.pop()
            if _local(element.tag) != "Event":
                continue
            ordinal += 1
            yield ordinal, element
            if stack:
                stack[-1].remove(element)
    except XmlError as exc:
        line, column = getattr(exc, "position", (0, 0))
        yield ordinal + 1, Malformed("bad xml", f"{exc} (line {line}, column {column})")
    except Malformed as exc:
        # The text under the document broke off (a line past its bound, a broken stream).
        yield ordinal + 1, exc


def event_from_element(event: Element) -> Event | None:
    """Decode one ``<Event>`` element; None when it is not a process or host event."""
    event_id: int | None = None
    channel = provider = host = when = None
    record: int | None = None
    fields: dict[str, str] | list[str] = {}
    for part in event:
        name = _local(part.tag)
        if name == "System":
            for item in part:
                tag = _local(item.tag)
                if tag == "EventID":
                    text = (item.text or "").strip()
                    if not text.isdecimal():
                        raise Malformed("bad event id", repr(text))
                    event_id = int(text)
                elif tag == "Channel":
                    channel = item.text
                elif tag == "Provider":
                    provider = item.get("Name")
                elif tag == "Computer":
                    host = item.text
                elif tag == "TimeCreated":
                    when = item.get("SystemTime")
                elif tag == "EventRecordID":
                    record = record_of((item.text or "").strip() or None)
        elif name == "EventData":
            named: dict[str, str] = {}
            unnamed: list[str] = []
            for data in part:
                if _local(data.tag) != "Data":
                    continue
                key = data.get("Name")
                if key is None:
                    unnamed.append(data.text or "")
                else:
                    named[key] = data.text or ""
            fields = named if named or not unnamed else unnamed
    if event_id is None:
        raise Malformed("bad event id", "the event has no System/EventID")
    if not wanted(event_id, channel, provider):
        return None
    if host is None:
        raise Malformed("missing host", "the event names no Computer", record=record)
    try:
        return decode_event(
            event_id, channel, provider, fields, host, utc_time(when, record), record
        )
    except Malformed as exc:
        raise exc.with_record(record) from None


def _decoder() -> Callable[[Element], Event | None]:
    return event_from_element


#: The format, as the reader registry lists it.
def _records(chunks: Iterable[str], limits: Limits) -> Iterator[tuple[int, Any]]:
    del limits  # a line's bound applies to the lines the chunks are made of
    return xml_events(chunks)


#: The format, as the reader registry lists it.
FORMAT: Final = RecordFormat(NAME, False, sniff, None, _records, _decoder)
