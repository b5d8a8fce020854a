"""Memory probes, one per process: ``python -m benchmarks.memory {entry,flat,eql} [options]``.

Each probe prints one JSON object on standard output. :mod:`benchmarks.run` starts one fresh
interpreter per probe, so that nothing a previous case allocated (or freed into the allocator's
pools) is counted. Events are generated lazily (:func:`benchmarks.streams.churn_events`): only
what the engine keeps survives an event, as in a real stream.

* ``entry --n N``: bytes per open entry. A correlator is filled with ``N`` processes that never
  exit (fresh pids, a 600 for about one in five), in batches through ``feed_many``; the traced
  size after, less the traced size before, divided by the entries open. ``--no-intern`` gives
  each event its own host, image, user and domain strings. ``--rss`` measures the resident set
  instead (no tracemalloc, whose own bookkeeping would inflate it).
* ``eql --n N``: the same for EQL's ``PythonEngine`` running ``sequence by host, pid`` (2
  stages, creation then exit), bytes per open sequence; ``--maxspan`` adds ``with maxspan``.
  With ``--every K`` it prints the traced size every ``K`` events of a stream where one process
  in ten exits (``eql --n 200000 --every 20000``): does it grow without bound?
* ``flat --events N --max-open M``: a long stream through ``Correlator.process`` (most processes
  never exit, so the open set saturates ``max_open`` and eviction runs all along). Every
  ``--every`` events: the traced size and the peak since the previous sample (tracemalloc),
  or the resident set (``--rss``). The series shows whether memory stays flat.

What the traced figures include: everything allocated through Python's allocators while the
probe runs: the engine's state, and the lazy generator's own (a few hundred pending follow-ups,
a few tens of KiB). What they miss: memory outside those allocators (none, for these pure-Python
engines) and the allocator's free lists, which the resident set shows.
"""

from __future__ import annotations

import argparse
import enum
import gc
import importlib
import json
import os
import resource
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import islice
from pathlib import Path
from types import BuiltinFunctionType, FunctionType, MethodType, ModuleType
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.streams import churn_events
from correlog import Correlator, ProcessEvent, Reason

__all__ = [
    "EQL_QUERY",
    "entry_bytes",
    "eql_bytes",
    "eql_event",
    "eql_series",
    "flat_series",
    "main",
    "retained_bytes",
    "rss_bytes",
]

#: The EQL baseline's query: a process's creation, then its exit, by host and pid.
EQL_QUERY = (
    'sequence by host, pid [process where kind == "created"] [process where kind == "exited"]'
)
_PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes() -> int:
    """The resident set size of this process now, in bytes (Linux ``/proc/self/statm``)."""
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * _PAGE


