"""Across logs: one record per process that both Sysmon and the Security log saw.

Theory of operation
-------------------
The correlator keeps each log of a host apart (record numbers and clocks are per log), so a
process that Sysmon (1/5) and the Security log (4688/4689) both saw comes out as two records.
:class:`LogMerger` is a stage after the correlator: it takes the records in the order they
become final and pairs a Sysmon record with a Security record when they are one process
(:func:`pairs`):

* the same host and pid, one record from each log (never two of one log, never across hosts);
* the same image, compared case-insensitively (both must name one);
* their starts within ``tolerance`` when both know a start, their ends within ``tolerance``
  when both know an end, and at least one of the two compared.

The pair becomes one record, field by field as :data:`~correlog.CROSS_LOG_POLICY` says
(:func:`merge_records`). When several waiting records could pair with an arriving one, the
closest in time wins, then the one that came first.

Waiting. Both records of one process become final at about the same point of the stream (both
logs see the exit), but not together, and one file may hold one log after the other. So a
record that could pair waits for its partner, in bounded memory, until:

* its partner comes: the merged record is emitted then;
* its host's clock passes the record's *mark* by ``window``. A log's clock is the latest time
  (end, start or first seen) of that log's records on that host; the host's clock is the later
  of its logs'; a record's mark is its own log's clock when it came. A log far behind the other
  (a constant offset) therefore has its records released at once;
* more than ``max_held`` records wait: the one that came first is released;
* :meth:`LogMerger.close`.

A record that cannot pair (another log; a Security record of the legacy events 592/600/593,
from systems Sysmon does not run on; a record without an image) passes at once. Every record
fed leaves in exactly one record emitted: itself, or the merged record of its pair. The output
order is the order in which records became final *and* their partner question was settled.

Clock offsets. Two logs of one host whose clocks disagree by a constant (NXLog's local
``EventTime`` read as UTC, a misset clock) pair nothing: the stage does not guess. It counts, per
host, the offsets at which a Sysmon record and a Security record of the same pid and image lie
(among the last ``evidence_size`` records that left alone), and :meth:`LogMerger.offsets`
reports an offset at which at least two such pairs lie, and more than merged on that host.
The command line prints it in its summary, with the flag that fixes it.

:class:`AlertMerger` does the same for alerts, which never wait: the first alert of a rule on
either log's view of a process is raised at once; the same rule's alert on the other log's view
of the same process is not raised again.

Saved state. A live monitor saves both stages with the correlator's state: ``state()`` gives
plain JSON-ready data with a format version (records field by field as
:mod:`correlog._state` writes them), ``from_state()`` checks it whole and refuses another
version or damaged data with a :class:`~correlog.StateError`. No pickle. A merger restored
from a state taken between any two calls goes on exactly as the one that gave it.
"""

from __future__ import annotations

import heapq
import math
import re
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from itertools import chain
from typing import Any, Final

import attrs

from ._errors import StateError, UsageError
from ._events import Event, ProcessEvent
from ._policy import CROSS_LOG_POLICY
from ._records import Alert, Reason, Record, Status
from ._state import expect, record_from_data, record_to_data
from ._time import NS_PER_SECOND

__all__ = [
    "ALERT_MERGER_FORMAT",
    "LOG_MERGER_FORMAT",
    "AlertMerger",
    "ClockOffset",
    "LogMerger",
    "LogOffsets",
    "MergeStats",
    "log_of",
    "merge_records",
    "pairs",
    "parse_log_offset",
    "shift_events",
]

#: The two logs a record may come from, as :data:`~correlog.CROSS_LOG_POLICY` names them.
SYSMON: Final = "sysmon"
SECURITY: Final = "security"
#: The Security log's events of systems Sysmon runs on (Vista and later).
_VISTA_EVENTS: Final = frozenset({4688, 4689, 4696})
#: The defaults: seconds two logs' times of one process may differ by, and seconds of its
#: host's clock a record waits for its partner.
TOLERANCE: Final = 2.0
WINDOW: Final = 300.0
#: Hosts with nothing waiting whose clocks are kept beyond ``max_held`` (then forgotten).
_IDLE_HOSTS: Final = 1024
#: Offset bins kept per host: beyond this, offsets not seen yet on that host are not counted.
_MAX_BINS: Final = 256
#: Hosts whose offsets are counted: beyond this, new hosts are not.
_MAX_HOSTS: Final = 4096
#: How many pairs must agree on an offset before it is reported.
MIN_EVIDENCE: Final = 2
#: Every zone offset is a multiple of a quarter hour, within 14 h of UTC.
_QUARTER_HOUR: Final = 900 * NS_PER_SECOND
_MAX_ZONE: Final = 14 * 3600 * NS_PER_SECOND

#: The formats of :meth:`LogMerger.state` and :meth:`AlertMerger.state`; another is refused.
LOG_MERGER_FORMAT: Final = "correlog.log-merger/1"
ALERT_MERGER_FORMAT: Final = "correlog.alert-merger/1"

