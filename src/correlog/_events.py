"""The vocabulary going in: normalized process and host events.

Readers turn Windows' audit events (592/600/593, 4688/4696/4689, Sysmon 1/5, ...) into these
classes; the correlator never sees an event id it has to interpret. Everything here is already
normalized when it is built: hosts are case-folded, process ids and logon ids are ints, times are
integer nanoseconds since 1970-01-01 UTC, a missing value is ``None`` (never ``"-"``).

The classes are ``typing.NamedTuple`` rather than attrs classes on purpose: a reader builds one
per input line and the correlator reads a handful of fields from each, so construction and field
access sit on the hot path. A NamedTuple is immutable, builds several times faster than a frozen
attrs class with the same fields, and reads its fields through C-level descriptors.
Build them with keywords; the field order is not part of the API.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import NamedTuple

__all__ = [
    "APID_THRESHOLD",
    "Event",
    "EventKind",
    "HostEvent",
    "HostEventKind",
    "Layout",
    "ProcessEvent",
]

#: NT4 and some Windows 2000 systems log kernel addresses ("APIDs") instead of process ids;
#: they print as decimal numbers at or above this value. See :attr:`ProcessEvent.is_apid`.
APID_THRESHOLD = 0x8000_0000


class EventKind(enum.StrEnum):
    """What happened to a process, whatever the source event id."""

    #: The process was created (592, 4688, Sysmon 1).
    CREATED = "created"
    #: The process was given a primary token other than its creator's (600, 4696).
    TOKEN_ASSIGNED = "token_assigned"
    #: The process exited (593, 4689, Sysmon 5).
    EXITED = "exited"


class HostEventKind(enum.StrEnum):
    """What happened to a host's audit log as a whole."""

    #: The Security log was cleared (517, 1102): a new record-number epoch begins.
    LOG_CLEARED = "log_cleared"
    #: The host (re)started (512, 4608): every process it had is gone.
    HOST_STARTED = "host_started"
    #: The host dropped audits under load (516, 1101): what is open may be incomplete.
    AUDITS_DISCARDED = "audits_discarded"


class Layout(enum.StrEnum):
    """The event layout a reader recognised, which tells the Windows generation."""

    #: NT4 / Windows 2000: 593 has 4 strings and no image; no 600; pids may be APIDs.
    NT4_2000 = "nt4/2000"
    #: XP / 2003: 593 has 5 strings with the image; 600 exists.
    XP_2003 = "xp/2003"
    #: Vista and later: 4688/4696/4689.
    VISTA = "vista+"


class ProcessEvent(NamedTuple):
    """One thin event about one process, normalized.

    ``user``, ``domain`` and ``logon_id`` are the account the event names for the process.
    ``own_account`` says whether that is the process's own primary token (600's target, 593,
    4689, 4688 v2) or may be its creator's (592 always names the creator's primary token, which
    is why an IIS child's 592 says SYSTEM). The correlator's merge policy decides whose account
    becomes the record's owner; see :data:`correlog.MERGE_POLICY`.

    ``creator_pid`` and ``creator_image`` are the creating (592, 4688) or token-assigning (600)
    process.
    """

    kind: EventKind
    #: Case-folded host name as the source names it (``iis01``).
    host: str
    #: Process id (or APID on NT4/2000) the event is about.
    pid: int
    #: Event time, integer nanoseconds since 1970-01-01 UTC.
    time: int
    #: The Windows event id it came from (592, 600, 593, 4688, ...).
    event_id: int
    #: The log's record number (EVT RecordNumber, EVTX EventRecordID), when the source has one.
    record_number: int | None = None
    image: str | None = None
    user: str | None = None
    domain: str | None = None
    logon_id: int | None = None
    own_account: bool = True
    creator_pid: int | None = None
    creator_image: str | None = None
    layout: Layout | None = None
    #: The log the event came from when it is not the Security log (``"sysmon"``). Each log is
    #: correlated on its own: record numbers and clocks are per host and log, and a Sysmon 1 and
    #: a 4688 for one process make two records (which agree).
    channel: str | None = None
    #: The command line (4688 v1+, Sysmon 1).
    command_line: str | None = None
    #: The exit code (4689 ``Status``); legacy 593 has none.
    exit_status: int | None = None
    #: The integrity level, in Sysmon's words (``Low``, ``Medium``, ``High``, ``System``): from
    #: 4688 v2's mandatory label or Sysmon's IntegrityLevel.
    integrity: str | None = None
    #: Everything else the source said that a user may want, under the source's own field names
    #: (Sysmon ``Hashes``, ``OriginalFileName``, ``CurrentDirectory``, ``ParentCommandLine``; 4688
    #: ``TokenElevationType``, ...). Read-only; None when there is nothing.
    extra: Mapping[str, str] | None = None

    @property
    def is_apid(self) -> bool:
        """True when ``pid`` looks like an NT4/2000 kernel address rather than a process id."""
        return self.pid >= APID_THRESHOLD


class HostEvent(NamedTuple):
    """An event about a host's log rather than about one process (log cleared, restart, loss)."""

    kind: HostEventKind
    host: str
    time: int
    event_id: int
    record_number: int | None = None
    #: For :attr:`HostEventKind.AUDITS_DISCARDED`: how many audits the host says it dropped.
    dropped: int | None = None


#: Anything a reader yields and the correlator accepts.
Event = ProcessEvent | HostEvent
