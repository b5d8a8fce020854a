"""The merge policy: which thin event's value becomes each field of a fat record.

This table is the one statement of the policy. :func:`merge` applies it literally and slowly; the
correlator's hot path folds events in with hand-specialised code, and the test suite checks, for
every arrival order the correlator can see, that the two agree. The documentation's policy table
is drawn from :data:`MERGE_POLICY` too (``docs/policy.md``).

Why this order:

* **owner** (user, domain, logon id): a 600's target account is the token the process really
  got; a 593 names the exiting process's own token; a 592 names its *creator's* primary token,
  which for an IIS child is SYSTEM while the child runs as ``IUSR_<machine>``. So 600, else 593,
  else 592.
* **image**: every event that carries one names the same file; the creation's spelling is kept.
* **creator pid / image**: the creation names its creator; a 600 names the process that assigned
  the token, which is the creator for every documented case (CreateProcessAsUser). A creator
  image from a 600 is taken only when its assigning pid agrees with the creator pid already known.
  A 592 names no creator image; the correlator then takes the creator's own image from its open
  entry when it has one, at the creation's rank (this lookup is outside what :func:`merge` sees).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from ._events import EventKind, HostEventKind, ProcessEvent
from ._records import Reason

__all__ = [
    "CLOCK_RULES",
    "CROSS_LOG_POLICY",
    "HOST_EVENT_RULES",
    "LATE_LIFECYCLE",
    "LIFECYCLE",
    "MERGE_POLICY",
    "Action",
    "ClockRule",
    "CrossLogRule",
    "EntryState",
    "HostEventRule",
    "MergeRule",
    "Transition",
    "merge",
]

_C = EventKind.CREATED
_T = EventKind.TOKEN_ASSIGNED
_E = EventKind.EXITED


@attrs.frozen(kw_only=True)
class MergeRule:
    """Record fields filled together from the first event, in ``sources`` order, that knows them.

    ``fields`` maps record field -> event attribute. An event "knows" the rule when its value for
    the first field's attribute is not ``None``. ``witness`` names a record field that receives
    the kind of the winning event. ``agrees_with`` names a record field whose value the event's
    attribute of the same name must equal (when both are known) for the event to be eligible.
    """

    name: str
    fields: Mapping[str, str]
    sources: tuple[EventKind, ...]
    witness: str | None = None
    agrees_with: str | None = None
    #: For a mapping-valued field: the union of every source's mapping, the earlier source
    #: winning a name two share (None when no source has any).
    union: bool = False
    why: str = ""


#: The policy, in the order the docs show it.
MERGE_POLICY: tuple[MergeRule, ...] = (
    MergeRule(
        name="owner",
        fields={"user": "user", "domain": "domain", "logon_id": "logon_id"},
        sources=(_T, _E, _C),
        witness="owner_source",
        why="600 names the token the process got; 593 its own token; 592 only its creator's",
    ),
    MergeRule(
        name="image",
        fields={"image": "image"},
        sources=(_C, _T, _E),
        why="every event names the same file; the creation's spelling is kept",
    ),
    MergeRule(
        name="creator pid",
        fields={"creator_pid": "creator_pid"},
        sources=(_C, _T),
        why="592/4688 name the creator; 600's assigning process is the creator",
    ),
    MergeRule(
        name="creator image",
        fields={"creator_image": "creator_image"},
        sources=(_C, _T),
        agrees_with="creator_pid",
        why="4688 v2 names the parent image; 600 the assigning image, when it is the creator",
    ),
    MergeRule(name="start", fields={"start": "time"}, sources=(_C,), why="time of the creation"),
    MergeRule(name="end", fields={"end": "time"}, sources=(_E,), why="time of the exit"),
    MergeRule(
        name="layout",
        fields={"layout": "layout"},
        sources=(_C, _T, _E),
        why="whichever event could tell the Windows generation",
    ),
    MergeRule(
        name="command line",
        fields={"command_line": "command_line"},
        sources=(_C,),
        why="only the creation (4688 v1+, Sysmon 1) logs it",
    ),
    MergeRule(
        name="exit status",
        fields={"exit_status": "exit_status"},
        sources=(_E,),
        why="only the exit (4689) logs it",
    ),
    MergeRule(
        name="integrity",
        fields={"integrity": "integrity"},
        sources=(_C,),
        why="4688 v2's mandatory label, Sysmon 1's IntegrityLevel",
    ),
    MergeRule(
        name="extra",
        fields={"extra": "extra"},
        sources=(_C, _T, _E),
        union=True,
        why="every source-specific field any event named; for a name two events share, the "
        "creation's value",
    ),
)


def merge(events: Iterable[ProcessEvent]) -> dict[str, Any]:
    """Apply :data:`MERGE_POLICY` literally to the events of one process.

    Returns the merged record fields (those the policy names). This is the slow,
    obviously-correct reference the correlator is tested against; it does not look at other
    processes (creator lookups).
    A kind seen twice (a second 600, which Windows does not log for one process) counts in
    arrival order: the earlier event wins.
    """
    by_kind: dict[EventKind, list[ProcessEvent]] = {}
    for event in events:
        by_kind.setdefault(event.kind, []).append(event)
    merged: dict[str, Any] = {}
    for rule in MERGE_POLICY:
        for field in rule.fields:
            merged[field] = None
        if rule.witness is not None:
            merged[rule.witness] = None
        first_attr = next(iter(rule.fields.values()))
        if rule.union:
            combined: dict[str, Any] = {}
            for kind in rule.sources:
                for event in by_kind.get(kind, ()):
                    for name, value in (getattr(event, first_attr) or {}).items():
                        combined.setdefault(name, value)
            merged[next(iter(rule.fields))] = combined or None
            continue
        chosen: ProcessEvent | None = None
        for kind in rule.sources:
            for event in by_kind.get(kind, ()):
                if getattr(event, first_attr) is None:
                    continue
                if rule.agrees_with is not None:
                    mine = getattr(event, rule.agrees_with)
                    known = merged.get(rule.agrees_with)
                    if mine is not None and known is not None and mine != known:
                        continue
                chosen = event
                break
            if chosen is not None:
                break
        if chosen is not None:
            for field, attr in rule.fields.items():
                merged[field] = getattr(chosen, attr)
            if rule.witness is not None:
                merged[rule.witness] = chosen.kind
    return merged


# -- the lifecycle: what an event does to its process's open entry --------------------------


class EntryState(enum.StrEnum):
    """What the correlator holds for an event's (host, log, pid) when the event comes."""

    #: No open entry for that pid.
    ABSENT = "absent"
    #: An open entry holding just the token that opened it.
    OPEN_ON_TOKEN = "open on a token alone"
    #: Any other open entry (a creation opened it, or it holds several events).
    OPEN = "open"


