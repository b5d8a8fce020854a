"""A guard against a collapse of the hot path, not a speed test.

``Correlator.feed_many`` is timed against the floor (:func:`benchmarks.cases.floor`) in the same
process, on the same ~50k events, in alternating pairs; the test looks at the median ratio of
rates only, so a noisy neighbour slowing a pair or two cannot fail it. It fails when the hot
path falls far below its usual share of the floor: an accidental quadratic, a per-event
allocation that sticks, a slow path taken for every event.

Where the bar sits, and why it is not the goal: ``feed_many`` runs at 0.15-0.16 of the floor
(CPython 3.11, see ``docs/performance.md``), so a bar at the performance issue's goal (half the
floor) would fail on the library as it is. :data:`COLLAPSE_BELOW` is half of the measured
share: a slowdown of 2x or worse. The goal is kept as a target, marked ``xfail`` (non-strict)
so that reaching it shows up as XPASS in the summary; raise :data:`COLLAPSE_BELOW` as the hot
path gets faster.
"""

from __future__ import annotations

import pytest

from .cases import FEED_MANY, FLOOR, make_workload
from .streams import make_stream
from .timing import Pairs, frozen_gc, measure_pairs, time_once

#: Fail when feed_many's median rate falls below this share of the floor's.
COLLAPSE_BELOW = 0.08
#: The performance issue's goal; not met by the library yet (see the module docs).
TARGET = 0.5
_EVENTS = 50_000
_PAIRS = 9


@pytest.fixture(scope="module")
def pairs() -> Pairs:
    """feed_many and the floor, timed in alternating pairs on one stream."""
    work = make_workload(make_stream(_EVENTS))
    with frozen_gc():
        time_once(FLOOR, work)  # warm up both before the pairs that count
        time_once(FEED_MANY, work)
        return measure_pairs(FEED_MANY, FLOOR, work, _PAIRS)


def _explain(pairs: Pairs) -> str:
    ratios = ", ".join(f"{r:.3f}" for r in sorted(pairs.ratios))
    return f"feed_many / floor, median {pairs.ratio:.3f} of {_PAIRS} pairs: {ratios}"


def test_feed_many_does_not_collapse(pairs: Pairs) -> None:
    assert pairs.ratio >= COLLAPSE_BELOW, _explain(pairs)


@pytest.mark.xfail(
    strict=False,
    reason="target not met: feed_many runs at ~0.16 of the floor (docs/performance.md)",
)
def test_feed_many_reaches_target(pairs: Pairs) -> None:
    assert pairs.ratio >= TARGET, _explain(pairs)
