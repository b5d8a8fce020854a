"""Snare reader throughput, in lines (= events) per second, beside a baseline from the same run.

Hot path: ``correlog.read(path, "snare")`` over a generated file of Snare lines, every one a
process event (592, 600 or 593 in the proportions an IIS host logs them), so no line takes the
cheap "ignored" exit. Baseline: reading the same file as bytes lines, decoding each and splitting
it on tabs, which is the least any Snare reader must do; the ratio says how much the decoding
itself costs, independently of how fast this machine is today.

Run: ``python benchmarks/bench_snare_reader.py [--lines N] [--repeat R]``. The seed is fixed.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import correlog

_SEED = 20030304
_MESSAGES = {
    592: (
        "A new process has been created: New Process ID: {pid} Image File Name: {image} "
        "Creator Process ID: {cpid} User Name: SYSTEM Domain: NT AUTHORITY Logon ID: (0x0,0x3E7)"
    ),
    600: (
        "A process was assigned a primary token. Assigning Process Information: Process ID: "
        "{cpid} Image File Name: C:\\WINDOWS\\system32\\inetsrv\\w3wp.exe Primary User Name: "
        "IUSR_{host} Primary Domain: {host} Primary Logon ID: (0x0,0x2A3C1) New Process "
        "Information: Process ID: {pid} Image File Name: {image} Target User Name: IUSR_{host} "
        "Target Domain: {host} Target Logon ID: (0x0,0x2A3C1)"
    ),
    593: (
        "A process has exited: Process ID: {pid} Image File Name: {image} User Name: IUSR_{host} "
        "Domain: {host} Logon ID: (0x0,0x2A3C1)"
    ),
}
_IMAGES = (
    "C:\\WINDOWS\\system32\\cmd.exe",
    "C:\\PHP\\php.exe",
    "C:\\Program Files\\Perl\\bin\\perl.exe",
    "C:\\WINDOWS\\system32\\ping.exe",
)
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def generate(path: Path, lines: int) -> None:
    """Write ``lines`` Snare lines (592 -> 600 -> 593 per process) to ``path``."""
    rng = random.Random(_SEED)
    start = 1_046_769_300  # 2003-03-04 09:15:00 UTC
    with path.open("w", encoding="utf-8", newline="\n") as out:
        for n in range(lines):
            event_id = (592, 600, 593)[n % 3]
            host = f"IIS{rng.randrange(1, 9):02d}"
            when = time.gmtime(start + n // 50)
            stamp = time.strftime("%a %b %d %H:%M:%S %Y", when)
            message = _MESSAGES[event_id].format(
                pid=rng.randrange(4, 65536, 4),
                cpid=rng.randrange(4, 65536, 4),
                image=rng.choice(_IMAGES),
                host=host,
            )
            out.write(
                f"{host}\tMSWinEventLog\t1\tSecurity\t{n + 1}\t{stamp}\t{event_id}\tSecurity\t"
                f"SYSTEM\tUser\tSuccess Audit\t{host}\tDetailed Tracking\t{message}\t{n + 1}\n"
            )


def _baseline(path: Path) -> int:
    n = 0
    with path.open("rb") as f:
        for raw in f:
            raw.decode().rstrip("\r\n").split("\t")
            n += 1
    return n


def _reader(path: Path) -> int:
    n = 0
    for _ in correlog.read(path, "snare"):
        n += 1
    return n


def _best(run: Callable[[Path], int], path: Path, repeat: int) -> tuple[float, int]:
    best = float("inf")
    count = 0
    for _ in range(repeat):
        began = time.perf_counter()
        count = run(path)
        best = min(best, time.perf_counter() - began)
    return best, count


def main() -> None:
    """Generate the file, time baseline and reader (best of ``--repeat``), print lines/s."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.snare"
        generate(path, args.lines)
        base_s, base_n = _best(_baseline, path, args.repeat)
        read_s, read_n = _best(_reader, path, args.repeat)
    if read_n != args.lines or base_n != args.lines:
        raise SystemExit(f"expected {args.lines} lines, read {read_n} (baseline {base_n})")
    print(f"baseline (decode + split): {base_n / base_s:12,.0f} lines/s")
    print(f"correlog.read snare:       {read_n / read_s:12,.0f} events/s")
    print(f"reader / baseline time:    {read_s / base_s:12.1f}x")


if __name__ == "__main__":
    main()
