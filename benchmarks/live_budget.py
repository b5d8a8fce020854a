"""The live parts' budget: ``python -m benchmarks.live_budget [--seconds S] [--copies N]``.

Prints one JSON object, each figure beside its baseline measured in the same run:

* ``delivery``: seconds from an alert's outbox commit to its acceptance by a sink (p50, p99,
  max), for a JSON lines file and for a webhook on a local HTTP server, one alert committed
  every 10 ms by the reading thread while the worker thread delivers. Baseline: the commit
  itself (SQLite WAL, ``synchronous=FULL``), the part no delivery design can avoid.
* ``follow``: events per second of :class:`~correlog.live.follow.Follower` plus
  :class:`~correlog.live.decode.LineDecoder` over a Snare file (the bundled sample repeated
  ``--copies`` times), against ``correlog.read`` of the same file (the batch path, the 100 %).
* ``listen``: messages per second a :class:`~correlog.live.syslog.SyslogListener` takes from
  one loopback TCP connection (RFC 5424 Snare messages, octet-counted, ``--messages`` of them)
  until :meth:`~correlog.live.syslog.SyslogListener.get` has handed them all over, against a
  plain socket reading the same bytes (no framing, no parsing).
* ``idle``: CPU time (user + system, ``resource.getrusage``) over ``--seconds`` of wall time,
  as a percentage of one core, for a follower polling an idle file every 0.25 s, a syslog
  listener on UDP and TCP with no traffic, and a delivery worker with an empty outbox.
  Baseline: the same process sleeping.
"""

from __future__ import annotations

import argparse
import json
import resource
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any

import attrs

import correlog
from correlog import Alert
from correlog.live import Checkpoint, OutboxItem
from correlog.live.decode import LineDecoder
from correlog.live.delivery import DeliveryWorker
from correlog.live.follow import Follower, follow
from correlog.live.sinks import JsonLinesSink, LiveSink, WebhookSink
from correlog.live.syslog import SyslogListener
from correlog.rules import AnonymousWeb, WebServerChild

SAMPLE = resources.files("correlog") / "samples" / "iis-intrusion.snare"


def _alerts(count: int) -> list[Alert]:
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    monitor = correlog.Monitor([AnonymousWeb(), WebServerChild()])
    template = monitor.feed_many(correlog.read(lines, "snare"))[0]
    assert template.record is not None
    host, channel, _pid, when, rn = template.record.process_id
    return [
        attrs.evolve(
            template,
            pid=n,
            record=template.record._replace(pid=n, process_id=(host, channel, n, when, rn)),
        )
        for n in range(1, count + 1)
    ]


def _percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50": round(statistics.median(ordered), 6),
        "p99": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 6),
        "max": round(ordered[-1], 6),
    }


def _delivery(folder: Path, make_sink: Callable[[], LiveSink], count: int) -> dict[str, Any]:
    latencies: list[float] = []
    commits: list[float] = []
    done = threading.Event()

    def delivered(item: OutboxItem, sink: str) -> None:
        latencies.append(time.time() - item.committed)
        if len(latencies) == count:
            done.set()

    path = folder / f"state-{time.monotonic_ns()}"
    with (
        Checkpoint(path) as checkpoint,
        DeliveryWorker(checkpoint, [make_sink()], on_delivered=delivered),
    ):
        for alert in _alerts(count):
            started = time.perf_counter()
            checkpoint.commit(engine={"version": 0}, positions={"f": {"offset": 1}}, alerts=[alert])
            commits.append(time.perf_counter() - started)
            time.sleep(0.01)
        done.wait(30)
    return {
        "alerts": count,
        "commit_to_accepted_s": _percentiles(latencies),
        "baseline_commit_s": _percentiles(commits),
    }


