"""``correlog listen``: a syslog collector that alerts, for the agents a fleet forwards with.

Snare, EventReporter, NXLog, OSSEC and JSON senders (RFC 5424 or RFC 3164 headers; UDP, TCP
with octet counting or newline framing, TLS) feed one monitor; alerts go, as for ``watch
--follow``, through the outbox to the sinks (stdout as JSON lines by default). The loop, the
checkpoint and the signals are :mod:`.follow`'s; what is received is appended to the
checkpoint's journal batch by batch, so a SIGKILL loses no message that was taken off the
socket and no alert (see :class:`correlog.live.SyslogListener` for what the kernel may drop on
UDP, which ``--stats`` reports).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, TextIO

from .._errors import UsageError
from ..readers import FORMATS
from ._inputs import STOP, add_engine_options, stop_status
from .follow import LiveRun, add_live_options
from .watch import _rules, add_rule_options

if TYPE_CHECKING:
    import ssl

    from ..live import SyslogListener

__all__ = ["add_parser", "run"]

#: The journal's and the counters' name for the listener.
SOURCE = "syslog"
#: Messages received but not yet taken by the loop, at most (about 1 KiB each in memory).
#: Beyond, TCP senders wait (their window closes) and UDP datagrams are dropped and counted.
QUEUE = 20_000
#: Messages the loop takes per batch (one journal commit each).
BATCH = 5_000


def _address(text: str) -> tuple[str, int]:
    from .follow import _address as parse

    return parse(text)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the command and its options."""
    p = sub.add_parser(
        "listen", help="receive syslog (Snare, NXLog, EventReporter, ...) and alert as it comes"
    )
    p.add_argument("--udp", type=_address, metavar="HOST:PORT", help="receive UDP here")
    p.add_argument("--tcp", type=_address, metavar="HOST:PORT", help="receive TCP here")
    p.add_argument("--tls-cert", metavar="PEM", help="speak TLS on --tcp with this certificate")
    p.add_argument("--tls-key", metavar="PEM", help="the certificate's private key")
    p.add_argument(
        "--max-message",
        type=int,
        default=64 * 1024,
        metavar="BYTES",
        help="longer messages are skipped and counted (65536)",
    )
    p.add_argument(
        "--format",
        default="auto",
        choices=("auto", *FORMATS),
        help="payload format (default: told from each batch's content)",
    )
    p.add_argument("--tz", default=None, help="zone of payload times that carry none (UTC)")
    p.add_argument(
        "--poll", type=float, default=0.25, metavar="SECONDS", help="wait for input this long"
    )
    add_engine_options(p)
    add_rule_options(p)
    add_live_options(p)


def _tls(args: argparse.Namespace) -> ssl.SSLContext | None:
    if (args.tls_cert is None) != (args.tls_key is None):
        raise UsageError("--tls-cert and --tls-key go together")
    if args.tls_cert is None:
        return None
    if args.tcp is None:
        raise UsageError("TLS needs --tcp")
    import ssl  # only for TLS: importing it costs every command's start-up about 20 ms

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(args.tls_cert, args.tls_key)
    except (OSError, ssl.SSLError) as exc:
        raise UsageError(f"cannot load --tls-cert/--tls-key: {exc}") from exc
    return context


def _rounds(listener: SyslogListener, poll: float, idle_exit: float | None) -> Iterator[bool]:
    """True when messages wait, False after ``poll`` seconds of none; ends after ``idle_exit``
    seconds of quiet. Only the waiting is interruptible: the messages stay queued."""
    quiet_since = time.monotonic()
    while True:
        if listener.wait(poll):
            quiet_since = time.monotonic()
            yield True
        elif idle_exit is not None and time.monotonic() - quiet_since >= idle_exit:
            return
        else:
            yield False


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Receive until stopped; the exit status as for the other commands."""
    from ..live import LineDecoder, SyslogListener, SyslogMessage
    from ..live.syslog import message_events

    if args.udp is None and args.tcp is None:
        raise UsageError("listen needs --udp HOST:PORT, --tcp HOST:PORT, or both")
    if not 480 <= args.max_message <= 1 << 24:
        raise UsageError("--max-message must be 480 to 16777216 bytes")
    context = _tls(args)
    decoder = LineDecoder(args.format, sticky=False, tz=args.tz, source=SOURCE)
    live = LiveRun(args, _rules(args, err), out, err)
    status = 0
    listener = None
    received = int((live.saved.positions.get(SOURCE) or {}).get("received", 0))

    def feed(messages: list[SyslogMessage]) -> None:
        nonlocal received
        journal = [(SOURCE, m.host, m.message) for m in messages]
        received += len(messages)
        live.positions[SOURCE] = {"received": received}  # saved with the state that covers them
        live.feed(message_events(messages, decoder), journal)

    try:
        live.decoders.decoders.append(decoder)
        if live.saved.journal:  # received before a crash, after the saved state
            feed([SyslogMessage(line, host, "journal") for _, host, line in live.saved.journal])
            live.save()
        listener = SyslogListener(
            udp=args.udp,
            tcp=args.tcp,
            ssl_context=context,
            max_message=args.max_message,
            queue_size=QUEUE,
        ).start()
        live.sources = {SOURCE: listener}
        where = [f"udp {_show(listener.udp_address)}", f"tcp {_show(listener.tcp_address)}"]
        shown = ", ".join(w for w in where if not w.endswith("None"))
        print(f"correlog: listening on {shown}" + (" (TLS)" if context else ""), file=err)
        err.flush()
        for waiting in STOP.events(_rounds(listener, args.poll, args.idle_exit)):
            if waiting:
                feed(listener.get(0, BATCH))
            else:
                live.idle()
    except KeyboardInterrupt as exc:
        status = stop_status(exc)
    finally:
        try:
            if listener is not None:
                listener.stop()
                while rest := listener.get(0, BATCH):  # taken off the sockets: the senders are done
                    feed(rest)
        finally:
            live.close()
            out.flush()
    counts = decoder.to_json()
    print(
        f"correlog: received {received} messages: {counts['events']} events, "
        f"skipped {counts['skipped']}{live.summary()}",
        file=err,
    )
    return status


def _show(address: tuple[str, int] | None) -> str:
    if address is None:
        return "None"
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
