"""The syslog receiver: headers, framing, real `logger` senders, TLS, hosts, and limits."""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import correlog
from correlog.live import Checkpoint
from correlog.live.decode import LineDecoder
from correlog.live.delivery import DeliveryWorker
from correlog.live.sinks import SyslogSink
from correlog.live.syslog import (
    FrameDecoder,
    SyslogListener,
    SyslogMessage,
    message_events,
    parse_message,
    parse_message_reference,
    udp_drops,
    with_host,
)

from .helpers import sample_alerts, sample_lines
from .servers import LOCAL, Certificate, make_certificate

needs_logger = pytest.mark.skipif(shutil.which("logger") is None, reason="util-linux logger")


def receive(listener: SyslogListener, count: int, seconds: float = 10.0) -> list[SyslogMessage]:
    got: list[SyslogMessage] = []
    deadline = time.monotonic() + seconds
    while len(got) < count and time.monotonic() < deadline:
        got += listener.get(timeout=0.1)
    return got


def logger(port: int, *options: str, lines: list[str], tmp_path: Path) -> None:
    source = tmp_path / "lines.txt"
    source.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    subprocess.run(
        [
            *("logger", "--server", LOCAL, "--port", str(port), "--size", "8192", "-t", "snare"),
            *(*options, "--file", str(source)),
        ],
        check=True,
        timeout=30,
    )


class TestHeaders:
    def test_rfc5424(self) -> None:
        data = (
            b'<13>1 2026-11-30T06:13:32.434116+00:00 web01 snare - - [timeQuality tzKnown="1"]'
            b" \xef\xbb\xbfhello\tworld"
        )
        message = parse_message(data, "10.0.0.5")
        assert message == SyslogMessage(
            message="hello\tworld",
            sender="10.0.0.5",
            protocol="rfc5424",
            facility=1,
            severity=5,
            timestamp="2026-11-30T06:13:32.434116+00:00",
            hostname="web01",
            app_name="snare",
        )

    def test_rfc5424_nil_fields_and_no_message(self) -> None:
        message = parse_message(b"<165>1 - - - - - -", "10.0.0.5")
        assert (message.protocol, message.hostname, message.message) == ("rfc5424", None, "")
        assert message.host == "10.0.0.5"

    def test_rfc3164(self) -> None:
        message = parse_message(b"<13>Nov 30 06:13:32 vm root: hello there", "10.0.0.5")
        assert (message.protocol, message.hostname, message.app_name, message.message) == (
            "rfc3164",
            "vm",
            "root",
            "hello there",
        )

    def test_rfc3164_snare_keeps_its_own_host_field(self) -> None:
        line = sample_lines()[0]
        message = parse_message(f"<13>Mar  4 09:15:00 relay {line}".encode(), "10.0.0.5")
        assert message.message == line

    def test_no_header_is_all_payload(self) -> None:
        message = parse_message(b"just text\r\n", "10.0.0.5")
        assert (message.protocol, message.message) == ("none", "just text")


frames = st.lists(st.binary(min_size=1, max_size=40).filter(lambda b: b"\n" not in b), max_size=12)


#: A well-formed RFC 5424 message in pieces; the test replaces or extends one or two of them
#: with pieces that break it (another PRI, non-ASCII fields, whitespace that is not a space, a
#: missing or doubled space, structured data with escapes, a BOM, bytes that are not UTF-8).
_VALID: tuple[bytes, ...] = (b"<13>1", b" ", b"2026-11-30T06:13:32Z", b" ", b"web01", b" ")
_VALID += (b"snare", b" ", b"-", b" ", b"-", b" ", b"-", b" ", b"text")
_BREAKING = st.sampled_from(
    [
        *(b"\t", b"\x1c", b"\xc3\xa9", b"", b"  ", b"<192>1", b"<0013>1", b"<191>1", b"<13>2"),
        *(b'[a b="1"]', b'[x y="\\]"][z c="\xff"]', b"[", b"[a\\", b"]", b"-"),
        *(b"\xef\xbb\xbftext", b"\xff", b"text\r\n", b"\x00", b"a b"),
    ]
)


def _with_changes(changes: list[tuple[int, bool, bytes]]) -> bytes:
    """The valid message with piece ``at`` replaced by ``new`` (or followed by it)."""
    pieces = list(_VALID)
    for at, extend, new in changes:
        pieces[at] = pieces[at] + new if extend else new
    return b"".join(pieces)


RFC5424_MESSAGES = st.lists(
    st.tuples(st.integers(0, len(_VALID) - 1), st.booleans(), _BREAKING), max_size=2
).map(_with_changes)


