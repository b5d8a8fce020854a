"""The Vista+ decoders' and the NXLog reader's fast paths against plain twins, read like the docs.

The fast paths answer repeated text from memos (``PIDS``, ``STATUSES``, the NXLog route per
``(EventID, Channel, SourceName)``) and inline what the field readers do. Each is fed the same
input as a plain version built only from the field readers (:func:`field_pid`, :func:`status`,
:func:`extra_fields`...) and the generic routing of :func:`decode_event`; every field of every
event, and the category of every error, must agree.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from correlog import EventKind, Layout, ProcessEvent
from correlog._errors import Malformed
from correlog._time import LocalTime
from correlog.decoders import INTEGRITY_LEVELS, MESSAGE_DECODERS, VISTA_DECODERS, fields_decoders
from correlog.decoders._common import (
    PIDS,
    STATUSES,
    extra_fields,
    field_logon,
    field_pid,
    field_text,
    host_name,
    optional_field_pid,
    process_id,
    status,
)
from correlog.readers._winevent import event_id_of, record_of
from correlog.readers.nxlog import NxlogParser

# Text a pid, logon id or status field may hold: the well-formed forms and near misses.
_NUMBERISH = st.one_of(
    st.integers(0, 2**64 + 5).map(hex),
    st.integers(0, 2**64 + 5).map(str),
    st.integers(0, 2**32).map(lambda n: f"0X{n:X}"),
    st.sampled_from(["", "-", " 0x1a4 ", "0x", "0x1_0", "0xq", "12 ", "-1", "0x" + "f" * 17]),
    st.text(max_size=12),
)


def outcome(call: Callable[[], Any]) -> Any:
    """What a call answered, or the category of the error it raised."""
    try:
        return ("ok", call())
    except Malformed as exc:
        return ("error", exc.category)


@given(_NUMBERISH)
@example("٣")  # a non-ASCII decimal digit: not a pid
def test_the_pid_memo_answers_as_process_id_does(text: str) -> None:
    for _ in range(2):  # a miss, then a hit
        found = PIDS[text]
        expected = outcome(lambda: process_id(text, "ProcessId", 4688, None))
        if found is None:
            assert expected[0] == "error"
        else:
            assert expected == ("ok", found)


@given(_NUMBERISH)
def test_the_status_memo_answers_as_status_does(text: str) -> None:
    for _ in range(2):
        found = STATUSES[text]
        expected = outcome(lambda: status(text, 4689, None))
        if found is not None:
            assert expected == ("ok", found)
        else:
            assert expected in (("ok", None), ("error", "bad exit status"))


# -- the plain decoders: the field readers, in the order the docs list the fields --------------


def _plain_4688(fields: Mapping[str, Any], host: str, time: int, record: int | None) -> Any:
    get = fields.get
    pid = field_pid(get("NewProcessId"), "NewProcessId", 4688, record)
    cpid = optional_field_pid(get("ProcessId"), "ProcessId", 4688, record)
    own = not (get("TargetUserName") is None and get("TargetLogonId") is None)
    user = field_text(get("TargetUserName")) if own else None
    logon = field_logon(get("TargetLogonId"), 4688, record) if own else None
    if user is not None and logon != 0:
        domain = field_text(get("TargetDomainName"))
    else:
        user = field_text(get("SubjectUserName"))
        domain = field_text(get("SubjectDomainName"))
        logon = field_logon(get("SubjectLogonId"), 4688, record)
    label = get("MandatoryLabel")
    return ProcessEvent(
        kind=EventKind.CREATED,
        host=host_name(host),
        pid=pid,
        time=time,
        event_id=4688,
        record_number=record,
        image=field_text(get("NewProcessName")),
        user=user,
        domain=domain,
        logon_id=logon,
        own_account=own,
        creator_pid=cpid,
        creator_image=field_text(get("ParentProcessName")),
        layout=Layout.VISTA,
        command_line=get("CommandLine") or None,
        integrity=INTEGRITY_LEVELS.get(label) if type(label) is str else None,
        extra=extra_fields(
            fields,
            (
                "TokenElevationType",
                "MandatoryLabel",
                "SubjectUserName",
                "SubjectDomainName",
                "SubjectLogonId",
            ),
        ),
    )


def _plain_4689(fields: Mapping[str, Any], host: str, time: int, record: int | None) -> Any:
    get = fields.get
    return ProcessEvent(
        kind=EventKind.EXITED,
        host=host_name(host),
        pid=field_pid(get("ProcessId"), "ProcessId", 4689, record),
        time=time,
        event_id=4689,
        record_number=record,
        image=field_text(get("ProcessName")),
        user=field_text(get("SubjectUserName")),
        domain=field_text(get("SubjectDomainName")),
        logon_id=field_logon(get("SubjectLogonId"), 4689, record),
        own_account=True,
        layout=Layout.VISTA,
        exit_status=status(get("Status"), 4689, record),
    )


_PLAIN = {4688: _plain_4688, 4689: _plain_4689}
_VALUE = st.one_of(
    _NUMBERISH,
    st.none(),
    st.integers(-5, 2**64 + 5),
    st.sampled_from(["hack1", "OFFSEC", "C:\\Windows\\cmd.exe", "S-1-16-12288", "%%1936"]),
    st.lists(st.integers(0, 3), max_size=2),
    st.booleans(),
    st.floats(allow_nan=False),
)
_NAMES = (
    "NewProcessId",
    "ProcessId",
    "NewProcessName",
    "ParentProcessName",
    "CommandLine",
    "TargetUserName",
    "TargetDomainName",
    "TargetLogonId",
    "SubjectUserName",
    "SubjectDomainName",
    "SubjectLogonId",
    "TokenElevationType",
    "MandatoryLabel",
    "ProcessName",
    "Status",
)


@given(
    st.sampled_from(sorted(_PLAIN)),
    st.dictionaries(st.sampled_from(_NAMES), _VALUE, max_size=len(_NAMES)),
    st.sampled_from(["FS03", " fs03 ", "-", ""]),
)
def test_the_vista_decoders_answer_as_their_plain_twins(
    event_id: int, fields: dict[str, Any], host: str
) -> None:
    fast = VISTA_DECODERS[event_id]
    for _ in range(2):  # memo misses, then hits
        got = outcome(lambda: fast(fields, host, 10**18, 7))
        assert got == outcome(lambda: _PLAIN[event_id](fields, host, 10**18, 7))


# -- the NXLog reader against the generic routing -------------------------------------------------


def _plain_nxlog(line: str, local: LocalTime) -> Any:
    """An NXLog line as the module docs describe it, with the plain decoders."""
    data = json.loads(line)
    event_id = event_id_of(data.get("EventID"))
    channel, provider = data.get("Channel"), data.get("SourceName")
    table = fields_decoders(channel, provider)
    if table is not None and event_id in table:
        decode = _PLAIN[event_id] if table is VISTA_DECODERS else table[event_id]
    elif event_id in MESSAGE_DECODERS and "Security" in (channel, provider):
        decode = None
    else:
        return None
    record = record_of(data.get("RecordNumber"))
    host = data.get("Hostname")
    if type(host) is not str:
        raise Malformed("missing host", "no Hostname")
    moment = _dt.datetime.strptime(data["EventTime"], "%Y-%m-%d %H:%M:%S")
    when = local(*moment.timetuple()[:6])
    if decode is None:
        message = data.get("Message")
        if type(message) is not str:
            raise Malformed("unreadable message", "no Message")
        return MESSAGE_DECODERS[event_id](message, host, when, record)
    return decode(data, host, when, record)


_LINES = st.fixed_dictionaries(
    {
        "EventID": st.sampled_from([4688, 4689, 4624, 592, "4688"]),
        "Channel": st.sampled_from(["Security", "security", "Application"]),
        "Hostname": st.sampled_from(["DC01.corp.local", "WS1"]),
        "EventTime": st.sampled_from(["2021-11-13 09:30:58", "2021-11-13 09:31:00"]),
        "RecordNumber": st.integers(0, 2**20),
        "NewProcessId": st.sampled_from(["0x1c4", "0x85c", "4", "0xq"]),
        "ProcessId": st.sampled_from(["0x1c4", "0x85c", "-"]),
        "SubjectLogonId": st.sampled_from(["0x3e7", "0x0", "zz"]),
        "Status": st.sampled_from(["0x0", "0x1", "1"]),
    },
    optional={
        "TargetUserName": st.sampled_from(["hack1", "-"]),
        "TargetLogonId": st.sampled_from(["0xa6f5fc2", "0x0"]),
        "SourceName": st.sampled_from(["Security", "Microsoft-Windows-Security-Auditing"]),
    },
)


@given(st.lists(_LINES, min_size=1, max_size=6))
def test_nxlog_lines_read_as_the_plain_routing_reads_them(lines: list[dict[str, Any]]) -> None:
    parser = NxlogParser(_dt.UTC, lambda: 0)
    local = LocalTime(_dt.UTC)
    for data in lines:  # one parser for all: its caches carry over from line to line
        text = json.dumps(data)
        got = outcome(lambda: parser(text))  # noqa: B023
        expected = outcome(lambda: _plain_nxlog(text, local))  # noqa: B023
        assert got == expected, text


def test_a_line_with_no_time_at_all_is_a_bad_time() -> None:
    # The parser remembers the last time it converted; before any, "no time" is not a match.
    parser = NxlogParser(_dt.UTC, lambda: 0)
    line = json.dumps(
        {"EventID": 4688, "Channel": "Security", "Hostname": "h", "NewProcessId": "4"}
    )
    with pytest.raises(Malformed) as raised:
        parser(line)
    assert raised.value.category == "bad time"


def test_the_extra_fields_of_a_4688_are_its_own_and_typed_as_given() -> None:
    """The 4688's extra fields come from a memo when they are text: each event still gets a
    dict of its own, and equal values of other types (``1``, ``1.0``, ``True``) keep their
    own text."""
    decode = VISTA_DECODERS[4688]
    fields = {"NewProcessId": "0x10", "SubjectUserName": "hack1", "MandatoryLabel": "S-1-16-8192"}

    def extra(given: Mapping[str, Any]) -> Mapping[str, str] | None:
        event = decode(given, "FS03", 10**18, 7)
        assert isinstance(event, ProcessEvent)
        return event.extra

    first, second = extra(fields), extra(fields)
    assert first == second == {"SubjectUserName": "hack1", "MandatoryLabel": "S-1-16-8192"}
    assert first is not second
    texts = []
    for value in (1, 1.0, True, "1"):
        found = extra({**fields, "TokenElevationType": value})
        assert found is not None
        texts.append(found["TokenElevationType"])
    assert texts == ["1", "1.0", "True", "1"]
