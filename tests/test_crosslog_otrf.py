"""One record per process across logs, on real data: OTRF's archives log the same processes in
Sysmon (1/5) and in the Security log (4688/4689). Run through the command line as a user
would; skipped when the shared data folder is not beside the checkout.

The clocks (see ``test_conformance_vista.py``): the two NXLog archives' Security times are US
Eastern local time (``--tz America/New_York``), aptsimulator's are 16 h early
(``--log-offset security=+16h``). Without those flags nothing merges, and the summary says
which flag would fix it.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from .test_cli import correlog, lines

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
RULES = DATA / "sigma" / "rules"

#: archive -> (the flags that set its clocks right, processes both logs saw).
ARCHIVES = {
    "aptsimulator_cobaltstrike.zip": (["--log-offset", "security=+16h"], 37),
    "covenant_sharpsc_query_dcerpc_smb_svcctl.zip": (["--tz", "America/New_York"], 2),
    "msf_record_mic.zip": (["--tz", "America/New_York"], 19),
}
SYSMON_EVENTS = {1, 5}
SECURITY_EVENTS = {4688, 4689}


def archive(name: str) -> str:
    path = DATA / "json" / name
    if not path.is_file():
        pytest.skip(f"the shared data folder is not beside this checkout ({path.name})")
    return str(path)


def _process(record: dict[str, Any]) -> tuple[str, int, str]:
    return (record["host"], record["pid"], record["start"] or record["end"])


@pytest.mark.parametrize("name", sorted(ARCHIVES))
def test_each_process_both_logs_saw_is_one_record_with_both_logs(name: str) -> None:
    flags, processes = ARCHIVES[name]
    done = correlog("correlate", *flags, archive(name))
    assert done.returncode == 0, done.stderr
    records = lines(done.stdout)
    assert len(records) == processes
    for record in records:
        events = set(record["events"])
        assert events & SYSMON_EVENTS, record
        assert events & SECURITY_EVENTS, record
        assert record["channel"] == "sysmon"
        assert record["extra"]["ProcessGuid"]  # Sysmon's
        if 4688 in events:  # the Security log's creator account rides along
            assert "SubjectLogonId" in record["extra"], record
    assert f"merged across logs {processes}" in done.stderr
    assert "warning" not in done.stderr
    apart = correlog("correlate", "--no-merge-logs", *flags, archive(name))
    assert len(lines(apart.stdout)) == 2 * processes
    assert "merged across logs" not in apart.stderr


@pytest.mark.parametrize(
    ("name", "fix"),
    [
        ("aptsimulator_cobaltstrike.zip", "--log-offset workstation5/security=+57600"),
        ("covenant_sharpsc_query_dcerpc_smb_svcctl.zip", "--tz=-04:00"),
        ("msf_record_mic.zip", "--tz=-04:00"),
    ],
)
def test_logs_a_constant_offset_apart_merge_nothing_and_the_summary_says_why(
    name: str, fix: str
) -> None:
    _, processes = ARCHIVES[name]
    done = correlog("correlate", archive(name))
    assert done.returncode == 0, done.stderr
    assert len(lines(done.stdout)) == 2 * processes
    assert "merged across logs 0" in done.stderr
    warnings = [line for line in done.stderr.splitlines() if "warning:" in line]
    assert warnings
    assert all(fix in line for line in warnings), warnings
    assert all("behind Sysmon's" in line for line in warnings), warnings


def _hits(stdout: str) -> Counter[tuple[str, str, int]]:
    found = [json.loads(line) for line in stdout.splitlines()]
    return Counter((hit["title"], hit["record"]["host"], hit["record"]["pid"]) for hit in found)


def test_hunt_gives_one_hit_per_rule_and_process_and_loses_none() -> None:
    if not RULES.is_dir():
        pytest.skip("no shared SigmaHQ rules")
    rules = [
        str(RULES / name)
        for name in (
            "proc_creation_win_conhost_legacy_option.yml",  # both logs' records match
            "proc_creation_win_susp_system_user_anomaly.yml",  # Sysmon's spelling of SYSTEM
            "proc_creation_win_sc_create_service.yml",
        )
    ]
    flags, _ = ARCHIVES["aptsimulator_cobaltstrike.zip"]
    path = archive("aptsimulator_cobaltstrike.zip")
    given = [arg for rule in rules for arg in ("--rules", rule)]
    merged = correlog("hunt", *flags, *given, path)
    assert merged.returncode == 0, merged.stderr
    apart = correlog("hunt", "--no-merge-logs", *flags, *given, path)
    once, twice = _hits(merged.stdout), _hits(apart.stdout)
    assert set(once.values()) == {1}
    assert set(once) == set(twice)  # the same findings, each once
    assert sum(once.values()) == 7
    assert sum(twice.values()) == 13


def test_watch_raises_one_alert_per_process_and_prints_merged_records() -> None:
    if not RULES.is_dir():
        pytest.skip("no shared SigmaHQ rules")
    rule = str(RULES / "proc_creation_win_conhost_legacy_option.yml")
    flags, processes = ARCHIVES["aptsimulator_cobaltstrike.zip"]
    path = archive("aptsimulator_cobaltstrike.zip")
    done = correlog("watch", *flags, "--sigma", rule, "--records", path)
    assert done.returncode == 0, done.stderr
    items = lines(done.stdout)
    alerts = [item for item in items if "rule" in item]
    records = [item for item in items if "rule" not in item]
    assert len(alerts) == 5
    assert len({(a["host"], a["pid"]) for a in alerts}) == 5
    assert len(records) == processes
    assert "alerts not repeated 5" in done.stderr
    apart = correlog("watch", "--no-merge-logs", *flags, "--sigma", rule, path)
    assert len(lines(apart.stdout)) == 10


def test_tree_shows_each_merged_process_once() -> None:
    flags, processes = ARCHIVES["msf_record_mic.zip"]
    path = archive("msf_record_mic.zip")
    done = correlog("tree", "--width", "200", *flags, path)
    assert done.returncode == 0, done.stderr
    apart = correlog("tree", "--width", "200", "--no-merge-logs", *flags, path)
    shown = Counter(re.findall(r"(\d+)  backgroundTaskHost\.exe", done.stdout))
    doubled = Counter(re.findall(r"(\d+)  backgroundTaskHost\.exe", apart.stdout))
    assert len(shown) == 3
    assert set(shown.values()) == {1}
    assert doubled == shown + shown
    assert f"merged across logs {processes}" in done.stderr
