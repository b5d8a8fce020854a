"""Print the benchmark table: ``python benchmarks/run.py [--events N] [--repeat K] [--quick]``.

``--all`` then measures every goal of the performance issue and prints one row per goal
(subject, figure, goal, met or not), and the memory results; see :mod:`benchmarks.goals` and
:mod:`benchmarks.memory`. It takes about 6 minutes here (the 10 M-event memory stream alone
about 90 s; ``--flat-events`` and the other size options shorten it); ``--quick --all`` is a
smoke run of everything on tiny inputs (about 20 s). Each memory probe runs in a fresh interpreter
(``python -m benchmarks.memory ...``, which can also be run on its own).

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
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    # Run as a script (``python benchmarks/run.py``): make the ``benchmarks`` package importable.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import goals
from benchmarks.cases import CASES, DEFAULT_BATCH, FLOOR, Case, Workload, make_workload
from benchmarks.goals import Row
from benchmarks.streams import DEFAULT_EVENTS, DEFAULT_HOSTS, make_stream
from benchmarks.timing import Duel, Pairs, Side, frozen_gc, time_once

_QUICK_EVENTS = 20_000
_QUICK_REPEAT = 3
_WARMUP_EVENTS = 20_000
#: ``--all`` sizes: (option, default, with --quick, what it sets).
_GOAL_SIZES: tuple[tuple[str, int, int, str], ...] = (
    ("goal-repeat", 5, 3, "pairs per goal duel"),
    ("eql-events", 100_000, 4_000, "events streamed through EQL"),
    ("evict-max-open", 100_000, 2_000, "max_open of the eviction goal"),
    ("evict-events", 200_000, 6_000, "timed events of the eviction goal"),
    ("snare-events", 100_000, 3_000, "Snare lines"),
    ("nxlog-events", 50_000, 3_000, "stream events rendered as NXLog lines"),
    ("evtx-loops", 20, 1, "passes over the shared EVTX files per timing"),
    ("entry-n", 100_000, 2_000, "open entries of the largest bytes-per-entry probe"),
    ("flat-events", 10_000_000, 60_000, "events of the long memory stream"),
    ("flat-max-open", 100_000, 1_000, "max_open of the long memory stream"),
    ("traced-events", 200_000, 20_000, "events of the traced memory streams"),
    ("traced-max-open", 10_000, 1_000, "max_open of the traced memory streams"),
)
_ROOT = Path(__file__).resolve().parent.parent


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
    parser.add_argument("--all", action="store_true", help="then every goal's row and memory")
    goal = parser.add_argument_group("--all sizes (defaults; --quick makes them tiny)")
    for name, full, _quick, text in _GOAL_SIZES:
        goal.add_argument(f"--{name}", type=int, default=None, help=f"{text} ({full:,})")
    args = parser.parse_args(argv)
    if args.events is None:
        args.events = _QUICK_EVENTS if args.quick else DEFAULT_EVENTS
    if args.repeat is None:
        args.repeat = _QUICK_REPEAT if args.quick else 5
    for name, full, quick, _ in _GOAL_SIZES:
        attr = name.replace("-", "_")
        if getattr(args, attr) is None:
            setattr(args, attr, quick if args.quick else full)
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
    print(f"# total {time.perf_counter() - started:.0f} s", flush=True)
    if args.all:
        with frozen_gc():
            rows = run_goals(args, results, work)
        print()
        print("## Goals")
        print()
        for line in goals.render_rows(rows):
            print(line)
        print(f"# total {time.perf_counter() - started:.0f} s")
    return 0


def _probe(*argv: str) -> dict[str, Any]:
    """Run one memory probe in a fresh interpreter; its JSON answer."""
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.memory", *argv],
        cwd=_ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


def _mib(n: float) -> str:
    return f"{n / 2**20:,.1f} MiB"


def _series(values: Sequence[float]) -> str:
    return ", ".join(f"{v / 2**20:.1f}" for v in values)


def _duel(subject: Side, baseline: Side, pairs: int) -> Duel:
    return Duel(subject, baseline).run(pairs)


def _ratio_row(goal: str, subject: str, duel: Duel, at_least: float, note: str = "") -> Row:
    ratio = duel.ratio
    return Row(
        goal,
        subject,
        f"{ratio:.2f} x [{min(duel.ratios):.2f}-{max(duel.ratios):.2f}]",
        f">= {at_least:g} x",
        ratio >= at_least,
        note,
    )


def _say(text: str) -> None:
    print(f"# {text}", file=sys.stderr, flush=True)


def run_goals(args: argparse.Namespace, results: dict[str, Pairs], work: Workload) -> list[Row]:
    """Measure every goal; the main table's ``results`` give goals 1, 2 and the TTLCache one."""
    rows: list[Row] = []
    k = args.goal_repeat
    fm = results["Correlator.feed_many"]
    rows.append(
        Row(
            "1",
            "Correlator.feed_many / floor",
            f"{fm.ratio:.2f} x [{min(fm.ratios):.2f}-{max(fm.ratios):.2f}]",
            ">= 0.5 x",
            fm.ratio >= 0.5,
            f"{fm.ns_per_item:.0f} ns/event",
        )
    )
    for name, label in (
        ("single_record", "single_record per event / floor"),
        ("Monitor single_event", "Monitor(single_event=True) / floor"),
    ):
        pairs = results[name]
        rows.append(
            Row(
                "2",
                label,
                f"{pairs.ratio:.2f} x [{min(pairs.ratios):.2f}-{max(pairs.ratios):.2f}]",
                ">= 0.75 x",
                pairs.ratio >= 0.75,
                f"{pairs.ns_per_item:.0f} ns/event",
            )
        )
    ttl = results["naive TTLCache"]
    rows.append(
        Row(
            "3",
            "feed_many / naive TTLCache",
            f"{fm.ratio / ttl.ratio:.2f} x",
            ">= 5 x",
            fm.ratio / ttl.ratio >= 5,
            "ratio of the two rows' x floor",
        )
    )

    # EQL, on a shorter stream of the same kind.
    _say(f"EQL on {args.eql_events:,} events")
    eql_work = make_workload(make_stream(args.eql_events, seed=args.seed))
    expected = goals.complete_records(eql_work.stream)
    for maxspan, at_least in ((None, 15.0), ("1h", 50.0)):
        duel = _duel(*goals.eql_sides(eql_work, maxspan), k)
        agree = duel.answers[1] == expected
        rows.append(
            _ratio_row(
                "3",
                "feed_many / EQL" + (" with maxspan=1h" if maxspan else " (no maxspan)"),
                duel,
                at_least,
                f"EQL {duel.baseline_rate:,.0f} events/s; "
                f"{duel.answers[1]:,} sequences = {expected:,} complete records: {agree}",
            )
        )

    # Record build.
    _say("record build")
    build, loop = goals.record_build_sides(work)
    duel = _duel(build, loop, max(k, 7))
    net = goals.median(duel.extra_ns)
    gross = statistics_median_ns(duel.subject_ns, build.items)
    rows.append(
        Row(
            "4",
            "build one record (net of its loop)",
            f"{net:.0f} ns",
            "<= 150 ns",
            net <= 150,
            f"gross {gross:.0f} ns/record with the loop; loop alone "
            f"{statistics_median_ns(duel.baseline_ns, loop.items):.0f} ns",
        )
    )

    # Eviction.
    _say(f"eviction at max_open={args.evict_max_open:,}")
    duel = _duel(*goals.eviction_sides(args.evict_max_open, args.evict_events), k)
    rows.append(
        _ratio_row(
            "6",
            f"evicting at max_open={args.evict_max_open:,} / never evicting",
            duel,
            0.5,
            f"{duel.subject_rate:,.0f} vs {duel.baseline_rate:,.0f} events/s; "
            f"{duel.answers[0]:,} records per pass",
        )
    )

    rows += _end_to_end(args)
    rows += _memory(args)
    return rows


