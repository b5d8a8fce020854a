"""JSON text for single values, total: every function here returns text for any input it is given.

The reference for every byte is ``json.dumps(item.to_json(), ensure_ascii=False,
separators=(",", ":"))``. Where that reference raises or writes text a UTF-8 stream cannot take,
these helpers choose, and ``docs/output.md`` documents the choice:

* a lone surrogate (``"\\ud800"``, which ``surrogateescape`` decoding leaves in text) is written
  as its JSON escape ``\\ud800``, as ``ensure_ascii=True`` would write it: the line stays valid
  UTF-8 and a JSON reader gets the same string back;
* an int whose decimal text is longer than the interpreter allows (4,300 digits by default) is
  written as a JSON string of its hexadecimal form, ``"0x..."``;
* a time outside years 1-9999 is written as :func:`correlog.iso` writes it, with an expanded
  year (a sign and at least four digits, ``"+10000-01-01T00:00:00.000000000Z"``); a time too
  large for any calendar (a year of thousands of digits) as ``"0x...ns"``.

Every time is written by :func:`correlog.iso` with :data:`~correlog._time.DECIMALS` fraction
digits (:func:`time_json`) or fewer (:func:`fixed_time`, the table's milliseconds), through one
memo of whole seconds whose text ``iso`` wrote.
"""

from __future__ import annotations

import enum
import json
import re
import zlib
from collections.abc import Callable, Mapping
from json.encoder import encode_basestring
from typing import Any

from .._records import host_seed
from .._time import DECIMALS, NS_PER_SECOND, iso
from ._memo import Memo

__all__ = [
    "fixed_time",
    "json_int",
    "json_string",
    "json_value",
    "process_id_json",
    "time_json",
]

_SURROGATE = re.compile("[\ud800-\udfff]")
_M32 = 0xFFFF_FFFF
_M64 = 0xFFFF_FFFF_FFFF_FFFF


def _escape_surrogate(match: re.Match[str]) -> str:
    return f"\\u{ord(match[0]):04x}"


def json_string(value: str) -> str:
    """``value`` as a JSON string literal, non-ASCII kept, lone surrogates escaped."""
    text: str = encode_basestring(value)
    if text.isascii() or _SURROGATE.search(text) is None:
        return text
    return _SURROGATE.sub(_escape_surrogate, text)


def json_int(value: int) -> str:
    """An int as JSON; one too long for the interpreter's int-to-text limit as ``"0x..."``."""
    try:
        return int.__repr__(value)
    except ValueError:
        return f'"{value:#x}"'


def _key(key: object) -> str:
    # json.dumps turns these keys into strings; anything else it refuses, and we write its str.
    if isinstance(key, str):
        return key
    if key is None or isinstance(key, bool):
        return json.dumps(key)
    if isinstance(key, int):
        return json_int(key).strip('"')
    if isinstance(key, float):
        return json.dumps(key)
    return str(key)


def json_value(value: Any) -> str:
    """Any value as compact JSON text, as ``json.dumps`` writes it, and never an error.

    Strings, numbers, booleans, None, mappings and sequences as JSON writes them; anything else
    as the JSON string of its ``str``.
    """
    if value is None:
        return "null"
    if isinstance(value, str):
        return json_string(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return json_int(value)
    if isinstance(value, float):
        return json.dumps(value)
    if isinstance(value, Mapping):
        items = ",".join(f"{json_string(_key(k))}:{json_value(v)}" for k, v in value.items())
        return "{" + items + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(json_value(v) for v in value) + "]"
    if isinstance(value, enum.Enum):
        return json_value(value.value)
    return json_string(str(value))


def _whole_second(secs: int) -> str:
    """``YYYY-MM-DDTHH:MM:SS`` (no zone) of a whole second, as :func:`correlog.iso` writes it.

    Raises ``ValueError`` only for a year too long to write (thousands of digits).
    """
    text = iso(secs * NS_PER_SECOND, 0)
    assert text is not None
    return text[:-1]


#: The text of each recent whole second: one ``iso`` call per second of data, not per time.
SECONDS: Memo[int, str] = Memo(_whole_second, 4096)


def fixed_time(ns: int | None, decimals: int = DECIMALS, *, sep: str = "T", zone: str = "Z") -> str:
    """``iso(ns, decimals)`` from the memo of whole seconds; never raises.

    ``fixed_time(t, 3, sep=" ", zone="")`` is the table's ``2003-03-04 09:15:00.000``. ``None``
    is the empty text; a time beyond any calendar is its nanoseconds in hex, ``0x...ns``.
    """
    if ns is None:
        return ""
    secs, frac = divmod(ns, NS_PER_SECOND)
    try:
        head = SECONDS[secs]
    except ValueError:  # beyond any calendar: thousands of digits
        return f"{ns:#x}ns"
    if sep != "T":
        head = head.replace("T", sep, 1)
    if decimals > 0:
        return f"{head}.{f'{frac:09d}'[:decimals]}{zone}"
    return head + zone


def time_json(ns: int | None) -> str:
    """A time (ns since the epoch) as the JSON string of ``iso(ns, DECIMALS)``; never raises."""
    if ns is None:
        return "null"
    secs, frac = divmod(ns, NS_PER_SECOND)
    try:
        head = SECONDS[secs]
    except ValueError:  # beyond any calendar: thousands of digits
        return f'"{ns:#x}ns"'
    return f'"{head}.{frac:09d}Z"'


def _seed(host: str, channel: str | None) -> int:
    try:
        return host_seed(host, channel)
    except UnicodeEncodeError:
        # A lone surrogate in the host: hash its code points as they are, so two such hosts
        # still get distinct ids.
        return zlib.crc32(f"{host}\x00{channel or ''}".encode("utf-8", "surrogatepass"))


def _process_id_head(key: tuple[str, str | None, int]) -> str:
    host, channel, pid = key
    return f'"{_seed(host, channel):08x}-{pid & _M32:08x}-'


#: ``"<host CRC>-<pid>-`` of each recent (host, log, pid): the CRC is computed once per host.
PROCESS_ID_HEADS: Memo[tuple[str, str | None, int], str] = Memo(_process_id_head, 4096)


def process_id_json(value: tuple[str, str | None, int, int, int | None] | None) -> str:
    """A process id as the JSON string :func:`correlog.format_process_id` gives."""
    if value is None:
        return "null"
    host, channel, pid, time, rn = value
    tail = _M64 if rn is None else rn & _M64
    # %-formatting parses its spec faster than an f-string's format() calls here.
    return '%s%016x-%016x"' % (PROCESS_ID_HEADS[host, channel, pid], time & _M64, tail)  # noqa: UP031


def careful(fn: Callable[[Any], str]) -> Callable[[Any], str]:
    """``fn``, or :func:`json_value` of its argument when ``fn`` raises (never an error)."""

    def total(value: Any) -> str:
        try:
            return fn(value)
        except Exception:
            return json_value(value)

    return total
