"""CPU by stage of ``correlog correlate`` in one process: what each stage alone allows.

Each stage runs alone on the same input, in this process, best of ``--repeat`` (process CPU
time, the garbage collector on, what was read before frozen out of its reach):

* ``floor``: the format's parse floor, the pass the readers' cases time (decode and split every
  line for legacy text, ``orjson.loads`` of every line for JSON lines, the ``evtx`` crate's
  rendering plus ``orjson.loads`` for EVTX; see :mod:`benchmarks.cases`);
* ``read``: ``correlog.read`` of every event (the floor's parse inside it);
* ``fold``: ``Correlator.feed_many`` of those events, then ``close``;
* ``cross-log``: the cross-log stage (``LogMerger``, as ``correlate`` runs it) over the records;
* ``encode``: the records as JSON text (the command's encoder).

Beside each stage, ``floor / stage``: the speed the command could reach against the floor if
that stage were all it did. The floor over their sum bounds the command's ratio from above,
before the interpreter's start, the command line around the stages and the writing: when the
stages a command cannot skip already allow less than a goal, the command cannot reach it.

Run: ``python -m benchmarks.stages --format nxlog FILE...`` (``--repeat 3``).
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar, cast

from . import cases

__all__ = ["Stage", "main", "measure"]

_T = TypeVar("_T")

Stage = tuple[str, float]
#: Formats of JSON lines: their floor is ``orjson.loads`` of every line.
_JSON_LINES = frozenset({"nxlog", "winlogbeat", "ecs", "jsonl"})


def _best(work: Callable[[], _T], repeat: int) -> tuple[float, _T]:
    """The least CPU seconds of ``repeat`` runs of ``work``, and what the last run gave."""
    best = float("inf")
    result: Any = None
    for _ in range(repeat):
        gc.collect()
        started = time.process_time()
        result = work()
        best = min(best, time.process_time() - started)
    return best, result


def _floor(paths: Sequence[str], fmt: str) -> Callable[[], int]:
    """The format's floor over every input: the passes the readers' cases time (see
    :mod:`benchmarks.cases`), each answering the items it parsed."""
    files = [Path(path) for path in paths]
    if fmt == "evtx":
        passes = [cases.evtx_sides(files, 1)[1].prepare()]
    else:
        sides = cases.nxlog_sides if fmt in _JSON_LINES else cases.snare_sides
        passes = [sides(file, 0)[1].prepare() for file in files]
    return lambda: sum(cast(int, each()) for each in passes)


def measure(paths: Sequence[str], fmt: str, repeat: int = 3) -> tuple[int, list[Stage]]:
    """The items the floor parsed, and each stage's best CPU seconds (see the module docs)."""
    import correlog
    from correlog import Correlator
    from correlog._crosslog import LogMerger
    from correlog.output._encoder import Encoder

    floor, items = _best(_floor(paths, fmt), repeat)
    read, events = _best(lambda: [e for path in paths for e in correlog.read(path, fmt)], repeat)
    gc.freeze()  # the events stay: the collector need not walk them in the stages below
    try:

        def fold() -> list[Any]:
            correlator = Correlator()
            records = correlator.feed_many(events)
            return records + correlator.close()

        folded, records = _best(fold, repeat)

        def cross_log() -> list[Any]:
            merger = LogMerger()
            return merger.feed_many(records) + merger.close()

        merged, _ = _best(cross_log, repeat)
        encoder = Encoder()
        encoded, _ = _best(lambda: encoder.lines(records), repeat)
    finally:
        gc.unfreeze()
    stages = [
        ("floor", floor),
        ("read", read),
        ("fold", folded),
        ("cross-log", merged),
        ("encode", encoded),
    ]
    return items, stages


def main(argv: Sequence[str] | None = None) -> None:
    """Print each stage's CPU time, per item, and the floor's speed against it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--format", required=True, help="the input's format, as correlog names it")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("paths", nargs="+")
    args = parser.parse_args(argv)
    items, stages = measure(args.paths, args.format, args.repeat)
    floor = stages[0][1]
    print(f"{args.format}: {items:,} items, CPU seconds, best of {args.repeat}")
    work = sum(seconds for name, seconds in stages if name != "floor")
    for name, seconds in [*stages, ("stages", work)]:
        per_item = seconds / max(items, 1) * 1e6
        print(
            f"  {name:10s} {seconds:7.3f} s  {per_item:7.2f} us an item"
            f"  floor / this {floor / seconds:5.2f}"
        )


if __name__ == "__main__":
    main()
