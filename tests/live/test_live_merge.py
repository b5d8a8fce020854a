"""One record and one alert per process across logs in the live loop, as in a one-pass ``watch``.

A web server's Sysmon and Security logs in one followed file (:mod:`.twologs`). The live loop
(``watch --follow``, a real subprocess) must give what ``watch`` gives on the same file: the same
alerts in the same order (the second log's view of a process not raising its rule again), and,
once what it keeps open is closed from its checkpoint, the same records. Killed with SIGKILL
mid-stream and restarted, it loses no alert and raises none that the uncut run does not, and
ends with the merge stage's state of the uncut run.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import correlog
from correlog import Monitor, Record
from correlog._crosslog import LogMerger
from correlog.live import Checkpoint
from correlog.rules import AnonymousWeb, AuditTamper

from .twologs import two_log_lines

SRC = Path(correlog.__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(SRC)}
MERGED = re.compile(r"merged across logs (\d+)(?: \(alerts not repeated (\d+)\))?")


def _command(*argv: str) -> list[str]:
    return [sys.executable, "-m", "correlog", *argv]


def _json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def _write(path: Path, lines: list[str], mode: str = "w") -> None:
    with path.open(mode, encoding="utf-8") as handle:
        handle.write("".join(line + "\n" for line in lines))


def _follow(log: Path, state: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    argv = ["watch", "--follow", "--poll", "0.02", "--idle-exit", "0.5", "--stats", "1000"]
    argv += ["--checkpoint", str(state), *flags, str(log)]
    done = subprocess.run(
        _command(*argv), check=False, env=ENV, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done


def _closed_from(state: Path) -> tuple[list[Record], int | None]:
    """What the live run keeps open, closed from its checkpoint as a one-pass run closes at the
    end: the records, and the merge stage's count of merged pairs (None when it was off)."""
    with Checkpoint(state) as checkpoint:
        saved = checkpoint.load()
    assert saved.engine is not None
    merger = None if saved.merge is None else LogMerger.from_state(saved.merge["records"])
    out: list[Record] = []

    def on_record(record: Record) -> None:
        out.extend([record] if merger is None else merger.feed(record))

    monitor = Monitor.from_state([AnonymousWeb(), AuditTamper()], saved.engine, on_record=on_record)
    assert monitor.close() == []  # every alert of this story fires before the end
    if merger is None:
        return out, None
    return out + merger.close(), merger.stats.merged


