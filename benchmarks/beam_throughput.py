"""Throughput of the Beam pipeline beside the in-process correlator, on the same stream.

``python -m benchmarks.beam_throughput [--events N] [--hosts 1 100 10000] [--workers 1]
[--alerts]`` (with ``src`` on the path and the ``beam`` extra installed). Not part of the
benchmark runner: a Beam pipeline takes seconds to start, and Beam is an optional extra.

For each host count one seeded stream (:func:`benchmarks.streams.make_stream`) is correlated
twice in the same run: by one :class:`~correlog.Correlator` (``feed_many`` then ``close``, the
baseline) and by :class:`~correlog.beam.CorrelateByHost` on the local runner, whose time
includes building and starting the pipeline. Both must give the same number of records. With
``--alerts`` the same stream also goes through ``correlog watch``'s default rules, in one
:class:`~correlog.Monitor` and in :class:`~correlog.beam.AlertByHost`, which must give the same
number of alerts.

The figures are events per **CPU second**: this process's and its finished children's (the
worker processes of ``--workers 2``) user and system time, which a busy neighbour on a shared
machine changes far less than wall-clock time; one wall-clock column is printed beside them.
They depend on the machine.
"""

from __future__ import annotations

import argparse
import resource
import time
from collections.abc import Sequence
from typing import Any

import apache_beam as beam
from apache_beam.options.pipeline_options import DirectOptions, PipelineOptions
from apache_beam.runners.portability.fn_api_runner.fn_runner import FnApiRunner
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms.combiners import Count

from benchmarks.streams import make_stream
from correlog import Correlator, Monitor, ProcessEvent
from correlog.beam import AlertByHost, CorrelateByHost
from correlog.rules import AnonymousWeb, AuditTamper, RuleLike

TTL = 3600.0


def cpu_seconds() -> float:
    """User and system time of this process and of its children that have ended."""
    own = time.process_time()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own + children.ru_utime + children.ru_stime


def in_process(events: Sequence[ProcessEvent]) -> tuple[float, int]:
    """Seconds to correlate ``events`` in one correlator, and how many records it gave."""
    start = cpu_seconds()
    correlator = Correlator(ttl=TTL, max_open=10**7)
    count = len(correlator.feed_many(events)) + len(correlator.close())
    return cpu_seconds() - start, count


def _rules() -> list[RuleLike]:
    """``correlog watch``'s default rules."""
    return [AnonymousWeb(), AuditTamper()]


def monitor_in_process(events: Sequence[ProcessEvent]) -> tuple[float, int]:
    """Seconds to run ``events`` through one monitor, and how many alerts it raised."""
    start = cpu_seconds()
    monitor = Monitor(_rules(), correlator=Correlator(ttl=TTL, max_open=10**7))
    count = len(monitor.feed_many(events)) + len(monitor.close())
    return cpu_seconds() - start, count


def alerts_on_beam(events: Sequence[ProcessEvent], expected: int, workers: int) -> float:
    """Seconds for the AlertByHost pipeline (build, start, run); checks the alert count."""
    start = cpu_seconds()
    with beam.Pipeline(runner=FnApiRunner(), options=_options(workers)) as pipeline:
        alerts = pipeline | beam.Create(events) | AlertByHost(_rules(), ttl=TTL)
        assert_that(alerts | Count.Globally(), equal_to([expected]))
    return cpu_seconds() - start


def _options(workers: int) -> PipelineOptions:
    options = PipelineOptions([])
    if workers > 1:
        direct = options.view_as(DirectOptions)
        direct.direct_num_workers = workers
        direct.direct_running_mode = "multi_processing"
    return options


def on_beam(events: Sequence[ProcessEvent], expected: int, workers: int) -> tuple[float, float]:
    """CPU and wall seconds for the pipeline (build, start, run) to correlate ``events``;
    checks the count."""
    start, wall = cpu_seconds(), time.perf_counter()
    with beam.Pipeline(runner=FnApiRunner(), options=_options(workers)) as pipeline:
        count = pipeline | beam.Create(events) | CorrelateByHost(ttl=TTL) | Count.Globally()
        assert_that(count, equal_to([expected]))
    return cpu_seconds() - start, time.perf_counter() - wall


def _by_host(event: ProcessEvent) -> tuple[str, ProcessEvent]:
    return event.host, event


def beam_floor(events: Sequence[ProcessEvent], workers: int) -> float:
    """Seconds for Beam alone to move ``events`` through a pipeline keyed by host (no
    correlation): what any per-host pipeline pays on this runner."""
    start = cpu_seconds()
    with beam.Pipeline(runner=FnApiRunner(), options=_options(workers)) as pipeline:
        count = (
            pipeline
            | beam.Create(events)
            | beam.Map(_by_host).with_output_types(tuple[str, Any])
            | beam.GroupByKey()
            | Count.Globally()
        )
        assert_that(count, equal_to([len({event.host for event in events})]))
    return cpu_seconds() - start


def main(argv: Sequence[str] | None = None) -> int:
    """Print one line per host count: events per CPU second in process, on Beam, their ratio, and
    Beam's own floor (the same events grouped by host, with no correlation), then Beam's
    wall-clock rate; with ``--alerts``, the same for the monitor."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.beam_throughput")
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--hosts", type=int, nargs="+", default=[1, 100, 10_000])
    parser.add_argument("--workers", type=int, default=1, help="direct_num_workers (processes)")
    parser.add_argument("--alerts", action="store_true", help="also time the monitor and rules")
    args = parser.parse_args(argv)
    print(f"{args.events} events, ttl {TTL:.0f} s, FnApiRunner, {args.workers} worker(s)")
    print("events per CPU second (this process and its workers), and Beam's wall-clock rate")
    header = ["hosts", "in-process", "Beam", "Beam/in-process", "Beam GBK-only", "Beam wall"]
    widths = [6, 11, 7, 16, 14, 10]
    if args.alerts:
        header += ["Monitor", "AlertByHost", "alerts"]
        widths += [9, 12, 7]
    print(" ".join(f"{name:>{width}}" for name, width in zip(header, widths, strict=True)))
    for hosts in args.hosts:
        events = make_stream(args.events, hosts=hosts, open_target=max(300, 2 * hosts)).events
        n = len(events)
        local_s, records = in_process(events)
        beam_s, beam_wall = on_beam(events, records, args.workers)
        floor_s = beam_floor(events, args.workers)
        cells = [
            f"{hosts:>6}",
            f"{n / local_s:>11,.0f}",
            f"{n / beam_s:>7,.0f}",
            f"{local_s / beam_s:>16.4f}",
            f"{n / floor_s:>14,.0f}",
            f"{n / beam_wall:>10,.0f}",
        ]
        if args.alerts:
            monitor_s, alerts = monitor_in_process(events)
            watch_s = alerts_on_beam(events, alerts, args.workers)
            cells += [f"{n / monitor_s:>9,.0f}", f"{n / watch_s:>12,.0f}", f"{alerts:>7}"]
        print(" ".join(cells), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
