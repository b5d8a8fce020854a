"""The live parts' budget: ``python -m benchmarks.live_budget [--seconds S] [--copies N]``.

Prints one JSON object, each figure beside its baseline measured in the same run:

* ``delivery``: seconds from an alert's outbox commit to its acceptance by a sink (p50, p99,
  max), for a JSON lines file and for a webhook on a local HTTP server, one alert committed
  every 10 ms by the reading thread while the worker thread delivers. Baseline: the commit
  itself (SQLite WAL, ``synchronous=FULL``), the part no delivery design can avoid.
* ``follow``: events per second of :class:`~correlog.live.follow.Follower` plus
  :meth:`~correlog.live.decode.LineDecoder.stream`, as ``watch --follow`` reads, over a Snare
  file (the bundled sample repeated
  ``--copies`` times), against ``correlog.read`` of the same file (the batch path, the 100 %).
* ``listen``: messages per second a :class:`~correlog.live.syslog.SyslogListener` takes from
  one loopback TCP connection (RFC 5424 Snare messages, octet-counted, ``--messages`` of them)
  until :meth:`~correlog.live.syslog.SyslogListener.get` has handed them all over, against a
  plain socket reading the same bytes (no framing, no parsing); per second of wall time, and
  per second of the process's CPU time (which a busy machine does not inflate).
* ``idle``: CPU time (user + system, ``resource.getrusage``) over ``--seconds`` of wall time,
  as a percentage of one core, for a follower polling an idle file every 0.25 s, a syslog
  listener on UDP and TCP with no traffic, and a delivery worker with an empty outbox.
  Baseline: the same process sleeping.
* ``commands``: the real commands as subprocesses (``correlog watch --follow`` and ``correlog
  listen``, each with ``--checkpoint``):

  - ``rss_mib``: peak RSS (``wait4``'s ``ru_maxrss``) with ``--open`` processes open (created,
    never exited), against a Python that only imported ``correlog.cli``;
  - ``alert_latency_s``: seconds from a line's append (or a message's send) to its alert's
    line in the ``--sink jsonl:`` file (p50, p99, max), one alert line every 50 ms;
  - ``idle_cpu_percent``: CPU of each idle command over ``--seconds``, from ``/proc``,
    against a sleeping Python.
* ``state``: what a save of the engine state with ``--open`` open processes costs, made as
  the live loop makes it (JSON bytes, seconds per commit), against the journal commit of a
  1,000-message syslog batch: why the loop saves the state at intervals and journals in
  between.

``follow`` and ``listen`` run ``--rounds`` times, alternating with their baselines, and report
the best of each (CPU time for ``follow``): other work on the machine only ever slows a run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
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
from correlog import Alert, EventKind, Layout, ProcessEvent
from correlog.cli.follow import READ_BUDGET
from correlog.live import Checkpoint, OutboxItem
from correlog.live.decode import LineDecoder
from correlog.live.delivery import DeliveryWorker
from correlog.live.follow import Follower, follow
from correlog.live.sinks import JsonLinesSink, LiveSink, WebhookSink
from correlog.live.syslog import SyslogListener
from correlog.readers.jsonl import event_to_json
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


def _follow_throughput(folder: Path, copies: int, rounds: int) -> dict[str, Any]:
    text = SAMPLE.read_text(encoding="utf-8")
    path = folder / "security.snare"
    path.write_text(text * copies, encoding="utf-8")
    plain_runs, follow_runs = [], []
    events = 0
    for _ in range(rounds):
        started = time.process_time()
        events = sum(1 for _ in correlog.read(path, "snare"))
        plain_runs.append(time.process_time() - started)
        started = time.process_time()
        decoder = LineDecoder("snare")
        followed = 0
        with Follower(path) as follower:
            while batch := follower.read(READ_BUDGET):  # as the command reads
                followed += sum(1 for _ in decoder.stream(batch))
        follow_runs.append(time.process_time() - started)
        assert followed == events, (followed, events)
    return {
        "events": events,
        "rounds": rounds,
        "read_events_per_cpu_s": round(events / min(plain_runs)),
        "follow_events_per_cpu_s": round(events / min(follow_runs)),
        "follow_over_read": round(min(plain_runs) / min(follow_runs), 3),
        "follow_over_read_each_round": [
            round(a / b, 3) for a, b in zip(plain_runs, follow_runs, strict=True)
        ],
    }


def _listen_throughput(count: int, rounds: int) -> dict[str, Any]:
    best: dict[str, Any] = {}
    for _ in range(rounds):
        run = _listen_once(count)
        for key, value in run.items():
            best[key] = max(best.get(key, 0), value)
    return best


def _listen_once(count: int) -> dict[str, Any]:
    line = SAMPLE.read_text(encoding="utf-8").splitlines()[0]
    message = f"<13>1 2026-11-30T06:13:32.434116+00:00 web01 snare - - - {line}".encode()
    data = b"%d %s" % (len(message), message) * count
    with SyslogListener(tcp=("127.0.0.1", 0), queue_size=count + 1) as listener:
        assert listener.tcp_address is not None
        started, cpu = time.perf_counter(), time.process_time()
        with socket.create_connection(listener.tcp_address) as sock:
            sock.sendall(data)
        received = 0
        while received < count:
            taken = listener.get(timeout=10, limit=count)
            assert taken, "the listener stopped receiving"
            received += len(taken)
        listen_s = time.perf_counter() - started
        listen_cpu = time.process_time() - cpu
    with socket.create_server(("127.0.0.1", 0)) as server:
        started, cpu = time.perf_counter(), time.process_time()
        sender = threading.Thread(target=_send, args=(server.getsockname(), data))
        sender.start()
        connection, _ = server.accept()
        with connection:
            while connection.recv(1 << 16):
                pass
        plain_s = time.perf_counter() - started
        sender.join()
        plain_cpu = time.process_time() - cpu
    return {
        "messages": count,
        "listen_messages_per_s": round(count / listen_s),
        "baseline_plain_socket_messages_per_s": round(count / plain_s),
        # the process's CPU (the sender's sendall included, on both sides): what a run costs
        # whatever else the machine does
        "listen_messages_per_cpu_s": round(count / listen_cpu),
        "baseline_plain_socket_messages_per_cpu_s": round(count / plain_cpu),
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


# -- the real commands ---------------------------------------------------------------------------


def _event_line(n: int, *, alert: bool) -> str:
    """A correlog JSON line: an anonymous cmd.exe exit (it alerts) or a service's creation (it
    stays open)."""
    event = ProcessEvent(
        kind=EventKind.EXITED if alert else EventKind.CREATED,
        host="web03",
        pid=4 * n,
        time=10**18 + n,
        event_id=593 if alert else 592,
        record_number=n,
        image="C:\\WINDOWS\\system32\\cmd.exe" if alert else "C:\\svc\\worker.exe",
        user="IUSR_WEB03" if alert else "svc",
        domain="WEB03",
        logon_id=5,
        layout=Layout.XP_2003,
    )
    return json.dumps(event_to_json(event), separators=(",", ":"))


def _command(folder: Path, *args: str, rss: Path | None = None) -> subprocess.Popen[bytes]:
    """``python -m correlog ARGS``, stderr to ``folder/stderr.txt``; with ``rss``, under
    ``/usr/bin/time``, which writes the peak RSS (KiB) there at the end."""
    command = [sys.executable, "-m", "correlog", *args]
    if rss is not None:
        command = ["/usr/bin/time", "-f", "%M", "-o", str(rss), *command]
    with (folder / "stderr.txt").open("ab") as err:
        return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err)


def _child(process: subprocess.Popen[bytes]) -> int:
    """The pid of the command ``/usr/bin/time`` runs (it does not pass SIGTERM on)."""
    with open(f"/proc/{process.pid}/task/{process.pid}/children", encoding="ascii") as file:
        return int(file.read().split()[0])


def _rss_mib(path: Path) -> float:
    return round(int(path.read_text(encoding="ascii").split()[-1]) / 1024, 1)


def _wait_for(condition: Callable[[], bool], seconds: float = 120.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the command did not get there in time")
        time.sleep(0.02)


def _listening(folder: Path) -> bool:
    path = folder / "stderr.txt"
    return path.exists() and "listening on" in path.read_text(encoding="utf-8")


def _frames(lines: list[str]) -> bytes:
    messages = (f"<13>1 - web03 correlog - - - {line}".encode() for line in lines)
    return b"".join(b"%d %s" % (len(m), m) for m in messages)


def _rss(folder: Path, open_processes: int) -> dict[str, Any]:
    if not os.path.exists("/usr/bin/time"):
        return {"skipped": "needs /usr/bin/time (Debian package time)"}
    lines = [_event_line(n, alert=False) for n in range(1, open_processes + 1)]
    log = folder / "open.jsonl"
    log.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    state = folder / "rss-follow.db"
    watch_rss, listen_rss, base_rss = folder / "w.rss", folder / "l.rss", folder / "b.rss"
    args = ("watch", "--follow", "--checkpoint", str(state), "--idle-exit", "1", str(log))
    _command(folder, *args, rss=watch_rss).wait()
    port = _free_port()
    (folder / "stderr.txt").write_text("", encoding="utf-8")
    listen = _command(
        folder,
        *("listen", "--tcp", f"127.0.0.1:{port}", "--checkpoint", str(folder / "rss.db")),
        *("--stats", "0.5"),
        rss=listen_rss,
    )
    _wait_for(lambda: _listening(folder))
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(_frames(lines))
    _wait_for(lambda: _events_counted(folder) >= open_processes, 300)
    os.kill(_child(listen), signal.SIGTERM)
    listen.wait()
    baseline = ["/usr/bin/time", "-f", "%M", "-o", str(base_rss), sys.executable, "-c"]
    subprocess.run([*baseline, "import correlog.cli"], check=True)
    with sqlite3.connect(state) as db:
        (state_text,) = db.execute("SELECT state FROM engine").fetchone()
    db.close()
    saved = correlog.Monitor.from_state([AnonymousWeb()], json.loads(state_text))
    return {
        "open_processes": len(saved.correlator),
        "watch_follow": _rss_mib(watch_rss),
        "listen": _rss_mib(listen_rss),
        "baseline_import_only": _rss_mib(base_rss),
    }


def _events_counted(folder: Path) -> int:
    """The events the last ``--stats`` line on the command's stderr counted."""
    lines = (folder / "stderr.txt").read_text(encoding="utf-8").splitlines()
    stats = [line for line in lines if line.startswith("{")]
    return sum(json.loads(stats[-1])["events"].values()) if stats else 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _alerted_at(out: Path, seen: dict[int, float]) -> None:
    if out.exists():
        for line in out.read_text(encoding="utf-8").splitlines():
            pid = json.loads(line)["pid"]
            seen.setdefault(pid, time.time())


