"""correlog.toml checked key by key; the counters as one JSON-ready dict."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import correlog
from correlog.live import Checkpoint
from correlog.live.config import (
    SCHEMA,
    ConfigError,
    build_sinks,
    load_config,
    parse_address,
    parse_config,
)
from correlog.live.decode import LineDecoder
from correlog.live.delivery import DeliveryWorker
from correlog.live.follow import Follower
from correlog.live.sinks import JsonLinesSink, SmtpSink, SyslogSink, WebhookSink
from correlog.live.stats import LiveCounters, stats_line
from correlog.rules import AnonymousWeb, WebServerChild

from .helpers import sample_lines

FULL = """
[input]
format = "snare"
tz = "Europe/Berlin"

[engine]
ttl = 7200
lateness = 2.5

[rules]
rule = ["anonymous-web", "web-server-child"]
account = "IUSR_*"

[follow]
paths = ["/var/log/security.log"]

[listen]
udp = "127.0.0.1:5514"
tcp = "[::1]:6514"

[checkpoint]
path = "state.db"
max_outbox = 5000

[stats]
interval = 60
metrics = "127.0.0.1:9108"

[[sink]]
type = "jsonl"

[[sink]]
type = "webhook"
name = "chat"
url = "https://chat.example.org/hook"
slack = true

[[sink]]
type = "syslog"
address = "siem.example.org:6514"
transport = "tls"

[[sink]]
type = "smtp"
address = "mail.example.org:587"
sender = "correlog@example.org"
recipients = ["soc@example.org"]
username = "correlog"
password_env = "CORRELOG_SMTP_PASSWORD"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "correlog.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_full_config_with_defaults_filled_in(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, FULL))
    assert config["input"] == {"format": "snare", "errors": "skip", "tz": "Europe/Berlin"}
    assert config["engine"]["ttl"] == 7200.0
    assert config["engine"]["max_open"] == 100_000
    assert config["rules"]["account"] == ("IUSR_*",)
    assert config["listen"]["tcp"] == ("::1", 6514)
    assert config["checkpoint"] == {"path": "state.db", "interval": 1.0, "max_outbox": 5000}
    assert [s["name"] for s in config.sinks] == ["jsonl", "chat", "syslog", "smtp"]
    sinks = build_sinks(config, environ={"CORRELOG_SMTP_PASSWORD": "secret"})
    assert [type(s) for s in sinks] == [JsonLinesSink, WebhookSink, SyslogSink, SmtpSink]


def test_an_empty_file_is_all_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, ""))
    assert set(config.sections) == set(SCHEMA)
    assert config["delivery"]["backoff_cap"] == 300.0
    assert config.sinks == ()


