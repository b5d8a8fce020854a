"""Inputs to lines: a path, ``"-"`` (stdin), a text or binary file object, or an iterable of lines.

Bytes are decoded here, line by line, so parsers only see text without its line ending. Lines
are UTF-8 (a byte-order mark is dropped); a file that starts with a UTF-16 byte-order mark, as
some Windows tools write, is decoded as UTF-16. A line that is not valid UTF-8 is decoded as
Windows-1252, the ANSI code page of the western-language Windows versions that wrote these
logs: a ``Müller`` logged by Windows 2000 stays ``Müller`` rather than turning into replacement
characters, and a decoding error never stops the stream.

Lines are read with a bound (``max_line_bytes``): a longer line is read on to its end in small
pieces, never held, and stands in the stream as a :class:`~._core.Damage` marker that the line
loop counts as a ``line too long`` skip. A decompression layer that breaks (a truncated or
corrupt gzip, a zip member failing its CRC, the expansion limit) ends the stream with one such
marker (``broken stream``), so what was read before it stays counted and nothing raises.

Decoding each line with ``bytes.decode`` measured faster here than iterating an
:class:`io.TextIOWrapper` (about 190 against 300 ns a line for Snare lines), and it leaves the
caller's binary file untouched: no wrapper that would close it when collected.
"""

from __future__ import annotations

import codecs
import functools
import io
import os
import sys
import zlib
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any, Final, NamedTuple

from .._errors import Malformed, UsageError
from ._core import damage

__all__ = ["Opened", "Source", "binary_lines", "open_input", "open_lines", "stream_damage"]

#: What :func:`correlog.read` accepts as its input.
Source = str | os.PathLike[str] | IO[str] | IO[bytes] | Iterable[str] | Iterable[bytes]

_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_UTF8_BOM = codecs.BOM_UTF8


def stream_damage() -> tuple[type[BaseException], ...]:
    """What a decompressing layer raises when its input is damaged (or a limit stops it).

    A function, called in ``except stream_damage():`` clauses (which Python evaluates only when
    an exception reaches them), so that gzip and zipfile are imported only for an input that
    needs them, or on the way out of an error.
    """
    import gzip
    import zipfile

    return (gzip.BadGzipFile, zipfile.BadZipFile, EOFError, zlib.error, Malformed)


#: The bound on a line when the caller gives none (``Limits.max_line_bytes``' default).
DEFAULT_MAX_LINE: Final = 1 << 20


class Opened(NamedTuple):
    """An input opened by :func:`open_input`: bytes to look at, or lines already decoded."""

    #: A binary stream with ``peek`` (paths, standard input, binary files), else None.
    binary: IO[bytes] | None
    #: Lines without line endings (text files, iterables of lines), else None.
    lines: Iterator[str] | None
    name: str
    #: Closes what was opened here (None when nothing was); never the caller's file.
    close: Callable[[], None] | None


def open_input(source: Source, name: str | None, max_line: int = DEFAULT_MAX_LINE) -> Opened:
    """Open ``source`` for reading as bytes when it is bytes, so formats can be told by magic.

    A path, ``"-"`` (when standard input has a binary buffer) or a binary file object gives a
    buffered binary stream (an unbuffered file is wrapped, and the wrapper detached at the
    end); a text file object or an iterable gives lines, as :func:`open_lines` does.
    """
    if isinstance(source, str | os.PathLike):
        path = os.fspath(source)
        if not isinstance(path, str):
            raise UsageError(f"give paths as str, not bytes: {path!r}")
        if path == "-":
            buffer = getattr(sys.stdin, "buffer", None)
            if buffer is not None:
                return Opened(buffer, None, name or "<stdin>", None)
            return Opened(None, _stripped(sys.stdin, max_line), name or "<stdin>", None)
        raw = open(path, "rb")  # noqa: SIM115 (closed by the reader when the input ends)
        return Opened(raw, None, name or path, raw.close)
    if isinstance(source, io.TextIOBase):
        return Opened(None, _stripped(source, max_line), name or _name_of(source, "<text>"), None)
    if isinstance(source, io.RawIOBase):
        buffered = io.BufferedReader(source)
        return Opened(
            buffered, None, name or _name_of(source, "<bytes>"), lambda: _detach(buffered)
        )
    if isinstance(source, io.BufferedIOBase) or "b" in str(getattr(source, "mode", "")):
        return Opened(source, None, name or _name_of(source, "<bytes>"), None)  # type: ignore[arg-type]
    lines, label, _ = open_lines(source, name, max_line)
    return Opened(None, lines, label, None)


def _detach(buffered: Any) -> None:
    """Take a buffer off the caller's raw file without closing that file."""
    buffered.detach()


def binary_lines(
    binary: IO[bytes], max_line: int = DEFAULT_MAX_LINE
) -> tuple[Iterator[str], Callable[[], None]]:
    """Lines of a binary stream (see the module docs), and what undoes the layers put on it."""
    return _binary(binary, max_line)


