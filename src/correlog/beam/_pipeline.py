"""The runnable pipeline: ``python -m correlog.beam correlate INPUT... --output PREFIX``.

Reads each input through :func:`correlog.read` (one file per worker task), correlates with
:class:`~correlog.beam.CorrelateByHost`, and writes the records as sharded JSON lines named
``PREFIX*`` in correlog's record format (:func:`correlog.sinks.dumps`). Options it does not know
(``--project``, ``--region``, ``--flink_master``, ...) go to Beam as pipeline options.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from typing import Any, Final

import apache_beam as beam
from apache_beam.io import WriteToText
from apache_beam.options.pipeline_options import PipelineOptions

from .. import sinks
from .._errors import CorrelogError
from .._events import Event
from ..readers import FORMATS, read
from ._transforms import CorrelateByHost

__all__ = ["build", "main"]

#: The runner when none is named: Beam's own local one, which needs no download (Beam's default
#: otherwise fetches its Prism runner first, which fails offline).
DEFAULT_RUNNER: Final = "apache_beam.runners.portability.fn_api_runner.fn_runner.FnApiRunner"
_RUNNER_ALIASES: Final = {"fnapirunner": DEFAULT_RUNNER, "fnapi": DEFAULT_RUNNER}


class _ReadEvents(beam.DoFn):
    """One input path in, its events out (read where the task runs)."""

    def __init__(self, format: str, tz: str | None, errors: str) -> None:
        super().__init__()
        self.format = format
        self.tz = tz
        self.errors = errors

    def process(self, path: str) -> Iterator[Event]:
        yield from read(path, self.format, tz=self.tz, errors=self.errors)


def build(
    pipeline: Any,
    inputs: Sequence[str],
    output: str,
    *,
    format: str = "auto",
    tz: str | None = None,
    errors: str = "strict",
    ttl: float = 3600.0,
    lateness: float = 0.0,
    max_open: int = 100_000,
) -> None:
    """Add read, correlate and write steps for ``inputs`` to ``pipeline``."""
    _ = (
        pipeline
        | "Inputs" >> beam.Create(list(inputs))
        | "Read" >> beam.ParDo(_ReadEvents(format, tz, errors))
        | "Correlate" >> CorrelateByHost(ttl=ttl, lateness=lateness, max_open=max_open)
        | "Json" >> beam.Map(sinks.dumps)
        | "Write" >> WriteToText(output)
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m correlog.beam",
        description="correlog on Apache Beam. Unknown options go to Beam as pipeline options.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    correlate = commands.add_parser(
        "correlate", help="correlate log files into process records, as sharded JSON lines"
    )
    correlate.add_argument("inputs", nargs="+", metavar="INPUT", help="files to read")
    correlate.add_argument(
        "--output", required=True, metavar="PREFIX", help="write the records to PREFIX*"
    )
    correlate.add_argument(
        "--runner", default=DEFAULT_RUNNER, help="the Beam runner (default: the local FnApiRunner)"
    )
    correlate.add_argument("--format", default="auto", choices=["auto", *FORMATS])
    correlate.add_argument("--tz", default=None, help="the zone of times that carry none")
    correlate.add_argument("--errors", default="strict", choices=["strict", "skip"])
    correlate.add_argument("--ttl", type=float, default=3600.0, help="seconds (default 3600)")
    correlate.add_argument(
        "--lateness",
        type=float,
        default=0.0,
        help="seconds behind the watermark events are still put in order (streaming)",
    )
    correlate.add_argument(
        "--max-open", type=int, default=100_000, help="open processes per host (default 100000)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args, beam_args = _parser().parse_known_args(argv)
    runner = _RUNNER_ALIASES.get(args.runner.lower(), args.runner)
    options = PipelineOptions([*beam_args, "--runner", runner])
    try:
        with beam.Pipeline(options=options) as pipeline:
            build(
                pipeline,
                args.inputs,
                args.output,
                format=args.format,
                tz=args.tz,
                errors=args.errors,
                ttl=args.ttl,
                lateness=args.lateness,
                max_open=args.max_open,
            )
    except CorrelogError as exc:
        print(f"correlog: {exc}", file=sys.stderr)
        return 1
    return 0
