"""Instructions per event under callgrind: the core cases, free of the machine's noise.

Wall time on a shared machine moves by a third from run to run; the number of instructions a
pass executes does not. For each case the runner starts, under ``valgrind --tool=callgrind``, a
fresh interpreter that builds the events (fixed seed) and runs the case once, and another that
builds the same events and runs nothing; the difference of their instruction counts over the
events is the case's cost per event (``PYTHONHASHSEED=0`` makes both hash alike). Needs
valgrind; about 20 s a case at the default 10,000 events.
"""

from __future__ import annotations

import gc
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from .cases import Batches, feed_many_side, floor_side, monitor_single_side, single_record_side
from .streams import make_stream
from .timing import Side

__all__ = ["CASES", "inner", "measure"]

_ROOT = Path(__file__).resolve().parent.parent
_TOTAL = re.compile(r"^summary:\s+(\d+)", re.MULTILINE)

#: The cases counted, by name.
CASES: dict[str, Callable[[Batches], Side]] = {
    "floor": floor_side,
    "feed_many": feed_many_side,
    "single_record": single_record_side,
    "single_event_monitor": monitor_single_side,
}


def inner(case: str, events: int) -> None:
    """What one interpreter under callgrind does: build the events, run ``case`` ("none":
    nothing) once, the inputs frozen out of the collector's reach as in the timed runs."""
    batches = make_stream(events).batches(1024)
    gc.collect()
    gc.freeze()
    if case != "none":
        CASES[case](batches).prepare()()


def _callgrind(case: str, events: int, out: Path) -> int:
    subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={out}",
            sys.executable,
            "-m",
            "benchmarks",
            "--inner",
            case,
            "--events",
            str(events),
        ],
        cwd=_ROOT,
        env=dict(os.environ, PYTHONHASHSEED="0"),
        check=True,
        capture_output=True,
    )
    found = _TOTAL.search(out.read_text(errors="replace"))
    if found is None:
        raise RuntimeError(f"no instruction total in {out}")
    return int(found[1])


def measure(events: int) -> dict[str, float]:
    """Instructions per event of every case in :data:`CASES`."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        base = _callgrind("none", events, out)
        return {name: (_callgrind(name, events, out) - base) / events for name in CASES}
