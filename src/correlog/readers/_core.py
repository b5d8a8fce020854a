"""The machinery every text reader shares: the line loop, its accounting, and the reader object.

Theory of operation
-------------------
A format is a *line parser*: a callable that takes one line (newline stripped) and returns an
event, ``None`` for a valid line that is not a process or host event (a logon 528, a record from
another log), or :data:`HEADER` for a header line; it raises :class:`~correlog.ParseError` for a
line it cannot read. Parsers hold only small caches (the last time text they converted, a CSV
header's column map), never lines.

:func:`drive` runs a parser over a line iterator and owns everything else: line numbers, blank
lines, joining CSV records whose quoted field spans lines, the ``errors`` mode, and
:class:`ReadStats`. Every line it takes from the iterator lands in exactly one counter, so
``stats.lines == stats.accounted()`` whenever the reader is between two events or finished.

The hot path is the happy path: no exception is raised or caught for a good line (a ``try``
costs nothing in CPython 3.11 until something is raised), counters live in local variables and
reach :class:`ReadStats` when an event is yielded or the loop ends, and the reader hands its
generator straight to ``for`` loops (``iter(reader)``) so each event costs no extra Python call.
"""

from __future__ import annotations

import csv
import enum
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import tzinfo
from typing import Any, ClassVar, Final, Literal, NamedTuple, Protocol

import attrs

from .._errors import Malformed, ParseError, UsageError
from .._events import Event

__all__ = [
    "EXPANSION_ALLOWANCE",
    "HEADER",
    "MAX_KEPT_ERRORS",
    "Damage",
    "EventReader",
    "Format",
    "Limits",
    "LineFormat",
    "LineParser",
    "ParseResult",
    "ReadStats",
    "RecordFormat",
    "damage",
    "drive",
    "drive_units",
]

#: How many :class:`~correlog.ParseError` a :class:`ReadStats` keeps for reporting.
MAX_KEPT_ERRORS: Final = 20
# A quoted CSV field may span lines; beyond this a lone quote is taken as damage, not as a long
# field, so one bad line cannot make the reader hold the rest of the file.
_MAX_CONTINUATION_LINES: Final = 100
_MAX_RECORD_CHARS: Final = 1 << 20
#: What a parser may raise for bad input (see :func:`drive`).
_BAD_INPUT: Final = (ValueError, LookupError, TypeError, AttributeError)


class _Marker(enum.Enum):
    HEADER = "header"


#: What a line parser returns for a header line (counted, not yielded).
HEADER: Final = _Marker.HEADER
#: What a line parser returns: an event, :data:`HEADER`, or ``None`` for an ignored line.
ParseResult = Event | Literal[_Marker.HEADER] | None


class LineParser(Protocol):
    """One format's parser of one line. ``multiline``: CSV records may span lines."""

    multiline: ClassVar[bool]

    def __call__(self, line: str) -> ParseResult:
        """Parse one line (no trailing newline)."""
        ...


@attrs.frozen(kw_only=True)
class Limits:
    """What one :func:`correlog.read` call may cost, whatever its input; see ``docs/errors.md``.

    Each limit is a keyword of :func:`correlog.read` of the same name. Going past one is a
    :class:`~correlog.ParseError` with its own category, counted in :class:`ReadStats` like a
    bad line (or raised, with ``errors="strict"``).
    """

    #: Bytes of one line (characters, for text already decoded): a longer line is skipped
    #: (``line too long``) without being held, and reading goes on after it.
    max_line_bytes: int = 1 << 20
    #: Decompressed bytes per compressed byte of a gzip stream or zip member, once past
    #: :data:`EXPANSION_ALLOWANCE`; beyond it the stream ends (``expansion limit``).
    max_expansion: int = 100
    #: Bytes copied to a temporary file for a binary format read from a pipe or an archive;
    #: beyond it that input is not read (``spool limit``).
    max_spool_bytes: int = 1 << 32
    #: Archives inside archives (gzip or zip layers); a deeper one is skipped (``nesting
    #: limit``).
    max_nesting: int = 4
    #: Members of one zip; a zip with more is not read (``zip member limit``).
    max_members: int = 10_000
    #: Seconds the EVTX parser may run without handing over a record; then it is stopped and
    #: the rest of the file is reported lost (``evtx parser stuck``).
    evtx_timeout: float = 60.0

    def __attrs_post_init__(self) -> None:
        for name in ("max_line_bytes", "max_expansion", "max_spool_bytes", "max_members"):
            _check_int(name, getattr(self, name), 1)
        _check_int("max_nesting", self.max_nesting, 0)
        timeout = self.evtx_timeout
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
            raise UsageError(f"evtx_timeout must be positive seconds, not {timeout!r}")


