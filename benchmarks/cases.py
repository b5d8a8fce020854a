"""What is measured: the baselines and the subjects, one hot path per function.

Every function takes its input from a :class:`Workload` built once per run (the generated
events, the same events cut into batches, entries to build records from), does the whole pass,
and returns a small answer the smoke test checks, so that a benchmark that silently does less
work cannot look fast. None of them times itself: :mod:`benchmarks.timing` does.

Records a subject emits are dropped batch by batch, as a streaming consumer would drop them
after writing them out; keeping half a million records alive would make the garbage collector
rescan them and measure that instead of the hot path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from cachetools import TTLCache

from correlog import Correlator, EventKind, ProcessEvent, Record, SingleEventMonitor, single_record
from correlog.rules import AnonymousWeb

from .streams import Stream

__all__ = [
    "BASELINES",
    "CASES",
    "DEFAULT_BATCH",
    "FEED_MANY",
    "FLOOR",
    "Case",
    "Workload",
    "dict_get_set",
    "feed",
    "feed_many",
    "floor",
    "make_workload",
    "monitor_single",
    "naive_ttlcache",
    "process",
    "record_build",
    "single",
]

#: Events per ``feed_many`` call: what ``Correlator.process`` uses, and a reader's natural batch.
DEFAULT_BATCH = 1024
#: How many emitted records the record-building benchmark rebuilds.
_RECORD_SAMPLE = 100_000

_C: Final = EventKind.CREATED
_T: Final = EventKind.TOKEN_ASSIGNED
_E: Final = EventKind.EXITED
_new_record = tuple.__new__


@dataclass(frozen=True, slots=True)
class Workload:
    """The inputs of one run, built before any timing and kept alive for all of it."""

    stream: Stream
    #: ``stream.events`` cut into lists of the batch size (built once, not per call).
    batches: list[list[ProcessEvent]]
    #: Emitted records laid out as the correlator's open entries (lists of Record's fields),
    #: in batches, for :func:`record_build`.
    entries: list[list[list[Any]]]

    @property
    def events(self) -> list[ProcessEvent]:
        """The events, in order."""
        return self.stream.events

    @property
    def n_entries(self) -> int:
        """How many entries :func:`record_build` turns into records."""
        return sum(len(batch) for batch in self.entries)


def make_workload(stream: Stream, *, batch: int = DEFAULT_BATCH) -> Workload:
    """Cut the stream into batches and collect sample entries for :func:`record_build`."""
    correlator = Correlator()
    entries: list[list[Any]] = []
    for chunk in stream.batches(batch):
        entries.extend(list(rec) for rec in correlator.feed_many(chunk))
        if len(entries) >= _RECORD_SAMPLE:
            break
    del entries[_RECORD_SAMPLE:]
    return Workload(
        stream=stream,
        batches=stream.batches(batch),
        entries=[entries[i : i + batch] for i in range(0, len(entries), batch)],
    )


# -- baselines -------------------------------------------------------------------------------


def floor(work: Workload) -> dict[tuple[str, int], int]:
    """The least any correlator must do, in events/s.

    Per event: read its time, kind, host and pid, build the ``(host, pid)`` key, and set it in a
    dict on a creation or token, pop it on an exit. Returns the dict: the keys still open.
    """
    open_: dict[tuple[str, int], int] = {}
    pop = open_.pop
    for ev in work.events:
        t = ev.time
        kind = ev.kind
        key = (ev.host, ev.pid)
        if kind is _E:
            pop(key, None)
        else:
            open_[key] = t
    return open_


def dict_get_set(work: Workload) -> dict[tuple[str, int], int]:
    """A plain dict get and set per event, keyed by ``(host, pid)``, in events/s.

    Counts events per key, so the counts add up to the number of events.
    """
    counts: dict[tuple[str, int], int] = {}
    get = counts.get
    for ev in work.events:
        key = (ev.host, ev.pid)
        counts[key] = get(key, 0) + 1
    return counts


class _EventClock:
    """A ``TTLCache`` timer that reads the time of the event being folded in."""

    __slots__ = ("now",)

    def __init__(self) -> None:
        self.now = 0

    def __call__(self) -> int:
        return self.now


# Slots of the naive correlator's list records.
_N_HOST, _N_PID, _N_IMAGE, _N_USER, _N_DOMAIN, _N_LOGON, _N_TOKEN, _N_CPID, _N_START, _N_END = (
    range(10)
)


def naive_ttlcache(work: Workload, *, ttl: float = 3600.0, maxsize: int = 100_000) -> int:
    """A naive correlator on ``cachetools.TTLCache`` with list records, in events/s.

    The cache's timer is the time of the current event (ns), ``ttl`` and ``maxsize`` are the
    correlator's defaults; records are plain lists, emitted on exit (or an orphan exit) and on
    pid reuse, dropped per batch. What ``TTLCache`` expires or evicts it drops silently (the
    naive part). Returns the records emitted plus those left in the cache at the end.
    """
    clock = _EventClock()
    cache: TTLCache[tuple[str, int], list[Any]] = TTLCache(maxsize, ttl * 1e9, timer=clock)
    get = cache.get
    pop = cache.pop
    emitted = 0
    for batch in work.batches:
        out: list[list[Any]] = []
        emit = out.append
        for ev in batch:
            clock.now = t = ev.time
            key = (ev.host, ev.pid)
            kind = ev.kind
            if kind is _C:
                old = pop(key, None)
                if old is not None:
                    emit(old)
                cache[key] = [
                    ev.host,
                    ev.pid,
                    ev.image,
                    ev.user,
                    ev.domain,
                    ev.logon_id,
                    False,
                    ev.creator_pid,
                    t,
                    None,
                ]
            elif kind is _T:
                rec = get(key)
                if rec is None:
                    cache[key] = [
                        ev.host,
                        ev.pid,
                        ev.image,
                        ev.user,
                        ev.domain,
                        ev.logon_id,
                        True,
                        ev.creator_pid,
                        None,
                        None,
                    ]
                else:
                    rec[_N_USER] = ev.user
                    rec[_N_DOMAIN] = ev.domain
                    rec[_N_LOGON] = ev.logon_id
                    rec[_N_TOKEN] = True
            else:
                rec = pop(key, None)
                if rec is None:
                    rec = [
                        ev.host,
                        ev.pid,
                        ev.image,
                        ev.user,
                        ev.domain,
                        ev.logon_id,
                        False,
                        None,
                        None,
                        t,
                    ]
                else:
                    if not rec[_N_TOKEN]:
                        rec[_N_USER] = ev.user
                        rec[_N_DOMAIN] = ev.domain
                        rec[_N_LOGON] = ev.logon_id
                    rec[_N_END] = t
                emit(rec)
        emitted += len(out)
    return emitted + len(cache)


# -- subjects --------------------------------------------------------------------------------


def feed_many(work: Workload) -> int:
    """``Correlator.feed_many`` over the stream in batches, then ``close``, in events/s.

    The hot path. Returns how many records were emitted (one per process in the stream).
    """
    correlator = Correlator()
    fold = correlator.feed_many
    emitted = 0
    for batch in work.batches:
        emitted += len(fold(batch))
    return emitted + len(correlator.close())


def feed(work: Workload) -> int:
    """``Correlator.feed`` once per event, then ``close``, in events/s.

    Returns how many records were emitted.
    """
    correlator = Correlator()
    fold = correlator.feed
    emitted = 0
    for ev in work.events:
        emitted += len(fold(ev))
    return emitted + len(correlator.close())


def process(work: Workload) -> int:
    """``Correlator.process`` (the streaming generator, default chunk) over the stream, in events/s.

    Returns how many records it yielded (it closes the correlator at the end).
    """
    emitted = 0
    for _ in Correlator().process(work.events):
        emitted += 1
    return emitted


def single(work: Workload) -> int:
    """``single_record`` on every event (the stateless path), in events/s.

    Returns how many events were sufficient on their own (every 600 and XP 593).
    """
    made = 0
    for ev in work.events:
        if single_record(ev) is not None:
            made += 1
    return made


def monitor_single(work: Workload) -> int:
    """``SingleEventMonitor`` with the anonymous-web rule, batch by batch, in events/s.

    The stateless path as a user runs it: each event that alone names image and owner becomes a
    record and is asked the rule; a small TTL cache of processes that already alerted keeps a
    600 and the 593 of one process to one alert. Returns how many alerts it raised.
    """
    monitor = SingleEventMonitor([AnonymousWeb()])
    feed = monitor.feed_many
    alerts = 0
    for batch in work.batches:
        alerts += len(feed(batch))
    return alerts


def record_build(work: Workload) -> int:
    """Building one emitted record from an open entry, as the correlator does, in records/s.

    ``tuple.__new__(Record, entry)`` into a per-batch output list, over sample entries taken
    from the stream's own records. Returns how many records were built.
    """
    built = 0
    for batch in work.entries:
        out: list[Record] = []
        emit = out.append
        for entry in batch:
            emit(_new_record(Record, entry))
        built += len(out)
    return built


@dataclass(frozen=True, slots=True)
class Case:
    """One row of the table."""

    name: str
    run: Callable[[Workload], object]
    #: What one item is: ``"events"``, or ``"records"`` for :func:`record_build`.
    unit: str
    #: A baseline: other rows are compared with it.
    baseline: bool = False

    def items(self, work: Workload) -> int:
        """How many items one call processes."""
        return work.n_entries if self.unit == "records" else len(work.events)


FLOOR = Case("floor", floor, "events", baseline=True)
#: The baselines, the floor first.
BASELINES: tuple[Case, ...] = (
    FLOOR,
    Case("dict get/set", dict_get_set, "events", baseline=True),
    Case("naive TTLCache", naive_ttlcache, "events", baseline=True),
)
#: The hot path.
FEED_MANY = Case("Correlator.feed_many", feed_many, "events")
#: Every row, baselines first.
CASES: tuple[Case, ...] = (
    *BASELINES,
    FEED_MANY,
    Case("Correlator.feed", feed, "events"),
    Case("Correlator.process", process, "events"),
    Case("single_record", single, "events"),
    Case("Monitor single_event", monitor_single, "events"),
    Case("record build", record_build, "records"),
)
