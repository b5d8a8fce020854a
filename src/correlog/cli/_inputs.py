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
import gc
import glob
import heapq
import itertools
import math
import os
import signal
import stat
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import islice
from types import FrameType
from typing import Any, TextIO

import attrs

from .._correlator import Correlator
from .._crosslog import shift_events
from .._errors import CorrelogError, ParseError, UsageError
from .._events import Event
from ..readers import FORMATS, EventReader, read
from ..readers._core import RecordFormat
from ..readers._read import UnknownFormat, format_named
from ._crosslog import add_merge_options, add_offset_option, log_offsets
from ._progress import ProgressBar
from ._spool import Spool

__all__ = [
    "BATCH",
    "GC_THRESHOLDS",
    "INTERNAL_ERROR",
    "STOP",
    "Expanded",
    "InputError",
    "Inputs",
    "Interrupted",
    "add_engine_options",
    "add_input_options",
    "correlator",
    "expand",
    "failure",
    "fewer_collections",
    "guarded",
    "log_format",
    "positive_int",
    "print_summary",
    "quiet_stdout",
    "reasons",
    "sample_path",
    "stop_status",
    "unit",
    "window",
]

SAMPLE = "iis-intrusion.snare"
#: Inputs a merge reads as they go, each holding its file open; the others wait in a spool.
MAX_LIVE_INPUTS = 16
#: Formats a merge of several inputs always reads ahead into the spool: an EVTX input would
#: hold a parser child (and the file) while it waits for its turn.
SPOOLED_FORMATS = frozenset({"evtx"})
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


#: The cyclic garbage collector's thresholds while a command runs (generation 0, 1, 2).
GC_THRESHOLDS = (10_000, 50, 100)


@contextlib.contextmanager
def fewer_collections() -> Iterator[None]:
    """Collect cyclic garbage less often while the block runs; restore the settings after.

    Every event, record and line dict is a new container, so with the default thresholds the
    collector runs every 700 of them and walks the open processes again and again, though a
    run makes next to no cycles: measured on 200,000 NXLog events, 1.03-1.27 x less CPU with
    these thresholds and what was imported frozen out of the collector's reach. Results are the
    same; cycles are still collected, later.
    """
    saved = gc.get_threshold()
    frozen_before = gc.get_freeze_count()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*saved)
        if not frozen_before:  # what the caller froze stays frozen (and so do ours, then)
            gc.unfreeze()


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

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        """A read of many items at once (a batch), as :meth:`events` guards each one: a signal
        that came meanwhile stops it before it begins, one that comes during it stops it (the
        caller keeps what it read so far)."""
        if self.pending:
            raise Interrupted(self.pending)
        self.armed = True
        try:
            yield
        finally:
            self.armed = False


#: The one signal policy of the running command (:func:`correlog.cli.main` installs it).
STOP = _Stop()


def quiet_stdout() -> None:
    """The reader of stdout went away (``| head``): send what is left to /dev/null, quietly."""
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


class InputError(CorrelogError):
    """An input names nothing to read (a pattern no file matches, a folder with no log), or a
    forced ``--format`` read nothing from it. Exit status 1, as for a file that cannot be read."""


@attrs.define
class Expanded:
    """What the input arguments name: the files to read, in order, and what was passed over."""

    #: Paths to read ("-" is stdin), each once, in the order given (a folder's files sorted).
    files: list[str] = attrs.field(factory=list)
    #: Files found in folders and not read, by why: "not a log", "empty", "unreadable",
    #: "another format" (a log of another format than a forced ``--format``).
    passed_over: Counter[str] = attrs.field(factory=Counter)
    #: The first few of those, for the summary.
    examples: list[str] = attrs.field(factory=list)

    def pass_over(self, path: str, why: str) -> None:
        self.passed_over[why] += 1
        if len(self.examples) < 3:
            self.examples.append(f"{path} ({why})")


def log_format(path: str) -> str | None:
    """The format correlog detects in the file at ``path`` (``"empty"`` for a file with no
    non-blank line); ``None`` when it is none of the formats correlog reads."""
    try:
        with read(path, "auto", errors="skip") as reader:
            return reader.format or "empty"
    except ParseError:
        return None


