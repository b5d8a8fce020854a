"""Every goal benchmark and memory probe runs once on a tiny input and does all its work.

Correctness only, never timing: EQL finds as many sequences as the correlator emits complete
records, the eviction stream evicts, the readers read every line, the probes return positive
sizes. A few seconds in all.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import correlog
from correlog import Correlator, EventKind, ProcessEvent

from . import goals, memory
from .cases import Workload, make_workload
from .render import nxlog_lines, snare_lines, write_lines
from .streams import churn_events, iter_stream, make_stream
from .timing import Duel, Side


@pytest.fixture(scope="module")
def small() -> Workload:
    return make_workload(make_stream(3_000, seed=11, spare_pids=10), batch=256)


def test_iter_stream_is_make_stream_lazily() -> None:
    assert list(iter_stream(1_500, seed=5)) == make_stream(1_500, seed=5).events


def test_churn_stream_shape() -> None:
    events = list(churn_events(5_000, exit_share=0.1))
    assert all(ev.__class__ is ProcessEvent for ev in events)
    kinds = Counter(ev.kind for ev in events)
    assert kinds[EventKind.CREATED] > 0.7 * len(events)
    last: dict[str, tuple[int, int]] = {}
    created: set[tuple[str, int]] = set()
    for ev in events:
        key = (ev.host, ev.pid)
        if ev.kind is EventKind.CREATED:
            assert key not in created, "pids are never reused"
            created.add(key)
        else:
            assert key in created, "a follow-up comes after its creation"
        before = last.get(ev.host)
        if before is not None:
            assert ev.time > before[0]
            assert ev.record_number is not None
            assert ev.record_number > before[1]
        last[ev.host] = (ev.time, ev.record_number or 0)
    assert list(churn_events(300)) == list(churn_events(300))
    fresh = list(churn_events(50, intern=False))
    assert fresh == list(churn_events(50))
    assert fresh[0].image is not next(churn_events(1)).image


def test_eql_finds_the_complete_records(small: Workload) -> None:
    expected = goals.complete_records(small.stream)
    assert expected > 0
    for maxspan in (None, "1h"):
        subject, baseline = goals.eql_sides(small, maxspan)
        duel = Duel(subject, baseline).run(1, warmup=False)
        assert duel.answers == (small.stream.processes, expected)


def test_record_build_sides(small: Workload) -> None:
    build, loop = goals.record_build_sides(small)
    duel = Duel(build, loop).run(1, warmup=False)
    assert duel.answers == (small.n_entries, small.n_entries)
    assert len(duel.extra_ns) == 1


def test_eviction_sides_evict_only_with_the_bound() -> None:
    evicting, unbounded = goals.eviction_sides(200, 2_000)
    assert evicting.items == unbounded.items == 2_000
    evicted, exited = evicting.prepare()(), unbounded.prepare()()
    creations = sum(ev.kind is EventKind.CREATED for ev in list(churn_events(2_324))[324:])
    # At the bound each creation makes one record (an eviction, or the exit of one that
    # exited before its turn came); without it only the exits close entries.
    assert isinstance(evicted, int)
    assert isinstance(exited, int)
    assert evicted >= creations
    assert exited < 0.2 * creations


def _lines(path: Path) -> int:
    return sum(1 for _ in path.open(encoding="utf-8"))


def test_rendered_lines_read_back(tmp_path: Path) -> None:
    stream = make_stream(1_200, seed=3)
    snare = tmp_path / "s.snare"
    assert write_lines(snare, snare_lines(stream.events)) == len(stream.events)
    records = list(Correlator().process(correlog.read(snare, "snare")))
    assert len(records) == stream.processes
    # The Vista+ form drops the 600s: the same processes, as many records.
    nxlog = tmp_path / "n.json"
    n = write_lines(nxlog, nxlog_lines(stream.events, message=True))
    assert n == len(stream.events) - stream.kinds[EventKind.TOKEN_ASSIGNED]
    reader = correlog.read(nxlog, "nxlog")
    records = list(Correlator().process(reader))
    assert reader.stats.events == n
    assert len(records) == stream.processes
    line = json.loads(nxlog.read_text(encoding="utf-8").splitlines()[0])
    assert line["EventID"] == 4688
    assert "Message" in line


def test_end_to_end_sides(tmp_path: Path) -> None:
    inputs = goals.write_inputs(tmp_path, 600, 600)
    for name in ("nxlog", "nxlog-lean"):
        path, lines = inputs[name]
        assert lines == _lines(path)
        for fast in (False, True) if goals.has_orjson() else (False,):
            subject, baseline = goals.nxlog_sides(path, lines, fast=fast)
            records, parsed = subject.prepare()(), baseline.prepare()()
            assert parsed == lines
            assert isinstance(records, int)
            assert 0 < records <= lines
    path, lines = inputs["snare"]
    subject, baseline = goals.snare_sides(path, lines)
    assert baseline.prepare()() == lines == 600
    assert 0 < subject.prepare()() <= lines  # type: ignore[operator]


def test_stdlib_json_is_used_inside_the_block() -> None:
    from correlog.readers import _winevent
    from correlog.readers.nxlog import NxlogParser

    with goals.stdlib_json():
        assert NxlogParser(__import__("datetime").UTC, int)._loads is json.loads
    if goals.has_orjson():
        assert NxlogParser(__import__("datetime").UTC, int)._loads is not json.loads
    assert _winevent._LOADS


def test_evtx_sides_when_the_shared_files_are_there() -> None:
    paths = goals.evtx_files()
    if not paths:
        pytest.skip("no shared EVTX files or no evtx package")
    subject, baseline, per_pass = goals.evtx_sides(paths[-1:], 1, decode=True)
    assert baseline.prepare()() == per_pass > 0
    assert 0 < subject.prepare()() <= per_pass  # type: ignore[operator]


def test_render_rows() -> None:
    rows = [goals.Row("1", "a", "0.1 x", ">= 0.5 x", False), goals.Row("2", "b", "1", "x", None)]
    lines = goals.render_rows(rows)
    assert len(lines) == 4
    assert "NOT met" in lines[2]


def test_memory_probes_return_positive_sizes() -> None:
    entry: dict[str, Any] = memory.entry_bytes(300)
    assert entry["n"] >= 290
    assert 100 < entry["per_entry"] < 5_000
    eql = memory.eql_bytes(300)
    assert 100 < eql["per_entry"] < 5_000
    flat = memory.flat_series(3_000, 100, every=1_000)
    assert flat["evicted"] > 0
    assert flat["peak_open"] == 100
    assert len(flat["sizes"]) == len(flat["peaks"]) == 3
    assert all(size > 0 for size in flat["sizes"])
    rss = memory.flat_series(2_000, 100, every=1_000, rss=True, walk=True)
    assert len(rss["retained"]) == 2
    assert all(size > 0 for size in rss["retained"])
    series = memory.eql_series(2_000, 1_000, max_open=10_000)
    assert len(series["series"]["eql"]) == len(series["series"]["correlog"]) == 2
    # Nothing evicted: both complete every process whose exit came.
    assert series["completed"]["eql"] == series["completed"]["correlog"] > 0
    assert memory.retained_bytes([1, 2, 3]) > 0
    assert memory.main(["entry", "--n", "200", "--rss"]) == 0


def test_duel_alternates_and_keeps_answers() -> None:
    calls: list[str] = []

    def side(name: str) -> Side:
        def prepare() -> Callable[[], object]:
            calls.append(f"prepare {name}")

            def run() -> str:
                calls.append(name)
                return name

            return run

        return Side(name, 10, prepare)

    duel = Duel(side("s"), side("b")).run(2, warmup=False)
    assert [c for c in calls if not c.startswith("prepare")] == ["b", "s", "s", "b"]
    assert duel.answers == ("s", "b")
    assert len(duel.ratios) == 2
    assert duel.ratio > 0
