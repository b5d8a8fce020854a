"""What every command shares: the input and engine options, the inputs, the summary on stderr.

Each command module (``correlate``, ``watch``, ``events``, ``hunt``) registers its options with
:func:`add_input_options` (and :func:`add_engine_options` when it correlates), reads its events
from :class:`Inputs` and ends with :func:`print_summary`. :func:`guarded` runs a command's body
so that whatever stops it, what is open is flushed and the summary is printed.

Signals: SIGINT, SIGTERM and SIGHUP all stop a command the same way (:data:`STOP`). A signal
that arrives while the command waits for or decodes input stops the read at once; one that
arrives while it folds an event into the correlator or writes output is held until that event
is done, so the engine's state is never left half-updated. Either way what was read is flushed,
the summary printed, and the exit status is 128 + the signal's number (130, 143, 129).
"""

from __future__ import annotations

import argparse
import contextlib
import heapq
import math
import os
import signal
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from importlib import resources
from types import FrameType
from typing import Any, TextIO

from .._correlator import Correlator
from .._errors import CorrelogError, UsageError
from .._events import Event
from ..readers import FORMATS, EventReader, read

__all__ = [
    "INTERNAL_ERROR",
    "STOP",
    "Inputs",
    "Interrupted",
    "Progress",
    "add_engine_options",
    "add_input_options",
    "correlator",
    "failure",
    "guarded",
    "print_summary",
    "quiet_stdout",
    "reasons",
    "sample_path",
    "stop_status",
    "window",
]

SAMPLE = "iis-intrusion.snare"
#: The exit status of an error of correlog's own (a bug): ``EX_SOFTWARE`` of sysexits.h.
INTERNAL_ERROR = 70
#: The signals that stop a command cleanly (SIGHUP only where the system has it).
_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


class Interrupted(KeyboardInterrupt):
    """The command was asked to stop by a signal; the exit status is 128 + its number."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def stop_status(exc: KeyboardInterrupt) -> int:
    """128 + the signal's number (a bare KeyboardInterrupt is SIGINT's: 130)."""
    return 128 + getattr(exc, "signum", signal.SIGINT)


class _Stop:
    """Turns SIGINT, SIGTERM and SIGHUP into :class:`Interrupted` at safe points only.

    ``armed``: a signal may raise now (waiting for or decoding input, or before any is read).
    Otherwise it is ``pending`` until the next read begins (see :meth:`events`).
    """

    def __init__(self) -> None:
        self.armed = True
        self.pending = 0
        self._saved: dict[int, Any] = {}

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        """Handle the signals for the block (main thread only), then restore the old handlers."""
        self.armed, self.pending = True, 0
        if threading.current_thread() is threading.main_thread():
            self._saved = {sig: signal.signal(sig, self._handle) for sig in _SIGNALS}
        try:
            yield
        finally:
            for sig, handler in self._saved.items():
                signal.signal(sig, handler)
            self._saved = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.armed:
            self.armed = False
            raise Interrupted(signum)
        self.pending = self.pending or signum

    def events(self, source: Iterable[Any]) -> Iterator[Any]:
        """``source``'s items; a signal stops the read, never the work done on an item."""
        iterator = iter(source)
        while True:
            if self.pending:
                raise Interrupted(self.pending)
            self.armed = True
            try:
                item = next(iterator)
            except StopIteration:
                return
            finally:
                self.armed = False
            yield item


#: The one signal policy of the running command (:func:`correlog.cli.main` installs it).
STOP = _Stop()


def quiet_stdout() -> None:
    """The reader of stdout went away (``| head``): send what is left to /dev/null, quietly."""
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


class Progress:
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

    def __enter__(self) -> Progress:
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


class Inputs:
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
        #: The inputs as an error message names them ("-" is stdin).
        self.label = ", ".join(self.paths)
        #: A progress line only for a person watching: stderr a terminal, not silenced.
        self.progress = not getattr(args, "no_progress", True) and sys.stderr.isatty()

    def __iter__(self) -> Iterator[Event]:
        return STOP.events(self._events())

    def _events(self) -> Iterator[Event]:
        if len(self.paths) == 1:
            yield from self._one(self.paths[0], self.progress)
            return
        if self.paths.count("-") > 1:
            raise UsageError("stdin ('-') can be read only once")
        # Several progress lines would overwrite each other: none when merging.
        yield from heapq.merge(*(self._one(path, False) for path in self.paths), key=_time)

    def _one(self, path: str, progress: bool) -> Iterator[Event]:
        if "\x00" in path:
            raise UsageError(f"a path cannot hold a NUL character: {path!r}")
        if not progress or path == "-" or not os.path.isfile(path):
            yield from self._read(path, path)
            return
        with open(path, "rb") as handle, Progress(handle, path, sys.stderr):
            yield from self._read(handle, path)

    def _read(self, source: Any, name: str) -> Iterator[Event]:
        args = self.args
        reader = read(source, args.format, errors=args.errors, tz=args.tz, name=name)
        self.readers.append(reader)
        yield from reader

    def summary(self) -> str:
        """One line: events, lines, formats, ignored and skipped lines of every input."""
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
        """Each skipped line's error, as text."""
        return [str(err) for r in self.readers for err in r.stats.errors]