class Action(enum.StrEnum):
    """What the correlator does with one process event."""

    #: A new entry opens with this event.
    OPEN = "open"
    #: The open entry closes (its exit was never seen), then a new entry opens with this event.
    SUPERSEDE_THEN_OPEN = "supersede, then open"
    #: The event joins the open entry, which stays open.
    FOLD = "fold"
    #: The event joins the open entry as its first event (a creation the window let by late).
    FOLD_FIRST = "fold as first"
    #: The event joins the open entry, which closes.
    CLOSE = "close"
    #: The event becomes a record of its own (status partial).
    ALONE = "alone"


@attrs.frozen(kw_only=True)
class Transition:
    """One row of the lifecycle table: in ``state``, an event of ``kind`` does ``action``.

    ``reason`` is the reason of the record that closes (the superseded entry's, the closed
    entry's, or the lone record's). ``moves_clock``: the event is first applied to its host's
    clock (record-number epochs, the skew guard, ttl expiry); the state is then read again,
    since expiry may have closed the entry.
    """

    state: EntryState
    kind: EventKind
    action: Action
    reason: Reason | None = None
    moves_clock: bool = False
    why: str = ""


_ABSENT = EntryState.ABSENT
_ON_TOKEN = EntryState.OPEN_ON_TOKEN
_OPEN = EntryState.OPEN


