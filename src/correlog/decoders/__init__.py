"""Decoders: one Windows event (id + insertion strings, or id + rendered text) -> one event.

Decoders are pure functions with no I/O: readers find the event id, host, time and record
number in their transport and hand the rest here. An id a decoder does not know decodes to
``None``; a known id whose values cannot be read raises :class:`~correlog.ParseError`.
:data:`MESSAGE_DECODERS` and :data:`STRING_DECODERS` map each known id to its decoder, called
positionally, which is how readers call them on their hot path.
"""

from __future__ import annotations

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

__all__ = [
    "EVENT_IDS",
    "MESSAGE_DECODERS",
    "PROCESS_EVENT_IDS",
    "STRING_DECODERS",
    "MessageDecoder",
    "StringsDecoder",
    "decode_message",
    "decode_strings",
]
