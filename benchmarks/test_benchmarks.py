"""Every benchmark case does all of its work, on tiny inputs. Correctness only, never timing."""

from __future__ import annotations

import importlib.util
import re
import sys
import types
from pathlib import Path

import pytest

import correlog
from correlog import EventKind

from . import cases, instructions, run
from .end_to_end import cpu_and_rss
from .memory import entry_bytes
from .render import nxlog_lines, snare_lines, write_lines
from .run import Row, _parse, main
from .streams import Stream, make_stream
from .timing import Side


@pytest.fixture(scope="module")
def stream() -> Stream:
    # Few spare pids, so that pids are reused (and lost exits superseded) even in 2,000 events.
    return make_stream(2_000, seed=7, spare_pids=10)


def answer(side: Side) -> int:
    found = side.prepare()()
    assert isinstance(found, int)
    return found


def test_the_stream_is_deterministic_and_interleaves_its_hosts(stream: Stream) -> None:
    assert stream.events == make_stream(2_000, seed=7, spare_pids=10).events
    assert stream.events != make_stream(2_000, seed=8, spare_pids=10).events
    assert {ev.host for ev in stream.events} == set(stream.hosts)
    assert len(stream.hosts) == 4


def test_the_core_cases_do_all_their_work(stream: Stream) -> None:
    batches = stream.batches(256)
    assert answer(cases.feed_many_side(batches)) == stream.processes
    not_created = sum(ev.kind is not EventKind.CREATED for ev in stream.events)
    assert answer(cases.single_record_side(batches)) == not_created  # every 600 and XP 593
    assert answer(cases.monitor_single_side(batches)) > 0
    assert 0 < answer(cases.floor_side(batches)) < stream.processes  # (host, pid) keys left open


def test_at_the_bound_every_creation_evicts() -> None:
    evicting, unbounded = cases.eviction_sides(200, 2_000)
    created = 2_000 * 0.7  # churn_events: most of the timed events are creations
    assert answer(evicting) >= created
    assert answer(unbounded) < answer(evicting) / 2


def test_the_rendered_files_read_back_one_record_per_process(tmp_path: Path) -> None:
    stream = make_stream(1_500, seed=3)
    snare = tmp_path / "s.snare"
    lines = write_lines(snare, snare_lines(stream.events))
    assert answer(cases.snare_sides(snare, lines)[0]) == stream.processes
    assert answer(cases.snare_sides(snare, lines)[1]) == lines == 1_500
    watch, correlate = cases.watch_sides(snare, lines)
    assert answer(correlate) == stream.processes
    assert isinstance(answer(watch), int)
    if importlib.util.find_spec("orjson") is not None:
        nxlog = tmp_path / "n.json"
        n = write_lines(nxlog, nxlog_lines(stream.events))
        subject, floor = cases.nxlog_sides(nxlog, n)
        assert answer(subject) == stream.processes
        assert answer(floor) == n


def test_the_hunt_case_counts_matches() -> None:
    pytest.importorskip("sigma")
    from correlog.cli._inputs import sample_path
    from correlog.sigma import RuleSet, SigmaRule

    records = list(correlog.Correlator().process(correlog.read(sample_path())))
    one = RuleSet([SigmaRule.from_dict(cases._TRIVIAL_RULE)])
    subject, baseline = cases.hunt_sides(one, records)
    assert answer(subject) == answer(baseline) == 1  # the web shell's cmd.exe


def test_an_open_process_costs_a_few_hundred_bytes() -> None:
    assert 200 < entry_bytes(2_000) < 1_000


def test_an_instruction_count_run_does_its_case() -> None:
    for case in instructions.CASES:
        instructions.inner(case, 300)


