"""An outside oracle: EQL's ``sequence by host, pid`` against correlog's complete records.

For in-order streams of well-formed lifetimes (a creation, perhaps a token, perhaps an exit; a
pid reused only after its process exited), EQL's

    sequence by host, pid [created] [token_assigned] [exited]

must find exactly the three-event lifetimes that correlog emits as complete records built from
a 592, a 600 and a 593. EQL (AGPL-3.0) is a test-only dependency; the library never imports it.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from correlog import Correlator, EventKind, ProcessEvent, Status

eql = pytest.importorskip("eql")

S = 1_000_000_000
IDS = {EventKind.CREATED: 592, EventKind.TOKEN_ASSIGNED: 600, EventKind.EXITED: 593}
QUERY = (
    "sequence by host, pid "
    '[process where kind == "created"] '
    '[process where kind == "token_assigned"] '
    '[process where kind == "exited"]'
)


@st.composite
def lifetimes(draw: st.DrawFn) -> list[ProcessEvent]:
    """Interleaved well-formed lifetimes over a few hosts and a small pid space.

    Each process logs a creation, perhaps a token, and (usually) an exit, in that order; its pid
    is reused only after its exit, and never when it does not exit.
    """
    plans: dict[tuple[str, int], list[EventKind]] = {}
    retired: set[tuple[str, int]] = set()
    out: list[ProcessEvent] = []
    t = 0
    for _ in range(draw(st.integers(0, 80))):
        key = (draw(st.sampled_from(["a", "b"])), draw(st.sampled_from([4, 8, 12, 16])))
        if key in retired:
            continue
        plan = plans.get(key)
        if plan is None:
            plan = plans[key] = [EventKind.CREATED]
            if draw(st.booleans()):
                plan.append(EventKind.TOKEN_ASSIGNED)
            if draw(st.integers(0, 9)) > 0:
                plan.append(EventKind.EXITED)
        kind = plan.pop(0)
        if not plan:
            del plans[key]
            if kind is not EventKind.EXITED:
                retired.add(key)
        t += draw(st.integers(0, 2 * S))
        out.append(
            ProcessEvent(
                kind=kind,
                host=key[0],
                pid=key[1],
                time=t,
                event_id=IDS[kind],
                record_number=len(out) + 1,
                user="u",
                image="x.exe",
            )
        )
    return out


def eql_lifetimes(events: list[ProcessEvent]) -> set[tuple[int | None, ...]]:
    engine = eql.PythonEngine()
    engine.add_query(eql.parse_query(QUERY))
    found: list[Any] = []
    engine.add_output_hook(found.append)
    engine.stream_events(
        [
            eql.Event(
                "process",
                i,
                {"host": e.host, "pid": e.pid, "kind": str(e.kind), "rn": e.record_number},
            )
            for i, e in enumerate(events)
        ]
    )
    engine.finalize()
    return {tuple(ev.data["rn"] for ev in match.events) for match in found}


def correlog_lifetimes(events: list[ProcessEvent]) -> set[tuple[int | None, ...]]:
    corr = Correlator(ttl=10**9, max_open=10**6)
    return {
        record.record_numbers
        for record in corr.process(events)
        if record.status is Status.COMPLETE and record.events == (592, 600, 593)
    }


@given(lifetimes())
def test_eql_finds_exactly_the_complete_three_event_lifetimes(events: list[ProcessEvent]) -> None:
    assert correlog_lifetimes(events) == eql_lifetimes(events)


def test_the_oracle_sees_what_it_should() -> None:
    events = [
        ProcessEvent(kind=k, host="a", pid=4, time=i, event_id=IDS[k], record_number=i + 1)
        for i, k in enumerate(
            [EventKind.CREATED, EventKind.TOKEN_ASSIGNED, EventKind.EXITED, EventKind.CREATED]
        )
    ]
    assert eql_lifetimes(events) == correlog_lifetimes(events) == {(1, 2, 3)}