def _time(event: Event) -> int:
    return event.time


def sample_path() -> str:
    """The bundled sample log's path."""
    with resources.as_file(resources.files("correlog") / "samples" / SAMPLE) as path:
        return str(path)


def _seconds(text: str) -> float:
    """A number of seconds that still counts in nanoseconds (not inf, nan or 1e308)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value * 1e9):
        raise argparse.ArgumentTypeError(f"not a finite number of seconds: {text!r}")
    return value


def _positive_float(text: str) -> float:
    value = _seconds(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive: {text!r}")
    return value


def _non_negative_float(text: str) -> float:
    value = _seconds(text)
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


def add_input_options(p: argparse.ArgumentParser) -> None:
    """Paths, ``--sample``, ``--format``, ``--errors``, ``--tz``, ``--no-progress``."""
    p.add_argument("paths", nargs="*", metavar="PATH", help="input files ('-' or none: stdin)")
    p.add_argument("--sample", action="store_true", help="read the bundled IIS intrusion sample")
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


def add_engine_options(p: argparse.ArgumentParser) -> None:
    """The correlator's bounds: ``--ttl``, ``--max-open``, ``--max-skew``, ``--lateness``."""
    p.add_argument("--ttl", type=_positive_float, default=3600.0, help="seconds (3600)")
    p.add_argument("--max-open", type=_positive_int, default=100_000, help="(100000)")
    p.add_argument("--max-skew", type=_positive_float, default=3600.0, help="seconds (3600)")
    p.add_argument(
        "--lateness",
        type=_non_negative_float,
        default=0.0,
        help="seconds of the per-host ordering window (0: arrival order, the default)",
    )


def correlator(args: argparse.Namespace) -> Correlator:
    """The correlator the engine options describe."""
    return Correlator(
        ttl=args.ttl, max_open=args.max_open, max_skew=args.max_skew, lateness=args.lateness
    )


def print_summary(err: TextIO, inputs: Inputs, extra: str) -> None:
    """The summary line, then the first few skipped lines."""
    print(f"correlog: {inputs.summary()}; {extra}", file=err)
    details = inputs.skip_details()
    for line in details[:5]:
        print(f"correlog: skipped {line}", file=err)
    if len(details) > 5:
        print(f"correlog: ... {len(details) - 5} more skipped lines not shown", file=err)
    err.flush()


def reasons(counts: Counter[str]) -> str:
    """``records exited=3, flushed=1`` (or ``records none``)."""
    return "records " + (", ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "none")


def window(correlator: Correlator | None) -> str:
    """The ordering window's counters, for the summary (nothing without a correlator)."""
    if correlator is None:
        return ""
    stats = correlator.stats
    return f"; late {stats.late}, duplicates {stats.duplicates}"


def failure(exc: BaseException, label: str, *, reading: bool = True) -> tuple[str, int]:
    """The one-line message and the exit status for what stopped a command.

    ``label`` names the inputs; ``reading``: the error came from reading them (so a message
    that does not name them says which they were).
    """
    text = str(exc)
    if isinstance(exc, UsageError):
        return text, 2
    if isinstance(exc, CorrelogError | OSError):
        # A parse error names its source and line; an OSError usually its file.
        return (f"{label}: {text}" if reading and label not in text else text), 1
    name = type(exc).__name__
    return f"internal error (input {label}): {name}: {text} (please report it)", INTERNAL_ERROR


def guarded(body: Callable[[], None], finish: Callable[[], None], err: TextIO, label: str) -> int:
    """Run ``body``; whatever stops it, run ``finish`` (which flushes what is open).

    Returns the exit status: 0, or 128 + a signal's number when one stopped it, 1 when input
    could not be read, 2 on a usage error, :data:`INTERNAL_ERROR` on an error of correlog's
    own. Every error is one line on ``err`` naming the input; a closed stdout is not an error.
    """
    status = 0
    for step in (body, finish):
        try:
            step()
        except BrokenPipeError:
            quiet_stdout()
        except KeyboardInterrupt as exc:
            status = status or stop_status(exc)
        except Exception as exc:
            message, code = failure(exc, label)
            print(f"correlog: {message}", file=err)
            status = status or code
        STOP.armed = False  # flushing what is open is never cut short
    if not status and STOP.pending:
        status = 128 + STOP.pending
    return status
