"""Timing on a shared, noisy machine: alternating pairs against a baseline, and medians.

An absolute rate measured here says as much about the neighbours as about the code, so every
subject is timed right next to a baseline run in the same process on the same events: one
*pair* is (baseline, subject) or (subject, baseline), the order alternating from one pair to
the next so that neither side always runs warm or always runs second. Each pair gives one
ratio of rates; a figure is the median of several pairs, which a few disturbed pairs cannot
move much.

The garbage collector stays on, as it is in production, but the inputs (a million live event
tuples) are moved out of its reach with :func:`frozen_gc`: otherwise each full collection
would rescan them all and the numbers would measure the collector's walk over the input, which
a real consumer does not hold.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from .cases import Case, Workload

__all__ = ["Duel", "Pairs", "Side", "frozen_gc", "measure_pairs", "time_once"]


@contextmanager
def frozen_gc() -> Iterator[None]:
    """Collect, then freeze every object alive so far out of the collector's scans.

    Use it after building the inputs: they stay alive (and referenced) but full collections
    no longer walk them. Objects made inside the block are collected as usual.
    """
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def time_once(case: Case, work: Workload) -> int:
    """Nanoseconds one whole pass of ``case`` over ``work`` takes."""
    run = case.run
    start = time.perf_counter_ns()
    run(work)
    return max(time.perf_counter_ns() - start, 1)


@dataclass(slots=True)
class Pairs:
    """Timings of a subject and of the baseline it was paired with, pair by pair."""

    subject: Case
    baseline: Case
    subject_items: int
    baseline_items: int
    subject_ns: list[int] = field(default_factory=list)
    baseline_ns: list[int] = field(default_factory=list)

    def add(self, work: Workload, *, subject_first: bool) -> None:
        """Time one more pair, in the order given."""
        if subject_first:
            s = time_once(self.subject, work)
            b = time_once(self.baseline, work)
        else:
            b = time_once(self.baseline, work)
            s = time_once(self.subject, work)
        self.subject_ns.append(s)
        self.baseline_ns.append(b)

    @property
    def ratios(self) -> list[float]:
        """Per pair: the subject's rate over the baseline's (items per second, each)."""
        return [
            (self.subject_items / s) / (self.baseline_items / b)
            for s, b in zip(self.subject_ns, self.baseline_ns, strict=True)
        ]

    @property
    def ratio(self) -> float:
        """Median of :attr:`ratios`: above 1 the subject is faster than the baseline."""
        return statistics.median(self.ratios)

    @property
    def rate(self) -> float:
        """The subject's median rate, items per second (noisy: prefer :attr:`ratio`)."""
        return self.subject_items * 1e9 / statistics.median(self.subject_ns)

    @property
    def ns_per_item(self) -> float:
        """The subject's median time per item, ns."""
        return statistics.median(self.subject_ns) / self.subject_items


def measure_pairs(subject: Case, baseline: Case, work: Workload, pairs: int) -> Pairs:
    """Time ``pairs`` alternating pairs of ``subject`` and ``baseline`` on ``work``."""
    result = Pairs(subject, baseline, subject.items(work), baseline.items(work))
    for i in range(pairs):
        result.add(work, subject_first=bool(i % 2))
    return result


#: A prepared pass: called once, timed, returns a small answer (a count) for checks.
Pass = Callable[[], object]


@dataclass(frozen=True, slots=True)
class Side:
    """One side of a :class:`Duel`: what one timed pass does, and how many items it handles.

    ``prepare`` runs untimed before every pass (build a fresh engine, pre-fill a correlator,
    open nothing that the pass itself should pay for) and returns the pass to time.
    """

    name: str
    #: Items one pass handles (events, lines, records).
    items: int
    prepare: Callable[[], Pass]

    def time(self) -> tuple[int, object]:
        """Prepare (untimed), then time one pass: ``(nanoseconds, answer)``."""
        run = self.prepare()
        start = time.perf_counter_ns()
        answer = run()
        return max(time.perf_counter_ns() - start, 1), answer


@dataclass(slots=True)
class Duel:
    """A subject and a baseline timed in alternating pairs (see the module docs).

    Unlike :class:`Pairs` the two sides may be anything (an engine, a reader over a file), and
    each pass may have an untimed preparation.
    """

    subject: Side
    baseline: Side
    subject_ns: list[int] = field(default_factory=list)
    baseline_ns: list[int] = field(default_factory=list)
    #: The answers of the last pass of each side.
    answers: tuple[object, object] = (None, None)

    def run(self, pairs: int, *, warmup: bool = True) -> Duel:
        """Time ``pairs`` pairs, alternating which side goes first; one untimed pair first."""
        if warmup:
            self.subject.time()
            self.baseline.time()
        for i in range(pairs):
            if i % 2:
                s, s_answer = self.subject.time()
                b, b_answer = self.baseline.time()
            else:
                b, b_answer = self.baseline.time()
                s, s_answer = self.subject.time()
            self.subject_ns.append(s)
            self.baseline_ns.append(b)
            self.answers = (s_answer, b_answer)
        return self

    @property
    def ratios(self) -> list[float]:
        """Per pair: the subject's rate over the baseline's."""
        return [
            (self.subject.items / s) / (self.baseline.items / b)
            for s, b in zip(self.subject_ns, self.baseline_ns, strict=True)
        ]

    @property
    def ratio(self) -> float:
        """Median of :attr:`ratios`: above 1 the subject is faster than the baseline."""
        return statistics.median(self.ratios)

    @property
    def subject_rate(self) -> float:
        """The subject's median rate, items per second (noisy)."""
        return self.subject.items * 1e9 / statistics.median(self.subject_ns)

    @property
    def baseline_rate(self) -> float:
        """The baseline's median rate, items per second (noisy)."""
        return self.baseline.items * 1e9 / statistics.median(self.baseline_ns)

    @property
    def extra_ns(self) -> list[float]:
        """Per pair: nanoseconds per item the subject spends beyond the baseline."""
        return [
            s / self.subject.items - b / self.baseline.items
            for s, b in zip(self.subject_ns, self.baseline_ns, strict=True)
        ]

    def spread(self) -> str:
        """``median [min-max]`` of the ratios, for a table cell."""
        ratios = self.ratios
        return f"{self.ratio:.2f} [{min(ratios):.2f}-{max(ratios):.2f}]"
