"""The ``correlog`` command: JSON lines on stdout, diagnostics on stderr.

One module per command (:mod:`.correlate`, :mod:`.watch`, :mod:`.events`, :mod:`.hunt`,
:mod:`.sample`), each with ``add_parser`` and ``run``; what they share (inputs, engine options,
the summary) is in :mod:`._inputs`. The only public name is :func:`main`.

Exit status: 0 on success, 2 on usage errors, 1 when input could not be read (a file missing, or
a malformed line with ``--errors strict``). Whatever the outcome, records and alerts already
produced are written, and open processes are flushed before exiting, so nothing read is lost.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import TextIO

from .. import __version__
from .._errors import CorrelogError, UsageError
from . import correlate, events, hunt, sample, watch
from ._inputs import sample_path

__all__ = ["main"]

_Command = Callable[[argparse.Namespace, TextIO, TextIO], int]

#: Each command's ``run``, by name.
_COMMANDS: dict[str, _Command] = {
    "correlate": correlate.run,
    "watch": watch.run,
    "hunt": hunt.run,
    "events": events.run,
    "sample": sample.run,
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="correlog",
        description="Correlate Windows process audit events (592/600/593, 4688/4689, Sysmon 1/5) "
        "into fat records.",
    )
    parser.add_argument("--version", action="version", version=f"correlog {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (correlate, watch, hunt, events, sample):
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    out, err = sys.stdout, sys.stderr
    if getattr(args, "sample", False):
        if args.paths:
            parser.error("--sample reads the bundled sample; give no PATH with it")
        args.paths = [sample_path()]
    try:
        return _COMMANDS[args.command](args, out, err)
    except UsageError as exc:
        print(f"correlog: {exc}", file=err)
        return 2
    except BrokenPipeError:
        # The reader of our output went away (``| head``): not an error of ours.
        with contextlib.suppress(OSError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return 0
    except CorrelogError as exc:
        print(f"correlog: {exc}", file=err)
        return 1