class _Accept(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _follow_throughput(folder: Path, copies: int) -> dict[str, Any]:
    text = SAMPLE.read_text(encoding="utf-8")
    path = folder / "security.snare"
    path.write_text(text * copies, encoding="utf-8")
    started = time.perf_counter()
    plain = sum(1 for _ in correlog.read(path, "snare"))
    plain_s = time.perf_counter() - started
    started = time.perf_counter()
    decoder = LineDecoder("snare")
    followed = 0
    with Follower(path) as follower:
        while batch := follower.read():
            followed += len(decoder.decode(batch))
    follow_s = time.perf_counter() - started
    assert followed == plain, (followed, plain)
    return {
        "events": plain,
        "read_events_per_s": round(plain / plain_s),
        "follow_events_per_s": round(followed / follow_s),
        "follow_over_read": round(plain_s / follow_s, 3),
    }


def _listen_throughput(count: int) -> dict[str, Any]:
    line = SAMPLE.read_text(encoding="utf-8").splitlines()[0]
    message = f"<13>1 2026-11-30T06:13:32.434116+00:00 web01 snare - - - {line}".encode()
    data = b"%d %s" % (len(message), message) * count
    with SyslogListener(tcp=("127.0.0.1", 0), queue_size=count + 1) as listener:
        assert listener.tcp_address is not None
        started = time.perf_counter()
        with socket.create_connection(listener.tcp_address) as sock:
            sock.sendall(data)
        received = 0
        while received < count:
            taken = listener.get(timeout=10, limit=count)
            assert taken, "the listener stopped receiving"
            received += len(taken)
        listen_s = time.perf_counter() - started
    with socket.create_server(("127.0.0.1", 0)) as server:
        started = time.perf_counter()
        sender = threading.Thread(target=_send, args=(server.getsockname(), data))
        sender.start()
        connection, _ = server.accept()
        with connection:
            while connection.recv(1 << 16):
                pass
        plain_s = time.perf_counter() - started
        sender.join()
    return {
        "messages": count,
        "listen_messages_per_s": round(count / listen_s),
        "baseline_plain_socket_messages_per_s": round(count / plain_s),
    }


def _send(address: tuple[str, int], data: bytes) -> None:
    with socket.create_connection(address) as sock:
        sock.sendall(data)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _idle(seconds: float, start: Callable[[], Callable[[], None]]) -> float:
    """Percent of one core used over ``seconds`` while what ``start`` started runs idle."""
    stop = start()
    time.sleep(0.2)  # past the start-up
    cpu, wall = _cpu(), time.perf_counter()
    time.sleep(seconds)
    used = (_cpu() - cpu) / (time.perf_counter() - wall)
    stop()
    return round(100 * used, 3)


def _idle_follow(folder: Path) -> Callable[[], None]:
    path = folder / "idle.log"
    path.write_text("nothing new\n", encoding="utf-8")
    stop = threading.Event()

    def run() -> None:
        for _ in follow(Follower(path), stop, interval=0.25):
            pass

    thread = threading.Thread(target=run, daemon=True)
    thread.start()

    def end() -> None:
        stop.set()
        thread.join()

    return end


def _idle_listen() -> Callable[[], None]:
    listener = SyslogListener(udp=("127.0.0.1", 0), tcp=("127.0.0.1", 0)).start()
    return listener.stop


def _idle_delivery(folder: Path) -> Callable[[], None]:
    checkpoint = Checkpoint(folder / "idle-state")
    worker = DeliveryWorker(checkpoint, [JsonLinesSink(folder / "idle.jsonl")]).start()

    def stop() -> None:
        worker.stop()
        checkpoint.close()

    return stop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=10.0, help="idle window (10)")
    parser.add_argument("--copies", type=int, default=20_000, help="sample copies (20000)")
    parser.add_argument("--alerts", type=int, default=300, help="alerts for latency (300)")
    parser.add_argument("--messages", type=int, default=100_000, help="syslog messages (100000)")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Accept)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        result: dict[str, Any] = {
            "delivery": {
                "jsonl_file": _delivery(
                    folder, lambda: JsonLinesSink(folder / "alerts.jsonl"), options.alerts
                ),
                "webhook": _delivery(folder, lambda: WebhookSink(url), options.alerts),
            },
            "follow": _follow_throughput(folder, options.copies),
            "listen": _listen_throughput(options.messages),
            "idle_cpu_percent_of_one_core": {
                "seconds": options.seconds,
                "baseline_sleep": _idle(options.seconds, lambda: lambda: None),
                "follow": _idle(options.seconds, lambda: _idle_follow(folder)),
                "listen_udp_tcp": _idle(options.seconds, _idle_listen),
                "delivery_worker": _idle(options.seconds, lambda: _idle_delivery(folder)),
            },
        }
        server.shutdown()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
