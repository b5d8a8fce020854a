"""``read()``: pick or detect a format, open the input, and hand back an :class:`EventReader`.

Detection works on content, never on names. A byte input is looked at first: gzip and zip are
opened and looked into (a zip's members are read one after another, each detected on its own);
EVTX and ``.evt`` are told by their magic bytes. Anything else is text, decoded line by line,
and its first non-blank lines are offered to each text format's ``sniff`` in
:data:`DETECTION_ORDER`.
"""

from __future__ import annotations

import datetime as _dt
import gzip
import io
import shutil
import tempfile
import time as _time
import zipfile
from collections.abc import Callable, Iterator
from itertools import chain
from typing import IO, ClassVar, Final, NamedTuple

from .._errors import Malformed, ParseError, UsageError
from .._events import Event
from .._time import resolve_tz
from . import (
    ecs,
    eventreporter,
    eventxml,
    evt,
    evtviewer,
    evtx,
    jsonl,
    logparser,
    nxlog,
    ossec,
    snare,
    winlogbeat,
)
from ._core import (
    MAX_KEPT_ERRORS,
    EventReader,
    Format,
    LineFormat,
    ParseResult,
    ReadStats,
    RecordFormat,
    drive,
    drive_units,
)
from ._sources import Source, _detach, binary_lines, open_input

__all__ = ["BINARY_FORMATS", "DETECTION_ORDER", "FORMATS", "REGISTRY", "read"]


#: Every format, each declared once in its own module, in the order ``format="auto"`` tries
#: them: magic bytes first, then the most distinctive text marks, so a message that happens to
#: quote another transport's mark is still read as what it is.
REGISTRY: Final[tuple[Format, ...]] = (
    evtx.FORMAT,
    evt.FORMAT,
    jsonl.FORMAT,
    winlogbeat.FORMAT,
    ecs.FORMAT,
    nxlog.FORMAT,
    eventxml.FORMAT,
    snare.FORMAT,
    eventreporter.FORMAT,
    ossec.FORMAT,
    logparser.FORMAT,
    evtviewer.FORMAT,
)
_BY_NAME: Final[dict[str, Format]] = {fmt.name: fmt for fmt in REGISTRY}
#: The format names :func:`read` accepts (besides ``"auto"``), as the CLI's ``--format`` offers.
FORMATS: Final = tuple(_BY_NAME)
#: The order ``format="auto"`` tries them in (the registry's order).
DETECTION_ORDER: Final = FORMATS
#: Formats told by their first bytes; they need a path or a binary file, not lines.
BINARY_FORMATS: Final = tuple(
    fmt.name for fmt in REGISTRY if isinstance(fmt, RecordFormat) and fmt.binary
)
_BINARY: Final = tuple(
    fmt for fmt in REGISTRY if isinstance(fmt, RecordFormat) and fmt.sniff_bytes is not None
)
_TEXT_SNIFFERS: Final = tuple((fmt.name, fmt.sniff) for fmt in REGISTRY if fmt.sniff is not None)
_SNIFF_LINES: Final = 10
_SNIFF_MAX_BUFFERED: Final = 1000
_GZIP: Final = b"\x1f\x8b"
_ZIP: Final = b"PK\x03\x04"
_MAX_NESTING: Final = 4


class _Options(NamedTuple):
    format: str
    zone: _dt.tzinfo
    clock: Callable[[], int]
    strict: bool


def read(
    source: Source,
    format: str = "auto",
    *,
    errors: str = "strict",
    tz: _dt.tzinfo | str | None = None,
    name: str | None = None,
    clock: Callable[[], int] | None = None,
) -> EventReader:
    """Read normalized events from a Windows event log transport, lazily.

    ``source``: a path, ``"-"`` for standard input, a text or binary file object, or an iterable
    of lines (``str`` or ``bytes``). ``format``: one of :data:`FORMATS`, or ``"auto"`` to detect
    it from the content (this reads the first bytes or lines now; on standard input it waits for
    them). gzip and zip inputs are decompressed transparently, whatever the format. The binary
    formats (``evtx``, ``evt``) need a path or a binary file; standard input is spooled to a
    temporary file for them. ``errors``: ``"strict"`` raises :class:`~correlog.ParseError` at the
    first record that cannot be read, naming the source, where (1-based line number for text,
    byte offset for ``.evt``, record ordinal for EVTX and XML) and the record number when known;
    ``"skip"`` counts it in :attr:`EventReader.stats` and goes on. ``tz``: the zone of source
    times that carry none (a ``tzinfo``, an IANA name such as ``"Europe/Berlin"``, or
    ``"+01:00"``; UTC by default). ``name``: what to call the source in errors. ``clock``:
    nanoseconds since the epoch for the rare line that carries no time at all (an OSSEC agent
    line); the wall clock by default.

    Raises :class:`~correlog.UsageError` for an unknown format, errors mode, zone or source, or
    an EVTX input without the ``evtx`` package; :class:`~correlog.ParseError` when ``"auto"``
    recognises none of the formats.
    """
    if errors not in ("strict", "skip"):
        raise UsageError(f"errors must be 'strict' or 'skip', not {errors!r}")
    if format != "auto" and format not in FORMATS:
        raise UsageError(f"unknown format {format!r}; known: auto, {', '.join(FORMATS)}")
    options = _Options(format, resolve_tz(tz), clock or _time.time_ns, errors == "strict")
    opened = open_input(source, name)
    stats = ReadStats()
    closers: list[Callable[[], None]] = []
    if opened.close is not None:
        closers.append(opened.close)
    close = _closer(closers)
    try:
        if opened.binary is not None:
            events, found = _from_binary(opened.binary, opened.name, options, stats, closers)
        else:
            assert opened.lines is not None
            if format in BINARY_FORMATS:
                raise UsageError(f"the {format} format needs a path or a binary file, not lines")
            events, found = _from_lines(opened.lines, opened.name, options, stats)
    except BaseException:
        close()
        raise
    return EventReader(
        _finally(events, close),
        format=found,
        name=opened.name,
        stats=stats,
        on_close=close,
    )


def _closer(closers: list[Callable[[], None]]) -> Callable[[], None]:
    """Run the closers, newest first, once; later ones run even if one fails."""

    def close() -> None:
        failure: BaseException | None = None
        while closers:
            try:
                closers.pop()()
            except Exception as exc:  # close the rest, then report the first failure
                failure = failure or exc
        if failure is not None:
            raise failure

    return close


def _finally(events: Iterator[Event], close: Callable[[], None]) -> Iterator[Event]:
    try:
        yield from events
    finally:
        close()


def _peek(stream: IO[bytes], closers: list[Callable[[], None]]) -> tuple[bytes, IO[bytes]]:
    """The first bytes of ``stream`` without consuming them (and the stream to read on)."""
    peek = getattr(stream, "peek", None)
    if peek is not None:
        return peek(8)[:8], stream
    if stream.seekable():
        at = stream.tell()
        head = stream.read(8)
        stream.seek(at)
        return head, stream
    buffered = io.BufferedReader(stream)  # type: ignore[type-var]
    closers.append(lambda: _detach(buffered))
    return buffered.peek(8)[:8], buffered


def _seekable(stream: IO[bytes], closers: list[Callable[[], None]]) -> IO[bytes]:
    """``stream`` if it is a seekable file, else a temporary copy (a pipe, a zip member)."""
    if isinstance(stream, io.BufferedReader | io.BytesIO | io.FileIO) and stream.seekable():
        return stream
    spool = tempfile.TemporaryFile()  # noqa: SIM115 (closed with the reader)
    closers.append(spool.close)
    shutil.copyfileobj(stream, spool, 1 << 20)
    spool.seek(0)
    return spool


def _from_binary(
    stream: IO[bytes],
    name: str,
    options: _Options,
    stats: ReadStats,
    closers: list[Callable[[], None]],
) -> tuple[Iterator[Event], str | None]:
    """Events from a byte stream: decompress, tell binary formats by magic, else read text."""
    fmt = options.format
    for _ in range(_MAX_NESTING):
        head, stream = _peek(stream, closers)
        if head.startswith(_GZIP):
            unzipped = gzip.GzipFile(fileobj=stream, mode="rb")
            closers.append(unzipped.close)
            stream = unzipped  # type: ignore[assignment]
            continue
        if head.startswith(_ZIP):
            return _from_zip(_seekable(stream, closers), name, options, stats, closers)
        break
    for binary in _BINARY:
        assert binary.sniff_bytes is not None
        if fmt == binary.name or (fmt == "auto" and binary.sniff_bytes(head)):
            units = binary.records(_seekable(stream, closers))
            decode = binary.decoder()
            events = drive_units(units, decode, stats, strict=options.strict, source=name)
            return events, binary.name
    lines, detach = binary_lines(stream)
    closers.append(detach)
    return _from_lines(lines, name, options, stats)


def _from_zip(
    archive: IO[bytes],
    name: str,
    options: _Options,
    stats: ReadStats,
    closers: list[Callable[[], None]],
) -> tuple[Iterator[Event], str | None]:
    """Each member of a zip in turn, detected on its own; the first member's format is named."""
    try:
        zipped = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise Malformed("bad zip", str(exc), source=name) from None
    closers.append(zipped.close)
    members = [info for info in zipped.infolist() if not info.is_dir()]
    if not members:
        return iter(()), None

    def member_events(info: zipfile.ZipInfo) -> tuple[Iterator[Event], str | None]:
        member = zipped.open(info)
        closers.append(member.close)
        return _from_binary(member, f"{name}[{info.filename}]", options, stats, closers)

    first, found = member_events(members[0])

    def rest() -> Iterator[Event]:
        yield from first
        for info in members[1:]:
            try:
                events, _ = member_events(info)
            except ParseError as exc:
                # A member no format recognises: one skipped unit, like a bad line.
                stats.lines += 1
                stats.skipped += 1
                stats.skipped_by_reason["unknown format"] += 1
                if len(stats.errors) < MAX_KEPT_ERRORS:
                    stats.errors.append(exc)
                if options.strict:
                    raise
                continue
            yield from events

    return rest(), found


def _from_lines(
    lines: Iterator[str], name: str, options: _Options, stats: ReadStats
) -> tuple[Iterator[Event], str | None]:
    fmt = options.format
    if fmt == "auto":
        peeked, fmt_found = _detect(lines, name)
        lines = chain(peeked, lines)
    else:
        fmt_found = fmt
    strict = options.strict
    if fmt_found is None:
        return drive(lines, _NoFormat(), stats, strict=strict, source=name), None
    found = _BY_NAME[fmt_found]
    if isinstance(found, LineFormat):
        parser = found.parser(options.zone, options.clock)
        return drive(lines, parser, stats, strict=strict, source=name), fmt_found
    if found.binary:
        raise UsageError(f"the {fmt_found} format needs a path or a binary file, not lines")
    units = found.records(line + "\n" for line in lines)
    decode = found.decoder()
    return drive_units(units, decode, stats, strict=strict, source=name), fmt_found


def _detect(lines: Iterator[str], source: str) -> tuple[list[str], str | None]:
    """Buffer lines until one is recognised; None when the input holds only blank lines."""
    peeked: list[str] = []
    non_blank = 0
    for line in lines:
        peeked.append(line)
        if line and not line.isspace():
            non_blank += 1
            for fmt_name, sniff in _TEXT_SNIFFERS:
                if sniff(line):
                    return peeked, fmt_name
            if non_blank >= _SNIFF_LINES:
                break
        if len(peeked) >= _SNIFF_MAX_BUFFERED:
            break
    else:
        if non_blank == 0:
            return peeked, None
    raise ParseError(
        f"cannot tell the format from the first {non_blank} non-blank lines; "
        f"tried {', '.join(DETECTION_ORDER)} (give format= to read one anyway)",
        source=source,
    )


class _NoFormat:
    """The parser of an input with no non-blank line: it is never called."""

    multiline: ClassVar[bool] = False

    def __call__(self, line: str) -> ParseResult:
        raise Malformed("unexpected line", "the input was blank when its format was detected")
