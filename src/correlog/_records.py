"""The vocabulary going out: fat process records and alerts."""

from __future__ import annotations

import enum
import zlib
from collections.abc import Mapping
from typing import Any, NamedTuple

import attrs

from ._events import EventKind, Layout
from ._time import DECIMALS, iso

__all__ = [
    "Alert",
    "LevelledAlert",
    "ProcessId",
    "Reason",
    "Record",
    "Status",
    "Verdict",
    "format_process_id",
    "host_seed",
    "process_id",
]


#: A process's stable id: host, log, pid, and the time and record number of its first event.
ProcessId = tuple[str, str | None, int, int, int | None]

_M32 = 0xFFFF_FFFF
_M64 = 0xFFFF_FFFF_FFFF_FFFF


def host_seed(host: str, channel: str | None) -> int:
    """The 32-bit CRC of a host (and log) name, the first part of a printed process id."""
    return zlib.crc32(f"{host}\x00{channel or ''}".encode())


def process_id(
    host: str, channel: str | None, pid: int, time: int, record_number: int | None
) -> ProcessId:
    """The stable id of the process whose first event (as seen) has this time and record number.

    Like Sysmon's ProcessGuid it is made from the host, the pid and a start: here the time and
    record number of the process's first event, so the same input always gives the same ids and
    two processes never share one (a pid is not reused within one event). It is the tuple of
    those parts, so it costs the hot path nothing to build and compares and hashes as it should;
    :func:`format_process_id` prints it.
    """
    return (host, channel, pid, time, record_number)


def format_process_id(value: ProcessId) -> str:
    """A GUID-like ``8-8-16-16`` hex text: host CRC, pid, time (ns), record number.

    The record number is all ``f`` when unknown. This is the form the CLI prints.
    """
    host, channel, pid, time, rn = value
    return (
        f"{host_seed(host, channel):08x}-{pid & _M32:08x}-{time & _M64:016x}-"
        f"{_M64 if rn is None else rn & _M64:016x}"
    )


class Status(enum.StrEnum):
    """Whether a record saw its process's whole life."""

    #: Both the creation and the exit were seen.
    COMPLETE = "complete"
    #: Something is missing: no creation, no exit, or both.
    PARTIAL = "partial"


class Reason(enum.StrEnum):
    """Why a record was emitted when it was."""

    #: The process exited (593, 4689).
    EXITED = "exited"
    #: No event came for ``ttl`` seconds of the host's own clock.
    EXPIRED = "expired"
    #: The open set reached ``max_open``; the oldest entry made room.
    EVICTED = "evicted"
    #: A new creation reused the pid of a process still open, whose exit was never seen.
    SUPERSEDED = "superseded"
    #: An exit arrived for a process that was not open: its creation was never seen.
    ORPHAN = "orphan"
    #: :meth:`correlog.Correlator.close` flushed it at the end of the input.
    FLUSHED = "flushed"
    #: Built from one event alone by the single-event path, without any state.
    SINGLE = "single"
    #: A snapshot of a process that is still open (alerts carry these).
    OPEN = "open"
    #: The host restarted (512, 4608): every process it had is gone.
    HOST_RESTART = "host_restart"
    #: The host's log was cleared (517, 1102): what was open is closed, a new epoch begins.
    LOG_CLEARED = "log_cleared"
    #: An event came later than the ordering window allows and its process was not open.
    LATE = "late"


