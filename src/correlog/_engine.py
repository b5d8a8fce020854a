"""What both correlators share: their settings, their counters, their checks on callers.

:class:`~correlog.Correlator` (the fast fold) and :class:`correlog.testing.ReferenceCorrelator`
(the plain specification) validate the same settings with the same errors and count the same
things, so a differential test can compare them field by field.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import attrs

from ._errors import UsageError
from ._records import Reason
from ._time import seconds

__all__ = ["CorrelatorStats", "Settings", "check_new_host", "settings"]


@attrs.frozen
class Settings:
    """A correlator's settings, validated, times in nanoseconds."""

    ttl: int
    max_open: int
    max_skew: int
    memo_size: int
    lateness: int
    max_idle_logs: int


def settings(
    *,
    ttl: float,
    max_open: int,
    max_skew: float,
    memo_size: int,
    lateness: float,
    max_idle_logs: int,
) -> Settings:
    """Check a correlator's keyword arguments; :class:`UsageError` names the first bad one."""
    if not ttl > 0:
        raise UsageError(f"ttl must be a positive number of seconds, not {ttl!r}")
    if isinstance(max_open, bool) or not isinstance(max_open, int) or max_open < 1:
        raise UsageError(f"max_open must be a positive integer, not {max_open!r}")
    if not max_skew > 0:
        raise UsageError(f"max_skew must be a positive number of seconds, not {max_skew!r}")
    if isinstance(memo_size, bool) or not isinstance(memo_size, int) or memo_size < 0:
        raise UsageError(f"memo_size must be a non-negative integer, not {memo_size!r}")
    if not lateness >= 0:
        raise UsageError(f"lateness must be zero or a positive number of seconds, not {lateness!r}")
    if isinstance(max_idle_logs, bool) or not isinstance(max_idle_logs, int) or max_idle_logs < 0:
        raise UsageError(f"max_idle_logs must be a non-negative integer, not {max_idle_logs!r}")
    try:
        times = [seconds(value) for value in (ttl, max_skew, lateness)]
    except (OverflowError, ValueError) as exc:  # inf, 1e308: no number of nanoseconds
        raise UsageError(f"a time setting is out of range: {exc}") from None
    return Settings(times[0], max_open, times[1], memo_size, times[2], max_idle_logs)


def check_new_host(host: object, channel: object, time: object, ev: object) -> None:
    """The first event of a host (and log) must name it with text and have an integer time.

    Checked when a host is first seen, not on every event (the hot path does not re-check the
    fields of events of a host it knows), so a malformed event on a new host is a clear
    :class:`UsageError` rather than a failure somewhere inside the fold.
    """
    if not isinstance(host, str) or not (channel is None or isinstance(channel, str)):
        raise UsageError(f"not an event: host and channel must be text, in {ev!r}")
    if type(time) is not int:
        raise UsageError(f"not an event: time must be int nanoseconds, in {ev!r}")


@attrs.define(kw_only=True)
class CorrelatorStats:
    """Counters a correlator keeps; read them from :attr:`Correlator.stats`."""

    #: Process events folded in.
    events: int = 0
    #: Host events (log cleared, restart, audits discarded) seen.
    host_events: int = 0
    #: Records emitted, by reason.
    records: Counter[Reason] = attrs.field(factory=Counter)
    #: Events whose time jumped more than ``max_skew`` and was held, not trusted (yet).
    clock_held: int = 0
    #: Jumps of more than ``max_skew`` confirmed by a second event and taken.
    clock_jumps: int = 0
    #: New epochs started (record number went down, or the log was cleared).
    epochs: int = 0
    #: The most entries open at once.
    peak_open: int = 0
    #: Reports of dropped audits (516, 1101) seen.
    audits_lost: int = 0
    #: Events that came later than the ordering window (folded in, or ``late`` records).
    late: int = 0
    #: Exact duplicates (same host, log and record number) the window folded once.
    duplicates: int = 0

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready numbers."""
        return {
            "events": self.events,
            "host_events": self.host_events,
            "records": {str(reason): n for reason, n in sorted(self.records.items())},
            "clock_held": self.clock_held,
            "clock_jumps": self.clock_jumps,
            "epochs": self.epochs,
            "peak_open": self.peak_open,
            "audits_lost": self.audits_lost,
            "late": self.late,
            "duplicates": self.duplicates,
        }
