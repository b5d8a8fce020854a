"""``correlog hunt`` against Zircolite's method, in the same run: ``python -m
benchmarks.hunt_zircolite`` (``--quick`` for a smoke run, ``--pairs N``).

Zircolite (github.com/wagga40/Zircolite) hunts EVTX and JSON logs with Sigma rules by turning
each rule into SQL with pySigma's SQLite backend and running the queries over an in-memory
SQLite table of flattened events. It is not on PyPI, so it cannot be installed here; this module
*reproduces its method* with the same components, and is **not Zircolite itself**:

* events read with the evtx crate's JSON rendering (``PyEvtxParser.records_json``), or as JSON
  lines from the OTRF archives, parsed with orjson when installed (else ``json``);
* each event flattened as Zircolite flattens it: nested keys joined, the last part kept as the
  column name (``Event.EventData.Image`` -> ``Image``), ``#text`` values under their parent's
  name, attributes as ``Parent_Attribute`` (``Provider_Name``); column names unique without
  regard to case, as SQLite sees them;
* one in-memory table ``logs`` for the whole input, every column ``TEXT COLLATE NOCASE``, rows
  inserted in batches (``executemany``, kinder to the baseline than a statement per row), an
  index on ``EventID``, ``REGEXP`` as Python's ``re.search``;
* the 1,183 rules converted once, untimed (Zircolite ships its rulesets converted), then every
  query run (``SELECT *``, rows fetched); a query naming a column the table lacks fails and the
  rule is dropped, as Zircolite drops it.

The subject is what ``correlog hunt`` does per input, less writing the hits: ``correlog.read``
into one ``Correlator``, each final record asked through ``RuleSet.hunt`` (rules loaded
beforehand, untimed, on both sides). Both sides read the same files, so the rate of each is
input events per second and the ratio is the ratio of their times, in alternating pairs
(:mod:`benchmarks.timing`).

Start-up is measured too: compiling the rules with no cache, loading them from the cache and
matching a first record, and ``correlog hunt`` on a 9-event log as a subprocess (best of three),
with ``--no-cache`` and with the cache; each in wall clock and in CPU time.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any

import correlog
from correlog import Correlator

from .run import FULL, Row, Sizes
from .timing import Duel, Pass, Side, frozen_gc

__all__ = ["Corpus", "SqliteHunt", "corpora", "correlog_side", "flatten", "main"]

_SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
RULES = _SHARED / "sigma" / "rules"
#: The goal: correlog at least this many times Zircolite's method's rate, on every corpus.
GOAL = 5.0


@dataclass(frozen=True, slots=True)
class Corpus:
    """Files hunted as one input, ``loops`` times over (copies, as one would concatenate)."""

    name: str
    paths: tuple[Path, ...]
    loops: int = 1

    @property
    def inputs(self) -> list[Path]:
        return list(self.paths) * self.loops


def corpora(folder: Path, quick: bool = False) -> list[Corpus]:
    """The Security 4688 logs; SigmaHQ's Sysmon regression logs, as they come (one EVTX file of
    one or two events per rule) and as one Sysmon log (their events as NXLog JSON lines, written
    into ``folder``, 20 copies under distinct host names); every shared EVTX file and OTRF
    archive together (the whole attack corpus)."""
    security = tuple(sorted((_SHARED / "evtx").glob("*4688*.evtx")))
    sysmon = tuple(sorted((_SHARED / "sigma" / "regression").glob("*/*.evtx")))
    archives = tuple(sorted((_SHARED / "json").glob("*.zip")))
    log = folder / "sysmon.json"
    if sysmon:
        sysmon_log(sysmon, log, copies=2 if quick else 20)
    if quick:
        return [Corpus("Security 4688 (quick)", security[-1:]), Corpus("Sysmon log", (log,))]
    return [
        Corpus("Security 4688", security, 4),
        Corpus("Sysmon log (NXLog JSON)", (log,) if sysmon else ()),
        Corpus("Sysmon, one EVTX per rule", sysmon),
        Corpus("whole corpus (EVTX + OTRF)", (*security, *sysmon, *archives)),
    ]


def sysmon_log(paths: Sequence[Path], dest: Path, copies: int) -> int:
    """The events of Sysmon EVTX files as one NXLog-style JSON-lines log (the OTRF archives'
    shape: ``EventData`` at the top level), ``copies`` times under distinct host names, so
    that every copy is another host's processes. Returns the events written."""
    lines: list[str] = []
    for copy in range(copies):
        for path in paths:
            for event in read_events(path):
                system, data = event["Event"]["System"], event["Event"].get("EventData") or {}
                stamp = system["TimeCreated"]["#attributes"]["SystemTime"]
                line = {
                    "EventTime": stamp[:19].replace("T", " "),
                    "Hostname": f"{system['Computer']}-{copy}",
                    "EventID": system["EventID"],
                    "SourceName": system["Provider"]["#attributes"]["Name"],
                    "Channel": system["Channel"],
                    "RecordNumber": system["EventRecordID"],
                    **data,
                }
                lines.append(json.dumps(line))
    dest.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(lines)


