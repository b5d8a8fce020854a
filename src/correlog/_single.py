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

from ._events import ProcessEvent
from ._layout import EVENT_SLOT, record_from_event
from ._records import Reason, Record

__all__ = ["is_sufficient", "single_record"]

_SINGLE: Final = Reason.SINGLE
#: The positions single_record tests before building anything, from the one layout module.
_IMAGE: Final = EVENT_SLOT["image"]
_USER: Final = EVENT_SLOT["user"]
_OWN: Final = EVENT_SLOT["own_account"]


def is_sufficient(event: ProcessEvent) -> bool:
    """True when the event alone names the process's image and its own account."""
    return event.image is not None and event.user is not None and event.own_account


def single_record(event: ProcessEvent) -> Record | None:
    """A record (reason ``single``) from one sufficient event; None when it is not sufficient.

    The record is what :func:`~correlog.merge` says of the event alone (the same builder as the
    correlator's orphan and late records), its ``first_seen`` the event's time.
    """
    # Most events are not sufficient (every 592): answer those before building anything.
    if event[_IMAGE] is None or event[_USER] is None or not event[_OWN]:
        return None
    return record_from_event(event, _SINGLE, event.time, False)
