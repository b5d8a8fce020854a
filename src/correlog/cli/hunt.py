"""``correlog hunt`` (and the rule loading of ``watch --sigma``): Sigma rules over the records.

The Sigma engine (:mod:`correlog.sigma`, which needs pySigma) is imported inside the functions
that use it, so that every other command starts without it. Inputs, the correlator and the
exit-status guard are the ones every other command uses.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TextIO

from .._errors import UsageError
from .._records import Record
from .._time import parse_iso
from ..output._text import json_value
from ._crosslog import CrossLog
from ._inputs import (
    Inputs,
    add_engine_options,
    add_input_options,
    correlator,
    fewer_collections,
    guarded,
    print_summary,
)
from ._output import add_output_options, opened_output
from ._rules import add_rules_option, check_inputs, check_rule_paths

if TYPE_CHECKING:
    from ..sigma import RuleSet

__all__ = ["add_parser", "load_for_cli", "run", "sigma_monitor_rules"]

#: How many rules that could not be compiled are named on stderr (all are counted).
_SHOWN: int = 10


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the command and its options."""
    p = sub.add_parser("hunt", help="Sigma rule matches over the records")
    add_input_options(p)
    add_engine_options(p)
    add_rules_option(p, required=True, purpose="the rules to run")
    _add_selection_options(p)
    p.add_argument(
        "--coverage",
        action="store_true",
        help="print, per source and rule, whether it can be evaluated, instead of the matches",
    )
    p.add_argument(
        "--no-cache",
        action="store_true",
        help="compile the rules afresh: neither read nor write the compiled-rules cache",
    )
    add_output_options(p)


def _add_selection_options(p: argparse.ArgumentParser) -> None:
    """Which rules run (level, status, tags) and which records they see (time)."""
    p.add_argument(
        "--min-level",
        type=str.lower,
        metavar="LEVEL",
        help="only rules of this level or above: informational, low, medium, high, critical",
    )
    p.add_argument(
        "--status",
        action="append",
        type=str.lower,
        default=[],
        metavar="STATUS",
        help="only rules with this status (stable, test, experimental, ...; repeatable)",
    )
    p.add_argument(
        "--tags",
        action="append",
        default=[],
        metavar="TAG[,TAG]",
        help="only rules with one of these tags or tags under them (attack.t1059 keeps "
        "attack.t1059.001)",
    )
    p.add_argument(
        "--from",
        dest="time_from",
        type=_time,
        metavar="TIME",
        help="only processes started at or after this ISO 8601 time (no zone: UTC)",
    )
    p.add_argument(
        "--to",
        dest="time_to",
        type=_time,
        metavar="TIME",
        help="only processes started at or before this time",
    )


def _time(text: str) -> int:
    try:
        return parse_iso(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def load_for_cli(
    paths: Sequence[str], err: TextIO, flag: str = "--rules", *, cache: bool = True
) -> RuleSet:
    """Load rules and say on stderr what was compiled and what was not, by name."""
    from ..sigma import RuleCache, load_rules

    check_rule_paths(paths, flag)
    ruleset = load_rules(*paths, cache=RuleCache() if cache else None)
    report = ruleset.report
    print(f"correlog: {report.summary()}", file=err)
    if report.cache.startswith(("refused", "ignored", "not written", "unused")):
        print(f"correlog: compiled-rules cache {report.cache}", file=err)
    for item in report.unsupported[:_SHOWN]:
        name = item.rule_id or item.title or "-"
        print(f"correlog: not compiled: {item.source} ({name}): {item.reason}", file=err)
    if len(report.unsupported) > _SHOWN:
        more = len(report.unsupported) - _SHOWN
        print(f"correlog: ... {more} more not compiled", file=err)
    return ruleset


def sigma_monitor_rules(paths: Sequence[str], err: TextIO) -> list[Callable[[Record], str | None]]:
    """``watch --sigma``: the rules as monitor rules sharing one index."""
    return load_for_cli(paths, err, "--sigma").monitor_rules()


def _selected(ruleset: RuleSet, args: argparse.Namespace, err: TextIO) -> RuleSet:
    """The rules ``--min-level``, ``--status`` and ``--tags`` keep (all without them)."""
    from ..sigma import RuleFilter

    keep = RuleFilter(min_level=args.min_level, statuses=args.status, tags=args.tags)
    if keep.keeps_all:
        return ruleset
    chosen = ruleset.select(keep)
    print(f"correlog: hunting with {len(chosen)} of {len(ruleset)} rules", file=err)
    return chosen


def _in_window(args: argparse.Namespace) -> Callable[[Record], bool] | None:
    """``--from``/``--to``: whether a record's time (its start, else its first event's) is in
    the window; None when no window is given."""
    low, high = args.time_from, args.time_to
    if low is None and high is None:
        return None
    if low is not None and high is not None and low > high:
        raise UsageError("--from is after --to")

    def inside(record: Record) -> bool:
        time = record.process_id[3] if record.start is None else record.start
        return (low is None or time >= low) and (high is None or time <= high)

    return inside


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Correlate the inputs, run the rules over every final record in the time window, write
    the matches (or the coverage report); the exit status as for the other commands."""
    from ..sigma import Coverage

    check_inputs(args.paths)
    if args.coverage and args.output not in (None, "json"):
        raise UsageError("--coverage writes JSON lines: it takes no --output other than json")
    inside = _in_window(args)
    ruleset = _selected(load_for_cli(args.rules, err, cache=not args.no_cache), args, err)
    engine = correlator(args)
    inputs = Inputs(args.paths, args)
    across = CrossLog.from_args(args)  # one record per process seen by Sysmon and Security
    # Counting what each source leaves undecided costs a three-valued evaluation of every
    # partial rule on every record: only when the report is asked for.
    coverage = Coverage(ruleset) if args.coverage else None
    if coverage is not None:
        args.output = "json"
    matches = 0
    records = 0

    with fewer_collections(), opened_output(args, out, err) as sink:

        def write(found: list[Record]) -> None:
            nonlocal matches, records
            records += len(found)
            if inside is not None:
                found = [record for record in found if inside(record)]
            for match in ruleset.hunt(found, coverage):
                matches += 1
                if coverage is None:
                    sink(match)

        def body() -> None:
            for event in inputs:
                write(across.records(engine.feed(event)))

        def finish() -> None:
            write(across.records(engine.close()) + across.close())
            for warning in across.warnings():
                sink.summary.warn(warning)
            if coverage is not None:
                report = coverage.report()
                sink.writer.write_text("".join(json_value(line) + "\n" for line in report))
            sink.writer.flush()

        status = guarded(body, finish, err, inputs.label)
    print_summary(err, inputs, f"records {records}; matches {matches}{across.counts()}")
    return status
