"""Every goal of the performance issue, measured against its baseline in the same run.

``python benchmarks/run.py --all`` prints the main table, then one row per goal: what was
measured, the figure, the goal, and whether it is met. Each timed figure comes from a
:class:`~benchmarks.timing.Duel`: the subject and its baseline in alternating pairs on the same
input, the median of the per-pair ratios (see :mod:`benchmarks.timing`). The hot paths (one
function each, each with its unit):

* :func:`eql_sides`: EQL's ``PythonEngine`` running ``sequence by host, pid [created]
  [exited]`` (2 stages: the token stage is left out, see below), with and without
  ``with maxspan=1h`` (the correlator's ttl), over pre-built ``eql.Event`` objects, against
  ``Correlator.feed_many`` over the same events pre-decoded (events/s both).
* :func:`record_build_sides`: building one record from an open entry against the same loop
  appending the entry itself (records/s); the difference per record is the build alone.
* :func:`eviction_sides`: a correlator kept at ``max_open`` by a stream of processes that never
  exit, against the same stream with ``max_open`` too large to evict (events/s).
* :func:`nxlog_sides`, :func:`evtx_sides`, :func:`snare_sides`: ``correlog.read`` into
  ``Correlator.process``, records consumed, against parsing only (lines or records/s).

Why 2 EQL stages: with a third ``[process where kind == "token_assigned"]`` stage EQL only
matches processes that got a 600 (one in five), and when a 593 was lost and the pid reused it
joins the old process's 592 and 600 with the new one's 593, a match correlog rightly does not
make. The 2-stage query finds exactly the creations that were followed by their exit, which is
every complete record the correlator emits (the smoke test checks the counts agree).
"""

from __future__ import annotations

import importlib.util
import json
import statistics
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import correlog
from correlog import Correlator, Status

from .cases import Workload
from .memory import eql_engine, eql_event
from .render import nxlog_lines, snare_lines, write_lines
from .streams import Stream, churn_events, make_stream
from .timing import Pass, Side

__all__ = [
    "EVTX_DIR",
    "Row",
    "complete_records",
    "eql_sides",
    "eviction_sides",
    "evtx_files",
    "evtx_sides",
    "has_orjson",
    "nxlog_sides",
    "record_build_sides",
    "render_rows",
    "snare_sides",
    "stdlib_json",
]

#: Real EVTX files, when the shared data folder sits beside the project (a clone has none).
EVTX_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "evtx"


@dataclass(frozen=True, slots=True)
class Row:
    """One goal's line of the table."""

    goal: str
    subject: str
    measured: str
    target: str
    #: None: a figure reported beside a goal, or a row skipped (the note says which).
    met: bool | None
    note: str = ""


def render_rows(rows: Sequence[Row]) -> list[str]:
    """The goal table as Markdown lines."""
    header = ("goal", "subject", "measured", "goal", "met", "note")
    cells = [
        (
            r.goal,
            r.subject,
            r.measured,
            r.target,
            {True: "met", False: "NOT met", None: "-"}[r.met],
            r.note,
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in (header, *cells)) for i in range(len(header))]
    out = ["| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |"]
    out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    out.extend(
        "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
        for row in cells
    )
    return out


# -- EQL ---------------------------------------------------------------------------------------


def complete_records(stream: Stream) -> int:
    """How many complete records (a creation and its exit) the correlator emits for ``stream``."""
    return sum(
        1
        for rec in Correlator(max_open=10**9).process(stream.events)
        if rec.status is Status.COMPLETE
    )


def _feed_many_side(work: Workload) -> Side:
    def prepare() -> Pass:
        def run() -> int:
            correlator = Correlator()
            fold = correlator.feed_many
            emitted = 0
            for batch in work.batches:
                emitted += len(fold(batch))
            return emitted + len(correlator.close())

        return run

    return Side("Correlator.feed_many", len(work.events), prepare)


