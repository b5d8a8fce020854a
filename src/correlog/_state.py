"""A correlator's state as plain data: what a checkpoint stores, and nothing that runs code.

:meth:`Correlator.state() <correlog.Correlator.state>` returns a dict of JSON-ready values
(text, ints, booleans, None, lists and dicts of them) with a format version;
:meth:`Correlator.from_state() <correlog.Correlator.from_state>` checks it whole before it
builds anything, so a state of another version, or one that is damaged, is refused with a
:class:`~correlog.StateError` and never half-loaded. No pickle: loading a state never runs
code. Events (those waiting in the ordering window) and records (the open entries, in Record's
layout) are written field by field under their names, enums as their values.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Final, TypeVar

from ._errors import StateError
from ._events import Event, EventKind, HostEvent, HostEventKind, Layout, ProcessEvent
from ._records import Reason, Record, Status

__all__ = [
    "CORRELATOR_FORMAT",
    "JSON_OPTIONS",
    "Stream",
    "event_from_data",
    "event_to_data",
    "expect",
    "json_pieces",
    "record_from_data",
    "record_to_data",
]

#: The format of :meth:`Correlator.state`; a different one is refused.
CORRELATOR_FORMAT: Final = "correlog.correlator/1"

_T = TypeVar("_T")

#: Record fields held as enums, and the enum each is read back with.
_RECORD_ENUMS: Final[dict[str, Callable[[Any], Any]]] = {
    "owner_source": EventKind,
    "status": Status,
    "reason": Reason,
    "layout": Layout,
}
_TUPLES: Final = ("provenance", "process_id", "creator_process_id")


def expect(value: Any, kind: type[_T] | tuple[type, ...], what: str) -> _T:
    """``value`` if it is of ``kind``, else a :class:`StateError` naming ``what``."""
    if isinstance(value, bool) and kind is int:
        raise StateError(f"damaged state: {what} is {value!r}, not an integer")
    if not isinstance(value, kind):
        raise StateError(f"damaged state: {what} is {value!r}")
    return value  # type: ignore[return-value]


def _plain_reference(value: Any) -> Any:
    """A field's value as plain data: the rules, as the docs state them (the twin of
    :func:`_plain`, which must give the same for every value)."""
    if isinstance(value, tuple):
        return [_plain_reference(v) for v in value]
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, EventKind | Status | Reason | Layout | HostEventKind):
        return value.value
    return value


#: The exact types a field's value almost always has, and what each becomes: a dict lookup
#: instead of isinstance checks against an ABC and a union of enums.
_UNCHANGED: Final = frozenset({str, int, bool, float, type(None)})
_ENUM_TYPES: Final = frozenset({EventKind, Status, Reason, Layout, HostEventKind})


def _plain(value: Any) -> Any:
    """:func:`_plain_reference`, by exact type first (any other type goes to the reference)."""
    kind = type(value)
    if kind in _UNCHANGED:
        return value
    if kind is tuple:
        return [_plain(v) for v in value]
    if kind in _ENUM_TYPES:
        return value.value
    return _plain_reference(value)


def record_to_data(fields: Any) -> dict[str, Any]:
    """A record, or an open entry in Record's layout, as a dict of plain values."""
    return {name: _plain(value) for name, value in zip(Record._fields, fields, strict=True)}


def record_from_data(data: Any) -> list[Any]:
    """An entry list in Record's layout from :func:`record_to_data`'s output."""
    data = expect(data, dict, "a record")
    if set(data) != set(Record._fields):
        raise StateError(f"damaged state: a record has fields {sorted(data)}")
    out = []
    for name in Record._fields:
        value = data[name]
        try:
            if value is not None and name in _RECORD_ENUMS:
                value = _RECORD_ENUMS[name](value)
            elif name in _TUPLES and value is not None:
                value = tuple(expect(value, list, f"record {name}"))
        except ValueError as exc:
            raise StateError(f"damaged state: record {name} {value!r}") from exc
        out.append(value)
    return out


def event_to_data(event: Event) -> dict[str, Any]:
    """An event as a dict of plain values, with ``"host_event": True`` for a host event."""
    data = {name: _plain(value) for name, value in zip(event._fields, event, strict=True)}
    data["host_event"] = isinstance(event, HostEvent)
    return data


def event_from_data(data: Any) -> Event:
    """The event :func:`event_to_data` wrote."""
    data = dict(expect(data, dict, "an event"))
    host_event = data.pop("host_event", None)
    cls: type[ProcessEvent] | type[HostEvent] = HostEvent if host_event else ProcessEvent
    if set(data) != set(cls._fields):
        raise StateError(f"damaged state: an event has fields {sorted(data)}")
    try:
        if cls is HostEvent:
            data["kind"] = HostEventKind(data["kind"])
            return HostEvent(**data)
        data["kind"] = EventKind(data["kind"])
        if data["layout"] is not None:
            data["layout"] = Layout(data["layout"])
        return ProcessEvent(**data)
    except (TypeError, ValueError) as exc:
        raise StateError(f"damaged state: event {data!r}") from exc


#: How a state becomes JSON text (compact, the text as it is, no NaN).
JSON_OPTIONS: Final[dict[str, Any]] = {
    "ensure_ascii": False,
    "separators": (",", ":"),
    "allow_nan": False,
}
_encode: Final = json.JSONEncoder(**JSON_OPTIONS).encode


class Stream:
    """A list in a state tree whose items are made only as :func:`json_pieces` writes them."""

    __slots__ = ("items",)

    def __init__(self, items: Iterable[Any]) -> None:
        self.items = items


#: What :func:`json_pieces` opens up; any other value is encoded whole.
_NESTED: Final = (dict, Stream)


def _opens(value: Any) -> bool:
    """Whether :func:`json_pieces` writes ``value`` part by part: a dict holding a stream or a
    dict (every other value, a stream's items among them, is encoded whole)."""
    return type(value) is dict and any(type(item) in _NESTED for item in value.values())


def json_pieces(value: Any) -> Iterator[str]:
    """``value`` (a state tree, possibly with :class:`Stream` lists) as JSON text in pieces:
    their concatenation is ``json.dumps(value, **JSON_OPTIONS)`` with every stream a list.
    ``TypeError`` or ``ValueError`` for what is not JSON-ready, as ``json.dumps`` gives."""
    if _opens(value):
        yield "{"
        first = True
        for key, item in value.items():
            if type(key) is not str:
                raise TypeError(f"a state's keys must be str, not {type(key).__name__}")
            yield (_encode(key) if first else "," + _encode(key)) + ":"
            yield from json_pieces(item)
            first = False
        yield "}"
    elif type(value) is Stream:
        yield "["
        first = True
        for item in value.items:
            text = "".join(json_pieces(item)) if _opens(item) else _encode(item)
            yield text if first else "," + text
            first = False
        yield "]"
    else:
        yield _encode(value)
