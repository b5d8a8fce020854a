"""Alerts out of the pipeline: the in-process monitor's, rule for rule, field for field."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("apache_beam")

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import correlog
from correlog import Event, HostEvent, ProcessEvent
from correlog.beam import AlertByHost
from correlog.rules import AnonymousWeb, AuditTamper, RuleLike
from tests.strategies import streams

from .pipelines import assert_alerts_give, monitor_in_process, watch_rules
from .test_identical import SAMPLE, shared_events


def test_bundled_sample_gives_the_monitors_two_alerts() -> None:
    """``correlog watch --sample``'s rules: the two intrusions, one alert each."""
    events = list(correlog.read(SAMPLE))
    rules: list[RuleLike] = [AnonymousWeb(), AuditTamper()]
    expected = monitor_in_process(events, rules, ttl=3600)
    alerts = [json.loads(line) for line in expected[0]]
    assert sorted((alert["host"], alert["pid"]) for alert in alerts) == [
        ("web03", 2216),
        ("web2k", 1452),
    ]
    assert len({alert["id"] for alert in alerts}) == 2
    assert_alerts_give(events, rules, expected, ttl=3600)
    assert_alerts_give(events, rules, expected, ttl=3600, seed=1, release_early=True)


@settings(
    max_examples=16,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    stream=streams(max_size=40, lifecycle=True, shuffled_records=True),
    ttl=st.sampled_from([30.0, 120.0, 3600.0]),
    seed=st.integers(0, 2**16),
    release_early=st.booleans(),
)
def test_generated_streams_give_the_same_alerts(
    stream: list[ProcessEvent | HostEvent], ttl: float, seed: int, release_early: bool
) -> None:
    """Web accounts, web server parents, log clears and lost audits over a few hosts, with pid
    reuse, expiry and epochs, shuffled: the same alerts (ids, firing event, record as known
    then) and the same records, folded at the end or as the watermark passes."""
    expected = monitor_in_process(stream, watch_rules(), ttl=ttl)
    assert_alerts_give(
        stream, watch_rules(), expected, ttl=ttl, seed=seed, release_early=release_early
    )


def test_shared_transports_give_the_same_alerts() -> None:
    events: list[Event] = shared_events(("legacy/iis.*",))
    expected = monitor_in_process(events, watch_rules(), ttl=3600)
    assert expected[0], "the legacy IIS transports hold an intrusion"
    assert_alerts_give(events, watch_rules(), expected, ttl=3600, seed=2)


def test_rules_are_checked_where_the_pipeline_is_built() -> None:
    with pytest.raises(correlog.UsageError, match="at least one rule"):
        AlertByHost([])
    with pytest.raises(correlog.UsageError, match="unique"):
        AlertByHost([AuditTamper(), AuditTamper()])
