"""Proof on SigmaHQ's own rules and data.

* Every one of the 1,183 process_creation rules compiles; none is skipped.
* The index never loses a match: over views made to (nearly) match each rule, the indexed
  set answers exactly as every rule asked one by one.
* SigmaHQ's regression tests: each EVTX, read through correlog, gives the rule its expected
  number of matches. These need the ``evtx`` package (the ``evtx`` extra) and skip, saying
  so, without it.
* A differential test against an independent engine: pySigma's SQLite backend turns the same
  rules into SQL, run over the same views in SQLite; both must select the same records.
"""

from __future__ import annotations

import importlib.util
import re
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml

import correlog
from correlog import Correlator, Record
from correlog.sigma import Coverage, RuleSet, sigma_view

from .conftest import REGRESSION_DIR
from .records import sysmon_record
from .views import views_for_all

EXPECTED_RULES = 1183

#: The EVTX format is always known to ``correlog.read``; reading it needs the ``evtx`` package.
needs_evtx = pytest.mark.skipif(
    importlib.util.find_spec("evtx") is None,
    reason="needs the evtx package (pip install 'correlog[evtx]') to read .evtx files",
)


def test_every_sigmahq_rule_compiles(sigmahq: RuleSet) -> None:
    report = sigmahq.report
    assert report.files == EXPECTED_RULES
    assert report.compiled == EXPECTED_RULES, [(u.source, u.reason) for u in report.unsupported]
    assert report.unsupported == ()
    assert len({r.id for r in sigmahq}) == EXPECTED_RULES
    assert all(r.author and r.source.endswith(".yml") for r in sigmahq)


def test_the_index_keys_all_but_a_few_rules(sigmahq: RuleSet) -> None:
    stats = sigmahq.index_stats()
    # Residual rules are asked about every record: emoji lists, lone regexes, null tests.
    assert stats["residual"] <= 20, stats


@pytest.fixture(scope="module")
def made_views(sigmahq: RuleSet) -> list[dict[str, str]]:
    return views_for_all(list(sigmahq))


def test_the_index_never_loses_a_match(sigmahq: RuleSet, made_views: list[dict[str, str]]) -> None:
    matched = 0
    for view in made_views:
        indexed = sigmahq.match_view(view)
        # Every rule's compiled test, asked directly (the view lowered once, as the set does).
        lowered = {k: v.lower() for k, v in view.items()}
        assert indexed == [r for r in sigmahq if r.predicate(view, lowered)], view
        matched += len(indexed)
    # The views were made to match: a generator that missed would prove nothing.
    assert matched > len(made_views) // 2


def test_every_sigmahq_rule_is_evaluable_on_sysmon(sigmahq: RuleSet) -> None:
    coverage = Coverage(sigmahq)
    list(sigmahq.hunt([sysmon_record()], coverage))
    [summary] = [line for line in coverage.report() if "evaluable" in line]
    assert summary["source"] == "sysmon:1"
    assert (summary["evaluable"], summary["partial"], summary["not_applicable"]) == (1183, 0, 0)


# -- regression data ------------------------------------------------------------------------


def _regression_cases() -> list[Any]:
    if not REGRESSION_DIR.is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(reason="no shared regression data"))]
    return [pytest.param(d, id=d.name) for d in sorted(REGRESSION_DIR.iterdir()) if d.is_dir()]


def _records(path: Path) -> list[Record]:
    reader = correlog.read(str(path))
    return list(Correlator().process(reader))


def test_there_are_93_regression_tests() -> None:
    if not REGRESSION_DIR.is_dir():
        pytest.skip("no shared regression data")
    assert len([d for d in REGRESSION_DIR.iterdir() if d.is_dir()]) == 93


@needs_evtx
@pytest.mark.parametrize("case", _regression_cases())
def test_sigmahq_regression(case: Path, sigmahq: RuleSet) -> None:
    info = yaml.safe_load((case / "info.yml").read_text(encoding="utf-8"))
    rule_id = info["rule_metadata"][0]["id"]
    expected = info["regression_tests_info"][0].get("match_count")
    [evtx] = case.glob("*.evtx")
    [rule] = [r for r in sigmahq if r.id == rule_id]
    records = _records(evtx)
    assert records, "the EVTX gave no records"
    found = sum(1 for record in records if rule in sigmahq.match(record))
    assert found == sum(1 for record in records if rule(record) is not None)
    if expected is None:
        assert found >= 1
    else:
        assert found == expected


# -- differential test against pySigma's SQLite backend -------------------------------------