def statistics_median_ns(ns: Sequence[int], items: int) -> float:
    """Median nanoseconds per item over passes."""
    return goals.median([n / items for n in ns])


def _end_to_end(args: argparse.Namespace) -> list[Row]:
    rows: list[Row] = []
    k = args.goal_repeat
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    with tempfile.TemporaryDirectory() as tmp:
        _say("writing Snare and NXLog inputs")
        inputs = goals.write_inputs(Path(tmp), args.snare_events, args.nxlog_events)
        fast = goals.has_orjson()
        for name, label in (("nxlog", "NXLog"), ("nxlog-lean", "NXLog, no Message")):
            path, lines = inputs[name]
            size = path.stat().st_size / lines
            if fast:
                duel = _duel(*goals.nxlog_sides(path, lines, fast=True), k)
                rows.append(
                    _ratio_row(
                        "7",
                        f"{label} read+process (orjson) / orjson.loads",
                        duel,
                        0.6,
                        f"{duel.subject_rate:,.0f} lines/s; {lines:,} lines of {size:,.0f} B",
                    )
                    if name == "nxlog"
                    else _info(
                        _ratio_row("7", f"{label} read+process (orjson) / orjson.loads", duel, 0.6),
                        f"{duel.subject_rate:,.0f} lines/s; {size:,.0f} B a line",
                    )
                )
            else:
                rows.append(
                    Row("7", f"{label} (orjson)", "-", ">= 0.6 x", None, "skipped: no orjson")
                )
            duel = _duel(*goals.nxlog_sides(path, lines, fast=False), k)
            rows.append(
                _info(
                    _ratio_row("7", f"{label} read+process (json) / json.loads", duel, 0.6),
                    f"{duel.subject_rate:,.0f} lines/s",
                )
            )
        paths = goals.evtx_files()
        if paths:
            _say(f"EVTX: {len(paths)} files")
            for decode in (False, True):
                subject, baseline, per_pass = goals.evtx_sides(
                    paths, args.evtx_loops, decode=decode
                )
                duel = _duel(subject, baseline, k)
                row = _ratio_row(
                    "7",
                    f"EVTX read+process / {baseline.name}",
                    duel,
                    0.5,
                    f"{duel.subject_rate:,.0f} vs {duel.baseline_rate:,.0f} records/s; "
                    f"{per_pass:,} records a pass",
                )
                rows.append(_info(row, row.note) if decode else row)
        else:
            rows.append(
                Row("7", "EVTX", "-", ">= 0.5 x", None, "skipped: no shared EVTX or no evtx")
            )
        path, lines = inputs["snare"]
        duel = _duel(*goals.snare_sides(path, lines), k)
        rate = duel.subject_rate
        rows.append(
            Row(
                "7",
                "Snare read+process, events/s",
                f"{rate:,.0f}/s",
                ">= 150,000/s",
                rate >= 150_000,
                f"{duel.ratio:.2f} x decode+split; {machine}",
            )
        )
    return rows