def _rows(*rows: Transition) -> dict[tuple[EntryState, EventKind], Transition]:
    table = {(row.state, row.kind): row for row in rows}
    if len(table) != len(EntryState) * len(EventKind):
        raise ImportError("a lifecycle table must have one row per entry state and event kind")
    return table


#: Events in their order (the normal case): the table the correlators follow.
LIFECYCLE: dict[tuple[EntryState, EventKind], Transition] = _rows(
    Transition(
        state=_ABSENT,
        kind=_C,
        action=Action.OPEN,
        moves_clock=True,
        why="a creation opens its process's entry",
    ),
    Transition(
        state=_ABSENT,
        kind=_T,
        action=Action.OPEN,
        moves_clock=True,
        why="a token for a process not seen yet opens it (its creation was lost or came before "
        "the input)",
    ),
    Transition(
        state=_ABSENT,
        kind=_E,
        action=Action.ALONE,
        reason=Reason.ORPHAN,
        why="an exit whose process is not open: its creation was never seen",
    ),
    Transition(
        state=_ON_TOKEN,
        kind=_C,
        action=Action.SUPERSEDE_THEN_OPEN,
        reason=Reason.SUPERSEDED,
        moves_clock=True,
        why="the kernel logs a creation before its token: a creation after a token is a new "
        "process with a reused pid",
    ),
    Transition(
        state=_OPEN,
        kind=_C,
        action=Action.SUPERSEDE_THEN_OPEN,
        reason=Reason.SUPERSEDED,
        moves_clock=True,
        why="a creation for a pid that is open: the old process's exit was lost, the pid reused",
    ),
    Transition(
        state=_ON_TOKEN,
        kind=_T,
        action=Action.FOLD,
        why="a token joins its process",
    ),
    Transition(state=_OPEN, kind=_T, action=Action.FOLD, why="the token joins its process"),
    Transition(
        state=_ON_TOKEN,
        kind=_E,
        action=Action.CLOSE,
        reason=Reason.EXITED,
        why="the exit ends its process",
    ),
    Transition(
        state=_OPEN,
        kind=_E,
        action=Action.CLOSE,
        reason=Reason.EXITED,
        why="the exit ends its process",
    ),
)

#: Events the ordering window could not put in order (``lateness`` > 0): they never move a
#: clock, and never open an entry.
LATE_LIFECYCLE: dict[tuple[EntryState, EventKind], Transition] = _rows(
    *(
        Transition(
            state=_ABSENT,
            kind=kind,
            action=Action.ALONE,
            reason=Reason.LATE,
            why="too late to be put in order, and its process is not open",
        )
        for kind in EventKind
    ),
    Transition(
        state=_ON_TOKEN,
        kind=_C,
        action=Action.FOLD_FIRST,
        why="the creation of a process its token opened: it joins as its first event",
    ),
    Transition(
        state=_OPEN,
        kind=_C,
        action=Action.ALONE,
        reason=Reason.LATE,
        why="a process has one creation, and its token follows it: a creation for an entry "
        "that has one, or more than its token, is another process, which cannot be placed",
    ),
    *(
        Transition(
            state=state,
            kind=_T,
            action=Action.FOLD,
            why="joins its process as in order",
        )
        for state in (_ON_TOKEN, _OPEN)
    ),
    *(
        Transition(
            state=state,
            kind=_E,
            action=Action.CLOSE,
            reason=Reason.EXITED,
            why="ends its process as in order",
        )
        for state in (_ON_TOKEN, _OPEN)
    ),
)


@attrs.frozen(kw_only=True)
class ClockRule:
    """A named rule of the per-host clocks; both correlators cite these names."""

    name: str
    rule: str


