"""``correlog report``: one self-contained HTML page (needs the ``report`` extra)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO

from ._analysis import add_analysis_options, analyse

__all__ = ["add_parser", "run"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the command and its options."""
    p = sub.add_parser("report", help="a self-contained HTML report: summary, trees, findings")
    add_analysis_options(p)
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="the HTML file to write")


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Read every input, then write the page."""
    from ..report import render_report

    found = analyse(args, err, lambda: None)
    html = render_report(
        found.records,
        found.alerts,
        found.hits,  # type: ignore[arg-type]
        host_alerts=found.host_alerts,
        sources=args.paths or ["-"],
    )
    Path(args.output).write_text(html, encoding="utf-8")
    print(f"correlog: wrote {args.output}", file=err)
    return found.status
