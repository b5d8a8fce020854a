"""Streaming alerts: they come out as the watermark passes the event that decides them, and a
late event takes the correlator's own late path, as the in-process ordering window takes it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest

pytest.importorskip("apache_beam")

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.runners.direct.direct_runner import BundleBasedDirectRunner
from apache_beam.testing import test_stream
from apache_beam.transforms.window import GlobalWindow, TimestampedValue

from correlog import Correlator, EventKind, Monitor, ProcessEvent, sinks
from correlog.beam import AlertByHost
from correlog.rules import AnonymousWeb, RuleLike

from .pipelines import alert_line

S = 1_000_000_000
#: What the pipeline emitted: (alert or record, its JSON text, its Beam timestamp in seconds).
#: The direct runner runs in this process. Not through ``assert_that``: in streaming its
#: grouping drops what the end-of-input timer emits.
COLLECTED: list[tuple[str, str, float]] = []
#: The timestamp of what the end of the input emits: the end of the global window.
END_OF_INPUT = float(GlobalWindow().max_timestamp())
_EVENT_IDS = {EventKind.CREATED: 592, EventKind.TOKEN_ASSIGNED: 600, EventKind.EXITED: 593}


def _event(kind: EventKind, seconds: int, rn: int, pid: int, **fields: Any) -> ProcessEvent:
    return ProcessEvent(
        kind=kind,
        host="web1",
        pid=pid,
        time=seconds * S,
        event_id=_EVENT_IDS[kind],
        record_number=rn,
        **fields,
    )


def _stamped(*events: ProcessEvent) -> list[TimestampedValue[ProcessEvent]]:
    return [TimestampedValue(event, event.time / S) for event in events]


class _Collect(beam.DoFn):
    """Append each element, with its kind and timestamp, to this module's COLLECTED."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    def process(self, line: str, timestamp: Any = beam.DoFn.TimestampParam) -> None:
        COLLECTED.append((self.kind, line, float(timestamp)))


def _run(stream: test_stream.TestStream, rules: Sequence[RuleLike], **options: Any) -> None:
    """Run AlertByHost over ``stream`` on the direct runner in streaming mode into COLLECTED."""
    pipeline_options = PipelineOptions([])
    pipeline_options.view_as(StandardOptions).streaming = True
    COLLECTED.clear()
    with beam.Pipeline(runner=BundleBasedDirectRunner(), options=pipeline_options) as pipeline:
        alerts, records = pipeline | stream | AlertByHost(rules, records=True, **options)
        _ = alerts | "AlertJson" >> beam.Map(alert_line) | "Alerts" >> beam.ParDo(_Collect("alert"))
        _ = records | "Json" >> beam.Map(sinks.dumps) | "Records" >> beam.ParDo(_Collect("record"))


def _web_rule() -> list[RuleLike]:
    return [AnonymousWeb()]


def test_a_process_that_never_exits_alerts_as_the_watermark_passes_it() -> None:
    intrusion = _event(
        EventKind.CREATED, 100, 1, pid=8, image=r"C:\WINDOWS\system32\cmd.exe", user="IUSR_WEB1"
    )
    stream = (
        test_stream.TestStream()
        .add_elements(_stamped(intrusion, _event(EventKind.CREATED, 105, 2, pid=16)))
        .advance_watermark_to(150)
        .add_elements(_stamped(_event(EventKind.EXITED, 160, 3, pid=16)))
        .advance_watermark_to(200)
        .advance_watermark_to_infinity()
    )
    _run(stream, _web_rule(), ttl=3600)
    alerts = [(json.loads(line), at) for kind, line, at in COLLECTED if kind == "alert"]
    records = {json.loads(line)["pid"]: (json.loads(line), at) for kind, line, at in COLLECTED}
    [(alert, alerted_at)] = alerts
    # Emitted by the release the watermark's move to 150 s fired (just after the creation, at
    # the timer's millisecond), not by the end of the stream.
    assert 100 < alerted_at <= 150
    # The process as known then, still open, and the creation named as the event that fired
    # the rule; the process itself stays open until the end flushes it.
    assert (alert["pid"], alert["event_id"], alert["record"]["reason"]) == (8, 592, "open")
    [in_process] = Monitor(_web_rule()).feed(intrusion)
    assert alert["time"] == json.loads(sinks.dumps(in_process))["time"]
    assert (records[8][0]["reason"], records[8][1]) == ("flushed", END_OF_INPUT)
    assert records[16][0]["reason"] == "exited"
    assert records[16][1] < END_OF_INPUT


def _in_process_window(
    arrivals: Sequence[ProcessEvent], rules: Sequence[RuleLike], lateness: float
) -> tuple[list[str], list[str]]:
    """The in-process monitor with an ordering window, fed in arrival order, then closed."""
    records: list[str] = []
    monitor = Monitor(
        rules,
        correlator=Correlator(lateness=lateness),
        on_record=lambda record: records.append(sinks.dumps(record)),
    )
    alerts = monitor.feed_many(arrivals) + monitor.close()
    return sorted(alert_line(alert) for alert in alerts), sorted(records)


def test_a_late_creation_joins_its_token_as_the_in_process_window_joins_it() -> None:
    """The token opened pid 8's entry (no image yet); its creation comes after the fold passed
    it. Both engines fold it into the token's entry (one process, complete at its exit) and the
    rule fires on the image it brings, named by the late creation."""
    token = _event(EventKind.TOKEN_ASSIGNED, 100, 11, pid=8, user="IUSR_WEB1", domain="WEB1")
    other = _event(EventKind.CREATED, 110, 12, pid=16)
    creation = _event(
        EventKind.CREATED,
        99,
        10,
        pid=8,
        image=r"C:\WINDOWS\system32\cmd.exe",
        creator_pid=4,
        command_line="cmd /c whoami",
    )
    exit_ = _event(EventKind.EXITED, 150, 13, pid=8)
    stream = (
        test_stream.TestStream()
        .add_elements(_stamped(token, other))
        .advance_watermark_to(111)  # the token is folded, as the window lets it go at 110 s
        .add_elements(_stamped(creation))
        .add_elements(_stamped(exit_))
        .advance_watermark_to_infinity()
    )
    _run(stream, _web_rule(), ttl=3600, lateness=10)
    alerts = sorted(line for kind, line, _ in COLLECTED if kind == "alert")
    records = sorted(line for kind, line, _ in COLLECTED if kind == "record")
    expected = _in_process_window([token, other, creation, exit_], _web_rule(), lateness=10)
    assert (alerts, records) == expected
    process = json.loads(next(line for line in records if json.loads(line)["pid"] == 8))
    assert (process["reason"], process["status"], process["image"]) == (
        "exited",
        "complete",
        r"C:\WINDOWS\system32\cmd.exe",
    )
    assert [json.loads(line)["event_id"] for line in alerts] == [592]