#: The clock rules, in the order they apply to an event that moves the clock.
CLOCK_RULES: tuple[ClockRule, ...] = (
    ClockRule(
        name="one clock per log",
        rule="Each host and log has its own clock. It starts at the log's first event and then "
        "follows the events whose lifecycle row moves the clock, host events and "
        "`advance()`. Exits and events joining an open entry never move it.",
    ),
    ClockRule(
        name="new epoch",
        rule="Record numbers only grow within a log: an event that moves the clock with a lower "
        "record number than the last one seen, or a log clear, starts a new epoch. The clock "
        "is reset to the event's time (it may go back), open entries' `first_seen` is lowered "
        "to it when later, and what is due expires; for a record number, only when the time "
        "is within `max_skew` of the clock (a farther one goes to the skew guard below, so a "
        "single event cannot expire a host's open processes).",
    ),
    ClockRule(
        name="max skew, hold and confirm",
        rule="A time more than `max_skew` from the clock is held, not taken (`clock_held`). "
        "When the next event that moves the clock is within `max_skew` of the held time, the "
        "jump is taken as a reset (`clock_jumps`); an event within `max_skew` of the clock "
        "forgets the held time.",
    ),
    ClockRule(
        name="ttl",
        rule="An open entry expires (reason `expired`) when its log's clock reaches its "
        "`first_seen` plus `ttl`, oldest first. The creator memo then remembers its image.",
    ),
    ClockRule(
        name="max open",
        rule="More than `max_open` open entries over all hosts: the oldest opened closes "
        "(reason `evicted`); the creator memo remembers its image.",
    ),
    ClockRule(
        name="creator memo",
        rule="Over all hosts and logs, up to `memo_size` processes whose entry expired or was "
        "evicted (so they may still run), with their image and process id, oldest dropped "
        "first: a creation naming such a creator still learns its image and id. An exit or a "
        "new creation of the pid forgets it; a host restart forgets the host's.",
    ),
    ClockRule(
        name="idle logs",
        rule="When a log is seen for the first time and `max_open + max_idle_logs` logs are "
        "known already, every log with no open entry and nothing in the creator memo is "
        "forgotten first (its clock, held jump, "
        "record number and lost-audits mark); a forgotten log's next event starts it afresh. "
        "Memory is bounded whatever the number of hosts.",
    ),
    ClockRule(
        name="lost audits",
        rule="After a report of dropped audits, every entry open in that log, and every entry "
        "opened later by an event at or before the report's time, is marked `audits_lost`.",
    ),
)


@attrs.frozen(kw_only=True)
class HostEventRule:
    """What a host event does to its host's open entries."""

    kind: HostEventKind
    closes: str
    reason: Reason | None
    then: str


#: Host events; after any of them but a log clear, the Security log's clock follows the event
#: when it is later and within ``max_skew``.
HOST_EVENT_RULES: tuple[HostEventRule, ...] = (
    HostEventRule(
        kind=HostEventKind.HOST_STARTED,
        closes="every open entry of the host, in every log",
        reason=Reason.HOST_RESTART,
        then="the host's creator memos are emptied: no process of it still runs",
    ),
    HostEventRule(
        kind=HostEventKind.LOG_CLEARED,
        closes="every open entry of the host's Security log",
        reason=Reason.LOG_CLEARED,
        then="a new epoch: the clock is reset to the event's time, record numbers start again "
        "from the event's",
    ),
    HostEventRule(
        kind=HostEventKind.AUDITS_DISCARDED,
        closes="nothing",
        reason=None,
        then="open entries of the Security log are marked `audits_lost` (see 'lost audits')",
    ),
)


# -- across logs: one record from a Sysmon record and a Security record of one process --------


@attrs.frozen(kw_only=True)
class CrossLogRule:
    """How the record of a process seen by both Sysmon and the Security log gets ``fields``.

    ``how`` is one of ``first`` (the first log in ``sources``, left to right, whose record knows
    the first field gives every field of the row), ``each`` (each field on its own: the first
    log whose record knows it), ``union`` (a mapping: every log's names, the
    earlier log winning a name both have), ``concat`` (tuples joined in ``sources`` order),
    ``any`` (true when any log's is), ``derived`` (computed from the merged fields, as ``why``
    says). ``sources`` name the logs: ``sysmon`` and ``security``.
    """

    name: str
    fields: tuple[str, ...]
    sources: tuple[str, ...]
    how: str = "first"
    why: str = ""


