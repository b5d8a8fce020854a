"""EVTX, the Vista+ binary event log, through the ``evtx`` package (the ``evtx`` extra).

The ``evtx`` package (Rust, MIT) parses the file's binary XML; it renders each record either as
XML text or as JSON text. JSON is used here because decoding it is what costs: on this project's
benchmark machine ``records_json()`` plus a JSON parse ran 210k records/s with orjson and 83k/s
with the standard library, against 37k/s for ``records()`` plus ElementTree, although the
crate itself renders XML slightly faster (290k against 250k records/s).

Each record is identified by its ``System/EventRecordID``, never by the record header's number:
an exported ``.evtx`` renumbers the headers from 1 while EventRecordID keeps the log's own
numbering, which is what the correlator's epochs rely on. The event time is
``System/TimeCreated/@SystemTime`` as the crate renders it (to the microsecond; a source that
writes all seven digits of the 100 ns FILETIME, such as wevtutil's XML, keeps them).

A chunk the crate cannot parse is counted as one skipped record (``bad evtx chunk``) and reading
goes on with the next chunk; its records are lost, and the error message names their ids.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any, Final

from .._errors import Malformed, UsageError
from .._events import Event
from ._core import RecordFormat
from ._winevent import decode_event, event_id_of, json_loads, record_of, utc_time, wanted

__all__ = ["FORMAT", "MAGIC", "NAME", "EvtxDecoder", "evtx_records", "sniff_bytes"]

#: The format's name for :func:`correlog.read`.
NAME: Final = "evtx"
#: The first bytes of every EVTX file.
MAGIC: Final = b"ElfFile\x00"
# Consecutive chunk errors after which the file is taken as not parseable any further.
_MAX_CHUNK_ERRORS: Final = 64


def sniff_bytes(head: bytes) -> bool:
    """True when ``head`` (the first bytes of an input) starts an EVTX file."""
    return head.startswith(MAGIC)


def _parser_class() -> Any:
    try:
        from evtx import PyEvtxParser
    except ImportError:
        raise UsageError(
            "reading EVTX needs the evtx package: pip install 'correlog[evtx]'"
        ) from None
    return PyEvtxParser


def evtx_records(source: str | IO[bytes]) -> Iterator[tuple[int, Any]]:
    """``(ordinal, record)`` for each record of an EVTX file (a path or a binary file object).

    ``ordinal`` is the record's 1-based position in the file (the crate gives no byte offsets);
    ``record`` is the crate's dict (``data`` holds the JSON text), or a
    :class:`~correlog.ParseError` for a chunk that could not be parsed. Raises
    :class:`~correlog.UsageError` when the ``evtx`` package is missing and
    :class:`~correlog.ParseError` when the input is not an EVTX file at all.
    """
    parser_class = _parser_class()
    try:
        parser = parser_class(source)
    except (OSError, RuntimeError, ValueError) as exc:
        raise Malformed("not an evtx file", str(exc)) from None
    records = parser.records_json()
    ordinal = 0
    failures = 0
    while True:
        try:
            record = next(records)
        except StopIteration:
            return
        except (RuntimeError, OSError, ValueError) as exc:
            ordinal += 1
            failures += 1
            yield ordinal, Malformed("bad evtx chunk", str(exc))
            if failures >= _MAX_CHUNK_ERRORS:
                return
            continue
        failures = 0
        ordinal += 1
        yield ordinal, record


class EvtxDecoder:
    """Decode one record from :func:`evtx_records` into an event (None for other events)."""

    __slots__ = ("_errors", "_loads")

    def __init__(self) -> None:
        self._loads, self._errors = json_loads()

    def __call__(self, record: dict[str, Any]) -> Event | None:
        """Decode one record (the crate's dict with its JSON text under ``data``)."""
        try:
            event = self._loads(record["data"])["Event"]
        except self._errors as exc:
            raise Malformed("bad json", str(exc)) from None
        system = event["System"]
        event_id = event_id_of(system["EventID"])
        channel = system.get("Channel")
        provider = system.get("Provider")
        provider_name = provider["#attributes"].get("Name") if type(provider) is dict else None
        if not wanted(event_id, channel, provider_name):
            return None
        record_number = record_of(system.get("EventRecordID"))
        created = system.get("TimeCreated")
        when = created["#attributes"]["SystemTime"] if type(created) is dict else None
        fields = event.get("EventData")
        if type(fields) is not dict:
            fields = {}
        elif "Data" in fields and len(fields) == 1:
            fields = _unnamed(fields["Data"])
        host = system.get("Computer")
        if type(host) is not str:
            raise Malformed("missing host", "the record names no Computer", record=record_number)
        try:
            return decode_event(
                event_id,
                channel,
                provider_name,
                fields,
                host,
                utc_time(when, record_number),
                record_number,
            )
        except Malformed as exc:
            raise exc.with_record(record_number) from None


def _unnamed(data: Any) -> Any:
    """EventData with unnamed ``<Data>`` items (a legacy event): the list of their texts."""
    if type(data) is dict:
        data = data.get("#text")
    if type(data) is list:
        return ["" if item is None else str(item) for item in data]
    if data is None:
        return []
    return [str(data)]


#: The format, as the reader registry lists it.
FORMAT: Final = RecordFormat(NAME, True, None, sniff_bytes, evtx_records, EvtxDecoder)