def _latency(folder: Path, count: int, send: Callable[[str], None], out: Path) -> dict[str, Any]:
    sent: dict[int, float] = {}
    seen: dict[int, float] = {}
    for n in range(1, count + 1):
        sent[4 * n] = time.time()
        send(_event_line(n, alert=True))
        deadline = time.monotonic() + 0.05
        while time.monotonic() < deadline:
            _alerted_at(out, seen)
            time.sleep(0.005)

    def all_seen() -> bool:
        _alerted_at(out, seen)
        return all(pid in seen for pid in sent)

    _wait_for(all_seen, 30)
    return _percentiles([seen[pid] - at for pid, at in sent.items()])


def _latencies(folder: Path, count: int) -> dict[str, Any]:
    log, out = folder / "latency.jsonl", folder / "latency-alerts.jsonl"
    log.write_text("", encoding="utf-8")
    watch = _command(
        folder,
        *("watch", "--follow", "--checkpoint", str(folder / "latency.db")),
        *("--sink", f"jsonl:{out}", str(log)),
    )

    def append(line: str) -> None:
        with log.open("a", encoding="utf-8") as file:
            file.write(line + "\n")

    append(_event_line(count + 1, alert=True))  # the command is up once this one is out
    _wait_for(lambda: out.exists() and out.stat().st_size > 0)

    follow = _latency(folder, count, append, out)
    watch.send_signal(signal.SIGTERM)
    watch.wait()
    out.unlink()
    port = _free_port()
    (folder / "stderr.txt").write_text("", encoding="utf-8")
    listen = _command(
        folder,
        *("listen", "--tcp", f"127.0.0.1:{port}", "--checkpoint", str(folder / "lat.db")),
        *("--sink", f"jsonl:{out}"),
    )
    _wait_for(lambda: _listening(folder))
    with socket.create_connection(("127.0.0.1", port)) as sock:
        received = _latency(folder, count, lambda line: sock.sendall(_frames([line])), out)
    listen.send_signal(signal.SIGTERM)
    listen.wait()
    return {"alerts": count, "watch_follow": follow, "listen_tcp": received}


