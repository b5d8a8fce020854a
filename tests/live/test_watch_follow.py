"""``correlog watch --follow FILE --checkpoint STATE``, killed with SIGKILL and restarted.

A real subprocess follows a growing file. It is killed with SIGKILL after each part of the
story is committed, and at arbitrary instants, then restarted on the same checkpoint. At the end
every expected alert was written (repeats only of alerts in flight, with the same id) and the
engine holds exactly the open processes an uncut run holds: nothing was lost.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import correlog
from correlog import Monitor
from correlog.rules import AnonymousWeb, AuditTamper

SAMPLE = Path(correlog.__file__).parent / "samples" / "iis-intrusion.snare"
EXPECTED = {("anonymous-web", 1452), ("anonymous-web", 2216)}


def _start(log: Path, state: Path, out: Path, *extra: str) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "correlog", "watch", "--follow", "--poll", "0.02"]
    command += ["--checkpoint", str(state), *extra, str(log)]
    with out.open("ab") as sink:
        return subprocess.Popen(command, stdout=sink, stderr=subprocess.DEVNULL)


def _committed(state: Path, log: Path) -> bool:
    """The checkpoint's position for ``log`` covers the whole file."""
    if not state.exists():
        return False
    try:
        with sqlite3.connect(f"file:{state}?mode=ro", uri=True, timeout=1) as db:
            rows = db.execute("SELECT position FROM positions").fetchall()
    except sqlite3.Error:
        return False
    return any(json.loads(row[0])["offset"] == log.stat().st_size for row in rows)


def _wait(condition: object, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _alerts(out: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines() if line]


def _check(out: Path, state: Path, lines: list[str]) -> None:
    alerts = _alerts(out)
    assert {(a["rule"], a["pid"]) for a in alerts} == EXPECTED
    by_id: dict[object, dict[str, object]] = {}
    for alert in alerts:
        assert by_id.setdefault(alert["id"], alert) == alert, "a repeat differs from its first"
    assert len(by_id) == len(EXPECTED)
    with sqlite3.connect(f"file:{state}?mode=ro", uri=True) as db:
        (engine,) = db.execute("SELECT state FROM engine").fetchone()
    restored = Monitor.from_state([AnonymousWeb(), AuditTamper()], json.loads(engine))
    uncut = Monitor([AnonymousWeb(), AuditTamper()])
    uncut.feed_many(correlog.read(lines, "snare"))
    assert restored.correlator.open_records() == uncut.correlator.open_records()


def test_sigkill_after_each_part_loses_nothing(tmp_path: Path) -> None:
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    log, state, out = tmp_path / "security.log", tmp_path / "state", tmp_path / "alerts.jsonl"
    log.write_text("", encoding="utf-8")
    for part in (lines[:4], lines[4:8], lines[8:]):
        with log.open("a", encoding="utf-8") as handle:
            handle.write("".join(line + "\n" for line in part))
        process = _start(log, state, out)
        _wait(lambda: _committed(state, log))
        time.sleep(0.1)  # let the worker deliver, or not: either is allowed
        process.send_signal(signal.SIGKILL)
        process.wait()
    final = _start(log, state, out, "--idle-exit", "0.5")
    assert final.wait(timeout=30) == 0
    _check(out, state, lines)


def test_sigkill_at_any_instant_loses_nothing(tmp_path: Path) -> None:
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    log, state, out = tmp_path / "security.log", tmp_path / "state", tmp_path / "alerts.jsonl"
    log.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    chance = random.Random(int(os.environ.get("CORRELOG_KILL_SEED", "7")))
    for _ in range(4):
        process = _start(log, state, out)
        time.sleep(chance.uniform(0.0, 0.6))
        process.send_signal(signal.SIGKILL)
        process.wait()
    final = _start(log, state, out, "--idle-exit", "0.5")
    assert final.wait(timeout=30) == 0
    _check(out, state, lines)


def test_sigterm_stops_cleanly_with_everything_committed(tmp_path: Path) -> None:
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    log, state, out = tmp_path / "security.log", tmp_path / "state", tmp_path / "alerts.jsonl"
    log.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    process = _start(log, state, out)
    _wait(lambda: _committed(state, log))
    _wait(lambda: len(_alerts(out)) == len(EXPECTED))
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 128 + signal.SIGTERM
    _check(out, state, lines)
