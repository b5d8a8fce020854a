"""Timing on a shared, noisy machine: a subject against a baseline, in alternating pairs.

An absolute rate measured here says as much about the neighbours as about the code, so every
subject is timed right next to a baseline run in the same process on the same input: one pair
is (baseline, subject) or (subject, baseline), the order alternating so that neither side always
runs warm or second. Each pair gives one ratio of rates; a figure is the median of the pairs,
which a few disturbed pairs cannot move much.

The garbage collector stays on, as in production, but the inputs are moved out of its reach
with :func:`frozen_gc`: otherwise each full collection would rescan a million live event tuples
and the figures would measure that walk, which a streaming consumer does not hold.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

__all__ = ["Duel", "Pass", "Side", "frozen_gc"]

#: A prepared pass: called once, timed, returns a small answer (a count) for the checks.
Pass = Callable[[], object]


@contextmanager
def frozen_gc() -> Iterator[None]:
    """Collect, then freeze every object alive so far out of the collector's scans."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@dataclass(frozen=True, slots=True)
class Side:
    """One side of a :class:`Duel`: its name, the items one pass handles, its preparation.

    ``prepare`` runs untimed before every pass (a fresh engine, a pre-filled correlator) and
    returns the pass to time.
    """

    name: str
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
    """A subject and its baseline, timed in alternating pairs after one untimed pair."""

    subject: Side
    baseline: Side
    subject_ns: list[int] = field(default_factory=list)
    baseline_ns: list[int] = field(default_factory=list)
    #: The answers of the last pass of each side.
    answers: tuple[object, object] = (None, None)

    def run(self, pairs: int) -> Duel:
        """Time ``pairs`` pairs, alternating which side goes first."""
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
        """Per pair: the subject's rate over the baseline's (above 1: the subject is faster)."""
        return [
            (self.subject.items / s) / (self.baseline.items / b)
            for s, b in zip(self.subject_ns, self.baseline_ns, strict=True)
        ]

    @property
    def ratio(self) -> float:
        """The median of :attr:`ratios`."""
        return statistics.median(self.ratios)

    @property
    def subject_rate(self) -> float:
        """The subject's median rate, items per second (noisy: read it for its order)."""
        return self.subject.items * 1e9 / statistics.median(self.subject_ns)

    @property
    def baseline_rate(self) -> float:
        """The baseline's median rate, items per second."""
        return self.baseline.items * 1e9 / statistics.median(self.baseline_ns)

    def spread(self) -> str:
        """``median [min-max]`` of the ratios, for a table cell."""
        ratios = self.ratios
        return f"{self.ratio:.2f} [{min(ratios):.2f}-{max(ratios):.2f}]"
