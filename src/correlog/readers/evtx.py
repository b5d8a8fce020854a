"""EVTX, the Vista+ binary event log, through the ``evtx`` package (the ``evtx`` extra).

The ``evtx`` package (Rust, MIT) parses the file's binary XML; it renders each record either as
XML text or as JSON text. JSON is used here because decoding it is what costs: on this project's
benchmark machine ``records_json()`` plus a JSON parse ran 210k records/s with orjson and 83k/s
with the standard library, against 37k/s for ``records()`` plus ElementTree, although the
crate itself renders XML slightly faster (290k against 250k records/s).

Each record is identified by its ``System/EventRecordID``, never by the record header's number:
an exported ``.evtx`` renumbers the headers from 1 while EventRecordID keeps the log's own
numbering, which is what the correlator's epochs rely on. The event time is
``System/TimeCreated/@SystemTime`` as the crate renders it (to the microsecond; a source that
writes all seven digits of the 100 ns FILETIME, such as wevtutil's XML, keeps them).

A chunk the crate cannot parse is counted as one skipped record (``bad evtx chunk``) and reading
goes on with the next chunk; its records are lost, and the error message names their ids.

Damage is never silent. After 64 bad chunks in a row the crate is not asked for more: one
``evtx reading stopped`` skip says the rest of the file is lost. A file shorter than its header's
chunk count (a truncated copy) ends with one ``truncated evtx`` skip naming the chunks lost.

The crate runs in a forked child process. A damaged file can make it loop without end, deaf to
Ctrl-C; a child can be stopped. The child hands over records as they are parsed; when it hands
over nothing for ``evtx_timeout`` seconds (:class:`~correlog.readers.Limits`) it is killed and
one ``evtx parser stuck`` skip says from which record on the file was not read. The child
shares the parent's open file (its offset too: the parent does not touch the file meanwhile).

One child serves a whole run: forked for the first file, it is handed each file's descriptor
in turn over a Unix socket and stays, idle, between files (a fork costs about as much CPU as
parsing a small file). A child killed on the deadline, or whose file was given up half read,
is not reused: the next file gets a new one. A file read while the child is busy with another
(two readers iterated side by side) gets a child of its own, as does an in-memory file (it has
no descriptor to hand over). The idle child holds none of the parent's other files or pipes,
and ends when the parent does.
"""

from __future__ import annotations

import _socket  # the socket module's C core: see _channel_pair
import atexit
import contextlib
import os
import select
import signal
import struct
import time
from collections.abc import Generator, Iterator
from typing import IO, Any, Final

from .._errors import Malformed, UsageError
from .._events import Event
from ._core import Limits, RecordFormat
from ._winevent import decode_event, event_id_of, json_loads, record_of, utc_time, wanted

__all__ = ["FORMAT", "MAGIC", "NAME", "EvtxDecoder", "evtx_records", "sniff_bytes"]

#: The format's name for :func:`correlog.read`.
NAME: Final = "evtx"
#: The first bytes of every EVTX file.
MAGIC: Final = b"ElfFile\x00"
# Consecutive chunk errors after which the file is taken as not parseable any further.
_MAX_CHUNK_ERRORS: Final = 64
_HEADER_BLOCK: Final = 4096
_CHUNK_SIZE: Final = 1 << 16
_FLUSH_SECONDS: Final = 0.05
_FLUSH_BYTES: Final = 1 << 16


def _parsed(factory: Any, source: str | IO[bytes]) -> Iterator[tuple[str, str]]:
    """``(kind, text)`` for what the crate makes of ``source``, one item per record.

    ``R`` + the record's JSON, ``E`` + a chunk error, ``S`` when it stopped after too many bad
    chunks in a row, ``X`` when the file cannot be opened.
    """
    try:
        records = factory(source).records_json()
    except Exception as exc:  # whatever the parser says of a file it cannot open
        yield "X", f"{type(exc).__name__}: {exc}"
        return
    failures = 0
    while True:
        try:
            record = next(records)
        except StopIteration:
            return
        except Exception as exc:  # the crate's error for one chunk, whatever its type
            failures += 1
            yield "E", str(exc)
            if failures >= _MAX_CHUNK_ERRORS:
                yield "S", str(failures)
                return
            continue
        failures = 0
        yield "R", record["data"]


