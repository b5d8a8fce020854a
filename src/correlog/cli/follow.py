"""``correlog watch --follow``: tail growing files, alert as lines arrive, survive restarts.

Each batch of new lines is decoded, correlated, and committed in ONE transaction of the
``--checkpoint`` file (SQLite): the monitor's state, each file's position and the batch's alerts
(into the outbox) always agree. A worker thread delivers the outbox to stdout as JSON lines,
each alert with its stable ``id``; an alert leaves the outbox only once written. Killed at any
instant (even SIGKILL) and restarted with the same checkpoint, the monitor goes on from the last
committed batch: no open process and no alert is lost, and only alerts that were in flight are
written again, with the same id. SIGINT, SIGTERM and SIGHUP stop it cleanly after the batch in
hand. Without ``--checkpoint`` nothing is saved and alerts are written directly.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator, Sequence
from typing import Any, TextIO

from .._errors import UsageError
from .._monitor import Monitor, RuleLike, SingleEventMonitor
from ._inputs import STOP, correlator, stop_status

__all__ = ["add_follow_options", "run_follow"]


def add_follow_options(p: argparse.ArgumentParser) -> None:
    """``--follow``, ``--checkpoint``, ``--poll``, ``--idle-exit``."""
    p.add_argument(
        "--follow",
        action="store_true",
        help="follow the files like tail -F (through rotation), alerting as lines arrive",
    )
    p.add_argument(
        "--checkpoint",
        metavar="STATE",
        help="with --follow: a SQLite file keeping state, positions and undelivered alerts",
    )
    p.add_argument(
        "--poll", type=float, default=0.25, metavar="SECONDS", help="with --follow: poll interval"
    )
    p.add_argument(
        "--idle-exit",
        type=float,
        default=None,
        metavar="SECONDS",
        help="with --follow: stop when no new line came for this long (default: never)",
    )


def _monitor(
    args: argparse.Namespace, rules: Sequence[RuleLike], engine: dict[str, Any] | None
) -> Monitor | SingleEventMonitor:
    if args.single_event:
        if engine is None:
            return SingleEventMonitor(rules)
        return SingleEventMonitor.from_state(rules, engine)
    if engine is None:
        return Monitor(rules, correlator=correlator(args))
    return Monitor.from_state(rules, engine)


def _batches(
    followers: dict[str, Any], poll: float, idle_exit: float | None
) -> Iterator[tuple[str, list[bytes]]]:
    """Batches of new lines, file by file, until ``idle_exit`` seconds of quiet (or forever:
    a signal ends it)."""
    quiet_since = time.monotonic()
    while True:
        got = False
        for name, follower in followers.items():
            lines = follower.read()
            if lines:
                got = True
                yield name, lines
        if got:
            quiet_since = time.monotonic()
        elif idle_exit is not None and time.monotonic() - quiet_since >= idle_exit:
            return
        else:
            time.sleep(poll)


def run_follow(
    args: argparse.Namespace, rules: Sequence[RuleLike], out: TextIO, err: TextIO
) -> int:
    """The follow loop; the exit status as for the other commands."""
    from ..live import Checkpoint
    from ..live.decode import LineDecoder
    from ..live.delivery import DeliveryWorker
    from ..live.follow import Follower
    from ..live.sinks import JsonLinesSink
    from ..sinks import dumps

    if not args.paths:
        raise UsageError("--follow needs files to follow")
    checkpoint = Checkpoint(args.checkpoint) if args.checkpoint else None
    saved = checkpoint.load() if checkpoint is not None else None
    monitor = _monitor(args, rules, None if saved is None else saved.engine)
    followers = {
        path: Follower(path, None if saved is None else saved.positions.get(path))
        for path in args.paths
    }
    decoders = {path: LineDecoder(args.format, tz=args.tz, source=path) for path in args.paths}
    worker = None
    if checkpoint is not None:
        worker = DeliveryWorker(checkpoint, [JsonLinesSink(out, name="stdout")]).start()
    alerts_seen = 0
    status = 0
    try:
        for name, lines in STOP.events(_batches(followers, args.poll, args.idle_exit)):
            alerts = monitor.feed_many(decoders[name].decode(lines))
            alerts_seen += len(alerts)
            if checkpoint is None:
                for alert in alerts:
                    out.write(dumps(alert) + "\n")
                out.flush()
            else:
                checkpoint.commit(
                    engine=monitor.state(),
                    positions={path: f.position for path, f in followers.items()},
                    alerts=alerts,
                )
    except KeyboardInterrupt as exc:
        status = stop_status(exc)
    finally:
        if worker is not None:
            worker.stop()
            worker.deliver_due()  # what is still waiting, once more
        for follower in followers.values():
            follower.close()
        if checkpoint is not None:
            checkpoint.close()
        out.flush()
    lines_read = sum(d.counts["lines"] for d in decoders.values())
    skipped = sum(d.counts["skipped"] for d in decoders.values())
    print(
        f"correlog: followed {len(followers)} file(s): {lines_read} lines, skipped {skipped}; "
        f"alerts {alerts_seen}",
        file=err,
    )
    return status
