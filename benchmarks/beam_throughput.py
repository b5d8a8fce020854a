"""Throughput of the Beam pipeline beside the in-process correlator, on the same stream.

``python -m benchmarks.beam_throughput [--events N] [--hosts 1 100 10000] [--workers 1]``
(with ``src`` on the path and the ``beam`` extra installed). Not part of the benchmark runner:
a Beam pipeline takes seconds to start, and Beam is an optional extra.

For each host count one seeded stream (:func:`benchmarks.streams.make_stream`) is correlated
twice in the same run: by one :class:`~correlog.Correlator` (``feed_many`` then ``close``, the
baseline) and by :class:`~correlog.beam.CorrelateByHost` on the local runner, whose time
includes building and starting the pipeline. Both must give the same number of records. The
figures are wall-clock events per second and their ratio; they depend on the machine.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from typing import Any

import apache_beam as beam
from apache_beam.options.pipeline_options import DirectOptions, PipelineOptions
from apache_beam.runners.portability.fn_api_runner.fn_runner import FnApiRunner
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms.combiners import Count

from benchmarks.streams import make_stream
from correlog import Correlator, ProcessEvent
from correlog.beam import CorrelateByHost

TTL = 3600.0


def in_process(events: Sequence[ProcessEvent]) -> tuple[float, int]:
    """Seconds to correlate ``events`` in one correlator, and how many records it gave."""
    start = time.perf_counter()
    correlator = Correlator(ttl=TTL, max_open=10**7)
    count = len(correlator.feed_many(events)) + len(correlator.close())
    return time.perf_counter() - start, count


def _options(workers: int) -> PipelineOptions:
    options = PipelineOptions([])
    if workers > 1:
        direct = options.view_as(DirectOptions)
        direct.direct_num_workers = workers
        direct.direct_running_mode = "multi_processing"
    return options


def on_beam(events: Sequence[ProcessEvent], expected: int, workers: int) -> float:
    """Seconds for the pipeline (build, start, run) to correlate ``events``; checks the count."""
    start = time.perf_counter()
    with beam.Pipeline(runner=FnApiRunner(), options=_options(workers)) as pipeline:
        count = pipeline | beam.Create(events) | CorrelateByHost(ttl=TTL) | Count.Globally()
        assert_that(count, equal_to([expected]))
    return time.perf_counter() - start


def _by_host(event: ProcessEvent) -> tuple[str, ProcessEvent]:
    return event.host, event


def beam_floor(events: Sequence[ProcessEvent], workers: int) -> float:
    """Seconds for Beam alone to move ``events`` through a pipeline keyed by host (no
    correlation): what any per-host pipeline pays on this runner."""
    start = time.perf_counter()
    with beam.Pipeline(runner=FnApiRunner(), options=_options(workers)) as pipeline:
        count = (
            pipeline
            | beam.Create(events)
            | beam.Map(_by_host).with_output_types(tuple[str, Any])
            | beam.GroupByKey()
            | Count.Globally()
        )
        assert_that(count, equal_to([len({event.host for event in events})]))
    return time.perf_counter() - start


def main(argv: Sequence[str] | None = None) -> int:
    """Print one line per host count: events/s in process, on Beam, their ratio, and Beam's own
    floor (the same events grouped by host, with no correlation)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.beam_throughput")
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--hosts", type=int, nargs="+", default=[1, 100, 10_000])
    parser.add_argument("--workers", type=int, default=1, help="direct_num_workers (processes)")
    args = parser.parse_args(argv)
    print(f"{args.events} events, ttl {TTL:.0f} s, FnApiRunner, {args.workers} worker(s)")
    header = ("hosts", "in-process ev/s", "Beam ev/s", "Beam/in-process", "Beam GBK-only ev/s")
    print(f"{header[0]:>6} {header[1]:>16} {header[2]:>10} {header[3]:>16} {header[4]:>19}")
    for hosts in args.hosts:
        events = make_stream(args.events, hosts=hosts, open_target=max(300, 2 * hosts)).events
        local_s, records = in_process(events)
        beam_s = on_beam(events, records, args.workers)
        floor_s = beam_floor(events, args.workers)
        local_rate, beam_rate = len(events) / local_s, len(events) / beam_s
        ratio, floor_rate = beam_rate / local_rate, len(events) / floor_s
        print(
            f"{hosts:>6} {local_rate:>16,.0f} {beam_rate:>10,.0f} {ratio:>16.4f}"
            f" {floor_rate:>19,.0f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
