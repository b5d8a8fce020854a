"""Records and alerts to JSON text without a dict per record: one compiled function per shape.

Theory of operation. The readable reference is ``json.dumps(item.to_json(), ensure_ascii=False,
separators=(",", ":"))``: build a dict, then walk it. Profiles of ``correlog correlate`` put more
than half of its work there. This module writes the same bytes another way:

* The key order is the order of ``Record._fields`` (and of the attrs fields of ``Alert``), which
  is the order ``to_json`` writes. :data:`FIELD_RULES` says only how each field is written: the
  keys it becomes (``provenance`` becomes ``events`` and ``record_numbers``; ``first_seen`` is
  not written) and, per key, a fast expression and a total one. A field without a rule is
  written as JSON writes its value. From that, :func:`_compile` generates two functions per
  shape, each a single f-string whose key prefixes are literal text.
* Values repeat: hosts, users, images, enum values, logon ids, event id lists, whole seconds of
  times and the host CRC of process ids go through bounded memos (:mod:`._memo`), so most values
  cost one dictionary lookup.
* The fast function assumes each field holds its declared type. When it raises (an int too long
  to print, an unhashable value), the item is written again by the careful function, whose every
  expression is total (:mod:`._text`). Nothing is dropped and nothing raises.

``orjson`` (the ``fast`` extra), when installed, writes the free-form mappings (``extra``); its
output is byte-identical to the stdlib's for what it accepts, and what it refuses (lone
surrogates, non-text keys, ints past 64 bits) goes to the stdlib path.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple

import attrs

from .._records import Alert, Record
from ._memo import Memo
from ._text import PROCESS_ID_HEADS, careful, json_string, json_value, process_id_json, time_json

__all__ = ["ENCODER", "FIELD_RULES", "Encoder", "FieldRule"]

Encode = Callable[[Any], str]


class FieldRule(NamedTuple):
    """How one field is written: per JSON key, a fast expression and a total one.

    ``v`` in an expression stands for the field's value; the names are those of
    :meth:`Encoder._names`. No keys: the field is not written.
    """

    keys: tuple[str, ...]
    fast: tuple[str, ...]
    total: tuple[str, ...]


def _plain(name: str, fast: str, total: str = "VALUE(v)") -> FieldRule:
    return FieldRule((name,), (fast,), (total,))


# The time and record number as 16 hex digits each: ``to_bytes(8).hex()`` is about half the
# cost of ``%016x``, and raises for a value outside 0..2**64-1 (the total path masks those).
_PROCESS_ID = (
    'PID_HEAD[v[:3]] + v[3].to_bytes(8).hex() + "-" '
    "+ (NO_RECORD if v[4] is None else v[4].to_bytes(8).hex()) + QUOTE"
)

#: How each known field is written; a field not named here is written as JSON writes its value.
FIELD_RULES: dict[str, FieldRule] = {
    **{  # text that repeats: memoised
        name: _plain(name, "TEXT[v]")
        for name in ("host", "image", "user", "domain", "creator_image", "channel", "integrity")
    },
    "rule": _plain("rule", "TEXT[v]"),
    **{  # enums, written as their value
        name: _plain(name, "TEXT[v]", "ENUM(v)")
        for name in ("owner_source", "status", "reason", "layout")
    },
    # text that rarely repeats: escaped every time
    "command_line": _plain("command_line", '"null" if v is None else STRING(v)'),
    "message": _plain("message", "STRING(v)"),
    # ints: an f-string prints them; one too long to print raises and takes the total path
    "pid": _plain("pid", "v:d"),
    **{
        name: _plain(name, '"null" if v is None else format(v, "d")')
        for name in ("creator_pid", "exit_status", "event_id")
    },
    "logon_id": _plain("logon_id", "LOGON[v]", "LOGON_TOTAL(v)"),
    **{name: _plain(name, "TIME[v]", "TIME_TOTAL(v)") for name in ("start", "end", "time")},
    "provenance": FieldRule(
        ("events", "record_numbers"),
        # one %d per record number, by count: None (no record number) raises, to the total path
        ("EVENTS[v[0::2]]", "INTS[len(v)] % v[1::2]"),
        ("EVENTS_TOTAL(v)", "RECORD_NUMBERS_TOTAL(v)"),
    ),
    "first_seen": FieldRule((), (), ()),
    "extra": _plain("extra", '"null" if v is None else MAPPING(v)'),
    # Process ids inline (a call per id costs more than the formatting): the memoised
    # '"<host CRC>-<pid>-' head, then the time and record number in hex.
    "process_id": _plain("process_id", _PROCESS_ID, "PROCESS_ID_TOTAL(v)"),
    "creator_process_id": _plain(
        "creator_process_id", '"null" if v is None else ' + _PROCESS_ID, "PROCESS_ID_TOTAL(v)"
    ),
    "audits_lost": _plain(
        "audits_lost", '"true" if v is True else "false" if v is False else VALUE(v)'
    ),
    # an alert on a host event (a cleared log) has no record
    "record": _plain("record", '"null" if v is None else RECORD(v)', "RECORD_TOTAL(v)"),
}

#: Fields holding a whole nested object, written after the flat fields (an alert's record).
NESTED = frozenset({"record"})


def _string(value: str | None) -> str:
    return "null" if value is None else json_string(value)


def _enum(value: Any) -> str:
    return "null" if value is None else json_value(str(value))


def _logon(value: int | None) -> str:
    return "null" if value is None else f'"0x{value:x}"'


def _events(ids: tuple[int | None, ...]) -> str:
    return json_value([e for e in ids if e is not None])


def _ints_template(count: int) -> str:
    """``[%d,...]`` for the record numbers of a provenance of ``count`` items (pairs)."""
    return "[" + ",".join(["%d"] * (count // 2)) + "]"


def _mapping_stdlib(value: Mapping[str, str] | None) -> str:
    return "null" if value is None else json_value(value)


def _mapping_orjson(dumps: Callable[[Any], bytes]) -> Encode:
    def mapping(value: Mapping[str, str] | None) -> str:
        if value is None:
            return "null"
        try:
            return dumps(value if type(value) is dict else dict(value)).decode()
        except Exception:  # what orjson refuses, the stdlib path writes
            return json_value(value)

    return mapping


def _orjson_dumps() -> Callable[[Any], bytes] | None:
    try:
        import orjson
    except ImportError:
        return None
    dumps: Callable[[Any], bytes] = orjson.dumps
    return dumps


def field_names(cls: type) -> tuple[str, ...]:
    """The fields of a record or alert class, in the order ``to_json`` writes them."""
    if attrs.has(cls):
        return tuple(f.name for f in attrs.fields(cls))
    names: tuple[str, ...] = cls._fields  # type: ignore[attr-defined]
    return names


_V = re.compile(r"\bv\b")


def _source(cls: type, names: tuple[str, ...], which: str) -> str:
    """The source of ``def encode(item)`` writing ``cls`` with the ``fast`` or ``total`` rules."""
    parts: list[str] = []
    order = sorted(range(len(names)), key=lambda i: names[i] in NESTED)
    for i in order:
        name = names[i]
        rule = FIELD_RULES.get(name) or _plain(name, "VALUE(v)")
        for key, expr in zip(rule.keys, getattr(rule, which), strict=True):
            parts.append(f',"{key}":{{{_V.sub(f"_{i}", expr)}}}')
    body = "".join(parts)[1:]
    if attrs.has(cls):
        unpack = "\n".join(f"    _{i} = item.{name}" for i, name in enumerate(names))
    else:
        unpack = "    " + ", ".join(f"_{i}" for i in range(len(names))) + ", = item"
    return f"def encode(item):\n{unpack}\n    return f'{{{{{body}}}}}'\n"


def _compile(cls: type, which: str, namespace: dict[str, Any]) -> Encode:
    source = _source(cls, field_names(cls), which)
    code = compile(source, f"<correlog.output {which} encoder for {cls.__name__}>", "exec")
    exec(code, namespace)  # the source is built from field names and FIELD_RULES only
    encode: Encode = namespace.pop("encode")
    encode.__doc__ = source  # the generated source, for whoever debugs it
    return encode


class Encoder:
    """Records and alerts to compact JSON text: the bytes of the readable reference.

    ``Encoder(use_orjson=False)`` never uses orjson (to compare the two paths); the default uses
    it when it is installed. Other objects with a ``to_json()`` method (Sigma matches) are
    written from that dict. :meth:`text` never raises.
    """

    def __init__(self, *, use_orjson: bool | None = None) -> None:
        dumps = None if use_orjson is False else _orjson_dumps()
        if use_orjson and dumps is None:
            raise ImportError("orjson is not installed (the 'fast' extra)")
        #: Whether orjson writes the free-form mappings.
        self.orjson = dumps is not None
        self._names: dict[str, Any] = {
            "TEXT": Memo(_string, 8192),
            "LOGON": Memo(_logon, 4096),
            "TIME": Memo(time_json, 4096),
            "EVENTS": Memo(_events, 1024),
            "INTS": Memo(_ints_template, 64),
            "STRING": _string,
            "MAPPING": _mapping_stdlib if dumps is None else _mapping_orjson(dumps),
            "PID_HEAD": PROCESS_ID_HEADS,
            "NO_RECORD": "f" * 16,  # no record number: all ones, as process_id_json writes it
            "QUOTE": '"',  # an f-string's expression cannot hold its own quote (before 3.12)
            "VALUE": json_value,
            "RECORD": self.text,
            "RECORD_TOTAL": lambda v: "null" if v is None else self.text(v),
            "ENUM": careful(_enum),
            "LOGON_TOTAL": careful(_logon),
            "TIME_TOTAL": time_json,
            "PROCESS_ID_TOTAL": careful(process_id_json),
            "EVENTS_TOTAL": careful(lambda v: _events(v[0::2])),
            "RECORD_NUMBERS_TOTAL": careful(lambda v: json_value(list(v[1::2]))),
        }
        self._by_type: dict[type, Encode] = {}
        self._fast: dict[type, Encode] = {}

    def _encoder(self, cls: type) -> Encode:
        if cls is Record or cls is Alert:
            fast = self._fast[cls] = _compile(cls, "fast", self._names)
            total = _compile(cls, "total", self._names)

            def encode(item: Any) -> str:
                try:
                    return fast(item)
                except Exception:
                    return total(item)

        else:

            def encode(item: Any) -> str:
                return json_value(item.to_json())

        self._by_type[cls] = encode
        return encode

    def text(self, item: Any) -> str:
        """One compact JSON object (no newline) for a record, an alert or a match."""
        try:
            encode = self._by_type[type(item)]
        except KeyError:
            encode = self._encoder(type(item))
        return encode(item)

    def lines(self, items: Iterable[Any]) -> str:
        """The JSON lines of ``items``, each ending in a newline, as one text: what
        :meth:`text` gives for each. A list of records only (a batch of ``correlate``) is
        written by the fast function alone, with no call per record in between; if it raises
        for one of them, the batch is written item by item."""
        items = items if type(items) is list else list(items)
        out = None
        if items and set(map(type, items)) == _RECORDS_ONLY:
            fast = self._fast.get(Record) or self._compiled_fast(Record)
            try:
                out = "\n".join(map(fast, items))
            except Exception:  # a value the fast function does not take: item by item
                out = None
        if out is None:
            out = "\n".join(map(self.text, items))
        return out + "\n" if out else ""

    def _compiled_fast(self, cls: type) -> Encode:
        self._encoder(cls)
        return self._fast[cls]


_RECORDS_ONLY = {Record}

#: The encoder :func:`correlog.output.json_text` uses (orjson when installed).
ENCODER = Encoder()