#: An offset map for :func:`shift_events`: (host or None for every host, log) -> nanoseconds.
LogOffsets = Mapping[tuple[str | None, str], int]


def log_of(record: Record) -> str | None:
    """``"sysmon"``, ``"security"`` (Vista+ events only), or None for a record that cannot pair."""
    if record.channel == SYSMON:
        return SYSMON
    # One log of one host has one Windows generation: its first event tells.
    if record.channel is None and record.provenance and record.provenance[0] in _VISTA_EVENTS:
        return SECURITY
    return None


def _gaps(a: Record, b: Record) -> list[int]:
    """How far apart two records' starts are, and their ends, where both know them."""
    known = ((a.start, b.start), (a.end, b.end))
    return [abs(x - y) for x, y in known if x is not None and y is not None]


def pairs(a: Record, b: Record, tolerance: int) -> bool:
    """True when ``a`` and ``b`` are one process seen by both logs (see the module docs).

    ``tolerance`` is in nanoseconds.
    """
    log_a, log_b = log_of(a), log_of(b)
    if log_a is None or log_b is None or log_a == log_b:
        return False
    if a.host != b.host or a.pid != b.pid or a.image is None or b.image is None:
        return False
    if a.image.casefold() != b.image.casefold():
        return False
    gaps = _gaps(a, b)
    return bool(gaps) and max(gaps) <= tolerance


def _closeness(a: Record, b: Record, tolerance: int) -> int | None:
    """The summed start and end gaps of two records of one key (host, pid, image) from two
    logs, or None when they do not pair: :func:`pairs`' time test, on the merger's hot path."""
    gap = -1
    x, y = a.start, b.start
    if x is not None and y is not None:
        gap = x - y if x > y else y - x
        if gap > tolerance:
            return None
    x, y = a.end, b.end
    if x is not None and y is not None:
        end_gap = x - y if x > y else y - x
        if end_gap > tolerance:
            return None
        return end_gap if gap < 0 else gap + end_gap
    return None if gap < 0 else gap


def merge_records(sysmon: Record, security: Record) -> Record:
    """One record from a Sysmon record and a Security record of one process, field by field
    as :data:`~correlog.CROSS_LOG_POLICY` says. (Whether they are one process is
    :func:`pairs`'s question.)"""
    by_log = {SYSMON: sysmon, SECURITY: security}
    fields: dict[str, Any] = {}
    for rule in CROSS_LOG_POLICY:
        records = [by_log[source] for source in rule.sources]
        if rule.how == "first":
            lead = rule.fields[0]
            chosen = next((r for r in records if getattr(r, lead) is not None), records[0])
            for field in rule.fields:
                fields[field] = getattr(chosen, field)
        elif rule.how == "each":
            for field in rule.fields:
                known = (getattr(r, field) for r in records)
                fields[field] = next((v for v in known if v is not None), None)
        elif rule.how == "union":
            (field,) = rule.fields
            combined: dict[str, str] = {}
            for record in records:
                for name, value in (getattr(record, field) or {}).items():
                    combined.setdefault(name, value)
            fields[field] = combined or None
        elif rule.how == "concat":
            (field,) = rule.fields
            fields[field] = tuple(chain.from_iterable(getattr(r, field) for r in records))
        elif rule.how == "any":
            (field,) = rule.fields
            fields[field] = any(getattr(r, field) for r in records)
    both = fields["start"] is not None and fields["end"] is not None
    fields["status"] = Status.COMPLETE if both else Status.PARTIAL
    exited = Reason.EXITED in (sysmon.reason, security.reason)
    fields["reason"] = Reason.EXITED if exited else sysmon.reason
    return Record(**fields)


def _union(first: Mapping[str, str] | None, second: Mapping[str, str] | None) -> Any:
    """Both mappings' names, ``first`` winning a shared one; None when neither has any."""
    if not second:
        return first or None
    if not first:
        return second
    return {**second, **first}


