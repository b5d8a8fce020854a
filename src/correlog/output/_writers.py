"""Writers: sinks that turn records, alerts and Sigma hits into text on a stream.

Each writer is a sink (call it with an item) that renders the item to text and writes the
pending text with one ``write`` call per ``batch`` items. :meth:`TextWriter.flush` writes what is
pending; :meth:`TextWriter.close` also writes the header when no item came, so an empty result is
still a valid CSV or table. A subclass overrides :meth:`~TextWriter.render` (and
:meth:`~TextWriter.header`): those two are the extension API.
"""

from __future__ import annotations

import csv
import io
import ntpath
import os
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from .._errors import UsageError
from .._records import Alert, Reason, Record, Status
from ._encoder import ENCODER, Encoder
from ._rows import Row, printable, process_id_text, row, safe_text
from ._text import fixed_time, json_value

__all__ = [
    "FORMATS",
    "CsvWriter",
    "EcsWriter",
    "JsonWriter",
    "TableWriter",
    "TextWriter",
    "color_wanted",
    "make_writer",
]


class TextWriter:
    """The base writer: ``render`` each item, write the text in batches."""

    def __init__(self, stream: TextIO, *, batch: int = 256, flush_each: bool = False) -> None:
        #: Where the text goes.
        self.stream = stream
        #: Items per ``write`` call (1 writes each item at once).
        self.batch = 1 if flush_each else max(1, batch)
        #: Flush the stream after each item, for live monitoring through a pipe.
        self.flush_each = flush_each
        #: Items written (or pending).
        self.written = 0
        self._pending: list[str] = []
        self._held = 0  # items in ``_pending`` (one text may hold several: write_many)
        self._started = False

    def header(self) -> str:
        """Text written once before the first item (none by default)."""
        return ""

    def render(self, item: Any) -> str:
        """The text of one item, ending with a newline."""
        raise NotImplementedError

    def render_many(self, items: Sequence[Any]) -> str:
        """The text of several items, in order: what :meth:`render` gives for each, joined.
        A subclass overrides it where one call for many items is cheaper."""
        return "".join(map(self.render, items))

    def __call__(self, item: Record | Alert | Any, /) -> None:
        self._pending.append(self.render(item))
        self._wrote(1)

    def write_many(self, items: Sequence[Any]) -> None:
        """Write ``items`` in order, as calling the writer with each one does."""
        if items:
            self._pending.append(self.render_many(items))
            self._wrote(len(items))

    def _wrote(self, count: int) -> None:
        self.written += count
        self._held += count
        if self._held >= self.batch:
            self._write()
            if self.flush_each:
                self.stream.flush()

    def write_text(self, text: str) -> None:
        """Write already rendered text (after the header), with the pending items first."""
        self._pending.append(text)
        self._write()

    def _write(self) -> None:
        text = "".join(self._pending)
        self._pending.clear()
        self._held = 0
        if not self._started:
            self._started = True
            text = self.header() + text
        if text:
            self.stream.write(text)

    def flush(self) -> None:
        """Write what is pending and flush the stream."""
        if self._pending:
            self._write()
        self.stream.flush()

    def close(self) -> None:
        """Write what is pending (and the header, if nothing was written) and flush. The stream
        stays open: it is the caller's."""
        self._write()
        self.stream.flush()


class JsonWriter(TextWriter):
    """JSON lines: exactly what :class:`correlog.sinks.JsonLines` writes, in batches."""

    def __init__(
        self,
        stream: TextIO,
        *,
        batch: int = 256,
        flush_each: bool = False,
        encoder: Encoder | None = None,
    ) -> None:
        super().__init__(stream, batch=batch, flush_each=flush_each)
        encoder = encoder or ENCODER
        self._text = encoder.text
        self._lines = encoder.lines

    def render(self, item: Any) -> str:
        return self._text(item) + "\n"

    def render_many(self, items: Sequence[Any]) -> str:
        return self._lines(items)


#: Table columns: name, width, and whether a long value keeps its end (paths) or its start.
TABLE_COLUMNS: tuple[tuple[str, int, bool], ...] = (
    ("time", 23, False),
    ("host", 14, False),
    ("user", 26, False),
    ("image", 34, True),
    ("parent", 26, True),
    ("rule", 22, False),
    ("level", 8, False),
)

_BOLD, _RESET = "\x1b[1m", "\x1b[0m"
#: ANSI colours of a row by its level; an alert without a level is shown as high.
LEVEL_COLORS: Mapping[str, str] = {
    "critical": "\x1b[1;31m",
    "high": "\x1b[31m",
    "medium": "\x1b[33m",
    "low": "\x1b[36m",
    "informational": "\x1b[2m",
}


