"""The README's first screen stays true: its Python snippet runs as written on the bundled
sample, and the table it shows is what the first command prints."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks(language: str) -> list[str]:
    text = README.read_text(encoding="utf-8")
    return re.findall(rf"^```{language}\n(.*?)^```", text, flags=re.M | re.S)


def _run(*argv: str) -> str:
    env = {**os.environ, "NO_COLOR": "1"}
    done = subprocess.run(
        [sys.executable, *argv], capture_output=True, text=True, env=env, check=True, timeout=120
    )
    return done.stdout


def test_the_python_snippet_runs_as_written_and_prints_the_alert() -> None:
    (snippet,) = _blocks("python")
    out = _run("-c", snippet)
    alerts = [line for line in out.splitlines() if line.startswith("anonymous-web ")]
    assert alerts == [
        r"anonymous-web web2k \WINNT\system32\cmd.exe IUSR_WEB2K",
        r"anonymous-web web03 C:\WINDOWS\system32\ping.exe IUSR_WEB03",
    ]
    assert out.count("Record(") == 6  # every process of the sample, once


def test_the_table_shown_is_what_the_first_command_prints() -> None:
    shown = next(block for block in _blocks("text") if block.startswith("time (UTC)"))
    printed = _run("-m", "correlog", "watch", "--records", "--sample", "--output", "table")
    assert printed == shown