def _check_int(name: str, value: object, least: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise UsageError(f"{name} must be an integer of at least {least}, not {value!r}")


#: Decompressed bytes any stream may produce before :attr:`Limits.max_expansion` applies (small
#: inputs compress far better than large ones).
EXPANSION_ALLOWANCE: Final = 8 << 20


class Damage(str):
    """Stands in a line stream for input that is not there: an oversized line, a broken stream.

    Its text is empty; :func:`drive` counts its :attr:`error` as a skipped line. Only blank
    lines are checked for it, so good lines pay nothing.
    """

    error: Malformed


def damage(error: Malformed) -> Damage:
    """A :class:`Damage` marker for ``error``."""
    marker = Damage("")
    marker.error = error
    return marker


class LineFormat(NamedTuple):
    """A format of one event per line, declared once in its module as ``FORMAT``."""

    name: str
    #: True when a line (the first non-blank ones of an input) is in this format.
    sniff: Callable[[str], bool]
    #: ``parser(tz, clock)``: a fresh :class:`LineParser` for one input.
    parser: Callable[[tzinfo, Callable[[], int]], LineParser]


class RecordFormat(NamedTuple):
    """A format of records rather than lines (Event XML, EVTX, ``.evt``), declared once.

    A text format (``binary=False``) is sniffed on a line and ``records`` takes the input's text
    chunks; a binary one is sniffed on the input's first bytes and ``records`` takes a seekable
    binary file. ``records`` yields ``(offset, raw)`` for :func:`drive_units`, and ``decoder()``
    makes what decodes one ``raw``.
    """

    name: str
    binary: bool
    sniff: Callable[[str], bool] | None
    sniff_bytes: Callable[[bytes], bool] | None
    #: ``records(source, limits)``: the records of one input.
    records: Callable[[Any, Limits], Iterator[tuple[int, Any]]]
    decoder: Callable[[], Callable[[Any], ParseResult]]


#: A format as the reader registry lists it.
Format = LineFormat | RecordFormat


@attrs.define(kw_only=True)
class ReadStats:
    """What a reader did with its input, line by line.

    Every line read is counted in exactly one of ``events``, ``ignored``, ``blank``,
    ``headers``, ``continued`` and ``skipped``; :meth:`accounted` adds them up and equals
    ``lines`` whenever the reader is between two events or finished.
    """

    #: Lines taken from the input (records, for the binary and XML formats, whose offsets
    #: are byte offsets or record ordinals rather than line numbers).
    lines: int = 0
    #: Events yielded (one per line).
    events: int = 0
    #: Valid lines that are not process or host events (a logon 528, another log's record).
    ignored: int = 0
    #: Empty or whitespace-only lines.
    blank: int = 0
    #: Header lines (a CSV header row).
    headers: int = 0
    #: Lines that continued the previous line's CSV record (a quoted field with a newline).
    continued: int = 0
    #: Lines that could not be read (``errors="skip"``), or the one that raised (``"strict"``).
    skipped: int = 0
    #: ``skipped`` by short reason (``"bad process id"``, ``"not a snare record"``, ...).
    skipped_by_reason: Counter[str] = attrs.field(factory=Counter)
    #: The first :data:`MAX_KEPT_ERRORS` errors, located (source, line, record), for reporting.
    errors: list[ParseError] = attrs.field(factory=list)

    def accounted(self) -> int:
        """The sum of the per-outcome counters; equals :attr:`lines` between events."""
        return (
            self.events + self.ignored + self.blank + self.headers + self.continued + self.skipped
        )

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (errors as their messages)."""
        return {
            "lines": self.lines,
            "events": self.events,
            "ignored": self.ignored,
            "blank": self.blank,
            "headers": self.headers,
            "continued": self.continued,
            "skipped": self.skipped,
            "skipped_by_reason": dict(sorted(self.skipped_by_reason.items())),
            "errors": [str(error) for error in self.errors],
        }


class EventReader(Iterator[Event]):
    """An iterator of normalized events from one input, with what it did in :attr:`stats`.

    Built by :func:`correlog.read`. It reads lazily, one line at a time; it closes a file it
    opened itself when the input ends, when :meth:`close` is called, or at the end of a
    ``with`` block. A file object or iterable the caller passed in is left open.

    ``iter(reader)`` returns the underlying generator rather than the reader itself, so a
    ``for`` loop pays no Python-level ``__next__`` call per event; both advance the same
    stream, so mixing ``next(reader)`` and a loop is safe.
    """

    __slots__ = ("_events", "_on_close", "format", "name", "stats")

    def __init__(
        self,
        events: Iterator[Event],
        *,
        format: str | None,
        name: str,
        stats: ReadStats,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self._events = events
        self._on_close = on_close
        #: The format read (a name from :data:`correlog.FORMATS`); ``None`` only when
        #: ``format="auto"`` met an input with no non-blank line, which yields nothing.
        self.format = format
        #: The input's name in error messages: the path, ``"<stdin>"``, or the ``name`` given.
        self.name = name
        #: Counters, kept up to date as events are yielded.
        self.stats = stats

    def __iter__(self) -> Iterator[Event]:
        """The event stream itself (see the class docs)."""
        return self._events

    def __next__(self) -> Event:
        """The next event; :class:`StopIteration` at the end of the input."""
        return next(self._events)

    def close(self) -> None:
        """Stop reading and close the input if the reader opened it. Idempotent."""
        close = getattr(self._events, "close", None)
        if close is not None:
            close()
        on_close, self._on_close = self._on_close, None
        if on_close is not None:
            on_close()

    def __enter__(self) -> EventReader:
        """The reader itself; leaving the block closes it."""
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Close the reader (see :meth:`close`)."""
        self.close()

    def __repr__(self) -> str:
        """Name, format and events read so far."""
        return f"<EventReader {self.name!r} format={self.format!r} events={self.stats.events}>"


def drive(
    lines: Iterator[str],
    parse: LineParser,
    stats: ReadStats,
    *,
    strict: bool,
    source: str,
    on_end: Callable[[], None] | None = None,
) -> Iterator[Event]:
    """Run ``parse`` over ``lines`` (newlines already stripped); yield events, count the rest.

    ``strict``: raise the first :class:`~correlog.ParseError`, located; else count it and go on.
    ``on_end`` runs when the loop ends for any reason (input exhausted, error, ``close()``).
    """
    multiline = parse.multiline
    n = stats.lines
    # Line numbers in errors count from this input's start (a zip member's, say).
    base = n
    events = stats.events
    try:
        for line in lines:
            n += 1
            if not line or line.isspace():
                if isinstance(line, Damage):
                    stats.lines = n
                    stats.events = events
                    _skip(line.error, source, n - base, stats, strict)
                    continue
                stats.blank += 1
                continue
            first = n
            record = line
            if multiline and line.count('"') & 1:
                record, extra = _join_quoted(line, lines)
                n += extra
                stats.continued += extra
            try:
                result = parse(record)
            except _BAD_INPUT as exc:
                # Parsers raise ParseError for bad input; a bare ValueError or IndexError (an
                # int() or a field a parser did not guard), or a TypeError from a JSON value of
                # an unexpected type, is still bad input on this line, and must not end a
                # stream that may run for months.
                stats.lines = n
                stats.events = events
                _skip(exc, source, first - base, stats, strict)
                continue
            if result is None:
                stats.ignored += 1
                continue
            if result is HEADER:
                stats.headers += 1
                continue
            events += 1
            stats.lines = n
            stats.events = events
            yield result
    finally:
        stats.lines = n
        stats.events = events
        if on_end is not None:
            on_end()


def drive_units(
    units: Iterator[tuple[int, Any]],
    decode: Callable[[Any], ParseResult],
    stats: ReadStats,
    *,
    strict: bool,
    source: str,
    on_end: Callable[[], None] | None = None,
) -> Iterator[Event]:
    """Like :func:`drive`, for formats made of records rather than lines (EVTX, XML, ``.evt``).

    ``units`` yields ``(offset, raw)``: ``offset`` locates the record in errors (a byte offset,
    or a 1-based ordinal where the container has no byte offsets), ``raw`` goes to ``decode``.
    A container that finds a record damaged yields ``(offset, error)`` with a
    :class:`~correlog.ParseError` instead, counted like a record ``decode`` rejected. Each unit
    lands in exactly one counter (``lines`` counts records here).
    """
    n = stats.lines
    events = stats.events
    try:
        for offset, raw in _guarded(units):
            n += 1
            try:
                if isinstance(raw, ParseError):
                    raise raw
                result = decode(raw)
            except _BAD_INPUT as exc:
                stats.lines = n
                stats.events = events
                _skip(exc, source, offset, stats, strict)
                continue
            if result is None:
                stats.ignored += 1
                continue
            if result is HEADER:
                stats.headers += 1
                continue
            events += 1
            stats.lines = n
            stats.events = events
            yield result
    finally:
        stats.lines = n
        stats.events = events
        if on_end is not None:
            on_end()


def _guarded(units: Iterator[tuple[int, Any]]) -> Iterator[tuple[int | None, Any]]:
    """``units``, with a :class:`~correlog.ParseError` the container raises (it cannot go on:
    not an EVTX file, a header it cannot read) handed over as a last damaged unit."""
    try:
        yield from units
    except ParseError as exc:
        yield exc.offset, exc


def _skip(exc: Exception, source: str, offset: int | None, stats: ReadStats, strict: bool) -> None:
    """Count a bad unit by category, keeping the first errors located; in strict mode, raise.

    Only a kept or raised error is copied with its location: a stream of bad lines costs a
    counter increment each past the first :data:`MAX_KEPT_ERRORS`.
    """
    stats.skipped += 1
    if isinstance(exc, Malformed):
        category = exc.category
    elif isinstance(exc, ParseError):
        category = exc.reason
    else:
        category = "malformed line"
    stats.skipped_by_reason[category] += 1
    keep = len(stats.errors) < MAX_KEPT_ERRORS
    if keep or strict:
        error = _locate(exc, source, offset)
        if keep:
            stats.errors.append(error)
        if strict:
            raise error from None


def _locate(exc: Exception, source: str, line_number: int | None) -> ParseError:
    if isinstance(exc, ParseError):
        return exc.located(source=source, offset=line_number)
    detail = f"{type(exc).__name__}: {exc}"
    return Malformed("malformed line", detail, source=source, offset=line_number)


def _join_quoted(line: str, lines: Iterator[str]) -> tuple[str, int]:
    """Join the lines of one CSV record whose quoted field holds newlines.

    Quotes inside a quoted field are doubled, so an odd count means a field is still open.
    Returns the joined record and how many lines it took beyond the first; stops at the bound
    (the record then fails to parse and is skipped with the lines it took).
    """
    parts = [line]
    size = len(line)
    open_quotes = True
    extra = 0
    while open_quotes and extra < _MAX_CONTINUATION_LINES and size < _MAX_RECORD_CHARS:
        nxt = next(lines, None)
        if nxt is None:
            break
        extra += 1
        parts.append(nxt)
        size += len(nxt)
        if nxt.count('"') & 1:
            open_quotes = False
    return "\n".join(parts), extra


_csv_reader = csv.reader


def csv_row(line: str) -> list[str]:
    """The fields of one CSV record (which a reader may have joined from several lines)."""
    try:
        return next(_csv_reader((line,)), [])
    except csv.Error as exc:
        # A record joined from several lines may still hold a bare newline outside quotes.
        raise Malformed("bad csv", str(exc)) from None
