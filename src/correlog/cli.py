"""The ``correlog`` command: JSON lines on stdout, diagnostics on stderr.

Exit status: 0 on success, 2 on usage errors, 1 when input could not be read (a file missing, or
a malformed line with ``--errors strict``). Whatever the outcome, records and alerts already
produced are written, and open processes are flushed before exiting, so nothing read is lost.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from importlib import resources
from typing import TextIO

from . import __version__
from ._correlator import Correlator
from ._errors import CorrelogError, ParseError, UsageError
from ._events import Event
from ._monitor import Monitor
from ._records import Alert, Record
from .readers import FORMATS, EventReader, read
from .readers.jsonl import event_to_json
from .rules import (
    DEFAULT_ALLOW,
    DEFAULT_WEB_SERVERS,
    AnonymousWeb,
    RuleLike,
    WebServerChild,
)
from .sinks import JsonLines

__all__ = ["main"]

SAMPLE = "iis-intrusion.snare"
RULES = ("anonymous-web", "web-server-child")


class _Inputs:
    """The events of every input in turn, with per-input read statistics."""

    def __init__(self, paths: Sequence[str], args: argparse.Namespace) -> None:
        self.paths = list(paths) or ["-"]
        self.args = args
        self.readers: list[EventReader] = []

    def __iter__(self) -> Iterator[Event]:
        for path in self.paths:
            reader = read(path, self.args.format, errors=self.args.errors, tz=self.args.tz)
            self.readers.append(reader)
            yield from reader

    def summary(self) -> str:
        lines = sum(r.stats.lines for r in self.readers)
        events = sum(r.stats.events for r in self.readers)
        ignored = sum(r.stats.ignored for r in self.readers)
        skipped = sum(r.stats.skipped for r in self.readers)
        formats = ",".join(sorted({r.format or "empty" for r in self.readers})) or "-"
        return (
            f"read {events} events from {lines} lines ({formats}); "
            f"ignored {ignored}, skipped {skipped}"
        )

    def skip_details(self) -> list[str]:
        return [str(err) for r in self.readers for err in r.stats.errors]


def _sample_path() -> str:
    with resources.as_file(resources.files("correlog") / "samples" / SAMPLE) as path:
        return str(path)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive: {text!r}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text!r}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="correlog",
        description="Correlate Windows process audit events (592/600/593) into fat records.",
    )
    parser.add_argument("--version", action="version", version=f"correlog {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def inputs(p: argparse.ArgumentParser) -> None:
        p.add_argument("paths", nargs="*", metavar="PATH", help="input files ('-' or none: stdin)")
        p.add_argument(
            "--sample", action="store_true", help="read the bundled IIS intrusion sample"
        )
        p.add_argument("--format", default="auto", choices=("auto", *FORMATS), help="input format")
        p.add_argument(
            "--errors",
            default="skip",
            choices=("strict", "skip"),
            help="on a malformed line: stop (strict) or count it and go on (skip, the default)",
        )
        p.add_argument("--tz", default=None, help="zone of times that carry none (default UTC)")

    def engine(p: argparse.ArgumentParser) -> None:
        p.add_argument("--ttl", type=_positive_float, default=3600.0, help="seconds (3600)")
        p.add_argument("--max-open", type=_positive_int, default=100_000, help="(100000)")
        p.add_argument("--max-skew", type=_positive_float, default=3600.0, help="seconds (3600)")

    p = sub.add_parser("correlate", help="one fat record per process, as JSON lines")
    inputs(p)
    engine(p)

    p = sub.add_parser("watch", help="alerts, as JSON lines, as early as the events allow")
    inputs(p)
    engine(p)
    p.add_argument(
        "--rule", action="append", choices=RULES, help="rule to run (default: anonymous-web)"
    )
    p.add_argument(
        "--account",
        action="append",
        metavar="PATTERN",
        help="anonymous account pattern (default IUSR_*)",
    )
    p.add_argument(
        "--allow",
        action="append",
        metavar="NAME",
        help=f"allowed image, name or path (default {' '.join(DEFAULT_ALLOW)})",
    )
    p.add_argument(
        "--parent",
        action="append",
        metavar="NAME",
        help="anonymous-web: only children of these parents (when the parent is known)",
    )
    p.add_argument(
        "--web-server",
        action="append",
        metavar="NAME",
        help=f"web-server-child: server images (default {' '.join(DEFAULT_WEB_SERVERS)})",
    )
    p.add_argument(
        "--single-event",
        action="store_true",
        help="stateless: alert only from events that alone name image and owner",
    )
    p.add_argument("--records", action="store_true", help="print records too, as they become final")
    p.add_argument(
        "--sigma",
        action="append",
        metavar="PATH",
        help="Sigma rule file or directory to run too (with no --rule: instead of the built-ins)",
    )

    p = sub.add_parser("hunt", help="Sigma rule matches over the records, as JSON lines")
    inputs(p)
    engine(p)
    from .sigma._cli import add_hunt_options

    add_hunt_options(p)

    p = sub.add_parser("events", help="the normalized events, as correlog JSON lines")
    inputs(p)

    p = sub.add_parser("sample", help="print the bundled sample log (or its path)")
    p.add_argument("--path", action="store_true", help="print its path instead")
    return parser


def _rules(args: argparse.Namespace, err: TextIO) -> list[RuleLike]:
    rules: list[RuleLike] = []
    if args.sigma:
        from .sigma._cli import sigma_monitor_rules

        rules.extend(sigma_monitor_rules(args.sigma, err))
    chosen = args.rule or ([] if args.sigma else ["anonymous-web"])
    allow = args.allow or DEFAULT_ALLOW
    for name in dict.fromkeys(chosen):
        if name == "anonymous-web":
            rules.append(
                AnonymousWeb(accounts=args.account or ("IUSR_*",), allow=allow, parents=args.parent)
            )
        else:
            rules.append(
                WebServerChild(servers=args.web_server or DEFAULT_WEB_SERVERS, allow=allow)
            )
    return rules


def _summary(stderr: TextIO, inputs: _Inputs, extra: str) -> None:
    print(f"correlog: {inputs.summary()}; {extra}", file=stderr)
    details = inputs.skip_details()
    for line in details[:5]:
        print(f"correlog: skipped {line}", file=stderr)
    if len(details) > 5:
        print(f"correlog: ... {len(details) - 5} more skipped lines not shown", file=stderr)


def _reasons(counts: Counter[str]) -> str:
    return "records " + (", ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "none")


def _guarded(body: Callable[[], None], finish: Callable[[], None], err: TextIO) -> int:
    """Run ``body``; whatever stops it, run ``finish`` (which flushes what is open).

    Returns the exit status: 1 when input could not be read, 130 on Ctrl-C, else 0.
    """
    status = 0
    try:
        body()
    except (ParseError, OSError) as exc:
        print(f"correlog: {exc}", file=err)
        status = 1
    except KeyboardInterrupt:
        status = 130
    finally:
        finish()
    return status


def _correlator(args: argparse.Namespace) -> Correlator:
    return Correlator(ttl=args.ttl, max_open=args.max_open, max_skew=args.max_skew)


def _correlate(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    correlator = _correlator(args)
    inputs = _Inputs(args.paths, args)
    sink = JsonLines(out)
    counts: Counter[str] = Counter()

    def write(records: Iterable[Record]) -> None:
        for record in records:
            sink(record)
            counts[record.reason] += 1

    def finish() -> None:
        write(correlator.close())  # nothing read is lost, whatever stopped us
        out.flush()

    status = _guarded(lambda: write(correlator.process(inputs)), finish, err)
    _summary(err, inputs, _reasons(counts))
    return status


def _watch(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    counts: Counter[str] = Counter()
    sink = JsonLines(out, flush=True)
    alerts = 0

    def on_record(record: Record) -> None:
        counts[record.reason] += 1
        if args.records:
            sink(record)

    monitor = Monitor(
        _rules(args, err),
        correlator=None if args.single_event else _correlator(args),
        single_event=args.single_event,
        on_record=on_record,
    )
    inputs = _Inputs(args.paths, args)

    def write(found: Iterable[Alert]) -> None:
        nonlocal alerts
        for alert in found:
            sink(alert)
            alerts += 1

    def body() -> None:
        for event in inputs:
            write(monitor.feed(event))

    def finish() -> None:
        write(monitor.close())
        out.flush()

    status = _guarded(body, finish, err)
    mode = "single-event" if args.single_event else "correlated"
    _summary(err, inputs, f"{_reasons(counts)}; alerts {alerts} ({mode})")
    return status


def _events(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    inputs = _Inputs(args.paths, args)

    def body() -> None:
        for event in inputs:
            out.write(json.dumps(event_to_json(event), separators=(",", ":")) + "\n")

    status = _guarded(body, out.flush, err)
    _summary(err, inputs, "events only")
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    out, err = sys.stdout, sys.stderr
    if args.command == "sample":
        if args.path:
            print(_sample_path(), file=out)
        else:
            with open(_sample_path(), encoding="utf-8") as handle:
                out.write(handle.read())
        return 0
    if args.sample:
        if args.paths:
            parser.error("--sample reads the bundled sample; give no PATH with it")
        args.paths = [_sample_path()]
    try:
        if args.command == "correlate":
            return _correlate(args, out, err)
        if args.command == "watch":
            return _watch(args, out, err)
        if args.command == "hunt":
            from .sigma._cli import hunt

            return hunt(args, out, err)
        return _events(args, out, err)
    except UsageError as exc:
        print(f"correlog: {exc}", file=err)
        return 2
    except BrokenPipeError:
        # The reader of our output went away (``| head``): not an error of ours.
        with contextlib.suppress(OSError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return 0
    except CorrelogError as exc:
        print(f"correlog: {exc}", file=err)
        return 1


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
