"""``correlog correlate``: one fat record per process, as JSON lines."""

from __future__ import annotations

import argparse
from collections import Counter
from operator import attrgetter
from typing import TextIO

from .._records import Record
from ._crosslog import CrossLog
from ._inputs import (
    Inputs,
    add_engine_options,
    add_input_options,
    correlator,
    fewer_collections,
    guarded,
    print_summary,
    reasons,
    window,
)
from ._output import add_output_options, opened_output

__all__ = ["add_parser", "run"]

_REASON = attrgetter("reason")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the command and its options."""
    p = sub.add_parser("correlate", help="one fat record per process, as JSON lines")
    add_input_options(p)
    add_engine_options(p)
    add_output_options(p)


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Correlate the inputs; print each record as it becomes final, then those still open."""
    engine = correlator(args)
    inputs = Inputs(args.paths, args)
    across = CrossLog.from_args(args)
    counts: Counter[str] = Counter()
    with fewer_collections(), opened_output(args, out, err) as sink:

        def write(records: list[Record]) -> None:
            sink.many(records)
            counts.update(map(_REASON, records))

        def body() -> None:
            # Correlator.process, except that a batch cut short by a signal or a bad line is
            # still folded before the stop goes on. A signal stops a read, never a fold.
            for batch in inputs.batches():
                write(across.records(engine.feed_many(batch)))

        def finish() -> None:
            write(across.records(engine.close()))  # nothing read is lost, whatever stopped us
            write(across.close())
            for warning in across.warnings():
                sink.summary.warn(warning)
            sink.writer.flush()

        status = guarded(body, finish, err, inputs.label)
    print_summary(err, inputs, reasons(counts) + window(engine) + across.counts())
    return status
