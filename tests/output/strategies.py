"""Hypothesis strategies for the output tests: records and alerts with every field, ``None``
wherever a field allows it, and text that is hard to write (quotes, backslashes, control
characters, non-ASCII, lone surrogates)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import strategies as st

from correlog import Alert, EventKind, Layout, Reason, Record, Status
from correlog._time import from_datetime

HARD_CHARS = (
    *('"', "\\", "\x00", "\x1f", "\x7f", "\n", "\t", "\u2028"),
    *("é", "😀", "\ud800", "\udfff"),
)

#: Any character, lone surrogates included, with the hard ones often.
chars = st.one_of(st.sampled_from(HARD_CHARS), st.characters(exclude_categories=()))
odd_text = st.text(chars, max_size=12)
#: Text a UTF-8 encoder accepts (no lone surrogates).
clean_text = st.text(st.characters(codec="utf-8"), max_size=12)

#: The first and last nanosecond :func:`correlog.iso` can write: years 1 to 9999.
MIN_NS = from_datetime(dt.datetime(1, 1, 1, tzinfo=dt.UTC))
MAX_NS = from_datetime(dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC)) + 999_999_999

times = st.one_of(
    st.integers(MIN_NS, MAX_NS),
    # whole seconds and 100 ns ticks, as the readers give them
    st.integers(MIN_NS // 10**9, MAX_NS // 10**9).map(lambda s: s * 10**9),
    st.integers(MIN_NS // 100, MAX_NS // 100).map(lambda t: t * 100),
)
ints = st.integers()
# Provenance: flat (event_id, record_number) pairs, either side possibly unknown.
provenance = st.lists(st.tuples(st.none() | ints, st.none() | ints), max_size=5).map(
    lambda pairs: tuple(x for pair in pairs for x in pair)
)
process_ids = st.tuples(clean_text, st.none() | clean_text, ints, ints, st.none() | ints)
extras = st.none() | st.dictionaries(odd_text, odd_text, max_size=3)


def record_fields(text: st.SearchStrategy[str] = odd_text) -> dict[str, st.SearchStrategy[Any]]:
    """A strategy for every field of :class:`Record`, by name."""
    opt_text = st.none() | text
    return {
        "host": text,
        "pid": ints,
        "image": opt_text,
        "user": opt_text,
        "domain": opt_text,
        "logon_id": st.none() | ints,
        "owner_source": st.none() | st.sampled_from(EventKind),
        "creator_pid": st.none() | ints,
        "creator_image": opt_text,
        "start": st.none() | times,
        "end": st.none() | times,
        "status": st.sampled_from(Status),
        "reason": st.sampled_from(Reason),
        "provenance": provenance,
        "layout": st.none() | st.sampled_from(Layout),
        "first_seen": ints,
        "channel": opt_text,
        "command_line": opt_text,
        "exit_status": st.none() | ints,
        "integrity": opt_text,
        "extra": extras,
        "process_id": process_ids,
        "creator_process_id": st.none() | process_ids,
        "audits_lost": st.booleans(),
    }


def records(**overrides: st.SearchStrategy[Any]) -> st.SearchStrategy[Record]:
    """Records with every field generated (``overrides`` replace some fields' strategies)."""
    fields = record_fields() | overrides
    missing = set(Record._fields) - set(fields)
    assert not missing, f"no strategy for the new Record fields {sorted(missing)}"
    return st.builds(Record, **{name: fields[name] for name in Record._fields})


def alerts(**overrides: st.SearchStrategy[Any]) -> st.SearchStrategy[Alert]:
    """Alerts around generated records."""
    return st.builds(
        Alert,
        rule=odd_text,
        host=odd_text,
        pid=st.none() | ints,
        image=st.none() | odd_text,
        user=st.none() | odd_text,
        domain=st.none() | odd_text,
        time=st.none() | times,
        event_id=st.none() | ints,
        # None: an alert on a host event (a cleared log), which concerns no process
        record=st.none() | records(**overrides),
        message=odd_text,
    )


items = st.one_of(records(), alerts())