# -- the baseline: Zircolite's method -------------------------------------------------------


def _loads() -> Callable[[str | bytes], Any]:
    if importlib.util.find_spec("orjson") is not None:
        import orjson

        return orjson.loads
    return json.loads


def read_events(path: Path) -> Iterator[dict[str, Any]]:
    """The events of an EVTX file (the evtx crate's JSON), a JSON-lines file, or a zipped one."""
    loads = _loads()
    if path.suffix == ".json":
        with path.open("rb") as lines:
            yield from (loads(line) for line in lines if line.strip())
        return
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as archive:
            for name in archive.namelist():
                with archive.open(name) as member:
                    for line in member:
                        if line.strip():
                            yield loads(line)
        return
    from evtx import PyEvtxParser

    record: Any
    for record in PyEvtxParser(str(path)).records_json():
        yield loads(record["data"])


def flatten(event: dict[str, Any]) -> dict[str, str]:
    """An event as Zircolite's columns: nested keys' last part, ``#text`` as its parent,
    attributes as ``Parent_Attribute``; values as text."""
    out: dict[str, str] = {}

    def walk(value: Any, path: tuple[str, ...]) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(inner, (*path, key))
            return
        if value is None:
            return
        if path[-1] == "#text":
            name = path[-2] if len(path) > 1 else "text"
        elif len(path) > 2 and path[-2] == "#attributes":
            name = f"{path[-3]}_{path[-1]}"
        else:
            name = path[-1]
        out[name] = value if isinstance(value, str) else json.dumps(value)

    walk(event, ())
    return out


def _regexp(pattern: str, value: str | None) -> bool:
    if value is None:
        return False
    try:
        return re.search(pattern, value) is not None
    except re.error:
        return False


class SqliteHunt:
    """pySigma's SQLite backend over one in-memory table of flattened events."""

    def __init__(self, rule_files: Sequence[Path]) -> None:
        import yaml
        from sigma.backends.sqlite.sqlite import sqliteBackend
        from sigma.collection import SigmaCollection
        from sigma.rule import SigmaYAMLLoader

        backend = sqliteBackend()  # type: ignore[no-untyped-call]  # the backend is untyped
        #: The rules' queries, converted once; files that do not convert are counted.
        self.queries: list[str] = []
        self.unconverted = 0
        for path in rule_files:
            try:
                documents = list(yaml.load_all(path.read_text("utf-8"), Loader=SigmaYAMLLoader))
                self.queries.extend(backend.convert(SigmaCollection.from_dicts(documents)))
            except Exception:
                self.unconverted += 1

    def run(self, events: Iterable[dict[str, Any]]) -> tuple[int, int]:
        """Load the events, run every query: ``(rows matched, rules dropped)``."""
        rows = [flatten(e) for e in events]
        columns: dict[str, str] = {}  # lower-case name -> the spelling first seen
        for row in rows:
            for name in row:
                columns.setdefault(name.lower(), name)
        conn = sqlite3.connect(":memory:")
        try:
            conn.create_function("regexp", 2, _regexp, deterministic=True)
            names = list(columns.values())
            conn.execute(
                "CREATE TABLE logs (row_id INTEGER PRIMARY KEY, "
                + ", ".join(f'"{n}" TEXT COLLATE NOCASE' for n in names)
                + ")"
            )
            groups: dict[tuple[str, ...], list[tuple[str, ...]]] = {}
            for row in rows:
                key = tuple(columns[k.lower()] for k in row)
                groups.setdefault(key, []).append(tuple(row.values()))
            for key, values in groups.items():
                if len({k.lower() for k in key}) != len(key):
                    continue  # two spellings of one column in one event: Zircolite keeps one
                cols = ", ".join(f'"{k}"' for k in key)
                marks = ", ".join("?" * len(key))
                conn.executemany(f"INSERT INTO logs ({cols}) VALUES ({marks})", values)
            if "eventid" in columns:
                conn.execute(f'CREATE INDEX idx_eventid ON logs("{columns["eventid"]}")')
            matched = dropped = 0
            for query in self.queries:
                try:
                    matched += len(conn.execute(query).fetchall())
                except sqlite3.OperationalError:
                    dropped += 1  # a column the table lacks: Zircolite skips the rule
            return matched, dropped
        finally:
            conn.close()


