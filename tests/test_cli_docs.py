"""The commands the docs show are run as written: the quickstart (a folder of EVTX to a report)
and the loading recipes of the output page (jq, Elasticsearch's bulk API, Splunk's HTTP Event
Collector and its ``props.conf`` time formats).

Each ``sh`` block runs in bash (``-euo pipefail``) in a folder holding ``evidence/`` (real EVTX
files from the shared data folder, and a file that is not a log) and ``sigma-rules/``, with a
``correlog`` command on the PATH. The Elasticsearch and Splunk URLs are pointed at a real HTTP
server on 127.0.0.1 that records what it is sent, which the tests then check.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
EVTX = ROOT.parent / "shared" / "data" / "evtx"
TOKEN = "00000000-0000-4000-8000-00000000700c"
RULE = (
    "title: cmd\nid: 00000000-0000-4000-8000-00000000c3d0\nlevel: medium\n"
    "logsource: {category: process_creation, product: windows}\n"
    "detection: {sel: {Image|endswith: '\\\\cmd.exe'}, condition: sel}\n"
)


def blocks(doc: str, language: str) -> list[str]:
    """The fenced blocks of ``language`` in ``docs/<doc>``, in order."""
    text = (DOCS / doc).read_text(encoding="utf-8")
    return re.findall(rf"^```{language}\n(.*?)^```$", text, re.MULTILINE | re.DOTALL)


class Recorder(BaseHTTPRequestHandler):
    """Answers every POST as Elasticsearch's bulk API and Splunk's HEC would on success."""

    received: ClassVar[list[tuple[str, dict[str, str], bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.received.append((self.path, dict(self.headers), body))
        answer = b'{"errors":false,"items":[]}' if "_bulk" in self.path else b'{"code":0}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not EVTX.is_dir():
        pytest.skip("the shared data folder is not beside this checkout")
    pytest.importorskip("evtx")
    pytest.importorskip("jinja2")
    pytest.importorskip("sigma")
    for tool in ("jq", "curl", "bash"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    root = tmp_path_factory.mktemp("case")
    logs = root / "evidence" / "C" / "Windows" / "System32" / "winevt" / "Logs"
    logs.mkdir(parents=True)
    for path in sorted(EVTX.glob("*.evtx")):
        shutil.copy(path, logs / path.name)
    (root / "evidence" / "collection.txt").write_text("collected 2021-11-03\n", encoding="utf-8")
    (root / "sigma-rules").mkdir()
    (root / "sigma-rules" / "cmd.yml").write_text(RULE, encoding="utf-8")
    bin_dir = root / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "correlog"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m correlog "$@"\n', encoding="utf-8")
    shim.chmod(0o755)
    return root


def run(block: str, workdir: Path, server: str = "") -> subprocess.CompletedProcess[str]:
    """One documented block, as a script, with the servers' URLs pointed at ``server``."""
    script = "\n".join(line for line in block.splitlines() if not line.startswith("pip "))
    if server:
        script = script.replace("http://localhost:9200", server)
        script = script.replace("https://splunk.example:8088", server)
    env = {
        **os.environ,
        "PATH": f"{workdir / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "TOKEN": TOKEN,
        # this checkout's correlog, whatever the folder the block runs in
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, (script, done.stderr)
    assert "Traceback" not in done.stderr
    return done


def test_the_quickstart_turns_a_folder_of_evtx_into_a_report(workdir: Path) -> None:
    install, one, with_rules, terminal = blocks("quickstart.md", "sh")
    assert install.startswith("pip install")
    assert one.strip() == "correlog report evidence/ -o report.html"
    done = run(one, workdir)
    # The summary the page shows is the one the command prints.
    [shown] = blocks("quickstart.md", "text")
    assert shown.splitlines() == done.stderr.splitlines()
    page = (workdir / "report.html").read_text(encoding="utf-8")
    assert "log of fs03.offsec.lan was cleared (event 1102)" in page
    run(with_rules, workdir)
    assert "cmd.exe" in (workdir / "report.html").read_text(encoding="utf-8")
    done = run(terminal, workdir)
    assert '"rule_id":"00000000-0000-4000-8000-00000000c3d0"' in done.stdout.replace(" ", "")
    assert "fs03.offsec.lan" in done.stdout  # the tree
    timeline = (workdir / "timeline.csv").read_text(encoding="utf-8").splitlines()
    assert timeline[0].startswith("kind,time,host,")
    times = [line.split(",")[1] for line in timeline[1:]]
    assert len(times) > 800
    assert times == sorted(times)
    ecs = [json.loads(line) for line in (workdir / "ecs.jsonl").read_text().splitlines()]
    assert len(ecs) == len(timeline) - 1  # the quoted glob read the same three files


def test_the_jq_recipes_run(workdir: Path) -> None:
    [recipes, *_] = blocks("output.md", "sh")
    assert recipes.count("| jq") == 4
    out = run(recipes, workdir).stdout
    assert '"rule":"audit-tamper"' in out  # the alert, one compact line
    assert re.search(r"^2021-11-03T\d\d:\d\d:\d\d\.\d{9}Z\tfs03\.offsec\.lan\t", out, re.M)
    assert '"host": "mssql01.offsec.lan"' in out  # records by host
    assert '"alerts": 1' in out  # alerts by rule


def _translated(time_format: str) -> re.Pattern[str]:
    """A strptime-style format (Splunk's, with ``%9N`` for nine decimals) as a regex."""
    parts = {"%Y": r"\d{4}", "%m": r"\d\d", "%d": r"\d\d", "%H": r"\d\d", "%M": r"\d\d"}
    parts |= {"%S": r"\d\d", "%9N": r"\d{9}"}
    pattern = re.escape(time_format)
    for spec, regex in parts.items():
        pattern = pattern.replace(re.escape(spec), regex)
    return re.compile(pattern)


def test_elastic_bulk_and_splunk_hec_get_what_they_take(workdir: Path, server: str) -> None:
    _, elastic, splunk = blocks("output.md", "sh")
    Recorder.received.clear()
    run(elastic, workdir, server)
    run(splunk, workdir, server)
    [(bulk_path, bulk_headers, bulk), (hec_path, hec_headers, hec)] = Recorder.received
    assert bulk_path == "/logs-correlog-default/_bulk"
    assert bulk_headers["Content-Type"] == "application/x-ndjson"
    lines = [json.loads(line) for line in bulk.decode().splitlines()]
    actions, documents = lines[0::2], lines[1::2]
    assert len(documents) > 800
    assert all(action == {"create": {}} for action in actions)
    assert all("@timestamp" in doc and doc["ecs"]["version"] for doc in documents)
    assert hec_path == "/services/collector/event"
    assert hec_headers["Authorization"] == f"Splunk {TOKEN}"
    events = [json.loads(line) for line in hec.decode().splitlines()]
    assert len(events) == len(documents)
    for event, doc in zip(events, documents, strict=True):
        assert event["event"] == doc
        assert event["sourcetype"] == "correlog:ecs"
        when = datetime.fromisoformat(doc["@timestamp"][:26] + "+00:00")  # to the microsecond
        assert abs(event["time"] - when.timestamp()) < 1e-5


def test_the_splunk_time_formats_read_every_written_time(workdir: Path) -> None:
    [props] = blocks("output.md", "ini")
    stanzas = dict(re.findall(r"^\[(\S+)\]\n(.*?)(?=^\[|\Z)", props, re.MULTILINE | re.DOTALL))
    ecs = [json.loads(line) for line in (workdir / "ecs.jsonl").read_text().splitlines()]
    plain = [
        json.loads(line)
        for line in run("correlog correlate evidence/", workdir).stdout.splitlines()
    ]
    written = {"correlog:ecs": ecs, "correlog:json": plain}
    assert sorted(stanzas) == sorted(written)
    for name, body in stanzas.items():
        settings = dict(re.findall(r"^(\w+) = (.*)$", body, re.MULTILINE))
        time_format = _translated(settings["TIME_FORMAT"])
        stamps = [doc[settings["TIMESTAMP_FIELDS"]] for doc in written[name]]
        stamps = [stamp for stamp in stamps if stamp is not None]
        assert len(stamps) > 100
        assert all(time_format.fullmatch(stamp) for stamp in stamps), name
