"""Alerts for the live tests: the sample intrusion's, and any number of distinct ones."""

from __future__ import annotations

from importlib import resources

import attrs

import correlog
from correlog import Alert
from correlog.rules import AnonymousWeb, WebServerChild

SAMPLE = resources.files("correlog") / "samples" / "iis-intrusion.snare"


def sample_lines() -> list[str]:
    """The sample intrusion's Snare lines (12 lines, 3 alerts)."""
    return SAMPLE.read_text(encoding="utf-8").splitlines()


def sample_alerts() -> list[Alert]:
    """The 3 alerts the sample intrusion raises."""
    monitor = correlog.Monitor([AnonymousWeb(), WebServerChild()])
    alerts = monitor.feed_many(correlog.read(sample_lines(), "snare"))
    return alerts + monitor.close()


def distinct_alerts(count: int) -> list[Alert]:
    """``count`` alerts that differ in process id (so in alert id), in order."""
    template = sample_alerts()[0]
    assert template.record is not None
    host, channel, _pid, time, rn = template.record.process_id
    return [
        attrs.evolve(
            template,
            pid=n,
            record=template.record._replace(pid=n, process_id=(host, channel, n, time, rn)),
        )
        for n in range(1, count + 1)
    ]
