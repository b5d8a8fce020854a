"""The Beam pipeline gives the in-process correlator's records, field for field."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("apache_beam")

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import correlog
from correlog import Event, HostEvent, ProcessEvent
from tests.strategies import streams

from .pipelines import assert_pipeline_gives, in_process

SAMPLE = Path(correlog.__file__).parent / "samples" / "iis-intrusion.snare"
SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
#: The shared files with process events: the legacy transports, EVTX samples, OTRF archives.
SHARED_FILES = ("legacy/iis.*", "evtx/*.evtx", "json/*.zip")


def test_bundled_sample_gives_the_same_records() -> None:
    events = list(correlog.read(SAMPLE))
    expected = in_process(events, ttl=3600)
    assert expected  # the sample has processes
    assert_pipeline_gives(events, expected, ttl=3600)
    assert_pipeline_gives(events, expected, ttl=3600, seed=1, release_early=True)


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
def test_generated_streams_give_the_same_records(
    stream: list[ProcessEvent | HostEvent], ttl: float, seed: int, release_early: bool
) -> None:
    """Pid reuse, orphans, expiry, restarts, log clears, epochs: a few hosts, shuffled; folded
    at the end of the input, or as the watermark passes (the streaming path)."""
    expected = in_process(stream, ttl=ttl)
    assert_pipeline_gives(stream, expected, ttl=ttl, seed=seed, release_early=release_early)


def test_expiry_and_pid_reuse_far_apart_on_shuffled_input() -> None:
    """The naive per-key DoFn merged two processes reusing a pid 8,000 s apart: not this one."""
    s = 1_000_000_000
    base = 1_700_000_000 * s

    def event(kind: correlog.EventKind, t: int, rn: int, pid: int = 8) -> ProcessEvent:
        return ProcessEvent(
            kind=kind, host="web1", pid=pid, time=base + t * s, event_id=592, record_number=rn
        )

    stream: list[Event] = [
        event(correlog.EventKind.CREATED, 0, 1),
        event(correlog.EventKind.CREATED, 3000, 2, pid=12),
        event(correlog.EventKind.CREATED, 6000, 3, pid=16),
        event(correlog.EventKind.CREATED, 8000, 4),
        event(correlog.EventKind.EXITED, 8001, 5),
    ]
    expected = in_process(stream, ttl=3600)
    outcomes = sorted((rec["pid"], rec["reason"]) for rec in map(json.loads, expected))
    assert outcomes == [(8, "exited"), (8, "expired"), (12, "expired"), (16, "flushed")]
    assert_pipeline_gives(stream, expected, ttl=3600, seed=3)


def shared_events(patterns: tuple[str, ...] = SHARED_FILES) -> list[Event]:
    """The events of the shared files matching ``patterns`` (skips when they are absent)."""
    if not SHARED.is_dir():
        pytest.skip("the shared sample data is not beside this checkout")
    events: list[Event] = []
    for pattern in patterns:
        for path in sorted(SHARED.glob(pattern)):
            events.extend(correlog.read(path))
    return events


def test_shared_transports_evtx_and_otrf_archives_give_the_same_records() -> None:
    events = shared_events()
    expected = in_process(events, ttl=3600)
    assert len(expected) > 100
    assert_pipeline_gives(events, expected, ttl=3600, seed=1)


def test_import_correlog_does_not_import_beam() -> None:
    """Nor does its command line, which only imports Beam when ``correlog beam`` runs."""
    code = (
        "import sys, correlog, correlog.cli; correlog.cli._parser();"
        " assert 'apache_beam' not in sys.modules, 'beam imported'"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(correlog.__file__).parents[1])}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