@pytest.mark.parametrize(
    ("text", "key", "message"),
    [
        ("[checkpoint]\ninterval = 'soon'", "checkpoint.interval", "expected a number above 0"),
        ("[checkpoint]\ninterval = 0", "checkpoint.interval", "got 0"),
        ("[engine]\nmax_open = true", "engine.max_open", "expected an integer"),
        ("[engine]\nmax_opne = 5", "engine.max_opne", "unknown key"),
        ("[listn]\nudp = '1.2.3.4:5'", "listn", "unknown section"),
        ("[listen]\nudp = 'localhost'", "listen.udp", "expected an address"),
        ("[listen]\ntcp = 'h:1'\ntls_cert = 'c.pem'", "listen.tls_key", "go together"),
        ("[listen]\ntls_cert = 'c'\ntls_key = 'k'", "listen.tcp", "TLS needs a tcp address"),
        ("[input]\nerrors = 'ignore'", "input.errors", "one of 'skip', 'strict'"),
        ("[rules]\nrule = [1]", "rules.rule", "a string or a list of strings"),
        ("[[sink]]\ntype = 'pager'", "sink[0].type", "expected one of jsonl"),
        ("[[sink]]\ntype = 'webhook'", "sink[0].url", "is required"),
        ("[[sink]]\ntype = 'syslog'\naddress = 'h:1'\nport = 3", "sink[0].port", "unknown key"),
        ("[[sink]]\ntype = 'jsonl'\n[[sink]]\ntype = 'jsonl'", "sink[1].name", "used twice"),
        ("sink = 3", "sink", "array of tables"),
        ("[checkpoint", "", "not valid TOML"),
    ],
)
def test_errors_name_the_key(tmp_path: Path, text: str, key: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        load_config(write(tmp_path, text))
    assert info.value.key == key
    if key:
        assert str(info.value).startswith(f"{key}: ")


def test_an_smtp_login_needs_its_password_from_the_environment() -> None:
    config = parse_config(
        {
            "sink": [
                {
                    "type": "smtp",
                    "address": "mail:25",
                    "sender": "a@b",
                    "recipients": "c@d",
                    "username": "u",
                    "password_env": "UNSET_VARIABLE",
                }
            ]
        }
    )
    with pytest.raises(ConfigError) as info:
        build_sinks(config, environ={})
    assert info.value.key == "sink[0].password_env"


def test_addresses() -> None:
    assert parse_address("127.0.0.1:514") == ("127.0.0.1", 514)
    assert parse_address("[::1]:514") == ("::1", 514)
    for bad in ("host", ":514", "host:port", "host:70000"):
        with pytest.raises(ValueError, match=bad):
            parse_address(bad)


def test_the_counters_of_a_live_run(tmp_path: Path) -> None:
    log = tmp_path / "security.log"
    log.write_text("".join(line + "\n" for line in sample_lines()) + "garbage\n", "utf-8")
    counters = LiveCounters()
    monitor = correlog.Monitor([AnonymousWeb(), WebServerChild()], on_record=counters.count_record)
    decoder = LineDecoder("snare")
    follower = Follower(log)
    with Checkpoint(tmp_path / "state") as checkpoint:
        events = decoder.decode(follower.read())
        counters.count_events(events)
        alerts = monitor.feed_many(events)
        counters.count_alerts(alerts)
        checkpoint.commit(positions={"security": follower.position}, alerts=alerts)
        correlator = monitor.correlator
        assert correlator is not None
        worker = DeliveryWorker(checkpoint, [JsonLinesSink(tmp_path / "out.jsonl")])
        worker.deliver_due()
        snapshot = counters.snapshot(
            open_entries=len(correlator),
            decoder=decoder,
            outbox=checkpoint.outbox_stats(),
            delivery=worker,
            sources={"security": follower.stats},
        )
    expected_events = {str(k): n for k, n in sorted(_kinds(sample_lines()).items())}
    assert snapshot["events"] == expected_events
    assert snapshot["skipped"]["skipped"] == 1
    assert snapshot["alerts"] == dict(sorted(_rules(alerts).items()))
    assert snapshot["open"] == len(correlator)
    assert snapshot["outbox"] == {"depth": 0, "dropped": 0, "limit": 100_000}
    assert snapshot["sinks"]["jsonl"]["delivered"] == len(alerts)
    assert snapshot["sources"]["security"]["lines"] == len(sample_lines()) + 1
    assert snapshot["records"] == {
        str(reason): n for reason, n in sorted(correlator.stats.records.items()) if n
    }
    assert snapshot["records"]  # the sample's exits made records
    assert json.loads(stats_line(snapshot)) == snapshot


def _kinds(lines: list[str]) -> dict[str, int]:
    from collections import Counter

    return dict(Counter(str(e.kind) for e in correlog.read(lines, "snare")))


def _rules(alerts: list[correlog.Alert]) -> dict[str, int]:
    from collections import Counter

    return dict(Counter(a.rule for a in alerts))


def test_the_example_in_the_docs_is_a_valid_config(tmp_path: Path) -> None:
    page = (Path(__file__).resolve().parents[2] / "docs" / "live.md").read_text("utf-8")
    example = page.split("```toml\n", 1)[1].split("```", 1)[0]
    config = load_config(write(tmp_path, example))
    assert set(config.sections) == set(SCHEMA)
    assert all(config.sections[name] for name in SCHEMA)
    assert [sink["type"] for sink in config.sinks] == ["jsonl", "webhook", "syslog", "smtp"]
    assert config["listen"]["tcp"] == ("0.0.0.0", 6514)