class Record(NamedTuple):
    """One fat record per process: what the thin events said about it, merged.

    Which event's value wins for each field is :data:`correlog.MERGE_POLICY`. Times are integer
    nanoseconds since 1970-01-01 UTC (see :func:`correlog.iso`); unknown values are ``None``.
    Records are immutable; build them with keywords, read them by name (the field order is not
    part of the API).
    """

    host: str
    pid: int
    image: str | None
    #: The owner: the process's own account when an event named it, else its creator's.
    user: str | None
    domain: str | None
    logon_id: int | None
    #: Which kind of event the owner came from (``None`` when no event named one).
    owner_source: EventKind | None
    creator_pid: int | None
    creator_image: str | None
    #: Time of the creation event (592, 4688), when seen.
    start: int | None
    #: Time of the exit event (593, 4689), when seen.
    end: int | None
    status: Status
    reason: Reason
    #: Every event folded into the record, in order, as flat pairs
    #: ``(event_id, record_number, event_id, record_number, ...)``; see :attr:`events`.
    provenance: tuple[int | None, ...]
    layout: Layout | None
    #: The host's clock (ns) when the correlator opened the entry; ``ttl`` counts from here.
    first_seen: int
    #: The log the events came from, when not the Security log (``"sysmon"``).
    channel: str | None = None
    command_line: str | None = None
    exit_status: int | None = None
    integrity: str | None = None
    #: Source-specific fields of every event folded in (see :attr:`ProcessEvent.extra`).
    extra: Mapping[str, str] | None = None
    #: A stable id for this process's lifetime (see :func:`correlog.process_id`), the same for
    #: the same input, to join records across outputs and rebuild process trees.
    process_id: ProcessId = ("", None, 0, 0, None)
    #: The creator's :attr:`process_id`, when the creator was seen.
    creator_process_id: ProcessId | None = None
    #: True when the host reported dropped audits (516, 1101) while this process was open, or
    #: before its first event was released: some of its events may be missing.
    audits_lost: bool = False

    @property
    def events(self) -> tuple[int, ...]:
        """The source event ids folded into this record, one per input event, in order."""
        return tuple(e for e in self.provenance[0::2] if e is not None)

    @property
    def record_numbers(self) -> tuple[int | None, ...]:
        """The record numbers of those events (``None`` where the source had none)."""
        return self.provenance[1::2]

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict: the record keys of the CLI, times as ISO 8601 UTC text with nine
        decimals (:data:`correlog._time.DECIMALS`), the logon id as hex text (``"0x3e7"``)."""
        return {
            "host": self.host,
            "pid": self.pid,
            "image": self.image,
            "user": self.user,
            "domain": self.domain,
            "logon_id": None if self.logon_id is None else f"0x{self.logon_id:x}",
            "owner_source": None if self.owner_source is None else str(self.owner_source),
            "creator_pid": self.creator_pid,
            "creator_image": self.creator_image,
            "start": iso(self.start, DECIMALS),
            "end": iso(self.end, DECIMALS),
            "status": str(self.status),
            "reason": str(self.reason),
            "events": list(self.events),
            "record_numbers": list(self.record_numbers),
            "layout": None if self.layout is None else str(self.layout),
            "channel": self.channel,
            "command_line": self.command_line,
            "exit_status": self.exit_status,
            "integrity": self.integrity,
            "extra": None if self.extra is None else dict(self.extra),
            "process_id": format_process_id(self.process_id),
            "creator_process_id": None
            if self.creator_process_id is None
            else format_process_id(self.creator_process_id),
            "audits_lost": self.audits_lost,
        }


@attrs.frozen(kw_only=True)
class Alert:
    """A rule fired on a process.

    ``time`` and ``event_id`` are those of the event whose folding made the rule fire; both are
    ``None`` when no event did (the record became final through :meth:`~correlog.Monitor.advance`
    or at the end of the input, :meth:`~correlog.Monitor.close`). ``record`` is the process as
    known at that moment (reason :attr:`Reason.OPEN` while it is still running).

    A rule over host events (:class:`correlog.rules.AuditTamper`: a cleared log, lost audits)
    alerts on no process: ``pid``, ``image``, ``user``, ``domain`` and ``record`` are ``None``,
    ``time`` and ``event_id`` are the host event's.
    """

    rule: str
    host: str
    pid: int | None
    image: str | None
    user: str | None
    domain: str | None
    time: int | None
    event_id: int | None
    record: Record | None
    message: str = ""

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict: the alert keys of the CLI, with the record nested."""
        return {
            "rule": self.rule,
            "host": self.host,
            "pid": self.pid,
            "image": self.image,
            "user": self.user,
            "domain": self.domain,
            "time": iso(self.time, DECIMALS),
            "event_id": self.event_id,
            "message": self.message,
            "record": None if self.record is None else self.record.to_json(),
        }


class Verdict(str):
    """A rule's alert message that also names the rule's level and title (a Sigma rule's
    answer): the :class:`Alert` made of it is a :class:`LevelledAlert` carrying both."""

    rule_level: str | None
    rule_title: str | None

    def __new__(cls, message: str, *, level: str | None, title: str | None) -> Verdict:
        verdict = super().__new__(cls, message)
        verdict.rule_level = level
        verdict.rule_title = title
        return verdict


@attrs.frozen(kw_only=True)
class LevelledAlert(Alert):
    """An alert whose rule has a level and a title (a Sigma rule's in ``watch --sigma``):
    written with both, after the message."""

    level: str | None = None
    title: str | None = None

    def to_json(self) -> dict[str, Any]:
        """:meth:`Alert.to_json`, with ``level`` and ``title`` before the record."""
        data = super().to_json()
        record = data.pop("record")
        return {**data, "level": self.level, "title": self.title, "record": record}