def expand(paths: Sequence[str], forced: str = "auto") -> Expanded:
    """The files the input arguments name: a file as it is; a folder's files, recursively,
    those whose content is a log (``forced``: also those whose format cannot be told, which the
    forced format may still read); a glob pattern's matches (for shells that leave
    ``'logs/*.evtx'`` as it is), as if each had been named."""
    found = Expanded()
    seen: set[str] = set()

    def add(path: str) -> None:
        if path == "-" or path not in seen:
            seen.add(path)
            found.files.append(path)

    for path in paths:
        if "\x00" in path:
            raise UsageError(f"a path cannot hold a NUL character: {path!r}")
        if path != "-" and not os.path.lexists(path) and glob.has_magic(path):
            matches = sorted(glob.glob(path, recursive=True))
            if not matches:
                raise InputError(f"{path}: no file matches this pattern")
        else:
            matches = [path]
        for match in matches:
            if os.path.isdir(match):
                before = len(found.files)
                _walk(match, forced, found, add)
                if len(found.files) == before:
                    raise InputError(f"{match}: no log file in this folder{_passed(found)}")
            else:
                add(match)
    return found


def _walk(folder: str, forced: str, found: Expanded, add: Callable[[str], None]) -> None:
    for root, dirs, names in os.walk(folder):
        dirs.sort()
        for name in sorted(names):
            path = os.path.join(root, name)
            if not os.path.isfile(path):
                continue  # a socket, a fifo, a dangling link: nothing to read
            try:
                kind = log_format(path)
            except (OSError, CorrelogError):
                found.pass_over(path, "unreadable")
                continue
            if kind == "empty":
                found.pass_over(path, "empty")
            elif forced == "auto" or kind in (forced, None):
                if kind is None and forced == "auto":
                    found.pass_over(path, "not a log")
                else:
                    add(path)
            else:
                found.pass_over(path, "another format")


def _passed(found: Expanded) -> str:
    if not found.passed_over:
        return ""
    counts = ", ".join(f"{n} {why}" for why, n in sorted(found.passed_over.items()))
    return f" ({counts})"


def unit(fmt: str | None) -> str:
    """What a format's units are called: ``records`` (EVTX, ``.evt``, Event XML) or ``lines``."""
    if fmt is not None and fmt in FORMATS and isinstance(format_named(fmt), RecordFormat):
        return "records"
    return "lines"


#: Events read per batch (:meth:`Inputs.batches`): the reading's and the folding's working sets
#: each stay in the caches for that long, and a call's own cost vanishes.
BATCH = 1024


def _may_wait(path: str) -> bool:
    """See :meth:`Inputs.may_wait`: a folder or a glob pattern names regular files; a path that
    cannot be looked at now fails later, when it is read."""
    try:
        mode = os.fstat(sys.stdin.fileno()).st_mode if path == "-" else os.stat(path).st_mode
    except (OSError, ValueError, AttributeError):
        return path == "-"  # a standard input with no descriptor of its own may still wait
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


