"""A syslog receiver: UDP and TCP (optionally TLS), RFC 5424 and RFC 3164, into correlog's events.

Theory of operation. The edges are sans-IO and small: :class:`FrameDecoder` cuts a TCP byte
stream into messages (RFC 6587: octet counting, ``LEN SP MSG``, or newline framing; each frame
says which by its first byte, as RFC 6587 section 3.4 suggests a receiver tell them); and
:func:`parse_message` reads the header (RFC 5424, RFC 3164, or none) off one message. A
:class:`SyslogListener` owns the sockets: one thread for UDP, one per TCP connection, each
putting parsed messages on a bounded queue that the caller drains with :meth:`~SyslogListener.get`.

Nothing is dropped without a count. A message larger than ``max_message`` is skipped and counted
(``oversized``); on TCP its frame is skipped to its end so the stream stays in step. When the
queue is full a TCP connection simply waits (the sender's TCP window closes: back-pressure, no
loss); a UDP datagram cannot wait, so it is dropped and counted (``queue_full``). The kernel's
own UDP drops (a full socket buffer) are read from ``/proc/net/udp`` where the platform has it
(:meth:`SyslogListener.kernel_udp_drops`).

:func:`message_events` hands the messages' payloads to :class:`~correlog.live.decode.LineDecoder`
(Snare, EventReporter, NXLog, OSSEC, JSON lines, Winlogbeat and ECS payloads are told apart by
their content), and gives a JSON payload that names no computer the header's HOSTNAME, or failing
that the sender's address.
"""

from __future__ import annotations

import json
import re
import socket
import socketserver
import ssl
import threading
from collections import Counter, deque
from collections.abc import Iterable
from typing import Any, Final, NamedTuple

import attrs

from .._errors import UsageError
from .._events import Event
from .decode import LineDecoder

__all__ = [
    "DEFAULT_MAX_MESSAGE",
    "FrameDecoder",
    "SyslogListener",
    "SyslogMessage",
    "message_events",
    "parse_message",
    "parse_message_reference",
    "udp_drops",
    "with_host",
]

#: The default bound on one message, in bytes (RFC 5425 asks receivers to take 2048 at least;
#: an EventReporter or Snare record with a long command line is larger).
DEFAULT_MAX_MESSAGE: Final = 64 * 1024
_MAX_LENGTH_DIGITS: Final = 10
_BOM: Final = "\ufeff"
_RFC5424: Final = re.compile(
    r"<(\d{1,3})>1 (\S+) (\S+) (\S+) (\S+) (\S+) (-|(?:\[(?:[^\]\\]|\\.)*\])+)(?: (.*))?\Z",
    re.S,
)
_RFC3164: Final = re.compile(
    r"<(\d{1,3})>([A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d) (\S+) "
    r"(?:([^:\[\s]{1,48})(?:\[[^\]]*\])?: )?(.*)\Z",
    re.S,
)
_PRI_ONLY: Final = re.compile(r"<(\d{1,3})>(.*)\Z", re.S)
#: The common RFC 5424 header, matched on the bytes: printable ASCII fields (what the RFC
#: allows), structured data "-" or bracketed, and a message after it. Anything else goes the
#: reference way (:func:`parse_message_reference`).
_RFC5424_FAST: Final = re.compile(
    rb"<(\d{1,3})>1 ([\x21-\x7e]+) ([\x21-\x7e]+) ([\x21-\x7e]+) [\x21-\x7e]+ [\x21-\x7e]+ "
    rb"(?:-|(?:\[(?:[^\]\\]|\\.)*\])+) ",
    re.S,
)


