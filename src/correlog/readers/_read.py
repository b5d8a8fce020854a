"""``read()``: pick or detect a format, open the input, and hand back an :class:`EventReader`."""

from __future__ import annotations

import datetime as _dt
import time as _time
from collections.abc import Callable, Iterator
from itertools import chain
from typing import ClassVar, Final, NamedTuple

from .._errors import ParseError, UsageError
from ..decoders._common import Malformed
from . import eventreporter, evtviewer, jsonl, logparser, ossec, snare
from ._core import EventReader, LineParser, ParseResult, ReadStats, drive
from ._sources import Source, open_lines
from ._times import resolve_tz

__all__ = ["DETECTION_ORDER", "FORMATS", "read"]


class _Format(NamedTuple):
    name: str
    sniff: Callable[[str], bool]
    parser: Callable[[_dt.tzinfo, Callable[[], int]], LineParser]


_REGISTRY: Final = {
    fmt.name: fmt
    for fmt in (
        _Format(snare.NAME, snare.sniff, snare.SnareParser),
        _Format(eventreporter.NAME, eventreporter.sniff, eventreporter.EventReporterParser),
        _Format(ossec.NAME, ossec.sniff, ossec.OssecParser),
        _Format(logparser.NAME, logparser.sniff, logparser.LogParserParser),
        _Format(evtviewer.NAME, evtviewer.sniff, evtviewer.EvtViewerParser),
        _Format(jsonl.NAME, jsonl.sniff, jsonl.JsonLinesParser),
    )
}

#: The format names :func:`read` accepts (besides ``"auto"``), as the CLI's ``--format`` offers.
FORMATS: Final = tuple(_REGISTRY)
#: The order ``format="auto"`` tries them in: the most distinctive marks first, so a message
#: that happens to quote another transport's mark is still read as what it is.
DETECTION_ORDER: Final = ("jsonl", "snare", "eventreporter", "ossec", "logparser", "evtviewer")
#: How many non-blank lines detection looks at, and how many lines at most it buffers.
_SNIFF_LINES: Final = 10
_SNIFF_MAX_BUFFERED: Final = 1000


def read(
    source: Source,
    format: str = "auto",
    *,
    errors: str = "strict",
    tz: _dt.tzinfo | str | None = None,
    name: str | None = None,
    clock: Callable[[], int] | None = None,
) -> EventReader:
    """Read normalized events from a Windows event log transport, lazily, line by line.

    ``source``: a path, ``"-"`` for standard input, a text or binary file object, or an iterable
    of lines (``str`` or ``bytes``). ``format``: one of :data:`FORMATS`, or ``"auto"`` to detect
    it from the first non-blank lines (this reads them now; on standard input it waits for them).
    ``errors``: ``"strict"`` raises :class:`~correlog.ParseError` at the first line that cannot be
    read, naming the source, the 1-based line and the record number when known; ``"skip"``
    counts it in :attr:`EventReader.stats` and goes on. ``tz``: the zone of source times that
    carry none (a ``tzinfo``, an IANA name such as ``"Europe/Berlin"``, or ``"+01:00"``; UTC by
    default). ``name``: what to call the source in errors. ``clock``: nanoseconds since the
    epoch for the rare line that carries no time at all (an OSSEC agent line); the wall clock by
    default.

    Raises :class:`~correlog.UsageError` for an unknown format, errors mode, zone or source;
    :class:`~correlog.ParseError` when ``"auto"`` recognises none of the formats.
    """
    if errors not in ("strict", "skip"):
        raise UsageError(f"errors must be 'strict' or 'skip', not {errors!r}")
    if format != "auto" and format not in _REGISTRY:
        raise UsageError(f"unknown format {format!r}; known: auto, {', '.join(FORMATS)}")
    zone = resolve_tz(tz)
    lines, source_name, close = open_lines(source, name)
    try:
        if format == "auto":
            peeked, found = _detect(lines, source_name)
            lines = chain(peeked, lines)
        else:
            found = _REGISTRY[format]
    except BaseException:
        if close is not None:
            close()
        raise
    parse: LineParser = _NoFormat() if found is None else found.parser(zone, clock or _time.time_ns)
    stats = ReadStats()
    events = drive(lines, parse, stats, strict=errors == "strict", source=source_name, on_end=close)
    return EventReader(
        events,
        format=None if found is None else found.name,
        name=source_name,
        stats=stats,
        on_close=close,
    )


def _detect(lines: Iterator[str], source: str) -> tuple[list[str], _Format | None]:
    """Buffer lines until one is recognised; None when the input holds only blank lines."""
    peeked: list[str] = []
    non_blank = 0
    for line in lines:
        peeked.append(line)
        if line and not line.isspace():
            non_blank += 1
            for fmt_name in DETECTION_ORDER:
                fmt = _REGISTRY[fmt_name]
                if fmt.sniff(line):
                    return peeked, fmt
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
