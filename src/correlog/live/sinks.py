"""Delivery sinks: where the delivery worker sends each alert from the outbox.

A sink has a ``name`` (unique among a worker's sinks: the outbox records acceptance per name)
and ``send(item)``, which returns when the receiver accepted the alert and raises otherwise
(:class:`SinkError`, with ``retry_after`` when the receiver said how long to wait). Each sink
sends :attr:`OutboxItem.text`, the alert's JSON with its stable ``id``, so a receiver can drop
the repeats that at-least-once delivery may bring after a crash.

What "accepted" means per medium: the line was written and flushed (JSON lines); the datagram
left (syslog UDP: the protocol has no acknowledgement); the bytes were written to the TCP or TLS
stream (syslog TCP/TLS); a 2xx answer (webhook); the server took the message after DATA (SMTP).
"""

from __future__ import annotations

import email.utils
import json
import os
import smtplib
import socket
import ssl
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import IO, Final, Literal, Protocol

from .._errors import CorrelogError, UsageError
from .checkpoint import OutboxItem

__all__ = [
    "JsonLinesSink",
    "LiveSink",
    "SinkError",
    "SmtpSink",
    "SyslogSink",
    "WebhookSink",
    "parse_retry_after",
    "summary",
]

#: Syslog facility 13 (log audit) and severity 4 (warning): an alert is a security finding.
_DEFAULT_FACILITY: Final = 13
_DEFAULT_SEVERITY: Final = 4
#: Private Enterprise Number 32473 is reserved by IANA for documentation and examples (RFC 5612).
_SD_ID: Final = "correlog@32473"


class SinkError(CorrelogError):
    """A sink did not accept an alert. ``retry_after``: seconds the receiver asked to wait."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class LiveSink(Protocol):
    """What the delivery worker needs of a sink."""

    @property
    def name(self) -> str:
        """Unique among the worker's sinks; the outbox records acceptance under it."""
        ...

    def send(self, item: OutboxItem, /) -> None:
        """Return once the receiver accepted ``item``; raise (:class:`SinkError`) otherwise."""
        ...

    def close(self) -> None:
        """Release connections and files (the sink may be used again: it reopens them)."""
        ...


def summary(item: OutboxItem) -> str:
    """One human line for an alert: rule, host, image, pid, account and id."""
    alert = item.to_json()
    account = "\\".join(part for part in (alert.get("domain"), alert.get("user")) if part)
    return (
        f"correlog: {alert.get('rule')} on {alert.get('host')}: {alert.get('image')} "
        f"(pid {alert.get('pid')}) as {account or 'unknown'} at {alert.get('time')} "
        f"[id {item.id}]"
    )


class JsonLinesSink:
    """Append each alert as one JSON line to a file (made when missing), or to a text stream.

    ``target``: a path, or a text stream such as ``sys.stdout`` (the default). ``fsync``: also
    fsync each line to disk before calling it accepted (files only).
    """

    def __init__(
        self,
        target: str | os.PathLike[str] | IO[str] | None = None,
        *,
        name: str = "jsonl",
        fsync: bool = False,
    ) -> None:
        self._name = name
        if target is None or isinstance(target, str | os.PathLike):
            self._path = None if target is None else os.fspath(target)
            self._stream: IO[str] | None = sys.stdout if target is None else None
        else:
            self._path = None
            self._stream = target
        self._owned: IO[str] | None = None
        self._fsync = fsync

    @property
    def name(self) -> str:
        """The sink's name."""
        return self._name

    def send(self, item: OutboxItem, /) -> None:
        """Write and flush the alert's line."""
        try:
            stream = self._open()
            stream.write(item.text + "\n")
            stream.flush()
            if self._fsync and self._owned is not None:
                os.fsync(self._owned.fileno())
        except OSError as exc:
            self.close()
            raise SinkError(f"{self._path or 'stream'}: {exc}") from exc

    def _open(self) -> IO[str]:
        if self._stream is not None:
            return self._stream
        if self._owned is None:
            assert self._path is not None
            torn = _ends_torn(self._path)
            self._owned = open(self._path, "a", encoding="utf-8")  # noqa: SIM115
            if torn:  # a line cut short by a kill: end it, so the next alert is a line of its own
                self._owned.write("\n")
        return self._owned

    def close(self) -> None:
        """Close the file (a stream given by the caller stays open)."""
        if self._owned is not None:
            owned, self._owned = self._owned, None
            owned.close()