class SqliteEngine:
    """pySigma's SQLite backend over a table with one row per view, one column per field.

    Columns are ``TEXT COLLATE NOCASE`` (the table Zircolite builds, which the backend is
    written for); an absent field is NULL. ``REGEXP`` is Python's ``re.search``, as in
    Zircolite.
    """

    def __init__(self, ruleset: RuleSet) -> None:
        from sigma.backends.sqlite.sqlite import sqliteBackend
        from sigma.collection import SigmaCollection
        from sigma.rule import SigmaYAMLLoader

        backend = sqliteBackend()  # type: ignore[no-untyped-call]  # the backend is untyped
        self.queries: dict[str, str] = {}
        for rule in ruleset:
            text = Path(rule.source).read_text(encoding="utf-8")
            documents = list(yaml.load_all(text, Loader=SigmaYAMLLoader))
            [query] = backend.convert(SigmaCollection.from_dicts(documents))
            assert query.startswith("SELECT * FROM logs WHERE ")
            assert rule.id is not None
            self.queries[rule.id] = query.replace("SELECT *", "SELECT rowid", 1)
        self.columns = sorted({f for rule in ruleset for f in rule.fields})

    def select(self, views: Sequence[Mapping[str, str]]) -> dict[str, set[int]]:
        """Per rule id, the indices of the views its SQL selects."""
        conn = sqlite3.connect(":memory:")
        conn.create_function("regexp", 2, _regexp, deterministic=True)
        columns = sorted(set(self.columns) | {f for v in views for f in v})
        conn.execute(
            "CREATE TABLE logs (" + ", ".join(f'"{c}" TEXT COLLATE NOCASE' for c in columns) + ")"
        )
        for i, view in enumerate(views, start=1):
            names = ", ".join(["rowid", *(f'"{f}"' for f in view)])
            marks = ", ".join("?" * (len(view) + 1))
            conn.execute(f"INSERT INTO logs ({names}) VALUES ({marks})", (i, *view.values()))
        return {rid: {row[0] - 1 for row in conn.execute(q)} for rid, q in self.queries.items()}


def _regexp(pattern: str, value: str | None) -> bool:
    return value is not None and re.search(pattern, value) is not None


@pytest.fixture(scope="module")
def sqlite_engine(sigmahq: RuleSet) -> SqliteEngine:
    return SqliteEngine(sigmahq)


def _ours(ruleset: RuleSet, views: Iterable[Mapping[str, str]]) -> dict[str, set[int]]:
    found: dict[str, set[int]] = {r.id or "": set() for r in ruleset}
    for i, view in enumerate(views):
        for rule in ruleset.match_view(view):
            found[rule.id or ""].add(i)
    return found


#: Differences between the two engines that are understood, per rule id, with the reason.
#: Empty: on every view so far both engines select exactly the same records.
KNOWN_DIFFERENCES: dict[str, str] = {}


def _compare(theirs: dict[str, set[int]], ours: dict[str, set[int]]) -> list[str]:
    return [
        f"{rid}: only SQLite {sorted(theirs[rid] - ours[rid])[:5]}, "
        f"only correlog {sorted(ours[rid] - theirs[rid])[:5]}"
        for rid in sorted(theirs)
        if theirs[rid] != ours[rid] and rid not in KNOWN_DIFFERENCES
    ]


def test_sqlite_agrees_on_views_made_from_every_rule(
    sigmahq: RuleSet, sqlite_engine: SqliteEngine, made_views: list[dict[str, str]]
) -> None:
    theirs = sqlite_engine.select(made_views)
    ours = _ours(sigmahq, made_views)
    assert _compare(theirs, ours) == []
    assert sum(map(len, ours.values())) > len(made_views) // 2


def test_sqlite_agrees_on_the_bundled_legacy_sample(
    sigmahq: RuleSet, sqlite_engine: SqliteEngine
) -> None:
    sample = resources.files("correlog") / "samples" / "iis-intrusion.snare"
    with resources.as_file(sample) as path:
        records = list(Correlator().process(correlog.read(str(path))))
    views = [sigma_view(r) for r in records]
    assert len(views) == 6
    # Sigma's own two-valued reading on both sides: an absent field is NULL.
    assert _compare(sqlite_engine.select(views), _ours(sigmahq, views)) == []


@needs_evtx
def test_sqlite_agrees_on_the_regression_evtx_records(
    sigmahq: RuleSet, sqlite_engine: SqliteEngine
) -> None:
    records = [
        r for d in sorted(REGRESSION_DIR.iterdir()) for r in _records(next(d.glob("*.evtx")))
    ]
    views = [sigma_view(r) for r in records]
    theirs = sqlite_engine.select(views)
    assert _compare(theirs, _ours(sigmahq, views)) == []
    # Records carry their source's schema: for Sysmon it holds every field the rules test
    # but one (Provider_Name, which the view supplies), so asking with it changes nothing.
    by_record: dict[str, set[int]] = {r.id or "": set() for r in sigmahq}
    for i, record in enumerate(records):
        for rule in sigmahq.match(record):
            by_record[rule.id or ""].add(i)
    assert _compare(theirs, by_record) == []
    assert sum(map(len, by_record.values())) >= 93


#: Every other sample log in the shared data folder: real EVTX (hayabusa), OTRF archives
#: (Security and Sysmon, NXLog JSON), and the six legacy transports.
SAMPLE_LOGS = ("evtx/*.evtx", "json/*.zip", "legacy/iis.*")


@needs_evtx
def test_sqlite_agrees_on_the_records_of_every_shared_sample_log(
    sigmahq: RuleSet, sqlite_engine: SqliteEngine
) -> None:
    data = REGRESSION_DIR.parents[1]
    paths = sorted(p for pattern in SAMPLE_LOGS for p in data.glob(pattern))
    if not paths:
        pytest.skip("no shared sample logs")
    records = [r for path in paths for r in Correlator().process(correlog.read(path))]
    views = [sigma_view(r) for r in records]
    assert len(views) > 1_000  # 884 EVTX 4688s alone
    theirs = sqlite_engine.select(views)
    assert _compare(theirs, _ours(sigmahq, views)) == []
    assert sum(map(len, theirs.values())) > 0  # the engines agree on matches, not only on none
