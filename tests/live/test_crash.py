"""SIGKILL the live loop at several points, rotate its file meanwhile, restart it: every alert
arrives, none is lost, and repeats carry the same id (at-least-once)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import correlog
from correlog import EventKind, Layout, ProcessEvent
from correlog.live import Checkpoint, alert_id
from correlog.readers.jsonl import event_to_json
from correlog.rules import AnonymousWeb

CHILD = Path(__file__).with_name("crash_child.py")
SRC = Path(correlog.__file__).resolve().parents[1]


def exits(first: int, count: int) -> list[str]:
    """XP 593 lines of IUSR running cmd.exe: each alone raises an alert (single-event path)."""
    return [
        json.dumps(
            event_to_json(
                ProcessEvent(
                    kind=EventKind.EXITED,
                    host="web03",
                    pid=4 * n,
                    time=10**18 + n,
                    event_id=593,
                    record_number=n,
                    image="C:\\WINDOWS\\system32\\cmd.exe",
                    user="IUSR_WEB03",
                    domain="WEB03",
                    logon_id=5,
                    layout=Layout.XP_2003,
                )
            )
        )
        for n in range(first, first + count)
    ]


def start(folder: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), str(CHILD.parents[2])])}
    return subprocess.Popen([sys.executable, str(CHILD), str(folder)], env=env)


def delivered(folder: Path) -> list[str]:
    path = folder / "alerts.jsonl"
    if not path.exists():
        return []
    # Only whole lines: the monitor may be writing the last one now. A line a kill cut short
    # (ended by the sink when it reopens the file) is no alert: its alert is sent again.
    ids = []
    for line in path.read_text("utf-8").splitlines(keepends=True):
        if line.endswith("\n"):
            with contextlib.suppress(json.JSONDecodeError):
                ids.append(json.loads(line)["id"])
    return ids


def kill_when(child: subprocess.Popen[bytes], folder: Path, at_least: int) -> None:
    deadline = time.monotonic() + 60
    while len(delivered(folder)) < at_least and time.monotonic() < deadline:
        assert child.poll() is None, f"the monitor ended on its own ({child.returncode})"
        time.sleep(0.005)
    child.send_signal(signal.SIGKILL)
    child.wait()


def append(path: Path, lines: list[str]) -> None:
    with path.open("a", encoding="utf-8") as file:
        file.write("".join(line + "\n" for line in lines))


def test_sigkill_at_several_points_loses_no_alert(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    first, second = exits(1, 300), exits(301, 300)
    append(log, first)
    kill_when(start(tmp_path), tmp_path, 20)
    kill_when(start(tmp_path), tmp_path, 120)
    # rotation while the monitor is down: the rest of app.log.1 must still be read
    log.rename(tmp_path / "app.log.1")
    append(log, second[:150])
    kill_when(start(tmp_path), tmp_path, 250)
    append(log, second[150:])
    (tmp_path / "stop").touch()
    child = start(tmp_path)
    assert child.wait(timeout=120) == 0

    monitor = correlog.SingleEventMonitor([AnonymousWeb()])
    expected = [alert_id(a) for a in monitor.feed_many(correlog.read(first + second, "jsonl"))]
    got = delivered(tmp_path)
    assert len(expected) == 600
    assert set(got) == set(expected)  # nothing lost
    lines = (tmp_path / "alerts.jsonl").read_text("utf-8").splitlines()
    assert len(lines) - len(got) <= 3  # at most one line cut short by each kill
    repeats = sum(n - 1 for n in Counter(got).values())
    assert repeats <= 3  # at most the alert in flight at each kill
    with Checkpoint(tmp_path / "state") as checkpoint:
        assert checkpoint.outbox_stats().depth == 0
