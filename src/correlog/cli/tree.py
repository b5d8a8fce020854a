"""``correlog tree``: the process trees per host, as text, alerts and Sigma hits marked."""

from __future__ import annotations

import argparse
import shutil
from typing import TextIO

from ..tree import build_forest, marks_of, render_tree
from ._analysis import add_analysis_options, analyse

__all__ = ["add_parser", "run"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the command and its options."""
    p = sub.add_parser("tree", help="process trees per host, creator -> children")
    add_analysis_options(p)
    p.add_argument(
        "--width", type=int, default=None, help="cut lines to this width (default: terminal's)"
    )


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Print the forest once every input is read."""
    found = analyse(args, err, lambda: None)
    width = args.width or shutil.get_terminal_size().columns
    marks = marks_of(found.alerts, found.hits)  # type: ignore[arg-type]
    out.write(render_tree(build_forest(found.records), width=width, marks=marks))
    out.flush()
    return found.status
