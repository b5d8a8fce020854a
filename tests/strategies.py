"""Shared hypothesis strategies: normalized events and whole event streams."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from correlog import EventKind, Layout, ProcessEvent

S = 1_000_000_000  # one second in ns

KINDS = (EventKind.CREATED, EventKind.TOKEN_ASSIGNED, EventKind.EXITED)
EVENT_IDS = {EventKind.CREATED: 592, EventKind.TOKEN_ASSIGNED: 600, EventKind.EXITED: 593}

hosts = st.sampled_from(["iis01", "iis02", "dc1"])
#: A small pid space, so reuse is frequent.
pids = st.sampled_from([4 * n for n in range(1, 7)])
images = st.none() | st.sampled_from(
    [r"C:\WINDOWS\system32\cmd.exe", r"C:\PHP\php.exe", r"\WINNT\system32\ping.exe"]
)
users = st.none() | st.sampled_from(["SYSTEM", "IUSR_IIS01", "administrator"])
domains = st.none() | st.sampled_from(["NT AUTHORITY", "IIS01", "ACME"])
logon_ids = st.none() | st.sampled_from([0x3E7, 0x2A3C1, 0x158EB7])
#: Creator pids outside ``pids`` never hit an open entry; inside, they may.
creator_pids = st.none() | st.sampled_from([4, 8, 1000, 3120])
creator_images = st.none() | st.sampled_from([r"C:\WINDOWS\system32\inetsrv\w3wp.exe", None])
layouts = st.none() | st.sampled_from(list(Layout))


@st.composite
def event_fields(draw: st.DrawFn, kind: EventKind) -> dict[str, Any]:
    """The optional fields an event of ``kind`` may carry."""
    fields: dict[str, Any] = {
        "image": draw(images),
        "user": draw(users),
        "domain": draw(domains),
        "logon_id": draw(logon_ids),
        "layout": draw(layouts),
        "own_account": kind is not EventKind.CREATED or draw(st.booleans()),
    }
    if kind is not EventKind.EXITED:
        fields["creator_pid"] = draw(creator_pids)
        fields["creator_image"] = draw(creator_images)
    return fields


@st.composite
def streams(
    draw: st.DrawFn,
    *,
    max_size: int = 60,
    max_step: int = 30 * S,
    jumps: bool = False,
    shuffled_records: bool = False,
) -> list[ProcessEvent]:
    """A stream of process events over a few hosts and pids.

    Every event has a unique record number, so ``(event_id, record_number)`` identifies it in a
    record's provenance. Per host, times never go back unless ``jumps`` (then they may leap far
    forwards or backwards, to exercise the clock guard); record numbers grow unless
    ``shuffled_records`` (then they come in any order, to exercise epochs).
    """
    n = draw(st.integers(min_value=0, max_value=max_size))
    if shuffled_records:
        numbers = draw(
            st.lists(st.integers(min_value=1, max_value=10**6), min_size=n, max_size=n, unique=True)
        )
    else:
        numbers = list(range(1, n + 1))
    clock: dict[str, int] = {}
    out: list[ProcessEvent] = []
    for i in range(n):
        host = draw(hosts)
        kind = draw(st.sampled_from(KINDS))
        t = clock.get(host, 1_000_000 * S)
        if jumps and draw(st.integers(0, 9)) == 0:
            t += draw(st.sampled_from([-(10**6) * S, -5000 * S, 5000 * S, 10**6 * S]))
        else:
            t += draw(st.integers(min_value=0, max_value=max_step))
        clock[host] = t
        out.append(
            ProcessEvent(
                kind=kind,
                host=host,
                pid=draw(pids),
                time=t,
                event_id=EVENT_IDS[kind],
                record_number=numbers[i],
                **draw(event_fields(kind)),
            )
        )
    return out


def ident(event: ProcessEvent) -> tuple[int, int | None]:
    """How a record's provenance names an event."""
    return (event.event_id, event.record_number)