def cut(text: str, width: int, *, keep_end: bool = False) -> str:
    """``text`` cut to ``width`` characters with an ellipsis (at the start when ``keep_end``)."""
    if len(text) <= width:
        return text
    if width <= 1:
        return "…"[:width]
    return "…" + text[-(width - 1) :] if keep_end else text[: width - 1] + "…"


def _cells(r: Row) -> dict[str, str]:
    parent = r.parent or ("" if r.parent_pid is None else f"pid {r.parent_pid}")
    return {
        "time": fixed_time(r.time, 3, sep=" ", zone=""),
        "host": r.host,
        "user": r.user or "",
        "image": r.image or ("" if r.pid is None else f"pid {r.pid}"),
        "parent": parent,
        "rule": r.rule or "",
        "level": r.level or ("alert" if r.kind == "alert" else ""),
        "command_line": r.command_line or "",
        "pid": str(r.pid),
        "reason": r.reason,
    }


class TableWriter(TextWriter):
    """Aligned columns (time in UTC, host, user, image, parent, rule, level), one line per item.

    Long values are cut to their column (paths keep their end, where the file name is); control
    characters are shown as escapes. ``color=True`` colours alerts and hits by level (see
    :func:`color_wanted` for when to ask). ``columns`` may add ``command_line``, ``pid`` or
    ``reason``, each ``(name, width, keep_end)``; the last column is not padded.
    """

    def __init__(
        self,
        stream: TextIO,
        *,
        color: bool = False,
        columns: Sequence[tuple[str, int, bool]] = TABLE_COLUMNS,
        batch: int = 256,
        flush_each: bool = False,
    ) -> None:
        super().__init__(stream, batch=batch, flush_each=flush_each)
        self.color = color
        self.columns = tuple(columns)

    def _line(self, cells: Mapping[str, str]) -> str:
        last = len(self.columns) - 1
        parts = []
        for i, (name, width, keep_end) in enumerate(self.columns):
            text = cut(printable(cells.get(name, "")), width, keep_end=keep_end)
            parts.append(text if i == last else text.ljust(width))
        return " ".join(parts).rstrip()

    def header(self) -> str:
        names = {name: "time (UTC)" if name == "time" else name for name, _, _ in self.columns}
        line = self._line(names)
        return f"{_BOLD}{line}{_RESET}\n" if self.color else line + "\n"

    def render(self, item: Any) -> str:
        r = row(item)
        line = self._line(_cells(r))
        if self.color and r.kind != "record":
            colour = LEVEL_COLORS.get((r.level or "high").lower(), LEVEL_COLORS["high"])
            return f"{colour}{line}{_RESET}\n"
        return line + "\n"


def color_wanted(
    stream: TextIO, choice: str = "auto", environ: Mapping[str, str] | None = None
) -> bool:
    """Whether to colour: ``always``, ``never``, or ``auto`` (a terminal, and no ``NO_COLOR``).

    ``NO_COLOR`` set to any non-empty value turns ``auto`` off (https://no-color.org); an
    explicit ``always`` still colours, as that convention allows.
    """
    if choice == "always":
        return True
    if choice == "never":
        return False
    env = os.environ if environ is None else environ
    if env.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


#: CSV columns, in order: the key fields of every item, alerts' and hits' included.
CSV_COLUMNS = (
    "kind", "time", "host", "pid", "user", "image", "parent_pid", "parent", "command_line",
    "rule", "level", "reason", "process_id", "message",
)  # fmt: skip


class CsvWriter(TextWriter):
    """CSV (stdlib :mod:`csv`, LF line ends) with one header line: :data:`CSV_COLUMNS`.

    Times have nine decimals; empty cells are unknown values. Text is written as it is (a
    spreadsheet may read a cell starting with ``=`` as a formula: import, do not open, files
    from hostile hosts).
    """

    def __init__(self, stream: TextIO, *, batch: int = 256, flush_each: bool = False) -> None:
        super().__init__(stream, batch=batch, flush_each=flush_each)
        self._buffer = io.StringIO()
        self._csv = csv.writer(self._buffer, lineterminator="\n")

    def _row_text(self, values: Sequence[object]) -> str:
        self._buffer.seek(0)
        self._buffer.truncate()
        self._csv.writerow(values)
        return self._buffer.getvalue()

    def header(self) -> str:
        return self._row_text(CSV_COLUMNS)

    def render(self, item: Any) -> str:
        r = row(item)
        values = [
            safe_text(v) if isinstance(v, str) else "" if v is None else v
            for v in r._replace(time=fixed_time(r.time))  # type: ignore[arg-type]
        ]
        return self._row_text(values)


#: The Elastic Common Schema version the ``ecs`` shape follows.
ECS_VERSION = "8.11.0"
#: Sigma levels as ECS ``event.severity`` (Elastic's detection-rule scale).
ECS_SEVERITY = {"informational": 0, "low": 21, "medium": 47, "high": 73, "critical": 99}


