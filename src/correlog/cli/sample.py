"""``correlog sample``: print the bundled sample log (or its path)."""

from __future__ import annotations

import argparse
from typing import TextIO

from ._inputs import sample_path

__all__ = ["add_parser", "run"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the command and its options."""
    p = sub.add_parser("sample", help="print the bundled sample log (or its path)")
    p.add_argument("--path", action="store_true", help="print its path instead")


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Print the sample's text, or its path with ``--path``."""
    if args.path:
        print(sample_path(), file=out)
    else:
        with open(sample_path(), encoding="utf-8") as handle:
            out.write(handle.read())
    return 0