def _cpu_seconds(pid: int) -> float:
    """CPU time of every thread of ``pid`` so far (``schedstat``: nanoseconds on a CPU)."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat", encoding="ascii") as stat:
                total += int(stat.read().split()[0])
        except OSError:  # a thread that just ended
            continue
    return total / 1e9


def _settled(pid: int) -> None:
    """Wait until the process is past its start-up: under 5 ms of CPU in half a second."""
    time.sleep(1.0)
    before = _cpu_seconds(pid)
    while True:
        time.sleep(0.5)
        now = _cpu_seconds(pid)
        if now - before < 0.005:
            return
        before = now


def _idle_command(folder: Path, seconds: float, *args: str) -> float:
    (folder / "stderr.txt").write_text("", encoding="utf-8")
    if args and args[0] == "-c":
        process = subprocess.Popen([sys.executable, *args])
    else:
        process = _command(folder, *args)
    _settled(process.pid)
    cpu, wall = _cpu_seconds(process.pid), time.monotonic()
    time.sleep(seconds)
    share = (_cpu_seconds(process.pid) - cpu) / (time.monotonic() - wall)
    process.send_signal(signal.SIGTERM)
    process.wait()
    return round(100 * share, 3)


def _idle_commands(folder: Path, seconds: float) -> dict[str, Any]:
    idle_log = folder / "idle-command.log"
    idle_log.write_text("nothing new\n", encoding="utf-8")
    port = _free_port()
    return {
        "seconds": seconds,
        "baseline_sleeping_python": _idle_command(
            folder, seconds, "-c", "import time; time.sleep(3600)"
        ),
        "watch_follow": _idle_command(
            folder,
            seconds,
            *("watch", "--follow", "--checkpoint", str(folder / "idle1.db"), str(idle_log)),
        ),
        "listen_udp_tcp": _idle_command(
            folder,
            seconds,
            *("listen", "--udp", f"127.0.0.1:{port}", "--tcp", f"127.0.0.1:{port}"),
            *("--checkpoint", str(folder / "idle2.db")),
        ),
    }


def _state_cost(folder: Path, open_processes: int) -> dict[str, Any]:
    monitor = correlog.Monitor([AnonymousWeb(), WebServerChild()])
    lines = [_event_line(n, alert=False) for n in range(1, open_processes + 1)]
    monitor.feed_many(correlog.read(lines, "jsonl"))
    journal = [("syslog", "web03", line) for line in lines[:1000]]
    saves, appends = [], []
    with Checkpoint(folder / "state-cost.db") as checkpoint:
        for _ in range(5):
            started = time.perf_counter()
            # As the live loop saves: the state's JSON text in pieces, one entry at a time.
            pieces = monitor.state_pieces()
            checkpoint.commit(engine_json=pieces, positions={"f": {"offset": 1}})
            saves.append(time.perf_counter() - started)
            started = time.perf_counter()
            checkpoint.commit(journal=journal)
            appends.append(time.perf_counter() - started)
    return {
        "open_processes": open_processes,
        "state_json_bytes": len(json.dumps(monitor.state())),
        "save_state_s": round(min(saves), 4),
        "journal_1000_messages_s": round(min(appends), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=10.0, help="idle window (10)")
    parser.add_argument("--copies", type=int, default=20_000, help="sample copies (20000)")
    parser.add_argument("--alerts", type=int, default=300, help="alerts for latency (300)")
    parser.add_argument("--messages", type=int, default=100_000, help="syslog messages (100000)")
    parser.add_argument("--rounds", type=int, default=5, help="runs of follow and listen (5)")
    parser.add_argument("--open", type=int, default=10_000, help="open processes for RSS (10000)")
    parser.add_argument(
        "--latency-alerts", type=int, default=200, help="alerts for the commands' latency (200)"
    )
    parser.add_argument("--skip-commands", action="store_true", help="only the library parts")
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
            "follow": _follow_throughput(folder, options.copies, options.rounds),
            "listen": _listen_throughput(options.messages, options.rounds),
            "idle_cpu_percent_of_one_core": {
                "seconds": options.seconds,
                "baseline_sleep": _idle(options.seconds, lambda: lambda: None),
                "follow": _idle(options.seconds, lambda: _idle_follow(folder)),
                "listen_udp_tcp": _idle(options.seconds, _idle_listen),
                "delivery_worker": _idle(options.seconds, lambda: _idle_delivery(folder)),
            },
        }
        server.shutdown()
        result["state"] = _state_cost(folder, options.open)
        if not options.skip_commands:
            result["commands"] = {
                "rss_mib": _rss(folder, options.open),
                "alert_latency_s": _latencies(folder, options.latency_alerts),
                "idle_cpu_percent": _idle_commands(folder, options.seconds),
            }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