def _ends_torn(path: str) -> bool:
    """Whether the file ends inside a line: a write cut short when the process was killed (the
    alert it held was not acknowledged, so the outbox sends it again)."""
    try:
        with open(path, "rb") as file:
            if file.seek(0, os.SEEK_END) == 0:
                return False
            file.seek(-1, os.SEEK_END)
            return file.read(1) != b"\n"
    except FileNotFoundError:
        return False


class SyslogSink:
    """Send each alert as an RFC 5424 message: UDP (RFC 5426), TCP with octet counting (RFC
    6587) or TLS (RFC 5425, which frames the same way).

    The message's MSG is the alert's JSON text; its structured data carries the alert's id and
    rule (``[correlog@32473 id="..." rule="..."]``). ``ssl_context``: for TLS (the system's
    default trust otherwise). A TCP or TLS connection is kept open and made again after an error.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        transport: Literal["udp", "tcp", "tls"] = "tcp",
        name: str = "syslog",
        ssl_context: ssl.SSLContext | None = None,
        hostname: str | None = None,
        app_name: str = "correlog",
        facility: int = _DEFAULT_FACILITY,
        severity: int = _DEFAULT_SEVERITY,
        timeout: float = 10.0,
    ) -> None:
        if transport not in ("udp", "tcp", "tls"):
            raise UsageError(f"syslog transport must be udp, tcp or tls, not {transport!r}")
        if not (0 <= facility <= 23 and 0 <= severity <= 7):
            raise UsageError(f"syslog facility 0-23 and severity 0-7, not {facility}/{severity}")
        self._name = name
        self._address = (host, port)
        self._transport = transport
        self._ssl_context = ssl_context
        self._hostname = _syslog_token(hostname or socket.gethostname())
        self._app_name = _syslog_token(app_name)
        self._pri = facility * 8 + severity
        self._timeout = timeout
        self._socket: socket.socket | None = None

    @property
    def name(self) -> str:
        """The sink's name."""
        return self._name

    def message(self, item: OutboxItem) -> bytes:
        """The RFC 5424 message for ``item`` (without transport framing)."""
        stamp = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
        data = f'[{_SD_ID} id="{_sd_escape(item.id)}" rule="{_sd_escape(item.rule)}"]'
        header = f"<{self._pri}>1 {stamp} {self._hostname} {self._app_name} {os.getpid()} alert"
        return f"{header} {data} {item.text}".encode()

    def send(self, item: OutboxItem, /) -> None:
        """Send the message; on a stream, octet-counted."""
        payload = self.message(item)
        try:
            if self._transport == "udp":
                with socket.socket(_family(self._address[0]), socket.SOCK_DGRAM) as sock:
                    sock.sendto(payload, self._address)
                return
            stream = self._connect()
            stream.sendall(b"%d %s" % (len(payload), payload))
        except OSError as exc:
            self.close()
            raise SinkError(f"syslog {self._transport} {self._address}: {exc}") from exc

    def _connect(self) -> socket.socket:
        if self._socket is None:
            sock = socket.create_connection(self._address, timeout=self._timeout)
            if self._transport == "tls":
                context = self._ssl_context or ssl.create_default_context()
                sock = context.wrap_socket(sock, server_hostname=self._address[0])
            self._socket = sock
        return self._socket

    def close(self) -> None:
        """Close the connection (made again on the next send).

        The close is graceful: our side's end of stream first, then what the receiver still
        sends (TLS session tickets) is read until it closes too. Closing with unread bytes
        would make the kernel reset the connection, and a reset can discard the last messages
        before the receiver read them.
        """
        if self._socket is None:
            return
        sock, self._socket = self._socket, None
        try:
            sock.settimeout(1.0)
            sock.shutdown(socket.SHUT_WR)
            while sock.recv(4096):
                pass
        except OSError:
            pass  # the peer is gone already: nothing more to save
        finally:
            sock.close()