_SYSMON_FIRST = ("sysmon", "security")

#: The cross-log merge, in the order the docs show it. Every :class:`~correlog.Record` field is
#: in exactly one row (a test checks it). Which records pair is ``correlog._crosslog``'s.
CROSS_LOG_POLICY: tuple[CrossLogRule, ...] = (
    CrossLogRule(
        name="identity",
        fields=("host", "pid", "channel", "process_id", "first_seen"),
        sources=("sysmon",),
        why="the merged record is Sysmon's with the Security log's events folded in: Sysmon's "
        "log, process id (as its ProcessGuid, one per process) and clock",
    ),
    CrossLogRule(
        name="owner",
        fields=("user", "domain", "logon_id", "owner_source"),
        sources=_SYSMON_FIRST,
        why="both name the process's own token (the same logon id); Sysmon names service "
        "accounts by their names (`NT AUTHORITY\\SYSTEM`) where the Security log names the "
        "machine account (`HOST$`), and Sigma rules are written in Sysmon's spelling (taking the "
        "Security log's loses SigmaHQ hits on the OTRF archives); 4688's Subject* account "
        "fields (its creator's) stay in `extra`",
    ),
    CrossLogRule(
        name="image",
        fields=("image",),
        sources=_SYSMON_FIRST,
        why="the same file (it is part of the pairing key); Sysmon's spelling",
    ),
    CrossLogRule(
        name="creator",
        fields=("creator_pid",),
        sources=_SYSMON_FIRST,
        why="both name the same creator; Sysmon 1 always does",
    ),
    CrossLogRule(
        name="creator image",
        fields=("creator_image",),
        sources=_SYSMON_FIRST,
        why="Sysmon 1 always names it, 4688 only from version 2",
    ),
    CrossLogRule(
        name="creator process id",
        fields=("creator_process_id",),
        sources=_SYSMON_FIRST,
        why="the merged creator carries Sysmon's process id too, so the tree stays linked",
    ),
    CrossLogRule(
        name="start, end",
        fields=("start", "end"),
        sources=_SYSMON_FIRST,
        how="each",
        why="Sysmon's UtcTime is the creation and exit time in UTC to the millisecond; the "
        "Security log's is when it logged the event (NXLog's to the second, local)",
    ),
    CrossLogRule(
        name="command line, integrity, layout",
        fields=("command_line", "integrity", "layout"),
        sources=_SYSMON_FIRST,
        how="each",
        why="Sysmon 1 always logs them; 4688 from version 1 (command line) and 2 (label)",
    ),
    CrossLogRule(
        name="exit status",
        fields=("exit_status",),
        sources=("security", "sysmon"),
        why="only 4689 logs it",
    ),
    CrossLogRule(
        name="extra",
        fields=("extra",),
        sources=_SYSMON_FIRST,
        how="union",
        why="Sysmon's ProcessGuid, Hashes, OriginalFileName... and the Security log's "
        "Subject* account fields, TokenElevationType, MandatoryLabel...",
    ),
    CrossLogRule(
        name="provenance",
        fields=("provenance",),
        sources=_SYSMON_FIRST,
        how="concat",
        why="every event of both logs: Sysmon's (1, 5), then the Security log's (4688, 4689)",
    ),
    CrossLogRule(
        name="audits lost",
        fields=("audits_lost",),
        sources=_SYSMON_FIRST,
        how="any",
        why="either log may have lost some of the process's events",
    ),
    CrossLogRule(
        name="status",
        fields=("status",),
        sources=_SYSMON_FIRST,
        how="derived",
        why="`complete` when the merged record has both a start and an end",
    ),
    CrossLogRule(
        name="reason",
        fields=("reason",),
        sources=_SYSMON_FIRST,
        how="derived",
        why="`exited` when either log saw the exit close the process, else Sysmon's reason",
    ),
)
