"""``correlog hunt`` (and the rule loading of ``watch --sigma``): Sigma rules over the records.

The Sigma engine (:mod:`correlog.sigma`, which needs pySigma) is imported inside the functions
that use it, so that every other command starts without it. Inputs, the correlator and the
exit-status guard are the ones every other command uses.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TextIO

from .._records import Record
from ._inputs import (
    Inputs,
    add_engine_options,
    add_input_options,
    correlator,
    guarded,
    print_summary,
)
from ._rules import add_rules_option, check_inputs, check_rule_paths

if TYPE_CHECKING:
    from ..sigma import RuleSet

__all__ = ["add_parser", "load_for_cli", "run", "sigma_monitor_rules"]

#: How many rules that could not be compiled are named on stderr (all are counted).
_SHOWN: int = 10


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the command and its options."""
    p = sub.add_parser("hunt", help="Sigma rule matches over the records, as JSON lines")
    add_input_options(p)
    add_engine_options(p)
    add_rules_option(p, required=True, purpose="the rules to run")
    p.add_argument(
        "--coverage",
        action="store_true",
        help="print, per source and rule, whether it can be evaluated, instead of the matches",
    )


def load_for_cli(paths: Sequence[str], err: TextIO, flag: str = "--rules") -> RuleSet:
    """Load rules and say on stderr what was compiled and what was not, by name."""
    from ..sigma import load_rules

    check_rule_paths(paths, flag)
    ruleset = load_rules(*paths)
    report = ruleset.report
    print(f"correlog: {report.summary()}", file=err)
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


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Correlate the inputs, run the rules over every final record, print matches (or the
    coverage report); the exit status as for the other commands."""
    from ..sigma import Coverage

    check_inputs(args.paths)
    ruleset = load_for_cli(args.rules, err)
    engine = correlator(args)
    inputs = Inputs(args.paths, args)
    # Counting what each source leaves undecided costs a three-valued evaluation of every
    # partial rule on every record: only when the report is asked for.
    coverage = Coverage(ruleset) if args.coverage else None
    matches = 0
    records = 0

    def counted(found: list[Record]) -> list[Record]:
        nonlocal records
        records += len(found)
        return found

    def write(found: list[Record]) -> None:
        nonlocal matches
        for match in ruleset.hunt(counted(found), coverage):
            matches += 1
            if not args.coverage:
                out.write(json.dumps(match.to_json(), ensure_ascii=False) + "\n")

    def body() -> None:
        for event in inputs:
            write(engine.feed(event))

    def finish() -> None:
        write(engine.close())
        if coverage is not None:
            for line in coverage.report():
                out.write(json.dumps(line, ensure_ascii=False) + "\n")
        out.flush()

    status = guarded(body, finish, err, inputs.label)
    print_summary(err, inputs, f"records {records}; matches {matches}")
    return status