def _child(factory: Any, source: str | IO[bytes], out: int) -> None:
    """The child's work: :func:`_parsed`, one line per item into the pipe ``out``, then ``D``.

    A line is the kind's letter and the text on one line (JSON keeps newlines only between
    tokens, so they become spaces). Output is flushed at least every 50 ms, so a parser that
    then hangs has handed over what it had, and every 64 KiB, so that the parent decodes one
    batch while the child parses the next.
    """
    pending: list[bytes] = []

    def flush() -> None:
        data = b"".join(pending)
        pending.clear()
        while data:
            data = data[os.write(out, data) :]

    flushed = time.monotonic()
    size = 0
    for kind, text in _parsed(factory, source):
        line = kind.encode("ascii") + text.replace("\n", " ").encode("utf-8", "surrogatepass")
        pending.append(line + b"\n")
        size += len(line)
        now = time.monotonic()
        # A pipe's worth at a time: the parent decodes one batch while this parses the next.
        if size > _FLUSH_BYTES or now - flushed > _FLUSH_SECONDS:
            flush()
            flushed = now
            size = 0
    pending.append(b"D\n")
    flush()


def sniff_bytes(head: bytes) -> bool:
    """True when ``head`` (the first bytes of an input) starts an EVTX file."""
    return head.startswith(MAGIC)


def _parser_class() -> Any:
    try:
        from evtx import PyEvtxParser
    except ImportError:
        raise UsageError(
            "reading EVTX needs the evtx package: pip install 'correlog[evtx]'"
        ) from None
    return PyEvtxParser


def evtx_records(
    source: str | IO[bytes], limits: Limits | None = None, *, parser: Any = None
) -> Iterator[tuple[int, Any]]:
    """``(ordinal, record)`` for each record of an EVTX file (a path or a binary file object).

    ``ordinal`` is the record's 1-based position in the file (the crate gives no byte offsets);
    ``record`` is a dict whose ``data`` holds the record's JSON text, or a
    :class:`~correlog.ParseError` for damage (a bad chunk, a stop after 64 of them, a stuck
    parser, a truncated file; see the module docs). Raises :class:`~correlog.UsageError` when
    the ``evtx`` package is missing and :class:`~correlog.ParseError` when the input is not an
    EVTX file at all. ``parser`` replaces the crate's parser class (for tests).
    """
    limits = limits or Limits()
    factory = _parser_class() if parser is None else parser
    if isinstance(source, str):
        with open(source, "rb") as file:
            yield from evtx_records(file, limits, parser=factory)
        return
    lost = _truncation(source)
    ordinal = 0
    with contextlib.ExitStack() as stack:
        lines = _lines(factory, source, limits.evtx_timeout, stack)
        for kind, text in lines:
            if kind == "R":
                ordinal += 1
                yield ordinal, {"data": text}
            elif kind == "E":
                ordinal += 1
                yield ordinal, Malformed("bad evtx chunk", text)
            elif kind == "S":
                ordinal += 1
                yield (
                    ordinal,
                    Malformed(
                        "evtx reading stopped",
                        f"{text} chunks in a row could not be parsed; the rest of the file is lost",
                    ),
                )
            elif kind == "X":
                raise Malformed("not an evtx file", text)
            elif kind == "stuck":
                ordinal += 1
                yield (
                    ordinal,
                    Malformed(
                        "evtx parser stuck",
                        f"the parser handed over nothing for {limits.evtx_timeout:g} s after "
                        f"record {ordinal - 1}; it was stopped and the rest of the file is lost",
                    ),
                )
            elif kind == "died":
                ordinal += 1
                yield (
                    ordinal,
                    Malformed(
                        "evtx parser failed",
                        f"after record {ordinal - 1} ({text}); the rest of the file is lost",
                    ),
                )
    if lost is not None:
        yield ordinal + 1, Malformed("truncated evtx", lost)


def _lines(
    factory: Any, source: IO[bytes], timeout: float, stack: contextlib.ExitStack
) -> Iterator[tuple[str, str]]:
    """The parser child's lines for ``source``: from the shared long-lived child when the
    source is a file with a descriptor, else from a child forked for it."""
    try:
        source.fileno()
    except (AttributeError, OSError):  # an in-memory file (io.UnsupportedOperation is one)
        return stack.enter_context(_Child(factory, source, timeout)).lines()
    if not hasattr(os, "fork"):  # pragma: no cover (Windows)
        return stack.enter_context(_Child(factory, source, timeout)).lines()
    lines = _served(factory, source, timeout)
    stack.callback(lines.close)
    return lines


