"""What ``correlate``, ``hunt``, ``watch``, ``tree`` and ``report`` share to give one record per
process across logs: the options, and :class:`CrossLog`, the stage each command calls on its
records and alerts (see :mod:`correlog._crosslog`)."""

from __future__ import annotations

import argparse
import math
from collections.abc import Iterable
from typing import TextIO

import attrs

from .._crosslog import TOLERANCE, AlertMerger, LogMerger, LogOffsets, parse_log_offset
from .._errors import UsageError
from .._records import Alert, ProcessId, Record

__all__ = ["CrossLog", "add_merge_options", "add_offset_option", "log_offsets"]


def _tolerance(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (math.isfinite(value * 1e9) and value >= 0):
        raise argparse.ArgumentTypeError(
            f"must be a finite number of seconds, zero or more: {text!r}"
        )
    return value


def add_merge_options(p: argparse.ArgumentParser) -> None:
    """``--no-merge-logs`` and ``--merge-tolerance``."""
    p.add_argument(
        "--no-merge-logs",
        action="store_true",
        help="keep a process's Sysmon and Security records apart (default: one merged record)",
    )
    p.add_argument(
        "--merge-tolerance",
        type=_tolerance,
        default=TOLERANCE,
        metavar="SECONDS",
        help="how far the two logs' start (and end) times of one process may differ (%(default)s)",
    )


def add_offset_option(p: argparse.ArgumentParser) -> None:
    """``--log-offset [HOST/]LOG=SECONDS``, repeatable."""
    p.add_argument(
        "--log-offset",
        action="append",
        default=[],
        metavar="[HOST/]LOG=SECONDS",
        help="add SECONDS (suffix s, m or h) to the times of one log (security or sysmon), of "
        "HOST or of every host, e.g. security=+16h",
    )


def log_offsets(args: argparse.Namespace) -> LogOffsets:
    """The ``--log-offset`` values; a :class:`UsageError` names a bad one."""
    offsets: dict[tuple[str | None, str], int] = {}
    for text in getattr(args, "log_offset", None) or ():
        key, value = parse_log_offset(text)
        if key in offsets:
            raise UsageError(f"--log-offset given twice for {text.split('=')[0]!r}")
        offsets[key] = value
    return offsets


@attrs.define
class CrossLog:
    """The cross-log stage of one command run (nothing when ``--no-merge-logs``).

    ``aliases``: when wanted (``tree``, ``report``: they keep every record anyway), the process
    id of each Security record merged away -> the merged record's.
    """

    records_merger: LogMerger | None
    alerts_merger: AlertMerger | None
    aliases: dict[ProcessId, ProcessId] | None = None

    @classmethod
    def from_args(cls, args: argparse.Namespace, *, aliases: bool = False) -> CrossLog:
        """The stage the options ask for."""
        if args.no_merge_logs:
            return cls(None, None)
        tolerance = args.merge_tolerance
        known: dict[ProcessId, ProcessId] | None = {} if aliases else None

        def alias(sysmon: Record, security: Record, merged: Record) -> None:
            if known is not None:
                known[security.process_id] = merged.process_id

        merger = LogMerger(tolerance=tolerance, max_held=args.max_open, on_merge=alias)
        return cls(merger, AlertMerger(tolerance=tolerance), known)

    def records(self, records: list[Record]) -> list[Record]:
        """The records that leave now, given those that became final."""
        if not records or self.records_merger is None:
            return records
        return self.records_merger.feed_many(records)

    def record(self, record: Record) -> list[Record]:
        """The records that leave now, given one that became final (a monitor's callback)."""
        merger = self.records_merger
        return [record] if merger is None else merger.feed(record)

    def close(self) -> list[Record]:
        """The records still waiting for a partner."""
        return [] if self.records_merger is None else self.records_merger.close()

    def alerts(self, alerts: Iterable[Alert]) -> list[Alert]:
        """The alerts to raise: not the other log's repeat of one already raised."""
        if self.alerts_merger is None:
            return list(alerts)
        return self.alerts_merger.filter(alerts)

    def counts(self) -> str:
        """``; merged across logs N`` for the summary line (nothing when merging is off)."""
        merger = self.records_merger
        if merger is None:
            return ""
        repeats = self.alerts_merger.merged if self.alerts_merger is not None else 0
        text = f"; merged across logs {merger.stats.merged}"
        return text + (f" (alerts not repeated {repeats})" if repeats else "")

    def warnings(self) -> list[str]:
        """One line per host whose two logs look a constant offset apart."""
        if self.records_merger is None:
            return []
        return [offset.message() for offset in self.records_merger.offsets()]

    def print_warnings(self, err: TextIO) -> None:
        """The warnings, one ``correlog: warning:`` line each (commands without a summary)."""
        for line in self.warnings():
            print(f"correlog: warning: {line}", file=err)

    def relinked(
        self, records: list[Record], alerts: list[Alert]
    ) -> tuple[list[Record], list[Alert]]:
        """Records and alerts whose process ids name a Security record merged away, made to
        name the merged record (for trees and marks); needs ``aliases``."""
        known = self.aliases
        if not known:
            return records, alerts
        linked = [
            r._replace(creator_process_id=known[r.creator_process_id])
            if r.creator_process_id in known
            else r
            for r in records
        ]
        moved = [
            attrs.evolve(a, record=a.record._replace(process_id=known[a.record.process_id]))
            if a.record is not None and a.record.process_id in known
            else a
            for a in alerts
        ]
        return linked, moved
