"""``correlog listen`` as a real process: util-linux ``logger`` sends the sample intrusion over
TCP (RFC 6587 octet counting, RFC 5424) and UDP to 127.0.0.1, TLS comes from a Python client,
and the alerts come out on stdout. SIGTERM saves and exits cleanly; SIGKILL, then a restart on
the same checkpoint, loses no alert and no open process.
"""

from __future__ import annotations

import json
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

import correlog
from correlog import Monitor
from correlog.rules import AnonymousWeb, AuditTamper

from .helpers import sample_lines
from .servers import LOCAL, free_port, make_certificate

needs_logger = pytest.mark.skipif(shutil.which("logger") is None, reason="util-linux logger")
EXPECTED = {("anonymous-web", 1452), ("anonymous-web", 2216)}


class Listen:
    """A ``correlog listen`` process on 127.0.0.1, its stdout and stderr in files."""

    def __init__(self, folder: Path, *options: str, transport: str = "tcp") -> None:
        self.port = free_port()
        self.out, self.err = folder / "alerts.jsonl", folder / "stderr.txt"
        command = [sys.executable, "-m", "correlog", "listen", f"--{transport}"]
        command += [f"{LOCAL}:{self.port}", *options]
        self.err.write_text("", encoding="utf-8")
        with self.out.open("ab") as out, self.err.open("ab") as err:
            self.process = subprocess.Popen(command, stdout=out, stderr=err)
        wait_for(lambda: "listening on" in self.stderr(), "the listener to start")

    def stderr(self) -> str:
        text = self.err.read_text(encoding="utf-8")
        assert self.process.poll() is None or "listening" in text, text  # it did not start
        return text

    def alerts(self) -> list[dict[str, object]]:
        text = self.out.read_text(encoding="utf-8")
        return [json.loads(line) for line in text.splitlines() if line]

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> int:
        self.process.send_signal(sig)
        return self.process.wait(timeout=30)


