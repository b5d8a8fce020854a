"""Output speed: the compiled JSON encoder against the readable reference, and ``correlog
correlate`` end to end against SEC (the Simple Event Correlator), each figure beside its baseline
measured in the same run.

* Encoder, in records/s: ``correlog.output`` (orjson when installed, and the stdlib-only path),
  per record and one text per batch, against ``json.dumps(item.to_json(), ensure_ascii=False,
  separators=(",", ":"))``, over the records of the bundled sample (repeated) and of a generated
  Snare stream (read and correlated first, so the records are what the CLI writes).
* End to end, in events/s of CPU time (user + system) and peak RSS of each process:
  ``correlog correlate --format snare`` on that stream, once with its JSON written by the
  reference path ("before": the CLI run with ``correlog.sinks`` patched back to ``json.dumps``)
  and once as it is ("after"), against SEC with three context rules doing the same pairing
  (592 opens a context per host and pid, 600 adds to it, 593 writes it out and deletes it).
  SEC is Debian's ``sec`` package; without it that part is skipped.

Run: ``python benchmarks/bench_output.py [--events 200000] [--repeat 3]``. The seed is fixed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import correlog
from correlog import Correlator, Monitor
from correlog.output import Encoder
from correlog.rules import AnonymousWeb

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.end_to_end import SEC_RULES, cpu_and_rss
from benchmarks.render import snare_lines, write_lines
from benchmarks.streams import make_stream

__all__ = ["SEC_RULES", "main"]

#: Runs the CLI with its JSON written by the readable reference (the path before the encoder),
#: whichever of the sinks or the output writers the CLI uses.
_BEFORE = (
    "import json, sys, correlog.sinks as s, correlog.output as o;"
    "ref = lambda item: json.dumps(item.to_json(), ensure_ascii=False, separators=(',', ':'));"
    "s.json_text = o.ENCODER.text = ref;"
    "s.json_lines = lambda items: ''.join(ref(x) + chr(10) for x in items);"
    "from correlog.cli import main; sys.argv[0] = 'correlog'; raise SystemExit(main())"
)
_AFTER = (
    "import sys; from correlog.cli import main; sys.argv[0] = 'correlog'; raise SystemExit(main())"
)


def _reference(item: Any) -> str:
    return json.dumps(item.to_json(), ensure_ascii=False, separators=(",", ":"))


def _best(fn: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def encoder_rates(items: Sequence[Any], repeat: int) -> dict[str, float]:
    """Records/s of each way of writing ``items`` as JSON text, measured interleaved."""
    fast, stdlib = Encoder(), Encoder(use_orjson=False)
    ways: dict[str, Callable[[], object]] = {
        "reference json.dumps(to_json())": lambda: [_reference(x) for x in items],
        "encoder, per record": lambda: [fast.text(x) for x in items],
        "encoder, stdlib only": lambda: [stdlib.text(x) for x in items],
        "encoder, one text per 256": lambda: [
            fast.lines(items[i : i + 256]) for i in range(0, len(items), 256)
        ],
    }
    best = dict.fromkeys(ways, float("inf"))
    for _ in range(repeat):
        for name, fn in ways.items():
            best[name] = min(best[name], _best(fn, 1))
    return {name: len(items) / seconds for name, seconds in best.items()}


def _print_rates(title: str, rates: dict[str, float]) -> None:
    base = next(iter(rates.values()))
    print(f"\n{title}")
    for name, rate in rates.items():
        print(f"  {name:34s} {rate:12,.0f} records/s   {rate / base:5.2f}x")


def end_to_end(path: Path, events: int, repeat: int, folder: Path) -> None:
    """``correlate`` before and after the encoder, against SEC, interleaved; best of ``repeat``."""
    python = sys.executable
    runs: dict[str, list[str]] = {
        "correlog correlate, before (json.dumps)": [
            python,
            "-c",
            _BEFORE,
            "correlate",
            "--format",
            "snare",
            str(path),
        ],
        "correlog correlate, after (encoder)": [
            python,
            "-c",
            _AFTER,
            "correlate",
            "--format",
            "snare",
            str(path),
        ],
    }
    sec = shutil.which("sec")
    if sec:
        rules = folder / "pairing.sec"
        rules.write_text(SEC_RULES.lstrip(), encoding="utf-8")
        runs["SEC, 3 context rules"] = [
            sec,
            f"--conf={rules}",
            f"--input={path}",
            "--notail",
            "--log=/dev/null",
        ]
    else:
        print("\n(SEC not installed: end-to-end peer skipped)")
    best: dict[str, tuple[float, int]] = {}
    for _ in range(repeat):
        for name, argv in runs.items():
            cpu, rss = cpu_and_rss(argv)
            old = best.get(name)
            best[name] = (min(cpu, old[0]), max(rss, old[1])) if old else (cpu, rss)
    print(f"\nEnd to end, {events:,} Snare events (CPU seconds, best of {repeat}; peak RSS)")
    sec_figures = best.get("SEC, 3 context rules")
    for name, (cpu, rss) in best.items():
        line = f"  {name:40s} {events / cpu:10,.0f} events/s  {rss / 1024:6.1f} MiB"
        if sec_figures and not name.startswith("SEC"):
            line += (
                f"   {sec_figures[0] / cpu:4.2f}x SEC's speed, {rss / sec_figures[1]:4.2f}x its RSS"
            )
        print(line)
    before, after = best[next(iter(runs))], best["correlog correlate, after (encoder)"]
    speed, memory = before[0] / after[0], after[1] / before[1]
    print(f"  after / before: {speed:4.2f}x the speed, {memory:4.2f}x the RSS")


def _sample_items(path: str) -> list[Any]:
    """The records and alerts of ``correlog watch --records`` on the bundled sample."""
    items: list[Any] = []
    monitor = Monitor([AnonymousWeb()], correlator=Correlator(), on_record=items.append)
    for event in correlog.read(path):
        items.extend(monitor.feed(event))
    items.extend(monitor.close())
    return items


def main(argv: Sequence[str] | None = None) -> None:
    """Print the encoder's and the end-to-end ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-end-to-end", action="store_true")
    parser.add_argument("--no-encoder", action="store_true", help="end to end only")
    args = parser.parse_args(argv)

    sample = resources.files("correlog") / "samples" / "iis-intrusion.snare"
    if not args.no_encoder:
        sample_items = _sample_items(str(sample))
        copies = sample_items * (50_000 // len(sample_items))
        _print_rates(
            f"Encoder, bundled sample ({len(sample_items)} records and alerts, repeated to "
            f"{len(copies):,})",
            encoder_rates(copies, args.repeat),
        )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = folder / "stream.snare"
        write_lines(path, snare_lines(make_stream(args.events).events))
        if not args.no_encoder:
            records = list(Correlator().process(correlog.read(str(path), "snare")))
            _print_rates(
                f"Encoder, records of {args.events:,} Snare events ({len(records):,} records)",
                encoder_rates(records, args.repeat),
            )
        if not args.no_end_to_end:
            end_to_end(path, args.events, args.repeat, folder)


if __name__ == "__main__":
    main()