def _fast_merge_source() -> str:
    """:func:`merge_records` specialised from :data:`~correlog.CROSS_LOG_POLICY`, as code.

    The plain function reads the table for every pair; this one is the table compiled once
    into one expression per record field (``y`` is the Sysmon record, ``c`` the Security one),
    built positionally. A differential test holds the two equal.
    """
    name = {SYSMON: "y", SECURITY: "c"}
    expression: dict[str, str] = {}
    lines = []
    for number, rule in enumerate(CROSS_LOG_POLICY):
        logs = [name[source] for source in rule.sources]
        if rule.how == "first":
            chosen = logs[0]  # when none knows the row: the first log's
            for log in reversed(logs):
                chosen = f"({log} if {log}.{rule.fields[0]} is not None else {chosen})"
            lines.append(f"    r{number} = {chosen}")
            expression.update({field: f"r{number}.{field}" for field in rule.fields})
        elif rule.how == "each":
            for field in rule.fields:
                value = f"{logs[-1]}.{field}"
                for log in reversed(logs[:-1]):
                    value = f"({log}.{field} if {log}.{field} is not None else {value})"
                expression[field] = value
        elif rule.how == "union":
            (field,) = rule.fields
            value = f"{logs[-1]}.{field}"
            for log in reversed(logs[:-1]):
                value = f"_union({log}.{field}, {value})"
            expression[field] = value
        elif rule.how == "concat":
            (field,) = rule.fields
            expression[field] = " + ".join(f"{log}.{field}" for log in logs)
        elif rule.how == "any":
            (field,) = rule.fields
            expression[field] = "(" + " or ".join(f"{log}.{field}" for log in logs) + ")"
    for field in ("start", "end"):
        lines.append(f"    {field} = {expression[field]}")
        expression[field] = field
    expression["status"] = "(_COMPLETE if start is not None and end is not None else _PARTIAL)"
    expression["reason"] = "(_EXITED if _EXITED in (y.reason, c.reason) else y.reason)"
    values = ", ".join(expression[field] for field in Record._fields)
    return (
        "def _fast_merge(y, c):\n" + "\n".join(lines) + f"\n    return _new(Record, ({values}))\n"
    )


def _compile_fast_merge() -> Callable[[Record, Record], Record]:
    scope: dict[str, Any] = {
        "Record": Record,
        "_new": tuple.__new__,
        "_union": _union,
        "_COMPLETE": Status.COMPLETE,
        "_PARTIAL": Status.PARTIAL,
        "_EXITED": Reason.EXITED,
    }
    exec(compile(_fast_merge_source(), "<correlog cross-log merge>", "exec"), scope)
    return scope["_fast_merge"]  # type: ignore[no-any-return]


#: :func:`merge_records`, compiled from the table (see :func:`_fast_merge_source`).
fast_merge: Callable[[Record, Record], Record] = _compile_fast_merge()


def _merged(record: Record, log: str, partner: Record) -> Record:
    if log == SYSMON:
        return fast_merge(record, partner)
    return fast_merge(partner, record)


@attrs.define
class MergeStats:
    """What a :class:`LogMerger` did."""

    #: Pairs merged into one record.
    merged: int = 0
    #: Records that could pair and left alone (no partner in time).
    alone: int = 0
    #: Records released because more than ``max_held`` waited.
    evicted: int = 0
    #: The most records waiting at once.
    most_held: int = 0


@attrs.frozen(kw_only=True)
class ClockOffset:
    """Evidence that a host's Security log and its Sysmon log disagree by a constant.

    ``offset`` is the Security log's time minus Sysmon's, in nanoseconds: ``pairs`` records of
    one process (same pid and image, one from each log) lie that far apart, while ``aligned``
    pairs merged (within the tolerance).
    """

    host: str
    offset: int
    pairs: int
    aligned: int

    def zone(self) -> str | None:
        """The ``--tz`` that explains the offset when the Security log's times are local times
        read as UTC (a whole quarter hour within 14 h), else None."""
        quarters = round(self.offset / _QUARTER_HOUR)
        if quarters == 0 or abs(self.offset) > _MAX_ZONE + NS_PER_SECOND:
            return None
        if abs(self.offset - quarters * _QUARTER_HOUR) > 2 * NS_PER_SECOND:
            return None
        minutes = abs(quarters) * 15
        return f"{'-' if quarters < 0 else '+'}{minutes // 60:02d}:{minutes % 60:02d}"

    def message(self) -> str:
        """What the summary says: the host, the offset, the evidence, the flag that fixes it."""
        zone = self.zone()
        if zone is None:
            seconds = round(self.offset / NS_PER_SECOND)
        else:  # NXLog cuts the Security log's times to the second: a zone's offset is exact
            seconds = round(self.offset / _QUARTER_HOUR) * 900
        side = "behind" if seconds < 0 else "ahead of"
        fix = f"--log-offset {self.host}/security={-seconds:+d}"
        if zone is not None:
            fix = f"--tz={zone} if they are local times (NXLog's EventTime, Snare...), else {fix}"
        return (
            f"{self.host}: the Security log's times are {_span(abs(seconds))} {side} Sysmon's "
            f"({self.pairs} processes with the same pid and image lie {seconds:+d} s apart, "
            f"{self.aligned} merged within the tolerance), so none of them was merged: give "
            f"{fix} to merge them"
        )


def _span(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours} h" if hours else "", f"{minutes} min" if minutes else ""]
    parts.append(f"{secs} s" if secs or not (hours or minutes) else "")
    return " ".join(p for p in parts if p)


def _seconds_ns(value: float, what: str, *, positive: bool) -> int:
    if not isinstance(value, int | float) or not math.isfinite(value * NS_PER_SECOND):
        raise UsageError(f"{what} must be a finite number of seconds, not {value!r}")
    if value < 0 or (positive and value == 0):
        raise UsageError(f"{what} must be {'positive' if positive else 'zero or more'}: {value!r}")
    return round(value * NS_PER_SECOND)


