"""The live commands' shared loop: ``correlog watch --follow`` and ``correlog listen``.

Theory of operation. A live command reads batches (new lines of followed files, or received
syslog messages), decodes them, and feeds the monitor. Alerts never go to a sink from here:
they go into the checkpoint's outbox, and a worker thread delivers the outbox to every sink
(stdout as JSON lines by default), each alert with its stable ``id``; an alert leaves the
outbox only once every sink accepted it.

With ``--checkpoint STATE`` the outbox is an SQLite file and the monitor survives restarts.
Saving the whole engine state per batch would cost in proportion to the open processes, so
:class:`LiveRun` saves it (with every source's position) at most every ``--commit-interval``
seconds, and whenever the input goes quiet, but never closer than :data:`SAVE_SPACING` times
the last save's duration; in between it commits only what cannot wait, each in one
transaction:

* a batch's alerts, at once (an alert must not wait for the next save), with their ids marked
  as raised ahead of the state;
* a syslog batch's messages, appended to the checkpoint's journal (a sender does not keep what
  it sent, so what was received must be on disk before the next batch is taken).

After a SIGKILL the restarted monitor loads the last state, replays the journal, and reads the
files again from their saved positions: the same lines raise the same alerts, which it knows by
id and does not add again. Nothing committed is lost; an alert that a sink took just before the
kill, before its acceptance was recorded, is sent again with the same id. SIGINT, SIGTERM and
SIGHUP stop after the batch in hand, save everything and exit with 128 + the signal's number.

Without ``--checkpoint`` the outbox lives in memory: nothing is saved, delivery is the same.

One record per process across logs, as in a one-pass ``watch`` (see :mod:`correlog._crosslog`):
the monitor's records go through the cross-log merge stage, and its alerts through the alert
merger, so the first alert of a rule on either log's view of a process goes out and the same
rule's alert on the other log's view does not. Both stages' state is saved with the engine's,
in the same transaction; ``--no-merge-logs`` turns the stage off (a saved stage's waiting
records are then released).

Options shared by both commands: :func:`add_live_options`; ``--config correlog.toml`` lays the
file's values under the flags (:func:`with_config`: a flag given wins).
"""

from __future__ import annotations

import argparse
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, TextIO

from .._crosslog import AlertMerger, LogMerger, shift_events
from .._errors import StateError, UsageError
from .._events import Event
from .._monitor import Monitor, RuleLike, SingleEventMonitor
from .._records import Record
from .._state import expect
from ._crosslog import CrossLog, log_offsets
from ._inputs import STOP, correlator, positive_int, stop_status

__all__ = [
    "LiveRun",
    "add_follow_options",
    "add_live_options",
    "run_follow",
    "with_config",
]

#: A state save waits at least this many times as long as the last save took, so saving
#: takes at most about a tenth of the loop's time, however many processes are open (a save
#: with 10,000 open processes takes seconds on a loaded machine; the journal and the re-read
#: positions keep everything in between safe).
SAVE_SPACING = 10
#: Bytes one read of a followed file takes at most: a batch's lines, their events and alerts
#: are in memory together, so a file that is far behind is taken in steps (about a thousand
#: lines: enough to spread each batch's fixed costs, measured no slower than larger steps).
READ_BUDGET = 256 << 10
#: The sink when none is configured: JSON lines on stdout, under the name earlier versions'
#: checkpoints recorded acceptance with.
DEFAULT_SINK = "stdout"


