"""Bytecode instructions a ``correlog`` command runs, by function: where interpreter time goes.

Machine instructions (callgrind) do not predict CPU time across code that trades bytecode for C
calls: the interpreter's loop runs fewer instructions a cycle than orjson, a join or an
f-string. This counts the other unit, the bytecode instructions themselves, with an opcode
tracer (``sys.settrace`` with ``f_trace_opcodes``) over one whole run of the command line in
this process, and prints the functions that ran the most. It is slow (a Python call per
bytecode) but exact and repeatable: compare two trees, or a change, on the same small input.
The first run in a process includes what the command imports and compiles lazily (regular
expressions, argument parsers); on a few thousand lines that is a few percent.

Run: ``python -m benchmarks.bytecodes [--top 30] VERB ARGS...``, for example
``python -m benchmarks.bytecodes correlate --format nxlog feed.json``. Output of the command
goes to ``/dev/null``; the table goes to stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Any

__all__ = ["count", "main"]

_Tracer = Callable[[FrameType, str, Any], Any]


def _where(frame: FrameType) -> str:
    """A function's name as the table shows it: its file's name and its own."""
    code = frame.f_code
    return f"{os.path.basename(code.co_filename)}:{code.co_name}"


def count(argv: Sequence[str]) -> Counter[str]:
    """Bytecode instructions run by ``correlog ARGV`` in this process, by function (output to
    ``/dev/null``; an exit status other than 0 raises ``SystemExit``)."""
    from correlog.cli import main as correlog_main

    counts: Counter[str] = Counter()

    def on_call(frame: FrameType, event: str, arg: Any) -> _Tracer:
        frame.f_trace_opcodes = True
        key = _where(frame)

        def on_opcode(frame: FrameType, event: str, arg: Any) -> _Tracer:
            if event == "opcode":
                counts[key] += 1
            return on_opcode

        return on_opcode

    with open(os.devnull, "w") as null, contextlib.redirect_stdout(null):
        sys.settrace(on_call)
        try:
            status = correlog_main(list(argv))
        finally:
            sys.settrace(None)
    if status:
        raise SystemExit(status)
    return counts


def main(argv: Sequence[str] | None = None) -> None:
    """Print the functions that ran the most bytecode in one run of the command."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=30, help="functions to list")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the correlog command")
    args = parser.parse_args(argv)
    if not args.command:
        parser.error("give a correlog command, for example: correlate --sample")
    counts = count(args.command)
    total = sum(counts.values())
    print(f"bytecode instructions: {total:,} ({' '.join(args.command)})")
    for where, n in counts.most_common(args.top):
        print(f"{n:12,} {100 * n / total:5.1f} %  {where}")


if __name__ == "__main__":
    main()