class Inputs:
    """The events of every input, with per-input read statistics.

    The inputs are paths, ``-`` (stdin), folders (read recursively; each file's content says
    whether it is a log) and glob patterns. One input is read as it comes. Several (files of
    the same hosts from different sources, say a Snare feed and an EVTX export) are merged by
    event time, each assumed roughly in time order; the correlator's ordering window
    (``--lateness``) then puts each host's events back in order and folds duplicates once.
    """

    def __init__(
        self, paths: Sequence[str], args: argparse.Namespace, *, output_at_end: bool = False
    ) -> None:
        self.paths = list(paths) or ["-"]
        self.args = args
        self.readers: list[EventReader] = []
        #: The inputs as an error message names them ("-" is stdin).
        self.label = ", ".join(self.paths)
        #: A progress bar only for a person watching: stderr a terminal, not silenced, and no
        #: output streaming to a terminal meanwhile (its lines would break the bar's; a command
        #: whose output comes ``output_at_end``, or goes to a file, has none).
        streams = not output_at_end and getattr(args, "output_file", None) is None
        self.progress = (
            not getattr(args, "no_progress", True)
            and sys.stderr.isatty()
            and not (streams and sys.stdout.isatty())
        )
        #: What the paths named, once reading began.
        self.expanded = Expanded()
        self._bar: ProgressBar | None = None
        #: ``--log-offset``: (host, log) -> nanoseconds added to that log's event times.
        self.offsets = log_offsets(args)

    # The events pass through as few Python frames as can be: each layer that only hands
    # events on (a ``yield from``) costs a frame resume per event, so the layers return the
    # iterator they would delegate to, chained in C (itertools), and only setup, teardown and
    # the merge of several inputs run as generators.

    def __iter__(self) -> Iterator[Event]:
        return STOP.events(self.unguarded())

    def batches(self, size: int = BATCH) -> Iterator[list[Event]]:
        """The events in lists of up to ``size``, each list read inside the signal guard (see
        :meth:`_Stop.reading`): a signal that stops a read still lets the events read before
        it through, as a last, shorter list, and is raised when the next one is asked for.

        Reading a batch at a time, then working on it, keeps each stage's code and data in the
        processor's caches, where taking one event at a time through every stage does not (see
        the performance page: ``watch`` on a file went from 0.73-0.85 x ``correlate``'s speed to
        0.92-1.01 x). A batch waits for ``size`` events, though: see :meth:`may_wait`."""
        events = self.unguarded()
        while True:
            batch: list[Event] = []
            try:
                with STOP.reading():
                    batch.extend(islice(events, size))
            except BaseException:
                if batch:
                    yield batch
                raise
            if not batch:
                return
            yield batch

    def may_wait(self) -> bool:
        """True when a read may wait for input to come: standard input, or a path, that is not
        a regular file (a pipe, ``tail -f | correlog watch``, a terminal, a named pipe). What
        an event decides must then leave before the next read, not after a whole batch."""
        return any(_may_wait(path) for path in self.paths)

    def unguarded(self) -> Iterator[Event]:
        """The events without the signal guard of each read: for a caller that reads them in
        batches inside :meth:`_Stop.reading`."""
        return itertools.chain.from_iterable(self._streams())

    def _streams(self) -> Iterator[Iterator[Event]]:
        """The one stream of events, once the paths are expanded (when reading begins); the
        progress bar, if any, stays up until that stream is done."""
        self.expanded = expand(self.paths, self.args.format)
        files = self.expanded.files
        if files.count("-") > 1:
            raise UsageError("stdin ('-') can be read only once")
        if not self.progress:
            yield self._merged(files)
            return
        with ProgressBar(files, self.readers, sys.stderr) as self._bar:
            yield self._merged(files)

    def _merged(self, files: list[str]) -> Iterator[Event]:
        """The events of ``files`` (see :meth:`_merged_many`); one input's as they come."""
        if len(files) == 1:
            return self._one(files[0])
        return self._merged_many(files)

    def _merged_many(self, files: list[str]) -> Iterator[Event]:
        """The events of ``files`` merged by time (ties: the earlier file first), holding at
        most :data:`MAX_LIVE_INPUTS` inputs open whatever their number.

        An input opened when that many are open already, and every EVTX input (whose parser
        child would otherwise wait with it), is read to its end at once by :class:`Spool` and
        closed; its events wait there for their turn. The events, their order and where an
        error stops the read are those of a merge of every input read as it goes.
        """
        spool = Spool()
        live = [MAX_LIVE_INPUTS]
        try:
            yield from heapq.merge(*(self._held(path, spool, live) for path in files), key=_time)
        finally:
            spool.close()

    def _held(self, path: str, spool: Spool, live: list[int]) -> Iterator[Event]:
        """``path``'s events for the merge: read as they go while ``live`` has room (stdin
        always), else from ``spool``."""
        events = self._one(path)
        try:
            first = next(events)
        except StopIteration:
            return
        reader = self.readers[-1]
        if path == "-" or (reader.format not in SPOOLED_FORMATS and live[0] > 0):
            live[0] -= 1
            try:
                yield first
                yield from events
            finally:
                live[0] += 1
        else:
            yield from spool.replay(itertools.chain((first,), events))

    def _one(self, path: str) -> Iterator[Event]:
        if self._bar is None or path == "-":
            return self._read(path, path)
        return self._one_with_bar(path, self._bar)

    def _one_with_bar(self, path: str, bar: ProgressBar) -> Iterator[Event]:
        with open(path, "rb") as handle:
            bar.opened(handle)
            try:
                yield from self._read(handle, path)
            finally:
                bar.closed(handle)

    def _read(self, source: Any, name: str) -> Iterator[Event]:
        """The input's events, read when asked (the input opened at the first); at their end, a
        forced ``--format`` that read nothing is an error."""
        return itertools.chain.from_iterable(self._read_parts(source, name))

    def _read_parts(self, source: Any, name: str) -> Iterator[Iterator[Event]]:
        args = self.args
        reader = read(source, args.format, errors=args.errors, tz=args.tz, name=name)
        self.readers.append(reader)
        yield shift_events(reader, self.offsets) if self.offsets else reader
        if args.format != "auto":
            _check_forced(reader, args.format, name)

    def summary(self) -> str:
        """One line: events, lines (records), formats, ignored and skipped lines of every input,
        and the files in folders that were not read."""
        stats = [r.stats for r in self.readers]
        events = sum(s.events for s in stats)
        units: Counter[str] = Counter()
        for reader in self.readers:
            units[unit(reader.format)] += reader.stats.lines
        read_from = " and ".join(f"{n} {name}" for name, n in sorted(units.items())) or "0 lines"
        ignored = sum(s.ignored for s in stats)
        skipped = sum(s.skipped for s in stats)
        formats = ",".join(sorted({r.format or "empty" for r in self.readers})) or "-"
        text = (
            f"read {events} events from {read_from} ({formats}); "
            f"ignored {ignored}, skipped {skipped}"
        )
        passed = self.expanded.passed_over
        if passed:
            count = sum(passed.values())
            files = "file" if count == 1 else "files"
            text += f"; {count} {files} in folders not read{_passed(self.expanded)}"
        return text

    def skip_details(self) -> list[str]:
        """Each skipped line's (record's) error, as text."""
        return [str(err) for r in self.readers for err in r.stats.errors]


