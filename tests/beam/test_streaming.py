"""Streaming: records come out as the watermark passes; late data is counted, never dropped."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("apache_beam")

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.runners.direct.direct_runner import BundleBasedDirectRunner
from apache_beam.testing import test_stream
from apache_beam.transforms.window import TimestampedValue

from correlog import EventKind, ProcessEvent, sinks
from correlog.beam import CorrelateByHost

S = 1_000_000_000
#: What the pipeline emitted (the direct runner runs in this process). Not through
#: ``assert_that``: in streaming its grouping drops what the end-of-input timer emits.
COLLECTED: list[str] = []


def _event(kind: EventKind, seconds: int, record_number: int, pid: int) -> ProcessEvent:
    return ProcessEvent(
        kind=kind,
        host="web1",
        pid=pid,
        time=seconds * S,
        event_id=592 if kind is EventKind.CREATED else 593,
        record_number=record_number,
    )


def _stamped(*events: ProcessEvent) -> list[TimestampedValue[ProcessEvent]]:
    return [TimestampedValue(event, event.time / S) for event in events]


def _collect(line: str) -> None:
    COLLECTED.append(line)


def _outcome(line: str) -> tuple[int, str]:
    record = json.loads(line)
    return record["pid"], record["reason"]


def _run(*, expire_idle: bool) -> None:
    stream = (
        test_stream.TestStream()
        .add_elements(
            _stamped(
                _event(EventKind.CREATED, 100, 1, pid=8),
                _event(EventKind.CREATED, 110, 2, pid=16),
            )
        )
        .advance_watermark_to(105)
        # Behind what was folded at 105 s: late. A creation of a process not open: its own record.
        .add_elements(_stamped(_event(EventKind.CREATED, 50, 3, pid=12)))
        # Behind the watermark but not behind the fold: still put in order.
        .add_elements(_stamped(_event(EventKind.EXITED, 101, 4, pid=8)))
        .advance_watermark_to(300)
        .advance_watermark_to_infinity()
    )
    options = PipelineOptions([])
    options.view_as(StandardOptions).streaming = True
    COLLECTED.clear()
    with beam.Pipeline(runner=BundleBasedDirectRunner(), options=options) as pipeline:
        _ = (
            pipeline
            | stream
            | CorrelateByHost(ttl=60, expire_idle=expire_idle)
            | beam.Map(sinks.dumps)
            | beam.Map(_collect)
        )
    expected = [(8, "exited"), (12, "late"), (16, "expired" if expire_idle else "flushed")]
    assert sorted(map(_outcome, COLLECTED)) == expected


def test_late_data_and_a_quiet_host_expiring_as_the_watermark_passes_its_ttl() -> None:
    _run(expire_idle=True)


def test_without_idle_expiry_the_end_of_the_stream_flushes() -> None:
    _run(expire_idle=False)
