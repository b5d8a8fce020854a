"""End to end: ``correlog correlate`` as a user runs it, against a peer or a floor, same run.

Each figure is the CPU time (user + system, from ``os.wait4``) of whole processes, the
interpreter's start included, and their peak RSS: the subject and its baseline run in
alternating pairs and the table shows the median ratio of their speeds (see
:mod:`benchmarks.timing` for why pairs). Output goes to ``/dev/null``.

* Snare: ``correlog correlate --format snare`` against SEC (the Simple Event Correlator,
  Debian's ``sec``) with three context rules doing the same pairing (592 opens a context per
  host and pid, 600 adds to it, 593 writes it out). Goal: 6x SEC's speed, at most 2.5x its RSS.
* ``correlog watch`` (default rules, alerts written) against ``correlog correlate`` (every
  record written) on the same Snare file. Goal: at least 0.9 of its speed.
* NXLog JSON: ``correlog correlate --format nxlog`` against a Python process that only parses
  every line with ``orjson.loads`` (the floor of any Python JSON reader).
* EVTX: ``correlog correlate`` on the shared EVTX files against a process that renders every
  record with the ``evtx`` crate and parses it with ``orjson.loads``.

Beside the NXLog and EVTX rows, a reference row (no goal) runs the least a Python pipeline must
do on the same input against the same floor: parse each line or record, keep a creation's
fields in a dict under (host, pid), and write one ``orjson.dumps`` line per process, with no
time parsing, no checks, no record of the full shape, no cross-log stage. It says how much of
the distance to the floor any pure-Python correlator keeps, and how much is correlog's own.
A second reference row runs :mod:`benchmarks.same_bytes`: the least Python that writes
correlog's own bytes for the same processes. Where it stays below 0.5, so must any Python
correlator that writes them: that is the bound the NXLog and EVTX goals meet.

A case whose peer or package is missing (no ``sec``, no orjson, no evtx or shared files) is
listed as skipped.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from . import cases
from .render import nxlog_lines, snare_lines, write_lines
from .run import Row, Sizes
from .streams import make_stream

__all__ = ["SAME_BYTES", "SECTIONS", "SEC_RULES", "correlog_argv", "cpu_and_rss", "end_to_end"]

#: SEC's rules for the same pairing as ``correlate``: one context per host and pid.
SEC_RULES = r"""
type=Single
ptype=RegExp
pattern=^(\S+)\tMSWinEventLog\t\d+\tSecurity\t\d+\t[^\t]+\t592\t.*New Process ID: (\d+)
desc=created $1 $2
action=create PROC_$1_$2 3600 ; add PROC_$1_$2 $0

type=Single
ptype=RegExp
pattern=^(\S+)\tMSWinEventLog\t\d+\tSecurity\t\d+\t[^\t]+\t600\t.*Information: Process ID: (\d+)
context=PROC_$1_$2
desc=token $1 $2
action=add PROC_$1_$2 $0

type=Single
ptype=RegExp
pattern=^(\S+)\tMSWinEventLog\t\d+\tSecurity\t\d+\t[^\t]+\t593\t.*Process ID: (\d+)
context=PROC_$1_$2
desc=exited $1 $2
action=add PROC_$1_$2 $0 ; copy PROC_$1_$2 %p ; write - %p ; delete PROC_$1_$2
"""

_NXLOG_FLOOR = "import orjson, sys\nfor line in open(sys.argv[1], 'rb'): orjson.loads(line)"
_EVTX_FLOOR = (
    "import orjson, sys\nfrom evtx import PyEvtxParser\nfor path in sys.argv[1:]:\n"
    "    for record in PyEvtxParser(path).records_json(): orjson.loads(record['data'])"
)

#: The least pipeline on NXLog JSON (see the module docs): 4688 opens, 4689 writes one line.
_NXLOG_LEAST = """import sys
from orjson import dumps, loads
open_processes = {}
write = sys.stdout.buffer.write
for line in open(sys.argv[1], "rb"):
    event = loads(line)
    host = event["Hostname"]
    if event["EventID"] == 4688:
        open_processes[host, int(event["NewProcessId"], 16)] = (
            event["EventTime"], event["RecordNumber"], event["NewProcessName"],
            event["TargetUserName"], event["TargetDomainName"], event["TargetLogonId"],
            int(event["ProcessId"], 16), event.get("ParentProcessName"), event.get("CommandLine"),
        )
    elif event["EventID"] == 4689:
        pid = int(event["ProcessId"], 16)
        start = open_processes.pop((host, pid), None)
        if start is not None:
            begun, number, image, user, domain, logon, ppid, parent, command = start
            write(dumps({"host": host, "pid": pid, "image": image, "user": user,
                         "domain": domain, "logon_id": logon, "creator_pid": ppid,
                         "creator_image": parent, "command_line": command, "start": begun,
                         "end": event["EventTime"], "record_number": number}) + b"\\n")
