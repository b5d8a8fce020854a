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

Damage is never silent. After 64 bad chunks in a row the crate is not asked for more: one
``evtx reading stopped`` skip says the rest of the file is lost. A file shorter than its header's
chunk count (a truncated copy) ends with one ``truncated evtx`` skip naming the chunks lost.

The crate runs in a forked child process. A damaged file can make it loop without end, deaf to
Ctrl-C; a child can be stopped. The child hands over records as they are parsed; when it hands
over nothing for ``evtx_timeout`` seconds (:class:`~correlog.readers.Limits`) it is killed and
one ``evtx parser stuck`` skip says from which record on the file was not read. The child
shares the parent's open file (its offset too: the parent does not touch the file meanwhile).
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import time
from collections.abc import Iterator
from typing import IO, Any, Final

from .._errors import Malformed, UsageError
from .._events import Event
from ._core import Limits, RecordFormat
from ._winevent import decode_event, event_id_of, json_loads, record_of, utc_time, wanted

__all__ = ["FORMAT", "MAGIC", "NAME", "EvtxDecoder", "evtx_records", "sniff_bytes"]

#: The format's name for :func:`correlog.read`.
NAME: Final = "evtx"
#: The first bytes of every EVTX file.
MAGIC: Final = b"ElfFile\x00"
# Consecutive chunk errors after which the file is taken as not parseable any further.
_MAX_CHUNK_ERRORS: Final = 64
_HEADER_BLOCK: Final = 4096
_CHUNK_SIZE: Final = 1 << 16
_FLUSH_SECONDS: Final = 0.05
_FLUSH_BYTES: Final = 1 << 16


def _parsed(factory: Any, source: str | IO[bytes]) -> Iterator[tuple[str, str]]:
    """``(kind, text)`` for what the crate makes of ``source``, one item per record.

    ``R`` + the record's JSON, ``E`` + a chunk error, ``S`` when it stopped after too many bad
    chunks in a row, ``X`` when the file cannot be opened.
    """
    try:
        records = factory(source).records_json()
    except Exception as exc:  # whatever the parser says of a file it cannot open
        yield "X", f"{type(exc).__name__}: {exc}"
        return
    failures = 0
    while True:
        try:
            record = next(records)
        except StopIteration:
            return
        except Exception as exc:  # the crate's error for one chunk, whatever its type
            failures += 1
            yield "E", str(exc)
            if failures >= _MAX_CHUNK_ERRORS:
                yield "S", str(failures)
                return
            continue
        failures = 0
        yield "R", record["data"]


def _child(factory: Any, source: str | IO[bytes], out: int) -> None:
    """The child's work: :func:`_parsed`, one line per item into the pipe ``out``, then ``D``.

    A line is the kind's letter and the text on one line (JSON keeps newlines only between
    tokens, so they become spaces). Output is flushed at least every 50 ms, so a parser that
    then hangs has handed over what it had, and every 64 KiB, so that the parent decodes one
    batch while the child parses the next.
    """
    pending: list[bytes] = []

    def flush() -> None:
        data = b"".join(pending)
        pending.clear()
        while data:
            data = data[os.write(out, data) :]

    flushed = time.monotonic()
    size = 0
    for kind, text in _parsed(factory, source):
        line = kind.encode("ascii") + text.replace("\n", " ").encode("utf-8", "surrogatepass")
        pending.append(line + b"\n")
        size += len(line)
        now = time.monotonic()
        # A pipe's worth at a time: the parent decodes one batch while this parses the next.
        if size > _FLUSH_BYTES or now - flushed > _FLUSH_SECONDS:
            flush()
            flushed = now
            size = 0
    pending.append(b"D\n")
    flush()


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


