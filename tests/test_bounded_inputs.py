"""Many inputs merged with a bounded number of open files and parser children.

A triage collection holds hundreds of EVTX files. The merge of several inputs keeps at most a
few open (the others read ahead into a spool), and one long-lived EVTX parser child serves the
files one after another: the events and their order are those of a merge of every input read
as it goes (the plain reference below), and the file-descriptor limit of a small process is
not reached.
"""

from __future__ import annotations

import argparse
import heapq
import io
import itertools
import os
import resource
import select
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import correlog
from correlog import Event, ParseError
from correlog.cli import _inputs, _spool
from correlog.cli._inputs import Inputs, sample_path
from correlog.readers import Limits, evtx
from correlog.testing import EvtRecord, evt_bytes

from .strategies import host_events, process_events

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
EVTX = sorted((DATA / "evtx").glob("*.evtx"))
SNARE = Path(sample_path()).read_bytes().splitlines(keepends=True)
SMALL_EVTX = DATA / "evtx" / "hayabusa_mitre_T1134_runas_4688_4648_4624.evtx"


def args(errors: str = "skip") -> argparse.Namespace:
    return argparse.Namespace(format="auto", errors=errors, tz=None, no_progress=True)


def reference(paths: list[str], errors: str = "skip") -> Iterator[Event]:
    """The plain merge: every input opened and read as it goes, merged by time."""
    readers = [correlog.read(path, errors=errors, name=path) for path in paths]
    return heapq.merge(*readers, key=lambda event: event.time)


def outcome(events: Iterator[Event]) -> tuple[list[Event], str | None]:
    """The events until the end, or until an error, and that error's text."""
    found: list[Event] = []
    try:
        found.extend(events)
    except ParseError as exc:
        return found, str(exc)
    return found, None


# An input: snare lines picked from the sample (in order or not, possibly one bad line), an
# .evt file of a few records, or one of the shared EVTX files.
snare_input = st.tuples(
    st.just("snare"),
    st.lists(st.integers(0, len(SNARE) - 1), max_size=8),
    st.booleans(),
)
evt_input = st.tuples(
    st.just("evt"),
    st.lists(st.integers(0, 3600), min_size=1, max_size=5),
    st.just(False),
)
evtx_input = st.tuples(st.just("evtx"), st.integers(0, 2), st.just(False))