"""
#: The least pipeline on EVTX (4688 only: the shared files hold no exits): every creation kept
#: under (host, pid), the last one of each written at the end.
_EVTX_LEAST = """import sys
from evtx import PyEvtxParser
from orjson import dumps, loads
open_processes = {}
for path in sys.argv[1:]:
    for record in PyEvtxParser(path).records_json():
        event = loads(record["data"])["Event"]
        system = event["System"]
        if system["EventID"] == 4688:
            data = event["EventData"]
            open_processes[system["Computer"], int(data["NewProcessId"], 16)] = (
                system["TimeCreated"]["#attributes"]["SystemTime"], system["EventRecordID"],
                data["NewProcessName"], data["SubjectUserName"], data["SubjectDomainName"],
                data["SubjectLogonId"], int(data["ProcessId"], 16), data.get("ParentProcessName"),
                data.get("CommandLine"),
            )
write = sys.stdout.buffer.write
for (host, pid), start in open_processes.items():
    begun, number, image, user, domain, logon, ppid, parent, command = start
    write(dumps({"host": host, "pid": pid, "image": image, "user": user, "domain": domain,
                 "logon_id": logon, "creator_pid": ppid, "creator_image": parent,
                 "command_line": command, "start": begun, "record_number": number}) + b"\\n")
