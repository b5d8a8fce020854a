"""``correlog hunt`` and ``correlog watch --sigma``: the command line's Sigma side.

:mod:`correlog.cli` registers the options and calls in here; inputs, the correlator and the
exit-status guard are the ones every other command uses.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from .._errors import UsageError
from .._records import Record
from ._coverage import Coverage
from ._rules import RuleSet, load_rules

__all__ = [
    "add_hunt_options",
    "hunt",
    "load_for_cli",
    "sigma_monitor_rules",
    "split_rule_paths",
]

#: How many rules that could not be compiled are named on stderr (all are counted).
_SHOWN: int = 10


def add_hunt_options(p: argparse.ArgumentParser) -> None:
    """The options ``hunt`` adds to the shared input and correlator options."""
    p.add_argument(
        "--rules",
        action="extend",
        nargs="+",
        required=True,
        metavar="PATH",
        help="Sigma rule files (*.yml, *.yaml) or directories; other paths after them are inputs",
    )
    p.add_argument(
        "--coverage",
        action="store_true",
        help="print, per source and rule, whether it can be evaluated, instead of the matches",
    )


def split_rule_paths(paths: Sequence[str]) -> tuple[list[str], list[str]]:
    """Rule paths (directories, ``*.yml``, ``*.yaml``) apart from inputs given after them.

    ``--rules`` takes several paths, so ``hunt --rules rules/ some.evtx`` hands it the input
    too; an input is never a directory or a YAML file, so the two are told apart here.
    """
    rules: list[str] = []
    inputs: list[str] = []
    for path in paths:
        is_rules = Path(path).is_dir() or path.lower().endswith((".yml", ".yaml"))
        (rules if is_rules else inputs).append(path)
    return rules, inputs


def load_for_cli(paths: Sequence[str], err: TextIO) -> RuleSet:
    """Load rules and say on stderr what was compiled and what was not, by name."""
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
    return load_for_cli(paths, err).monitor_rules()


def hunt(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Correlate the inputs, run the rules over every final record, print matches (or the
    coverage report); the exit status as for the other commands."""
    from .. import cli

    rules, inputs_given = split_rule_paths(args.rules)
    if not rules:
        raise UsageError(f"--rules needs Sigma rule files or directories, not {args.rules}")
    args.paths = [*args.paths, *inputs_given]
    ruleset = load_for_cli(rules, err)
    correlator = cli._correlator(args)
    inputs = cli._Inputs(args.paths, args)
    coverage = Coverage(ruleset)
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
            write(correlator.feed(event))

    def finish() -> None:
        write(correlator.close())
        if args.coverage:
            for line in coverage.report():
                out.write(json.dumps(line, ensure_ascii=False) + "\n")
        out.flush()

    status = cli._guarded(body, finish, err)
    cli._summary(err, inputs, f"records {records}; matches {matches}")
    return status