def eql_sides(work: Workload, maxspan: str | None) -> tuple[Side, Side]:
    """``(feed_many, EQL)`` over the workload's events; EQL's answer is its match count.

    The ``eql.Event`` objects are built once, before timing, as the correlator's events are:
    both sides get their input pre-decoded. A fresh engine is compiled (untimed) per pass.
    """
    events = [eql_event(ev) for ev in work.events]

    def prepare() -> Pass:
        found: list[int] = []
        engine = eql_engine(maxspan, lambda _: found.append(1))

        def run() -> int:
            stream = engine.stream_event
            for ev in events:
                stream(ev)
            engine.finalize()
            return len(found)

        return run

    name = "EQL sequence" + ("" if maxspan is None else f" maxspan={maxspan}")
    return _feed_many_side(work), Side(name, len(events), prepare)


# -- record build ------------------------------------------------------------------------------

_new_record = tuple.__new__


def record_build_sides(work: Workload) -> tuple[Side, Side]:
    """``(build, loop)``: records built from entries, and the same loop appending the entry.

    Both walk ``work.entries`` batch by batch into a fresh output list; the only difference is
    ``tuple.__new__(Record, entry)`` against appending ``entry`` itself, so the difference in
    time per item is the cost of building one record (its allocation, its copy of 24 slots,
    its share of the collections it triggers).
    """
    record = correlog.Record

    def build() -> Pass:
        def run() -> int:
            built = 0
            for batch in work.entries:
                out: list[Any] = []
                emit = out.append
                for entry in batch:
                    emit(_new_record(record, entry))
                built += len(out)
            return built

        return run

    def loop() -> Pass:
        def run() -> int:
            seen = 0
            for batch in work.entries:
                out: list[Any] = []
                emit = out.append
                for entry in batch:
                    emit(entry)
                seen += len(out)
            return seen

        return run

    n = work.n_entries
    return Side("record build", n, build), Side("loop, no build", n, loop)


# -- eviction ----------------------------------------------------------------------------------


def eviction_sides(
    max_open: int, events: int, *, prefill: int | None = None, batch: int = 1024
) -> tuple[Side, Side]:
    """``(evicting, unevicted)``: the same churn stream, ``max_open`` against unbounded.

    Untimed, each pass first feeds ``prefill`` events (enough for more than ``max_open``
    processes to be open), then the timed part feeds ``events`` more in batches: with
    ``max_open`` nearly every creation evicts the oldest entry (an ``evicted`` record); without,
    the open set keeps growing. ``ttl`` is far beyond the stream so nothing expires in either.
    Records are dropped per batch; neither side is closed. Answer: records emitted.
    """
    if prefill is None:
        prefill = max_open * 3 // 2 + 1024
    stream = list(churn_events(prefill + events))
    head = [stream[i : min(i + batch, prefill)] for i in range(0, prefill, batch)]
    tail = [stream[i : i + batch] for i in range(prefill, len(stream), batch)]

    def side(bound: int) -> Callable[[], Pass]:
        def prepare() -> Pass:
            correlator = Correlator(max_open=bound, ttl=1e9)
            for chunk in head:
                correlator.feed_many(chunk)
            fold = correlator.feed_many

            def run() -> int:
                emitted = 0
                for chunk in tail:
                    emitted += len(fold(chunk))
                return emitted

            return run

        return prepare

    n = len(stream) - prefill
    return (
        Side(f"max_open={max_open:,}", n, side(max_open)),
        Side("max_open unbounded", n, side(10**12)),
    )


# -- end to end --------------------------------------------------------------------------------


def has_orjson() -> bool:
    """True when orjson (the ``fast`` extra) is installed."""
    return importlib.util.find_spec("orjson") is not None


@contextmanager
def stdlib_json() -> Iterator[None]:
    """Make the readers created inside the block parse JSON with the standard library.

    ``correlog`` picks the fastest parser installed once (``readers._winevent.json_loads``);
    this swaps its cached choice for ``json.loads`` and puts it back after, so one process can
    time both (a reader keeps the parser it was built with).
    """
    from correlog.readers import _winevent

    saved = list(_winevent._LOADS)
    _winevent._LOADS[:] = [(json.loads, (ValueError,))]
    try:
        yield
    finally:
        _winevent._LOADS[:] = saved


def _correlate(path: Path, fmt: str) -> int:
    """``correlog.read(path, fmt)`` into ``Correlator.process``: records consumed."""
    n = 0
    for _ in Correlator().process(correlog.read(path, fmt)):
        n += 1
    return n


