"""Shared hypothesis strategies: legacy event values, their renderings, normalized events,
and whole event streams for the correlator."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from correlog import EventKind, HostEvent, HostEventKind, Layout, ProcessEvent
from correlog._time import from_datetime

# Every label of the legacy process messages. A value that contains one cannot be told from it
# in rendered text (by Windows' own design), so generated values avoid them.
LABELS = (
    "New Process ID:",
    "Image File Name:",
    "Creator Process ID:",
    "User Name:",
    "Domain:",
    "Logon ID:",
    "Process ID:",
    "Primary User Name:",
    "Primary Domain:",
    "Primary Logon ID:",
    "New Process Information:",
    "Target User Name:",
    "Target Domain:",
    "Target Logon ID:",
)

_NAME_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.$-"


def _no_label(text: str) -> bool:
    return not any(label in text for label in LABELS)


#: Account and domain names as Windows prints them: may hold spaces (``NT AUTHORITY``), may be
#: ``-`` (missing), may be empty.
names = st.one_of(
    st.just("-"),
    st.just(""),
    st.sampled_from(["SYSTEM", "NT AUTHORITY", "IUSR_IIS01", "DC3$", "Administrator"]),
    st.lists(st.text(_NAME_CHARS, min_size=1, max_size=12), min_size=1, max_size=3)
    .map(" ".join)
    .filter(_no_label),
)

#: Image paths: NT4 (``\temp\x.exe``), 2000 (``\WINNT\...``), XP/2003 (``C:\...``), with spaces.
images = st.one_of(
    st.just("-"),
    st.builds(
        lambda drive, parts, ext: drive + "\\" + "\\".join(parts) + ext,
        st.sampled_from(["", "C:", "D:"]),
        st.lists(
            st.lists(st.text(_NAME_CHARS, min_size=1, max_size=10), min_size=1, max_size=2).map(
                " ".join
            ),
            min_size=1,
            max_size=4,
        ),
        st.sampled_from([".exe", ".com", ""]),
    ).filter(_no_label),
)

#: Process ids: real pids (multiples of 4) and NT4/2000 APIDs (kernel addresses).
pids = st.one_of(
    st.integers(0, 65_535).map(lambda n: n * 4),
    st.integers(0x8000_0000, 0xFFFF_FFFF),
)


@st.composite
def pid_texts(draw: st.DrawFn) -> tuple[str, int]:
    """A pid as some source prints it (decimal, or hex with ``0x``) and its value."""
    pid = draw(pids)
    form = draw(st.sampled_from(["{:d}", "0x{:X}", "0x{:x}"]))
    return form.format(pid), pid


@st.composite
def logon_texts(draw: st.DrawFn) -> tuple[str, int | None]:
    """A logon id as Windows prints it, ``(0xHIGH,0xLOW)`` or ``-``, and its value."""
    if draw(st.booleans()) and draw(st.booleans()):
        return "-", None
    high = draw(st.integers(0, 0xFFFF_FFFF) | st.just(0))
    low = draw(st.integers(0, 0xFFFF_FFFF))
    return f"(0x{high:X},0x{low:X})", (high << 32) | low


#: What goes between a label and its value, and between a value and the next label: transports
#: keep newlines and indentation (NT4), collapse them to one space (Snare), or drop them
#: (``Domain: LE5678WSPLogon ID:``).
gaps = st.sampled_from([" ", "  ", "\n", "\r\n   ", "\n\t", "\t", "      ", ""])


@dataclass(frozen=True)
class Legacy:
    """One generated legacy process event: its insertion strings and its rendered message."""

    event_id: int
    strings: tuple[str, ...]
    message: str


def _render(header: str, pairs: list[tuple[str, str]], gap_list: list[str]) -> str:
    out = [header]
    gaps_iter = iter(gap_list)
    for label, value in pairs:
        out.append(next(gaps_iter))
        out.append(label)
        out.append(next(gaps_iter))
        out.append(value)
    return "".join(out)


@st.composite
def legacy_events(draw: st.DrawFn) -> Legacy:
    """A 592, 593 (either layout) or 600 with arbitrary values, rendered from its template."""
    event_id = draw(st.sampled_from([592, 593, 600]))
    pid_text, _ = draw(pid_texts())
    logon_text, _ = draw(logon_texts())
    strings: tuple[str, ...]
    if event_id == 592:
        cpid_text = draw(st.one_of(pid_texts().map(lambda pair: pair[0]), st.just("-")))
        strings = (pid_text, draw(images), cpid_text, draw(names), draw(names), logon_text)
        header = "A new process has been created:"
        labels = [
            "New Process ID:",
            "Image File Name:",
            "Creator Process ID:",
            "User Name:",
            "Domain:",
            "Logon ID:",
        ]
        pairs = list(zip(labels, strings, strict=True))
    elif event_id == 593:
        header = "A process has exited:"
        if draw(st.booleans()):
            strings = (pid_text, draw(images), draw(names), draw(names), logon_text)
            labels = ["Process ID:", "Image File Name:", "User Name:", "Domain:", "Logon ID:"]
        else:
            strings = (pid_text, draw(names), draw(names), logon_text)
            labels = ["Process ID:", "User Name:", "Domain:", "Logon ID:"]
        pairs = list(zip(labels, strings, strict=True))
    else:
        assigning_text, _ = draw(pid_texts())
        primary_logon, _ = draw(logon_texts())
        strings = (
            assigning_text,
            draw(images),
            draw(names),
            draw(names),
            primary_logon,
            pid_text,
            draw(images),
            draw(names),
            draw(names),
            logon_text,
        )
        header = "A process was assigned a primary token."
        labels = [
            "Assigning Process Information: Process ID:",
            "Image File Name:",
            "Primary User Name:",
            "Primary Domain:",
            "Primary Logon ID:",
            "New Process Information: Process ID:",
            "Image File Name:",
            "Target User Name:",
            "Target Domain:",
            "Target Logon ID:",
        ]
        pairs = list(zip(labels, strings, strict=True))
    gap_list = draw(st.lists(gaps, min_size=2 * len(pairs), max_size=2 * len(pairs)))
    return Legacy(event_id, strings, _render(header, pairs, gap_list))


# -- normalized events (what readers yield) ------------------------------------------------------

_hosts = st.text("abcdefghijklmnopqrstuvwxyz0123456789-_.", min_size=1, max_size=15).filter(
    lambda h: h != "-"
)
_optional_text = st.none() | st.text(min_size=1, max_size=30).filter(
    lambda t: t == t.strip() and t != "-"
)
#: Times from 1970 to 2100, to the nanosecond.
times = st.integers(0, from_datetime(dt.datetime(2100, 1, 1, tzinfo=dt.UTC)))
_u64 = st.integers(0, 2**64 - 1)

process_events = st.builds(
    ProcessEvent,
    kind=st.sampled_from(EventKind),
    host=_hosts,
    pid=pids,
    time=times,
    event_id=st.sampled_from([592, 593, 600, 4688, 4689, 4696]),
    record_number=st.none() | st.integers(0, 2**32),
    image=_optional_text,
    user=_optional_text,
    domain=_optional_text,
    logon_id=st.none() | _u64,
    own_account=st.booleans(),
    creator_pid=st.none() | pids,
    creator_image=_optional_text,
    layout=st.none() | st.sampled_from(Layout),
    channel=st.none() | st.sampled_from(["sysmon"]),
)
host_events = st.builds(
    HostEvent,
    kind=st.sampled_from(HostEventKind),
    host=_hosts,
    time=times,
    event_id=st.sampled_from([512, 516, 517, 1102, 4608]),
    record_number=st.none() | st.integers(0, 2**32),
    dropped=st.none() | st.integers(0, 100_000),
)
#: Any normalized event.
events = process_events | host_events


# -- Whole event streams, for the correlator's invariants --------------------------------

S = 1_000_000_000  # one second in ns

KINDS = (EventKind.CREATED, EventKind.TOKEN_ASSIGNED, EventKind.EXITED)
EVENT_IDS = {EventKind.CREATED: 592, EventKind.TOKEN_ASSIGNED: 600, EventKind.EXITED: 593}

stream_hosts = st.sampled_from(["iis01", "iis02", "dc1"])
#: A small pid space, so reuse is frequent.
stream_pids = st.sampled_from([4 * n for n in range(1, 7)])
stream_images = st.none() | st.sampled_from(
    [r"C:\WINDOWS\system32\cmd.exe", r"C:\PHP\php.exe", r"\WINNT\system32\ping.exe"]
)
stream_users = st.none() | st.sampled_from(["SYSTEM", "IUSR_IIS01", "administrator"])
stream_domains = st.none() | st.sampled_from(["NT AUTHORITY", "IIS01", "ACME"])
stream_logon_ids = st.none() | st.sampled_from([0x3E7, 0x2A3C1, 0x158EB7])
#: Creator pids outside ``pids`` never hit an open entry; inside, they may.
stream_creator_pids = st.none() | st.sampled_from([4, 8, 1000, 3120])
stream_creator_images = st.none() | st.sampled_from([r"C:\WINDOWS\system32\inetsrv\w3wp.exe", None])
stream_layouts = st.none() | st.sampled_from(list(Layout))


@st.composite
def event_fields(draw: st.DrawFn, kind: EventKind) -> dict[str, Any]:
    """The optional fields an event of ``kind`` may carry."""
    fields: dict[str, Any] = {
        "image": draw(stream_images),
        "user": draw(stream_users),
        "domain": draw(stream_domains),
        "logon_id": draw(stream_logon_ids),
        "layout": draw(stream_layouts),
        "own_account": kind is not EventKind.CREATED or draw(st.booleans()),
    }
    if kind is not EventKind.EXITED:
        fields["creator_pid"] = draw(stream_creator_pids)
        fields["creator_image"] = draw(stream_creator_images)
    if kind is EventKind.CREATED:
        fields["command_line"] = draw(st.none() | st.sampled_from(["cmd /c whoami", "ping x"]))
        fields["integrity"] = draw(st.none() | st.sampled_from(["High", "Medium"]))
    if kind is EventKind.EXITED:
        fields["exit_status"] = draw(st.none() | st.integers(0, 3))
    fields["extra"] = draw(
        st.none()
        | st.dictionaries(
            st.sampled_from(["Hashes", "CurrentDirectory", "TokenElevationType"]),
            st.sampled_from(["a", "b"]),
            min_size=1,
            max_size=2,
        )
    )
    return fields


@st.composite
def streams(
    draw: st.DrawFn,
    *,
    max_size: int = 60,
    max_step: int = 30 * S,
    jumps: bool = False,
    shuffled_records: bool = False,
    lifecycle: bool = False,
) -> list[ProcessEvent | HostEvent]:
    """A stream of process events over a few hosts and pids.

    Every event has a unique record number, so ``(event_id, record_number)`` identifies it in a
    record's provenance. Per host, times never go back unless ``jumps`` (then they may leap far
    forwards or backwards, to exercise the clock guard); record numbers grow unless
    ``shuffled_records`` (then they come in any order, to exercise epochs). With ``lifecycle``,
    host events (restart, log clear, dropped audits) are mixed in; they are not process events
    and carry no record number, so provenance still names process events only.
    """
    n = draw(st.integers(min_value=0, max_value=max_size))
    if shuffled_records:
        numbers = draw(
            st.lists(st.integers(min_value=1, max_value=10**6), min_size=n, max_size=n, unique=True)
        )
    else:
        numbers = list(range(1, n + 1))
    clock: dict[str, int] = {}
    out: list[ProcessEvent | HostEvent] = []
    for i in range(n):
        host = draw(stream_hosts)
        kind = draw(st.sampled_from(KINDS))
        t = clock.get(host, 1_000_000 * S)
        if jumps and draw(st.integers(0, 9)) == 0:
            t += draw(st.sampled_from([-(10**6) * S, -5000 * S, 5000 * S, 10**6 * S]))
        else:
            t += draw(st.integers(min_value=0, max_value=max_step))
        clock[host] = t
        if lifecycle and draw(st.integers(0, 14)) == 0:
            out.append(
                HostEvent(
                    kind=draw(st.sampled_from(list(HostEventKind))),
                    host=host,
                    time=t,
                    event_id=0,
                )
            )
        out.append(
            ProcessEvent(
                kind=kind,
                host=host,
                pid=draw(stream_pids),
                time=t,
                event_id=EVENT_IDS[kind],
                record_number=numbers[i],
                channel=draw(st.sampled_from([None, None, None, "sysmon"])),
                **draw(event_fields(kind)),
            )
        )
    return out


def ident(event: ProcessEvent) -> tuple[int, int | None]:
    """How a record's provenance names an event."""
    return (event.event_id, event.record_number)