@settings(max_examples=300)
@given(RFC5424_MESSAGES)
@example(b"<192>1 - - - - - - PRI 192 is past the highest facility")
@example(b"<13>1 - - - - \t - \xff")
def test_the_fast_header_path_equals_the_reference(data: bytes) -> None:
    assert parse_message(data, "10.0.0.5", "tcp") == parse_message_reference(
        data, "10.0.0.5", "tcp"
    )


def test_the_fast_path_takes_the_usual_header() -> None:
    data = b'<13>1 2026-11-30T06:13:32Z web01 snare - - [meta a="1"] \xef\xbb\xbfbody\r\n'
    message = parse_message(data, "10.0.0.5")
    assert message == parse_message_reference(data, "10.0.0.5")
    assert (message.message, message.hostname, message.facility) == ("body", "web01", 1)


@given(
    messages=frames,
    octet=st.lists(st.booleans(), min_size=12, max_size=12),
    cuts=st.lists(st.integers(0, 600), max_size=10),
)
def test_framing_any_mix_cut_anywhere_gives_the_messages_back(
    messages: list[bytes], octet: list[bool], cuts: list[int]
) -> None:
    """Differential: the decoder fed the stream in arbitrary pieces returns the messages that
    were framed, each framed either way (newline framing needs a first byte that is no digit)."""
    stream = b""
    expected = []
    for message, counted in zip(messages, octet, strict=False):
        if counted:
            stream += b"%d %s" % (len(message), message)
            expected.append(message)
        elif not message[:1].isdigit():
            stream += message + b"\n"
            expected.append(message)
    decoder = FrameDecoder(max_message=100)
    got: list[bytes] = []
    bounds = sorted({0, len(stream), *(min(c, len(stream)) for c in cuts)})
    for start, end in itertools.pairwise(bounds):
        got += decoder.feed(stream[start:end])
    assert got == expected
    assert decoder.pending == 0


def test_an_oversized_frame_is_skipped_and_counted_and_the_stream_stays_in_step() -> None:
    decoder = FrameDecoder(max_message=10)
    stream = b"20 " + b"x" * 20 + b"5 hello" + b"y" * 30 + b"\nshort\n"
    assert [m for n in range(len(stream)) for m in decoder.feed(stream[n : n + 1])] == [
        b"hello",
        b"short",
    ]
    assert decoder.oversized == 2


@needs_logger
@pytest.mark.parametrize(
    "options",
    [
        ("--tcp", "--octet-count", "--rfc5424"),
        ("--tcp", "--rfc5424"),
        ("--udp", "--rfc5424"),
        ("--udp", "--rfc3164"),
    ],
)
def test_logger_sends_snare_and_events_come_out(tmp_path: Path, options: tuple[str, ...]) -> None:
    lines = sample_lines()
    transport = "tcp" if "--tcp" in options else "udp"
    with SyslogListener(**{transport: (LOCAL, 0)}) as listener:  # type: ignore[arg-type]
        address = listener.tcp_address or listener.udp_address
        assert address is not None
        logger(address[1], *options, lines=lines, tmp_path=tmp_path)
        messages = receive(listener, len(lines))
    assert [m.message for m in messages] == lines
    assert {m.protocol for m in messages} == {options[-1].removeprefix("--")}
    assert message_events(messages, LineDecoder(sticky=False)) == list(
        correlog.read(lines, "snare")
    )
    assert listener.stats.messages[transport] == len(lines)


@needs_logger
def test_an_oversized_udp_message_is_counted(tmp_path: Path) -> None:
    with SyslogListener(udp=(LOCAL, 0), max_message=200) as listener:
        assert listener.udp_address is not None
        logger(listener.udp_address[1], "--udp", lines=["x" * 500, "small"], tmp_path=tmp_path)
        messages = receive(listener, 1)
        kernel_drops = listener.to_json()["kernel_udp_drops"]
    assert [m.message for m in messages] == ["small"]
    assert listener.stats.oversized == 1
    assert kernel_drops == (0 if Path("/proc/net/udp").exists() else None)


def test_a_full_queue_drops_udp_and_counts_it() -> None:
    import socket

    with SyslogListener(udp=(LOCAL, 0), queue_size=2) as listener:
        assert listener.udp_address is not None
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for n in range(5):
                sock.sendto(b"<13>1 - host app - - - message %d" % n, listener.udp_address)
        deadline = time.monotonic() + 5
        while listener.stats.queue_full < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert [m.message for m in listener.get(timeout=1)] == ["message 0", "message 1"]
    assert listener.stats.queue_full == 3
    assert listener.stats.messages["udp"] == 2