def _served(
    factory: Any, file: IO[bytes], timeout: float
) -> Generator[tuple[str, str], None, None]:
    """:meth:`_Server.parse` by the shared child, taken only once the lines are asked for (a
    new one when the idle child ended just before it was handed the file)."""
    server = _SERVERS.take(factory)
    if not server.send(file):
        server.stop()
        server = _Server(factory)
        server.send(file)  # if this child is gone too, parse() says it died
    yield from server.parse(timeout)


def _truncation(source: str | IO[bytes]) -> str | None:
    """What a file shorter than its header's chunk count lost (None when it is whole)."""
    if isinstance(source, str):
        with open(source, "rb") as file:
            return _truncation(file)
    at = source.tell()
    source.seek(0, 2)
    size = source.tell()
    source.seek(0)
    header = source.read(_HEADER_BLOCK)
    source.seek(at)
    if len(header) < 44 or not header.startswith(MAGIC):
        return None
    chunks = int.from_bytes(header[42:44], "little")
    whole = max(size - _HEADER_BLOCK, 0) // _CHUNK_SIZE
    if whole >= chunks:
        return None
    return (
        f"the file is {size} bytes, its header counts {chunks} chunks of 64 KiB: chunks "
        f"{whole + 1}-{chunks} are missing or cut short, and their records are lost"
    )


class _Output:
    """What a parser child writes, read with a deadline: ``(kind, text)`` per line.

    ``stuck`` when the child hands over nothing for ``timeout`` seconds, ``died`` when its end
    of the channel closes before the ``D`` line that ends a file (``reap`` gives its status).
    ``finished`` is set once that ``D`` line was read.
    """

    def __init__(self, fd: int, timeout: float, reap: Any) -> None:
        self._fd = fd
        self._timeout = timeout
        self._reap = reap
        self.finished = False

    def __iter__(self) -> Iterator[tuple[str, str]]:
        fd = self._fd
        pending = b""
        while True:
            deadline = time.monotonic() + self._timeout
            ready: list[int] = []
            while not ready:
                left = deadline - time.monotonic()
                if left <= 0:
                    yield "stuck", ""
                    return
                ready, _, _ = select.select([fd], [], [], left)
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                code = self._reap()
                yield "died", f"exit status {code}" if code >= 0 else f"signal {-code}"
                return
            parts = (pending + chunk).split(b"\n")
            pending = parts.pop()
            for part in parts:
                kind = part[:1].decode("ascii", "replace")
                if kind == "D":
                    self.finished = True
                    return
                yield kind, part[1:].decode("utf-8", "surrogatepass")


def _forked(work: Any) -> int:
    """Fork a child that runs ``work()`` with the default SIGINT and SIGTERM, then exits."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover (the child: measured by the parent's tests)
        status = 1
        try:
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            work()
            status = 0
        finally:
            os._exit(status)
    return pid


def _killed(pid: int) -> int:
    """Kill the child ``pid`` (it may be gone already) and reap it: its exit code."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


class _Child:
    """The crate's parser in a child forked for one source that has no file descriptor (an
    in-memory file), read with a deadline (see the module docs).

    Where there is no ``fork`` (Windows) the parser runs in this process, without a deadline.
    """

    def __init__(self, factory: Any, source: str | IO[bytes], timeout: float) -> None:
        self._timeout = timeout
        self._status: int | None = None
        self._in_process: Iterator[tuple[str, str]] | None = None
        if not hasattr(os, "fork"):  # pragma: no cover (Windows)
            self._in_process = _parsed(factory, source)
            self._status = 0
            return
        read_end, write_end = os.pipe()

        def work() -> None:  # pragma: no cover (the child)
            os.close(read_end)
            _child(factory, source, write_end)

        self._pid = _forked(work)
        os.close(write_end)
        self._fd = read_end

    def __enter__(self) -> _Child:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._in_process is not None:  # pragma: no cover (Windows)
            return
        if self._status is None:
            self._status = _killed(self._pid)
        os.close(self._fd)

    def _reap(self) -> int:
        if self._status is None:
            _, status = os.waitpid(self._pid, 0)
            self._status = os.waitstatus_to_exitcode(status)
        return self._status

    def lines(self) -> Iterator[tuple[str, str]]:
        """``(kind, text)`` per line of the child; ``stuck`` or ``died`` when it stops short."""
        if self._in_process is not None:  # pragma: no cover (Windows)
            yield from self._in_process
            return
        yield from _Output(self._fd, self._timeout, self._reap)


