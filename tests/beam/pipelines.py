"""Helpers for the Beam tests: run a pipeline on a named runner, and the in-process oracles."""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.runners.portability.fn_api_runner.fn_runner import FnApiRunner
from apache_beam.testing.util import assert_that, equal_to

from correlog import Alert, Correlator, Event, Monitor, sinks
from correlog.beam import AlertByHost, CorrelateByHost, event_order
from correlog.live import alert_id, alert_text
from correlog.rules import AnonymousWeb, AuditTamper, RuleLike, WebServerChild


def watch_rules() -> list[RuleLike]:
    """Every built-in rule of ``correlog watch``: the web rules and the audit trail's."""
    return [AnonymousWeb(), WebServerChild(), AuditTamper()]


def alert_line(alert: Alert) -> str:
    """An alert as the live monitor sends it: its stable id, then every field, record included."""
    return alert_text(alert, alert_id(alert))


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


def monitor_in_process(
    events: Iterable[Event], rules: Sequence[RuleLike], *, ttl: float
) -> tuple[list[str], list[str]]:
    """The in-process monitor's alerts and records (as :func:`in_process`'s), each host's events
    in the fold order, then closed."""
    records: list[str] = []
    monitor = Monitor(
        rules,
        correlator=Correlator(ttl=ttl),
        on_record=lambda record: records.append(sinks.dumps(record)),
    )
    alerts = monitor.feed_many(sorted(events, key=event_order))
    alerts += monitor.close()
    return [alert_line(alert) for alert in alerts], records


def assert_alerts_give(
    events: Sequence[Event],
    rules: Sequence[RuleLike],
    expected: tuple[list[str], list[str]],
    *,
    ttl: float,
    seed: int = 0,
    release_early: bool | None = None,
) -> None:
    """Run AlertByHost (alerts and records) on ``events`` shuffled, on the FnApiRunner; compare
    both, as multisets, with ``expected`` (:func:`monitor_in_process`'s)."""
    shuffled = list(events)
    random.Random(seed).shuffle(shuffled)
    with beam.Pipeline(runner=FnApiRunner(), options=PipelineOptions()) as pipeline:
        alerts, records = (
            pipeline
            | "Events" >> beam.Create(shuffled, reshuffle=False)
            | AlertByHost(rules, ttl=ttl, release_early=release_early, records=True)
        )
        lines = alerts | "AlertJson" >> beam.Map(alert_line)
        assert_that(lines, equal_to(expected[0]), label="Alerts")
        texts = records | "RecordJson" >> beam.Map(sinks.dumps)
        assert_that(texts, equal_to(expected[1]), label="Records")
