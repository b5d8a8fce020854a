"""The output benchmark does all of its work on a tiny input, and its SEC peer pairs what
correlog pairs. Correctness only, never timing."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from benchmarks import bench_output
from benchmarks.render import snare_lines, write_lines
from benchmarks.streams import make_stream

import correlog
from correlog import Correlator, Reason


def test_the_benchmark_prints_every_ratio(capsys: pytest.CaptureFixture[str]) -> None:
    bench_output.main(["--events", "300", "--repeat", "1", "--no-end-to-end"])
    printed = capsys.readouterr().out
    assert printed.count("records/s") == 8
    assert "encoder, per record" in printed


@pytest.mark.skipif(shutil.which("sec") is None, reason="SEC (Debian's sec) is not installed")
def test_the_sec_rules_pair_each_exit_with_its_creation(tmp_path: Path) -> None:
    path = tmp_path / "stream.snare"
    write_lines(path, snare_lines(make_stream(600).events))
    rules = tmp_path / "pairing.sec"
    rules.write_text(bench_output.SEC_RULES.lstrip(), encoding="utf-8")
    done = subprocess.run(
        ["sec", f"--conf={rules}", f"--input={path}", "--notail", "--log=/dev/null"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    written = done.stdout.splitlines()
    exits = [line for line in written if "\t593\t" in line]
    records = list(Correlator().process(correlog.read(str(path), "snare")))
    exited = [r for r in records if r.reason is Reason.EXITED]
    assert exits
    assert len(exits) == len(exited)
    assert all("\t592\t" in line for line in written[:1])  # a pair starts with its creation