def _max_rss_bytes() -> int:
    """The peak resident set of this process image (``VmHWM``), in bytes.

    Not ``getrusage``'s ``ru_maxrss``: that one survives ``exec`` and so reports the parent's
    peak when a large benchmark process started this probe.
    """
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _reset_max_rss() -> None:
    """Start the peak resident set afresh from now (Linux 4.0+; ignored where refused)."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as refs:
            refs.write("5")
    except OSError:
        pass


def _batches(events: Iterable[ProcessEvent], size: int = 1024) -> Iterator[list[ProcessEvent]]:
    it = iter(events)
    while batch := list(islice(it, size)):
        yield batch


class _Meter:
    """Traced bytes (tracemalloc) or resident bytes, measured the same way before and after."""

    def __init__(self, rss: bool) -> None:
        self.rss = rss
        if not rss:
            tracemalloc.start()

    def now(self) -> int:
        gc.collect()
        return rss_bytes() if self.rss else tracemalloc.get_traced_memory()[0]

    def stop(self) -> None:
        if not self.rss:
            tracemalloc.stop()


def entry_bytes(n: int, *, intern: bool = True, rss: bool = False) -> dict[str, Any]:
    """Fill a correlator with about ``n`` never-exiting processes; bytes per open entry."""
    meter = _Meter(rss)
    correlator = Correlator(max_open=2 * n + 1024)
    # About 1.2 events per process: a 600 for one in five.
    events = churn_events(n + n // 5, exit_share=0.0, token_share=0.2, intern=intern)
    before = meter.now()
    for batch in _batches(events):
        correlator.feed_many(batch)
    del events, batch
    after = meter.now()
    meter.stop()
    open_ = len(correlator)
    return {
        "probe": "entry",
        "engine": "correlog",
        "measure": "rss" if rss else "traced",
        "intern": intern,
        "n": open_,
        "bytes": after - before,
        "per_entry": (after - before) / open_,
    }


def _eql() -> Any:
    """The ``eql`` package (AGPL-3.0, a benchmark baseline only; it ships no type hints)."""
    return importlib.import_module("eql")


def eql_event(ev: ProcessEvent) -> Any:
    """An ``eql.Event`` for a process event: its fields as the EQL data dict, time in 100 ns.

    ``kind`` becomes its text (``"created"``); the fields a record is built from go in, so the
    engine holds what a record needs, as the correlator's entry does.
    """
    eql = _eql()
    return eql.Event(
        "process",
        ev.time // 100,
        {
            "kind": ev.kind.value,
            "host": ev.host,
            "pid": ev.pid,
            "time": ev.time,
            "event_id": ev.event_id,
            "record_number": ev.record_number,
            "image": ev.image,
            "user": ev.user,
            "domain": ev.domain,
            "logon_id": ev.logon_id,
            "creator_pid": ev.creator_pid,
            "creator_image": ev.creator_image,
        },
    )


def eql_engine(maxspan: str | None, hook: Callable[[Any], None]) -> Any:
    """A ``PythonEngine`` running :data:`EQL_QUERY` (``with maxspan=...`` when given)."""
    eql = _eql()
    query = EQL_QUERY
    if maxspan is not None:
        query = query.replace(" [", f" with maxspan={maxspan} [", 1)
    engine = eql.PythonEngine({"time_unit": 10_000_000})
    engine.add_query(eql.parse_query(query))
    engine.add_output_hook(hook)
    return engine


def eql_bytes(n: int, *, maxspan: str | None = None, intern: bool = True) -> dict[str, Any]:
    """Open ``n`` sequences in EQL (creations that never exit); bytes per open sequence."""
    meter = _Meter(False)
    found: list[int] = []
    engine = eql_engine(maxspan, lambda _: found.append(1))
    stream = engine.stream_event
    events = churn_events(n, exit_share=0.0, token_share=0.0, intern=intern)
    before = meter.now()
    for ev in events:
        stream(eql_event(ev))
    del events, ev
    after = meter.now()
    meter.stop()
    return {
        "probe": "eql",
        "engine": "eql",
        "maxspan": maxspan,
        "measure": "traced",
        "intern": intern,
        "n": n,
        "bytes": after - before,
        "per_entry": (after - before) / n,
    }


def eql_series(
    n_events: int, every: int, *, maxspan: str | None = None, max_open: int = 10_000
) -> dict[str, Any]:
    """Traced size every ``every`` events, EQL and a correlator in turn on the same stream.

    The stream: one process in ten exits, the rest never do (their exits were lost), pids are
    never reused. EQL keeps every sequence that began and did not end (unless ``maxspan`` drops
    it); the correlator keeps at most ``max_open`` entries.
    """
    meter = _Meter(False)
    series: dict[str, list[int]] = {}
    matches: dict[str, int] = {}
    # EQL first, then the correlator, each from a collected heap.
    found: list[int] = []
    base = meter.now()
    points: list[int] = []
    engine = eql_engine(maxspan, lambda _: found.append(1))
    stream = engine.stream_event
    for i, ev in enumerate(churn_events(n_events, exit_share=0.1, token_share=0.0), 1):
        stream(eql_event(ev))
        if i % every == 0:
            points.append(meter.now() - base)
    series["eql"] = points
    matches["eql"] = len(found)
    del engine, stream
    base = meter.now()
    points = []
    correlator = Correlator(max_open=max_open)
    fold = correlator.feed_many
    for batch in _batches(churn_events(n_events, exit_share=0.1, token_share=0.0), every):
        fold(batch)
        points.append(meter.now() - base)
    series["correlog"] = points
    matches["correlog"] = correlator.stats.records.get(Reason.EXITED, 0)
    meter.stop()
    return {
        "probe": "eql-series",
        "maxspan": maxspan,
        "max_open": max_open,
        "every": every,
        "events": n_events,
        "series": series,
        "completed": matches,
    }


_OPAQUE = (type, ModuleType, FunctionType, BuiltinFunctionType, MethodType, enum.Enum)


def retained_bytes(root: object) -> int:
    """Bytes reachable from ``root`` (``sys.getsizeof`` summed over a walk of its referents).

    Shared objects count once; classes, modules, functions and enum members (shared by every
    instance, never owned by one) are not entered. Cheap enough to call every million events,
    and unaffected by the allocator's free lists, unlike the resident set.
    """
    seen: set[int] = set()
    stack: list[object] = [root]
    total = 0
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, _OPAQUE):
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        stack.extend(gc.get_referents(obj))
    return total


def flat_series(
    n_events: int,
    max_open: int,
    *,
    every: int = 1_000_000,
    intern: bool = True,
    rss: bool = False,
    walk: bool = False,
) -> dict[str, Any]:
    """A long stream through ``Correlator.process(max_open=...)``, memory every ``every`` events.

    Traced: the traced size above the start and the traced peak since the previous sample.
    ``rss``: the resident set above the start (no tracemalloc, whose cost per allocation,
    about 14 x here, would make a long stream take half an hour); with ``walk``, also the bytes
    the correlator retains (:func:`retained_bytes`) at each sample, whose walk itself takes
    memory (and so raises the peak resident set of every later sample).

    ``close_peak`` (traced) and ``max_rss`` include the end of the stream, where ``process``
    flushes the open entries (one record at a time); ``max_rss_streaming`` is the peak resident
    set at the last sample, before that.
    """
    meter = _Meter(rss)
    correlator = Correlator(max_open=max_open)
    base = meter.now()
    _reset_max_rss()
    start_rss = rss_bytes()
    sizes: list[int] = []
    peaks: list[int] = []
    retained: list[int] = []
    seen = 0
    records = 0
    stream_rss = [0]
    started = time.perf_counter()

    def sampled(events: Iterator[ProcessEvent]) -> Iterator[ProcessEvent]:
        nonlocal seen
        for ev in events:
            yield ev
            seen += 1
            if seen % every == 0:
                stream_rss[0] = _max_rss_bytes()
                if rss:
                    sizes.append(rss_bytes() - base)
                    if walk:
                        retained.append(retained_bytes(correlator))
                else:
                    size, peak = tracemalloc.get_traced_memory()
                    sizes.append(size - base)
                    peaks.append(peak - base)
                    tracemalloc.reset_peak()

    if not rss:
        tracemalloc.reset_peak()
    for _ in correlator.process(sampled(churn_events(n_events, intern=intern))):
        records += 1
    seconds = time.perf_counter() - started
    max_rss = _max_rss_bytes()
    close_peak = tracemalloc.get_traced_memory()[1] - base if not rss else 0
    meter.stop()
    return {
        "probe": "flat",
        "measure": "rss" if rss else "traced",
        "intern": intern,
        "events": seen,
        "records": records,
        "max_open": max_open,
        "peak_open": correlator.stats.peak_open,
        "evicted": correlator.stats.records.get(Reason.EVICTED, 0),
        "every": every,
        "sizes": sizes,
        "peaks": peaks,
        "retained": retained,
        "close_peak": close_peak,
        "max_rss": max_rss,
        "max_rss_streaming": stream_rss[0],
        "start_rss": start_rss,
        "seconds": seconds,
        "bound": max_open * 800 + 256 * 1024,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run one probe; print its result as JSON."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.memory")
    sub = parser.add_subparsers(dest="probe", required=True)
    entry = sub.add_parser("entry", help="bytes per open correlator entry")
    entry.add_argument("--n", type=int, default=10_000)
    entry.add_argument("--no-intern", action="store_true")
    entry.add_argument("--rss", action="store_true")
    eql = sub.add_parser("eql", help="bytes per open EQL sequence, or a series (--every)")
    eql.add_argument("--n", type=int, default=10_000)
    eql.add_argument("--maxspan", default=None)
    eql.add_argument("--every", type=int, default=0)
    eql.add_argument("--max-open", type=int, default=10_000)
    flat = sub.add_parser("flat", help="memory over a long stream")
    flat.add_argument("--events", type=int, default=10_000_000)
    flat.add_argument("--max-open", type=int, default=10_000)
    flat.add_argument("--every", type=int, default=1_000_000)
    flat.add_argument("--no-intern", action="store_true")
    flat.add_argument("--rss", action="store_true")
    flat.add_argument("--walk", action="store_true", help="with --rss: retained bytes per sample")
    args = parser.parse_args(argv)
    result: dict[str, Any]
    if args.probe == "entry":
        result = entry_bytes(args.n, intern=not args.no_intern, rss=args.rss)
    elif args.probe == "eql" and args.every:
        result = eql_series(args.n, args.every, maxspan=args.maxspan, max_open=args.max_open)
    elif args.probe == "eql":
        result = eql_bytes(args.n, maxspan=args.maxspan)
    else:
        result = flat_series(
            args.events,
            args.max_open,
            every=args.every,
            intern=not args.no_intern,
            rss=args.rss,
            walk=args.walk,
        )
    json.dump(result, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
