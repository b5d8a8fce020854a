"""The command line, through a real subprocess, as a user runs it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

SAMPLE_EXPECTED_RECORDS = [
    # (host, pid, image basename, user, reason, status)
    ("web2k", 1300, "perl.exe", "IUSR_WEB2K", "exited", "complete"),
    ("web2k", 1452, "cmd.exe", "IUSR_WEB2K", "exited", "complete"),
    ("web2k", 1876, "notepad.exe", "administrator", "exited", "complete"),
    ("web03", 2208, "php.exe", "IUSR_WEB03", "exited", "complete"),
    ("web03", 2944, "wmiprvse.exe", "NETWORK SERVICE", "orphan", "partial"),
    ("web03", 2216, "ping.exe", "IUSR_WEB03", "flushed", "partial"),
]


def correlog(
    *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "correlog", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=None if env is None else {**os.environ, **env},
    )


def lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def short(record: dict[str, Any]) -> tuple[Any, ...]:
    image = record["image"].rsplit("\\", 1)[-1] if record["image"] else None
    return (
        record["host"],
        record["pid"],
        image,
        record["user"],
        record["reason"],
        record["status"],
    )


def test_correlate_prints_one_fat_record_per_process_of_the_bundled_sample() -> None:
    done = correlog("correlate", "--sample")
    assert done.returncode == 0, done.stderr
    records = lines(done.stdout)
    assert sorted(map(short, records)) == sorted(SAMPLE_EXPECTED_RECORDS)
    cmd = next(r for r in records if r["pid"] == 1452)
    assert cmd["image"] == r"\WINNT\system32\cmd.exe"
    assert cmd["creator_pid"] == 1020
    assert cmd["start"] == "2003-03-04T09:15:00.000000000Z"
    assert cmd["end"] == "2003-03-04T09:15:04.000000000Z"
    assert cmd["events"] == [592, 593]
    assert cmd["record_numbers"] == [7104, 7105]
    ping = next(r for r in records if r["pid"] == 2216)
    assert ping["creator_image"] == r"C:\WINDOWS\system32\inetsrv\w3wp.exe"
    assert ping["end"] is None
    for key in (
        "host",
        "pid",
        "image",
        "user",
        "domain",
        "logon_id",
        "creator_pid",
        "creator_image",
        "start",
        "end",
        "status",
        "reason",
        "events",
    ):
        assert all(key in r for r in records), key
    assert "read 12 events from 12 lines" in done.stderr
    assert "exited=4" in done.stderr


def test_watch_prints_exactly_the_two_intrusion_alerts() -> None:
    done = correlog("watch", "--sample")
    assert done.returncode == 0, done.stderr
    alerts = lines(done.stdout)
    assert [(a["rule"], a["host"], a["pid"], a["event_id"]) for a in alerts] == [
        ("anonymous-web", "web2k", 1452, 593),
        ("anonymous-web", "web03", 2216, 600),
    ]
    for key in ("rule", "host", "pid", "image", "user", "domain", "time", "event_id", "record"):
        assert all(key in a for a in alerts), key
    assert alerts[1]["record"]["reason"] == "open"
    assert "alerts 2" in done.stderr


def test_watch_single_event_sees_only_what_one_event_can_say() -> None:
    done = correlog("watch", "--single-event", "--sample")
    assert done.returncode == 0, done.stderr
    alerts = lines(done.stdout)
    # Windows 2000 needs the 592 and the 593 together: the stateless path cannot see cmd.exe.
    assert [(a["host"], a["pid"], a["event_id"]) for a in alerts] == [("web03", 2216, 600)]


def test_watch_options_change_the_rule() -> None:
    done = correlog(
        "watch", "--sample", "--allow", "ping.exe", "--allow", "php.exe", "--allow", "perl.exe"
    )
    assert [a["pid"] for a in lines(done.stdout)] == [1452]
    done = correlog("watch", "--sample", "--account", "NETWORK SERVICE")
    assert [a["pid"] for a in lines(done.stdout)] == [2944]


def test_records_come_out_in_the_same_order_whatever_the_hash_seed() -> None:
    # Host and user names are strings, whose hashes change with each interpreter's seed: the
    # order of the records must not (a set or dict keyed by them must not decide it).
    runs = [correlog("correlate", "--sample", env={"PYTHONHASHSEED": seed}) for seed in "123"]
    assert all(done.returncode == 0 for done in runs)
    assert runs[0].stdout == runs[1].stdout == runs[2].stdout
    assert len(lines(runs[0].stdout)) == 6


def test_stdin_is_read_when_no_path_is_given() -> None:
    sample = correlog("sample").stdout
    done = correlog("watch", stdin=sample)
    assert done.returncode == 0, done.stderr
    assert len(lines(done.stdout)) == 2
    done = correlog("correlate", "-", stdin=sample)
    assert len(lines(done.stdout)) == 6


def test_a_malformed_line_is_skipped_and_counted_or_stops_in_strict_mode(tmp_path: Path) -> None:
    sample = correlog("sample").stdout.splitlines()
    broken = [*sample[:3], sample[3].replace("New Process ID: 1452", "New Process ID: banana")]
    path = tmp_path / "broken.snare"
    path.write_text("\n".join(broken + sample[4:]) + "\n", encoding="utf-8")
    done = correlog("correlate", "--format", "snare", str(path))
    assert done.returncode == 0, done.stderr
    assert "skipped 1" in done.stderr
    done = correlog("correlate", "--errors", "strict", str(path))
    assert done.returncode == 1
    assert f"{path}:4" in done.stderr
    # What was read before the bad line is still written, open processes flushed.
    assert {r["pid"] for r in lines(done.stdout)} == {1876, 1300}


def test_exit_status_2_on_usage_errors_and_1_on_unreadable_input(tmp_path: Path) -> None:
    assert correlog("correlate", "--ttl", "0", "--sample").returncode == 2
    for huge in ("1e308", "inf", "nan"):  # no number of nanoseconds: a usage error, not a crash
        done = correlog("correlate", "--ttl", huge, "--lateness", huge, "--sample")
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr
    assert correlog("correlate", "--format", "nope").returncode == 2
    assert correlog("frobnicate").returncode == 2
    missing = correlog("correlate", str(tmp_path / "missing.snare"))
    assert missing.returncode == 1
    assert "missing.snare" in missing.stderr


def test_events_prints_normalized_events_that_read_back_as_jsonl() -> None:
    done = correlog("events", "--sample")
    assert done.returncode == 0, done.stderr
    events = lines(done.stdout)
    assert len(events) == 12
    again = correlog("correlate", "--format", "jsonl", stdin=done.stdout)
    assert sorted(map(short, lines(again.stdout))) == sorted(SAMPLE_EXPECTED_RECORDS)


@pytest.mark.parametrize("command", ["correlate", "watch", "events"])
def test_help_works(command: str) -> None:
    done = correlog(command, "--help")
    assert done.returncode == 0
    assert "--format" in done.stdout


DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.mark.parametrize(
    ("fmt", "path", "count"),
    [
        ("evtx", "evtx/hayabusa_mitre_T1134_runas_4688_4648_4624.evtx", 4),
        ("nxlog", "json/covenant_sharpsc_query_dcerpc_smb_svcctl.zip", 4),
        ("evt", "evt/plaso_test_data_SysEvent.Evt", 0),
    ],
)
def test_correlate_reads_the_new_formats(fmt: str, path: str, count: int) -> None:
    if not (DATA / path).is_file():
        pytest.skip("the shared data folder is not beside this checkout")
    pytest.importorskip("evtx")
    for chosen in (fmt, "auto"):
        done = correlog("correlate", "--format", chosen, str(DATA / path))
        assert done.returncode == 0, done.stderr
        assert len(lines(done.stdout)) == count
        assert f"({fmt})" in done.stderr
        # stderr is a pipe here: no progress line, only the summary.
        assert "\r" not in done.stderr


def test_the_progress_bar_says_files_events_rate_share_and_time_left(tmp_path: Path) -> None:
    import io

    from correlog.cli._progress import ProgressBar

    paths = [tmp_path / "a.log", tmp_path / "b.log"]
    for path in paths:
        path.write_bytes(b"x" * 1_000_000)

    class Reader:
        class stats:  # stands in for ReadStats
            events = 5_000

    now = [100.0]
    bar = ProgressBar([str(p) for p in paths], [Reader()], io.StringIO(), clock=lambda: now[0])
    with paths[0].open("rb") as first, paths[1].open("rb") as second:
        bar.opened(first)
        first.seek(1_000_000)
        bar.closed(first)
        bar.opened(second)
        second.seek(500_000)
        now[0] += 2.0
        assert bar.line() == (
            "correlog: 1/2 files, 5,000 events, 2,500 events/s, 75% of 2.0 MB, ETA 0:01"
        )


def test_help_lists_the_new_formats_and_no_progress() -> None:
    done = correlog("correlate", "--help")
    for fmt in ("evtx", "xml", "nxlog", "winlogbeat", "ecs", "evt", "--no-progress"):
        assert fmt in done.stdout


def test_lateness_makes_a_stream_shuffled_within_the_window_give_the_ordered_records(
    tmp_path: Path,
) -> None:
    lines = correlog("sample").stdout.splitlines()
    # Swap neighbours: each line moves by one place, a few seconds at most.
    shuffled = [lines[i ^ 1] if (i ^ 1) < len(lines) else lines[i] for i in range(len(lines))]
    path = tmp_path / "shuffled.snare"
    path.write_text("\n".join(shuffled) + "\n", encoding="utf-8")
    ordered = correlog("correlate", "--lateness", "5", "--sample")
    reordered = correlog("correlate", "--lateness", "5", str(path))
    assert reordered.returncode == 0, reordered.stderr
    assert sorted(reordered.stdout.splitlines()) == sorted(ordered.stdout.splitlines())
    # Without the window the disorder shows: a creation read after its own exit.
    plain = correlog("correlate", str(path))
    assert sorted(plain.stdout.splitlines()) != sorted(ordered.stdout.splitlines())


def test_several_sources_of_the_same_hosts_are_merged_and_duplicates_folded(
    tmp_path: Path,
) -> None:
    sample = correlog("sample", "--path").stdout.strip()
    events = tmp_path / "events.jsonl"
    events.write_text(correlog("events", "--sample").stdout, encoding="utf-8")
    done = correlog("correlate", "--lateness", "5", sample, str(events))
    assert done.returncode == 0, done.stderr
    assert sorted(map(short, lines(done.stdout))) == sorted(SAMPLE_EXPECTED_RECORDS)
    assert "duplicates 12" in done.stderr


def test_watch_counts_the_records_it_does_not_print_as_it_counts_those_it_prints(
    tmp_path: Path,
) -> None:
    """Without ``--records`` the final records are only counted, in batches: more than one
    batch of them (4,000 events) gives the summary's counts by reason of ``--records`` and of
    ``correlate``."""
    from benchmarks.render import snare_lines, write_lines
    from benchmarks.streams import make_stream

    path = tmp_path / "stream.snare"
    write_lines(path, snare_lines(make_stream(4000).events))

    def counts(*args: str) -> str:
        done = correlog(*args, "--format", "snare", str(path))
        assert done.returncode == 0, done.stderr
        found = re.search(r"records ([^;]+);", done.stderr)
        assert found is not None, done.stderr
        return found[1]

    printed = counts("watch", "--records")
    assert counts("watch") == printed == counts("correlate")
    assert "exited=" in printed


def test_watch_says_the_same_reading_a_file_in_batches_or_a_pipe_one_event_at_a_time(
    tmp_path: Path,
) -> None:
    """A regular file is read a batch at a time, a pipe one event at a time (its alerts leave
    before the next read waits): the same alerts, records and summary either way, across more
    than one batch (4,000 events)."""
    from benchmarks.render import snare_lines, write_lines
    from benchmarks.streams import make_stream

    path = tmp_path / "stream.snare"
    write_lines(path, snare_lines(make_stream(4000).events))
    for flags in ([], ["--records"]):
        from_file = correlog("watch", *flags, "--format", "snare", str(path))
        from_pipe = correlog(
            "watch", *flags, "--format", "snare", "-", stdin=path.read_text(encoding="utf-8")
        )
        assert from_file.returncode == from_pipe.returncode == 0, from_pipe.stderr
        assert from_file.stdout == from_pipe.stdout
        assert len(lines(from_file.stdout)) > 100
        assert from_file.stderr == from_pipe.stderr


def test_a_read_may_wait_on_a_pipe_or_a_terminal_not_on_a_file_or_a_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What decides between batches and one event at a time (see the test above)."""
    import argparse

    from correlog.cli._inputs import Inputs, sample_path

    log = tmp_path / "a.snare"
    log.write_bytes(Path(sample_path()).read_bytes())
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    args = argparse.Namespace()

    def may_wait(*paths: str) -> bool:
        return Inputs(list(paths), args).may_wait()

    assert not may_wait(str(log))
    assert not may_wait(str(tmp_path))
    assert may_wait(str(fifo))
    assert may_wait(str(log), str(fifo))
    with log.open("rb") as regular:
        monkeypatch.setattr(sys, "stdin", regular)
        assert not may_wait("-")
    read_end, write_end = os.pipe()
    with os.fdopen(read_end, "rb") as pipe, os.fdopen(write_end, "wb"):
        monkeypatch.setattr(sys, "stdin", pipe)
        assert may_wait("-")
        assert may_wait()  # no path: standard input
