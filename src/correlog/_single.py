"""The single-event path: a record from one event alone, with no state at all.

On XP/2003 a 600 names both the new process's image and the token it got, and a 593 names the
exiting process's image and its own account; on Vista+ a 4688 v2 or a 4689 does the same. Such an
event is *sufficient*: the anonymous-web question ("did IUSR run something?") can be answered
from it without waiting for, or remembering, any other event. This is the lightest footprint on a
monitored host. A 592 is never sufficient (it names the creator's account), nor is a Windows 2000
593 (it has no image): those need the correlator.
"""

from __future__ import annotations

from typing import Final

from ._events import EventKind, ProcessEvent
from ._records import Reason, Record, Status

__all__ = ["is_sufficient", "single_record"]

_new_record = tuple.__new__
_C: Final = EventKind.CREATED
_E: Final = EventKind.EXITED
_PARTIAL: Final = Status.PARTIAL
_SINGLE: Final = Reason.SINGLE
# single_record reads the event by position (see _correlator for the whole order).
assert ProcessEvent._fields[6:11] == ("image", "user", "domain", "logon_id", "own_account")


def is_sufficient(event: ProcessEvent) -> bool:
    """True when the event alone names the process's image and its own account."""
    return event.image is not None and event.user is not None and event.own_account


def single_record(event: ProcessEvent) -> Record | None:
    """A record (reason ``single``) from one sufficient event; None when it is not sufficient."""
    # Most events are not sufficient (every 592): answer those before unpacking all 19 fields.
    if event[6] is None or event[7] is None or not event[10]:  # image, user, own_account
        return None
    (
        kind,
        host,
        pid,
        t,
        event_id,
        rn,
        image,
        user,
        domain,
        logon_id,
        _own,
        cpid,
        cimage,
        layout,
        channel,
        cmdline,
        exit_status,
        integrity,
        extra,
    ) = event[:]  # an exact tuple unpacks faster than a NamedTuple
    return _new_record(
        Record,
        (
            host,
            pid,
            image,
            user,
            domain,
            logon_id,
            kind,
            cpid,
            cimage,
            t if kind is _C else None,
            t if kind is _E else None,
            _PARTIAL,
            _SINGLE,
            (event_id, rn),
            layout,
            t,
            channel,
            cmdline,
            exit_status,
            integrity,
            extra,
            (host, channel, pid, t, rn),
            None,
            False,
        ),
    )
