"""What people read of a record, an alert or a Sigma hit: one row of key fields, as text that
stays on one line."""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from .._records import Alert, ProcessId, Record, format_process_id

__all__ = ["Row", "printable", "process_id_text", "row", "safe_text"]

_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match[0])
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` with control characters and lone surrogates as visible escapes (``\\x1b``).

    A table row stays one line, a terminal gets no escape sequence from the data, and the text
    can always be encoded as UTF-8.
    """
    if text.isascii() and text.isprintable():
        return text
    return _UNPRINTABLE.sub(_escape, text)


def safe_text(text: str) -> str:
    """``text`` with lone surrogates as ``\\udXXX`` escapes, everything else kept (for CSV)."""
    if text.isascii():
        return text
    return re.sub("[\ud800-\udfff]", _escape, text)


class Row(NamedTuple):
    """The key fields of one output item, as people read them."""

    #: ``record``, ``alert`` (a rule of :mod:`correlog.rules`) or ``hit`` (a Sigma match).
    kind: str
    #: When: an alert's or hit's triggering time, a record's start (its first event's time
    #: when the start was not seen). Output sorted by time uses this.
    time: int | None
    host: str
    #: ``None`` for an alert on a host event (a cleared log), which concerns no process.
    pid: int | None
    #: ``DOMAIN\\user`` when both are known.
    user: str | None
    image: str | None
    parent_pid: int | None
    #: The creator's image, when known.
    parent: str | None
    command_line: str | None
    #: The rule that fired (a Sigma hit: the rule's title); ``None`` for a record.
    rule: str | None
    level: str | None
    #: Why the record was emitted (``exited``, ``flushed``, ...).
    reason: str
    process_id: str
    message: str | None


def _account(user: str | None, domain: str | None) -> str | None:
    if user and domain:
        return f"{domain}\\{user}"
    return user or None


def record_time(record: Record) -> int:
    """The start, else the time of the first event seen of the process (its process id's),
    not ``first_seen``, which is the host's clock then and may lag behind (an orphan exit)."""
    return record.process_id[3] if record.start is None else record.start


def process_id_text(value: ProcessId | None) -> str:
    """:func:`correlog.format_process_id`, or the empty text when it cannot print ``value``
    (a lone surrogate in the host: the JSON output writes those ids)."""
    if value is None:
        return ""
    try:
        return format_process_id(value)
    except Exception:
        return ""


def _of_record(kind: str, r: Record, **fields: Any) -> Row:
    base: dict[str, Any] = {
        "kind": kind,
        "time": record_time(r),
        "host": r.host,
        "pid": r.pid,
        "user": _account(r.user, r.domain),
        "image": r.image,
        "parent_pid": r.creator_pid,
        "parent": r.creator_image,
        "command_line": r.command_line,
        "rule": None,
        "level": None,
        "reason": str(r.reason),
        "process_id": process_id_text(r.process_id),
        "message": None,
    }
    return Row(**(base | fields))


def row(item: Any) -> Row:
    """The :class:`Row` of a record, an alert, or a Sigma match (anything with ``.record`` and
    a ``.rule`` that has a ``.title`` and a ``.level``)."""
    if isinstance(item, Record):
        return _of_record("record", item)
    if isinstance(item, Alert):
        return _of_alert(item)
    return _of_record("hit", item.record, rule=item.rule.title, level=item.rule.level)


def _of_alert(item: Alert) -> Row:
    record = item.record
    if record is None:
        return Row(
            kind="alert", time=item.time, host=item.host, pid=item.pid,
            user=_account(item.user, item.domain), image=item.image, parent_pid=None,
            parent=None, command_line=None, rule=item.rule, level=getattr(item, "level", None),
            reason="", process_id="", message=item.message,
        )  # fmt: skip
    return _of_record(
        "alert",
        record,
        time=record_time(record) if item.time is None else item.time,
        host=item.host,
        pid=item.pid,
        user=_account(item.user, item.domain),
        image=item.image,
        rule=item.rule,
        # Alerts carry no level today; one that does (a Sigma rule in watch) shows it.
        level=getattr(item, "level", None),
        message=item.message,
    )
