"""Decoders for the legacy (NT4, 2000, XP, 2003) Security events: 592, 593, 600, 512, 516, 517.

Two entry points take the same event two ways. :func:`decode_strings` takes the record's
insertion strings, which is what a binary ``.evt`` file and LogParser's ``Strings`` column keep;
:func:`decode_message` takes the rendered message text, which is all that Snare, EventReporter,
OSSEC and Event Viewer's CSV export keep. Both build the event through the same code once the
values are pulled out, so they cannot disagree on normalization (the test suite checks that they
also agree on extraction, for generated values).

Rendered messages are read by their labels, in the documented order, not by position: transports
collapse newlines and tabs into spaces, or drop them (Snare prints ``Domain: LE5678WSPLogon ID:``),
and values may hold spaces (``NT AUTHORITY``, ``C:\\Program Files\\x.exe``). A value runs from one
label to the next. Only a value holding a later label could be misread, and every label ends
with a colon, which Windows forbids in account, domain and file names. The labels are the
English ones: a localized message raises :class:`~correlog.ParseError`, so prefer insertion
strings when a transport has both.

Which account an event names, and why ``own_account`` differs: a 592 names its *creator's*
primary token (SYSTEM for every child of an IIS worker), a 593 the exiting process's own token,
and a 600 the token the new process was given (its *target* account). The 600's assigning
process becomes the event's ``creator_pid`` / ``creator_image``; its primary account (the
assigning thread's effective, possibly impersonated, token) says nothing about the new process
and is dropped.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from itertools import pairwise
from types import MappingProxyType
from typing import Final

from .._errors import Malformed
from .._events import (
    APID_THRESHOLD,
    Event,
    EventKind,
    HostEvent,
    HostEventKind,
    Layout,
    ProcessEvent,
)
from ._common import (
    HOSTS,
    LOGONS,
    SHORT_DECIMAL,
    VALUES,
    host_name,
    new_event,
    optional_pid,
    process_id,
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

#: The process events this module decodes.
PROCESS_EVENT_IDS: Final = frozenset({592, 593, 600})
#: Every event id this module decodes; any other id decodes to ``None``.
EVENT_IDS: Final = frozenset({512, 516, 517, *PROCESS_EVENT_IDS})

_CREATED: Final = EventKind.CREATED
_TOKEN: Final = EventKind.TOKEN_ASSIGNED
_EXITED: Final = EventKind.EXITED
_NT4_2000: Final = Layout.NT4_2000
_XP_2003: Final = Layout.XP_2003
_APID: Final = APID_THRESHOLD

# -- reading rendered messages -------------------------------------------------------------------
# A message is a sequence of labels, each followed by its value; a value runs up to the first
# occurrence of the next label. The patterns are built from the label lists below rather than
# written by hand, and each value is scanned in the "unrolled" form: a possessive run of
# characters that cannot start the next label, then one such character not followed by the rest
# of it, and so on. That finds the same first occurrence as a lazy ``(.*?)`` but without
# trying the label at every character, which measured about 1.5x faster (these run per line).


def _label(text: str) -> str:
    """A label's regex: words may be separated by any whitespace, and a colon may be followed
    by none at all (``Information:Process ID:``)."""
    out = []
    for word in text.split():
        out.append(re.escape(word))
        out.append(r"\s*" if word.endswith(":") else r"\s+")
    return "".join(out[:-1])


def _value_before(*labels: str) -> str:
    """A capturing group for a value that ends where the first of ``labels`` begins."""
    by_first: dict[str, list[str]] = {}
    for label in labels:
        if not label[0].isalpha():
            raise ValueError(f"labels start with a letter: {label!r}")
        regex = _label(label)
        by_first.setdefault(regex[0], []).append(regex[1:])
    firsts = "".join(by_first)
    stops = "|".join(
        first + "".join(f"(?!{rest})" for rest in rests) for first, rests in by_first.items()
    )
    return f"([^{firsts}]*+(?:(?:{stops})[^{firsts}]*+)*+)"


def _message(*labels: str) -> Callable[[str], re.Match[str] | None]:
    """The search function for a message with these labels, in order, each followed by a value.

    The last value is a logon id, of which only the token is taken (a parenthesised pair, else
    one word), so a transport may append text after the message without breaking it. DOTALL:
    NT4 and Event Viewer keep the message's newlines.
    """
    parts = []
    for label, following in pairwise(labels):
        parts.append(_label(label) + _value_before(following))
    parts.append(_label(labels[-1]) + r"\s*(\([^)]*\)|\S*)")
    return re.compile("".join(parts), re.DOTALL).search


_MSG_592: Final = _message(
    "New Process ID:",
    "Image File Name:",
    "Creator Process ID:",
    "User Name:",
    "Domain:",
    "Logon ID:",
)
# Windows 2000 logs 593 without the image label, XP/2003 with it: the pid runs up to whichever
# comes first, and the image part is optional.
_MSG_593: Final = re.compile(
    _label("Process ID:")
    + _value_before("Image File Name:", "User Name:")
    + "(?:"
    + _label("Image File Name:")
    + _value_before("User Name:")
    + ")?"
    + _label("User Name:")
    + _value_before("Domain:")
    + _label("Domain:")
    + _value_before("Logon ID:")
    + _label("Logon ID:")
    + r"\s*(\([^)]*\)|\S*)",
    re.DOTALL,
).search
_MSG_600: Final = _message(
    "Process ID:",
    "Image File Name:",
    "Primary User Name:",
    "Primary Domain:",
    "Primary Logon ID:",
    "New Process Information: Process ID:",
    "Image File Name:",
    "Target User Name:",
    "Target Domain:",
    "Target Logon ID:",
)
_MSG_516: Final = re.compile(r"discarded:\s*(\S*)").search


def decode_strings(
    event_id: int,
    strings: Sequence[str],
    *,
    host: str,
    time: int,
    record_number: int | None = None,
) -> ProcessEvent | HostEvent | None:
    """Decode a legacy event from its insertion strings (in the record's order, 0-based here).

    ``host`` is the record's computer name as the source spells it (it is case-folded here);
    ``time`` is integer nanoseconds since the epoch, UTC. Returns ``None`` for an event id this
    module does not know (a logon 528, say): that is not an error. Raises
    :class:`~correlog.ParseError` when a known event has the wrong number of strings or a value
    that cannot be read (a process id that is not a number, say).

    Layouts (see ``docs/formats.md``): 592 has 6 strings; 593 has 4 (NT4/2000, no image) or 5
    (XP/2003); 600 has 10; 512 none; 516 one, the number of audits discarded; 517 six.
    """
    decoder = STRING_DECODERS.get(event_id)
    if decoder is None:
        return None
    return decoder(strings, host, time, record_number)


def decode_message(
    event_id: int,
    text: str,
    *,
    host: str,
    time: int,
    record_number: int | None = None,
) -> ProcessEvent | HostEvent | None:
    """Decode a legacy event from its rendered (English) message text.

    Same arguments, result and errors as :func:`decode_strings`. The text may have its
    whitespace collapsed or removed between a value and the next label, and ``-`` for a missing
    value. A 593 is read as the XP/2003 layout when it has an ``Image File Name:`` label, else as
    NT4/2000.
    """
    decoder = MESSAGE_DECODERS.get(event_id)
    if decoder is None:
        return None
    return decoder(text, host, time, record_number)


# -- per event: insertion strings ---------------------------------------------------------------


def _strings_592(strings: Sequence[str], host: str, time: int, record: int | None) -> Event:
    if len(strings) != 6:
        raise _wrong_count(592, "6", len(strings), record)
    pid_s, image_s, cpid_s, user_s, domain_s, logon_s = strings
    return _created(host, time, record, pid_s, image_s, cpid_s, user_s, domain_s, logon_s)


def _strings_593(strings: Sequence[str], host: str, time: int, record: int | None) -> Event:
    count = len(strings)
    if count == 5:
        pid_s, image_s, user_s, domain_s, logon_s = strings
        return _exited(host, time, record, pid_s, image_s, user_s, domain_s, logon_s, _XP_2003)
    if count == 4:
        pid_s, user_s, domain_s, logon_s = strings
        return _exited(host, time, record, pid_s, None, user_s, domain_s, logon_s, _NT4_2000)
    raise _wrong_count(593, "4 (NT4/2000) or 5 (XP/2003)", count, record)


def _strings_600(strings: Sequence[str], host: str, time: int, record: int | None) -> Event:
    if len(strings) != 10:
        raise _wrong_count(600, "10", len(strings), record)
    s = strings
    return _token(host, time, record, s[0], s[1], s[5], s[6], s[7], s[8], s[9])


def _strings_512(strings: Sequence[str], host: str, time: int, record: int | None) -> Event:
    return _host_event(512, host, time, record, None)


def _strings_516(strings: Sequence[str], host: str, time: int, record: int | None) -> Event:
    return _host_event(516, host, time, record, strings[0] if strings else None)


def _strings_517(strings: Sequence[str], host: str, time: int, record: int | None) -> Event:
    return _host_event(517, host, time, record, None)


# -- per event: rendered message -----------------------------------------------------------------


def _message_592(text: str, host: str, time: int, record: int | None) -> Event:
    m = _MSG_592(text)
    if m is None:
        raise _unreadable(592, text, record)
    pid_s, image_s, cpid_s, user_s, domain_s, logon_s = m.groups()
    return _created(host, time, record, pid_s, image_s, cpid_s, user_s, domain_s, logon_s)


def _message_593(text: str, host: str, time: int, record: int | None) -> Event:
    m = _MSG_593(text)
    if m is None:
        raise _unreadable(593, text, record)
    pid_s, image_s, user_s, domain_s, logon_s = m.groups()
    layout = _NT4_2000 if image_s is None else _XP_2003
    return _exited(host, time, record, pid_s, image_s, user_s, domain_s, logon_s, layout)


def _message_600(text: str, host: str, time: int, record: int | None) -> Event:
    m = _MSG_600(text)
    if m is None:
        raise _unreadable(600, text, record)
    g = m.groups()
    return _token(host, time, record, g[0], g[1], g[5], g[6], g[7], g[8], g[9])


def _message_512(text: str, host: str, time: int, record: int | None) -> Event:
    return _host_event(512, host, time, record, None)


def _message_516(text: str, host: str, time: int, record: int | None) -> Event:
    found = _MSG_516(text)
    return _host_event(516, host, time, record, None if found is None else found[1])


def _message_517(text: str, host: str, time: int, record: int | None) -> Event:
    return _host_event(517, host, time, record, None)


# -- building events -----------------------------------------------------------------------------
# One builder per kind serves both entry points. The common case is inlined (a decimal pid, a
# host, logon id or string seen before): these run once per input line.


def _created(
    host: str,
    time: int,
    record: int | None,
    pid_s: str,
    image_s: str,
    cpid_s: str,
    user_s: str,
    domain_s: str,
    logon_s: str,
) -> ProcessEvent:
    try:
        s = pid_s.strip()
        pid = (
            int(s)
            if s.isdecimal() and len(s) < SHORT_DECIMAL
            else process_id(s, "New Process ID", 592, record)
        )
        s = cpid_s.strip()
        cpid = (
            int(s)
            if s.isdecimal() and len(s) < SHORT_DECIMAL
            else optional_pid(s, "Creator Process ID", 592, record)
        )
        # 592 looks the same on every platform; only an APID tells NT4/2000 apart.
        layout = _NT4_2000 if pid >= _APID or (cpid is not None and cpid >= _APID) else None
        return new_event(
            ProcessEvent,
            (
                _CREATED,
                HOSTS[host],
                pid,
                time,
                592,
                record,
                VALUES[image_s],
                VALUES[user_s],
                VALUES[domain_s],
                LOGONS[logon_s],
                False,
                cpid,
                None,
                layout,
                None,
                None,
                None,
                None,
                None,
            ),
        )
    except Malformed as exc:
        raise exc.with_record(record) from None


def _exited(
    host: str,
    time: int,
    record: int | None,
    pid_s: str,
    image_s: str | None,
    user_s: str,
    domain_s: str,
    logon_s: str,
    layout: Layout,
) -> ProcessEvent:
    try:
        s = pid_s.strip()
        pid = (
            int(s)
            if s.isdecimal() and len(s) < SHORT_DECIMAL
            else process_id(s, "Process ID", 593, record)
        )
        return new_event(
            ProcessEvent,
            (
                _EXITED,
                HOSTS[host],
                pid,
                time,
                593,
                record,
                None if image_s is None else VALUES[image_s],
                VALUES[user_s],
                VALUES[domain_s],
                LOGONS[logon_s],
                True,
                None,
                None,
                layout,
                None,
                None,
                None,
                None,
                None,
            ),
        )
    except Malformed as exc:
        raise exc.with_record(record) from None


def _token(
    host: str,
    time: int,
    record: int | None,
    assigning_pid_s: str,
    assigning_image_s: str,
    pid_s: str,
    image_s: str,
    user_s: str,
    domain_s: str,
    logon_s: str,
) -> ProcessEvent:
    try:
        s = pid_s.strip()
        pid = (
            int(s)
            if s.isdecimal() and len(s) < SHORT_DECIMAL
            else process_id(s, "new Process ID", 600, record)
        )
        s = assigning_pid_s.strip()
        cpid = (
            int(s)
            if s.isdecimal() and len(s) < SHORT_DECIMAL
            else optional_pid(s, "assigning Process ID", 600, record)
        )
        return new_event(
            ProcessEvent,
            (
                _TOKEN,
                HOSTS[host],
                pid,
                time,
                600,
                record,
                VALUES[image_s],
                VALUES[user_s],
                VALUES[domain_s],
                LOGONS[logon_s],
                True,
                cpid,
                VALUES[assigning_image_s],
                _XP_2003,
                None,
                None,
                None,
                None,
                None,
            ),
        )
    except Malformed as exc:
        raise exc.with_record(record) from None


_HOST_KINDS: Final = {
    512: HostEventKind.HOST_STARTED,
    516: HostEventKind.AUDITS_DISCARDED,
    517: HostEventKind.LOG_CLEARED,
}


def _host_event(
    event_id: int, host: str, time: int, record: int | None, count_s: str | None
) -> HostEvent:
    count = None
    if count_s is not None:
        stripped = count_s.strip()
        if stripped and stripped != "-":
            if not (stripped.isascii() and stripped.isdigit() and len(stripped) < SHORT_DECIMAL):
                raise Malformed(
                    "bad count",
                    f"event 516 says {stripped[:40]!r} audits were discarded, not a number",
                    record=record,
                )
            count = int(stripped)
    return new_event(
        HostEvent, (_HOST_KINDS[event_id], host_name(host, record), time, event_id, record, count)
    )


def _wrong_count(event_id: int, expected: str, got: int, record: int | None) -> Malformed:
    return Malformed(
        "wrong number of strings",
        f"event {event_id} has {expected} insertion strings, this one has {got}",
        record=record,
    )


def _unreadable(event_id: int, text: str, record: int | None) -> Malformed:
    shown = text if len(text) <= 120 else text[:117] + "..."
    return Malformed(
        "unreadable message",
        f"the text of event {event_id} lacks its documented labels: {shown!r}",
        record=record,
    )


#: A decoder of one event's insertion strings: (strings, host, time, record number) -> event.
StringsDecoder = Callable[[Sequence[str], str, int, "int | None"], Event]
#: A decoder of one event's message text: (text, host, time, record number) -> event.
MessageDecoder = Callable[[str, str, int, "int | None"], Event]

#: Event id -> decoder of its insertion strings. Readers look an id up here once per line, so
#: an event they do not handle costs one dictionary miss; arguments are positional for speed.
STRING_DECODERS: Final[Mapping[int, StringsDecoder]] = MappingProxyType(
    {
        592: _strings_592,
        593: _strings_593,
        600: _strings_600,
        512: _strings_512,
        516: _strings_516,
        517: _strings_517,
    }
)
#: Event id -> decoder of its rendered message (see :data:`STRING_DECODERS`).
MESSAGE_DECODERS: Final[Mapping[int, MessageDecoder]] = MappingProxyType(
    {
        592: _message_592,
        593: _message_593,
        600: _message_600,
        512: _message_512,
        516: _message_516,
        517: _message_517,
    }
)