def _channel_pair() -> tuple[_socket.socket, _socket.socket]:
    """A connected pair of Unix stream sockets, from ``_socket``: importing ``socket`` costs
    about 3 ms (its enums, ``selectors``), as much as the fork this channel saves per file."""
    return _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM)


def _send_file(channel: _socket.socket, fd: int, position: int) -> None:
    """Hand the descriptor ``fd`` and the offset to read it from over ``channel``."""
    rights = (_socket.SOL_SOCKET, _socket.SCM_RIGHTS, struct.pack("i", fd))
    channel.sendmsg([b"%d" % position], [rights])


def _received_file(channel: _socket.socket) -> tuple[int, int] | None:  # pragma: no cover
    """The descriptor and offset :func:`_send_file` sent (None when the channel closed)."""
    message, ancillary, _, _ = channel.recvmsg(64, _socket.CMSG_SPACE(struct.calcsize("i")))
    for level, kind, data in ancillary:
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
            return struct.unpack_from("i", data)[0], int(message)
    return None


def _serve(factory: Any, channel: _socket.socket) -> None:  # pragma: no cover (the child)
    """The long-lived child's loop: take a file (its descriptor and the offset to read it from)
    from ``channel``, write what :func:`_parsed` makes of it as :func:`_child` does, wait for
    the next; return when the parent closes its end."""
    while True:
        received = _received_file(channel)
        if received is None:
            return
        fd, position = received
        with os.fdopen(fd, "rb") as file:
            file.seek(position)
            _child(factory, file, channel.fileno())


class _Server:
    """One long-lived parser child, handed files one at a time (see :class:`_Servers`).

    The parent passes each file's descriptor over a Unix socket (the child shares the file's
    offset, as a forked child does; the parent does not touch the file meanwhile) and reads
    the child's lines back on the same socket.
    """

    def __init__(self, factory: Any) -> None:
        self.factory = factory
        parent_end, child_end = _channel_pair()

        def work() -> None:  # pragma: no cover (the child)
            parent_end.close()
            _release_inherited(child_end.fileno())
            _serve(factory, child_end)

        self.pid = _forked(work)
        child_end.close()
        self.channel = parent_end
        self.status: int | None = None
        _SERVERS.live.append(self)

    def _ended(self, status: int) -> int:
        self.status = os.waitstatus_to_exitcode(status)
        self.channel.close()
        _SERVERS.live.remove(self)
        return self.status

    def reap(self) -> int:
        """Wait for the child (which exited or is being killed): its exit code."""
        if self.status is None:
            return self._ended(os.waitpid(self.pid, 0)[1])
        return self.status

    def stop(self) -> None:
        """Kill the child (stuck, or its file given up half read) and reap it."""
        if self.status is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            self.reap()

    def alive(self) -> bool:
        """The child still runs (a Ctrl-C sent to the process group may have ended it)."""
        if self.status is not None:
            return False
        pid, status = os.waitpid(self.pid, os.WNOHANG)
        if pid == 0:
            return True
        self._ended(status)
        return False

    def finish(self, grace: float = 5.0) -> None:
        """Let an idle child go: it exits when its channel closes (killed after ``grace``
        seconds if it does not)."""
        self.channel.close()
        try:  # Linux: wait on the process itself
            process = os.pidfd_open(self.pid)
        except (AttributeError, OSError):  # other systems, or no pidfd (valgrind has none)
            deadline = time.monotonic() + grace
            while self.alive() and time.monotonic() < deadline:
                time.sleep(0.002)
        else:
            try:
                select.select([process], [], [], grace)
            finally:
                os.close(process)
        self.stop()

    def send(self, file: IO[bytes]) -> bool:
        """Hand ``file`` to the child, to be read from its current position (False when the
        child is gone)."""
        try:
            _send_file(self.channel, file.fileno(), file.tell())
        except OSError:
            return False
        return True

    def parse(self, timeout: float) -> Iterator[tuple[str, str]]:
        """What the child makes of the file it was sent, as :meth:`_Child.lines`. The child
        goes back to :data:`_SERVERS` when the file was read to its end; otherwise (stuck,
        given up on) it is killed."""
        output = _Output(self.channel.fileno(), timeout, self.reap)
        try:
            yield from output
        finally:
            if output.finished:
                _SERVERS.give(self)
            else:
                self.stop()


