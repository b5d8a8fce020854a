"""Every benchmark runs on a tiny stream and does all of its work. Correctness only, no timing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from correlog import EventKind, ProcessEvent, Record
from correlog.rules import DEFAULT_ALLOW, DEFAULT_WEB_PARENTS, basename

from .cases import CASES, Case, Workload, make_workload
from .run import main
from .streams import make_stream
from .timing import measure_pairs

_EVENTS = 2_000


@pytest.fixture(scope="module")
def work() -> Workload:
    """A tiny stream, cut into small batches so that several ``feed_many`` calls happen.

    Few spare pids, so that pids are reused (and lost exits superseded) even in 2,000 events.
    """
    return make_workload(make_stream(_EVENTS, seed=7, spare_pids=10), batch=256)


def test_stream_is_deterministic() -> None:
    a = make_stream(500, seed=1)
    assert a.events == make_stream(500, seed=1).events
    assert a.events != make_stream(500, seed=2).events


def test_stream_shape(work: Workload) -> None:
    stream = work.stream
    events = stream.events
    assert len(events) == _EVENTS
    assert {ev.host for ev in events} == set(stream.hosts)
    assert len(stream.hosts) == 4
    last: dict[str, tuple[int, int]] = {}
    for ev in events:
        assert ev.pid % 4 == 0
        assert ev.event_id == {EventKind.CREATED: 592, EventKind.TOKEN_ASSIGNED: 600}.get(
            ev.kind, 593
        )
        assert ev.record_number is not None
        before = last.get(ev.host)
        if before is not None:
            assert ev.time > before[0], "times strictly increase per host"
            assert ev.record_number > before[1], "record numbers strictly increase per host"
        last[ev.host] = (ev.time, ev.record_number)
    # Interned: one string object per distinct value.
    assert len({id(ev.host) for ev in events}) == len(stream.hosts)
    assert len({id(ev.image) for ev in events}) == len({ev.image for ev in events})


def test_stream_process_lives(work: Workload) -> None:
    """592, then maybe a 600, then maybe a 593, per (host, pid); a pid is reused after an exit."""
    stream = work.stream
    state: dict[tuple[str, int], str] = {}  # "created", "token"; absent: not alive
    reuse_of_lost = 0
    for ev in stream.events:
        key = (ev.host, ev.pid)
        seen = state.get(key)
        if ev.kind is EventKind.CREATED:
            assert not ev.own_account
            assert ev.user == "SYSTEM"
            # A pid still "alive" here is one whose 593 was lost.
            reuse_of_lost += seen is not None
            state[key] = "created"
        elif ev.kind is EventKind.TOKEN_ASSIGNED:
            assert seen == "created", f"a 600 follows its 592 at once: {ev}"
            assert ev.creator_image is not None
            state[key] = "token"
        else:
            assert seen is not None, f"a 593 follows its 592: {ev}"
            del state[key]
    creations = stream.kinds[EventKind.CREATED]
    assert creations == stream.processes
    pids = {(ev.host, ev.pid) for ev in stream.events if ev.kind is EventKind.CREATED}
    assert len(pids) < creations, "pids are reused"
    assert 0.1 < stream.kinds[EventKind.TOKEN_ASSIGNED] / creations < 0.3
    assert 0 < stream.lost < 0.06 * creations
    assert 0 < reuse_of_lost <= stream.lost
    assert 50 < stream.peak_alive < 1_000


def _open_keys(answer: Any, work: Workload) -> None:
    assert set(answer) == work.stream.open_at_end


def _event_count(answer: Any, work: Workload) -> None:
    assert sum(answer.values()) == len(work.events)


def _one_record_per_process(answer: Any, work: Workload) -> None:
    assert answer == work.stream.processes


def _sufficient_events(answer: Any, work: Workload) -> None:
    kinds = work.stream.kinds
    assert answer == kinds[EventKind.TOKEN_ASSIGNED] + kinds[EventKind.EXITED]


def _anonymous_web_alerts(answer: Any, work: Workload) -> None:
    # One alert per process that a 600 gave to IUSR_*, or to NETWORK/LOCAL SERVICE (0x3e4,
    # 0x3e5) with a web server assigning it, unless it runs an allowed image or is a web server
    # itself: its 593 names the same account and is deduplicated.
    def web_owned(ev: ProcessEvent) -> bool:
        creator = basename(ev.creator_image or "").casefold()
        service = ev.logon_id in (0x3E4, 0x3E5) and creator in DEFAULT_WEB_PARENTS
        return (ev.user or "").startswith("IUSR_") or service

    expected = sum(
        1
        for ev in work.events
        if ev.kind is EventKind.TOKEN_ASSIGNED
        and web_owned(ev)
        and basename(ev.image or "").casefold() not in DEFAULT_ALLOW + DEFAULT_WEB_PARENTS
    )
    assert answer == expected > 0


def _every_entry(answer: Any, work: Workload) -> None:
    assert answer == work.n_entries > 0


#: What each row's answer must be.
_CHECKS: dict[str, Callable[[Any, Workload], None]] = {
    "floor": _open_keys,
    "dict get/set": _event_count,
    "naive TTLCache": _one_record_per_process,
    "Correlator.feed_many": _one_record_per_process,
    "Correlator.feed": _one_record_per_process,
    "Correlator.process": _one_record_per_process,
    "single_record": _sufficient_events,
    "Monitor single_event": _anonymous_web_alerts,
    "record build": _every_entry,
}


def test_every_case_is_checked() -> None:
    assert set(_CHECKS) == {case.name for case in CASES}


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_case_does_all_its_work(case: Case, work: Workload) -> None:
    _CHECKS[case.name](case.run(work), work)


def test_record_build_inputs_are_entries(work: Workload) -> None:
    entries = [entry for batch in work.entries for entry in batch]
    assert all(isinstance(entry, list) and len(entry) == len(Record._fields) for entry in entries)
    assert all(len(batch) <= 256 for batch in work.entries)


def test_measure_pairs_shape(work: Workload) -> None:
    pairs = measure_pairs(CASES[3], CASES[0], work, 3)
    assert len(pairs.subject_ns) == len(pairs.baseline_ns) == len(pairs.ratios) == 3
    assert pairs.ratio > 0
    assert pairs.rate > 0


def test_run_prints_every_row(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--events", str(_EVENTS), "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    for case in CASES:
        assert f"| {case.name} " in out


def test_events_are_process_events(work: Workload) -> None:
    assert all(ev.__class__ is ProcessEvent for ev in work.events)


def test_instruction_cases_run_without_valgrind(work: Workload) -> None:
    """instructions.py's own cases do their work (the callgrind part needs valgrind)."""
    from .instructions import _run_case

    for name in ("evicting", "unevicted"):
        assert _run_case(f"{name}:prepare", work) == 0
        assert _run_case(name, work) == len(work.events)
    assert _run_case("record loop", work) == work.n_entries
