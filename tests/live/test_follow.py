"""Following real files through appends, rename rotation, copy-truncate, truncation, restarts."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import threading
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from correlog import UsageError
from correlog.live.follow import MAX_LINE, Follower, follow


def append(path: Path, data: bytes) -> None:
    with path.open("ab") as file:
        file.write(data)


def test_complete_lines_only_a_partial_line_waits(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_bytes(b"one\ntwo\r\nthr")
    follower = Follower(log)
    assert follower.read() == [b"one", b"two"]
    assert follower.read() == []
    append(log, b"ee\n")
    assert follower.read() == [b"three"]
    assert follower.position is not None
    assert follower.position["offset"] == log.stat().st_size


def test_a_path_that_does_not_exist_yet(tmp_path: Path) -> None:
    log = tmp_path / "later.log"
    follower = Follower(log)
    assert follower.read() == []
    assert follower.position is None
    log.write_bytes(b"hello\n")
    assert follower.read() == [b"hello"]


def test_rename_rotation_reads_the_old_file_to_its_end_then_the_new(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_bytes(b"a1\na2\n")
    follower = Follower(log)
    assert follower.read() == [b"a1", b"a2"]
    append(log, b"a3\na4-without-newline")
    log.rename(tmp_path / "app.log.1")
    assert follower.read() == [b"a3"]  # no new file yet: the partial line waits
    log.write_bytes(b"b1\n")
    assert follower.read() == [b"a4-without-newline", b"b1"]
    assert follower.stats.rotations == 1
    assert follower.stats.truncations == 0


def test_copy_truncate(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_bytes(b"a1\na2\n")
    follower = Follower(log)
    assert follower.read() == [b"a1", b"a2"]
    shutil.copy(log, tmp_path / "app.log.1")
    with log.open("r+b") as file:
        file.truncate(0)
    append(log, b"b1\n")
    assert follower.read() == [b"b1"]
    assert follower.stats.truncations == 1


def test_truncated_and_refilled_beyond_the_offset_is_told_by_its_fingerprint(
    tmp_path: Path,
) -> None:
    log = tmp_path / "app.log"
    log.write_bytes(b"old line\n")
    follower = Follower(log)
    assert follower.read() == [b"old line"]
    with log.open("r+b") as file:  # same inode, new content, longer than before
        file.truncate(0)
        file.write(b"new line one\nnew line two\n")
    assert follower.read() == [b"new line one", b"new line two"]
    assert follower.stats.truncations == 1


def test_resume_at_the_saved_position_without_repeats(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_bytes(b"a1\na2\n")
    first = Follower(log)
    assert first.read() == [b"a1", b"a2"]
    saved = json.loads(json.dumps(first.position))  # as it comes back from a checkpoint
    first.close()
    append(log, b"a3\n")
    second = Follower(log, saved)
    assert second.read() == [b"a3"]
    assert second.stats.to_json()["gaps"] == 0


def test_resume_after_a_rotation_while_stopped_reads_the_rotated_rest_first(
    tmp_path: Path,
) -> None:
    log = tmp_path / "app.log"
    log.write_bytes(b"a1\n")
    first = Follower(log)
    assert first.read() == [b"a1"]
    saved = first.position
    first.close()
    append(log, b"a2\n")
    log.rename(tmp_path / "app.log.1")
    log.write_bytes(b"b1\n")
    second = Follower(log, saved)
    assert second.read() == [b"a2", b"b1"]
    assert (second.stats.rotations, second.stats.gaps) == (1, 0)


def test_resume_when_the_saved_file_is_gone_counts_a_gap(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_bytes(b"a1\n")
    first = Follower(log)
    first.read()
    saved = first.position
    first.close()
    log.unlink()
    (tmp_path / "filler").write_bytes(b"keeps the old inode from being reused at once\n")
    log.write_bytes(b"b1\nb2\n")
    second = Follower(log, saved)
    assert second.read() == [b"b1", b"b2"]
    assert second.stats.gaps == 1


def test_an_overlong_line_is_dropped_and_counted(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_bytes(b"x" * (MAX_LINE + 10) + b"\nafter\n")
    follower = Follower(log)
    assert follower.read() == [b"after"]
    assert follower.stats.overlong == 1
    assert follower.position is not None
    assert follower.position["offset"] == log.stat().st_size


def test_a_bad_saved_position_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="'inode' as int"):
        Follower(tmp_path / "x", {"device": 1, "inode": "7"})


def test_follow_yields_batches_until_stopped(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_bytes(b"a1\n")
    stop = threading.Event()
    batches = []
    for batch in follow(Follower(log), stop, interval=0.01):
        batches.append(batch)
        if len(batches) == 1:
            append(log, b"a2\n")
        else:
            stop.set()
    assert batches == [[b"a1"], [b"a2"]]


@given(
    lines=st.lists(st.binary(max_size=30).map(lambda b: b.replace(b"\n", b"")), max_size=30),
    cuts=st.lists(st.integers(0, 600), max_size=8),
    rotate_at=st.none() | st.integers(0, 8),
)
def test_the_lines_read_are_the_lines_written(
    tmp_path_factory: pytest.TempPathFactory,
    lines: list[bytes],
    cuts: list[int],
    rotate_at: int | None,
) -> None:
    """Differential: however the writes are cut and whichever line a rotation falls after, the
    follower returns exactly the lines a plain split of everything written gives (CR-free
    here). A rotation inside a line is another matter: the old file's last line is finished
    as it is (see test_rename_rotation_reads_the_old_file_to_its_end_then_the_new)."""
    folder = tmp_path_factory.mktemp("follow")
    log = folder / "app.log"
    data = b"".join(line.replace(b"\r", b"") + b"\n" for line in lines)
    log.write_bytes(b"")
    follower = Follower(log)
    got: list[bytes] = []
    bounds = sorted({0, len(data), *(min(cut, len(data)) for cut in cuts)})
    for n, (start, end) in enumerate(itertools.pairwise(bounds)):
        if n == rotate_at and data[:start].endswith(b"\n"):  # writers rotate between lines
            got += follower.read()
            os.rename(log, folder / "app.log.1")
            log.write_bytes(b"")
        append(log, data[start:end])
        got += follower.read()
    got += follower.read()
    follower.close()
    assert got == data.split(b"\n")[:-1]