@pytest.mark.parametrize("flags", [[], ["--no-merge-logs"]], ids=["merged", "apart"])
def test_the_live_loop_gives_what_watch_gives_on_two_logs(tmp_path: Path, flags: list[str]) -> None:
    log, state = tmp_path / "web1.jsonl", tmp_path / "state"
    _write(log, two_log_lines(30, open_every=4))
    batch = subprocess.run(
        _command("watch", "--records", "--output", "json", *flags, str(log)),
        check=False,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert batch.returncode == 0, batch.stderr
    printed = _json_lines(batch.stdout)
    batch_alerts = [item for item in printed if "rule" in item]
    batch_records = Counter(item["reason"] for item in printed if "rule" not in item)

    live = _follow(log, state, *flags)
    live_alerts = _json_lines(live.stdout)
    assert [{k: v for k, v in a.items() if k != "id"} for a in live_alerts] == batch_alerts
    (stats,) = _json_lines(live.stderr)
    rest, merged = _closed_from(state)
    assert Counter(stats["records"]) + Counter(str(r.reason) for r in rest) == batch_records

    batch_merge = MERGED.search(batch.stderr)
    live_merge = MERGED.search(live.stderr)
    if flags:
        assert batch_merge is None
        assert live_merge is None
        assert merged is None
        assert len(live_alerts) == 2 * 26 + 4  # both views of 26 processes, and 4 only Sysmon saw
        return
    assert batch_merge is not None
    assert live_merge is not None
    assert int(batch_merge[1]) == merged
    assert merged > 0
    assert live_merge[2] == batch_merge[2]  # the same alerts not repeated
    assert int(live_merge[2]) == 26


def _start(log: Path, state: Path, out: Path) -> subprocess.Popen[bytes]:
    argv = ["watch", "--follow", "--poll", "0.02", "--checkpoint", str(state), str(log)]
    with out.open("ab") as sink:
        return subprocess.Popen(_command(*argv), env=ENV, stdout=sink, stderr=subprocess.DEVNULL)


def _saved(state: Path) -> tuple[Any, Any]:
    with Checkpoint(state) as checkpoint:
        saved = checkpoint.load()
    monitor = Monitor.from_state([AnonymousWeb(), AuditTamper()], saved.engine)
    return monitor.correlator.open_records(), saved.merge


def _committed(state: Path, log: Path) -> bool:
    """The checkpoint's saved position for ``log`` covers the whole file (so the state too)."""
    if not state.exists():
        return False
    try:
        with sqlite3.connect(f"file:{state}?mode=ro", uri=True, timeout=1) as db:
            rows = db.execute("SELECT position FROM positions").fetchall()
    except sqlite3.Error:
        return False
    return any(json.loads(row[0])["offset"] == log.stat().st_size for row in rows)


def _wait(condition: Callable[[], bool], seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _between_the_logs(lines: list[str]) -> list[int]:
    """The cuts after a process's Sysmon creation and before its Security one: the state saved
    there holds the alert raised on the Sysmon view, which the Security view must not repeat."""
    events = [json.loads(line) for line in lines]
    return [
        at
        for at in range(1, len(events))
        if events[at - 1]["event_id"] == 1
        and events[at]["event_id"] == 4688
        and events[at - 1]["pid"] == events[at]["pid"]
    ]


def test_sigkill_mid_stream_on_two_logs_loses_and_repeats_no_alert(tmp_path: Path) -> None:
    lines = two_log_lines(45, open_every=5)
    whole, uncut_state = tmp_path / "whole.jsonl", tmp_path / "uncut"
    _write(whole, lines)
    uncut = _json_lines(_follow(whole, uncut_state).stdout)
    assert len(uncut) == 45  # one alert per process, from whichever log saw it first

    log, state, out = tmp_path / "web1.jsonl", tmp_path / "state", tmp_path / "alerts.jsonl"
    log.write_text("", encoding="utf-8")
    chance = random.Random(int(os.environ.get("CORRELOG_KILL_SEED", "11")))
    between = _between_the_logs(lines)
    saved_cuts = sorted(chance.sample(between[: len(between) // 2], 3))
    any_cuts = sorted(chance.sample(range(saved_cuts[-1] + 1, len(lines)), 3))
    first = 0
    for end in saved_cuts:  # killed once the state covering the part is saved
        _write(log, lines[first:end], "a")
        process = _start(log, state, out)
        _wait(lambda: _committed(state, log))
        process.send_signal(signal.SIGKILL)
        process.wait()
        first = end
    for end in [*any_cuts, len(lines)]:  # killed at any instant: mid-batch, mid-save, idle
        _write(log, lines[first:end], "a")
        process = _start(log, state, out)
        time.sleep(chance.uniform(0.05, 0.8))
        process.send_signal(signal.SIGKILL)
        process.wait()
        first = end
    _write(out, _follow(log, state).stdout.splitlines(), "a")  # the last run, to the end

    alerts = _json_lines(out.read_text(encoding="utf-8"))
    by_id: dict[object, dict[str, Any]] = {}
    for alert in alerts:
        assert by_id.setdefault(alert["id"], alert) == alert, "a repeat differs from its first"
    assert by_id == {alert["id"]: alert for alert in uncut}  # none lost, none extra
    assert _saved(state) == _saved(uncut_state)  # the same open processes and merge stage


def test_no_merge_logs_on_restart_releases_what_the_saved_stage_held(tmp_path: Path) -> None:
    log, state = tmp_path / "web1.jsonl", tmp_path / "state"
    _write(log, two_log_lines(30, open_every=4))
    _follow(log, state)
    with Checkpoint(state) as checkpoint:
        merge = checkpoint.load().merge
    assert merge is not None
    waiting = len(merge["records"]["waiting"])
    assert waiting > 0
    (stats,) = _json_lines(_follow(log, state, "--no-merge-logs").stderr)
    assert sum(stats["records"].values()) == waiting  # released, counted, not lost
    with Checkpoint(state) as checkpoint:
        assert checkpoint.load().merge is None


def test_a_damaged_merge_state_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    log, state = tmp_path / "web1.jsonl", tmp_path / "state"
    _write(log, two_log_lines(6))
    _follow(log, state)
    with sqlite3.connect(state) as db:
        db.execute('UPDATE merge SET state = \'{"records": {"format": "x/9"}}\'')
    db.close()
    argv = ["watch", "--follow", "--idle-exit", "0.2", "--checkpoint", str(state), str(log)]
    done = subprocess.run(
        _command(*argv), check=False, env=ENV, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    assert "log merger state" in done.stderr
    assert "Traceback" not in done.stderr


def test_log_offset_sets_a_wrong_clock_right_before_the_merge(tmp_path: Path) -> None:
    right, wrong = tmp_path / "right.jsonl", tmp_path / "wrong.jsonl"
    _write(right, two_log_lines(12))
    _write(wrong, two_log_lines(12, security_clock=-3600 * 1_000_000_000))
    want = _json_lines(_follow(right, tmp_path / "s1").stdout)
    fixed = _follow(wrong, tmp_path / "s2", "--log-offset", "security=+1h")
    assert _json_lines(fixed.stdout) == want
    apart = _json_lines(_follow(wrong, tmp_path / "s3").stdout)
    assert len(apart) > len(want)  # an hour apart, the two views do not merge


@pytest.mark.skipif(shutil.which("logger") is None, reason="util-linux logger")
def test_listen_raises_what_watch_raises_on_two_logs(tmp_path: Path) -> None:
    from .test_listen_cli import Listen, logger, wait_for

    lines = two_log_lines(30, open_every=4)
    log = tmp_path / "web1.jsonl"
    _write(log, lines)
    batch = subprocess.run(
        _command("watch", "--output", "json", str(log)),
        check=False,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=60,
    )
    want = _json_lines(batch.stdout)
    listen = Listen(tmp_path, "--checkpoint", str(tmp_path / "state"))
    logger(listen.port, lines, tmp_path, "--tcp", "--octet-count", "--rfc5424")
    wait_for(lambda: len(listen.alerts()) >= len(want), "the alerts")
    assert listen.stop() == 128 + signal.SIGTERM
    assert [{k: v for k, v in a.items() if k != "id"} for a in listen.alerts()] == want
    assert "(alerts not repeated 26)" in listen.stderr()