def _address(text: str) -> tuple[str, int]:
    from ..live.config import parse_address

    try:
        return parse_address(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not HOST:PORT ([::1]:PORT for IPv6): {text!r}") from None


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value < 1e9:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds: {text!r}")
    return value


def add_live_options(p: argparse.ArgumentParser, *, hint: str = "") -> None:
    """``--checkpoint``, ``--sink``, ``--config``, ``--stats``, ``--metrics``, the commit
    interval, the outbox bound and ``--idle-exit``; ``hint`` prefixes their help (``with
    --follow: ``)."""
    p.set_defaults(live_parser=p)
    p.add_argument(
        "--checkpoint",
        metavar="STATE",
        help=f"{hint}a SQLite file keeping state, positions and undelivered alerts",
    )
    p.add_argument(
        "--sink",
        action="append",
        metavar="SINK",
        help=f"{hint}where alerts go (repeatable; default stdout as JSON lines): jsonl:PATH, "
        "syslog+udp|tcp|tls://HOST:PORT, webhook:URL, slack:URL, "
        "smtp://HOST:PORT?from=ADDR&to=ADDR (see docs/live.md)",
    )
    p.add_argument(
        "--config", metavar="TOML", help="correlog.toml: every setting; a flag given wins"
    )
    p.add_argument(
        "--stats",
        type=_seconds,
        metavar="SECONDS",
        help=f"{hint}print the counters as one JSON line on stderr this often, and at exit",
    )
    p.add_argument(
        "--metrics",
        type=_address,
        metavar="HOST:PORT",
        help=f"{hint}serve Prometheus metrics on this address (extra 'metrics')",
    )
    p.add_argument(
        "--commit-interval",
        type=_seconds,
        default=1.0,
        metavar="SECONDS",
        help=f"{hint}save the engine state at most this often (1; alerts are saved at once)",
    )
    p.add_argument(
        "--max-outbox",
        type=positive_int,
        default=100_000,
        metavar="N",
        help=f"{hint}undelivered alerts kept; beyond, the oldest are dropped and counted",
    )
    p.add_argument(
        "--idle-exit",
        type=float,
        default=None,
        metavar="SECONDS",
        help=f"{hint}stop when no input came for this long (default: never)",
    )


def add_follow_options(p: argparse.ArgumentParser) -> None:
    """``--follow``, ``--poll``, and the live options (:func:`add_live_options`)."""
    p.add_argument(
        "--follow",
        action="store_true",
        help="follow the files like tail -F (through rotation), alerting as lines arrive",
    )
    p.add_argument(
        "--poll", type=float, default=0.25, metavar="SECONDS", help="with --follow: poll interval"
    )
    add_live_options(p, hint="with --follow: ")


# -- correlog.toml under the flags -----------------------------------------------------------

#: Config keys that become option defaults: ``section.key`` -> the option's dest.
_SCALARS = {
    "input.format": "format",
    "input.errors": "errors",
    "input.tz": "tz",
    "engine.ttl": "ttl",
    "engine.max_open": "max_open",
    "engine.max_skew": "max_skew",
    "engine.lateness": "lateness",
    "rules.single_event": "single_event",
    "follow.interval": "poll",
    "listen.udp": "udp",
    "listen.tcp": "tcp",
    "listen.tls_cert": "tls_cert",
    "listen.tls_key": "tls_key",
    "listen.max_message": "max_message",
    "checkpoint.path": "checkpoint",
    "checkpoint.interval": "commit_interval",
    "checkpoint.max_outbox": "max_outbox",
    "stats.interval": "stats",
    "stats.metrics": "metrics",
}
#: Config lists that fill a repeatable option the command line did not give.
_LISTS = {
    "rules.rule": "rule",
    "rules.account": "account",
    "rules.allow": "allow",
    "rules.parent": "parent",
    "rules.web_server": "web_server",
    "rules.sigma": "sigma",
}


def with_config(parser: argparse.ArgumentParser, argv: Sequence[str], args: Any) -> Any:
    """``args`` again, parsed with the ``--config`` file's values as the defaults: a flag given
    on the command line wins over the file, the file over the built-in defaults. Returns
    ``args`` unchanged without ``--config``. :class:`~correlog.live.config.ConfigError` names
    the key at fault."""
    path = getattr(args, "config", None)
    if path is None:
        return args
    from ..live.config import ConfigError, load_config
    from ..readers import FORMATS

    config = load_config(path)
    command: argparse.ArgumentParser = args.live_parser
    defaults: dict[str, Any] = {}
    for key, dest in _SCALARS.items():
        section, name = key.split(".")
        value = config[section][name]
        if value is not None and any(a.dest == dest for a in command._actions):
            defaults[dest] = value
    if defaults.get("format", "auto") not in ("auto", *FORMATS):
        raise ConfigError("input.format", f"expected one of auto, {', '.join(FORMATS)}")
    paths = config["follow"]["paths"]
    if paths and any(a.dest == "follow" for a in command._actions):
        defaults.update(paths=list(paths), follow=True)
    command.set_defaults(**defaults)
    args = parser.parse_args(argv)
    for key, dest in _LISTS.items():
        section, name = key.split(".")
        if getattr(args, dest, None) is None and config[section][name]:
            setattr(args, dest, list(config[section][name]))
    args.live_config = config
    return args


# -- the loop ---------------------------------------------------------------------------------


class _Decoders:
    """Several decoders' counters as one (the snapshot's ``skipped``)."""

    def __init__(self, decoders: Iterable[Any]) -> None:
        self.decoders = list(decoders)

    def to_json(self) -> dict[str, Any]:
        total: Counter[str] = Counter()
        reasons: Counter[str] = Counter()
        for decoder in self.decoders:
            total.update(decoder.counts)
            reasons.update(decoder.skipped_by_reason)
        return {
            **{name: total[name] for name in ("lines", "events", "ignored", "skipped")},
            "skipped_by_reason": dict(reasons),
        }


class LiveRun:
    """Monitor, checkpoint, delivery, counters, ``--stats`` and ``--metrics`` of one live command.

    Made from the parsed options; :meth:`feed` takes each batch's events, :meth:`idle` is called
    when a round brought nothing, :meth:`close` saves and stops everything. ``positions``: each
    source's position after the last batch fed (the caller keeps it current).
    """

    def __init__(
        self, args: argparse.Namespace, rules: Sequence[RuleLike], out: TextIO, err: TextIO
    ) -> None:
        from ..live import Checkpoint, DeliveryWorker, LiveCounters
        from ..live.delivery import Backoff

        self.args = args
        self.err = err
        config = getattr(args, "live_config", None)
        self.durable = args.checkpoint is not None
        self.checkpoint = Checkpoint(
            args.checkpoint if self.durable else ":memory:", max_outbox=args.max_outbox
        )
        try:
            saved = self.checkpoint.load()
            self.counters = LiveCounters()
            #: The cross-log merge stage, restored with the engine (nothing when turned off).
            self.across, released = _cross_log(args, saved.merge)
            for record in released:
                self.counters.count_record(record)
            self.monitor = _monitor(args, rules, saved.engine, self._on_record)
            delivery = config["delivery"] if config is not None else None
            self.worker = DeliveryWorker(
                self.checkpoint,
                _sinks(args, out),
                backoff=None
                if delivery is None
                else Backoff(
                    delivery["backoff_base"], delivery["backoff_factor"], delivery["backoff_cap"]
                ),
                poll=1.0 if delivery is None else delivery["poll"],
            )
        except BaseException:
            self.checkpoint.close()
            raise
        self.saved = saved
        #: Each source's position after the last batch fed.
        self.positions: dict[str, Any] = dict(saved.positions)
        #: Alerts committed ahead of the saved state: raised again on re-reading, not re-added.
        self._raised = set(saved.raised)
        self.sources: dict[str, Any] = {}
        self.decoders = _Decoders(())
        self.alerts = 0
        self._lock = threading.Lock()
        self._unsaved = False
        self._saved_at = time.monotonic()
        #: How long the last save took.
        self._save_took = 0.0
        self._stats_at = time.monotonic()
        self._metrics: Any = None
        self.worker.start()
        if args.metrics is not None:
            from ..live.metrics import serve_metrics

            self._metrics = serve_metrics(args.metrics, self.snapshot)

    def _on_record(self, record: Record) -> None:
        """A record the monitor finalised: through the merge stage, then counted."""
        for final in self.across.record(record):
            self.counters.count_record(final)

    def feed(self, events: Iterable[Event], journal: Sequence[tuple[str, str, str]] = ()) -> None:
        """Fold one batch in (``events`` may be a stream); commit its alerts (and its
        ``journal`` rows) at once, and the state when the commit interval has passed."""
        from ..live import alert_id

        with self._lock:
            alerts = self.across.alerts(self.monitor.feed_many(self.counters.counted(events)))
            if self._raised and alerts:
                alerts = [alert for alert in alerts if alert_id(alert) not in self._raised]
            self.counters.count_alerts(alerts)
            self.alerts += len(alerts)
            if alerts or (journal and self.durable):
                self.checkpoint.commit(
                    alerts=alerts, journal=journal if self.durable else (), ahead_of_state=True
                )
            self._unsaved = True
        self._due()

    def idle(self) -> None:
        """Nothing came in this round: a quiet moment to save, and the stats when due."""
        since = time.monotonic() - self._saved_at
        if self._unsaved and since >= SAVE_SPACING * self._save_took:
            self.save()
        self._due()

    def _due(self) -> None:
        now = time.monotonic()
        gap = max(self.args.commit_interval, SAVE_SPACING * self._save_took)
        if self._unsaved and now - self._saved_at >= gap:
            self.save()
        if self.args.stats is not None and now - self._stats_at >= self.args.stats:
            self.print_stats()

    def save(self) -> None:
        """Commit the engine state and every position (one transaction); clears the journal."""
        with self._lock:
            started = time.monotonic()
            if self.durable:
                # The state's text piece by piece, never its whole dict (see engine_json).
                pieces = self.monitor.state_pieces()
                self.checkpoint.commit(
                    engine_json=pieces,
                    positions=self.positions,
                    merge=_cross_log_state(self.across),
                )
                self._raised.clear()
            self._unsaved = False
            self._saved_at = time.monotonic()
            self._save_took = self._saved_at - started

    def snapshot(self) -> dict[str, Any]:
        """Every counter (see :class:`correlog.live.LiveCounters`)."""
        with self._lock:
            correlator = getattr(self.monitor, "correlator", None)
            return self.counters.snapshot(
                open_entries=None if correlator is None else len(correlator),
                decoder=self.decoders,
                outbox=self.checkpoint.outbox_stats(),
                delivery=self.worker,
                sources=self.sources,
            )

    def print_stats(self) -> None:
        """One JSON line of counters on stderr."""
        from ..live import stats_line

        self._stats_at = time.monotonic()
        print(stats_line(self.snapshot()), file=self.err, flush=True)

    def close(self) -> None:
        """Save, deliver what waits once more, stop the worker and the metrics, print the stats."""
        try:
            self.save()
        finally:
            self.worker.stop()
            try:
                self.worker.deliver_due()  # what is still waiting, once more
            finally:
                if self._metrics is not None:
                    self._metrics.stop()
                if self.args.stats is not None:
                    self.print_stats()
                self.checkpoint.close()
                self.across.print_warnings(self.err)

    def summary(self) -> str:
        """``; alerts N`` and what the merge stage did, for the last line on stderr."""
        return f"; alerts {self.alerts}{self.across.counts()}"


def _monitor(
    args: argparse.Namespace,
    rules: Sequence[RuleLike],
    engine: dict[str, Any] | None,
    on_record: Callable[[Any], object],
) -> Monitor | SingleEventMonitor:
    if args.single_event:
        if engine is None:
            return SingleEventMonitor(rules, on_record=on_record)
        return SingleEventMonitor.from_state(rules, engine, on_record=on_record)
    if engine is None:
        return Monitor(rules, correlator=correlator(args), on_record=on_record)
    return Monitor.from_state(rules, engine, on_record=on_record)


def _cross_log(args: argparse.Namespace, saved: Any) -> tuple[CrossLog, list[Record]]:
    """The cross-log stage: the saved one (its settings), else a new one as the options say;
    with ``--no-merge-logs`` none, and the records a saved one held are returned, released.
    :class:`StateError` for a saved state that is damaged."""
    if saved is None:
        return CrossLog.from_args(args), []
    saved = expect(saved, dict, "the merge state")
    records = LogMerger.from_state(saved.get("records"))
    if args.no_merge_logs:
        return CrossLog(None, None), records.close()
    if saved.keys() != {"records", "alerts"}:
        raise StateError(f"damaged state: a merge state with {sorted(saved)}")
    return CrossLog(records, AlertMerger.from_state(saved["alerts"])), []


def _cross_log_state(across: CrossLog) -> dict[str, Any] | None:
    """What :func:`_cross_log` restores (None when the stage is off)."""
    if across.records_merger is None or across.alerts_merger is None:
        return None
    return {"records": across.records_merger.state(), "alerts": across.alerts_merger.state()}


def _sinks(args: argparse.Namespace, out: TextIO) -> list[Any]:
    """The sinks: ``--sink`` options, else the config's, else stdout."""
    from ..live import JsonLinesSink, LiveConfig, build_sinks
    from ..live.config import sinks_from_texts

    config = getattr(args, "live_config", None)
    tables = sinks_from_texts(args.sink) if args.sink else config.sinks if config else ()
    if not tables:
        return [JsonLinesSink(out, name=DEFAULT_SINK)]
    return build_sinks(LiveConfig(sections={}, sinks=tables))


def _batches(
    followers: Mapping[str, Any], positions: dict[str, Any], poll: float, idle_exit: float | None
) -> Iterator[tuple[str, list[bytes], Any] | None]:
    """``(path, lines, position after them)`` as lines come; None after a round that brought
    nothing (its positions are in ``positions`` already); ends after ``idle_exit`` seconds of
    quiet (or never: a signal ends it)."""
    quiet_since = time.monotonic()
    while True:
        got = False
        for name, follower in followers.items():
            lines = follower.read(READ_BUDGET)
            if lines:
                got = True
                yield name, lines, follower.position
            elif follower.position is not None:
                positions[name] = follower.position  # a rotation moves it with no line
        if got:
            quiet_since = time.monotonic()
            continue
        if idle_exit is not None and time.monotonic() - quiet_since >= idle_exit:
            return
        yield None
        time.sleep(poll)


def run_follow(
    args: argparse.Namespace, rules: Sequence[RuleLike], out: TextIO, err: TextIO
) -> int:
    """The follow loop; the exit status as for the other commands."""
    from ..live.decode import LineDecoder
    from ..live.follow import Follower

    if not args.paths or "-" in args.paths:
        raise UsageError("--follow needs files to follow (not stdin)")
    live = LiveRun(args, rules, out, err)
    status = 0
    followers: dict[str, Follower] = {}
    try:
        for path in args.paths:
            followers[path] = Follower(path, live.saved.positions.get(path))
        decoders = {p: LineDecoder(args.format, tz=args.tz, source=p) for p in args.paths}
        offsets = log_offsets(args)
        live.decoders = _Decoders(decoders.values())
        live.sources = {path: follower.stats for path, follower in followers.items()}
        for batch in STOP.events(_batches(followers, live.positions, args.poll, args.idle_exit)):
            if batch is None:
                live.idle()
                continue
            name, lines, position = batch
            live.feed(shift_events(decoders[name].stream(lines), offsets))
            live.positions[name] = position
    except KeyboardInterrupt as exc:
        status = stop_status(exc)
    finally:
        try:
            live.close()
        finally:
            for follower in followers.values():
                follower.close()
            out.flush()
    counts = live.decoders.to_json()
    print(
        f"correlog: followed {len(followers)} file(s): {counts['lines']} lines, "
        f"skipped {counts['skipped']}{live.summary()}",
        file=err,
    )
    return status
