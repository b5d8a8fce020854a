"""The ``correlog`` command: JSON lines on stdout, diagnostics on stderr.

One module per command (:mod:`.correlate`, :mod:`.watch`, :mod:`.listen`, :mod:`.events`,
:mod:`.hunt`, :mod:`.tree`, :mod:`.report`, :mod:`.sample`), each with ``add_parser`` and
``run``; what they share (inputs, engine options, the summary, the signal policy) is in
:mod:`._inputs`, the live loop of ``watch --follow`` and ``listen`` is in :mod:`.follow`, and
:mod:`._analysis` holds the one pass ``tree`` and ``report`` make. The only public name is
:func:`main`.

No command ends in a traceback. Whatever stops it, records and alerts already produced are
written, open processes are flushed, the summary goes to stderr, and the exit status says why:

* 0: success; also when the reader of stdout went away (``correlog correlate ... | head``):
  the rest of the output is dropped quietly.
* 1: input could not be read (a file missing or unreadable, a malformed line with
  ``--errors strict``); one line on stderr names the input.
* 2: usage error (bad options, rules that are not rule files).
* 70 (``EX_SOFTWARE``): an error of correlog's own, a bug; one line on stderr names the
  exception and the input. Kept apart from 1 so that a script can tell bad input from a bug.
* 128 + the signal's number: stopped by SIGINT (130), SIGTERM (143) or SIGHUP (129), all three
  handled alike (see :mod:`._inputs`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import TextIO

from .. import __version__
from .._errors import UsageError
from . import correlate, events, hunt, listen, report, sample, tree, watch
from ._inputs import STOP, failure, quiet_stdout, sample_path, stop_status
from .follow import with_config

__all__ = ["main"]

_Command = Callable[[argparse.Namespace, TextIO, TextIO], int]

#: Each command's ``run``, by name.
_COMMANDS: dict[str, _Command] = {
    "correlate": correlate.run,
    "watch": watch.run,
    "listen": listen.run,
    "hunt": hunt.run,
    "events": events.run,
    "sample": sample.run,
    "tree": tree.run,
    "report": report.run,
}


def _beam(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``correlog beam ...``: the Beam pipelines (:mod:`correlog.beam`), Beam imported only now."""
    try:
        from ..beam._pipeline import main as beam_main
    except ImportError as exc:
        print(f"correlog: {exc}", file=err)
        return 2
    return beam_main(args.beam_args, prog="correlog beam")


_COMMANDS["beam"] = _beam


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="correlog",
        description="Correlate Windows process audit events (592/600/593, 4688/4689, Sysmon 1/5) "
        "into fat records.",
    )
    parser.add_argument("--version", action="version", version=f"correlog {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (correlate, watch, listen, hunt, events, tree, report, sample):
        module.add_parser(sub)
    # Everything after ``beam`` is its own command line (Beam's options included).
    beam = sub.add_parser(
        "beam", help="correlate or watch on Apache Beam (the beam extra)", prefix_chars="\0"
    )
    beam.add_argument("beam_args", nargs=argparse.REMAINDER)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    out, err = sys.stdout, sys.stderr
    try:
        args = with_config(parser, sys.argv[1:] if argv is None else argv, args)
    except UsageError as exc:
        print(f"correlog: {exc}", file=err)
        return 2
    if getattr(args, "sample", False):
        if args.paths:
            parser.error("--sample reads the bundled sample; give no PATH with it")
        args.paths = [sample_path()]
    with STOP.installed():
        status = _run(args, out, err)
        try:
            out.flush()
        except BrokenPipeError:
            quiet_stdout()
    return status


def _run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """The command's exit status. What escapes it before any input is read (loading rules,
    say) becomes one line on stderr, as :func:`._inputs.guarded` does for what stops a read."""
    try:
        return _COMMANDS[args.command](args, out, err)
    except BrokenPipeError:
        quiet_stdout()
        return 0
    except KeyboardInterrupt as exc:
        return stop_status(exc)
    except Exception as exc:
        message, status = failure(
            exc, ", ".join(getattr(args, "paths", None) or ["-"]), reading=False
        )
        print(f"correlog: {message}", file=err)
        return status
