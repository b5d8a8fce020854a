"""Print the benchmark table: ``python benchmarks/run.py [--events N] [--repeat K] [--quick]``.

Each row is one hot path over the same generated stream (see :mod:`benchmarks.streams`). Every
row except the floor is timed in ``K`` alternating pairs with the floor, in the same process
(see :mod:`benchmarks.timing`); the rounds go over all rows in turn, so a slow spell of the
machine touches every row alike. Columns:

* ``rate``: median items per second (events/s; records/s for ``record build``). Absolute, so
  noisy: read it for orders of magnitude only.
* ``ns/item``: the same, as median nanoseconds per item.
* ``x floor``: median over the pairs of (row's rate / floor's rate in the same pair), with the
  lowest and highest pair in brackets. 0.25 means a quarter of the floor's speed.
* ``x dict``, ``x TTLCache``: the row's ``x floor`` over that baseline's ``x floor``: how the
  row compares with a plain dict loop and with a naive ``cachetools.TTLCache`` correlator.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Sequence
from pathlib import Path

if __package__ in (None, ""):
    # Run as a script (``python benchmarks/run.py``): make the ``benchmarks`` package importable.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.cases import CASES, DEFAULT_BATCH, FLOOR, Case, make_workload
from benchmarks.streams import DEFAULT_EVENTS, DEFAULT_HOSTS, make_stream
from benchmarks.timing import Pairs, frozen_gc, time_once

_QUICK_EVENTS = 20_000
_QUICK_REPEAT = 3
_WARMUP_EVENTS = 20_000


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python benchmarks/run.py",
        description="Benchmark correlog's hot paths against baselines run beside them.",
    )
    parser.add_argument("--events", type=int, default=None, help="events in the stream")
    parser.add_argument("--repeat", type=int, default=None, help="pairs per row (default 5)")
    parser.add_argument("--hosts", type=int, default=DEFAULT_HOSTS, help="hosts in the stream")
    parser.add_argument("--batch", type=int, default=DEFAULT_BATCH, help="events per feed_many")
    parser.add_argument("--seed", type=int, default=592, help="stream seed")
    parser.add_argument(
        "--quick", action="store_true", help=f"smoke run: {_QUICK_EVENTS} events, 3 pairs"
    )
    args = parser.parse_args(argv)
    if args.events is None:
        args.events = _QUICK_EVENTS if args.quick else DEFAULT_EVENTS
    if args.repeat is None:
        args.repeat = _QUICK_REPEAT if args.quick else 5
    if args.events < 1 or args.repeat < 1 or args.batch < 1:
        parser.error("--events, --repeat and --batch must be positive")
    return args


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def render(results: dict[str, Pairs], floor_rate: float, floor_ns: float) -> list[str]:
    """The table as lines of text (``results`` by row name, the floor excluded)."""
    baselines = {name: pairs.ratio for name, pairs in results.items() if pairs.subject.baseline}
    header = ("subject", "unit", "rate", "ns/item", "x floor [min-max]", "x dict", "x TTLCache")
    rows: list[tuple[str, ...]] = [
        (FLOOR.name, "events/s", f"{floor_rate:,.0f}", f"{floor_ns:.0f}", "1.00", "", "")
    ]
    for name, pairs in results.items():
        ratios = pairs.ratios
        ratio = pairs.ratio
        per_event = pairs.subject.unit == "events"
        rows.append(
            (
                name,
                f"{pairs.subject.unit}/s",
                f"{pairs.rate:,.0f}",
                f"{pairs.ns_per_item:.0f}",
                f"{ratio:.2f} [{min(ratios):.2f}-{max(ratios):.2f}]",
                _cell(ratio / baselines["dict get/set"] if per_event else None),
                _cell(ratio / baselines["naive TTLCache"] if per_event else None),
            )
        )
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    lines = []
    for n, row in enumerate((header, *rows)):
        cells = [
            cell.ljust(widths[i]) if i < 2 else cell.rjust(widths[i]) for i, cell in enumerate(row)
        ]
        lines.append("| " + " | ".join(cells) + " |")
        if n == 0:
            lines.append(
                "|"
                + "|".join("-" * (w + 1) + (":" if i >= 2 else "-") for i, w in enumerate(widths))
                + "|"
            )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """Generate the stream, time every row against the floor, print the table."""
    args = _parse(argv)
    started = time.perf_counter()
    stream = make_stream(args.events, hosts=args.hosts, seed=args.seed)
    work = make_workload(stream, batch=args.batch)
    warm = make_workload(make_stream(min(_WARMUP_EVENTS, args.events), seed=args.seed + 1))
    made = time.perf_counter() - started
    print(
        f"# correlog benchmarks: {len(stream.events):,} events, {len(stream.hosts)} hosts, "
        f"{stream.processes:,} processes ({stream.lost:,} never exit), batch {args.batch}, "
        f"{args.repeat} pairs per row, seed {args.seed}"
    )
    print(
        f"# {platform.python_implementation()} {platform.python_version()} on "
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs; "
        f"stream generated in {made:.1f} s"
    )
    subjects: list[Case] = [case for case in CASES if case is not FLOOR]
    results = {
        case.name: Pairs(case, FLOOR, case.items(work), FLOOR.items(work)) for case in subjects
    }
    # The inputs stay alive for the whole run; keep the collector from rescanning them.
    with frozen_gc():
        for case in CASES:
            time_once(case, warm)
        for r in range(args.repeat):
            for j, case in enumerate(subjects):
                results[case.name].add(work, subject_first=bool((r + j) % 2))
    floor_ns_all = sorted(ns for pairs in results.values() for ns in pairs.baseline_ns)
    floor_ns = floor_ns_all[len(floor_ns_all) // 2]
    n_events = len(stream.events)
    for line in render(results, n_events * 1e9 / floor_ns, floor_ns / n_events):
        print(line)
    print(f"# total {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
