"""What one record per process across logs costs: ``python -m benchmarks.crosslog``.

20,000 processes on 10 hosts, each logged by Sysmon (1, 5) and by the Security log (4688,
4689; times cut to the second, as NXLog gives them), the two logs interleaved in time order:
80,000 events. The subject correlates them in batches of 1,024 and passes the records through
``LogMerger``; the baseline only correlates them (``Correlator.feed_many``), in the same run, in
alternating pairs (see :mod:`benchmarks.timing`). Printed: the ratio of rates (events/s of the
subject over the baseline's), how many records each side gave, and the most records that
waited for a partner at once.

``python -m benchmarks.crosslog --instructions`` counts instead, under ``valgrind
--tool=callgrind`` (deterministic): the instructions of building the events alone, then of
correlating them, then of correlating and merging, on 4,000 processes; printed per event
(the correlator) and per record (the merge stage).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from itertools import islice
from pathlib import Path

from correlog import Correlator, EventKind, Layout, ProcessEvent
from correlog._crosslog import LogMerger

from .timing import Duel, Pass, Side, frozen_gc

__all__ = ["events", "main", "sides"]

S = 1_000_000_000
IMAGES = ("C:\\Windows\\System32\\cmd.exe", "C:\\Windows\\System32\\conhost.exe")


def events(processes: int = 20_000, hosts: int = 10) -> list[ProcessEvent]:
    """Both logs' events of ``processes`` processes, in time order (deterministic)."""
    out = []
    for i in range(processes):
        host = f"ws{i % hosts}"
        start = i * S // 10 + 7_000_000 * (i % 97)
        end = start + (i % 13) * S + 300_000_000
        pid = 4 * (1 + i // hosts % 5000)
        image = IMAGES[i % 2]
        for channel, ids in (("sysmon", (1, 5)), (None, (4688, 4689))):
            for kind, eid, when in (
                (EventKind.CREATED, ids[0], start),
                (EventKind.EXITED, ids[1], end),
            ):
                out.append(
                    ProcessEvent(
                        kind=kind,
                        host=host,
                        pid=pid,
                        time=when if channel else when - when % S,
                        event_id=eid,
                        image=image,
                        channel=channel,
                        layout=Layout.VISTA,
                    )
                )
    out.sort(key=lambda e: e.time)
    return out


def _correlate(stream: list[ProcessEvent], merge: bool) -> Pass:
    def run() -> int:
        correlator = Correlator()
        merger = LogMerger() if merge else None
        count = 0
        it = iter(stream)
        while batch := list(islice(it, 1024)):
            found = correlator.feed_many(batch)
            count += len(found if merger is None else merger.feed_many(found))
        found = correlator.close()
        if merger is not None:
            found = merger.feed_many(found) + merger.close()
        return count + len(found)

    return run


def sides(stream: list[ProcessEvent]) -> tuple[Side, Side]:
    """(correlate and merge, correlate only) over the same events."""
    return (
        Side("Correlator + LogMerger", len(stream), lambda: _correlate(stream, True)),
        Side("Correlator", len(stream), lambda: _correlate(stream, False)),
    )


def _run(stage: str, processes: int) -> None:
    """One pass in this interpreter: build the events, then ``none``, ``correlate`` or
    ``merge`` them (what a callgrind child runs)."""
    stream = events(processes)
    if stage != "none":
        _correlate(stream, stage == "merge")()


def _instructions(stage: str, processes: int) -> int:
    root = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        code = f"from benchmarks.crosslog import _run; _run({stage!r}, {processes})"
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={out}",
                sys.executable,
                "-c",
                code,
            ],
            cwd=root,
            env=env,
            check=True,
            capture_output=True,
        )
        found = re.search(r"^summary:\s+(\d+)", out.read_text(), re.MULTILINE)
        assert found is not None
        return int(found[1])


def instructions(processes: int = 4_000) -> int:
    """Print instructions per event of the correlator and per record of the merge stage."""
    none, alone, merged = (_instructions(s, processes) for s in ("none", "correlate", "merge"))
    count = 4 * processes
    print(f"correlate: {(alone - none) / count:,.0f} instructions per event ({count:,} events)")
    records = 2 * processes
    print(f"merge stage: {(merged - alone) / records:,.0f} instructions per record ({records:,})")
    print(f"correlate + merge / correlate: {(merged - none) / (alone - none):.2f}")
    return 0


def main(pairs: int = 7) -> int:
    """Print the ratio, the record counts and the most records held."""
    if "--instructions" in sys.argv[1:]:
        return instructions()
    stream = events()
    with frozen_gc():
        duel = Duel(*sides(stream)).run(pairs)
    merged, apart = duel.answers
    merger = LogMerger()
    correlator = Correlator()
    merger.feed_many(correlator.feed_many(stream) + correlator.close())
    print(f"events {len(stream):,}; records {apart:,} -> {merged:,} merged")
    print(f"rate with the merge / without: {duel.spread()} (median [min-max] of {pairs} pairs)")
    print(f"most records waiting at once: {merger.stats.most_held:,}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