# -- calls for the differential test of the correlator against its reference ----------------

#: A correlator's settings: small bounds and ttls so that eviction, expiry and the memo happen.
correlator_settings = st.fixed_dictionaries(
    {
        "ttl": st.sampled_from([5.0, 30.0, 3600.0]),
        "max_open": st.sampled_from([1, 2, 3, 5, 100_000]),
        "max_skew": st.sampled_from([20.0, 3600.0]),
        "memo_size": st.sampled_from([0, 1, 2, 1024]),
        "lateness": st.sampled_from([0.0, 0.0, 10.0, 60.0]),
        "max_idle_logs": st.sampled_from([0, 1, 1024]),
    }
)

_any_text = st.none() | st.sampled_from(["a.exe", r"C:\w3wp.exe", "IUSR_X", "cmd /c x", "High"])


@st.composite
def any_process_event(
    draw: st.DrawFn, host: str, time: int, record_number: int | None
) -> ProcessEvent:
    """A process event of any kind with any optional field set (the API accepts them all)."""
    kind = draw(st.sampled_from(KINDS))
    return ProcessEvent(
        kind=kind,
        host=host,
        pid=draw(st.sampled_from([4, 8, 12, 3120])),
        time=time,
        event_id=EVENT_IDS[kind],
        record_number=record_number,
        image=draw(_any_text),
        user=draw(st.none() | st.sampled_from(["IUSR_X", "SYSTEM"])),
        domain=draw(_any_text),
        logon_id=draw(st.none() | st.sampled_from([0x3E7, 0x2A3C1])),
        own_account=draw(st.booleans()),
        creator_pid=draw(st.none() | st.sampled_from([4, 8, 3120, 9999])),
        creator_image=draw(_any_text),
        layout=draw(st.none() | st.sampled_from(list(Layout))),
        channel=draw(st.sampled_from([None, None, "sysmon"])),
        command_line=draw(_any_text),
        exit_status=draw(st.none() | st.integers(0, 2)),
        integrity=draw(_any_text),
        extra=draw(
            st.none()
            | st.dictionaries(
                st.sampled_from(["Hashes", "CurrentDirectory"]), st.sampled_from(["a", "b"])
            )
        ),
    )


