"""Helpers for the Beam tests: run a pipeline on a named runner, and the in-process oracle."""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.runners.portability.fn_api_runner.fn_runner import FnApiRunner
from apache_beam.testing.util import assert_that, equal_to

from correlog import Correlator, Event, sinks
from correlog.beam import CorrelateByHost, event_order


def in_process(events: Iterable[Event], *, ttl: float, max_open: int = 100_000) -> list[str]:
    """The in-process correlator's records, each host's events in the fold order, then closed.

    Its ``max_open`` spans every host; tests keep it above what any stream opens, so it bounds
    as the per-host bound of the pipeline does (never).
    """
    correlator = Correlator(ttl=ttl, max_open=max_open)
    records = correlator.feed_many(sorted(events, key=event_order))
    records += correlator.close()
    return [sinks.dumps(record) for record in records]


def assert_pipeline_gives(
    events: Sequence[Event],
    expected: list[str],
    *,
    ttl: float,
    seed: int = 0,
    release_early: bool | None = None,
) -> None:
    """Run CorrelateByHost on ``events`` (shuffled) on the FnApiRunner; compare every field of
    the records, as a multiset, with ``expected``. ``release_early=True`` folds as the watermark
    passes, as on a stream (a bounded input otherwise folds at its end)."""
    shuffled = list(events)
    random.Random(seed).shuffle(shuffled)
    with beam.Pipeline(runner=FnApiRunner(), options=PipelineOptions()) as pipeline:
        records = (
            pipeline
            | "Events" >> beam.Create(shuffled, reshuffle=False)
            | CorrelateByHost(ttl=ttl, release_early=release_early)
            | "Json" >> beam.Map(sinks.dumps)
        )
        assert_that(records, equal_to(expected))
