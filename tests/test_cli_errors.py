"""The command line never ends in a traceback: signals, a closed stdout, errors of its own.

Real subprocesses and real signals: a ``correlog correlate`` reading from a pipe that stays
open is sent SIGTERM (SIGHUP, SIGINT) and must flush what it read, print its summary and exit
128 + the signal's number; ``| head -1`` ends it quietly with status 0; a bug inside it is one
line on stderr and status 70. A fuzz test sends random arguments and bytes through ``main()``.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
import os
import signal
import subprocess
import sys
import termios
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from correlog.cli import main
from correlog.cli._inputs import sample_path

SAMPLE = Path(sample_path()).read_bytes()


def correlog_process(*args: str, **kw: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "correlog", *args],
        stdin=kw.pop("stdin", subprocess.PIPE),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        **kw,
    )


def waiting_for_input(proc: subprocess.Popen[bytes]) -> bool:
    """True once ``proc`` has read everything written to its stdin and sleeps on the pipe."""
    assert proc.stdin is not None
    unread = bytearray(4)
    fcntl.ioctl(proc.stdin.fileno(), termios.FIONREAD, unread)
    wchan = Path(f"/proc/{proc.pid}/wchan").read_text(encoding="ascii")
    return int.from_bytes(unread, sys.byteorder) == 0 and "pipe" in wchan


def wait_until_idle(proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while not waiting_for_input(proc):  # a poll for a state, not a timed assertion
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "correlog never waited for more input"
        time.sleep(0.01)


needs_linux_proc = pytest.mark.skipif(
    not Path("/proc/self/wchan").exists(), reason="needs Linux's /proc/PID/wchan"
)


@needs_linux_proc
@pytest.mark.parametrize(
    ("signum", "status"),
    [(signal.SIGTERM, 143), (signal.SIGHUP, 129), (signal.SIGINT, 130)],
)
def test_a_signal_flushes_what_was_read_prints_the_summary_and_exits_128_plus_it(
    signum: int, status: int
) -> None:
    proc = correlog_process("correlate", "--format", "snare", "-")
    assert proc.stdin is not None
    proc.stdin.write(SAMPLE)
    proc.stdin.flush()  # and the pipe stays open: correlog waits for more
    wait_until_idle(proc)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)
    proc.stdin.close()
    text = err.decode()
    assert proc.returncode == status, text
    assert "Traceback" not in text
    assert "read 12 events from 12 lines (snare)" in text
    records = [json.loads(line) for line in out.splitlines()]
    # Every process of the sample, the open ones flushed: nothing read was lost.
    assert len(records) == 6
    assert {r["reason"] for r in records} >= {"exited", "flushed"}


@needs_linux_proc
def test_watch_on_a_pipe_that_stays_open_alerts_before_the_next_read() -> None:
    """``tail -f log | correlog watch``: each alert leaves as soon as the event that decides it is
    read, while the pipe stays open; not after a batch of events or at the end of the input."""
    proc = correlog_process("watch", "--format", "snare", "-")
    assert proc.stdin is not None
    assert proc.stdout is not None
    proc.stdin.write(SAMPLE)
    proc.stdin.flush()  # and the pipe stays open: correlog waits for more
    wait_until_idle(proc)
    os.set_blocking(proc.stdout.fileno(), False)
    printed = os.read(proc.stdout.fileno(), 1 << 20).decode()
    assert proc.poll() is None  # still running: what it printed it printed before the end
    alerts = [json.loads(line) for line in printed.splitlines()]
    assert [(a["rule"], a["host"], a["pid"]) for a in alerts] == [
        ("anonymous-web", "web2k", 1452),
        ("anonymous-web", "web03", 2216),
    ], printed
    os.set_blocking(proc.stdout.fileno(), True)
    out, err = proc.communicate(timeout=60)  # closes the pipe: the end of the input
    assert proc.returncode == 0, err
    assert out == b""  # nothing held back for the end


def test_a_closed_stdout_ends_quietly_with_status_0(tmp_path: Path) -> None:
    # Enough records to fill the pipe: the sample's processes on 200 hosts.
    path = tmp_path / "many.snare"
    lines = SAMPLE.decode().splitlines(keepends=True)
    path.write_text(
        "".join(
            line.replace("WEB2K", f"W{i}").replace("WEB03", f"X{i}")
            for i in range(200)
            for line in lines
        ),
        encoding="utf-8",
    )
    pipeline = 'set -o pipefail; "$0" -m correlog correlate "$1" | head -1'
    done = subprocess.run(
        ["bash", "-c", pipeline, sys.executable, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 1
    assert json.loads(done.stdout)["pid"]
    assert "Broken pipe" not in done.stderr
    assert "Traceback" not in done.stderr
    assert "Exception ignored" not in done.stderr


def test_an_error_of_correlogs_own_is_one_line_the_summary_and_status_70() -> None:
    boom = (
        "import sys, correlog.cli, correlog._correlator as c\n"
        "def broken(self, events):\n"
        "    raise RuntimeError('the fold broke')\n"
        "c.Correlator.feed_many = broken\n"
        "sys.exit(correlog.cli.main(sys.argv[1:]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", boom, "correlate", "--sample"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 70
    assert "Traceback" not in done.stderr
    [error] = [line for line in done.stderr.splitlines() if "internal error" in line]
    assert "RuntimeError: the fold broke" in error
    assert "iis-intrusion.snare" in error  # names the input
    assert "correlog: read 12 events" in done.stderr  # the summary still comes


def test_an_unreadable_input_names_itself_and_exits_1(tmp_path: Path) -> None:
    folder = tmp_path / "a-folder.snare"
    folder.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "correlog", "correlate", str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "a-folder.snare" in done.stderr
    assert "correlog: read 0 events" in done.stderr


# -- each error a user meets: one line, the right status -----------------------------------------

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
EVTX = DATA / "evtx" / "hayabusa_mitre_T1027_Tchopper_4688.evtx"
RULE = (
    "title: cmd\nid: 00000000-0000-4000-8000-00000000c3d0\n"
    "logsource: {category: process_creation, product: windows}\n"
    "detection: {sel: {Image|endswith: '\\\\cmd.exe'}, condition: sel}\n"
)


def run_main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    """The status and stderr of ``correlog ARGV`` (argparse's exit caught as its status)."""
    try:
        status = main(list(argv))
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return status, err


def errors_of(err: str) -> list[str]:
    """The error lines: not the summary, not the skipped lines' details."""
    return [
        line
        for line in err.splitlines()
        if line.startswith("correlog: ")
        and not line.startswith(("correlog: read ", "correlog: skipped ", "correlog: ... "))
    ]


def test_a_forced_format_that_parses_nothing_is_an_error_saying_what_the_file_looks_like(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, err = run_main(capsys, "correlate", "--format", "jsonl", sample_path())
    assert status == 1
    [error] = errors_of(err)
    assert "--format jsonl read nothing from" in error
    assert "all 12 lines were skipped" in error
    assert "it looks like snare: give --format snare, or leave --format out" in error


def test_a_forced_format_on_stdin_says_to_leave_it_out(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(SAMPLE), encoding="utf-8"))
    status, err = run_main(capsys, "events", "--format", "ossec", "-")
    assert status == 1
    [error] = errors_of(err)
    assert "--format ossec read nothing from -" in error
    assert "leave --format out to detect its format" in error


def test_a_forced_format_that_reads_valid_lines_of_no_interest_is_no_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A logon (528) is a valid Snare line that is not a process event: ignored, not skipped.
    logon = SAMPLE.splitlines()[0].replace(b"\t592\t", b"\t528\t")
    path = tmp_path / "logons.snare"
    path.write_bytes(logon + b"\n")
    status, err = run_main(capsys, "correlate", "--format", "snare", str(path))
    assert status == 0, err
    assert "ignored 1, skipped 0" in err


def test_evtx_units_are_called_records(capsys: pytest.CaptureFixture[str]) -> None:
    if not EVTX.is_file():
        pytest.skip("the shared data folder is not beside this checkout")
    pytest.importorskip("evtx")
    status, err = run_main(capsys, "events", str(EVTX))
    assert status == 0
    assert "read 735 events from 735 records (evtx)" in err
    status, err = run_main(capsys, "correlate", "--format", "evt", str(EVTX))
    assert status == 1
    [error] = errors_of(err)
    assert "--format evt read nothing" in error
    assert "records were skipped" in error
    assert "it looks like evtx" in error


def test_an_unknown_format_names_the_option_not_the_python_keyword(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello\nworld\n", encoding="utf-8")
    status, err = run_main(capsys, "correlate", str(path))
    assert status == 1
    [error] = errors_of(err)
    assert "cannot tell the format" in error
    assert "give --format FORMAT to read one anyway" in error
    assert "format=" not in err


@pytest.mark.parametrize("command", ["hunt", "tree", "report"])
def test_rules_take_one_path_so_the_input_after_them_is_never_called_a_rule(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("sigma")
    missing = tmp_path / "missing"
    log = tmp_path / "file.evtx"
    extra = ["-o", str(tmp_path / "r.html")] if command == "report" else []
    status, err = run_main(capsys, command, "--rules", str(missing), str(log), *extra)
    assert status == 2
    [error] = errors_of(err)
    assert error == f"correlog: --rules {missing}: no such file or folder"
    assert "file.evtx" not in error


def test_rule_files_given_after_one_rules_flag_are_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("sigma")
    first, second = tmp_path / "a.yml", tmp_path / "b.yml"
    for rule in (first, second):
        rule.write_text(RULE, encoding="utf-8")
    status, err = run_main(capsys, "hunt", "--rules", str(first), str(second), sample_path())
    assert status == 2
    [error] = errors_of(err)
    assert f"{second} is a Sigma rule file, not an input" in error
    assert "give --rules before each rule file or folder" in error
    assert "one path per --rules" in subprocess.run(
        [sys.executable, "-m", "correlog", "hunt", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout.replace("\n", " ").replace("  ", " ")


@pytest.mark.parametrize(
    "argv",
    [
        ["hunt", "--rules", "{rules}"],
        ["tree", "--rules", "{rules}"],
        ["report", "--rules", "{rules}", "-o", "{rules}/r.html"],
        ["watch", "--sigma", "{rules}"],
    ],
)
def test_an_empty_rules_folder_is_a_usage_error(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("sigma")
    rules = tmp_path / "rules"
    (rules / "nested").mkdir(parents=True)
    (rules / "README.md").write_text("no rules yet\n", encoding="utf-8")
    args = [a.format(rules=rules) for a in argv]
    status, err = run_main(capsys, *args, "--sample")
    assert status == 2
    [error] = errors_of(err)
    flag = "--sigma" if argv[0] == "watch" else "--rules"
    assert error == (
        f"correlog: {flag} {rules}: the folder holds no Sigma rule file (*.yml, *.yaml)"
    )


# -- fuzz --------------------------------------------------------------------------------------

_OPTIONS = st.sampled_from(
    [
        "--sample",
        "--format",
        "--errors",
        "--tz",
        "--ttl",
        "--max-open",
        "--max-skew",
        "--lateness",
        "--rule",
        "--account",
        "--allow",
        "--single-event",
        "--records",
        "--no-progress",
        "--coverage",
        "--path",
        "-",
    ]
)
_VALUES = st.sampled_from(
    [
        "auto",
        "snare",
        "jsonl",
        "evtx",
        "evt",
        "strict",
        "skip",
        "UTC",
        "Europe/Paris",
        "0",
        "-1",
        "1e308",
    ]
) | st.text(max_size=12)
_COMMANDS = st.sampled_from(["correlate", "watch", "events", "sample", "hunt"])


def _mutated(data: bytes, cuts: list[int], noise: bytes) -> bytes:
    for cut in cuts:
        at = cut % (len(data) + 1)
        data = data[:at] + noise + data[at + len(noise) :]
    return data


_INPUTS = st.binary(max_size=400) | st.builds(
    _mutated, st.just(SAMPLE), st.lists(st.integers(0, 10**6), max_size=3), st.binary(max_size=8)
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_COMMANDS, st.lists(_OPTIONS | _VALUES, max_size=6), _INPUTS)
def test_random_arguments_and_bytes_never_end_in_a_traceback(
    command: str, argv: list[str], data: bytes
) -> None:
    out, err = io.StringIO(), io.StringIO()
    stdin = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8")
    saved = sys.stdin
    sys.stdin = stdin
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                status = main([command, *argv])
            except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
                status = exc.code if isinstance(exc.code, int) else 2
    finally:
        sys.stdin = saved
    assert status in {0, 1, 2}, err.getvalue()
    assert "Traceback" not in err.getvalue()
    if status == 1:
        assert err.getvalue().startswith("correlog: ") or "\ncorrelog: " in err.getvalue()