@st.composite
def correlator_calls(draw: st.DrawFn, max_calls: int = 40) -> list[tuple[Any, ...]]:
    """A list of calls: ``("feed", ev)``, ``("feed_many", [ev...])``, ``("advance", t, host)``,
    ``("close",)``, ``("snapshot", host, pid, channel)``; events over two hosts, with clock
    jumps and skew, record numbers that grow, repeat, go back or are missing, and host events
    (restart, log clear, lost audits)."""
    clock = {"h1": 1_000_000 * S, "h2": 1_000_000 * S}
    numbers = {"h1": 0, "h2": 0}
    numbering = draw(st.sampled_from(["grow", "shuffle", "none"]))

    def next_event() -> ProcessEvent | HostEvent:
        host = draw(st.sampled_from(["h1", "h2"]))
        step = draw(
            st.sampled_from([0, 1, 2, 5, 20, 40]) | st.sampled_from([-3, -30, -5000, 5000, 10**6])
        )
        clock[host] += step * S + draw(st.sampled_from([0, 0, 1, 500_000_000]))
        if numbering == "grow":
            numbers[host] += draw(st.sampled_from([1, 1, 2]))
            rn: int | None = numbers[host]
        elif numbering == "shuffle":
            rn = draw(st.integers(1, 60))
        else:
            rn = None
        if draw(st.integers(0, 19)) == 0:
            return HostEvent(
                kind=draw(st.sampled_from(list(HostEventKind))),
                host=host,
                time=clock[host],
                event_id=0,
                record_number=draw(st.none() | st.just(rn)),
                dropped=None,
            )
        return draw(any_process_event(host, clock[host], rn))

    calls: list[tuple[Any, ...]] = []
    for _ in range(draw(st.integers(0, max_calls))):
        what = draw(st.sampled_from(["feed"] * 6 + ["feed_many"] * 3 + ["advance", "snapshot"]))
        if what == "feed":
            calls.append(("feed", next_event()))
        elif what == "feed_many":
            calls.append(("feed_many", [next_event() for _ in range(draw(st.integers(0, 6)))]))
        elif what == "advance":
            host = draw(st.sampled_from([None, "h1", "h2"]))
            base = max(clock.values()) if host is None else clock[host]
            calls.append(("advance", base + draw(st.sampled_from([0, 10, 100])) * S, host))
        else:
            calls.append(
                (
                    "snapshot",
                    draw(st.sampled_from(["h1", "h2"])),
                    draw(st.sampled_from([4, 8, 12, 3120])),
                    draw(st.sampled_from([None, "sysmon"])),
                )
            )
    if draw(st.booleans()):
        calls.append(("close",))
        if draw(st.booleans()):
            calls.append(("feed", next_event()))
    return calls