_NO_PROCESS = Record(
    host="", pid=0, image=None, user=None, domain=None, logon_id=None, owner_source=None,
    creator_pid=None, creator_image=None, start=None, end=None, status=Status.PARTIAL,
    reason=Reason.OPEN, provenance=(), layout=None, first_seen=0,
)  # fmt: skip


def _pruned(value: Any) -> Any:
    """A copy without ``None`` values and empty objects (ECS leaves unknown fields out)."""
    if isinstance(value, dict):
        out = {k: _pruned(v) for k, v in value.items() if v is not None}
        return {k: v for k, v in out.items() if v != {}}
    return value


def _name(path: str | None) -> str | None:
    return ntpath.basename(path) if path else None


def ecs_document(item: Any) -> dict[str, Any]:
    """The ECS-shaped document of a record, an alert or a Sigma hit (``None`` fields left out).

    ``@timestamp`` is :attr:`Row.time`; ``process.*`` (``parent`` included), ``user.*``,
    ``host.name``, ``event.*`` and ``rule.*`` are ECS fields; what ECS has no field for is under
    ``correlog.*``.
    """
    r = row(item)
    found: Record | None = item if isinstance(item, Record) else item.record
    # An alert on a host event (a cleared log) has no process: an empty record stands in.
    record = found or _NO_PROCESS._replace(host=r.host)
    types = [t for t, ns in (("start", record.start), ("end", record.end)) if ns is not None]
    severity = ECS_SEVERITY.get((r.level or "").lower())
    rule_id = getattr(getattr(item, "rule", None), "id", None)
    process_id = r.process_id or None
    creator_id = process_id_text(record.creator_process_id) or None
    doc = {
        "@timestamp": fixed_time(r.time) or None,
        "ecs": {"version": ECS_VERSION},
        "message": r.message,
        "event": {
            "kind": "event" if r.kind == "record" else "alert",
            "category": ["process"],
            "type": types or ["info"],
            "action": r.rule if r.kind != "record" else f"process-{r.reason}",
            "module": "correlog",
            "dataset": f"correlog.{r.kind}",
            "code": str(item.event_id) if isinstance(item, Alert) and item.event_id else None,
            "severity": severity,
            "start": fixed_time(record.start) or None,
            "end": fixed_time(record.end) or None,
        },
        "host": {"name": r.host},
        "user": {"name": record.user, "domain": record.domain},
        "process": {
            "pid": r.pid,
            "entity_id": process_id,
            "executable": record.image,
            "name": _name(record.image),
            "command_line": record.command_line,
            "start": fixed_time(record.start) or None,
            "end": fixed_time(record.end) or None,
            "exit_code": record.exit_status,
            "parent": {
                "pid": record.creator_pid,
                "entity_id": creator_id,
                "executable": record.creator_image,
                "name": _name(record.creator_image),
            },
        },
        "rule": {"name": r.rule, "id": rule_id},
        "correlog": {
            "status": str(record.status),
            "reason": str(record.reason),
            "logon_id": None if record.logon_id is None else f"0x{record.logon_id:x}",
            "owner_source": None if record.owner_source is None else str(record.owner_source),
            "events": list(record.events),
            "record_numbers": list(record.record_numbers),
            "layout": None if record.layout is None else str(record.layout),
            "channel": record.channel,
            "integrity": record.integrity,
            "audits_lost": record.audits_lost or None,
            "extra": None if record.extra is None else dict(record.extra),
        },
    }
    if found is None:
        del doc["correlog"]  # nothing the record would say
    return _pruned(doc)  # type: ignore[no-any-return]


class EcsWriter(TextWriter):
    """One ECS-shaped JSON document per line (see :func:`ecs_document`), for Elastic, Splunk or
    any JSON-lines shipper, with no mapping to write."""

    def render(self, item: Any) -> str:
        return json_value(ecs_document(item)) + "\n"


#: The formats :func:`make_writer` knows.
FORMATS = ("json", "table", "csv", "ecs")


def make_writer(
    name: str, stream: TextIO, *, color: bool = False, flush_each: bool = False
) -> TextWriter:
    """The writer of format ``name`` (one of :data:`FORMATS`) on ``stream``."""
    if name == "json":
        return JsonWriter(stream, flush_each=flush_each)
    if name == "table":
        return TableWriter(stream, color=color, flush_each=flush_each)
    if name == "csv":
        return CsvWriter(stream, flush_each=flush_each)
    if name == "ecs":
        return EcsWriter(stream, flush_each=flush_each)
    raise UsageError(f"unknown output format {name!r}; expected one of {', '.join(FORMATS)}")