class WebhookSink:
    """POST each alert as JSON to a URL; a 2xx answer accepts it.

    ``slack=True`` posts Slack's incoming-webhook shape ``{"text": <summary line>}`` instead of
    the alert itself. Each request carries the alert's id in ``Idempotency-Key``. A 429 or 503
    answer's ``Retry-After`` (seconds or an HTTP date) tells the worker how long to wait.
    """

    def __init__(
        self,
        url: str,
        *,
        name: str = "webhook",
        slack: bool = False,
        headers: Mapping[str, str] | None = None,
        timeout: float = 10.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise UsageError(f"a webhook URL must be http:// or https://, not {url!r}")
        self._name = name
        self._url = url
        self._slack = slack
        self._headers = dict(headers or {})
        self._timeout = timeout
        self._ssl_context = ssl_context

    @property
    def name(self) -> str:
        """The sink's name."""
        return self._name

    def body(self, item: OutboxItem) -> bytes:
        """The request body for ``item``."""
        if self._slack:
            return json.dumps({"text": summary(item)}, ensure_ascii=False).encode()
        return item.text.encode()

    def send(self, item: OutboxItem, /) -> None:
        """POST the alert; raise :class:`SinkError` unless the answer is 2xx."""
        request = urllib.request.Request(
            self._url,
            data=self.body(item),
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "Idempotency-Key": item.id,
                "User-Agent": "correlog",
                **self._headers,
            },
        )
        try:
            with urllib.request.urlopen(
                request, timeout=self._timeout, context=self._ssl_context
            ) as answer:
                answer.read()
        except urllib.error.HTTPError as exc:
            retry_after = (
                parse_retry_after(exc.headers.get("Retry-After"))
                if exc.code in (429, 503)
                else None
            )
            raise SinkError(
                f"webhook {self._url}: HTTP {exc.code}", retry_after=retry_after
            ) from exc
        except (OSError, urllib.error.URLError) as exc:
            raise SinkError(f"webhook {self._url}: {exc}") from exc

    def close(self) -> None:
        """Nothing to release: each alert is one request."""


class SmtpSink:
    """Mail each alert (``smtplib``): the summary line as subject, the JSON as body.

    ``starttls=True`` (the default) upgrades the connection with STARTTLS before anything else
    and fails when the server does not offer it; ``login`` is ``(user, password)``, sent only
    over TLS. The alert's id is the mail's ``Message-ID``, so mail tools can drop repeats too.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        sender: str,
        recipients: Sequence[str],
        name: str = "smtp",
        starttls: bool = True,
        ssl_context: ssl.SSLContext | None = None,
        login: tuple[str, str] | None = None,
        timeout: float = 30.0,
    ) -> None:
        if not recipients:
            raise UsageError("an SMTP sink needs at least one recipient")
        if login is not None and not starttls:
            raise UsageError("an SMTP login is sent only over STARTTLS")
        self._name = name
        self._address = (host, port)
        self._sender = sender
        self._recipients = list(recipients)
        self._starttls = starttls
        self._ssl_context = ssl_context
        self._login = login
        self._timeout = timeout

    @property
    def name(self) -> str:
        """The sink's name."""
        return self._name

    def mail(self, item: OutboxItem) -> EmailMessage:
        """The message for ``item``."""
        message = EmailMessage()
        message["From"] = self._sender
        message["To"] = ", ".join(self._recipients)
        message["Subject"] = summary(item)
        message["Date"] = email.utils.formatdate(usegmt=True)
        message["Message-ID"] = f"<{item.id}@correlog>"
        message.set_content(json.dumps(item.to_json(), indent=2, ensure_ascii=False) + "\n")
        return message

    def send(self, item: OutboxItem, /) -> None:
        """Send the mail over one SMTP session."""
        try:
            with smtplib.SMTP(*self._address, timeout=self._timeout) as session:
                if self._starttls:
                    session.starttls(context=self._ssl_context or ssl.create_default_context())
                if self._login is not None:
                    session.login(*self._login)
                session.send_message(self.mail(item))
        except (smtplib.SMTPException, OSError) as exc:
            raise SinkError(f"smtp {self._address}: {exc}") from exc

    def close(self) -> None:
        """Nothing to release: each alert is one session."""


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date); None if unusable."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _syslog_token(text: str) -> str:
    """An RFC 5424 header field: printable US-ASCII without spaces, at most 48 characters."""
    token = "".join(ch for ch in text if 33 <= ord(ch) <= 126)[:48]
    return token or "-"


def _sd_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")
