"""What is measured: each case a subject and the baseline it is read against, in one run.

Every function returns a ``(subject, baseline)`` pair of :class:`~benchmarks.timing.Side`; each
pass returns a small answer (a count) that the smoke test checks, so a case that silently does
less work cannot look fast. Records a subject emits are dropped batch by batch, as a streaming
consumer drops them once written.

* Core (events in memory, from :mod:`benchmarks.streams`): ``Correlator.feed_many``,
  ``single_record`` and ``SingleEventMonitor`` against the :func:`floor_side`, the least
  any correlator must do per event; eviction at ``max_open`` against the same stream unbounded.
* End to end (files written by :mod:`benchmarks.render`): ``watch`` against ``correlate`` on
  the same Snare file; each reader into ``Correlator.process`` against its parse floor (Snare:
  decode and split; NXLog: ``orjson.loads`` per line; EVTX: the evtx crate's rendering plus
  ``orjson.loads``).
* Sigma: every SigmaHQ process_creation rule hunting the records of the shared 4688 EVTX files,
  against a set of one trivial rule over the same records.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable, Sequence
from itertools import islice
from pathlib import Path
from typing import Any

import correlog
from correlog import (
    Alert,
    Correlator,
    EventKind,
    Monitor,
    ProcessEvent,
    Record,
    SingleEventMonitor,
    single_record,
)
from correlog.cli._inputs import BATCH
from correlog.rules import AnonymousWeb, AuditTamper

from .streams import churn_events
from .timing import Pass, Side

__all__ = [
    "EVTX_DIR",
    "SIGMA_RULES",
    "Batches",
    "eviction_sides",
    "evtx_files",
    "evtx_sides",
    "feed_many_side",
    "floor_side",
    "has_orjson",
    "hunt_sides",
    "monitor_single_side",
    "nxlog_sides",
    "single_record_side",
    "snare_sides",
    "watch_sides",
]

_SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
#: Real EVTX files (Security 4688) when the shared data folder sits beside the project.
EVTX_DIR = _SHARED / "evtx"
#: SigmaHQ's process_creation rules, from the same place.
SIGMA_RULES = _SHARED / "sigma" / "rules"

_EXITED = EventKind.EXITED

Batches = list[list[ProcessEvent]]


def _events(batches: Batches) -> int:
    return sum(map(len, batches))


# -- core ----------------------------------------------------------------------------------------


def floor_side(batches: Batches) -> Side:
    """Per event: read time, kind, host, pid; build ``(host, pid)``; set it in a dict on a
    creation or token, pop it on an exit. Answer: the keys still open."""

    def prepare() -> Pass:
        def run() -> int:
            open_: dict[tuple[str, int], int] = {}
            pop = open_.pop
            for batch in batches:
                for ev in batch:
                    t = ev.time
                    key = (ev.host, ev.pid)
                    if ev.kind is _EXITED:
                        pop(key, None)
                    else:
                        open_[key] = t
            return len(open_)

        return run

    return Side("floor", _events(batches), prepare)


def feed_many_side(batches: Batches) -> Side:
    """``Correlator.feed_many`` batch by batch, then ``close``. Answer: records emitted."""

    def prepare() -> Pass:
        def run() -> int:
            correlator = Correlator()
            fold = correlator.feed_many
            emitted = 0
            for batch in batches:
                emitted += len(fold(batch))
            return emitted + len(correlator.close())

        return run

    return Side("Correlator.feed_many", _events(batches), prepare)


def single_record_side(batches: Batches) -> Side:
    """``single_record`` on every event. Answer: events sufficient on their own."""

    def prepare() -> Pass:
        def run() -> int:
            made = 0
            for batch in batches:
                for ev in batch:
                    if single_record(ev) is not None:
                        made += 1
            return made

        return run

    return Side("single_record", _events(batches), prepare)


def monitor_single_side(batches: Batches) -> Side:
    """``SingleEventMonitor([AnonymousWeb()]).feed_many`` per batch. Answer: alerts."""

    def prepare() -> Pass:
        monitor = SingleEventMonitor([AnonymousWeb()])

        def run() -> int:
            feed = monitor.feed_many
            return sum(len(feed(batch)) for batch in batches)

        return run

    return Side("SingleEventMonitor", _events(batches), prepare)


def eviction_sides(max_open: int, events: int, *, batch: int = 1024) -> tuple[Side, Side]:
    """``(evicting, unevicted)``: the same churn stream at ``max_open`` and unbounded.

    Untimed, each pass first feeds enough events for more than ``max_open`` processes to be
    open; the timed part feeds ``events`` more: at the bound nearly every creation evicts the
    oldest entry, unbounded the open set grows. ``ttl`` is beyond the stream, so nothing
    expires; neither side is closed. Answer: records emitted.
    """
    prefill = max_open * 3 // 2 + batch
    stream = list(churn_events(prefill + events))
    head = [stream[i : min(i + batch, prefill)] for i in range(0, prefill, batch)]
    tail = [stream[i : i + batch] for i in range(prefill, len(stream), batch)]

    def side(bound: int) -> Callable[[], Pass]:
        def prepare() -> Pass:
            correlator = Correlator(max_open=bound, ttl=1e9)
            for chunk in head:
                correlator.feed_many(chunk)
            fold = correlator.feed_many
            return lambda: sum(len(fold(chunk)) for chunk in tail)

        return prepare

    return (
        Side(f"evicting at max_open={max_open:,}", events, side(max_open)),
        Side("max_open unbounded", events, side(10**12)),
    )


# -- end to end ----------------------------------------------------------------------------------


def has_orjson() -> bool:
    """True when orjson (the ``fast`` extra) is installed."""
    return importlib.util.find_spec("orjson") is not None


def evtx_files() -> list[Path]:
    """The shared EVTX files, or none when the folder or the ``evtx`` package is missing."""
    if importlib.util.find_spec("evtx") is None or not EVTX_DIR.is_dir():
        return []
    return sorted(EVTX_DIR.glob("*.evtx"))


def _correlate(paths: Sequence[Path], fmt: str, loops: int = 1) -> int:
    """``correlog.read`` into ``Correlator.process`` (what ``correlog correlate`` does, less
    the output): records consumed."""
    n = 0
    for _ in range(loops):
        for path in paths:
            for _record in Correlator().process(correlog.read(path, fmt)):
                n += 1
    return n


def watch_sides(path: Path, lines: int) -> tuple[Side, Side]:
    """``(watch, correlate)`` on a Snare file: read a batch at a time into a correlating
    ``Monitor`` with the default rules, each alert handed over as soon as its event is folded
    in (what ``correlog watch`` does on a file) against read into ``Correlator.process``."""

    def watch() -> Pass:
        def run() -> int:
            monitor = Monitor([AnonymousWeb(), AuditTamper()], correlator=Correlator())
            alerts: list[Alert] = []
            events = correlog.read(path, "snare")
            while batch := list(islice(events, BATCH)):
                monitor.feed_stream(batch, alerts.append)
            return len(alerts) + len(monitor.close())

        return run

    return (
        Side("watch (Monitor, anonymous-web)", lines, watch),
        Side("correlate", lines, lambda: lambda: _correlate([path], "snare")),
    )


def snare_sides(path: Path, lines: int) -> tuple[Side, Side]:
    """``(read + process, decode + split on tabs)`` for Snare lines."""

    def split_only() -> Pass:
        def run() -> int:
            n = 0
            with path.open("rb") as f:
                for raw in f:
                    raw.decode().rstrip("\r\n").split("\t")
                    n += 1
            return n

        return run

    return (
        Side("Snare read + process", lines, lambda: lambda: _correlate([path], "snare")),
        Side("decode + split", lines, split_only),
    )


def nxlog_sides(path: Path, lines: int) -> tuple[Side, Side]:
    """``(read + process, orjson.loads per bytes line)`` for NXLog JSON lines (needs orjson)."""
    import orjson

    def parse_only() -> Pass:
        def run() -> int:
            n = 0
            loads = orjson.loads
            with path.open("rb") as f:
                for line in f:
                    loads(line)
                    n += 1
            return n

        return run

    return (
        Side("NXLog read + process (orjson)", lines, lambda: lambda: _correlate([path], "nxlog")),
        Side("orjson.loads per line", lines, parse_only),
    )


def evtx_sides(paths: Sequence[Path], loops: int) -> tuple[Side, Side]:
    """``(read + process, records_json + loads)`` over ``paths``, ``loops`` times each pass.

    The floor: the evtx crate renders each record to JSON text (``records_json``) and a Python
    reader must parse it (orjson when installed): the least any EVTX reader in Python does.
    """
    from evtx import PyEvtxParser

    loads: Callable[[Any], Any] = json.loads
    if has_orjson():
        import orjson

        loads = orjson.loads
    per_pass = loops * sum(1 for p in paths for _ in PyEvtxParser(str(p)).records_json())

    def parse_only() -> Pass:
        def run() -> int:
            n = 0
            for _ in range(loops):
                for path in paths:
                    record: Any
                    for record in PyEvtxParser(str(path)).records_json():
                        loads(record["data"])
                        n += 1
            return n

        return run

    return (
        Side("EVTX read + process", per_pass, lambda: lambda: _correlate(paths, "evtx", loops)),
        Side("records_json + loads", per_pass, parse_only),
    )


# -- Sigma ---------------------------------------------------------------------------------------

_TRIVIAL_RULE = {
    "title": "cmd.exe",
    "id": "00000000-0000-4000-8000-00000000c3d0",
    "logsource": {"category": "process_creation", "product": "windows"},
    "detection": {"sel": {"Image|endswith": "\\cmd.exe"}, "condition": "sel"},
}


def hunt_sides(ruleset: Any, records: Sequence[Record]) -> tuple[Side, Side]:
    """``(all rules, one trivial rule)``: ``RuleSet.hunt`` over the same records (what
    ``correlog hunt`` does per record, less the output). Answer: matches."""
    from correlog.sigma import RuleSet, SigmaRule

    trivial = RuleSet([SigmaRule.from_dict(_TRIVIAL_RULE)])

    def hunting(rules: Any) -> Callable[[], Pass]:
        return lambda: lambda: sum(1 for _ in rules.hunt(records))

    return (
        Side(f"hunt, {len(ruleset):,} rules", len(records), hunting(ruleset)),
        Side("hunt, one trivial rule", len(records), hunting(trivial)),
    )