# -- the two sides ---------------------------------------------------------------------------


def count_events(corpus: Corpus) -> int:
    """Events in the corpus (every event, process or not: both sides read them all)."""
    return sum(1 for path in corpus.inputs for _ in read_events(path))


def correlog_side(corpus: Corpus, ruleset: Any, events: int) -> Side:
    """``correlog hunt``'s work: read, correlate, ask every final record. Answer: hits."""

    def prepare() -> Pass:
        def run() -> int:
            found = chain.from_iterable(correlog.read(p) for p in corpus.inputs)
            return sum(1 for _ in ruleset.hunt(Correlator().process(found)))

        return run

    return Side("correlog hunt", events, prepare)


def baseline_side(corpus: Corpus, baseline: SqliteHunt, events: int) -> Side:
    """Zircolite's method over the same files. Answer: rows matched."""

    def prepare() -> Pass:
        def run() -> int:
            events_read = chain.from_iterable(read_events(p) for p in corpus.inputs)
            return baseline.run(events_read)[0]

        return run

    return Side("Zircolite's method", events, prepare)


# -- start-up --------------------------------------------------------------------------------


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def _hunt_cli(argv: Sequence[str], env: dict[str, str], times: int = 3) -> tuple[float, float]:
    """``correlog hunt`` as a subprocess: the best wall clock and CPU time of ``times`` runs."""
    wall = cpu = float("inf")
    for _ in range(times):
        started, used = time.perf_counter(), _cpu(resource.RUSAGE_CHILDREN)
        subprocess.run(
            [sys.executable, "-m", "correlog", "hunt", *argv],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wall = min(wall, time.perf_counter() - started)
        cpu = min(cpu, _cpu(resource.RUSAGE_CHILDREN) - used)
    return wall, cpu


def startup(tiny: Path) -> list[tuple[str, str, str]]:
    """Rule loading and the time to a first match, cold and from the cache: wall clock and
    CPU time (on a busy machine the CPU time is the steadier figure)."""
    from correlog.sigma import RuleCache, load_rules

    out: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory() as folder:
        cache = RuleCache(Path(folder) / "correlog")
        started, used = time.perf_counter(), time.process_time()
        ruleset = load_rules(RULES, cache=cache)
        wall, cpu = time.perf_counter() - started, time.process_time() - used
        out.append(("compile 1,183 rules (no cache; writes it)", f"{wall:.2f} s", f"{cpu:.2f} s"))
        started, used = time.perf_counter(), time.process_time()
        again = load_rules(RULES, cache=RuleCache(cache.folder))
        first = next(iter(again.hunt(Correlator().process(correlog.read(tiny)))), None)
        wall, cpu = time.perf_counter() - started, time.process_time() - used
        out.append(("load from the cache + first match", f"{wall:.3f} s", f"{cpu:.3f} s"))
        assert again.report.cache == "hit", again.report.cache
        assert first is not None
        assert len(ruleset) == len(again)
        env = {**os.environ, "XDG_CACHE_HOME": folder}
        argv = [str(tiny), "--rules", str(RULES)]
        wall, cpu = _hunt_cli([*argv, "--no-cache"], env, times=1)
        out.append(("`correlog hunt` on 9 events, --no-cache", f"{wall:.2f} s", f"{cpu:.2f} s"))
        wall, cpu = _hunt_cli(argv, env)
        out.append(
            ("`correlog hunt` on 9 events, cached (best of 3)", f"{wall:.2f} s", f"{cpu:.2f} s")
        )
    return out


#: The goal of a cached start: process start to a first record matched, in CPU seconds.
START_GOAL = 0.3
#: What a cached start runs in a fresh interpreter: ``correlog hunt``'s work up to its first hit
#: (the rules from the cache, the log read and correlated until a record matches).
_START_SCRIPT = """\
import sys
import correlog
from correlog.sigma import RuleCache, load_rules
rules = load_rules(sys.argv[1], cache=RuleCache(sys.argv[2]))
assert rules.report.cache == "hit", rules.report.cache
found = rules.hunt(correlog.Correlator().process(correlog.read(sys.argv[3])))
assert next(iter(found), None) is not None
"""


def cached_start(tiny: Path, rules: Path = RULES, times: int = 5) -> tuple[float, float]:
    """Process start to the first record matched, rules from a warm cache, in a fresh
    interpreter: the best wall clock and CPU time of ``times`` runs. Python's bytecode is
    written and used, as an installed package's is; a first, untimed run writes the cache."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    with tempfile.TemporaryDirectory() as folder:
        cache = Path(folder) / "correlog"
        argv = [sys.executable, "-c", _START_SCRIPT, str(rules), str(cache), str(tiny)]
        load_script = "import sys\nfrom correlog.sigma import RuleCache, load_rules\n"
        load_script += "load_rules(sys.argv[1], cache=RuleCache(sys.argv[2]))\n"
        subprocess.run([sys.executable, "-c", load_script, *argv[3:5]], env=env, check=True)
        subprocess.run(argv, env=env, check=True)  # untimed: bytecode written
        wall = cpu = float("inf")
        for _ in range(times):
            started, used = time.perf_counter(), _cpu(resource.RUSAGE_CHILDREN)
            subprocess.run(argv, env=env, check=True)
            wall = min(wall, time.perf_counter() - started)
            cpu = min(cpu, _cpu(resource.RUSAGE_CHILDREN) - used)
    return wall, cpu


# -- the table -------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Print the table; exit 1 when a goal is not met, 0 otherwise (or when data is missing)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.hunt_zircolite")
    parser.add_argument("--quick", action="store_true", help="tiny inputs, one pair")
    parser.add_argument("--pairs", type=int, default=3, help="alternating pairs per corpus (3)")
    parser.add_argument(
        "--start", action="store_true", help="only the cached start (start to first match)"
    )
    args = parser.parse_args(argv)
    if not RULES.is_dir() or importlib.util.find_spec("evtx") is None:
        print("skipped: needs the shared SigmaHQ rules and the evtx package")
        return 0
    tiny = _SHARED / "evtx" / "hayabusa_mitre_T1134_runas_4688_4648_4624.evtx"
    if args.start:
        start_wall, start_cpu = cached_start(tiny)
        verdict = "met" if start_cpu <= START_GOAL else "NOT met"
        print("| case | wall clock | CPU | goal (CPU) |")
        print("| --- | ---: | ---: | --- |")
        print(
            f"| cached start: process start to first match (best of 5) | {start_wall:.3f} s | "
            f"{start_cpu:.3f} s | <= {START_GOAL} s: {verdict} |"
        )
        return 0 if start_cpu <= START_GOAL else 1
    print("| corpus | events | correlog events/s | Zircolite's method events/s | ratio | "
          "hits (correlog / SQL rows, rules dropped) |")  # fmt: skip
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    met = True
    for measured in measure_corpora(args.quick, 1 if args.quick else args.pairs):
        if measured.duel is None:
            print(f"| {measured.corpus.name} | skipped: no files | | | | |")
            continue
        duel, corpus = measured.duel, measured.corpus
        met = met and duel.ratio >= GOAL
        print(
            f"| {corpus.name} ({len(corpus.paths)} files x {corpus.loops}) | {measured.events:,} | "
            f"{duel.subject_rate:,.0f} | {duel.baseline_rate:,.0f} | {duel.spread()} x | "
            f"{duel.answers[0]:,} / {duel.answers[1]:,}, {measured.dropped:,} |"
        )
    if not args.quick and tiny.exists():
        print()
        print("| start-up | wall clock | CPU |")
        print("| --- | ---: | ---: |")
        for name, wall, cpu in startup(tiny):
            print(f"| {name} | {wall} | {cpu} |")
        start_wall, start_cpu = cached_start(tiny)
        print(
            "| cached start: process start to first match (best of 5) | "
            f"{start_wall:.3f} s | {start_cpu:.3f} s |"
        )
        met = met and start_cpu <= START_GOAL
    print(f"\ngoal: >= {GOAL:g} x on every corpus: {'met' if met else 'NOT met'}")
    print(f"goal: a cached start within {START_GOAL} s of CPU")
    return 0 if met else 1


@dataclass(frozen=True, slots=True)
class Measured:
    """One corpus hunted by both sides (``duel`` None: the corpus has no files here)."""

    corpus: Corpus
    events: int = 0
    duel: Duel | None = None
    #: Rules the SQL side dropped (a column the table lacks).
    dropped: int = 0


def measure_corpora(quick: bool, pairs: int) -> Iterator[Measured]:
    """Every corpus hunted by ``correlog hunt``'s work and by Zircolite's method, in alternating
    pairs; the rules loaded once, untimed, on both sides."""
    from correlog.sigma import RuleCache, load_rules

    with tempfile.TemporaryDirectory() as folder:
        ruleset = load_rules(RULES, cache=RuleCache(folder))
    baseline = SqliteHunt(sorted(RULES.glob("*.yml")))
    with tempfile.TemporaryDirectory() as scratch:
        for corpus in corpora(Path(scratch), quick):
            if not corpus.paths:
                yield Measured(corpus)
                continue
            events = count_events(corpus)
            subject = correlog_side(corpus, ruleset, events)
            base = baseline_side(corpus, baseline, events)
            with frozen_gc():
                duel = Duel(subject, base).run(pairs)
            _, dropped = baseline.run(chain.from_iterable(read_events(p) for p in corpus.inputs))
            yield Measured(corpus, events, duel, dropped)


def hunting(sizes: Sizes) -> Iterator[Row]:
    """The ``python -m benchmarks`` rows: each corpus against Zircolite's method (goal 5 x), and
    the cached start (goal 0.3 s of CPU)."""
    if not RULES.is_dir() or importlib.util.find_spec("evtx") is None:
        yield Row("hunt / Zircolite's method", "skipped: no shared rules or evtx", "", "")
        return
    quick = sizes.events < FULL.events
    for measured in measure_corpora(quick, max(1, min(sizes.pairs, 3))):
        name = f"hunt {measured.corpus.name} / Zircolite's method"
        duel = measured.duel
        if duel is None:
            yield Row(name, "skipped: no files", "", "")
            continue
        met = duel.ratio >= GOAL
        yield Row(name, f"{duel.spread()} x", f"{duel.subject_rate:,.0f}/s", f">= {GOAL:g} x", met)
    tiny = _SHARED / "evtx" / "hayabusa_mitre_T1134_runas_4688_4648_4624.evtx"
    if not quick and tiny.exists():
        _, cpu = cached_start(tiny)
        yield Row(
            "hunt cached start (CPU s)", f"{cpu:.3f} s", "", f"<= {START_GOAL} s", cpu <= START_GOAL
        )


#: The sections this module adds to ``python -m benchmarks`` (see :mod:`benchmarks.run`).
SECTIONS = {"hunting": hunting}


if __name__ == "__main__":
    sys.exit(main())
