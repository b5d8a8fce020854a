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

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from ._events import EventKind, ProcessEvent

__all__ = ["MERGE_POLICY", "MergeRule", "merge"]

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
