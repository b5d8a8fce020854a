"""The runnable pipelines: ``correlog beam correlate|watch INPUT... --output PREFIX``.

(``python -m correlog.beam`` is the same command.) Each reads its inputs through
:func:`correlog.read` (one file per worker task). ``correlate`` correlates with
:class:`~correlog.beam.CorrelateByHost` and writes the records as sharded JSON lines named
``PREFIX*`` in correlog's record format (:func:`correlog.sinks.dumps`). ``watch`` runs the rules
of ``correlog watch`` (the same ``--rule``, ``--account``, ``--allow``, ``--parent``,
``--web-server``, ``--sigma`` options, built by that command's own code) with
:class:`~correlog.beam.AlertByHost`, and writes the alerts as the live monitor sends them, each
with its stable id (:func:`correlog.live.alert_text`); ``--records PREFIX`` writes the records
of the same pass too. Options they do not know (``--project``, ``--region``,
``--flink_master``, ...) go to Beam as pipeline options.
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
from .._errors import CorrelogError, UsageError
from .._events import Event
from .._monitor import RuleLike
from .._records import Alert
from ..cli.watch import DEFAULT_RULES, RULES
from ..cli.watch import _rules as watch_rules
from ..live.checkpoint import alert_id, alert_text
from ..readers import FORMATS, read
from ._transforms import AlertByHost, CorrelateByHost

__all__ = ["build", "build_watch", "main"]

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


def _events(pipeline: Any, inputs: Sequence[str], format: str, tz: str | None, errors: str) -> Any:
    return (
        pipeline
        | "Inputs" >> beam.Create(list(inputs))
        | "Read" >> beam.ParDo(_ReadEvents(format, tz, errors))
    )


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
        _events(pipeline, inputs, format, tz, errors)
        | "Correlate" >> CorrelateByHost(ttl=ttl, lateness=lateness, max_open=max_open)
        | "Json" >> beam.Map(sinks.dumps)
        | "Write" >> WriteToText(output)
    )


def _alert_line(alert: Alert) -> str:
    """An alert as the live monitor sends it: its stable id first."""
    return alert_text(alert, alert_id(alert))


def build_watch(
    pipeline: Any,
    inputs: Sequence[str],
    output: str,
    rules: Sequence[RuleLike],
    *,
    records: str | None = None,
    format: str = "auto",
    tz: str | None = None,
    errors: str = "strict",
    ttl: float = 3600.0,
    lateness: float = 0.0,
    max_open: int = 100_000,
) -> None:
    """Add read, monitor and write steps for ``inputs`` to ``pipeline``: the alerts of ``rules``
    to ``output*``, and the records to ``records*`` when given."""
    monitor = AlertByHost(rules, records=True, ttl=ttl, lateness=lateness, max_open=max_open)
    alerts, found = _events(pipeline, inputs, format, tz, errors) | "Watch" >> monitor
    _ = alerts | "AlertJson" >> beam.Map(_alert_line) | "WriteAlerts" >> WriteToText(output)
    if records is not None:
        _ = found | "Json" >> beam.Map(sinks.dumps) | "WriteRecords" >> WriteToText(records)


def _add_common(command: argparse.ArgumentParser, output_help: str) -> None:
    """The options both commands take: inputs, output, runner, reading and correlation."""
    command.add_argument("inputs", nargs="+", metavar="INPUT", help="files to read")
    command.add_argument("--output", required=True, metavar="PREFIX", help=output_help)
    command.add_argument(
        "--runner", default=DEFAULT_RUNNER, help="the Beam runner (default: the local FnApiRunner)"
    )
    command.add_argument("--format", default="auto", choices=["auto", *FORMATS])
    command.add_argument("--tz", default=None, help="the zone of times that carry none")
    command.add_argument("--errors", default="strict", choices=["strict", "skip"])
    command.add_argument("--ttl", type=float, default=3600.0, help="seconds (default 3600)")
    command.add_argument(
        "--lateness",
        type=float,
        default=0.0,
        help="seconds behind the watermark events are still put in order (streaming)",
    )
    command.add_argument(
        "--max-open", type=int, default=100_000, help="open processes per host (default 100000)"
    )


def _add_rule_options(command: argparse.ArgumentParser) -> None:
    """``correlog watch``'s rule options, under the same names (its code builds the rules)."""
    command.add_argument(
        "--rule",
        action="append",
        choices=RULES,
        help=f"rule to run (default: {' and '.join(DEFAULT_RULES)})",
    )
    command.add_argument("--account", action="append", metavar="PATTERN", help="web account")
    command.add_argument("--allow", action="append", metavar="NAME", help="allowed image")
    command.add_argument(
        "--parent", action="append", metavar="NAME", help="anonymous-web: only these parents"
    )
    command.add_argument(
        "--web-server", action="append", metavar="NAME", help="web-server-child: server images"
    )
    command.add_argument(
        "--sigma",
        action="append",
        metavar="PATH",
        help="Sigma rule file or directory to run too (with no --rule: instead of the built-ins)",
    )
    command.add_argument(
        "--records", metavar="PREFIX", help="also write the records of the same pass to PREFIX*"
    )


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="correlog on Apache Beam. Unknown options go to Beam as pipeline options.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    correlate = commands.add_parser(
        "correlate", help="correlate log files into process records, as sharded JSON lines"
    )
    _add_common(correlate, "write the records to PREFIX*")
    watch = commands.add_parser(
        "watch", help="run the rules of correlog watch, alerts as sharded JSON lines"
    )
    _add_common(watch, "write the alerts to PREFIX*")
    _add_rule_options(watch)
    return parser


def main(argv: Sequence[str] | None = None, prog: str = "python -m correlog.beam") -> int:
    """Run the command line; return the exit status (0, 1 for unreadable input, 2 for usage)."""
    args, beam_args = _parser(prog).parse_known_args(argv)
    runner = _RUNNER_ALIASES.get(args.runner.lower(), args.runner)
    options = PipelineOptions([*beam_args, "--runner", runner])
    common = {
        "format": args.format,
        "tz": args.tz,
        "errors": args.errors,
        "ttl": args.ttl,
        "lateness": args.lateness,
        "max_open": args.max_open,
    }
    try:
        rules = watch_rules(args, sys.stderr) if args.command == "watch" else []
        with beam.Pipeline(options=options) as pipeline:
            if args.command == "watch":
                build_watch(
                    pipeline, args.inputs, args.output, rules, records=args.records, **common
                )
            else:
                build(pipeline, args.inputs, args.output, **common)
    except UsageError as exc:
        print(f"correlog: {exc}", file=sys.stderr)
        return 2
    except CorrelogError as exc:
        print(f"correlog: {exc}", file=sys.stderr)
        return 1
    return 0
