"""A longer fuzz run of every reader and the archive layer than CI's (``tests/test_fuzz_readers``).

Usage: ``python benchmarks/fuzz.py --minutes 10 [--seed 1] [--hang-seconds 20] [--save DIR]
[--trace-memory]``

A worker process reads damaged inputs (a format's sample, mutated one to three times, sometimes
inside gzip/zip layers; see ``tests/fuzz_inputs.py``) with ``errors="skip"``; the parent watches
it and, when one input takes longer than ``--hang-seconds``, counts a hang, keeps the input's
seed and starts a new worker. At the end it reports the inputs tried, each distinct failure
(its type and where it was raised, with how many inputs hit it and the seed of the first), the
hangs, and the slowest input. ``--trace-memory`` also checks each input's traced peak memory, as
CI does (several times slower, so the times are then not comparable). Every input is rebuilt
from its seed: ``--replay SEED`` reads one
input again in this process, with its traceback. ``--save DIR`` writes failing inputs there.
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from tests.fuzz_inputs import (  # noqa: E402 (after the path set-up)
    FORMAT_NAMES,
    SAMPLES,
    Untyped,
    check,
    failure_signature,
    mutate,
    wrap,
)


def build(seed: int) -> tuple[str, str, bytes]:
    """(sample format, format to read as, input bytes) for one seed."""
    rng = random.Random(seed)
    fmt = rng.choice(FORMAT_NAMES)
    data = SAMPLES[fmt]
    for _ in range(rng.randint(1, 3)):
        data = mutate(data, rng)
    if rng.random() < 0.25:
        data = wrap(data, rng)
    return fmt, rng.choice(["auto", fmt]), data


def _worker(connection: Any, seeds: list[int], trace_memory: bool) -> None:
    for seed in seeds:
        connection.send(("start", seed))
        fmt, read_as, data = build(seed)
        started = time.perf_counter()
        try:
            check(
                data,
                read_as,
                trace_memory=trace_memory,
                max_nesting=3,
                max_members=8,
                evtx_timeout=10,
            )
            outcome = "ok"
        except Untyped as exc:
            outcome = failure_signature(exc) + f" | {exc}"[:200]
        except Exception as exc:  # the checker's own bug: report, do not stop the run
            outcome = failure_signature(exc) + " | checker"
        elapsed = time.perf_counter() - started
        connection.send(("done", (seed, fmt, read_as, len(data), elapsed, outcome)))
    connection.send(("end", None))


def run(
    minutes: float, first_seed: int, hang_seconds: float, save: Path | None, trace_memory: bool
) -> None:
    deadline = time.monotonic() + minutes * 60
    next_seed = first_seed
    tried = 0
    failures: dict[str, list[int]] = {}
    hangs: list[tuple[int, str]] = []
    slowest: tuple[float, int, str, str, int] = (0.0, 0, "", "", 0)
    context = multiprocessing.get_context("fork")
    while time.monotonic() < deadline:
        batch = list(range(next_seed, next_seed + 500))
        next_seed += len(batch)
        parent, child = context.Pipe()
        worker = context.Process(target=_worker, args=(child, batch, trace_memory), daemon=True)
        worker.start()
        current: int | None = None
        while True:
            if not parent.poll(hang_seconds):
                assert current is not None
                fmt, read_as, _ = build(current)
                hangs.append((current, f"{fmt} read as {read_as}"))
                tried += 1
                next_seed = current + 1
                worker.kill()
                break
            try:
                kind, payload = parent.recv()
            except EOFError:  # the worker died (a crash in C code, the OOM killer)
                failures.setdefault("worker died", []).append(current or -1)
                next_seed = (current or next_seed) + 1
                break
            if kind == "start":
                current = payload
            elif kind == "done":
                seed, fmt, read_as, size, elapsed, outcome = payload
                tried += 1
                if elapsed > slowest[0]:
                    slowest = (elapsed, seed, fmt, read_as, size)
                if outcome != "ok":
                    failures.setdefault(outcome, []).append(seed)
                if time.monotonic() >= deadline:
                    worker.kill()
                    break
            else:
                break
        worker.join()
    _report(tried, failures, hangs, slowest)
    if save is not None:
        save.mkdir(parents=True, exist_ok=True)
        for seeds in failures.values():
            (save / f"{seeds[0]}.bin").write_bytes(build(seeds[0])[2])
        for seed, _ in hangs:
            (save / f"hang-{seed}.bin").write_bytes(build(seed)[2])


def _report(
    tried: int,
    failures: dict[str, list[int]],
    hangs: list[tuple[int, str]],
    slowest: tuple[float, int, str, str, int],
) -> None:
    print(f"inputs tried: {tried}")
    print(f"distinct failures: {len(failures)}")
    for signature, seeds in sorted(failures.items(), key=lambda item: -len(item[1])):
        print(f"  {len(seeds):6d} x {signature} (first seed {seeds[0]})")
    print(f"hangs: {len(hangs)}")
    for seed, what in hangs[:20]:
        print(f"  seed {seed}: {what}")
    elapsed, seed, fmt, read_as, size = slowest
    print(
        f"slowest input: {elapsed * 1000:.1f} ms, seed {seed} ({fmt} sample read as {read_as}, "
        f"{size} bytes)"
    )


def replay(seed: int) -> None:
    fmt, read_as, data = build(seed)
    print(f"seed {seed}: {fmt} sample read as {read_as}, {len(data)} bytes")
    print(check(data, read_as, max_nesting=3, max_members=8, evtx_timeout=10))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0, help="the first input's seed")
    parser.add_argument("--hang-seconds", type=float, default=20.0)
    parser.add_argument("--save", type=Path, help="write failing inputs to this folder")
    parser.add_argument("--replay", type=int, help="read one input again, in this process")
    parser.add_argument("--trace-memory", action="store_true", help="check peak memory too")
    args = parser.parse_args()
    if args.replay is not None:
        replay(args.replay)
        return
    run(args.minutes, args.seed, args.hang_seconds, args.save, args.trace_memory)


if __name__ == "__main__":
    main()