@pytest.mark.skipif(not Path("/proc/net/udp").exists(), reason="Linux /proc/net/udp")
def test_kernel_drops_of_a_real_socket_are_seen() -> None:
    import socket

    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender,
    ):
        receiver.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
        receiver.bind((LOCAL, 0))
        port = receiver.getsockname()[1]
        assert udp_drops(port) == 0
        for _ in range(200):  # nobody reads: the small buffer overflows
            sender.sendto(b"x" * 1000, (LOCAL, port))
        drops = udp_drops(port)
    assert drops is not None
    assert drops > 0


def test_tls_from_correlogs_own_syslog_sink(tmp_path: Path) -> None:
    certificate: Certificate = make_certificate(tmp_path)
    alerts = sample_alerts()
    with SyslogListener(tcp=(LOCAL, 0), ssl_context=certificate.server_context()) as listener:
        assert listener.tcp_address is not None
        sink = SyslogSink(
            LOCAL,
            listener.tcp_address[1],
            transport="tls",
            ssl_context=certificate.client_context(),
            hostname="collector",
        )
        with Checkpoint(tmp_path / "state") as checkpoint:
            checkpoint.commit(alerts=alerts)
            DeliveryWorker(checkpoint, [sink]).deliver_due()
            sink.close()
        messages = receive(listener, len(alerts))
    assert [json.loads(m.message)["rule"] for m in messages] == [a.rule for a in alerts]
    assert {(m.transport, m.hostname) for m in messages} == {("tls", "collector")}


def test_a_plain_tcp_client_on_a_tls_listener_is_counted(tmp_path: Path) -> None:
    import socket

    certificate = make_certificate(tmp_path)
    with SyslogListener(
        tcp=(LOCAL, 0), ssl_context=certificate.server_context(), handshake_timeout=2
    ) as listener:
        assert listener.tcp_address is not None
        with socket.create_connection(listener.tcp_address) as sock:
            sock.sendall(b"5 hello")
        deadline = time.monotonic() + 5
        while not listener.stats.tls_failures and time.monotonic() < deadline:
            time.sleep(0.01)
    assert listener.stats.tls_failures == 1
    assert listener.get(timeout=0) == []


def test_a_json_payload_without_a_host_gets_the_senders() -> None:
    (event, *_) = correlog.read(sample_lines(), "snare")
    from correlog.readers.jsonl import event_to_json

    data = event_to_json(event)
    del data["host"]
    message = SyslogMessage(message=json.dumps(data), sender="10.1.2.3", protocol="rfc5424")
    (found,) = message_events([message], LineDecoder(sticky=False))
    assert found == event._replace(host="10.1.2.3")
    named = SyslogMessage(
        message=json.dumps(data), sender="10.1.2.3", protocol="rfc5424", hostname="IIS07"
    )
    (found,) = message_events([named], LineDecoder(sticky=False))
    assert found.host == "iis07"


def test_with_host_leaves_a_payload_that_names_its_computer() -> None:
    payload = '{"EventID": 4688, "Hostname": "DC01"}'
    assert with_host(payload, "x") == payload
    assert json.loads(with_host('{"EventID": 4688}', "x"))["Hostname"] == "x"
    assert json.loads(with_host('{"winlog": {}}', "x"))["host"] == {"name": "x"}
    assert with_host("WEB2K\tMSWinEventLog", "x") == "WEB2K\tMSWinEventLog"


def test_udp_drops_are_read_from_the_kernel_table(tmp_path: Path) -> None:
    table = tmp_path / "udp"
    table.write_text(
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid"
        "  timeout inode ref pointer drops\n"
        "  1: 0100007F:1F90 00000000:0000 07 00000000:00000000 00:00000000 00000000     0"
        "        0 12345 2 0000000000000000 17\n"
    )
    assert udp_drops(0x1F90, [str(table)]) == 17
    assert udp_drops(0x1F91, [str(table)]) == 0 or udp_drops(0x1F91, [str(table)]) is None
    assert udp_drops(1, [str(tmp_path / "absent")]) is None


def test_a_full_queue_makes_tcp_wait_without_loss() -> None:
    import socket

    frames = b"".join(b"%d %s" % (len(m), m) for m in (b"message %d" % n for n in range(2000)))
    with SyslogListener(tcp=(LOCAL, 0), queue_size=10) as listener:
        assert listener.tcp_address is not None
        with socket.create_connection(listener.tcp_address) as sock:
            sock.sendall(frames)
        got: list[SyslogMessage] = []
        deadline = time.monotonic() + 20
        while len(got) < 2000 and time.monotonic() < deadline:
            got += listener.get(timeout=0.1, limit=7)  # a slow consumer
    assert [m.message for m in got] == [f"message {n}" for n in range(2000)]
    assert listener.stats.queue_full == 0
