"""What ``correlate`` and ``watch`` share for their output: ``--output`` (json, table, csv, ecs;
a table on a terminal, JSON lines otherwise, exactly as before), ``-o FILE``, ``--sort time``,
``--color``, and the summary of hits by rule and host at the end."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator, Sequence
from typing import Any, TextIO

from ..output import FORMATS, SortedWriter, Summary, color_wanted, make_writer

__all__ = ["add_output_options", "opened_output"]


def add_output_options(p: argparse.ArgumentParser, *, sortable: bool = True) -> None:
    """The output flags (``--sort`` only where the whole output can wait for the end)."""
    p.add_argument(
        "--output",
        choices=FORMATS,
        default=None,
        help="json (JSON lines), table, csv or ecs (default: table on a terminal, else json)",
    )
    p.add_argument("-o", "--output-file", metavar="FILE", help="write there instead of stdout")
    p.add_argument(
        "--color", choices=("auto", "always", "never"), default="auto", help="table colours"
    )
    if sortable:
        p.add_argument(
            "--sort",
            choices=("time",),
            default=None,
            help="time: a timeline, sorted by start (bounded memory: spills to temp files)",
        )


class _Output:
    """A writer plus the summary of what went through it."""

    def __init__(self, writer: Any, summary: Summary) -> None:
        self.writer = writer
        self.summary = summary

    def __call__(self, item: Any, /) -> None:
        self.summary.add(item)
        self.writer(item)

    def many(self, items: Sequence[Any], /) -> None:
        """Each of ``items``, in order, as calling the output with each one does."""
        self.summary.add_many(items)
        self.writer.write_many(items)


@contextlib.contextmanager
def opened_output(
    args: argparse.Namespace, out: TextIO, err: TextIO, *, live: bool = False
) -> Iterator[_Output]:
    """The output the flags ask for; on exit its pending text is written and, when anything
    was a finding, the summary goes to stderr."""
    stream = out if args.output_file is None else open(args.output_file, "w", encoding="utf-8")  # noqa: SIM115
    try:
        kind = args.output or ("table" if _is_terminal(stream) else "json")
        writer: Any = make_writer(
            kind, stream, color=color_wanted(stream, args.color), flush_each=live
        )
        if getattr(args, "sort", None) == "time":
            writer = SortedWriter(writer)
        sink = _Output(writer, Summary())
        try:
            yield sink
        finally:
            writer.close()
            if sink.summary.hits or sink.summary.warnings:
                err.write(sink.summary.render())
    finally:
        if stream is not out:
            stream.close()


def _is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())
