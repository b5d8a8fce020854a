"""Prometheus metrics: the same numbers as the counters' snapshot, over a real HTTP scrape."""

from __future__ import annotations

import urllib.request
from typing import Any

import pytest

from correlog.live.metrics import render, serve_metrics

parser = pytest.importorskip("prometheus_client.parser")

SNAPSHOT: dict[str, Any] = {
    "uptime": 12.5,
    "events": {"created": 7, "exited": 5},
    "skipped": {"lines": 13, "skipped": 1, "skipped_by_reason": {"not a snare record": 1}},
    "records": {"exited": 5},
    "alerts": {"anonymous-web": 2},
    "open": 2,
    "outbox": {"depth": 3, "dropped": 4, "limit": 100},
    "sinks": {"mail": {"delivered": 9, "failures": 2, "retries": 1, "failing": 1}},
    "sources": {"security": {"lines": 13, "rotations": 1}, "syslog": {"queue_full": 6}},
}


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in parser.text_string_to_metric_families(text)
        for sample in family.samples
        if not sample.name.endswith("_created")
    }


def test_a_scrape_shows_the_snapshot() -> None:
    server = serve_metrics(("127.0.0.1", 0), lambda: SNAPSHOT)
    try:
        url = f"http://127.0.0.1:{server.address[1]}/metrics"
        with urllib.request.urlopen(url, timeout=10) as answer:
            text = answer.read().decode()
    finally:
        server.stop()
    found = samples(text)
    assert found[("correlog_events_total", (("kind", "created"),))] == 7
    assert found[("correlog_records_total", (("reason", "exited"),))] == 5
    assert found[("correlog_alerts_total", (("rule", "anonymous-web"),))] == 2
    assert found[("correlog_lines_skipped_total", (("reason", "not a snare record"),))] == 1
    assert found[("correlog_open_entries", ())] == 2
    assert found[("correlog_outbox_depth", ())] == 3
    assert found[("correlog_outbox_dropped_total", ())] == 4
    assert found[("correlog_sink_failures_total", (("sink", "mail"),))] == 2
    assert found[("correlog_sink_retries_total", (("sink", "mail"),))] == 1
    assert found[("correlog_source_rotations_total", (("source", "security"),))] == 1
    assert found[("correlog_source_queue_full_total", (("source", "syslog"),))] == 6


def test_an_empty_snapshot_renders_no_samples() -> None:
    assert samples(render(lambda: {}).decode()) == {}
    assert samples(render(lambda: SNAPSHOT).decode())[("correlog_outbox_limit", ())] == 100
