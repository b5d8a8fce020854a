"""``correlog watch``: alerts, as JSON lines, as early as the events allow.

The built-in rules come from :mod:`correlog.rules`; ``--sigma`` rules are loaded through the
``hunt`` module, which imports the Sigma engine only then.
"""

from __future__ import annotations

import argparse
from collections import Counter
from itertools import chain, islice
from operator import attrgetter
from typing import TextIO

from .._errors import UsageError
from .._monitor import Monitor, SingleEventMonitor
from .._records import Alert, Record
from ..rules import (
    DEFAULT_ACCOUNTS,
    DEFAULT_ALLOW,
    DEFAULT_WEB_SERVERS,
    AnonymousWeb,
    AuditTamper,
    RuleLike,
    WebServerChild,
)
from ._crosslog import CrossLog
from ._inputs import (
    BATCH,
    Inputs,
    add_engine_options,
    add_input_options,
    correlator,
    fewer_collections,
    guarded,
    print_summary,
    reasons,
    window,
)
from ._output import add_output_options, opened_output
from .follow import add_follow_options, run_follow

__all__ = ["RULES", "add_parser", "add_rule_options", "run"]

#: The built-in rules ``--rule`` can name.
RULES = ("anonymous-web", "web-server-child", "audit-tamper")
#: Options of the live loop that a one-pass ``watch`` does not take.
LIVE_ONLY = ("checkpoint", "sink", "stats", "metrics", "idle_exit")
#: The rules a plain ``watch`` runs: the intrusion, and the log going blind.
DEFAULT_RULES = ("anonymous-web", "audit-tamper")
_REASON = attrgetter("reason")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the command and its options."""
    p = sub.add_parser("watch", help="alerts, as JSON lines, as early as the events allow")
    add_input_options(p)
    add_engine_options(p)
    add_rule_options(p)
    p.add_argument("--records", action="store_true", help="print records too, as they become final")
    add_follow_options(p)
    add_output_options(p, sortable=False)


def add_rule_options(p: argparse.ArgumentParser) -> None:
    """The rules and their settings (``watch`` and ``listen`` share them)."""
    p.add_argument(
        "--rule",
        action="append",
        choices=RULES,
        help=f"rule to run (default: {' and '.join(DEFAULT_RULES)})",
    )
    p.add_argument(
        "--account",
        action="append",
        metavar="PATTERN",
        help=f"anonymous account pattern (default {' '.join(DEFAULT_ACCOUNTS)})",
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
    p.add_argument(
        "--sigma",
        action="append",
        metavar="PATH",
        help="Sigma rule file or directory to run too (with no --rule: instead of the built-ins)",
    )


def _rules(args: argparse.Namespace, err: TextIO) -> list[RuleLike]:
    """The rules the options name (``listen`` uses it too)."""
    rules: list[RuleLike] = []
    if args.sigma:
        from .hunt import sigma_monitor_rules

        rules.extend(sigma_monitor_rules(args.sigma, err))
    chosen = args.rule or ([] if args.sigma else list(DEFAULT_RULES))
    allow = args.allow or DEFAULT_ALLOW
    for name in dict.fromkeys(chosen):
        if name == "anonymous-web":
            accounts = args.account or DEFAULT_ACCOUNTS
            rules.append(AnonymousWeb(accounts=accounts, allow=allow, parents=args.parent))
        elif name == "audit-tamper":
            rules.append(AuditTamper())
        else:
            rules.append(
                WebServerChild(servers=args.web_server or DEFAULT_WEB_SERVERS, allow=allow)
            )
    return rules


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run the rules over the inputs; print each alert at once (and records with --records)."""
    if args.follow:
        return run_follow(args, _rules(args, err), out, err)
    live = [f"--{name.replace('_', '-')}" for name in LIVE_ONLY if getattr(args, name)]
    if live:
        raise UsageError(f"{', '.join(live)}: only with --follow (or with correlog listen)")
    counts: Counter[str] = Counter()
    alerts = 0
    across = CrossLog.from_args(args)  # one record (and alert) per process seen by both logs
    with fewer_collections(), opened_output(args, out, err, live=True) as sink:

        def emit(record: Record) -> None:
            counts[record.reason] += 1
            if args.records:
                sink(record)

        # Without --records, a final record is only counted (after the cross-log stage): the
        # monitor puts it in a list, counted after each batch of events, with no call of ours.
        waiting: list[Record] = []

        def count_waiting() -> None:
            counts.update(map(_REASON, across.records(waiting)))
            waiting.clear()

        def on_record(record: Record) -> None:
            for final in across.record(record):
                emit(final)

        to_records = on_record if args.records else waiting.append
        monitor: Monitor | SingleEventMonitor = (
            SingleEventMonitor(_rules(args, err), on_record=to_records)
            if args.single_event
            else Monitor(_rules(args, err), correlator=correlator(args), on_record=to_records)
        )
        inputs = Inputs(args.paths, args)

        def write(alert: Alert) -> None:
            nonlocal alerts
            for kept in across.alerts((alert,)):
                sink(kept)
                alerts += 1

        def body() -> None:
            # Read in batches, unless a read may wait (a pipe): then each event as it comes, so
            # an alert leaves as soon as its event is folded in. The records the events
            # completed are counted after each batch.
            if inputs.may_wait():
                source = iter(inputs)
                for first in source:
                    monitor.feed_stream(chain((first,), islice(source, BATCH - 1)), write)
                    count_waiting()
            else:
                for batch in inputs.batches():
                    monitor.feed_stream(batch, write)
                    count_waiting()

        def finish() -> None:
            for alert in monitor.close():
                write(alert)
            count_waiting()
            for record in across.close():
                emit(record)
            for warning in across.warnings():
                sink.summary.warn(warning)
            sink.writer.flush()

        status = guarded(body, finish, err, inputs.label)
    mode = "single-event" if args.single_event else "correlated"
    counters = window(monitor.correlator) if isinstance(monitor, Monitor) else ""
    print_summary(
        err, inputs, f"{reasons(counts)}; alerts {alerts} ({mode}){counters}{across.counts()}"
    )
    return status
