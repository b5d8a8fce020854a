"""JSON text for single values, total: every function here returns text for any input it is given.

The reference for every byte is ``json.dumps(item.to_json(), ensure_ascii=False,
separators=(",", ":"))``. Where that reference raises or writes text a UTF-8 stream cannot take,
these helpers choose, and ``docs/output.md`` documents the choice:

* a lone surrogate (``"\\ud800"``, which ``surrogateescape`` decoding leaves in text) is written
  as its JSON escape ``\\ud800``, as ``ensure_ascii=True`` would write it: the line stays valid
  UTF-8 and a JSON reader gets the same string back;
* an int whose decimal text is longer than the interpreter allows (4,300 digits by default) is
  written as a JSON string of its hexadecimal form, ``"0x..."``;
* a time outside years 1-9999 is written as :func:`correlog.iso` writes it when it can, else as
  ISO 8601 with an expanded year (a sign and at least four digits, ``"+10000-01-01T00:00:00Z"``,
  as :func:`correlog.iso` writes it); a time too large for any calendar (a year of thousands of
  digits) as ``"0x...ns"``.
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
from .._time import NS_PER_SECOND, iso
from ._memo import Memo

__all__ = [
    "expanded_iso",
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


def _civil(days: int) -> tuple[int, int, int]:
    """Year, month, day of ``days`` since 1970-01-01, proleptic Gregorian, for any int.

    Howard Hinnant's ``civil_from_days``: integer arithmetic only, so no range limit.
    """
    days += 719_468
    era = days // 146_097
    doe = days - era * 146_097
    yoe = (doe - doe // 1_460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (month <= 2), month, day


def expanded_iso(ns: int) -> str:
    """ISO 8601 UTC text with an expanded year (``+10000-01-01T00:00:00Z``), for any int.

    Fractions as :func:`correlog.iso` writes them. Raises ``ValueError`` only for a year too
    long to write (thousands of digits).
    """
    secs, frac = divmod(ns, NS_PER_SECOND)
    days, rest = divmod(secs, 86_400)
    year, month, day = _civil(days)
    year_text = f"{'-' if year < 0 else '+'}{abs(year):04d}"
    clock = f"{rest // 3600:02d}:{rest // 60 % 60:02d}:{rest % 60:02d}"
    fraction = f".{frac:09d}".rstrip("0") if frac else ""
    return f"{year_text}-{month:02d}-{day:02d}T{clock}{fraction}Z"


def _whole_second(secs: int) -> str:
    """``"YYYY-MM-DDTHH:MM:SS`` (opening quote, no zone) of a whole second, as iso writes it."""
    ns = secs * NS_PER_SECOND
    try:
        text = iso(ns)
    except (OverflowError, ValueError):
        text = None
    if text is None or not text.endswith("Z"):
        text = expanded_iso(ns)
    return '"' + text[:-1]


#: The text of each recent whole second: one ``iso`` call per second of data, not per time.
SECONDS: Memo[int, str] = Memo(_whole_second, 4096)


def time_json(ns: int | None) -> str:
    """A time (ns since the epoch) as the JSON string :func:`correlog.iso` gives; never raises."""
    if ns is None:
        return "null"
    secs, frac = divmod(ns, NS_PER_SECOND)
    try:
        head = SECONDS[secs]
    except ValueError:  # beyond any calendar: thousands of digits
        return f'"{ns:#x}ns"'
    if frac:
        return f"{head}.{frac:09d}".rstrip("0") + 'Z"'
    return head + 'Z"'


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