class SyslogMessage(NamedTuple):
    """One received message: its header's fields (None when absent) and its payload.

    A NamedTuple: one is made per message on the receiving threads, where a frozen attrs class
    measured several times slower to build.
    """

    #: The payload (RFC 5424 MSG, RFC 3164 CONTENT, or the whole message without a header).
    message: str
    #: The sender's address as the socket saw it.
    sender: str
    #: ``"rfc5424"``, ``"rfc3164"``, or ``"none"`` (no recognisable header).
    protocol: str
    facility: int | None = None
    severity: int | None = None
    timestamp: str | None = None
    hostname: str | None = None
    app_name: str | None = None
    transport: str = "udp"

    @property
    def host(self) -> str:
        """The header's HOSTNAME, or the sender's address."""
        return self.hostname or self.sender


_make_message: Final = SyslogMessage._make


def _nil(value: str) -> str | None:
    return None if value == "-" else value


def parse_message(data: bytes, sender: str, transport: str = "udp") -> SyslogMessage:
    """Read an RFC 5424 or RFC 3164 header off ``data``; anything else is all payload.

    Never raises: a message without a recognisable header is kept whole, protocol ``"none"``.
    Undecodable bytes become U+FFFD (the readers then count the line if it is not an event).

    The usual RFC 5424 header is read off the bytes, without decoding and matching the whole
    message (a listener's intake is bound by this function); every other message goes
    through :func:`parse_message_reference`, which gives the same result for every input (a
    differential test holds them to it).
    """
    match = _RFC5424_FAST.match(data)
    if match is not None:
        digits, timestamp, hostname, app_name = match.group(1, 2, 3, 4)
        pri = int(digits)
        if pri <= 191:
            payload = data[match.end() :].decode("utf-8", "replace").rstrip("\r\n\x00")
            # _make is tuple.__new__ (C); the generated __new__ of a NamedTuple is a Python
            # frame, measured at a fifth of this function's time.
            return _make_message(
                (
                    payload.removeprefix(_BOM),
                    sender,
                    "rfc5424",
                    pri >> 3,
                    pri & 7,
                    None if timestamp == b"-" else timestamp.decode("ascii"),
                    None if hostname == b"-" else hostname.decode("ascii"),
                    None if app_name == b"-" else app_name.decode("ascii"),
                    transport,
                )
            )
    return parse_message_reference(data, sender, transport)


def parse_message_reference(data: bytes, sender: str, transport: str = "udp") -> SyslogMessage:
    """:func:`parse_message` the plain way: decode the whole message, then match its header."""
    text = data.decode("utf-8", "replace").rstrip("\r\n\x00")
    match = _RFC5424.match(text)
    if match is not None and int(match.group(1)) <= 191:
        pri = int(match.group(1))
        payload = match.group(8) or ""
        return SyslogMessage(
            message=payload.removeprefix(_BOM),
            sender=sender,
            protocol="rfc5424",
            facility=pri >> 3,
            severity=pri & 7,
            timestamp=_nil(match.group(2)),
            hostname=_nil(match.group(3)),
            app_name=_nil(match.group(4)),
            transport=transport,
        )
    match = _RFC3164.match(text)
    if match is not None and int(match.group(1)) <= 191:
        pri = int(match.group(1))
        return SyslogMessage(
            message=match.group(5),
            sender=sender,
            protocol="rfc3164",
            facility=pri >> 3,
            severity=pri & 7,
            timestamp=match.group(2),
            hostname=match.group(3),
            app_name=match.group(4),
            transport=transport,
        )
    match = _PRI_ONLY.match(text)
    if match is not None and int(match.group(1)) <= 191:
        pri = int(match.group(1))
        return SyslogMessage(
            message=match.group(2),
            sender=sender,
            protocol="none",
            facility=pri >> 3,
            severity=pri & 7,
            transport=transport,
        )
    return SyslogMessage(message=text, sender=sender, protocol="none", transport=transport)


