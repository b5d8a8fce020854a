"""Golden files: small inputs, and the exact JSON lines correlog prints for them.

* The bundled sample (``correlog watch --records --sample``): alerts then records, compared line
  by line with ``tests/golden/``. Regenerate with ``UPDATE_GOLDEN=1 pytest tests/test_golden.py``
  after a deliberate change, and read the diff before committing it.
* The documented 592/593/600 texts in the shared samples folder (quoted from Microsoft KB 221212,
  the Snare and ultimatewindowssecurity docs), decoded and compared with expected events.
* The shared six-transport IIS story: the CLI prints exactly the two expected alerts and the three
  expected records from every transport.

The shared folder sits beside the repository; without it those tests skip.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from correlog import EventKind, Layout, ProcessEvent
from correlog.decoders import decode_message

HERE = Path(__file__).resolve().parent
GOLDEN = HERE / "golden"
SHARED = HERE.parents[1] / "shared" / "data"


def run_cli(*args: str) -> list[dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, "-m", "correlog", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_the_bundled_sample_gives_the_golden_alerts_and_records() -> None:
    got = run_cli("watch", "--records", "--sample")
    path = GOLDEN / "iis-intrusion.watch-records.jsonl"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text("".join(json.dumps(x) + "\n" for x in got), encoding="utf-8")
    want = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert got == want


def _documented_sections() -> dict[str, str]:
    path = SHARED / "samples" / "legacy_documented_examples.txt"
    if not path.is_file():
        pytest.skip("the shared samples folder is not beside this checkout")
    sections: dict[str, str] = {}
    current: str | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        head = re.match(r"## \[([A-Z])\]", line)
        if head:
            current = head.group(1)
            sections[current] = ""
        elif current and not line.startswith("#"):
            sections[current] += line + "\n"
    return sections


SYSTEM = ("SYSTEM", "NT AUTHORITY", 0x3E7)
# section -> (event id, expected event fields)
DOCUMENTED: dict[str, tuple[int, dict[str, Any]]] = {
    "A": (592, {"kind": EventKind.CREATED, "pid": 2209180864, "image": r"\temp\myprog.exe",
                "creator_pid": 2159539168, "account": SYSTEM, "own_account": False,
                "layout": Layout.NT4_2000}),
    "B": (592, {"kind": EventKind.CREATED, "pid": 2167588800,
                "image": r"\WINNT\system32\notepad.exe", "creator_pid": 2167187648,
                "account": ("administrator", "ELMW2", 0x804C2), "own_account": False,
                "layout": Layout.NT4_2000}),
    "C": (593, {"kind": EventKind.EXITED, "pid": 2084,
                "image": r"C:\WINDOWS\system32\notepad.exe",
                "account": ("administrator", "ELM", 0x158EB7), "own_account": True,
                "layout": Layout.XP_2003}),
    "D": (600, {"kind": EventKind.TOKEN_ASSIGNED, "pid": 3232,
                "image": r"C:\WINDOWS\system32\userinit.exe", "creator_pid": 700,
                "creator_image": r"C:\WINDOWS\system32\winlogon.exe",
                "account": ("administrator", "ACME", 0x2DFE8B), "own_account": True,
                "layout": Layout.XP_2003}),
    "E": (593, {"kind": EventKind.EXITED, "pid": 656, "image": None,
                "account": ("Administrator", "LE5678WSP", 0x6C52), "own_account": True,
                "layout": Layout.NT4_2000}),
}  # fmt: skip


@pytest.mark.parametrize("section", sorted(DOCUMENTED))
def test_documented_examples_decode_to_the_expected_events(section: str) -> None:
    text = _documented_sections()[section]
    event_id, want = DOCUMENTED[section]
    if section == "E":  # Snare form: the message is the data string after the category
        text = text.split("Detailed Tracking", 1)[1]
    event = decode_message(event_id, text, host="docs", time=0)
    assert isinstance(event, ProcessEvent)
    assert event.kind is want["kind"]
    assert event.pid == want["pid"]
    assert event.image == want["image"]
    assert (event.user, event.domain, event.logon_id) == want["account"]
    assert event.own_account is want["own_account"]
    assert event.creator_pid == want.get("creator_pid")
    assert event.creator_image == want.get("creator_image")
    assert event.layout is want["layout"]


LEGACY_FILES = [
    "iis.snare",
    "iis.snare-syslog",
    "iis.eventreporter",
    "iis.ossec",
    "iis.logparser.csv",
    "iis.evtviewer.csv",
]


@pytest.mark.parametrize("name", LEGACY_FILES)
def test_every_legacy_transport_gives_exactly_the_expected_alerts_and_records(name: str) -> None:
    path = SHARED / "legacy" / name
    if not path.is_file():
        pytest.skip("the shared legacy exemplars are not beside this checkout")
    alerts = run_cli("watch", str(path))
    assert [
        (a["host"], a["pid"], a["image"].rsplit("\\", 1)[1], a["event_id"]) for a in alerts
    ] == [
        ("iis01", 1452, "cmd.exe", 593),
        ("iis02", 2216, "ping.exe", 600),
    ]
    records = run_cli("correlate", str(path))
    assert sorted(
        (r["host"], r["pid"], r["image"].rsplit("\\", 1)[1], r["user"], r["creator_pid"],
         r["status"], r["reason"])
        for r in records
    ) == [
        ("iis01", 1452, "cmd.exe", "IUSR_IIS01", 1020, "complete", "exited"),
        ("iis02", 2208, "php.exe", "IUSR_IIS02", 3120, "complete", "exited"),
        ("iis02", 2216, "ping.exe", "IUSR_IIS02", 3120, "partial", "flushed"),
    ]  # fmt: skip
