"""The Sigma benchmark runs on a tiny input and does all of its work. Correctness only."""

from __future__ import annotations

import pytest

from correlog.sigma import RuleSet, load_rules

from .bench_sigma import RULES, hunting, main, trivial_rule
from .sigma_records import SUSPICIOUS, make_records


def test_records_are_deterministic_and_sysmon_shaped() -> None:
    a = make_records(300, seed=3)
    assert a == make_records(300, seed=3)
    assert a != make_records(300, seed=4)
    assert all(r.channel == "sysmon" and r.events == (1,) for r in a)
    assert all(r.command_line and r.extra and "OriginalFileName" in r.extra for r in a)
    suspicious = {s[3].split()[0] for s in SUSPICIOUS}
    assert any(r.command_line.split()[0] in suspicious for r in a if r.command_line)


def test_the_trivial_rule_matches_the_cmd_records() -> None:
    records = make_records(500)
    found = hunting(RuleSet([trivial_rule()]), records)()
    assert found == sum(1 for r in records if (r.image or "").lower().endswith("\\cmd.exe"))
    assert found > 0


@pytest.mark.skipif(not RULES.is_dir(), reason="no shared SigmaHQ rules")
def test_the_table_is_printed(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--records", "400", "--pairs", "1"]) == 0
    out = capsys.readouterr().out
    for row in ("dict lookup", "one trivial rule", "all rules"):
        assert f"| {row} |" in out
    assert "compiled 1183 Sigma rules" in out
    # The suspicious records are there to be found: all rules match more than the trivial one.
    rows = {
        line.split("|")[1].strip(): line.split("|")[4] for line in out.splitlines() if "|" in line
    }
    assert int(rows["all rules"].replace(",", "")) > int(rows["one trivial rule"].replace(",", ""))


@pytest.mark.skipif(not RULES.is_dir(), reason="no shared SigmaHQ rules")
def test_sigmahq_rules_find_the_living_off_the_land_records() -> None:
    ruleset = load_rules(RULES)
    records = make_records(2000, seed=9, suspicious_share=1.0)
    matched = {m.record.start for m in ruleset.hunt(records)}
    # Nearly every one of these commands is what some SigmaHQ rule was written for.
    assert len(matched) > 0.9 * len(records)