def _info(row: Row, note: str) -> Row:
    """The same row as a figure reported beside a goal, not judged."""
    return Row(row.goal, row.subject, row.measured, f"({row.target})", None, note)


def _memory(args: argparse.Namespace) -> list[Row]:
    rows: list[Row] = []
    sizes = sorted({min(10_000, args.entry_n), args.entry_n})
    for intern, limit in ((True, 400), (False, 800)):
        for n in sizes:
            _say(f"bytes per entry, {n:,} entries, intern={intern}")
            flags = ["entry", "--n", str(n)] + ([] if intern else ["--no-intern"])
            got = _probe(*flags)
            rows.append(
                Row(
                    "5",
                    f"bytes per open entry, {got['n']:,} open, "
                    + ("interned" if intern else "not interned"),
                    f"{got['per_entry']:.0f} B",
                    f"<= {limit} B",
                    got["per_entry"] <= limit,
                    "tracemalloc delta / open entries",
                )
            )
    for n in sizes:
        _say(f"EQL bytes per open sequence, {n:,}")
        got = _probe("eql", "--n", str(n))
        rows.append(
            Row(
                "3",
                f"EQL bytes per open sequence, {n:,} open",
                f"{got['per_entry']:.0f} B",
                "(report)",
                None,
                "tracemalloc delta / open sequences",
            )
        )
    every = max(args.traced_events // 10, 1)
    _say(f"EQL and correlator memory series, {args.traced_events:,} events")
    got = _probe(
        "eql",
        "--n",
        str(args.traced_events),
        "--every",
        str(every),
        "--max-open",
        str(args.traced_max_open),
    )
    eql_series, corr_series = got["series"]["eql"], got["series"]["correlog"]
    rows.append(
        Row(
            "3",
            "EQL (no maxspan) traced size, 90 % never exit",
            f"{_series(eql_series)} MiB",
            "(grows?)",
            None,
            f"every {every:,} events; correlog max_open={args.traced_max_open:,}: "
            f"{_series(corr_series)} MiB",
        )
    )
    for intern in (True, False):
        _say(f"traced stream, {args.traced_events:,} events, intern={intern}")
        flags = ["flat", "--events", str(args.traced_events)]
        flags += ["--max-open", str(args.traced_max_open)]
        flags += ["--every", str(every)] + ([] if intern else ["--no-intern"])
        got = _probe(*flags)
        bound = got["bound"]
        steady = max(got["peaks"])
        label = "interned" if intern else "not interned"
        rows.append(
            Row(
                "5",
                f"traced peak while streaming, max_open={args.traced_max_open:,}, {label}",
                _mib(steady),
                f"<= {_mib(bound)}",
                steady <= bound,
                f"peaks per {every:,} events: {_series(got['peaks'])} MiB",
            )
        )
        rows.append(
            Row(
                "5",
                f"traced peak incl. the final flush, max_open={args.traced_max_open:,}, {label}",
                _mib(got["close_peak"]),
                f"<= {_mib(bound)}",
                got["close_peak"] <= bound,
                "the end of the stream: process() flushes the open entries one record at a time",
            )
        )
    _say(f"long stream, {args.flat_events:,} events, max_open={args.flat_max_open:,} (RSS)")
    every = max(args.flat_events // 10, 1)
    got = _probe(
        "flat",
        "--events",
        str(args.flat_events),
        "--max-open",
        str(args.flat_max_open),
        "--every",
        str(every),
        "--rss",
    )
    bound = got["bound"]
    streaming = got["max_rss_streaming"] - got["start_rss"]
    peak = got["max_rss"] - got["start_rss"]
    series = got["sizes"]
    growth = (series[-1] - series[0]) / series[0] if series and series[0] else 0.0
    rows.append(
        Row(
            "5",
            f"RSS over {got['events']:,} events, max_open={args.flat_max_open:,}: flat?",
            f"{100 * growth:+.1f} % first to last sample",
            "flat (<= +5 %)",
            abs(growth) <= 0.05,
            f"RSS above start every {every:,} events: {_series(series)} MiB; "
            f"{got['evicted']:,} evicted; {got['seconds']:.0f} s",
        )
    )
    rows.append(
        Row(
            "5",
            f"peak RSS while streaming, max_open={args.flat_max_open:,}",
            _mib(streaming),
            f"<= {_mib(bound)}",
            streaming <= bound,
            f"incl. close(): {_mib(peak)}",
        )
    )
    return rows


if __name__ == "__main__":
    sys.exit(main())