def test_the_runner_prints_one_row_per_case(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--quick", "--only", "core", "--pairs", "1"]) == 0
    table = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ")]
    assert len(table) == 1 + 4  # the header and the four core cases
    assert "Correlator.feed_many / floor" in table[1]


def test_the_table_takes_sections_from_the_modules_named(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    module = types.ModuleType("benchmarks._probe")
    module.SECTIONS = {"probe": lambda sizes: [Row("probe case", "1.00 x", "", "")]}  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "benchmarks._probe", module)
    # A module that is not there (a benchmark not written yet) is left out.
    monkeypatch.setattr(run, "SECTION_MODULES", ("benchmarks._probe", "benchmarks._absent"))
    assert main(["--quick", "--only", "probe"]) == 0
    table = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ")]
    assert len(table) == 1 + 1
    assert "probe case" in table[1]
    with pytest.raises(SystemExit):
        main(["--only", "absent"])


def test_a_whole_process_is_measured_in_cpu_time_and_peak_rss() -> None:
    cpu, rss = cpu_and_rss([sys.executable, "-c", "bytearray(64 << 20)"])
    assert cpu > 0
    assert rss > 64 << 10  # KiB
    with pytest.raises(RuntimeError, match="status 3"):
        cpu_and_rss([sys.executable, "-c", "raise SystemExit(3)"])


def test_every_benchmark_command_the_docs_cite_exists() -> None:
    root = Path(__file__).resolve().parents[1]
    text = "\n".join(
        (root / doc).read_text(encoding="utf-8")
        for doc in ("docs/performance.md", "docs/sigma.md", "README.md")
    )
    cited = re.findall(r"python3? (-m benchmarks(?:\.\w+)?|benchmarks/[\w.]+)([^`#(\n]*)", text)
    assert len(cited) >= 5, cited
    for command, argv in cited:
        if command.startswith("-m benchmarks."):  # a standalone script of its own
            assert (root / "benchmarks" / f"{command.split('.', 1)[1]}.py").exists(), command
            continue
        if command.startswith("benchmarks/"):
            assert (root / command).exists(), command
            if command != "benchmarks/run.py":  # a standalone script with options of its own
                continue
        _parse(argv.split())  # exits (status 2) on an option the runner does not know


def test_the_zircolite_baseline_finds_what_correlog_finds() -> None:
    # Both sides of the hunt comparison, on one of SigmaHQ's own regression logs: each finds
    # the rule's expected matches, so neither side is timed doing less than its job.
    pytest.importorskip("sigma")
    pytest.importorskip("evtx")
    from correlog.sigma import load_rules

    from . import hunt_zircolite as hz

    case = hz.RULES.parent / "regression" / "proc_creation_win_findstr_lsass"
    if not case.is_dir():
        pytest.skip("no shared SigmaHQ regression data")
    rule = hz.RULES / f"{case.name}.yml"
    [log] = case.glob("*.evtx")
    corpus = hz.Corpus("one", (log,), loops=2)
    events = hz.count_events(corpus)
    assert events == 2 * sum(1 for _ in hz.read_events(log))
    baseline = hz.baseline_side(corpus, hz.SqliteHunt([rule]), events)
    subject = hz.correlog_side(corpus, load_rules(rule), events)
    assert answer(baseline) == answer(subject) >= 2
    flat = hz.flatten(
        {"Event": {"System": {"EventID": 1, "Provider": {"#attributes": {"Name": "S"}}}}}
    )
    assert flat == {"EventID": "1", "Provider_Name": "S"}


def test_every_section_module_named_is_there_and_registers() -> None:
    # A typo in SECTION_MODULES would silently drop a benchmark from the table.
    for name in run.SECTION_MODULES:
        module = importlib.import_module(name)
        assert set(module.SECTIONS) <= set(run.sections())
    assert {"end_to_end", "hunting"} <= set(run.sections())


def test_the_evtx_row_gives_correlog_the_records_the_floor_parses(tmp_path: Path) -> None:
    # correlog reads a path named twice once: copies must have names of their own.
    from correlog.cli._inputs import expand

    from .end_to_end import evtx_copies

    source = tmp_path / "one.evtx"
    source.write_bytes(b"ElfFile\x00")
    folder = tmp_path / "copies"
    folder.mkdir()
    paths = evtx_copies([source], 3, folder)
    assert len(set(paths)) == 3
    assert expand(paths, "evtx").files == paths


@pytest.mark.skipif(not cases.has_orjson(), reason="orjson (the fast extra) is not installed")
def test_the_least_nxlog_pipeline_writes_one_line_per_exited_process(
    stream: Stream, tmp_path: Path
) -> None:
    # The reference row's script must do the pairing it claims, or its ratio means nothing.
    import subprocess

    import orjson

    from .end_to_end import _NXLOG_LEAST

    path = tmp_path / "stream.json"
    write_lines(path, nxlog_lines(stream.events))
    done = subprocess.run(
        [sys.executable, "-c", _NXLOG_LEAST, str(path)], capture_output=True, check=True
    )
    lines = [orjson.loads(line) for line in done.stdout.splitlines()]
    exited = [
        r
        for r in correlog.Correlator().process(correlog.read(str(path), "nxlog"))
        if r.reason == "exited"
    ]
    assert len(lines) == len(exited) > 100
    assert sorted((line["host"].lower(), line["pid"]) for line in lines) == sorted(
        (r.host, r.pid) for r in exited
    )


@pytest.mark.skipif(not cases.evtx_files(), reason="no evtx package or shared EVTX files")
def test_the_least_evtx_pipeline_writes_one_line_per_process_it_saw_created() -> None:
    import subprocess

    from .end_to_end import _EVTX_LEAST

    paths = [str(p) for p in cases.evtx_files()]
    done = subprocess.run(
        [sys.executable, "-c", _EVTX_LEAST, *paths], capture_output=True, check=True
    )
    created = {
        (e.host, e.pid)
        for p in paths
        for e in correlog.read(p, "evtx")
        if isinstance(e, correlog.ProcessEvent) and e.kind is EventKind.CREATED
    }
    assert len(done.stdout.splitlines()) == len(created) > 100


def _stdout(argv: list[str]) -> list[bytes]:
    import subprocess

    return subprocess.run(argv, capture_output=True, check=True).stdout.splitlines()


@pytest.mark.skipif(not cases.has_orjson(), reason="orjson (the fast extra) is not installed")
def test_the_same_bytes_bound_writes_correlogs_lines_for_every_exited_process(
    tmp_path: Path,
) -> None:
    # The bound row claims to write what correlate writes; were it to write less, or other
    # bytes, the bound it gives would mean nothing.
    import orjson

    from .end_to_end import SAME_BYTES, correlog_argv

    path = tmp_path / "stream.json"
    write_lines(path, nxlog_lines(make_stream(6_000, seed=4688).events))
    written = _stdout([*SAME_BYTES, "nxlog", str(path)])
    correlated = _stdout(correlog_argv("correlate", "--format", "nxlog", str(path)))
    exited = [line for line in correlated if orjson.loads(line)["reason"] == "exited"]
    assert len(exited) > 1_000
    assert sorted(written) == sorted(exited)


@pytest.mark.skipif(not cases.evtx_files(), reason="no evtx package or shared EVTX files")
def test_the_same_bytes_bound_writes_correlogs_records_for_the_evtx_files() -> None:
    # Every record, field for field; only the reason of a record whose log was cleared differs
    # (the bound does not look at 1102), so it is left out of the comparison.
    from collections import Counter

    import orjson

    from .end_to_end import SAME_BYTES, correlog_argv

    paths = [str(p) for p in cases.evtx_files()]

    def records(lines: list[bytes]) -> Counter[bytes]:
        found: Counter[bytes] = Counter()
        for line in lines:
            record = orjson.loads(line)
            del record["reason"]
            found[orjson.dumps(record)] += 1
        return found

    written = records(_stdout([*SAME_BYTES, "evtx", *paths]))
    correlated = records(_stdout(correlog_argv("correlate", "--format", "evtx", *paths)))
    assert written.total() > 500
    assert written == correlated


@pytest.mark.skipif(not cases.has_orjson(), reason="orjson (the fast extra) is not installed")
def test_the_same_bytes_bound_restates_correlogs_integrity_levels() -> None:
    from correlog.decoders.vista import INTEGRITY_LEVELS

    from .same_bytes import INTEGRITY_LEVELS as RESTATED

    assert dict(INTEGRITY_LEVELS) == RESTATED


def test_the_bytecode_count_names_the_functions_of_a_run(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from . import bytecodes

    counts = bytecodes.count(["correlate", "--sample"])
    assert counts["_correlator.py:_fold"] > 0
    assert counts["<correlog.output fast encoder for Record>:encode"] > 0
    bytecodes.main(["--top", "3", "correlate", "--sample"])
    table = capsys.readouterr().out.splitlines()
    assert table[0].startswith("bytecode instructions: ")
    assert len(table) == 4


def test_the_stage_tool_runs_every_stage_on_what_it_read(tmp_path: Path) -> None:
    """``python -m benchmarks.stages``: the floor parses every line of each format, and every
    stage is run and timed."""
    from .stages import measure

    stream = make_stream(600, seed=5)
    snare = tmp_path / "s.snare"
    lines = write_lines(snare, snare_lines(stream.events))
    items, stages = measure([str(snare)], "snare", repeat=1)
    assert items == lines == 600
    assert [name for name, _ in stages] == ["floor", "read", "fold", "cross-log", "encode"]
    assert all(seconds > 0 for _, seconds in stages)
    if importlib.util.find_spec("orjson") is not None:
        nxlog = tmp_path / "n.json"
        n = write_lines(nxlog, nxlog_lines(stream.events))
        assert measure([str(nxlog)], "nxlog", repeat=1)[0] == n
