"""The ``correlog`` command: JSON lines on stdout, diagnostics on stderr.

Exit status: 0 on success, 2 on usage errors, 1 when input could not be read (a file missing, or
a malformed line with ``--errors strict``). Whatever the outcome, records and alerts already
produced are written, and open processes are flushed before exiting, so nothing read is lost.
"""

from __future__ import annotations

import argparse
import contextlib
import heapq
import json
import os
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from importlib import resources
from typing import Any, TextIO

from . import __version__
from ._correlator import Correlator
from ._errors import CorrelogError, ParseError, UsageError
from ._events import Event
from ._monitor import Monitor, SingleEventMonitor
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


class _Progress:
    """``bytes read / total`` of one input file on a terminal's stderr, a few times a second.

    A thread polls the file descriptor's offset, so the line moves even while the reader finds
    nothing to yield, and the read loop pays nothing for it.
    """

    INTERVAL = 0.25

    def __init__(self, handle: Any, label: str, err: TextIO) -> None:
        self._fd = handle.fileno()
        self._total = os.fstat(self._fd).st_size
        self._label = label
        self._err = err
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="correlog-progress", daemon=True)

    def __enter__(self) -> _Progress:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        self._err.write("\r\x1b[K")
        self._err.flush()

    def line(self) -> str:
        """The progress text now (the file descriptor's offset against the file's size)."""
        done = os.lseek(self._fd, 0, os.SEEK_CUR)
        share = f" ({100 * done // self._total}%)" if self._total else ""
        return f"correlog: {self._label}: {done / 1e6:.1f} of {self._total / 1e6:.1f} MB{share}"

    def _run(self) -> None:
        while not self._stop.wait(self.INTERVAL):
            try:
                text = self.line()
            except OSError:
                return
            self._err.write("\r" + text)
            self._err.flush()


class _Inputs:
    """The events of every input, with per-input read statistics.

    One input is read as it comes. Several inputs (files of the same hosts from different
    sources, say a Snare feed and an EVTX export) are merged by event time, each assumed roughly
    in time order; the correlator's ordering window (``--lateness``) then puts each host's events
    back in order and folds duplicates once.
    """

    def __init__(self, paths: Sequence[str], args: argparse.Namespace) -> None:
        self.paths = list(paths) or ["-"]
        self.args = args
        self.readers: list[EventReader] = []
        #: A progress line only for a person watching: stderr a terminal, not silenced.
        self.progress = not getattr(args, "no_progress", True) and sys.stderr.isatty()

    def __iter__(self) -> Iterator[Event]:
        if len(self.paths) == 1:
            yield from self._one(self.paths[0], self.progress)
            return
        if self.paths.count("-") > 1:
            raise UsageError("stdin ('-') can be read only once")
        # Several progress lines would overwrite each other: none when merging.
        yield from heapq.merge(*(self._one(path, False) for path in self.paths), key=_time)

    def _one(self, path: str, progress: bool) -> Iterator[Event]:
        if not progress or path == "-" or not os.path.isfile(path):
            yield from self._read(path, path)
            return
        with open(path, "rb") as handle, _Progress(handle, path, sys.stderr):
            yield from self._read(handle, path)

    def _read(self, source: Any, name: str) -> Iterator[Event]:
        args = self.args
        reader = read(source, args.format, errors=args.errors, tz=args.tz, name=name)
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


def _time(event: Event) -> int:
    return event.time


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


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be zero or more: {text!r}")
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
        description="Correlate Windows process audit events (592/600/593, 4688/4689, Sysmon 1/5) "
        "into fat records.",
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
        p.add_argument(
            "--no-progress",
            action="store_true",
            help="no progress line on stderr (shown only when stderr is a terminal)",
        )

    def engine(p: argparse.ArgumentParser) -> None:
        p.add_argument("--ttl", type=_positive_float, default=3600.0, help="seconds (3600)")
        p.add_argument("--max-open", type=_positive_int, default=100_000, help="(100000)")
        p.add_argument("--max-skew", type=_positive_float, default=3600.0, help="seconds (3600)")
        p.add_argument(
            "--lateness",
            type=_non_negative_float,
            default=0.0,
            help="seconds of the per-host ordering window (0: arrival order, the default)",
        )

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
    return Correlator(
        ttl=args.ttl, max_open=args.max_open, max_skew=args.max_skew, lateness=args.lateness
    )


def _window(correlator: Correlator | None) -> str:
    if correlator is None:
        return ""
    stats = correlator.stats
    return f"; late {stats.late}, duplicates {stats.duplicates}"


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
    _summary(err, inputs, _reasons(counts) + _window(correlator))
    return status


def _watch(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    counts: Counter[str] = Counter()
    sink = JsonLines(out, flush=True)
    alerts = 0

    def on_record(record: Record) -> None:
        counts[record.reason] += 1
        if args.records:
            sink(record)

    monitor: Monitor | SingleEventMonitor = (
        SingleEventMonitor(_rules(args, err), on_record=on_record)
        if args.single_event
        else Monitor(_rules(args, err), correlator=_correlator(args), on_record=on_record)
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
    window = _window(monitor.correlator) if isinstance(monitor, Monitor) else ""
    _summary(err, inputs, f"{_reasons(counts)}; alerts {alerts} ({mode}){window}")
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