class _Held:
    """A record waiting for its partner."""

    __slots__ = ("deadline", "key", "log", "out", "record", "seq")

    def __init__(
        self, record: Record, log: str, key: tuple[str, int, str], deadline: int, seq: int
    ) -> None:
        self.record = record
        self.log = log
        self.key = key
        self.deadline = deadline
        self.seq = seq
        #: Paired or released: no longer waiting (the queues drop it lazily).
        self.out = False


class LogMerger:
    """Pair the Sysmon and Security records of one process into one record (see the module
    docs), in bounded memory: at most ``max_held`` records wait, for at most ``window`` seconds
    of their host's clock.

    ``tolerance``: seconds two records' starts (and ends) may differ by. ``evidence_size``: how
    many recent records are remembered to find clock offsets. ``on_merge``: called with
    ``(sysmon, security, merged)`` for every pair.

    The verbs are :meth:`feed`, :meth:`feed_many` and :meth:`close`; each returns the records
    that left, in order. No I/O and no wall clock: time comes from the records.
    """

    def __init__(
        self,
        *,
        tolerance: float = TOLERANCE,
        window: float = WINDOW,
        max_held: int = 100_000,
        evidence_size: int = 65_536,
        on_merge: Callable[[Record, Record, Record], object] | None = None,
    ) -> None:
        self._tolerance = _seconds_ns(tolerance, "tolerance", positive=False)
        self._window = _seconds_ns(window, "window", positive=False)
        for name, value in (("max_held", max_held), ("evidence_size", evidence_size)):
            if not isinstance(value, int) or value < 0:
                raise UsageError(f"{name} must be an int, zero or more: {value!r}")
        self._max_held = max_held
        self._evidence_size = evidence_size
        self._on_merge = on_merge
        self.stats = MergeStats()
        #: Per log: (host, pid, image case-folded) -> that log's records waiting under that key
        #: (a record looks among the other log's only).
        self._held: dict[str, dict[tuple[str, int, str], list[_Held]]] = {SYSMON: {}, SECURITY: {}}
        #: Per host: (deadline, seq, held) heaps; entries of paired records are dropped lazily.
        self._due: dict[str, list[tuple[int, int, _Held]]] = {}
        self._due_entries = 0
        #: Every waiting record in the order it came (lazily pruned), for ``max_held``.
        self._fifo: deque[_Held] = deque()
        self._count = 0
        self._seq = 0
        #: Per host, per log: the latest time of that log's records; under None, the host's.
        self._clocks: dict[str, dict[str | None, int]] = {}
        # Evidence of clock offsets: per log, per key, the recent (start, end), oldest first; a
        # record is compared with the other log's only, so a key seen often in one log (a pid
        # and image that come back all day) costs nothing.
        self._recent: dict[str, dict[tuple[str, int, str], list[tuple[int | None, int | None]]]] = {
            SYSMON: {},
            SECURITY: {},
        }
        #: (log, key) of every remembered record, oldest first, for ``evidence_size``.
        self._recent_order: deque[tuple[str, tuple[str, int, str]]] = deque()
        #: Per host: pairs merged (their logs agree).
        self._aligned: dict[str, int] = {}
        self._apart: dict[str, Counter[int]] = {}

    @property
    def tolerance(self) -> float:
        """The tolerance in seconds."""
        return self._tolerance / NS_PER_SECOND

    def __len__(self) -> int:
        """How many records wait for a partner."""
        return self._count

    def feed(self, record: Record) -> list[Record]:
        """Take one record; return the records that leave now (maybe none, maybe several)."""
        image = record.image
        channel = record.channel
        # log_of(record), inline: this runs once per record of the whole output.
        if image is None:
            return [record]
        if channel == SYSMON:
            log = SYSMON
        elif channel is None and record.provenance and record.provenance[0] in _VISTA_EVENTS:
            log = SECURITY
        else:
            return [record]
        out: list[Record] = []
        host = record.host
        key = (host, record.pid, image.casefold())
        clocks = self._clocks.get(host)
        if clocks is None:
            clocks = self._clocks[host] = {}
            if len(self._clocks) > self._max_held + _IDLE_HOSTS:
                self._forget_idle_hosts()
        latest = record.first_seen  # the latest time the record names
        start, end = record.start, record.end
        if start is not None and start > latest:
            latest = start
        if end is not None and end > latest:
            latest = end
        mark = clocks.get(log, latest)
        if latest > mark:
            mark = latest
        clocks[log] = mark
        # The host's clock (the later of its logs'), under the key None.
        host_clock = clocks.get(None, mark)
        if mark > host_clock:
            host_clock = mark
        clocks[None] = host_clock
        others = self._held[SECURITY if log is SYSMON else SYSMON]
        partner = self._partner(others[key], record) if key in others else None
        if partner is not None:
            self._aligned[host] = self._aligned.get(host, 0) + 1
            merged = _merged(record, log, partner.record)
            self.stats.merged += 1
            if self._on_merge is not None:
                sysmon, security = (
                    (record, partner.record) if log == SYSMON else (partner.record, record)
                )
                self._on_merge(sysmon, security, merged)
            out.append(merged)
        else:
            self._hold(record, log, key, mark + self._window, host)
        heap = self._due.get(host)
        if heap and heap[0][0] <= host_clock:
            self._release_due(host, host_clock, out)
        while self._count > self._max_held:
            self._evict_oldest(out)
        return out

    def feed_many(self, records: Iterable[Record]) -> list[Record]:
        """:meth:`feed` each record, in order; every record that left, in order."""
        out: list[Record] = []
        for record in records:
            out += self.feed(record)
        return out

    def close(self) -> list[Record]:
        """Release every waiting record, in the order they came; the merger starts afresh."""
        out: list[Record] = []
        for held in self._fifo:
            if not held.out:
                self._alone(held, out)
        for of_log in self._held.values():
            of_log.clear()
        self._due.clear()
        self._fifo.clear()
        self._clocks.clear()
        self._count = self._due_entries = 0
        return out

    def offsets(self) -> list[ClockOffset]:
        """The hosts whose two logs look a constant offset apart (see the module docs), by
        host name."""
        found = []
        reach = max(1, math.ceil(self._tolerance / NS_PER_SECOND))
        for host in sorted(self._apart):
            bins = self._apart[host]
            best = max(
                bins,
                key=lambda s: (
                    sum(bins.get(s + d, 0) for d in range(-reach, reach + 1)),
                    bins[s],
                    -abs(s),
                ),
            )
            evidence = sum(bins.get(best + d, 0) for d in range(-reach, reach + 1))
            aligned = self._aligned.get(host, 0)
            if evidence >= MIN_EVIDENCE and evidence > aligned:
                found.append(
                    ClockOffset(
                        host=host, offset=best * NS_PER_SECOND, pairs=evidence, aligned=aligned
                    )
                )
        return found

    # -- saved state -----------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """Everything this merger holds, as plain JSON-ready data with a format version.

        :meth:`from_state` builds a merger that goes on exactly as this one would: the same
        records, stats and offsets for the same further calls (a property test cuts streams
        anywhere to check it). ``on_merge`` is not part of it. Take it between calls.
        """
        index: dict[tuple[str, tuple[str, int, str]], int] = {}
        recent = []
        for log, key in self._recent_order:
            at = index.get((log, key), 0)
            index[log, key] = at + 1
            start, end = self._recent[log][key][at]
            recent.append([key[0], key[1], key[2], log, start, end])
        return {
            "format": LOG_MERGER_FORMAT,
            "settings": {
                "tolerance": self._tolerance,
                "window": self._window,
                "max_held": self._max_held,
                "evidence_size": self._evidence_size,
            },
            "seq": self._seq,
            "stats": attrs.asdict(self.stats),
            "waiting": [
                {
                    "record": record_to_data(held.record),
                    "log": held.log,
                    "deadline": held.deadline,
                    "seq": held.seq,
                }
                for held in self._fifo
                if not held.out
            ],
            # Heaps as they are, stale entries (paired records) included: when a host's heap
            # is dropped and its clocks forgotten must not depend on a restart.
            "due": [
                [host, [[deadline, seq] for deadline, seq, _ in heap]]
                for host, heap in self._due.items()
            ],
            "clocks": [
                [host, [[log, time] for log, time in clocks.items()]]
                for host, clocks in self._clocks.items()
            ],
            "recent": recent,
            "aligned": [[host, count] for host, count in self._aligned.items()],
            "apart": [[host, list(map(list, bins.items()))] for host, bins in self._apart.items()],
        }

    @classmethod
    def from_state(
        cls, data: Any, *, on_merge: Callable[[Record, Record, Record], object] | None = None
    ) -> LogMerger:
        """A merger that goes on where the one that gave ``data`` (:meth:`state`) was.

        The settings are the saved ones. Raises :class:`~correlog.StateError` for a state of
        another format or a damaged one; nothing is half-loaded.
        """
        data = expect(data, dict, "the log merger state")
        if data.get("format") != LOG_MERGER_FORMAT:
            raise StateError(
                f"not a log merger state of format {LOG_MERGER_FORMAT!r}: {data.get('format')!r}"
            )
        config = expect(data.get("settings"), dict, "settings")
        tolerance = expect(config.get("tolerance"), int, "tolerance")
        window = expect(config.get("window"), int, "window")
        try:
            new = cls(
                tolerance=tolerance / NS_PER_SECOND,
                window=window / NS_PER_SECOND,
                max_held=expect(config.get("max_held"), int, "max_held"),
                evidence_size=expect(config.get("evidence_size"), int, "evidence_size"),
                on_merge=on_merge,
            )
            stats = MergeStats(**expect(data.get("stats"), dict, "stats"))
        except (UsageError, TypeError) as exc:
            raise StateError(f"damaged state: {exc}") from exc
        for name in attrs.fields_dict(MergeStats):
            expect(getattr(stats, name), int, f"stats {name}")
        new._tolerance, new._window = tolerance, window  # exact, whatever the floats did
        new.stats = stats
        new._restore(data)
        return new

    def _restore(self, data: dict[str, Any]) -> None:
        self._seq = expect(data.get("seq"), int, "seq")
        waiting: dict[int, _Held] = {}
        for raw in expect(data.get("waiting"), list, "waiting records"):
            item = expect(raw, dict, "a waiting record")
            record = _saved_record(item.get("record"))
            log = item.get("log")
            if record.image is None or log not in (SYSMON, SECURITY) or log != log_of(record):
                raise StateError(f"damaged state: a waiting record of log {log!r}")
            seq = expect(item.get("seq"), int, "a waiting record's seq")
            if seq in waiting or seq > self._seq:
                raise StateError(f"damaged state: waiting record seq {seq!r}")
            key = (record.host, record.pid, record.image.casefold())
            deadline = expect(item.get("deadline"), int, "a deadline")
            log = SYSMON if log == SYSMON else SECURITY
            held = waiting[seq] = _Held(record, log, key, deadline, seq)
            self._held[log].setdefault(key, []).append(held)
            self._fifo.append(held)
        self._count = len(waiting)
        queued: set[int] = set()
        for item in expect(data.get("due"), list, "due"):
            host, entries = _pair(item, "a due list")
            heap: list[tuple[int, int, _Held]] = []
            for entry in expect(entries, list, "due entries"):
                deadline, seq = (expect(v, int, "a due entry") for v in _pair(entry, "a due entry"))
                found = waiting.get(seq)
                if found is None:
                    found = _gone(deadline, seq)
                elif found.key[0] != host or found.deadline != deadline or seq in queued:
                    raise StateError(f"damaged state: due entry {entry!r} of host {host!r}")
                queued.add(seq)
                heap.append((deadline, seq, found))
            heapq.heapify(heap)
            self._due[expect(host, str, "a host")] = heap
        if not set(waiting) <= queued:
            raise StateError("damaged state: a waiting record is not due")
        self._due_entries = sum(map(len, self._due.values()))
        for item in expect(data.get("clocks"), list, "clocks"):
            host, logs = _pair(item, "a host's clocks")
            clocks: dict[str | None, int] = {}
            for entry in expect(logs, list, "clocks"):
                log, time = _pair(entry, "a clock")
                if log not in (SYSMON, SECURITY, None):
                    raise StateError(f"damaged state: a clock of log {log!r}")
                clocks[log] = expect(time, int, "a clock")
            self._clocks[expect(host, str, "a host")] = clocks
        for entry in expect(data.get("recent"), list, "recent records"):
            try:
                host, pid, image, log, start, end = expect(entry, list, "a recent record")
            except ValueError as exc:
                raise StateError(f"damaged state: recent record {entry!r}") from exc
            if log not in (SYSMON, SECURITY) or any(
                t is not None and (isinstance(t, bool) or not isinstance(t, int))
                for t in (start, end)
            ):
                raise StateError(f"damaged state: recent record {entry!r}")
            key = (
                expect(host, str, "a host"),
                expect(pid, int, "a pid"),
                expect(image, str, "an image"),
            )
            log = SYSMON if log == SYSMON else SECURITY
            self._recent[log].setdefault(key, []).append((start, end))
            self._recent_order.append((log, key))
        for entry in expect(data.get("aligned"), list, "aligned counts"):
            host, count = _pair(entry, "an aligned count")
            self._aligned[expect(host, str, "a host")] = expect(count, int, "a count")
        for entry in expect(data.get("apart"), list, "offset counts"):
            host, bins = _pair(entry, "offset counts")
            counter: Counter[int] = Counter()
            for item in expect(bins, list, "offset counts"):
                second, count = (expect(v, int, "an offset count") for v in _pair(item, "a bin"))
                counter[second] = count
            self._apart[expect(host, str, "a host")] = counter

    # -- waiting ---------------------------------------------------------------------------

    def _partner(self, waiting: list[_Held], record: Record) -> _Held | None:
        """The closest (then the first) of the other log's ``waiting`` records that pairs with
        ``record``, no longer waiting; None if none does."""
        tolerance = self._tolerance
        best: _Held | None = None
        best_distance = 0
        for held in waiting:
            distance = _closeness(held.record, record, tolerance)
            if distance is not None and (best is None or distance < best_distance):
                best, best_distance = held, distance
        if best is not None:
            self._drop(best)
        return best

    def _hold(
        self, record: Record, log: str, key: tuple[str, int, str], deadline: int, host: str
    ) -> None:
        self._seq += 1
        held = _Held(record, log, key, deadline, self._seq)
        self._held[log].setdefault(key, []).append(held)
        heapq.heappush(self._due.setdefault(host, []), (deadline, held.seq, held))
        self._due_entries += 1
        self._fifo.append(held)
        self._count += 1
        if self._count > self.stats.most_held:
            self.stats.most_held = self._count

    def _drop(self, held: _Held) -> None:
        """``held`` no longer waits (paired or released)."""
        held.out = True
        self._count -= 1
        held_of_log = self._held[held.log]
        waiting = held_of_log[held.key]
        waiting.remove(held)
        if not waiting:
            del held_of_log[held.key]
        if len(self._fifo) > 2 * self._count + 64:
            self._fifo = deque(h for h in self._fifo if not h.out)
        if self._due_entries > 2 * self._count + 64:
            self._compact_due()

    def _release_due(self, host: str, clock: int, out: list[Record]) -> None:
        heap = self._due.get(host)
        while heap and heap[0][0] <= clock:
            held = heapq.heappop(heap)[2]
            self._due_entries -= 1
            if not held.out:
                self._drop(held)
                self._alone(held, out)
            heap = self._due.get(host)  # a compaction may have replaced it
        if heap is not None and not heap:
            del self._due[host]

    def _alone(self, held: _Held, out: list[Record]) -> None:
        """``held`` leaves without a partner; only such records are evidence of an offset
        (a record that merges needs none)."""
        self.stats.alone += 1
        if self._evidence_size:
            self._witness(held.key, held.log, held.record)
        out.append(held.record)

    def _evict_oldest(self, out: list[Record]) -> None:
        while self._fifo:
            held = self._fifo.popleft()
            if not held.out:
                self._drop(held)
                self.stats.evicted += 1
                self._alone(held, out)
                return

    def _compact_due(self) -> None:
        for host in list(self._due):
            heap = [entry for entry in self._due[host] if not entry[2].out]
            heapq.heapify(heap)
            if heap:
                self._due[host] = heap
            else:
                del self._due[host]
        self._due_entries = sum(map(len, self._due.values()))

    def _forget_idle_hosts(self) -> None:
        """Too many hosts known: forget the clocks of those with nothing waiting (a forgotten
        host's next record starts its clocks afresh)."""
        for host in [h for h in self._clocks if h not in self._due]:
            del self._clocks[host]

    # -- evidence of clock offsets ---------------------------------------------------------

    def _witness(self, key: tuple[str, int, str], log: str, record: Record) -> None:
        start, end = record.start, record.end
        others = self._recent[SECURITY if log == SYSMON else SYSMON].get(key)
        if others:
            self._count_offsets(key[0], log, start, end, others)
        recent = self._recent[log]
        entries = recent.get(key)
        if entries is None:
            entries = recent[key] = []
        entries.append((start, end))
        order = self._recent_order
        order.append((log, key))
        if len(order) > self._evidence_size:
            old_log, old = order.popleft()
            kept = self._recent[old_log][old]
            del kept[0]
            if not kept:
                del self._recent[old_log][old]

    def _count_offsets(
        self,
        host: str,
        log: str,
        start: int | None,
        end: int | None,
        others: list[tuple[int | None, int | None]],
    ) -> None:
        """Count the offsets between a record of ``log`` and the other log's recent records of
        its key (``others``), oldest first."""
        for other_start, other_end in others:
            if start is not None and other_start is not None:
                delta = start - other_start
            elif end is not None and other_end is not None:
                delta = end - other_end
            else:
                continue
            if log == SYSMON:
                delta = -delta  # always the Security log's time minus Sysmon's
            if abs(delta) <= self._tolerance:
                continue  # such a pair merges (counted as aligned then), or merged already
            bins = self._apart.get(host)
            if bins is None:
                if len(self._apart) >= _MAX_HOSTS:
                    continue
                bins = self._apart[host] = Counter()
            second = round(delta / NS_PER_SECOND)
            if second in bins or len(bins) < _MAX_BINS:
                bins[second] += 1


class AlertMerger:
    """One alert per rule and process across logs: an alert on one log's view of a process is
    raised at once; the same rule's alert on the other log's view of that process (see
    :func:`pairs`) is not. Remembers the last ``size`` alerts."""

    def __init__(self, *, tolerance: float = TOLERANCE, size: int = 4096) -> None:
        self._tolerance = _seconds_ns(tolerance, "tolerance", positive=False)
        self._size = size
        self._seen: dict[tuple[str, str, int, str], list[Record]] = {}
        self._order: deque[tuple[str, str, int, str]] = deque()
        #: Alerts not raised again.
        self.merged = 0

    def keep(self, alert: Alert) -> bool:
        """False for an alert the other log's view of the same process already raised."""
        record = alert.record
        if record is None or record.image is None or log_of(record) is None:
            return True
        key = (alert.rule, record.host, record.pid, record.image.casefold())
        seen = self._seen.get(key)
        if seen is not None and any(pairs(record, other, self._tolerance) for other in seen):
            self.merged += 1
            return False
        self._seen.setdefault(key, []).append(record)
        self._order.append(key)
        if len(self._order) > self._size:
            old = self._order.popleft()
            kept = self._seen[old]
            del kept[0]
            if not kept:
                del self._seen[old]
        return True

    def state(self) -> dict[str, Any]:
        """The alerts remembered, as plain JSON-ready data with a format version."""
        index: dict[tuple[str, str, int, str], int] = {}
        seen = []
        for key in self._order:
            at = index.get(key, 0)
            index[key] = at + 1
            seen.append([key[0], record_to_data(self._seen[key][at])])
        return {
            "format": ALERT_MERGER_FORMAT,
            "settings": {"tolerance": self._tolerance, "size": self._size},
            "merged": self.merged,
            "seen": seen,
        }

    @classmethod
    def from_state(cls, data: Any) -> AlertMerger:
        """An alert merger that goes on where the one that gave ``data`` (:meth:`state`) was;
        :class:`~correlog.StateError` for another format or a damaged state."""
        data = expect(data, dict, "the alert merger state")
        if data.get("format") != ALERT_MERGER_FORMAT:
            raise StateError(
                f"not an alert merger state of format {ALERT_MERGER_FORMAT!r}: "
                f"{data.get('format')!r}"
            )
        config = expect(data.get("settings"), dict, "settings")
        tolerance = expect(config.get("tolerance"), int, "tolerance")
        try:
            new = cls(
                tolerance=tolerance / NS_PER_SECOND, size=expect(config.get("size"), int, "size")
            )
        except UsageError as exc:
            raise StateError(f"damaged state: {exc}") from exc
        new._tolerance = tolerance
        new.merged = expect(data.get("merged"), int, "merged")
        for item in expect(data.get("seen"), list, "alerts seen"):
            rule, raw = _pair(item, "an alert seen")
            record = _saved_record(raw)
            if record.image is None or log_of(record) is None:
                raise StateError(f"damaged state: an alert seen on a record of no log: {raw!r}")
            key = (expect(rule, str, "a rule"), record.host, record.pid, record.image.casefold())
            new._seen.setdefault(key, []).append(record)
            new._order.append(key)
        return new

    def filter(self, alerts: Iterable[Alert]) -> list[Alert]:
        """The alerts to raise, in order."""
        return [alert for alert in alerts if self.keep(alert)]


def _saved_record(data: Any) -> Record:
    """A record of a saved state, its key fields checked (the merger's keys are made of them)."""
    record = Record._make(record_from_data(data))
    expect(record.host, str, "a record's host")
    expect(record.pid, int, "a record's pid")
    if record.image is not None:
        expect(record.image, str, "a record's image")
    if record.channel is not None:
        expect(record.channel, str, "a record's log")
    expect(record.provenance, tuple, "a record's provenance")
    return record


def _gone(deadline: int, seq: int) -> _Held:
    """A heap entry's record that no longer waits (paired): only its place in the heap."""
    held = _Held.__new__(_Held)
    held.out, held.deadline, held.seq = True, deadline, seq
    return held


def _pair(value: Any, what: str) -> tuple[Any, Any]:
    """A two-item list of a saved state, or a :class:`StateError` naming ``what``."""
    value = expect(value, list, what)
    if len(value) != 2:
        raise StateError(f"damaged state: {what} is {value!r}")
    return value[0], value[1]


# -- constant offsets the user knows: --log-offset -----------------------------------------

_OFFSET = re.compile(
    r"^(?:(?P<host>[^/=]+)/)?(?P<log>security|sysmon)=(?P<value>[+-]?\d+(?:\.\d+)?)(?P<unit>[smh]?)$",
    re.IGNORECASE,
)
_UNITS: Final = {"": 1, "s": 1, "m": 60, "h": 3600}


def parse_log_offset(text: str) -> tuple[tuple[str | None, str], int]:
    """``[HOST/]LOG=SECONDS`` (LOG ``security`` or ``sysmon``; a ``s``, ``m`` or ``h`` suffix
    allowed) -> ((host case-folded or None for every host, log), nanoseconds to add)."""
    found = _OFFSET.match(text.strip())
    if found is None:
        raise UsageError(
            f"--log-offset takes [HOST/]security=SECONDS or [HOST/]sysmon=SECONDS "
            f"(e.g. security=+16h), not {text!r}"
        )
    value = float(found["value"]) * _UNITS[found["unit"].lower()]
    host = found["host"]
    return (None if host is None else host.strip().casefold(), found["log"].lower()), round(
        value * NS_PER_SECOND
    )


def shift_events(events: Iterable[Event], offsets: LogOffsets) -> Iterator[Event]:
    """The events, each log's times moved by its offset (a host's own before every host's).

    Host events (log cleared, restart, lost audits) belong to the Security log."""
    if not offsets:
        yield from events
        return
    for event in events:
        channel = event.channel if isinstance(event, ProcessEvent) else None
        log = SECURITY if channel is None else channel
        shift = offsets.get((event.host, log))
        if shift is None:
            shift = offsets.get((None, log))
        yield event._replace(time=event.time + shift) if shift else event