def evtx_records(
    source: str | IO[bytes], limits: Limits | None = None, *, parser: Any = None
) -> Iterator[tuple[int, Any]]:
    """``(ordinal, record)`` for each record of an EVTX file (a path or a binary file object).

    ``ordinal`` is the record's 1-based position in the file (the crate gives no byte offsets);
    ``record`` is a dict whose ``data`` holds the record's JSON text, or a
    :class:`~correlog.ParseError` for damage (a bad chunk, a stop after 64 of them, a stuck
    parser, a truncated file; see the module docs). Raises :class:`~correlog.UsageError` when
    the ``evtx`` package is missing and :class:`~correlog.ParseError` when the input is not an
    EVTX file at all. ``parser`` replaces the crate's parser class (for tests).
    """
    limits = limits or Limits()
    factory = _parser_class() if parser is None else parser
    lost = _truncation(source)
    ordinal = 0
    with _Child(factory, source, limits.evtx_timeout) as child:
        for kind, text in child.lines():
            if kind == "R":
                ordinal += 1
                yield ordinal, {"data": text}
            elif kind == "E":
                ordinal += 1
                yield ordinal, Malformed("bad evtx chunk", text)
            elif kind == "S":
                ordinal += 1
                yield (
                    ordinal,
                    Malformed(
                        "evtx reading stopped",
                        f"{text} chunks in a row could not be parsed; the rest of the file is lost",
                    ),
                )
            elif kind == "X":
                raise Malformed("not an evtx file", text)
            elif kind == "stuck":
                ordinal += 1
                yield (
                    ordinal,
                    Malformed(
                        "evtx parser stuck",
                        f"the parser handed over nothing for {limits.evtx_timeout:g} s after "
                        f"record {ordinal - 1}; it was stopped and the rest of the file is lost",
                    ),
                )
            elif kind == "died":
                ordinal += 1
                yield (
                    ordinal,
                    Malformed(
                        "evtx parser failed",
                        f"after record {ordinal - 1} ({text}); the rest of the file is lost",
                    ),
                )
    if lost is not None:
        yield ordinal + 1, Malformed("truncated evtx", lost)


def _truncation(source: str | IO[bytes]) -> str | None:
    """What a file shorter than its header's chunk count lost (None when it is whole)."""
    if isinstance(source, str):
        with open(source, "rb") as file:
            return _truncation(file)
    at = source.tell()
    source.seek(0, 2)
    size = source.tell()
    source.seek(0)
    header = source.read(_HEADER_BLOCK)
    source.seek(at)
    if len(header) < 44 or not header.startswith(MAGIC):
        return None
    chunks = int.from_bytes(header[42:44], "little")
    whole = max(size - _HEADER_BLOCK, 0) // _CHUNK_SIZE
    if whole >= chunks:
        return None
    return (
        f"the file is {size} bytes, its header counts {chunks} chunks of 64 KiB: chunks "
        f"{whole + 1}-{chunks} are missing or cut short, and their records are lost"
    )


class _Child:
    """The crate's parser in a forked child, read with a deadline (see the module docs).

    Where there is no ``fork`` (Windows) the parser runs in this process, without a deadline.
    """

    def __init__(self, factory: Any, source: str | IO[bytes], timeout: float) -> None:
        self._timeout = timeout
        self._status: int | None = None
        self._in_process: Iterator[tuple[str, str]] | None = None
        if not hasattr(os, "fork"):  # pragma: no cover (Windows)
            self._in_process = _parsed(factory, source)
            self._status = 0
            return
        read_end, write_end = os.pipe()
        self._pid = os.fork()
        if self._pid == 0:  # pragma: no cover (the child: measured by the parent's tests)
            status = 1
            try:
                os.close(read_end)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                _child(factory, source, write_end)
                status = 0
            finally:
                os._exit(status)
        os.close(write_end)
        self._fd = read_end

    def __enter__(self) -> _Child:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._in_process is not None:  # pragma: no cover (Windows)
            return
        if self._status is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._pid, signal.SIGKILL)
            self._reap()
        os.close(self._fd)

    def _reap(self) -> int:
        if self._status is None:
            _, status = os.waitpid(self._pid, 0)
            self._status = os.waitstatus_to_exitcode(status)
        return self._status

    def lines(self) -> Iterator[tuple[str, str]]:
        """``(kind, text)`` per line of the child; ``stuck`` or ``died`` when it stops short."""
        if self._in_process is not None:  # pragma: no cover (Windows)
            yield from self._in_process
            return
        fd = self._fd
        pending = b""
        while True:
            deadline = time.monotonic() + self._timeout
            ready: list[int] = []
            while not ready:
                left = deadline - time.monotonic()
                if left <= 0:
                    yield "stuck", ""
                    return
                ready, _, _ = select.select([fd], [], [], left)
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                code = self._reap()
                yield "died", f"exit status {code}" if code >= 0 else f"signal {-code}"
                return
            parts = (pending + chunk).split(b"\n")
            pending = parts.pop()
            for part in parts:
                kind = part[:1].decode("ascii", "replace")
                if kind == "D":
                    return
                yield kind, part[1:].decode("utf-8", "surrogatepass")


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


def _records(file: IO[bytes], limits: Limits) -> Iterator[tuple[int, Any]]:
    return evtx_records(file, limits)


#: The format, as the reader registry lists it.
FORMAT: Final = RecordFormat(NAME, True, None, sniff_bytes, _records, EvtxDecoder)