def _check_forced(reader: EventReader, forced: str, name: str) -> None:
    """An :class:`InputError` when a forced ``--format`` skipped every line (record) of the
    input it was given: the input is surely in another format."""
    stats = reader.stats
    if stats.events or stats.ignored or stats.headers or not stats.skipped:
        return
    first = stats.errors[0].reason if stats.errors else "unreadable"
    looks = "correlog cannot tell its format either"
    if name == "-":
        looks = "leave --format out to detect its format"
    else:
        with contextlib.suppress(OSError, CorrelogError):
            kind = log_format(name)
            if kind is not None and kind != forced:
                looks = f"it looks like {kind}: give --format {kind}, or leave --format out"
    raise InputError(
        f"--format {forced} read nothing from {name}: all {stats.skipped} "
        f"{unit(forced)} were skipped (the first: {first}); {looks}"
    )


def _time(event: Event) -> int:
    return event.time


def sample_path() -> str:
    """The bundled sample log's path."""
    from importlib import resources  # only for --sample: it imports tempfile and pathlib

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


def positive_int(text: str) -> int:
    """An argument that counts something: a whole number, at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text!r}")
    return value


def add_input_options(p: argparse.ArgumentParser) -> None:
    """Paths, ``--sample``, ``--format``, ``--errors``, ``--tz``, ``--no-progress``."""
    p.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="input files, folders (read recursively: the logs in them, told by content) or "
        "glob patterns ('logs/*.evtx'); '-' or none: stdin",
    )
    p.add_argument("--sample", action="store_true", help="read the bundled IIS intrusion sample")
    p.add_argument("--format", default="auto", choices=("auto", *FORMATS), help="input format")
    p.add_argument(
        "--errors",
        default="skip",
        choices=("strict", "skip"),
        help="on a malformed line or record: stop (strict) or count it and go on (skip, the "
        "default)",
    )
    p.add_argument("--tz", default=None, help="zone of times that carry none (default UTC)")
    p.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress bar on stderr (shown only when stderr is a terminal, and the output "
        "does not stream to a terminal too)",
    )
    add_offset_option(p)


def add_engine_options(p: argparse.ArgumentParser) -> None:
    """The correlator's bounds: ``--ttl``, ``--max-open``, ``--max-skew``, ``--lateness``; and
    the merging of a process's Sysmon and Security records (``--no-merge-logs``, ...)."""
    p.add_argument("--ttl", type=_positive_float, default=3600.0, help="seconds (3600)")
    p.add_argument("--max-open", type=positive_int, default=100_000, help="(100000)")
    p.add_argument("--max-skew", type=_positive_float, default=3600.0, help="seconds (3600)")
    p.add_argument(
        "--lateness",
        type=_non_negative_float,
        default=0.0,
        help="seconds of the per-host ordering window (0: arrival order, the default)",
    )
    add_merge_options(p)


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
        print(f"correlog: ... {len(details) - 5} more skipped not shown", file=err)
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
    if isinstance(exc, UnknownFormat):
        exc = exc.naming("--format FORMAT")
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
