"""Positional layouts, derived once from the field declarations.

The hot paths build records and read events by position: a NamedTuple built with keywords runs
a Python-level ``__new__`` and costs several times a positional ``tuple.__new__``, and one
unpack of an event reads every field at the cost of a few attribute loads. Positions written by
hand drift when a field is added, so every position the library uses comes from here:

* the slot of each :class:`~correlog.Record` field and of each :class:`~correlog.ProcessEvent`
  field;
* the layout of an open entry in the correlator (:data:`OPEN_FIELDS`): Record's, less the slots
  an open process never fills;
* the builder of the record an open entry closes with (:data:`record_from_entry`);
* the builders of a record (or an open entry) made from *one* event, generated (as attrs
  generates its methods) from :data:`~correlog.MERGE_POLICY` applied to that one event and from
  the two classes' ``_fields``. The orphan branch, the late path, :func:`~correlog.single_record`
  and the opening of an entry all use them, so a single event means the same record everywhere:
  exactly what :func:`~correlog.merge` says of it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from ._events import EventKind, ProcessEvent
from ._policy import MERGE_POLICY
from ._records import Reason, Record, Status

__all__ = [
    "EVENT_SLOT",
    "OPEN_FIELDS",
    "OPEN_SLOT",
    "RECORD_SLOT",
    "record_from_entry",
    "record_from_event",
    "single_record",
]

#: Field name -> position in a :class:`~correlog.Record` (and in an open entry list).
RECORD_SLOT: Final[dict[str, int]] = {name: i for i, name in enumerate(Record._fields)}
#: Field name -> position in a :class:`~correlog.ProcessEvent`.
EVENT_SLOT: Final[dict[str, int]] = {name: i for i, name in enumerate(ProcessEvent._fields)}

#: The record fields an open entry in the correlator does not hold: ``end``, ``status`` and
#: ``reason``, which an open process does not have yet, and ``channel``, because the entry's
#: ``host`` slot holds its log's key (which names the host and the log).
NOT_OPEN: Final = ("end", "status", "reason", "channel")
#: An open entry is a list of these, in Record's order: four pointers less per open process than
#: Record's layout (these lists are the largest part of the open state).
OPEN_FIELDS: Final = tuple(name for name in Record._fields if name not in NOT_OPEN)
#: Field name -> position in an open entry (``host``: its log's key while it is open).
OPEN_SLOT: Final[dict[str, int]] = {name: i for i, name in enumerate(OPEN_FIELDS)}
#: The arguments of :data:`record_from_entry`, in Record's order: the fields an open entry does
#: not hold, and those it holds in a short form while open (its log's key for ``host``; the
#: first event's record number, id and time for ``provenance``, ``exit_status`` and
#: ``process_id``: see the correlator's ``_provenance`` and ``_process_id``).
CLOSING_FIELDS: Final = tuple(
    name
    for name in Record._fields
    if name in NOT_OPEN or name in ("host", "provenance", "exit_status", "process_id")
)

#: The record fields that are the correlator's own bookkeeping, not the merge policy's.
BOOKKEEPING: Final = (
    "host",
    "pid",
    "status",
    "reason",
    "provenance",
    "first_seen",
    "channel",
    "process_id",
    "creator_process_id",
    "audits_lost",
)


def _policy_expressions(kind: EventKind, not_none: frozenset[str]) -> dict[str, str]:
    """Record field -> expression over ``ev_<attribute>`` locals, for one event of ``kind``.

    :func:`~correlog.merge` of a single event, spelled as code: a rule takes its fields from the
    event when the event's kind is one of the rule's sources and it knows the rule's first
    attribute; the witness field names the kind; a union rule takes the event's mapping when it
    is not empty. (``agrees_with`` always holds within one event.) ``not_none``: event
    attributes the caller has already checked are not None, so a rule keyed on one of them
    needs no test.
    """
    exprs: dict[str, str] = {}
    for rule in MERGE_POLICY:
        attrs_ = list(rule.fields.values())
        checked = attrs_[0] in not_none
        known = f"ev_{attrs_[0]} is not None"
        for field, attr in rule.fields.items():
            if kind not in rule.sources:
                exprs[field] = "None"
            elif rule.union:
                exprs[field] = f"(ev_{attr} or None)"
            elif attr == attrs_[0] or checked:
                exprs[field] = f"ev_{attr}"
            else:
                exprs[field] = f"(ev_{attr} if {known} else None)"
        if rule.witness is not None:
            if kind not in rule.sources:
                exprs[rule.witness] = "None"
            elif checked:
                exprs[rule.witness] = f"_KIND_{kind.name}"
            else:
                exprs[rule.witness] = f"(_KIND_{kind.name} if {known} else None)"
    missing = set(Record._fields) - set(exprs) - set(BOOKKEEPING)
    if missing:
        raise ImportError(f"no merge rule and no bookkeeping for record fields {sorted(missing)}")
    return exprs


def _compile(
    name: str,
    params: str,
    bookkeeping: dict[str, str],
    wrap: str,
    overrides: dict[EventKind, dict[str, str]] | None = None,
    not_none: tuple[str, ...] = (),
    also_true: tuple[str, ...] = (),
    doc: str = "",
) -> Callable[..., Any]:
    """Generate ``name(ev, <params>)``: unpack the event, build the layout for its kind.

    ``not_none`` and ``also_true``: event attributes that must not be None, and must be true;
    for an event that fails either the function returns None before it unpacks anything (their
    positions, from :data:`EVENT_SLOT`, written into the test as constants), and the layout
    needs no test of the first ones."""
    unpack = ", ".join(f"ev_{field}" for field in ProcessEvent._fields)
    signature = f"def {name}(ev, {params}):" if params else f"def {name}(ev):"
    lines = [signature]
    guard = [f"ev[{EVENT_SLOT[attr]}] is None" for attr in not_none]
    guard += [f"not ev[{EVENT_SLOT[attr]}]" for attr in also_true]
    if guard:
        lines += [f"    if {' or '.join(guard)}:", "        return None"]
    lines.append(f"    ({unpack},) = ev[:]")
    for i, kind in enumerate(EventKind):
        exprs = {
            **_policy_expressions(kind, frozenset(not_none)),
            **bookkeeping,
            **(overrides or {}).get(kind, {}),
        }
        slots = ", ".join(exprs[field] for field in Record._fields)
        test = "if" if i == 0 else "elif" if i < len(EventKind) - 1 else "else"
        lines.append(f"    {test} ev_kind is _KIND_{kind.name}:" if test != "else" else "    else:")
        lines.append(f"        return {wrap.format(slots=slots)}")
    namespace: dict[str, Any] = {
        "_new": tuple.__new__,
        "Record": Record,
        "_PARTIAL": Status.PARTIAL,
        "_SINGLE": Reason.SINGLE,
        **{f"_KIND_{kind.name}": kind for kind in EventKind},
    }
    exec(compile("\n".join(lines), f"<correlog layout: {name}>", "exec"), namespace)
    function = namespace[name]
    function.__doc__ = doc
    function.__module__ = "correlog"
    return function  # type: ignore[no-any-return]


_RECORD_BOOKKEEPING = {
    "host": "ev_host",
    "pid": "ev_pid",
    "status": "_PARTIAL",
    "reason": "reason",
    "provenance": "(ev_event_id, ev_record_number)",
    "first_seen": "first_seen",
    "channel": "ev_channel",
    "process_id": "(ev_host, ev_channel, ev_pid, ev_time, ev_record_number)",
    "creator_process_id": "None",
    "audits_lost": "audits_lost",
}

#: ``record_from_event(ev, reason, first_seen, audits_lost)``: the record of one event alone
#: (status partial), what :func:`~correlog.merge` says of it plus the bookkeeping fields.
record_from_event: Callable[[ProcessEvent, Reason, int, bool], Record] = _compile(
    "record_from_event",
    "reason, first_seen, audits_lost",
    _RECORD_BOOKKEEPING,
    "_new(Record, ({slots}))",
    doc="The record of one event alone (status partial): what merge() says of it.",
)

#: ``single_record(ev)``: :func:`record_from_event` with reason ``single`` and the event's own
#: time as ``first_seen``, or None when the event is not sufficient (it does not name both an
#: image and its own account): one frame, the test before the unpack (most events fail it).
single_record: Callable[[ProcessEvent], Record | None] = _compile(
    "single_record",
    "",
    {**_RECORD_BOOKKEEPING, "reason": "_SINGLE", "first_seen": "ev_time", "audits_lost": "False"},
    "_new(Record, ({slots}))",
    not_none=("image", "user"),
    also_true=("own_account",),
    doc="A record (reason ``single``) from one sufficient event; None when it is not sufficient."
    "\n\nThe record is what :func:`~correlog.merge` says of the event alone, its ``first_seen``"
    " the event's time.",
)


def _compile_record_from_entry() -> Callable[..., Record]:
    """Generate ``record_from_entry(entry, <CLOSING_FIELDS>)``: one unpack of the open entry,
    one tuple in Record's order. (Cheaper than growing the list into Record's layout: the
    unpack is one step, and ``tuple.__new__`` copies a tuple once where it copies a list twice.)
    """
    held = ", ".join(f"_{name}" if name in CLOSING_FIELDS else name for name in OPEN_FIELDS)
    lines = [
        f"def record_from_entry(entry, {', '.join(CLOSING_FIELDS)}):",
        f"    ({held},) = entry",
        f"    return _new(Record, ({', '.join(Record._fields)},))",
    ]
    namespace: dict[str, Any] = {"_new": tuple.__new__, "Record": Record}
    exec(compile("\n".join(lines), "<correlog layout: record_from_entry>", "exec"), namespace)
    function = namespace["record_from_entry"]
    function.__doc__ = (
        "The record of an open entry (a list of OPEN_FIELDS), given the fields it does not hold"
        " or holds in short form (CLOSING_FIELDS, positional, in that order)."
    )
    function.__module__ = "correlog"
    return function  # type: ignore[no-any-return]


#: ``record_from_entry(entry, host, end, status, reason, provenance, channel, exit_status,
#: process_id)``: the record an open entry closes with (or a snapshot of it); the correlator's
#: hot paths call it positionally, and :func:`_slot_constants` pins that order.
record_from_entry: Callable[..., Record] = _compile_record_from_entry()


def _slot_constants() -> None:
    """Fail at import (not an assert: ``python -O`` keeps it) if a slot name went missing, or
    if closing an open entry would not give Record's layout."""
    for name in BOOKKEEPING:
        if name not in RECORD_SLOT:
            raise ImportError(f"Record has no bookkeeping field {name!r}")
    # The correlator passes these positionally: a change of Record's order must be seen there.
    closing = ("host", "end", "status", "reason", "provenance", "channel", "exit_status")
    if (*closing, "process_id") != CLOSING_FIELDS:
        raise ImportError(f"record_from_entry takes {CLOSING_FIELDS}: update its callers")


_slot_constants()
