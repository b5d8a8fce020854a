"""The ``--rules`` option every command that runs Sigma rules shares (``hunt``, ``tree``,
``report``), and the checks on rule paths that make a mistake a usage error (exit 2) naming
the flag, before any input is read.

``--rules`` takes exactly one path and is repeated for more. With ``nargs="+"``, argparse handed
it the inputs that followed (``--rules /missing file.evtx`` named ``file.evtx`` as a rule path);
with one value, what follows is an input again.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from .._errors import UsageError

__all__ = ["RULE_SUFFIXES", "add_rules_option", "check_inputs", "check_rule_paths"]

#: What a Sigma rule file is called; a rule folder is searched for these, recursively.
RULE_SUFFIXES = (".yml", ".yaml")


def add_rules_option(p: argparse.ArgumentParser, *, required: bool, purpose: str) -> None:
    """``--rules PATH``, one path each time, repeatable."""
    p.add_argument(
        "--rules",
        action="append",
        required=required,
        default=None if required else [],
        metavar="PATH",
        help=f"a Sigma rule file (*.yml, *.yaml) or folder: {purpose} "
        "(one path per --rules; repeat it for more)",
    )


def check_rule_paths(paths: Sequence[str], flag: str = "--rules") -> None:
    """A :class:`UsageError` naming ``flag`` for a path that is missing, or a folder (or file)
    holding no Sigma rule file."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            if not any(p.suffix.lower() in RULE_SUFFIXES and p.is_file() for p in path.rglob("*")):
                raise UsageError(
                    f"{flag} {raw}: the folder holds no Sigma rule file (*.yml, *.yaml)"
                )
        elif not path.exists():
            raise UsageError(f"{flag} {raw}: no such file or folder")
        elif path.suffix.lower() not in RULE_SUFFIXES:
            raise UsageError(f"{flag} {raw}: not a Sigma rule file (*.yml, *.yaml)")


def check_inputs(paths: Sequence[str], flag: str = "--rules") -> None:
    """A :class:`UsageError` for an input that is a rule file: it was meant for ``flag``, which
    takes one path (``--rules a.yml b.yml log.evtx`` reads ``b.yml`` as an input)."""
    for raw in paths:
        if raw.lower().endswith(RULE_SUFFIXES):
            raise UsageError(
                f"{raw} is a Sigma rule file, not an input: {flag} takes one path; "
                f"give {flag} before each rule file or folder"
            )