class FrameDecoder:
    """Cut a TCP stream into messages: RFC 6587 octet counting or newline framing, per frame.

    ``feed(data)`` returns the complete messages so far. A frame longer than ``max_message`` is
    skipped to its end and counted in :attr:`oversized`; a length prefix that is not a number
    followed by a space is newline framing.
    """

    def __init__(self, max_message: int = DEFAULT_MAX_MESSAGE) -> None:
        self.max_message = max_message
        self.oversized = 0
        #: The bytes of an incomplete frame (immutable: a frame is sliced off it in one copy).
        self._rest = b""
        #: Bytes still to drop of an oversized frame (-1: drop up to the next newline).
        self._skip = 0

    def feed(self, data: bytes) -> list[bytes]:
        """Messages completed by ``data``."""
        buffer = self._rest + data if self._rest else bytes(data)
        messages: list[bytes] = []
        size = len(buffer)
        limit = self.max_message
        pos = 0  # everything before it is consumed; deleted once, at the end
        while pos < size:
            if self._skip > 0:  # the rest of an oversized octet-counted frame
                taken = min(self._skip, size - pos)
                pos += taken
                self._skip -= taken
                continue
            if self._skip < 0:  # the rest of an oversized line
                end = buffer.find(b"\n", pos)
                if end < 0:
                    pos = size
                    break
                pos = end + 1
                self._skip = 0
                continue
            if 0x31 <= buffer[pos] <= 0x39:  # a digit 1-9: octet counting, if "LEN SP"
                space = buffer.find(b" ", pos, pos + _MAX_LENGTH_DIGITS + 1)
                if space > 0:
                    digits = buffer[pos:space]
                    if digits.isdigit():
                        length = int(digits)
                        start = space + 1
                        if length > limit:
                            self.oversized += 1
                            pos = start
                            self._skip = length
                            continue
                        end = start + length
                        if end > size:
                            break
                        messages.append(buffer[start:end])
                        pos = end
                        continue
                elif size - pos <= _MAX_LENGTH_DIGITS and buffer[pos:].isdigit():
                    break  # the length's digits are still coming
            end = buffer.find(b"\n", pos)
            if end < 0:
                if size - pos > limit:
                    self.oversized += 1
                    pos = size
                    self._skip = -1
                break
            if end - pos > limit:
                self.oversized += 1
            elif end > pos:
                messages.append(buffer[pos:end])
            pos = end + 1
        self._rest = buffer[pos:]
        return messages

    @property
    def pending(self) -> int:
        """Bytes of an incomplete frame held."""
        return len(self._rest)


@attrs.define
class ListenerStats:
    """What a listener received and what it could not keep."""

    messages: Counter[str] = attrs.field(factory=Counter)
    connections: int = 0
    oversized: int = 0
    queue_full: int = 0
    tls_failures: int = 0

    def to_json(self) -> dict[str, Any]:
        """The counters as a JSON-ready dict."""
        return {
            "messages": dict(self.messages),
            "connections": self.connections,
            "oversized": self.oversized,
            "queue_full": self.queue_full,
            "tls_failures": self.tls_failures,
        }


