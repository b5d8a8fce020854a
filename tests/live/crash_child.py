"""The live loop as a real process, for the SIGKILL test: ``crash_child.py FOLDER``.

Follows ``FOLDER/app.log`` (correlog JSON lines), runs a single-event monitor (stateless, so it
needs no engine state), commits each small batch with the follower's position and its alerts,
and delivers them to ``FOLDER/alerts.jsonl`` on a worker thread. It exits 0 once the file
``FOLDER/stop`` exists and everything written was read and delivered.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import correlog
from correlog.live import Checkpoint, DeliveryWorker, Follower, JsonLinesSink, LineDecoder
from correlog.rules import AnonymousWeb


def main(folder: Path) -> int:
    monitor = correlog.SingleEventMonitor([AnonymousWeb()])
    decoder = LineDecoder("jsonl")
    with Checkpoint(folder / "state") as checkpoint:
        follower = Follower(folder / "app.log", checkpoint.load().positions.get("app"))
        sink = JsonLinesSink(folder / "alerts.jsonl", fsync=True)
        with DeliveryWorker(checkpoint, [sink], poll=0.05):
            while True:
                lines = follower.read(budget=2048)  # small batches: many commits to cut
                if lines:
                    alerts = monitor.feed_many(decoder.decode(lines))
                    checkpoint.commit(positions={"app": follower.position}, alerts=alerts)
                    continue
                if (folder / "stop").exists() and checkpoint.outbox_stats().depth == 0:
                    return 0
                time.sleep(0.02)


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
