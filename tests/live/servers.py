"""Real local receivers for the sink tests, all on 127.0.0.1: HTTP, SMTP (aiosmtpd), syslog."""

from __future__ import annotations

import socket
import socketserver
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import attrs

LOCAL = "127.0.0.1"


@attrs.frozen
class Certificate:
    """A self-signed certificate for 127.0.0.1, with its key."""

    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        return context

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert))


def make_certificate(folder: Path) -> Certificate:
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
    )
    return Certificate(cert=cert, key=key)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOCAL, 0))
        port: int = sock.getsockname()[1]
        return port


@attrs.define
class Request:
    path: str
    headers: dict[str, str]
    body: bytes


@attrs.define
class HttpReceiver:
    """A real HTTP server; ``answers`` is consumed per request (then 200s)."""

    url: str
    requests: list[Request]
    answers: list[tuple[int, dict[str, str]]]


@contextmanager
def http_receiver(
    answers: list[tuple[int, dict[str, str]]] | None = None, port: int = 0
) -> Iterator[HttpReceiver]:
    receiver = HttpReceiver(url="", requests=[], answers=list(answers or []))

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            receiver.requests.append(Request(self.path, dict(self.headers.items()), body))
            status, headers = receiver.answers.pop(0) if receiver.answers else (200, {})
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((LOCAL, port), Handler)
    receiver.url = f"http://{LOCAL}:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@attrs.define
class Mailbox:
    port: int
    messages: list[bytes]
    tls_sessions: int = 0


@contextmanager
def smtp_receiver(certificate: Certificate, port: int | None = None) -> Iterator[Mailbox]:
    """aiosmtpd on 127.0.0.1, STARTTLS required before MAIL."""
    from aiosmtpd.controller import Controller

    mailbox = Mailbox(port=port or free_port(), messages=[])

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            if session.ssl is not None:
                mailbox.tls_sessions += 1
            mailbox.messages.append(envelope.original_content or envelope.content)
            return "250 OK"

    controller = Controller(
        Handler(),
        hostname=LOCAL,
        port=mailbox.port,
        tls_context=certificate.server_context(),
        require_starttls=True,
    )
    controller.start()
    try:
        yield mailbox
    finally:
        controller.stop()


@attrs.define
class SyslogReceiver:
    port: int
    frames: list[bytes]
    server: socketserver.BaseServer


def _octet_frames(stream: Any, frames: list[bytes]) -> None:
    """Read RFC 6587 octet-counted frames until the peer closes."""
    buffer = b""
    while True:
        chunk = stream.recv(65536)
        if not chunk:
            return
        buffer += chunk
        while b" " in buffer:
            length, _, rest = buffer.partition(b" ")
            if len(rest) < int(length):
                break
            frames.append(rest[: int(length)])
            buffer = rest[int(length) :]


@contextmanager
def syslog_receiver(
    transport: str, certificate: Certificate | None = None, port: int = 0
) -> Iterator[SyslogReceiver]:
    frames: list[bytes] = []
    server: socketserver.BaseServer
    if transport == "udp":

        class UdpHandler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                frames.append(self.request[0])

        server = socketserver.ThreadingUDPServer((LOCAL, port), UdpHandler)
    else:
        wrap: Callable[[socket.socket], Any] = (
            (lambda sock: certificate.server_context().wrap_socket(sock, server_side=True))
            if transport == "tls" and certificate is not None
            else (lambda sock: sock)
        )

        class TcpHandler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                _octet_frames(wrap(self.request), frames)

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        server = socketserver.ThreadingTCPServer((LOCAL, port), TcpHandler)
        server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield SyslogReceiver(port=server.server_address[1], frames=frames, server=server)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