def nxlog_sides(path: Path, lines: int, *, fast: bool) -> tuple[Side, Side]:
    """``(read + process, parse only)`` for NXLog JSON lines, in lines/s.

    ``fast``: the reader uses orjson and the baseline is ``orjson.loads`` per bytes line (the
    least any reader must do: no decoding to ``str``); else both use the standard library's
    ``json.loads``, the baseline on text lines.
    """

    def subject() -> Pass:
        def run() -> int:
            if fast:
                return _correlate(path, "nxlog")
            with stdlib_json():
                reader = correlog.read(path, "nxlog")
            n = 0
            for _ in Correlator().process(reader):
                n += 1
            return n

        return run

    def parse_only() -> Pass:
        if fast:
            import orjson

            def run_fast() -> int:
                n = 0
                loads = orjson.loads
                with path.open("rb") as f:
                    for line in f:
                        loads(line)
                        n += 1
                return n

            return run_fast

        def run_std() -> int:
            n = 0
            loads = json.loads
            with path.open(encoding="utf-8") as f:
                for line in f:
                    loads(line)
                    n += 1
            return n

        return run_std

    parser = "orjson" if fast else "json"
    return (
        Side(f"read nxlog ({parser}) + process", lines, subject),
        Side(f"{parser}.loads per line", lines, parse_only),
    )


def evtx_files() -> list[Path]:
    """The shared EVTX files, or none when the folder or the ``evtx`` package is missing."""
    if importlib.util.find_spec("evtx") is None or not EVTX_DIR.is_dir():
        return []
    return sorted(EVTX_DIR.glob("*.evtx"))


def evtx_sides(paths: Sequence[Path], loops: int, *, decode: bool) -> tuple[Side, Side, int]:
    """``(read + process, records_json, records per pass)`` over ``paths``, ``loops`` times.

    Baseline: iterating ``PyEvtxParser(path).records_json()`` (the crate renders each record
    to JSON text); with ``decode`` it also parses each record's JSON with orjson (or the
    standard library when orjson is missing), which any reader of that JSON must do.
    """
    from evtx import PyEvtxParser

    loads: Callable[[Any], Any] = json.loads
    if has_orjson():
        import orjson

        loads = orjson.loads

    def count() -> int:
        return sum(1 for path in paths for _ in PyEvtxParser(str(path)).records_json())

    per_pass = count() * loops

    def subject() -> Pass:
        def run() -> int:
            n = 0
            for _ in range(loops):
                for path in paths:
                    n += _correlate(path, "evtx")
            return n

        return run

    def parse_only() -> Pass:
        def run() -> int:
            n = 0
            for _ in range(loops):
                for path in paths:
                    record: Any
                    for record in PyEvtxParser(str(path)).records_json():
                        if decode:
                            loads(record["data"])
                        n += 1
            return n

        return run

    name = "records_json" + (" + loads" if decode else "")
    subject_side = Side("read evtx + process", per_pass, subject)
    return subject_side, Side(name, per_pass, parse_only), per_pass


def snare_sides(path: Path, lines: int) -> tuple[Side, Side]:
    """``(read + process, decode + split)`` for Snare lines, in lines (= events)/s."""

    def subject() -> Pass:
        return lambda: _correlate(path, "snare")

    def split_only() -> Pass:
        def run() -> int:
            n = 0
            with path.open("rb") as f:
                for raw in f:
                    raw.decode().rstrip("\r\n").split("\t")
                    n += 1
            return n

        return run

    return Side("read snare + process", lines, subject), Side("decode + split", lines, split_only)


def write_inputs(folder: Path, snare_events: int, nxlog_events: int) -> dict[str, tuple[Path, int]]:
    """Generate the end-to-end inputs in ``folder``: name -> (path, lines)."""
    out: dict[str, tuple[Path, int]] = {}
    snare = folder / "stream.snare"
    out["snare"] = (snare, write_lines(snare, snare_lines(make_stream(snare_events).events)))
    events = make_stream(nxlog_events, seed=4688).events
    for name, message in (("nxlog", True), ("nxlog-lean", False)):
        path = folder / f"{name}.json"
        out[name] = (path, write_lines(path, nxlog_lines(events, message=message)))
    return out


def median(values: Sequence[float]) -> float:
    """The median (re-exported for the runner)."""
    return statistics.median(values)
