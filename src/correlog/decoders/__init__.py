"""Decoders: one Windows event (id + strings, rendered text, or named fields) -> one event.

Decoders are pure functions with no I/O: readers find the event id, host, time and record
number in their transport and hand the rest here. An id a decoder does not know decodes to
``None``; a known id whose values cannot be read raises :class:`~correlog.ParseError`.
:data:`MESSAGE_DECODERS` and :data:`STRING_DECODERS` map each legacy id to its decoder,
:data:`VISTA_DECODERS` and :data:`SYSMON_DECODERS` each Vista+ Security and Sysmon id to a
decoder of named fields; all are called positionally, which is how readers call them on their
hot path. :func:`fields_decoders` says which table serves a log. :func:`clear_caches` empties
the decoders' memos (raw text -> normalized value), for tests that need a cold start.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from .._memo import Memo, clear_caches
from .legacy import (
    EVENT_IDS,
    MESSAGE_DECODERS,
    PROCESS_EVENT_IDS,
    STRING_DECODERS,
    MessageDecoder,
    StringsDecoder,
    decode_message,
    decode_strings,
)
from .sysmon import SYSMON_DECODERS, decode_sysmon
from .vista import INTEGRITY_LEVELS, VISTA_DECODERS, FieldsDecoder, decode_fields

__all__ = [
    "EVENT_IDS",
    "INTEGRITY_LEVELS",
    "MESSAGE_DECODERS",
    "PROCESS_EVENT_IDS",
    "STRING_DECODERS",
    "SYSMON_DECODERS",
    "VISTA_DECODERS",
    "FieldsDecoder",
    "MessageDecoder",
    "StringsDecoder",
    "clear_caches",
    "decode_fields",
    "decode_message",
    "decode_strings",
    "decode_sysmon",
    "fields_decoders",
]

_SECURITY_PROVIDERS: Final = frozenset(
    {"microsoft-windows-security-auditing", "microsoft-windows-eventlog"}
)


def _table_for(key: tuple[str | None, str | None]) -> Mapping[int, FieldsDecoder] | None:
    channel, provider = key
    # JSON may hold anything there: what is not text names no log.
    name = channel.strip().casefold() if isinstance(channel, str) else ""
    source = provider.strip().casefold() if isinstance(provider, str) else ""
    if name == "security":
        return VISTA_DECODERS
    if name.startswith("microsoft-windows-sysmon") or source == "microsoft-windows-sysmon":
        return SYSMON_DECODERS
    if not name and source in _SECURITY_PROVIDERS:
        return VISTA_DECODERS
    return None


# (channel, provider) as a log spells them -> its decoder table: a handful of keys in practice.
_TABLES: Final[Memo[tuple[str | None, str | None], Mapping[int, FieldsDecoder] | None]] = Memo(
    _table_for, 256
)


def fields_decoders(
    channel: str | None, provider: str | None = None
) -> Mapping[int, FieldsDecoder] | None:
    """The decoder table for events of this log (``Channel``) and provider, or None.

    ``Security`` -> :data:`VISTA_DECODERS`; ``Microsoft-Windows-Sysmon/Operational`` (or the
    ``Microsoft-Windows-Sysmon`` provider) -> :data:`SYSMON_DECODERS`. Without a channel the
    provider decides (the Security-Auditing and Eventlog providers write the Security log).
    Any other log is None: its events are not process events. Case does not matter.
    """
    return _TABLES[(channel, provider)]
