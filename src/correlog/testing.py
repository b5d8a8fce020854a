"""What correlog's users need for their own tests.

* :class:`ReferenceCorrelator`: the plain specification of :class:`~correlog.Correlator` (same
  settings, verbs, records and counters), to check a fast path or a distributed run against.
* Event builders with IIS-flavoured defaults: :func:`created`, :func:`token`, :func:`exited`
  (592 / 600 / 593 on Windows 2003) and :func:`host_event`; times are seconds after :data:`T0`.
* :func:`evt_bytes` and :class:`EvtRecord`: a legacy binary ``.evt`` file, written from records.
"""

from __future__ import annotations

from typing import Any, Final

from ._events import EventKind, HostEvent, HostEventKind, Layout, ProcessEvent
from ._reference import ReferenceCorrelator
from .readers import EvtRecord, evt_bytes

__all__ = [
    "DEFAULTS",
    "T0",
    "EvtRecord",
    "ReferenceCorrelator",
    "S",
    "created",
    "event",
    "evt_bytes",
    "exited",
    "host_event",
    "token",
]

#: One second in correlog's time unit (nanoseconds).
S: Final = 1_000_000_000
#: 2003-03-04 09:15:00 UTC, the builders' time zero.
T0: Final = 1_046_769_300 * S

#: The fields each builder fills unless told otherwise: ``ping.exe`` run by ``IUSR_IIS02`` under
#: ``w3wp.exe`` (pid 3120), as Windows 2003 logs it.
DEFAULTS: Final[dict[EventKind, dict[str, Any]]] = {
    EventKind.CREATED: {
        "event_id": 592,
        "image": r"C:\WINDOWS\system32\ping.exe",
        "user": "SYSTEM",
        "domain": "NT AUTHORITY",
        "logon_id": 0x3E7,
        "own_account": False,
        "creator_pid": 3120,
    },
    EventKind.TOKEN_ASSIGNED: {
        "event_id": 600,
        "image": r"C:\WINDOWS\system32\ping.exe",
        "user": "IUSR_IIS02",
        "domain": "IIS02",
        "logon_id": 0x2A3C1,
        "creator_pid": 3120,
        "creator_image": r"C:\WINDOWS\system32\inetsrv\w3wp.exe",
        "layout": Layout.XP_2003,
    },
    EventKind.EXITED: {
        "event_id": 593,
        "image": r"C:\WINDOWS\system32\ping.exe",
        "user": "IUSR_IIS02",
        "domain": "IIS02",
        "logon_id": 0x2A3C1,
        "layout": Layout.XP_2003,
    },
}


def event(
    kind: EventKind, pid: int, t: float, host: str, rn: int | None, kw: dict[str, Any]
) -> ProcessEvent:
    """An event of ``kind``, ``t`` seconds after :data:`T0`; ``kw`` overrides the defaults."""
    fields = {**DEFAULTS[kind], **kw}
    return ProcessEvent(
        kind=kind, host=host, pid=pid, time=T0 + int(t * S), record_number=rn, **fields
    )


def created(
    pid: int, t: float = 0, *, host: str = "iis02", rn: int | None = None, **kw: Any
) -> ProcessEvent:
    """A creation (592) of ``pid``, ``t`` seconds after :data:`T0`."""
    return event(EventKind.CREATED, pid, t, host, rn, kw)


def token(
    pid: int, t: float = 0, *, host: str = "iis02", rn: int | None = None, **kw: Any
) -> ProcessEvent:
    """A token assignment (600) to ``pid``, ``t`` seconds after :data:`T0`."""
    return event(EventKind.TOKEN_ASSIGNED, pid, t, host, rn, kw)


def exited(
    pid: int, t: float = 0, *, host: str = "iis02", rn: int | None = None, **kw: Any
) -> ProcessEvent:
    """An exit (593) of ``pid``, ``t`` seconds after :data:`T0`."""
    return event(EventKind.EXITED, pid, t, host, rn, kw)


_HOST_EVENT_IDS: Final = {
    HostEventKind.LOG_CLEARED: 517,
    HostEventKind.HOST_STARTED: 512,
    HostEventKind.AUDITS_DISCARDED: 516,
}


def host_event(
    kind: HostEventKind,
    t: float = 0,
    *,
    host: str = "iis02",
    rn: int | None = None,
    dropped: int | None = None,
) -> HostEvent:
    """A host event (517 log cleared, 512 restart, 516 audits discarded) at ``t`` seconds."""
    return HostEvent(
        kind=kind,
        host=host,
        time=T0 + int(t * S),
        event_id=_HOST_EVENT_IDS[kind],
        record_number=rn,
        dropped=dropped,
    )
