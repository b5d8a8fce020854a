"""Sigma hunting throughput: ``python benchmarks/bench_sigma.py [--records N] [--pairs K]``.

Unit: records per second through :meth:`correlog.sigma.RuleSet.hunt` (Sigma view, lowering,
index lookup, the candidate rules' predicates, one :class:`~correlog.sigma.Match` per hit).
The records are a seeded stream shaped like a workstation's Sysmon process creations: about 40
ordinary programs with their usual parents and command lines (GUIDs, paths and counters
varying), and one record in twenty a living-off-the-land command that SigmaHQ's rules are
written for, so the candidates the index lets through, and the matches, are not all trivial.

Rows, each a full pass over the same records:

* ``dict lookup`` (baseline): per record, its Sigma view built and two dict lookups on it (the
  image's basename, the original file name) in tables as large as the index's: the least any
  indexed engine does per record.
* ``one trivial rule`` (baseline): ``hunt`` with a set of one rule (``Image|endswith:
  '\\cmd.exe'``): everything per record but the rules' own work.
* ``all rules``: ``hunt`` with every SigmaHQ process_creation rule (1,183 in the shared data).

Every subject is timed in ``K`` alternating pairs with ``one trivial rule`` in the same process
(see ``benchmarks/timing.py`` for why); ratios are medians over the pairs.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.sigma_records import make_records
from benchmarks.timing import frozen_gc
from correlog import Record
from correlog.sigma import RuleSet, SigmaRule, load_rules, sigma_view

#: SigmaHQ's rules in the shared data beside the repository.
RULES = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "sigma" / "rules"
DEFAULT_RECORDS = 20_000
DEFAULT_PAIRS = 5
#: The rate the issue asks of all rules together.
TARGET_RATE = 10_000


def trivial_rule() -> SigmaRule:
    """``Image|endswith: '\\cmd.exe'``: one rule, one basename key."""
    return SigmaRule.from_dict(
        {
            "title": "cmd.exe",
            "id": "00000000-0000-4000-8000-00000000c3d0",
            "logsource": {"category": "process_creation", "product": "windows"},
            "detection": {"sel": {"Image|endswith": "\\cmd.exe"}, "condition": "sel"},
        }
    )


def dict_lookup(records: Sequence[Record]) -> Callable[[], int]:
    """The baseline: the view, then two dict lookups per record."""
    names = {f"name{i}.exe": i for i in range(770)} | {"cmd.exe": 1}
    originals = {f"orig{i}.exe": i for i in range(370)} | {"cmd.exe": 1}

    def run() -> int:
        hits = 0
        for record in records:
            view = sigma_view(record)
            image = view.get("Image", "").lower()
            if names.get(image[image.rfind("\\") + 1 :]) is not None:
                hits += 1
            if originals.get(view.get("OriginalFileName", "").lower()) is not None:
                hits += 1
        return hits

    return run


def hunting(ruleset: RuleSet, records: Sequence[Record]) -> Callable[[], int]:
    """A full hunt over the records; returns the number of matches."""

    def run() -> int:
        return sum(1 for _ in ruleset.hunt(records))

    return run


def _time(run: Callable[[], int]) -> tuple[int, int]:
    start = time.perf_counter_ns()
    result = run()
    return max(time.perf_counter_ns() - start, 1), result


def measure(
    records: Sequence[Record], ruleset: RuleSet, pairs: int
) -> dict[str, tuple[list[float], list[float], int]]:
    """Per row: its rates (records/s), its ratios to ``one trivial rule`` pair by pair, and the
    answer of its last pass."""
    trivial = hunting(RuleSet([trivial_rule()]), records)
    subjects = {"dict lookup": dict_lookup(records), "all rules": hunting(ruleset, records)}
    n = len(records)
    out: dict[str, tuple[list[float], list[float], int]] = {}
    base_rates: list[float] = []
    with frozen_gc():
        for run in (trivial, *subjects.values()):
            run()  # warm up
        for name, subject in subjects.items():
            rates: list[float] = []
            ratios: list[float] = []
            answer = 0
            for k in range(pairs):
                if k % 2:
                    (ns, answer), (bns, _) = _time(subject), _time(trivial)
                else:
                    (bns, _), (ns, answer) = _time(trivial), _time(subject)
                rates.append(n * 1e9 / ns)
                base_rates.append(n * 1e9 / bns)
                ratios.append(rates[-1] / base_rates[-1])
            out[name] = (rates, ratios, answer)
    _, trivial_matches = _time(trivial)
    out["one trivial rule"] = (base_rates, [1.0] * len(base_rates), trivial_matches)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Load the rules, make the records, print the table."""
    parser = argparse.ArgumentParser(prog="python benchmarks/bench_sigma.py", description=__doc__)
    parser.add_argument("--records", type=int, default=DEFAULT_RECORDS)
    parser.add_argument("--pairs", type=int, default=DEFAULT_PAIRS)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rules", default=str(RULES), help="rule files or directory")
    args = parser.parse_args(argv)
    if args.records < 1 or args.pairs < 1:
        parser.error("--records and --pairs must be positive")
    started = time.perf_counter()
    ruleset = load_rules(args.rules)
    loaded = time.perf_counter() - started
    records = make_records(args.records, args.seed)
    print(
        f"# correlog Sigma hunt: {len(records):,} Sysmon records (seed {args.seed}), "
        f"{len(ruleset)} rules loaded in {loaded:.1f} s ({ruleset.report.summary()}); "
        f"{args.pairs} pairs per row"
    )
    print(
        f"# {platform.python_implementation()} {platform.python_version()} on "
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs; "
        f"index {ruleset.index_stats()}"
    )
    results = measure(records, ruleset, args.pairs)
    print("| row | records/s (median) | x one trivial rule [min-max] | matches per pass |")
    print("|---|---:|---:|---:|")
    for name in ("dict lookup", "one trivial rule", "all rules"):
        rates, ratios, answer = results[name]
        spread = f"{statistics.median(ratios):.2f} [{min(ratios):.2f}-{max(ratios):.2f}]"
        print(f"| {name} | {statistics.median(rates):,.0f} | {spread} | {answer:,} |")
    all_rate = statistics.median(results["all rules"][0])
    dict_rate = statistics.median(results["dict lookup"][0])
    verdict = "meets" if all_rate >= TARGET_RATE else "MISSES"
    print(
        f"# all rules: {all_rate / dict_rate:.2f} x dict lookup; {all_rate:,.0f} records/s "
        f"{verdict} the {TARGET_RATE:,} records/s target; "
        f"total {time.perf_counter() - started:.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
