"""Inputs as a triage collection gives them: folders read recursively (what is a log is told by
content, the rest counted and reported), glob patterns a shell left as they are, and one
progress bar for the whole run on a terminal, none elsewhere."""

from __future__ import annotations

import gzip
import json
import os
import pty
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from correlog.cli import main
from correlog.cli._inputs import expand, sample_path

SAMPLE = Path(sample_path())


def records(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str], str]:
    status = main(["correlate", *argv])
    captured = capsys.readouterr()
    return status, sorted(captured.out.splitlines()), captured.err


@pytest.fixture
def collection(tmp_path: Path) -> Path:
    """A collection folder: the sample split over a nested log and a gzip, beside notes, an
    empty file and a picture."""
    root = tmp_path / "KAPE"
    (root / "C" / "Windows" / "logs").mkdir(parents=True)
    lines = SAMPLE.read_bytes().splitlines(keepends=True)
    (root / "C" / "Windows" / "logs" / "part1.snare").write_bytes(b"".join(lines[:6]))
    with gzip.open(root / "C" / "part2.log.gz", "wb") as packed:
        packed.write(b"".join(lines[6:]))
    (root / "README.txt").write_text("collected by a triage tool\n", encoding="utf-8")
    (root / "empty.log").write_bytes(b"")
    (root / "C" / "shot.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    return root


def test_a_folder_is_read_recursively_and_gives_what_its_logs_give(
    collection: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, got, err = records(capsys, str(collection))
    assert status == 0, err
    _, want, _ = records(capsys, "--sample")
    assert got == want
    assert "read 12 events from 12 lines (snare)" in err
    assert "3 files in folders not read (1 empty, 2 not a log)" in err


def test_expansion_names_the_files_in_order_each_once(collection: Path) -> None:
    log = str(collection / "C" / "Windows" / "logs" / "part1.snare")
    found = expand([str(collection), log])
    assert found.files == [str(collection / "C" / "part2.log.gz"), log]
    assert sum(found.passed_over.values()) == 3
    assert any("README.txt (not a log)" in example for example in found.examples)


def test_a_quoted_glob_is_expanded(collection: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, got, err = records(capsys, str(collection / "C" / "**" / "*.snare"))
    assert status == 0, err
    assert "read 6 events from 6 lines (snare)" in err
    assert got


def test_a_glob_matching_nothing_is_an_error_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pattern = str(tmp_path / "*.evtx")
    status, _, err = records(capsys, pattern)
    assert status == 1
    assert f"{pattern}: no file matches this pattern" in err


def test_a_folder_with_no_log_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "notes.txt").write_text("nothing here\n", encoding="utf-8")
    status, _, err = records(capsys, str(tmp_path))
    assert status == 1
    assert f"{tmp_path}: no log file in this folder (1 not a log)" in err


def test_a_forced_format_keeps_what_it_may_read_and_passes_over_other_formats(
    collection: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copy(SAMPLE, collection / "again.snare")
    (collection / "events.jsonl").write_text(
        '{"kind": "created", "host": "h", "pid": 1, "time": "2003-03-04T09:15:02Z"}\n',
        encoding="utf-8",
    )
    found = expand([str(collection)], "snare")
    assert str(collection / "events.jsonl") not in found.files
    assert found.passed_over["another format"] == 1
    assert str(collection / "README.txt") in found.files  # the forced format may read it


# -- the progress bar ----------------------------------------------------------------------------


def run_on_a_terminal(*argv: str, stdout_too: bool = False) -> tuple[int, str]:
    """Run correlog with stderr (and stdout) on a pseudo-terminal; its status and what the
    terminal got."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "correlog", *argv],
        stdin=subprocess.DEVNULL,
        stdout=follower if stdout_too else subprocess.DEVNULL,
        stderr=follower,
    )
    os.close(follower)
    screen = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        screen += chunk
    os.close(leader)
    return proc.wait(timeout=120), screen.decode()


@pytest.fixture
def big_log(tmp_path: Path) -> Path:
    """The sample's processes on 2,000 hosts: long enough to read for a few redraws."""
    text = SAMPLE.read_text(encoding="utf-8")
    path = tmp_path / "big.snare"
    path.write_text(
        "".join(text.replace("WEB2K", f"W{i}").replace("WEB03", f"X{i}") for i in range(2000)),
        encoding="utf-8",
    )
    return path


def test_a_terminal_gets_one_bar_for_the_whole_run_then_a_clean_line(
    big_log: Path, tmp_path: Path
) -> None:
    second = tmp_path / "second.snare"
    shutil.copy(SAMPLE, second)
    status, screen = run_on_a_terminal("correlate", str(big_log), str(second))
    assert status == 0, screen
    bars = [part for part in screen.split("\r") if "files, " in part]
    assert bars, screen
    assert "/2 files, " in bars[-1]
    for word in ("events, ", "events/s", "% of ", "MB"):
        assert word in bars[-1], bars[-1]
    # The bar is erased before the summary, which starts on a clean line.
    assert "\r\x1b[Kcorrelog: read 24012 events" in screen


def test_no_bar_with_no_progress_or_off_a_terminal(big_log: Path) -> None:
    status, screen = run_on_a_terminal("correlate", "--no-progress", str(big_log))
    assert status == 0
    assert "files, " not in screen
    done = subprocess.run(
        [sys.executable, "-m", "correlog", "correlate", str(big_log)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "\r" not in done.stderr
    assert json.loads(done.stdout.splitlines()[0])["pid"]


def test_no_bar_while_records_stream_to_the_same_terminal_but_one_for_a_tree(
    big_log: Path,
) -> None:
    status, screen = run_on_a_terminal("correlate", str(big_log), stdout_too=True)
    assert status == 0
    assert "files, " not in screen
    assert "time (UTC)" in screen  # the table
    status, screen = run_on_a_terminal("tree", "--width", "80", str(big_log), stdout_too=True)
    assert status == 0
    assert "1/1 files, " in screen or "0/1 files, " in screen


def test_correlate_gives_the_collector_settings_back_and_the_same_records(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # correlate collects cyclic garbage less often while it runs (a speed setting): a caller
    # of main() in-process gets its own settings back, after a run and after a failed one, and
    # the records are those of a run with the default settings.
    import contextlib
    import gc

    from correlog.cli import correlate
    from correlog.cli._inputs import GC_THRESHOLDS, fewer_collections

    before = gc.get_threshold()
    seen: list[tuple[int, int, int]] = []
    real = fewer_collections

    @contextlib.contextmanager
    def spying() -> Iterator[None]:
        with real():
            seen.append(gc.get_threshold())
            yield

    monkeypatch.setattr(correlate, "fewer_collections", spying)
    status, fewer, _ = records(capsys, str(SAMPLE))
    assert status == 0
    assert seen == [GC_THRESHOLDS]
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
    bad = tmp_path / "bad.json"
    bad.write_text("not json\n", encoding="utf-8")
    assert records(capsys, "--format", "nxlog", "--errors", "strict", str(bad))[0] != 0
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
    monkeypatch.setattr(correlate, "fewer_collections", contextlib.nullcontext)
    assert records(capsys, str(SAMPLE))[:2] == (0, fewer)
