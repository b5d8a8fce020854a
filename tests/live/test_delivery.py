"""Delivery: every sink against a real local receiver, retry with back-off, outage, restart."""

from __future__ import annotations

import email
import email.policy
import json
import re
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from email.message import EmailMessage
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from correlog.live import Checkpoint, alert_id
from correlog.live.delivery import Backoff, DeliveryWorker
from correlog.live.sinks import JsonLinesSink, SmtpSink, SyslogSink, WebhookSink

from .helpers import distinct_alerts, sample_alerts
from .servers import (
    LOCAL,
    Certificate,
    free_port,
    http_receiver,
    make_certificate,
    smtp_receiver,
    syslog_receiver,
)

RFC5424 = re.compile(
    rb'<(\d+)>1 \S+ \S+ correlog \d+ alert \[correlog@32473 id="([^"]+)" rule="([^"]+)"\] (.*)',
    re.S,
)


class FakeClock:
    """Seconds that move only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    return make_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def checkpoint(tmp_path: Path) -> Iterator[Checkpoint]:
    with Checkpoint(tmp_path / "state") as opened:
        yield opened


def wait_until_empty(checkpoint: Checkpoint, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while checkpoint.outbox_stats().depth and time.monotonic() < deadline:
        time.sleep(0.01)
    assert checkpoint.outbox_stats().depth == 0


def test_json_lines_file(checkpoint: Checkpoint, tmp_path: Path) -> None:
    alerts = sample_alerts()
    checkpoint.commit(alerts=alerts)
    worker = DeliveryWorker(checkpoint, [JsonLinesSink(tmp_path / "alerts.jsonl")])
    assert worker.deliver_due() is None
    worker.stop()
    lines = (tmp_path / "alerts.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["id"] for line in lines] == [alert_id(a) for a in alerts]
    assert [json.loads(line)["rule"] for line in lines] == [a.rule for a in alerts]
    assert checkpoint.outbox_stats().depth == 0


def test_json_lines_after_a_line_cut_short_by_a_kill(
    checkpoint: Checkpoint, tmp_path: Path
) -> None:
    # A monitor killed in the middle of a write leaves a line without its end; the alert it
    # held was not acknowledged and comes again. It must come as a line of its own.
    path = tmp_path / "alerts.jsonl"
    alerts = sample_alerts()
    path.write_text('{"id":"cut-sh', encoding="utf-8")
    checkpoint.commit(alerts=alerts)
    worker = DeliveryWorker(checkpoint, [JsonLinesSink(path)])
    assert worker.deliver_due() is None
    worker.stop()
    torn, *lines = path.read_text(encoding="utf-8").splitlines()
    assert torn == '{"id":"cut-sh'
    assert [json.loads(line)["id"] for line in lines] == [alert_id(a) for a in alerts]


def test_webhook_503_with_retry_after_then_success(checkpoint: Checkpoint) -> None:
    (alert, *_) = sample_alerts()
    clock = FakeClock()
    with http_receiver([(503, {"Retry-After": "120"})]) as receiver:
        worker = DeliveryWorker(
            checkpoint, [WebhookSink(receiver.url)], clock=clock, random=lambda: 0.0
        )
        checkpoint.commit(alerts=[alert])
        assert worker.deliver_due() == 1120.0  # the receiver's 120 s beat the 0.5 s back-off
        clock.now = 1119.0
        worker.deliver_due()
        assert len(receiver.requests) == 1  # not asked again before Retry-After
        clock.now = 1120.0
        assert worker.deliver_due() is None
    assert len(receiver.requests) == 2
    assert json.loads(receiver.requests[1].body)["id"] == alert_id(alert)
    assert receiver.requests[1].headers["Idempotency-Key"] == alert_id(alert)
    assert worker.stats["webhook"].to_json() == {
        "delivered": 1,
        "failures": 1,
        "retries": 1,
        "failing": 0,
        "last_error": "SinkError: webhook " + receiver.url + ": HTTP 503",
    }
    assert checkpoint.outbox_stats().depth == 0


def test_webhook_slack_shape(checkpoint: Checkpoint) -> None:
    (alert, *_) = sample_alerts()
    with http_receiver() as receiver:
        checkpoint.commit(alerts=[alert])
        DeliveryWorker(checkpoint, [WebhookSink(receiver.url, slack=True)]).deliver_due()
    (request,) = receiver.requests
    body = json.loads(request.body)
    assert list(body) == ["text"]
    assert "anonymous-web on web2k" in body["text"]
    assert alert_id(alert) in body["text"]


def test_smtp_with_starttls(checkpoint: Checkpoint, certificate: Certificate) -> None:
    alerts = sample_alerts()
    with smtp_receiver(certificate) as mailbox:
        sink = SmtpSink(
            LOCAL,
            mailbox.port,
            sender="correlog@example.org",
            recipients=["soc@example.org"],
            ssl_context=certificate.client_context(),
        )
        checkpoint.commit(alerts=alerts)
        DeliveryWorker(checkpoint, [sink]).deliver_due()
    assert mailbox.tls_sessions == 3
    mails = [email.message_from_bytes(raw, policy=email.policy.default) for raw in mailbox.messages]
    assert [m["Message-ID"] for m in mails] == [f"<{alert_id(a)}@correlog>" for a in alerts]
    assert all(m["Subject"].startswith("correlog: ") for m in mails)
    bodies = [json.loads(m.get_content()) for m in mails if isinstance(m, EmailMessage)]
    assert len(bodies) == 3
    assert [b["id"] for b in bodies] == [alert_id(a) for a in alerts]


def test_smtp_refuses_to_send_without_starttls(
    checkpoint: Checkpoint, certificate: Certificate
) -> None:
    with smtp_receiver(certificate) as mailbox:
        sink = SmtpSink(LOCAL, mailbox.port, sender="a@b.c", recipients=["d@e.f"], starttls=False)
        checkpoint.commit(alerts=sample_alerts()[:1])
        worker = DeliveryWorker(checkpoint, [sink], clock=FakeClock())
        assert worker.deliver_due() is not None  # the server requires STARTTLS: retried later
    assert mailbox.messages == []
    assert worker.stats["smtp"].failures == 1
    assert checkpoint.outbox_stats().depth == 1


@pytest.mark.parametrize("transport", ["udp", "tcp", "tls"])
def test_syslog(checkpoint: Checkpoint, certificate: Certificate, transport: str) -> None:
    alerts = sample_alerts()
    with syslog_receiver(transport, certificate) as receiver:
        sink = SyslogSink(
            LOCAL,
            receiver.port,
            transport=transport,  # type: ignore[arg-type]
            ssl_context=certificate.client_context(),
            hostname="collector",
        )
        checkpoint.commit(alerts=alerts)
        DeliveryWorker(checkpoint, [sink]).deliver_due()
        sink.close()
        deadline = time.monotonic() + 10
        while len(receiver.frames) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
    parsed = [RFC5424.fullmatch(frame) for frame in receiver.frames]
    assert all(parsed)
    assert [int(m.group(1)) for m in parsed if m] == [13 * 8 + 4] * 3
    assert [m.group(2).decode() for m in parsed if m] == [alert_id(a) for a in alerts]
    assert [json.loads(m.group(4))["rule"] for m in parsed if m] == [a.rule for a in alerts]


def test_an_outage_loses_nothing_and_delivers_each_alert_once(
    checkpoint: Checkpoint, tmp_path: Path
) -> None:
    port = free_port()
    hook = WebhookSink(f"http://{LOCAL}:{port}/hook", timeout=2)
    file = JsonLinesSink(tmp_path / "alerts.jsonl")
    alerts = distinct_alerts(40)
    with DeliveryWorker(checkpoint, [hook, file], backoff=Backoff(0.01, 2, 0.05)) as worker:
        for n in range(0, 40, 10):  # the monitor keeps committing while the hook is down
            checkpoint.commit(alerts=alerts[n : n + 10])
        deadline = time.monotonic() + 10
        while worker.stats["webhook"].failures < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert checkpoint.outbox_stats().depth == 40  # the file took them, the hook did not
        with http_receiver(port=port) as receiver:
            wait_until_empty(checkpoint)
    ids = [alert_id(a) for a in alerts]
    assert [json.loads(r.body)["id"] for r in receiver.requests] == ids
    lines = (tmp_path / "alerts.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["id"] for line in lines] == ids
    assert worker.stats["webhook"].failures >= 3
    assert worker.stats["jsonl"].failures == 0


def test_a_new_worker_delivers_what_was_pending(tmp_path: Path) -> None:
    alerts = distinct_alerts(5)
    with Checkpoint(tmp_path / "state") as first:
        first.commit(alerts=alerts)
        # the file sink took the first two, then the monitor stopped
        file = JsonLinesSink(tmp_path / "alerts.jsonl")
        for item in first.pending(2):
            file.send(item)
            first.accept(item.id, "jsonl", ["jsonl", "webhook"])
        file.close()
    with (
        http_receiver() as receiver,
        Checkpoint(tmp_path / "state") as second,
        DeliveryWorker(
            second,
            [JsonLinesSink(tmp_path / "alerts.jsonl"), WebhookSink(receiver.url)],
        ),
    ):
        wait_until_empty(second)
    lines = (tmp_path / "alerts.jsonl").read_text(encoding="utf-8").splitlines()
    ids = [alert_id(a) for a in alerts]
    assert [json.loads(line)["id"] for line in lines] == ids  # none twice
    assert Counter(json.loads(r.body)["id"] for r in receiver.requests) == Counter(ids)


@given(
    failures=st.integers(1, 40),
    random=st.floats(0, 1, exclude_max=True),
    retry_after=st.none() | st.floats(0, 1e5),
)
def test_backoff_doubles_stays_capped_and_honours_retry_after(
    failures: int, random: float, retry_after: float | None
) -> None:
    backoff = Backoff(base=1.0, factor=2.0, cap=300.0)
    full = min(300.0, 2.0 ** (failures - 1))
    delay = backoff.delay(failures, random, retry_after)
    if retry_after is None:
        assert full / 2 <= delay <= full
    else:
        assert delay >= retry_after
        assert delay == max(retry_after, backoff.delay(failures, random))


class FailingOnce(Checkpoint):
    """A checkpoint whose first acceptance fails, as a full disk would."""

    failed = False

    def accept(self, id: str, sink: str, sinks: Sequence[str]) -> bool:
        if not self.failed:
            self.failed = True
            raise sqlite3.OperationalError("database or disk is full")
        return super().accept(id, sink, sinks)


def test_the_worker_thread_survives_a_failing_checkpoint(tmp_path: Path) -> None:
    alerts = sample_alerts()
    with FailingOnce(tmp_path / "state") as checkpoint:
        worker = DeliveryWorker(checkpoint, [JsonLinesSink(tmp_path / "out.jsonl")], poll=0.01)
        with worker:
            checkpoint.commit(alerts=alerts)
            wait_until_empty(checkpoint)
    assert (worker.errors, worker.last_error) == (1, "OperationalError: database or disk is full")
    lines = (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()
    # the first alert was written, its acceptance failed: it was sent again (same id)
    assert [json.loads(line)["id"] for line in lines] == [
        alert_id(alerts[0]),
        *(alert_id(a) for a in alerts),
    ]