def open_lines(
    source: Source, name: str | None, max_line: int = DEFAULT_MAX_LINE
) -> tuple[Iterator[str], str, Callable[[], None] | None]:
    """Lines of ``source`` without line endings, the name to report, and what closes it.

    The closer (None when nothing needs closing) closes a file opened here; a caller's file
    object or iterable is never closed.
    """
    if isinstance(source, str | os.PathLike):
        path = os.fspath(source)
        if not isinstance(path, str):
            raise UsageError(f"give paths as str, not bytes: {path!r}")
        if path == "-":
            stdin = sys.stdin
            buffer = getattr(stdin, "buffer", None)
            if buffer is not None:
                lines, close = _binary(buffer, max_line)
                return lines, name or "<stdin>", close
            return _stripped(stdin, max_line), name or "<stdin>", None
        raw = open(path, "rb")  # noqa: SIM115 (closed by the reader when the input ends)
        lines, detach = _binary(raw, max_line)
        return lines, name or path, _both(detach, raw.close)
    if isinstance(source, io.TextIOBase):
        return _stripped(source, max_line), name or _name_of(source, "<text>"), None
    if isinstance(source, io.RawIOBase | io.BufferedIOBase) or "b" in str(
        getattr(source, "mode", "")
    ):
        lines, close = _binary(source, max_line)  # type: ignore[arg-type]
        return lines, name or _name_of(source, "<bytes>"), close
    if isinstance(source, bytes | bytearray):
        raise UsageError("give an iterable of lines or a file object, not one bytes object")
    try:
        items = iter(source)
    except TypeError:
        raise UsageError(
            f"cannot read from {type(source).__name__}: give a path, '-', a file or lines"
        ) from None
    return _mixed(items), name or _name_of(source, "<lines>"), None


def _name_of(source: object, default: str) -> str:
    found = getattr(source, "name", None)
    return found if isinstance(found, str) else default


def _both(first: Callable[[], None], second: Callable[[], None]) -> Callable[[], None]:
    def run() -> None:
        try:
            first()
        finally:
            second()

    return run


def _binary(binary: IO[bytes], max_line: int) -> tuple[Iterator[str], Callable[[], None]]:
    """Lines of a binary file, and what undoes the layers put on top of it.

    The byte-order mark is looked for when the first line is wanted, not before: on a pipe that
    would wait for input before the caller asked for any. An unbuffered file gets a buffer (its
    ``readline`` reads a byte at a time) and a UTF-16 one a decoder; both are detached, not
    closed, at the end, which leaves the caller's file open.
    """
    layers: list[Any] = []

    def lines() -> Iterator[str]:
        source: Any = binary
        if isinstance(binary, io.RawIOBase):
            source = io.BufferedReader(binary)
            layers.append(source)
        head = b""
        try:
            peek = getattr(source, "peek", None)
            if peek is not None:
                head = peek(2)[:2]
            elif source.seekable():
                at = source.tell()
                head = source.read(2)
                source.seek(at)
        except stream_damage() as exc:
            yield _broken(exc)
            return
        if head not in _UTF16_BOMS:
            yield from _decoded(source, max_line)
            return
        text = io.TextIOWrapper(source, encoding="utf-16", errors="replace")
        layers.append(text)
        yield from _stripped(text, max_line)

    def detach() -> None:
        while layers:
            layers.pop().detach()

    return lines(), detach


def _decoded(source: Any, max_line: int) -> Iterator[str]:
    """Decoded lines of a binary stream, each read with a bound (see the module docs)."""
    # iter(callable, sentinel) calls readline from C: no Python frame per line.
    raws = iter(functools.partial(source.readline, max_line + 1), b"")
    try:
        for raw in raws:
            # Only the first line can start with a byte-order mark; the loop below stays lean.
            if len(raw) > max_line and raw[-1:] != b"\n":
                yield _too_long(source.readline, len(raw), max_line, b"\n")
            else:
                yield _decode(raw.removeprefix(_UTF8_BOM)).rstrip("\r\n")
            break
        for raw in raws:
            if len(raw) > max_line and raw[-1:] != b"\n":
                yield _too_long(source.readline, len(raw), max_line, b"\n")
                continue
            try:
                line = raw.decode()
            except UnicodeDecodeError:
                line = raw.decode("cp1252", "replace")
            yield line.rstrip("\r\n")
    except stream_damage() as exc:
        yield _broken(exc)


def _too_long(readline: Callable[[int], Any], seen: int, max_line: int, newline: Any) -> str:
    """Read the rest of an oversized line in pieces, keeping none; its :class:`Damage`."""
    total = seen
    while True:
        piece = readline(1 << 16)
        total += len(piece)
        if not piece or piece[-1:] == newline:
            break
    return damage(Malformed("line too long", f"{total} bytes, more than max_line_bytes={max_line}"))


def _broken(exc: BaseException) -> str:
    """The :class:`Damage` that ends a stream whose decompression failed (or hit a limit)."""
    if isinstance(exc, Malformed):
        return damage(exc)
    return damage(Malformed("broken stream", f"{type(exc).__name__}: {exc}"[:200]))


def _decode(raw: bytes) -> str:
    try:
        return raw.decode()
    except UnicodeDecodeError:
        return raw.decode("cp1252", "replace")


def _stripped(text: Any, max_line: int) -> Iterator[str]:
    """Lines of a text file (read with a bound, as :func:`_decoded` does), without endings."""
    lines = iter(functools.partial(text.readline, max_line + 1), "")
    try:
        for line in lines:
            if len(line) > max_line and line[-1:] != "\n":
                yield _too_long(text.readline, len(line), max_line, "\n")
            else:
                yield line.removeprefix("\ufeff").rstrip("\r\n")
            break
        for line in lines:
            if len(line) > max_line and line[-1:] != "\n":
                yield _too_long(text.readline, len(line), max_line, "\n")
                continue
            yield line.rstrip("\r\n")
    except stream_damage() as exc:
        yield _broken(exc)


def _mixed(items: Iterator[Any]) -> Iterator[str]:
    """Lines from an iterable of ``str`` or ``bytes`` items (one line each)."""
    first = True
    for item in items:
        if isinstance(item, str):
            line = item
        elif isinstance(item, bytes | bytearray):
            line = _decode(bytes(item))
        else:
            raise UsageError(f"lines must be str or bytes, not {type(item).__name__}")
        if first:
            first = False
            yield line.removeprefix("\ufeff").rstrip("\r\n")
        else:
            yield line.rstrip("\r\n")
