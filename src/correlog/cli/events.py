"""``correlog events``: the normalized events, as correlog JSON lines."""

from __future__ import annotations

import argparse
import json
from typing import TextIO

from ._inputs import Inputs, add_input_options, guarded, print_summary

__all__ = ["add_parser", "run"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the command and its options."""
    p = sub.add_parser("events", help="the normalized events, as correlog JSON lines")
    add_input_options(p)


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Print every event the readers make, one JSON object a line."""
    from ..readers.jsonl import event_to_json  # the JSON lines reader: only this command writes

    inputs = Inputs(args.paths, args)

    def body() -> None:
        for event in inputs:
            out.write(json.dumps(event_to_json(event), separators=(",", ":")) + "\n")

    status = guarded(body, out.flush, err, inputs.label)
    print_summary(err, inputs, "events only")
    return status