def wait_for(condition: object, what: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def logger(port: int, lines: list[str], folder: Path, *options: str) -> None:
    source = folder / "lines.txt"
    source.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    subprocess.run(
        [
            *("logger", "--server", LOCAL, "--port", str(port), "--size", "8192", "-t", "snare"),
            *(*options, "--file", str(source)),
        ],
        check=True,
        timeout=30,
    )


def committed(state: Path) -> int:
    """Messages the checkpoint covers: those the saved state counted, and the journal's."""
    try:
        with sqlite3.connect(f"file:{state}?mode=ro", uri=True, timeout=1) as db:
            rows = db.execute("SELECT position FROM positions WHERE source = 'syslog'").fetchall()
            (journal,) = db.execute("SELECT count(*) FROM journal").fetchone()
    except sqlite3.Error:
        return 0
    saved = json.loads(rows[0][0])["received"] if rows else 0
    return int(saved) + int(journal)


def check(alerts: list[dict[str, object]], state: Path, lines: list[str]) -> None:
    assert {(a["rule"], a["pid"]) for a in alerts} == EXPECTED
    by_id: dict[object, dict[str, object]] = {}
    for alert in alerts:
        assert by_id.setdefault(alert["id"], alert) == alert, "a repeat differs from its first"
    with sqlite3.connect(f"file:{state}?mode=ro", uri=True) as db:
        (engine,) = db.execute("SELECT state FROM engine").fetchone()
        (journal,) = db.execute("SELECT count(*) FROM journal").fetchone()
    assert journal == 0  # a clean stop saved the state, which covers everything
    restored = Monitor.from_state([AnonymousWeb(), AuditTamper()], json.loads(engine))
    uncut = Monitor([AnonymousWeb(), AuditTamper()])
    uncut.feed_many(correlog.read(lines, "snare"))
    assert restored.correlator.open_records() == uncut.correlator.open_records()


@needs_logger
@pytest.mark.parametrize(
    ("transport", "options"),
    [("tcp", ("--tcp", "--octet-count", "--rfc5424")), ("udp", ("--udp", "--rfc5424"))],
)
def test_logger_to_listen_gives_the_alerts_and_sigterm_saves(
    tmp_path: Path, transport: str, options: tuple[str, ...]
) -> None:
    lines, state = sample_lines(), tmp_path / "state"
    listen = Listen(tmp_path, "--checkpoint", str(state), "--stats", "60", transport=transport)
    logger(listen.port, lines, tmp_path, *options)
    wait_for(lambda: len(listen.alerts()) == len(EXPECTED), "the alerts")
    assert listen.stop() == 128 + signal.SIGTERM
    check(listen.alerts(), state, lines)
    stats = json.loads(listen.err.read_text("utf-8").splitlines()[-2])  # the last --stats line
    assert stats["sources"]["syslog"]["messages"] == {transport: len(lines)}
    assert stats["alerts"] == {"anonymous-web": 2}
    assert "received 12 messages: 12 events" in listen.err.read_text("utf-8")


@needs_logger
@pytest.mark.parametrize(
    "options",
    [(), ("--poll", "60", "--commit-interval", "60")],
    ids=["saved-when-quiet", "journal-only"],
)
def test_sigkill_after_each_part_then_restart_loses_nothing(
    tmp_path: Path, options: tuple[str, ...]
) -> None:
    """``journal-only``: the state is never saved before the kill, so every restart replays
    the journal, and alerts committed ahead of the state must not come twice."""
    lines, state = sample_lines(), tmp_path / "state"
    sent = 0
    for part in (lines[:4], lines[4:8], lines[8:]):
        listen = Listen(tmp_path, "--checkpoint", str(state), *options)
        logger(listen.port, part, tmp_path, "--tcp", "--octet-count", "--rfc5424")
        sent += len(part)
        wait_for(lambda n=sent: committed(state) == n, "the messages to be committed")
        listen.stop(signal.SIGKILL)
    final = Listen(tmp_path, "--checkpoint", str(state))
    wait_for(lambda: len({a["id"] for a in final.alerts()}) == len(EXPECTED), "the alerts")
    assert final.stop() == 128 + signal.SIGTERM
    alerts = final.alerts()
    check(alerts, state, lines)
    if options:  # nothing was delivered twice: every alert was accepted before its kill
        assert len(alerts) <= len(EXPECTED) + 3


def test_tls_with_a_certificate(tmp_path: Path) -> None:
    import ssl

    certificate = make_certificate(tmp_path)
    options = ("--tls-cert", str(certificate.cert), "--tls-key", str(certificate.key))
    listen = Listen(tmp_path, *options, "--idle-exit", "60")
    assert "(TLS)" in listen.stderr()
    frames = b"".join(
        b"%d %s" % (len(m), m)
        for m in (f"<13>1 - web01 snare - - - {line}".encode() for line in sample_lines())
    )
    context = ssl.create_default_context(cafile=str(certificate.cert))
    with (
        socket.create_connection((LOCAL, listen.port)) as raw,
        context.wrap_socket(raw, server_hostname=LOCAL) as stream,
    ):
        stream.sendall(frames)
    wait_for(lambda: len(listen.alerts()) == len(EXPECTED), "the alerts")
    assert listen.stop(signal.SIGINT) == 128 + signal.SIGINT
    assert {(a["rule"], a["pid"]) for a in listen.alerts()} == EXPECTED


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ((), "listen needs --udp HOST:PORT, --tcp HOST:PORT, or both"),
        (("--tcp", "127.0.0.1:0", "--tls-cert", "c.pem"), "--tls-cert and --tls-key go together"),
        (("--udp", "127.0.0.1:0", "--tls-cert", "c", "--tls-key", "k"), "TLS needs --tcp"),
        (("--tcp", "127.0.0.1:0", "--sink", "pager:5"), "'pager:5' is not a sink"),
    ],
)
def test_usage_errors(
    options: tuple[str, ...], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from correlog.cli import main

    assert main(["listen", *options]) == 2
    assert message in capsys.readouterr().err