def write_inputs(folder: Path, inputs: list[tuple[str, Any, bool]]) -> list[str]:
    paths = []
    for index, (kind, what, bad) in enumerate(inputs):
        path = folder / f"{index:03}.{kind}"
        if kind == "snare":
            lines = [SNARE[i] for i in what]
            if bad:
                lines.insert(len(lines) // 2, SNARE[0].replace(b"\t592\t", b"\tnot a number\t"))
            path.write_bytes(b"".join(lines))
        elif kind == "evt":
            records = [
                EvtRecord(n + 1, 1_046_769_300 + s, 592, "IIS02", [str(4 * n), "a.exe", "8", "u"])
                for n, s in enumerate(what)
            ]
            path.write_bytes(evt_bytes(records))
        else:
            shutil.copyfile(EVTX[what], path)
        paths.append(str(path))
    return paths


class TestTheSameEventsInTheSameOrder:
    @settings(max_examples=50, suppress_health_check=[HealthCheck.too_slow])
    @example(  # an error in an input read ahead: raised where the plain merge meets it
        [("snare", [0, 1, 2, 3], False), ("snare", [4, 5, 6, 7], True)], "strict", 1, 100
    )
    @example(  # equal times in several inputs: the earlier input's event first
        [("snare", [0, 1], False), ("evt", [0, 0], False), ("snare", [0, 1], False)], "skip", 1, 0
    )
    @given(
        st.lists(st.one_of(snare_input, evt_input), min_size=2, max_size=40),
        st.sampled_from(["skip", "strict"]),
        st.integers(1, 4),
        st.integers(0, 20),
    )
    def test_text_and_evt_inputs(
        self, inputs: list[tuple[str, Any, bool]], errors: str, live: int, memory: int
    ) -> None:
        self.check(inputs, errors, live, memory)

    @pytest.mark.skipif(not EVTX, reason="the shared EVTX files are absent")
    @settings(max_examples=10, suppress_health_check=[HealthCheck.too_slow])
    @given(
        st.lists(st.one_of(snare_input, evtx_input), min_size=2, max_size=12),
        st.integers(1, 3),
        st.sampled_from([0, 100, 10_000]),
    )
    def test_with_evtx_inputs(
        self, inputs: list[tuple[str, Any, bool]], live: int, memory: int
    ) -> None:
        pytest.importorskip("evtx")
        self.check(inputs, "skip", live, memory)

    @staticmethod
    def check(inputs: list[tuple[str, Any, bool]], errors: str, live: int, memory: int) -> None:
        with tempfile.TemporaryDirectory() as folder, pytest.MonkeyPatch.context() as patch:
            # Few inputs live and a small memory bound: the spool's file is used too.
            patch.setattr(_inputs, "MAX_LIVE_INPUTS", live)
            patch.setattr(_spool, "MEMORY_EVENTS", memory)
            patch.setattr(_spool, "_BATCH", 3)
            paths = write_inputs(Path(folder), inputs)
            expected = outcome(reference(paths, errors))
            merged = Inputs(paths, args(errors))
            assert outcome(iter(merged)) == expected
            if expected[1] is None:
                stats = [(r.name, r.stats.events, r.stats.skipped) for r in merged.readers]
                plain = [correlog.read(p, errors="skip", name=p) for p in paths]
                for reader in plain:
                    list(reader)
                assert stats == [(r.name, r.stats.events, r.stats.skipped) for r in plain]


class TestTheBound:
    @pytest.mark.skipif(not EVTX, reason="the shared EVTX files are absent")
    def test_300_inputs_within_64_file_descriptors(self, tmp_path: Path) -> None:
        """Half EVTX, half text: one process limited to 64 open files reads them all."""
        pytest.importorskip("evtx")
        for index in range(150):
            shutil.copyfile(SMALL_EVTX, tmp_path / f"{index:03}.evtx")
            lines = SNARE[index % len(SNARE) :] + SNARE[: index % len(SNARE)]
            (tmp_path / f"{index:03}.snare").write_bytes(b"".join(sorted(lines[:4])))
        expected = len(list(reference(sorted(str(p) for p in tmp_path.iterdir()))))

        def limit() -> None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))

        env = {**os.environ, "PYTHONPATH": str(Path(correlog.__file__).parents[1])}
        done = subprocess.run(
            [sys.executable, "-m", "correlog", "events", "--no-progress", str(tmp_path)],
            capture_output=True,
            text=True,
            preexec_fn=limit,
            env=env,
            timeout=600,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert f"read {expected} events from" in done.stderr
        assert len(done.stdout.splitlines()) == expected

    @pytest.mark.skipif(not EVTX, reason="the shared EVTX files are absent")
    def test_one_parser_child_serves_every_evtx_input(self, tmp_path: Path) -> None:
        pytest.importorskip("evtx")
        paths = []
        for index in range(30):
            shutil.copyfile(SMALL_EVTX, tmp_path / f"{index:02}.evtx")
            paths.append(str(tmp_path / f"{index:02}.evtx"))
        evtx._SERVERS.close()
        children: set[int] = set()
        most = 0
        for _ in Inputs(paths, args()):
            children.update(server.pid for server in evtx._SERVERS.live)
            most = max(most, len(evtx._SERVERS.live))
        assert most == 1
        assert len(children) == 1


class Looping:
    """A parser that hands over two records, then loops without end (a damaged file)."""

    def __init__(self, source: Any) -> None:
        del source

    def records_json(self) -> Iterator[dict[str, str]]:
        yield {"data": '{"Event": {"System": {"EventID": 4624}}}'}
        time.sleep(0.2)  # so that the child hands the record over with the next one
        yield {"data": '{"Event": {"System": {"EventID": 4625}}}'}
        while True:
            pass


class Once:
    """A parser of two records that is quick about it."""

    def __init__(self, source: Any) -> None:
        del source

    def records_json(self) -> Iterator[dict[str, str]]:
        yield {"data": '{"Event": {"System": {"EventID": 4624}}}'}
        yield {"data": '{"Event": {"System": {"EventID": 4625}}}'}


class TestTheSharedChild:
    """Files handed one at a time to one child; a child stopped is replaced."""

    @pytest.fixture
    def evtx_file(self, tmp_path: Path) -> Path:
        path = tmp_path / "a.evtx"
        path.write_bytes(evtx.MAGIC + b"\x00" * 4088)
        return path

    def records(self, path: Path, parser: Any) -> list[tuple[int, Any]]:
        with open(path, "rb") as file:
            return list(evtx.evtx_records(file, Limits(evtx_timeout=1), parser=parser))

    def test_the_child_is_reused_across_files(self, evtx_file: Path) -> None:
        evtx._SERVERS.close()
        pids: set[int] = set()
        for _ in range(5):
            assert [ordinal for ordinal, _ in self.records(evtx_file, Once)] == [1, 2]
            pids.update(server.pid for server in evtx._SERVERS.live)
        assert len(pids) == 1

    def test_a_stuck_child_is_killed_and_replaced(self, evtx_file: Path) -> None:
        evtx._SERVERS.close()
        self.records(evtx_file, Once)
        (first,) = (server.pid for server in evtx._SERVERS.live)
        started = time.monotonic()
        *records, (_, stuck) = self.records(evtx_file, Looping)
        assert time.monotonic() - started < 30
        assert len(records) == 2
        assert stuck.category == "evtx parser stuck"
        assert "after record 2" in str(stuck)
        assert evtx._SERVERS.live == []
        with pytest.raises(ChildProcessError):
            os.waitpid(first, os.WNOHANG)  # killed and reaped, not left behind
        assert [ordinal for ordinal, _ in self.records(evtx_file, Once)] == [1, 2]
        (second,) = (server.pid for server in evtx._SERVERS.live)
        assert second != first

    def test_a_child_that_died_while_idle_is_replaced(self, evtx_file: Path) -> None:
        evtx._SERVERS.close()
        self.records(evtx_file, Once)
        (server,) = evtx._SERVERS.live
        os.kill(server.pid, 9)  # a Ctrl-C to the process group ends it too
        time.sleep(0.1)
        assert [ordinal for ordinal, _ in self.records(evtx_file, Once)] == [1, 2]

    def test_a_child_that_died_as_it_was_handed_a_file_is_replaced(
        self, evtx_file: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        evtx._SERVERS.close()
        self.records(evtx_file, Once)
        (server,) = evtx._SERVERS.live
        os.kill(server.pid, 9)
        time.sleep(0.1)
        monkeypatch.setattr(evtx._Server, "alive", lambda self: True)  # dies after the check
        assert [ordinal for ordinal, _ in self.records(evtx_file, Once)] == [1, 2]
        assert server not in evtx._SERVERS.live

    def test_a_file_given_up_half_read_stops_its_child(self, evtx_file: Path) -> None:
        evtx._SERVERS.close()
        with open(evtx_file, "rb") as file:
            records = evtx.evtx_records(file, Limits(evtx_timeout=1), parser=Once)
            assert isinstance(records, Generator)
            next(records)
            records.close()
        assert evtx._SERVERS.live == []

    def test_an_idle_child_holds_no_pipe_of_the_parent_open(self, evtx_file: Path) -> None:
        evtx._SERVERS.close()
        read_end, write_end = os.pipe()
        self.records(evtx_file, Once)  # the child is forked while both ends are open
        assert evtx._SERVERS.live
        os.close(write_end)
        ready, _, _ = select.select([read_end], [], [], 10)
        assert ready
        assert os.read(read_end, 1) == b""  # end of file: nobody else writes
        os.close(read_end)

    def test_a_forked_process_starts_its_own_child(self, evtx_file: Path) -> None:
        evtx._SERVERS.close()
        self.records(evtx_file, Once)
        (parents,) = evtx._SERVERS.live
        pid = os.fork()
        if pid == 0:  # pragma: no cover (checked by its exit status)
            ok = evtx._SERVERS.live == [] and len(self.records(evtx_file, Once)) == 2
            os._exit(0 if ok else 1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert evtx._SERVERS.live == [parents]  # the parent's child, still its own
        assert len(self.records(evtx_file, Once)) == 2

    def test_an_in_memory_file_gets_a_child_of_its_own(self) -> None:
        data = io.BytesIO(evtx.MAGIC + b"\x00" * 4088)
        found = list(evtx.evtx_records(data, Limits(evtx_timeout=1), parser=Once))
        assert [ordinal for ordinal, _ in found] == [1, 2]


def test_spooled_events_come_back_in_order_from_memory_and_disk() -> None:
    spool = _spool.Spool(memory_events=5)
    events = list(itertools.islice(correlog.read(sample_path()), 12))
    first = spool.replay(events)
    second = spool.replay(events[:3])
    assert list(second) == events[:3]
    assert list(first) == events
    spool.close()


@given(st.lists(process_events | host_events, max_size=30), st.integers(0, 8))
@settings(max_examples=60, deadline=None)
def test_any_event_spooled_to_disk_comes_back_equal(events: list[Event], kept: int) -> None:
    # Past its memory bound the spool writes plain data (no pickle): every field of every event
    # kind, extra dicts and host events included, must come back equal and in order.
    spool = _spool.Spool(memory_events=kept)
    try:
        assert list(spool.replay(events)) == events
    finally:
        spool.close()
