"""Positions come from one place: the layout module, derived from the classes' ``_fields``.

The fold reads an event with one positional unpack (a generated unpack would cost a call per
event); this test reads that unpack in the source and checks it names ``ProcessEvent``'s fields
in their order, so adding or moving a field cannot silently shift what the fold reads. Unlike an
``assert`` at import, it is not stripped by ``python -O``.
"""

from __future__ import annotations

import ast
from pathlib import Path

from hypothesis import given

import correlog
from correlog import ProcessEvent, Reason, Record, merge, single_record
from correlog._layout import (
    CLOSING_FIELDS,
    OPEN_FIELDS,
    OPEN_SLOT,
    record_from_entry,
    record_from_event,
)

from .strategies import any_process_event

SRC = Path(correlog.__file__).parent


def _event_unpacks() -> list[tuple[str, list[str]]]:
    """Every ``(a, b, ...) = ev[:]`` in the library: where, and the names it binds."""
    found = []
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Assign)
                and isinstance(node.value, ast.Subscript)
                and isinstance(node.value.slice, ast.Slice)
                and isinstance(node.targets[0], ast.Tuple)
            ):
                names = [t.id for t in node.targets[0].elts if isinstance(t, ast.Name)]
                found.append((f"{path.name}:{node.lineno}", names))
    return found


def test_every_positional_unpack_of_an_event_names_its_fields_in_order() -> None:
    unpacks = _event_unpacks()
    assert unpacks, "the fold's unpack was not found: update this test with the fold"
    for where, names in unpacks:
        assert [name.lstrip("_") for name in names] == list(ProcessEvent._fields), where


def test_the_fold_opens_an_entry_with_one_slot_per_open_field() -> None:
    """The fold's one list display of a new entry: one slot per field of an open entry, its
    log's key in the host slot, ``first_seen`` where the layout has it (what each slot holds is the
    reference test's to check)."""
    fold = ast.parse((SRC / "_correlator.py").read_text(encoding="utf-8"))
    displays = [
        node
        for node in ast.walk(fold)
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.List)
        and len(node.value.elts) > 10
    ]
    assert len(displays) == 1
    slots = [ast.unparse(element) for element in displays[0].value.elts]  # type: ignore[attr-defined]
    assert len(slots) == len(OPEN_FIELDS)
    named = {"pid", "image", "user", "domain", "logon_id", "layout", "integrity"}
    for field in named:
        assert slots[OPEN_SLOT[field]] == field, field
    assert slots[OPEN_SLOT["host"]] == "log"
    assert slots[OPEN_SLOT["first_seen"]] == "hs.clock"


def test_the_inline_closings_read_the_open_layout_and_build_the_record_layout() -> None:
    """The fold's exit and the eviction write ``record_from_entry`` out: one unpack of the entry
    (``o_<field>`` names, in the order of OPEN_FIELDS) and one tuple display in Record's order,
    each slot the entry holds read from its own ``o_`` local."""
    fold = ast.parse((SRC / "_correlator.py").read_text(encoding="utf-8"))
    unpacks = [
        [t.id for t in node.targets[0].elts if isinstance(t, ast.Name)]
        for node in ast.walk(fold)
        if isinstance(node, ast.Assign)
        and isinstance(node.targets[0], ast.Tuple)
        and isinstance(node.value, ast.Name)
        and node.value.id == "entry"
    ]
    assert len(unpacks) == 2
    for names in unpacks:
        assert [name.lstrip("_").removeprefix("o_") for name in names] == list(OPEN_FIELDS)
    displays = [
        [ast.unparse(element) for element in node.args[1].elts]
        for node in ast.walk(fold)
        if isinstance(node, ast.Call)
        and ast.unparse(node.func) == "_new_record"
        and isinstance(node.args[1], ast.Tuple)
    ]
    assert len(displays) == 2
    for slots in displays:
        assert len(slots) == len(Record._fields)
        for i, field in enumerate(Record._fields):
            if field not in (*CLOSING_FIELDS, "pid"):
                assert slots[i] == f"o_{field}", field
        assert slots[:2] == ["host", "pid"]  # the key of the log's dict it was popped from
        assert slots[Record._fields.index("channel")] == "channel"


@given(event=any_process_event("h", 10**18, None) | any_process_event("h", 5, 7))
def test_an_open_entry_closes_into_the_record_it_holds(event: ProcessEvent) -> None:
    """An open entry holds Record's fields less the ones it is given when it closes; given them,
    ``record_from_entry`` puts every field back where Record has it."""
    record = record_from_event(event, Reason.ORPHAN, 3, True)
    assert set(Record._fields) - set(OPEN_FIELDS) == {"end", "status", "reason", "channel"}
    entry = [getattr(record, name) for name in OPEN_FIELDS]
    entry[OPEN_SLOT["host"]] = "the log's key"
    closing = [getattr(record, name) for name in CLOSING_FIELDS]
    assert record_from_entry(entry, *closing) == record
    assert [name for name in Record._fields if name in CLOSING_FIELDS] == list(CLOSING_FIELDS)


@given(event=any_process_event("h", 10**18, None) | any_process_event("h", 5, 7))
def test_the_one_event_builders_say_what_merge_says(event: ProcessEvent) -> None:
    policy = merge([event])
    record = record_from_event(event, Reason.ORPHAN, 3, True)
    assert {name: getattr(record, name) for name in policy} == policy
    assert (record.reason, record.first_seen, record.audits_lost) == (Reason.ORPHAN, 3, True)
    assert record.provenance == (event.event_id, event.record_number)
    ident = (event.host, event.channel, event.pid, event.time, event.record_number)
    assert record.process_id == ident
    single = single_record(event)
    if single is not None:
        assert single == record._replace(
            reason=Reason.SINGLE, first_seen=event.time, audits_lost=False
        )