class SyslogListener:
    """Receive syslog on ``udp`` and/or ``tcp`` addresses (``(host, port)``; port 0 picks one).

    ``ssl_context``: a server context to speak TLS (RFC 5425) on the TCP address. ``max_message``:
    the bound on one message.
    ``queue_size``: about how many messages are held until :meth:`get` takes them.
    :meth:`start` binds and runs the threads; :attr:`udp_address` / :attr:`tcp_address` say
    where. Use it as a context manager or call :meth:`stop`.
    """

    def __init__(
        self,
        *,
        udp: tuple[str, int] | None = None,
        tcp: tuple[str, int] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        max_message: int = DEFAULT_MAX_MESSAGE,
        queue_size: int = 100_000,
        handshake_timeout: float = 10.0,
    ) -> None:
        if udp is None and tcp is None:
            raise UsageError("a syslog listener needs a udp or a tcp address")
        if ssl_context is not None and tcp is None:
            raise UsageError("TLS needs a tcp address")
        self._udp_wanted = udp
        self._tcp_wanted = tcp
        self._ssl_context = ssl_context
        self.max_message = max_message
        self._queue_size = queue_size
        #: Received messages until get() takes them; guarded by ``_ready``, as the stats are.
        self._buffer: deque[SyslogMessage] = deque()
        self._ready = threading.Condition()
        self._handshake_timeout = handshake_timeout
        self.stats = ListenerStats()
        self._stopping = threading.Event()
        self._udp: socket.socket | None = None
        self._tcp: socketserver.ThreadingTCPServer | None = None
        self._threads: list[threading.Thread] = []
        self.udp_address: tuple[str, int] | None = None
        self.tcp_address: tuple[str, int] | None = None

    def start(self) -> SyslogListener:
        """Bind the sockets and start receiving."""
        if self._udp_wanted is not None:
            sock = socket.socket(_family(self._udp_wanted[0]), socket.SOCK_DGRAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
            sock.bind(self._udp_wanted)
            sock.settimeout(0.5)
            self._udp = sock
            self.udp_address = sock.getsockname()[:2]
            self._spawn(self._receive_udp, "correlog-syslog-udp")
        if self._tcp_wanted is not None:
            server = self._tcp = self._tcp_server(self._tcp_wanted)
            bound = server.server_address
            self.tcp_address = (str(bound[0]), int(bound[1]))
            self._spawn(lambda: server.serve_forever(0.5), "correlog-syslog-tcp")
        return self

    def _spawn(self, target: Any, name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _tcp_server(self, address: tuple[str, int]) -> socketserver.ThreadingTCPServer:
        listener = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                listener._serve_connection(self.request, self.client_address[0])

        server_class = type(
            "Server",
            (socketserver.ThreadingTCPServer,),
            {
                "allow_reuse_address": True,
                "daemon_threads": True,
                "address_family": _family(address[0]),
            },
        )
        server: socketserver.ThreadingTCPServer = server_class(address, Handler)
        return server

    def _serve_connection(self, sock: socket.socket, sender: str) -> None:
        with self._ready:
            self.stats.connections += 1
        stream: socket.socket = sock
        if self._ssl_context is not None:
            sock.settimeout(self._handshake_timeout)
            try:
                stream = self._ssl_context.wrap_socket(sock, server_side=True)
            except (ssl.SSLError, OSError):
                with self._ready:
                    self.stats.tls_failures += 1
                return
        stream.settimeout(0.5)
        transport = "tls" if self._ssl_context is not None else "tcp"
        frames = FrameDecoder(self.max_message)
        seen_oversized = 0
        while not self._stopping.is_set():
            try:
                data = stream.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                break
            if not data:
                break
            messages = [parse_message(frame, sender, transport) for frame in frames.feed(data)]
            self._put(messages, transport, block=True)
            if frames.oversized != seen_oversized:
                with self._ready:
                    self.stats.oversized += frames.oversized - seen_oversized
                seen_oversized = frames.oversized
        if frames.pending:  # a last line without its newline
            last = [parse_message(frame, sender, transport) for frame in frames.feed(b"\n")]
            self._put(last, transport, block=True)

    def _receive_udp(self) -> None:
        sock = self._udp
        assert sock is not None
        limit = self.max_message
        while not self._stopping.is_set():
            try:
                data, address = sock.recvfrom(limit + 1)
            except TimeoutError:
                continue
            except OSError:
                break
            if len(data) > limit:
                with self._ready:
                    self.stats.oversized += 1
                continue
            self._put([parse_message(data, address[0], "udp")], "udp", block=False)

    def _put(self, messages: list[SyslogMessage], transport: str, *, block: bool) -> None:
        """Queue what one receive brought. A stream waits while the queue is full (it may then
        pass the bound by one receive's messages); a datagram that finds it full is dropped
        and counted. Once stopping, nothing waits and nothing is dropped."""
        if not messages:
            return
        with self._ready:
            if block:
                while len(self._buffer) >= self._queue_size and not self._stopping.is_set():
                    self._ready.wait(0.5)
            elif not self._stopping.is_set():
                room = max(0, self._queue_size - len(self._buffer))
                if room < len(messages):
                    self.stats.queue_full += len(messages) - room
                    messages = messages[:room]
            self._buffer.extend(messages)
            self.stats.messages[transport] += len(messages)
            self._ready.notify_all()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait up to ``timeout`` seconds for a message; True when one is waiting (it stays for
        :meth:`get`: a caller interrupted while waiting loses nothing)."""
        with self._ready:
            return self._ready.wait_for(lambda: bool(self._buffer), timeout)

    def get(self, timeout: float | None = None, limit: int = 10_000) -> list[SyslogMessage]:
        """The messages received so far (up to ``limit``), waiting up to ``timeout`` seconds for
        the first; an empty list when none came."""
        with self._ready:
            if not self._buffer:
                self._ready.wait_for(lambda: bool(self._buffer), timeout)
            buffer = self._buffer
            taken = [buffer.popleft() for _ in range(min(limit, len(buffer)))]
            self._ready.notify_all()  # a stream waiting for room
        return taken

    def kernel_udp_drops(self) -> int | None:
        """Datagrams the kernel dropped for this listener's UDP socket (None when unknown)."""
        if self._udp is None or self.udp_address is None:
            return None
        return udp_drops(self.udp_address[1])

    def to_json(self) -> dict[str, Any]:
        """The counters, with the kernel's UDP drops when known."""
        return {**self.stats.to_json(), "kernel_udp_drops": self.kernel_udp_drops()}

    def stop(self) -> None:
        """Close the sockets and end the threads (messages still queued stay for :meth:`get`)."""
        self._stopping.set()
        if self._tcp is not None:
            self._tcp.shutdown()
            self._tcp.server_close()
        if self._udp is not None:
            self._udp.close()
        for thread in self._threads:
            thread.join(5)
        self._threads.clear()

    def __enter__(self) -> SyslogListener:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def udp_drops(port: int, tables: Iterable[str] = ("/proc/net/udp", "/proc/net/udp6")) -> int | None:
    """The kernel's drop counter of the UDP sockets bound to ``port`` (Linux ``/proc/net/udp``'s
    last column); None where the platform has no such table."""
    found: int | None = None
    for table in tables:
        try:
            with open(table, encoding="ascii") as file:
                rows = file.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if len(fields) >= 13 and int(fields[1].rsplit(":", 1)[1], 16) == port:
                found = (found or 0) + int(fields[-1])
    return found


def with_host(payload: str, host: str) -> str:
    """A JSON payload that names no computer, given ``host`` where its format looks for one.

    correlog's JSON lines read ``host``; NXLog ``Hostname``; Winlogbeat and ECS ``host.name``.
    Anything else (text formats carry the computer in a fixed field) is returned unchanged.
    """
    if not payload.startswith("{") or '"computer_name"' in payload:
        return payload
    if '"host"' in payload or '"Hostname"' in payload:
        return payload
    try:
        data = json.loads(payload)
    except ValueError:
        return payload
    if not isinstance(data, dict):
        return payload
    if "winlog" in data or "@timestamp" in data:
        data["host"] = {"name": host}
    elif "EventID" in data:
        data["Hostname"] = host
    else:
        data["host"] = host
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def message_events(messages: Iterable[SyslogMessage], decoder: LineDecoder) -> list[Event]:
    """The events in the messages' payloads, in order; payloads that are not events are counted
    by ``decoder`` (use one made with ``sticky=False`` when senders differ in format)."""
    events: list[Event] = []
    batch: list[str] = []
    batch_host: str | None = None
    for message in messages:
        host = message.host
        if host != batch_host and batch:
            events += decoder.decode(batch)
            batch = []
        batch_host = host
        batch.append(with_host(message.message, host))
    if batch:
        events += decoder.decode(batch)
    return events


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET
