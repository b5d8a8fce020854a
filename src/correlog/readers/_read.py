"""``read()``: pick or detect a format, open the input, and hand back an :class:`EventReader`.

Detection works on content, never on names. A byte input is looked at first: gzip and zip are
opened and looked into (a zip's members are read one after another, each detected on its own);
EVTX and ``.evt`` are told by their magic bytes. Anything else is text, decoded line by line,
and its first non-blank lines are offered to each text format's ``sniff`` in
:data:`DETECTION_ORDER`.
"""

from __future__ import annotations

import codecs
import datetime as _dt
import functools
import importlib
import io
import struct
import time as _time
import zlib
from collections.abc import Callable, Iterator
from itertools import chain
from typing import IO, Any, ClassVar, Final, NamedTuple

from .._errors import Malformed, ParseError, UsageError
from .._events import Event
from .._time import resolve_tz
from ._core import (
    EXPANSION_ALLOWANCE,
    MAX_KEPT_ERRORS,
    Damage,
    EventReader,
    Format,
    Limits,
    LineFormat,
    ParseResult,
    ReadStats,
    RecordFormat,
    drive,
    drive_units,
)
from ._sources import Source, _detach, binary_lines, open_input, stream_damage

__all__ = [
    "BINARY_FORMATS",
    "DETECTION_ORDER",
    "FORMATS",
    "UnknownFormat",
    "format_named",
    "read",
    "registry",
]


#: Every format's name and the module that declares it (as ``FORMAT``), in the order
#: ``format="auto"`` tries them: magic bytes first, then the most distinctive text marks, so a
#: message that happens to quote another transport's mark is still read as what it is. A
#: module is imported when its format is first needed: an EVTX input never imports the text
#: formats, nor Event XML's parser.
_MODULES: Final = {
    "evtx": "evtx",
    "evt": "evt",
    "jsonl": "jsonl",
    "winlogbeat": "winlogbeat",
    "ecs": "ecs",
    "nxlog": "nxlog",
    "xml": "eventxml",
    "snare": "snare",
    "eventreporter": "eventreporter",
    "ossec": "ossec",
    "logparser": "logparser",
    "evtviewer": "evtviewer",
}
#: The format names :func:`read` accepts (besides ``"auto"``), as the CLI's ``--format`` offers.
FORMATS: Final = tuple(_MODULES)
#: The order ``format="auto"`` tries them in (the registry's order).
DETECTION_ORDER: Final = FORMATS
#: Formats told by their first bytes (they come first); they need a path or a binary file.
BINARY_FORMATS: Final = ("evtx", "evt")


def format_named(name: str) -> Format:
    """The format called ``name`` (one of :data:`FORMATS`), its module imported if need be."""
    module = importlib.import_module(f"{__package__}.{_MODULES[name]}")
    fmt: Format = module.FORMAT
    return fmt


@functools.cache
def registry() -> tuple[Format, ...]:
    """Every format, in :data:`DETECTION_ORDER` (importing every format's module)."""
    return tuple(map(format_named, FORMATS))


@functools.cache
def _documents() -> tuple[RecordFormat, ...]:
    """The text record formats (Event XML), streamed in chunks rather than lines."""
    return tuple(f for f in registry() if isinstance(f, RecordFormat) and not f.binary)


@functools.cache
def _text_sniffers() -> tuple[tuple[str, Callable[[str], bool]], ...]:
    return tuple((f.name, f.sniff) for f in registry() if f.sniff is not None)


_UTF16: Final = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_DEFAULTS: Final = Limits()
_SNIFF_LINES: Final = 10
_SNIFF_MAX_BUFFERED: Final = 1000
_GZIP: Final = b"\x1f\x8b"
_ZIP: Final = b"PK\x03\x04"
_ZIP_END: Final = b"PK\x05\x06"
_ZIP64_END: Final = b"PK\x06\x06"