class _Servers:
    """The parser children of this process: at most one idle, reused for the next file.

    A child busy with one file when another is read (two readers iterated side by side) means
    a second child for that one; a child is kept only while it is the one idle child.
    """

    def __init__(self) -> None:
        self.live: list[_Server] = []
        self._idle: _Server | None = None

    def take(self, factory: Any) -> _Server:
        """The idle child if it runs ``factory`` and still lives, else a new one."""
        idle, self._idle = self._idle, None
        if idle is not None:
            if idle.factory is factory and idle.alive():
                return idle
            idle.stop()
        return _Server(factory)

    def give(self, server: _Server) -> None:
        """``server`` finished a file: keep it as the idle child (or stop it, when there is
        one already)."""
        if self._idle is None:
            self._idle = server
        else:
            server.stop()

    def close(self) -> None:
        """Let the idle child exit, stop the others (at exit, and for tests)."""
        idle, self._idle = self._idle, None
        for server in list(self.live):
            if server is idle:
                server.finish()
            else:
                server.stop()

    def forget(self) -> None:
        """In a forked process: the children are the parent's; drop them (and the copies of
        their channels, so that each child still sees its own parent go away)."""
        self._idle = None
        for server in self.live:
            server.channel.close()
        self.live.clear()


def _release_inherited(keep: int) -> None:  # pragma: no cover (the child)
    """Point every descriptor the long-lived child inherited (but stdin, stdout, stderr and
    ``keep``) at /dev/null: an idle child must not hold a pipe's or a socket's end open for the
    rest of the parent's life. The numbers stay taken, so an object of the parent's that
    closes its descriptor cannot close a file handed over later."""
    try:
        inherited = [int(name) for name in os.listdir("/dev/fd")]
    except OSError:
        return
    null = os.open(os.devnull, os.O_RDWR)
    for fd in inherited:
        if fd > 2 and fd not in (keep, null):
            with contextlib.suppress(OSError):
                os.dup2(null, fd)
    os.close(null)


#: This process's parser children.
_SERVERS: Final = _Servers()
atexit.register(_SERVERS.close)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_SERVERS.forget)


class EvtxDecoder:
    """Decode one record from :func:`evtx_records` into an event (None for other events)."""

    __slots__ = ("_errors", "_loads")

    def __init__(self) -> None:
        self._loads, self._errors = json_loads()

    def __call__(self, record: dict[str, Any]) -> Event | None:
        """Decode one record (the crate's dict with its JSON text under ``data``)."""
        try:
            event = self._loads(record["data"])["Event"]
        except self._errors as exc:
            raise Malformed("bad json", str(exc)) from None
        system = event["System"]
        event_id = event_id_of(system["EventID"])
        channel = system.get("Channel")
        provider = system.get("Provider")
        provider_name = provider["#attributes"].get("Name") if type(provider) is dict else None
        if not wanted(event_id, channel, provider_name):
            return None
        record_number = record_of(system.get("EventRecordID"))
        created = system.get("TimeCreated")
        when = created["#attributes"]["SystemTime"] if type(created) is dict else None
        fields = event.get("EventData")
        if type(fields) is not dict:
            fields = {}
        elif "Data" in fields and len(fields) == 1:
            fields = _unnamed(fields["Data"])
        host = system.get("Computer")
        if type(host) is not str:
            raise Malformed("missing host", "the record names no Computer", record=record_number)
        try:
            return decode_event(
                event_id,
                channel,
                provider_name,
                fields,
                host,
                utc_time(when, record_number),
                record_number,
            )
        except Malformed as exc:
            raise exc.with_record(record_number) from None


def _unnamed(data: Any) -> Any:
    """EventData with unnamed ``<Data>`` items (a legacy event): the list of their texts."""
    if type(data) is dict:
        data = data.get("#text")
    if type(data) is list:
        return ["" if item is None else str(item) for item in data]
    if data is None:
        return []
    return [str(data)]


def _records(file: IO[bytes], limits: Limits) -> Iterator[tuple[int, Any]]:
    return evtx_records(file, limits)


#: The format, as the reader registry lists it.
FORMAT: Final = RecordFormat(NAME, True, None, sniff_bytes, _records, EvtxDecoder)