"""


# Runs argv from a small interpreter and reports on it: a process forked from this one would
# start with this one's peak RSS (the inputs it holds) counted as its own.
_LAUNCH = """import os, sys
pid = os.fork()
if pid == 0:
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 1)
    os.dup2(null, 2)
    os.execvp(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
print(os.waitstatus_to_exitcode(status), usage.ru_utime + usage.ru_stime, usage.ru_maxrss)
"""


#: Each side runs as a user runs it: Python's bytecode written once and then read (an
#: environment with ``PYTHONDONTWRITEBYTECODE`` would compile every module on every run).
_AS_INSTALLED = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


#: :mod:`benchmarks.same_bytes` run as a script (it imports nothing of correlog or of this
#: package): add ``nxlog FILE`` or ``evtx FILE...``.
SAME_BYTES = [sys.executable, str(Path(__file__).with_name("same_bytes.py"))]


def cpu_and_rss(argv: Sequence[str]) -> tuple[float, int]:
    """CPU seconds (user + system, its reaped children's included) and peak RSS (KiB) of one
    run of ``argv``, output dropped."""
    done = subprocess.run(
        [sys.executable, "-c", _LAUNCH, *argv],
        capture_output=True,
        text=True,
        check=True,
        env=_AS_INSTALLED,
    )
    status, cpu, rss = done.stdout.split()
    if status != "0":
        raise RuntimeError(f"{list(argv[:3])} exited with status {status}")
    return float(cpu), int(rss)


def correlog_argv(verb: str, *args: str) -> list[str]:
    """``correlog VERB --output json ARGS`` with this interpreter (and these sources)."""
    return [sys.executable, "-m", "correlog", verb, "--output", "json", *args]


def _pairs(
    subject: Sequence[str], baseline: Sequence[str], pairs: int
) -> list[tuple[float, float, int, int]]:
    """``(subject CPU, baseline CPU, subject RSS, baseline RSS)`` per pair, the order alternating
    so that neither side always runs first; one untimed run of each before (bytecode written,
    files in the page cache)."""
    cpu_and_rss(subject)
    cpu_and_rss(baseline)
    found = []
    for i in range(pairs):
        if i % 2:
            s_cpu, s_rss = cpu_and_rss(subject)
            b_cpu, b_rss = cpu_and_rss(baseline)
        else:
            b_cpu, b_rss = cpu_and_rss(baseline)
            s_cpu, s_rss = cpu_and_rss(subject)
        found.append((s_cpu, b_cpu, s_rss, b_rss))
    return found


def _row(
    case: str, runs: list[tuple[float, float, int, int]], items: int, at_least: float | None = None
) -> Row:
    """The speed ratio (baseline CPU over subject CPU: above 1, the subject is faster), judged
    against ``at_least`` (a reference row, with none, is not judged)."""
    ratios = [b / max(s, 1e-9) for s, b, _, _ in runs]
    median = statistics.median(ratios)
    rate = items / statistics.median(s for s, _, _, _ in runs)
    measured = f"{median:.2f} [{min(ratios):.2f}-{max(ratios):.2f}] x"
    if at_least is None:
        return Row(case, measured, f"{rate:,.0f}/s", "reference")
    return Row(case, measured, f"{rate:,.0f}/s", f">= {at_least:g} x", median >= at_least)


def evtx_copies(files: Sequence[Path], loops: int, folder: Path) -> list[str]:
    """``loops`` copies of each file under names of their own (symbolic links in ``folder``):
    correlog reads a path named twice once, so the floor and correlog read the same records."""
    paths = []
    for loop in range(loops):
        for file in files:
            link = folder / f"{loop:03d}-{file.name}"
            link.symlink_to(file.resolve())
            paths.append(str(link))
    return paths


def end_to_end(sizes: Sizes) -> Iterator[Row]:
    """The end-to-end rows: Snare against SEC, ``watch`` against ``correlate``, NXLog and EVTX
    against their floors."""
    pairs = max(1, min(sizes.pairs, 3))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        snare = folder / "stream.snare"
        n = write_lines(snare, snare_lines(make_stream(sizes.end_to_end_events).events))
        correlate_snare = correlog_argv("correlate", "--format", "snare", str(snare))
        sec = shutil.which("sec")
        if sec is None:
            yield Row("correlate Snare / SEC", "skipped: no sec", "", "")
        else:
            rules = folder / "pairing.sec"
            rules.write_text(SEC_RULES.lstrip(), encoding="utf-8")
            sec_argv = [sec, f"--conf={rules}", f"--input={snare}", "--notail", "--log=/dev/null"]
            runs = _pairs(correlate_snare, sec_argv, pairs)
            yield _row("correlate Snare / SEC (CPU)", runs, n, 6.0)
            rss, sec_rss = max(r[2] for r in runs), max(r[3] for r in runs)
            share = rss / max(sec_rss, 1)
            yield Row(
                "correlate Snare / SEC (peak RSS)",
                f"{share:.2f} x",
                f"{rss / 1024:.1f} MiB",
                "<= 2.5 x",
                share <= 2.5,
            )
        watch_snare = correlog_argv("watch", "--format", "snare", str(snare))
        runs = _pairs(watch_snare, correlate_snare, pairs)
        yield _row("watch / correlate Snare (CPU)", runs, n, 0.9)
        if cases.has_orjson():
            nxlog = folder / "stream.json"
            n = write_lines(
                nxlog, nxlog_lines(make_stream(sizes.end_to_end_events, seed=4688).events)
            )
            floor = [sys.executable, "-c", _NXLOG_FLOOR, str(nxlog)]
            runs = _pairs(correlog_argv("correlate", "--format", "nxlog", str(nxlog)), floor, pairs)
            yield _row("correlate NXLog / orjson.loads process", runs, n, 0.5)
            least_argv = [sys.executable, "-c", _NXLOG_LEAST, str(nxlog)]
            yield _row("  least Python pipeline NXLog / same", _pairs(least_argv, floor, pairs), n)
            same_argv = [*SAME_BYTES, "nxlog", str(nxlog)]
            same = _pairs(same_argv, floor, pairs)
            yield _row("  least Python, correlog's bytes / same", same, n)
        else:
            yield Row("correlate NXLog / orjson.loads process", "skipped: no orjson", "", "")
    files = cases.evtx_files()
    if files and cases.has_orjson():
        with tempfile.TemporaryDirectory() as tmp:
            paths = evtx_copies(files, sizes.end_to_end_evtx_loops, Path(tmp))
            floor = [sys.executable, "-c", _EVTX_FLOOR, *paths]
            runs = _pairs(correlog_argv("correlate", "--format", "evtx", *paths), floor, pairs)
            least = _pairs([sys.executable, "-c", _EVTX_LEAST, *paths], floor, pairs)
            same = _pairs([*SAME_BYTES, "evtx", *paths], floor, pairs)
        from evtx import PyEvtxParser

        records = sum(1 for p in files for _ in PyEvtxParser(str(p)).records())
        records *= sizes.end_to_end_evtx_loops
        yield _row("correlate EVTX / evtx + orjson process", runs, records, 0.5)
        yield _row("  least Python pipeline EVTX / same", least, records)
        yield _row("  least Python, correlog's bytes / same", same, records)
    else:
        yield Row(
            "correlate EVTX / evtx + orjson process",
            "skipped: no evtx, orjson or shared EVTX",
            "",
            "",
        )


#: The sections this module adds to ``python -m benchmarks`` (see :mod:`benchmarks.run`).
SECTIONS = {"end_to_end": end_to_end}