def _zip_damage() -> tuple[type[BaseException], ...]:
    """What the zipfile module raises for a damaged archive or member, besides BadZipFile: an
    unsupported compression method, an encrypted member, a name that is not UTF-8, a short
    read. (A function: zipfile is imported only for a zip input.)"""
    import zipfile

    return (
        zipfile.BadZipFile,
        zlib.error,
        EOFError,
        OSError,
        IndexError,
        ValueError,
        NotImplementedError,
        RuntimeError,
        struct.error,
    )


class _Options(NamedTuple):
    format: str
    zone: _dt.tzinfo
    clock: Callable[[], int]
    strict: bool
    limits: Limits


def read(
    source: Source,
    format: str = "auto",
    *,
    errors: str = "strict",
    tz: _dt.tzinfo | str | None = None,
    name: str | None = None,
    clock: Callable[[], int] | None = None,
    max_line_bytes: int = _DEFAULTS.max_line_bytes,
    max_expansion: int = _DEFAULTS.max_expansion,
    max_spool_bytes: int = _DEFAULTS.max_spool_bytes,
    max_nesting: int = _DEFAULTS.max_nesting,
    max_members: int = _DEFAULTS.max_members,
    evtx_timeout: float = _DEFAULTS.evtx_timeout,
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

    The ``max_*`` keywords and ``evtx_timeout`` bound what hostile input can cost (see
    :class:`~correlog.readers.Limits` for each default, and ``docs/errors.md``): going past one is
    a :class:`~correlog.ParseError` counted like a bad record, never a crash or a hang.

    Raises :class:`~correlog.UsageError` for an unknown format, errors mode, zone or source, or
    an EVTX input without the ``evtx`` package; :class:`~correlog.ParseError` when ``"auto"``
    recognises none of the formats.
    """
    if errors not in ("strict", "skip"):
        raise UsageError(f"errors must be 'strict' or 'skip', not {errors!r}")
    if format != "auto" and format not in FORMATS:
        raise UsageError(f"unknown format {format!r}; known: auto, {', '.join(FORMATS)}")
    limits = Limits(
        max_line_bytes=max_line_bytes,
        max_expansion=max_expansion,
        max_spool_bytes=max_spool_bytes,
        max_nesting=max_nesting,
        max_members=max_members,
        evtx_timeout=evtx_timeout,
    )
    zone = resolve_tz(tz)
    options = _Options(format, zone, clock or _time.time_ns, errors == "strict", limits)
    opened = open_input(source, name, limits.max_line_bytes)
    stats = ReadStats()
    closers: list[Callable[[], None]] = []
    if opened.close is not None:
        closers.append(opened.close)
    close = _closer(closers)
    try:
        if opened.binary is not None:
            events, found = _from_binary(opened.binary, opened.name, options, stats, closers, 0)
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


def _seekable(
    stream: IO[bytes], closers: list[Callable[[], None]], limits: Limits, name: str
) -> IO[bytes]:
    """``stream`` if it is a seekable file, else a temporary copy (a pipe, a zip member).

    The copy stops at ``max_spool_bytes`` (a ``spool limit`` error); a decompression layer that
    breaks while it is copied is a ``broken stream`` error.
    """
    if isinstance(stream, io.BufferedReader | io.BytesIO | io.FileIO) and stream.seekable():
        return stream
    import tempfile  # only for a pipe or a zip member read as EVTX or .evt

    spool = tempfile.TemporaryFile()  # noqa: SIM115 (closed with the reader)
    closers.append(spool.close)
    budget = limits.max_spool_bytes
    try:
        while chunk := stream.read(min(1 << 20, budget + 1)):
            budget -= len(chunk)
            if budget < 0:
                raise Malformed(
                    "spool limit",
                    f"more than max_spool_bytes={limits.max_spool_bytes} to copy",
                    source=name,
                )
            spool.write(chunk)
    except stream_damage() as exc:
        if isinstance(exc, Malformed):
            raise exc.located(source=name, offset=None) from None
        raise Malformed("broken stream", f"{type(exc).__name__}: {exc}", source=name) from None
    spool.seek(0)
    return spool


class _Expanding(io.RawIOBase):
    """A decompressed stream that stops at ``max_expansion`` times its compressed size.

    ``consumed()`` says how many compressed bytes were taken so far; past
    :data:`EXPANSION_ALLOWANCE`, reading more than ``max_expansion`` bytes per compressed byte
    raises an ``expansion limit`` :class:`Malformed` (a gzip of zeros, say, that would otherwise
    be read for as long as it claims to run).
    """

    def __init__(self, inner: Any, consumed: Callable[[], int], limits: Limits) -> None:
        self._inner = inner
        self._consumed = consumed
        self._ratio = limits.max_expansion
        self._produced = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        # read1: one decompression step. read(n) would insist on n bytes, and a stream cut
        # short would raise before handing over what it did decompress.
        data = self._inner.read1(len(buffer))
        size = len(data)
        buffer[:size] = data
        self._produced += size
        if self._produced > EXPANSION_ALLOWANCE and (
            self._produced > self._ratio * max(self._consumed(), 1)
        ):
            raise Malformed(
                "expansion limit",
                f"{self._produced} bytes from {self._consumed()} compressed, more than "
                f"max_expansion={self._ratio} times",
            )
        return size


class _Counting(io.RawIOBase):
    """A compressed stream that counts the bytes taken from it (for :class:`_Expanding`)."""

    def __init__(self, inner: IO[bytes]) -> None:
        self._inner = inner
        self.taken = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._inner.read(len(buffer))
        size = len(data)
        buffer[:size] = data
        self.taken += size
        return size


def _gunzipped(stream: IO[bytes], closers: list[Callable[[], None]], limits: Limits) -> IO[bytes]:
    import gzip

    counting = _Counting(stream)
    unzipped = gzip.GzipFile(fileobj=counting, mode="rb")
    closers.append(unzipped.close)
    expanding = io.BufferedReader(_Expanding(unzipped, lambda: counting.taken, limits))
    closers.append(lambda: _detach(expanding))
    return expanding


def _from_binary(
    stream: IO[bytes],
    name: str,
    options: _Options,
    stats: ReadStats,
    closers: list[Callable[[], None]],
    depth: int,
) -> tuple[Iterator[Event], str | None]:
    """Events from a byte stream: decompress, tell binary formats by magic, else read text.

    ``depth`` counts the archive layers around ``stream``; past ``max_nesting`` a further layer
    is a ``nesting limit`` error.
    """
    fmt = options.format
    limits = options.limits
    while True:
        try:
            head, stream = _peek(stream, closers)
        except stream_damage() as exc:
            if isinstance(exc, Malformed):
                raise exc.located(source=name, offset=None) from None
            raise Malformed("broken stream", f"{type(exc).__name__}: {exc}", source=name) from None
        if not head.startswith((_GZIP, _ZIP)):
            break
        if depth >= limits.max_nesting:
            raise Malformed(
                "nesting limit",
                f"an archive inside {depth} others (max_nesting={limits.max_nesting})",
                source=name,
            )
        depth += 1
        if head.startswith(_ZIP):
            seekable = _seekable(stream, closers, limits, name)
            return _from_zip(seekable, name, options, stats, closers, depth)
        stream = _gunzipped(stream, closers, limits)
    for binary in map(format_named, BINARY_FORMATS):
        assert isinstance(binary, RecordFormat)
        assert binary.sniff_bytes is not None
        if fmt == binary.name or (fmt == "auto" and binary.sniff_bytes(head)):
            units = binary.records(_seekable(stream, closers, limits, name), limits)
            decode = binary.decoder()
            events = drive_units(units, decode, stats, strict=options.strict, source=name)
            return events, binary.name
    document = _document_format(stream, fmt)
    if document is not None:
        chunks = _text_chunks(stream, closers)
        units = document.records(chunks, limits)
        decode = document.decoder()
        events = drive_units(units, decode, stats, strict=options.strict, source=name)
        return events, document.name
    lines, detach = binary_lines(stream, limits.max_line_bytes)
    closers.append(detach)
    return _from_lines(lines, name, options, stats)


def _document_format(stream: IO[bytes], fmt: str) -> RecordFormat | None:
    """The text record format (Event XML) whose start ``stream`` shows, if it is one.

    Such a document is streamed in chunks rather than lines, so a document written on one long
    line is not a ``line too long``.
    """
    head = _look(stream, 256)
    if head.startswith(_UTF16):
        text = head[2:].decode("utf-16-le" if head[:2] == _UTF16[0] else "utf-16-be", "replace")
    else:
        text = head.decode("utf-8", "replace")
    start = text.lstrip("\ufeff \t\r\n")
    for document in _documents():
        sniff = document.sniff
        if fmt in ("auto", document.name) and sniff is not None and sniff(start):
            return document
    return None


def _look(stream: IO[bytes], size: int) -> bytes:
    """Up to ``size`` first bytes of a stream :func:`_peek` made peekable or found seekable."""
    peek = getattr(stream, "peek", None)
    if peek is not None:
        head: bytes = peek(size)[:size]
        return head
    at = stream.tell()
    head = stream.read(size)
    stream.seek(at)
    return head


def _text_chunks(stream: IO[bytes], closers: list[Callable[[], None]]) -> Iterator[str]:
    """The text of ``stream`` in chunks (UTF-16 with a byte-order mark, else UTF-8)."""
    head = _look(stream, 2)
    encoding = "utf-16" if head in _UTF16 else "utf-8-sig"
    text = io.TextIOWrapper(stream, encoding=encoding, errors="replace")
    closers.append(lambda: _detach(text))
    try:
        while chunk := text.read(1 << 16):
            yield chunk
    except stream_damage() as exc:
        if isinstance(exc, Malformed):
            raise
        raise Malformed("broken stream", f"{type(exc).__name__}: {exc}"[:200]) from None


def _zip_members(archive: IO[bytes]) -> int | None:
    """How many members a zip's end record says it has (None when it cannot be found)."""
    archive.seek(0, 2)
    size = archive.tell()
    back = min(size, (1 << 16) + 22 + 56 + 20)
    archive.seek(size - back)
    tail = archive.read(back)
    archive.seek(0)
    at = tail.rfind(_ZIP_END)
    if at < 0 or len(tail) - at < 22:
        return None
    count = int.from_bytes(tail[at + 10 : at + 12], "little")
    if count != 0xFFFF:
        return count
    at64 = tail.rfind(_ZIP64_END, 0, at)
    if at64 < 0 or at - at64 < 40:
        return None
    return int.from_bytes(tail[at64 + 32 : at64 + 40], "little")


def _from_zip(
    archive: IO[bytes],
    name: str,
    options: _Options,
    stats: ReadStats,
    closers: list[Callable[[], None]],
    depth: int,
) -> tuple[Iterator[Event], str | None]:
    """Each member of a zip in turn, detected on its own; the first member's format is named.

    A member that cannot be opened or read, or that no format recognises, is one skipped unit;
    the zip as a whole is refused (a ``bad zip`` or ``zip member limit`` error) only when its
    directory cannot be read or lists more than ``max_members`` members.
    """
    import zipfile

    limits = options.limits
    zip_damage = _zip_damage()
    try:
        count = _zip_members(archive)
        if count is None or count > limits.max_members:
            raise Malformed(
                "zip member limit",
                f"{'an unknown number of' if count is None else count} members, "
                f"more than max_members={limits.max_members}",
                source=name,
            )
        zipped = zipfile.ZipFile(archive)
    except zip_damage as exc:
        raise Malformed("bad zip", f"{type(exc).__name__}: {exc}"[:200], source=name) from None
    closers.append(zipped.close)
    members = [info for info in zipped.infolist() if not info.is_dir()]
    if len(members) > limits.max_members:
        raise Malformed(
            "zip member limit",
            f"{len(members)} members, more than max_members={limits.max_members}",
            source=name,
        )
    if not members:
        return iter(()), None

    def member_events(info: zipfile.ZipInfo) -> tuple[Iterator[Event], str | None]:
        label = f"{name}[{info.filename}]"
        try:
            member = zipped.open(info)
        except zip_damage as exc:
            detail = f"{type(exc).__name__}: {exc}"[:200]
            raise Malformed("bad zip member", detail, source=label) from None
        closers.append(member.close)
        consumed = info.compress_size
        expanding = io.BufferedReader(_Expanding(member, lambda: consumed, limits))
        closers.append(lambda: _detach(expanding))
        return _from_binary(expanding, label, options, stats, closers, depth)

    def skip(exc: ParseError) -> None:
        # A member no format recognises, or one past a limit: one skipped unit, like a bad line.
        stats.lines += 1
        stats.skipped += 1
        reason = exc.category if isinstance(exc, Malformed) else "unknown format"
        stats.skipped_by_reason[reason] += 1
        if len(stats.errors) < MAX_KEPT_ERRORS:
            stats.errors.append(exc)
        if options.strict:
            raise exc

    first: Iterator[Event] = iter(())
    found: str | None = None
    rest_start = 0
    for index, info in enumerate(members):
        rest_start = index + 1
        try:
            first, found = member_events(info)
        except ParseError as exc:
            skip(exc)
            continue
        break

    def rest() -> Iterator[Event]:
        yield from first
        for info in members[rest_start:]:
            try:
                events, _ = member_events(info)
            except ParseError as exc:
                skip(exc)
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
    found = format_named(fmt_found)
    if isinstance(found, LineFormat):
        parser = found.parser(options.zone, options.clock)
        return drive(lines, parser, stats, strict=strict, source=name), fmt_found
    if found.binary:
        raise UsageError(f"the {fmt_found} format needs a path or a binary file, not lines")
    units = found.records(_chunks(lines), options.limits)
    decode = found.decoder()
    return drive_units(units, decode, stats, strict=strict, source=name), fmt_found


def _chunks(lines: Iterator[str]) -> Iterator[str]:
    """Text chunks of a record format; a damaged stretch raises its error (the document ends)."""
    for line in lines:
        if isinstance(line, Damage):
            raise line.error
        yield line + "\n"


def _detect(lines: Iterator[str], source: str) -> tuple[list[str], str | None]:
    """Buffer lines until one is recognised; None when the input holds only blank lines."""
    peeked: list[str] = []
    non_blank = 0
    for line in lines:
        peeked.append(line)
        if line and not line.isspace():
            non_blank += 1
            for fmt_name, sniff in _text_sniffers():
                if sniff(line):
                    return peeked, fmt_name
            if non_blank >= _SNIFF_LINES:
                break
        if len(peeked) >= _SNIFF_MAX_BUFFERED:
            break
    else:
        if non_blank == 0:
            return peeked, None
    raise UnknownFormat.after(non_blank, source)


class UnknownFormat(ParseError):
    """``format="auto"`` recognised none of the formats in an input's first non-blank lines.

    The message names the option that forces a format: ``format=`` for :func:`read`;
    :meth:`naming` gives the same error naming another (the CLI's ``--format``). Built as any
    :class:`ParseError` is (a message), so that frameworks that re-raise it with more text can.
    """

    #: How many non-blank lines were tried (``None`` once re-raised with another message).
    non_blank: int | None = None

    @classmethod
    def after(cls, non_blank: int, source: str | None, option: str = "format=") -> UnknownFormat:
        """The error after ``non_blank`` lines of ``source`` matched no format."""
        error = cls(
            f"cannot tell the format from the first {non_blank} non-blank lines; "
            f"tried {', '.join(DETECTION_ORDER)} (give {option} to read one anyway)",
            source=source,
        )
        error.non_blank = non_blank
        return error

    def naming(self, option: str) -> UnknownFormat:
        """The same error, naming ``option`` as the way to force a format."""
        if self.non_blank is None:
            return self
        return UnknownFormat.after(self.non_blank, self.source, option)


class _NoFormat:
    """The parser of an input with no non-blank line: it is never called."""

    multiline: ClassVar[bool] = False

    def __call__(self, line: str) -> ParseResult:
        raise Malformed("unexpected line", "the input was blank when its format was detected")
