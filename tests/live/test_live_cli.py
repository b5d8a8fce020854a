"""The live commands' flags: ``--sink`` to real local servers, ``--config`` under the flags,
``--stats`` on stderr, ``--metrics`` over a real scrape, and a sink that is down across runs."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from correlog.cli import main
from correlog.live import Checkpoint

from .helpers import sample_lines
from .servers import (
    LOCAL,
    free_port,
    http_receiver,
    make_certificate,
    smtp_receiver,
    syslog_receiver,
)

EXPECTED = {("anonymous-web", 1452), ("anonymous-web", 2216)}
#: Follow the file to its end, then stop.
ONCE = ("--follow", "--poll", "0.05", "--idle-exit", "0.3")


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "security.log"
    path.write_text("".join(line + "\n" for line in sample_lines()), encoding="utf-8")
    return path


def pairs(alerts: list[dict[str, object]]) -> set[tuple[object, object]]:
    return {(a["rule"], a["pid"]) for a in alerts}


def json_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def wait_for(condition: object, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_every_kind_of_sink_from_the_command_line(
    tmp_path: Path, log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    certificate = make_certificate(tmp_path)
    file = tmp_path / "alerts.jsonl"
    with (
        http_receiver() as hook,
        syslog_receiver("tcp") as siem,
        smtp_receiver(certificate) as mailbox,
    ):
        mail = (
            f"smtp://{LOCAL}:{mailbox.port}?from=correlog@example.org&to=soc@example.org"
            f"&ca={certificate.cert}"
        )
        sinks = [f"webhook:{hook.url}", f"syslog+tcp://{LOCAL}:{siem.port}", mail, f"jsonl:{file}"]
        argv = ["watch", *ONCE, *(f for s in sinks for f in ("--sink", s)), str(log)]
        assert main(argv) == 0
        wait_for(lambda: len(siem.frames) == len(EXPECTED))
    assert capsys.readouterr().out == ""  # a sink given replaces stdout
    written = json_lines(file.read_text("utf-8"))
    assert pairs(written) == EXPECTED
    ids = {a["id"] for a in written}
    assert {json.loads(r.body)["id"] for r in hook.requests} == ids
    assert {r.headers["Idempotency-Key"] for r in hook.requests} == ids
    assert {json.loads(f[f.index(b"] {") + 2 :])["id"] for f in siem.frames} == ids
    assert len(mailbox.messages) == len(EXPECTED)
    assert mailbox.tls_sessions == len(EXPECTED)


def test_a_sink_that_is_down_keeps_the_alerts_for_the_next_run(tmp_path: Path, log: Path) -> None:
    port, state = free_port(), tmp_path / "state"
    hook = f"webhook:http://{LOCAL}:{port}/hook"
    assert main(["watch", *ONCE, "--checkpoint", str(state), "--sink", hook, str(log)]) == 0
    with Checkpoint(state) as checkpoint:
        assert checkpoint.outbox_stats().depth == len(EXPECTED)
    with http_receiver(port=port) as receiver:
        assert main(["watch", *ONCE, "--checkpoint", str(state), "--sink", hook, str(log)]) == 0
    assert pairs([json.loads(r.body) for r in receiver.requests]) == EXPECTED
    with Checkpoint(state) as checkpoint:
        assert checkpoint.outbox_stats().depth == 0


def test_the_config_file_with_flags_over_it(
    tmp_path: Path, log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    config = tmp_path / "correlog.toml"
    config.write_text(
        f"[follow]\npaths = [{json.dumps(str(log))}]\ninterval = 0.05\n"
        '[rules]\nrule = ["web-server-child"]\n'
        f'[[sink]]\ntype = "jsonl"\npath = {json.dumps(str(first))}\n',
        encoding="utf-8",
    )
    assert main(["watch", "--config", str(config), "--idle-exit", "0.3"]) == 0
    assert {a["rule"] for a in json_lines(first.read_text("utf-8"))} == {"web-server-child"}
    argv = ["watch", "--config", str(config), "--idle-exit", "0.3", "--rule", "anonymous-web"]
    assert main([*argv, "--sink", f"jsonl:{second}"]) == 0
    assert pairs(json_lines(second.read_text("utf-8"))) == EXPECTED
    assert len(json_lines(first.read_text("utf-8"))) == 1  # the flag's sink replaced the file's
    capsys.readouterr()
    config.write_text("[checkpoint]\ninterval = 'soon'\n", encoding="utf-8")
    assert main(["watch", "--config", str(config), str(log)]) == 2
    assert "checkpoint.interval: expected a number above 0" in capsys.readouterr().err


def test_stats_lines_on_stderr(log: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["watch", *ONCE, "--stats", "0.1", str(log)]) == 0
    captured = capsys.readouterr()
    lines = json_lines(captured.err)
    assert len(lines) >= 2  # periodically, and at exit
    last = lines[-1]
    assert last["events"] == {"created": 5, "exited": 5, "token_assigned": 2}
    assert last["alerts"] == {"anonymous-web": 2}
    assert last["records"] == {"exited": 4, "orphan": 1}
    assert last["open"] == 1
    assert last["outbox"] == {"depth": 0, "dropped": 0, "limit": 100_000}
    assert last["sinks"]["stdout"]["delivered"] == 2  # type: ignore[index]
    assert last["skipped"]["skipped"] == 0  # type: ignore[index]
    assert last["sources"][str(log)]["lines"] == 12  # type: ignore[index]
    assert pairs(json_lines(captured.out)) == EXPECTED


def test_metrics_over_a_real_scrape(tmp_path: Path, log: Path) -> None:
    pytest.importorskip("prometheus_client")
    port = free_port()
    argv = ["watch", "--follow", "--poll", "0.05", "--idle-exit", "2"]
    argv += ["--metrics", f"{LOCAL}:{port}", "--sink", f"jsonl:{tmp_path / 'out.jsonl'}"]
    statuses: list[int] = []
    run = threading.Thread(target=lambda: statuses.append(main([*argv, str(log)])))
    run.start()
    found: list[str] = []

    def scraped() -> bool:
        try:
            with urllib.request.urlopen(f"http://{LOCAL}:{port}/metrics", timeout=2) as answer:
                text = answer.read().decode()
        except OSError:
            return False
        found[:] = text.splitlines()
        return 'correlog_alerts_total{rule="anonymous-web"} 2.0' in found

    wait_for(scraped)
    run.join(30)
    assert statuses == [0]
    assert 'correlog_events_total{kind="created"} 5.0' in found
    assert "correlog_outbox_limit 100000.0" in found


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (("--sink", "jsonl:x"), "--sink: only with --follow"),
        (("--checkpoint", "x"), "--checkpoint: only with --follow"),
        (("--follow", "--sink", "webhook:ftp://x"), "'webhook:ftp://x' is not a sink"),
        (("--follow", "--sink", "smtp://h:25?to=a@b"), "sender: is required"),
    ],
)
def test_usage_errors(
    log: Path, options: tuple[str, ...], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["watch", *options, str(log)]) == 2
    assert message in capsys.readouterr().err
