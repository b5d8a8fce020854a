"""What ``correlog tree`` and ``correlog report`` share: one pass over the inputs that keeps
every record, the alerts of the built-in rules, the host events that deserve an alert, and the
Sigma matches when ``--rules`` is given."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TextIO

import attrs

from .._events import HostEvent
from .._monitor import Monitor
from .._records import Alert, Record
from ..rules import DEFAULT_ACCOUNTS, DEFAULT_ALLOW, AnonymousWeb, AuditTamper, WebServerChild
from ._crosslog import CrossLog
from ._inputs import (
    Inputs,
    add_engine_options,
    add_input_options,
    correlator,
    guarded,
    print_summary,
)
from ._rules import add_rules_option, check_inputs, check_rule_paths

__all__ = ["Analysis", "add_analysis_options", "analyse"]


@attrs.define
class Analysis:
    """Everything one pass found."""

    records: list[Record] = attrs.field(factory=list)
    alerts: list[Alert] = attrs.field(factory=list)
    host_alerts: list[tuple[HostEvent, str]] = attrs.field(factory=list)
    #: Sigma matches (``correlog.sigma.Match``), when rules were given.
    hits: list[object] = attrs.field(factory=list)
    status: int = 0


def add_analysis_options(p: argparse.ArgumentParser) -> None:
    """Inputs, engine options, and ``--rules`` for Sigma hits."""
    add_input_options(p)
    add_engine_options(p)
    add_rules_option(p, required=False, purpose="mark its matches too")


def analyse(args: argparse.Namespace, err: TextIO, finish: Callable[[], None]) -> Analysis:
    """Read the inputs once; the built-in web rules and audit-tamper run as ``watch`` runs them."""
    found = Analysis()
    if args.rules:  # a mistake in the rules is told before the inputs are read
        check_inputs(args.paths)
        check_rule_paths(args.rules)
    across = CrossLog.from_args(args, aliases=True)  # one record per process across logs
    monitor = Monitor(
        [AnonymousWeb(accounts=DEFAULT_ACCOUNTS, allow=DEFAULT_ALLOW), WebServerChild()],
        correlator=correlator(args),
        on_record=lambda record: found.records.extend(across.record(record)),
    )
    tamper = AuditTamper()
    inputs = Inputs(args.paths, args, output_at_end=True)

    def body() -> None:
        for event in inputs:
            if isinstance(event, HostEvent):
                message = tamper.host_event(event)
                if message:
                    found.host_alerts.append((event, message))
            found.alerts.extend(across.alerts(monitor.feed(event)))

    def done() -> None:
        found.alerts.extend(across.alerts(monitor.close()))
        found.records.extend(across.close())
        found.records, found.alerts = across.relinked(found.records, found.alerts)
        if args.rules:
            from .hunt import load_for_cli

            found.hits.extend(load_for_cli(args.rules, err).hunt(found.records))
        finish()

    found.status = guarded(body, done, err, inputs.label)
    print_summary(
        err,
        inputs,
        f"records {len(found.records)}; alerts {len(found.alerts) + len(found.host_alerts)}; "
        f"sigma matches {len(found.hits)}{across.counts()}",
    )
    across.print_warnings(err)
    return found
