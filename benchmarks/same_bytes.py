"""The least Python that writes correlog's own bytes: the bound under the NXLog and EVTX goals.

``python benchmarks/same_bytes.py nxlog FILE`` or ``... evtx FILE...`` writes, for the process
events of the input, the very JSON lines ``correlog correlate --output json`` writes for them
(the tests in ``test_benchmarks.py`` prove it), and nothing else correlog does:

* NXLog: 4688 opens a process under (host, pid), 4689 writes its record; the records of
  processes that never exit (flushed at the end, superseded by a reuse of their pid) are not
  written at all.
* EVTX: 4688 only (the shared files hold no exits); a creation that reuses a waiting pid writes
  the waiting record, and the end writes the rest. A log clear (1102) is not looked at: its
  records come out later, under another ``reason``.

No checks, no time zones, no disorder, no cross-log stage, no counts, no rules; hosts and
times memoised, the record built as one dict and written by ``orjson.dumps``, output written
a batch at a time, the garbage collector off. Each of those is the cheapest form of its step
that we found; whatever correlog does must cost at least this much. So where this process
runs below half the speed of its floor (``benchmarks.end_to_end``), no pure-Python correlator
writing these bytes reaches half of it: the distance left is the interpreter's.

It imports nothing of correlog (an import would be counted in its time): the integrity levels
are restated here, and a test checks them against :data:`correlog.decoders.vista.INTEGRITY_LEVELS`.
"""

from __future__ import annotations

import gc
import sys
import zlib
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, cast

from orjson import dumps, loads

__all__ = ["INTEGRITY_LEVELS", "evtx", "main", "nxlog"]

#: Mandatory label SID -> integrity level: :data:`correlog.decoders.vista.INTEGRITY_LEVELS`.
INTEGRITY_LEVELS = {
    "S-1-16-0": "Untrusted",
    "S-1-16-4096": "Low",
    "S-1-16-8192": "Medium",
    "S-1-16-8448": "Medium",
    "S-1-16-12288": "High",
    "S-1-16-16384": "System",
    "S-1-16-20480": "System",
}
#: The 4688 fields correlog keeps under ``extra``, in its order.
_EXTRA = (
    "TokenElevationType",
    "MandatoryLabel",
    "SubjectUserName",
    "SubjectDomainName",
    "SubjectLogonId",
)
_BATCH = 1024

Write = Callable[[bytes], object]
#: (host as printed, its process-id prefix): the host's name lower-cased, CRC-32 of it.
Host = tuple[str, str]


def _host(name: str, hosts: dict[str, Host]) -> Host:
    found = hosts.get(name)
    if found is None:
        low = name.lower()
        seed = zlib.crc32(low.encode() + b"\x00")  # correlog.host_seed(low, None)
        found = hosts[name] = (low, f"{seed:08x}")
    return found


def _local_time(text: str, times: dict[str, tuple[int, str]]) -> tuple[int, str]:
    """NXLog's ``EventTime`` (``YYYY-MM-DD hh:mm:ss``, read as UTC): (ns, printed)."""
    found = times.get(text)
    if found is None:
        seconds = int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())
        found = times[text] = (seconds * 10**9, f"{text[:10]}T{text[11:]}.000000000Z")
    return found


def _writer(write: Write) -> tuple[list[bytes], Callable[[], None]]:
    """A list to append lines to and the function that writes them out (a batch at a time)."""
    out: list[bytes] = []

    def flush() -> None:
        out.append(b"")
        write(b"\n".join(out))
        out.clear()

    return out, flush


def nxlog(lines: Iterable[bytes], write: Write) -> None:
    """Write the record of every process NXLog's ``lines`` show created and exited."""
    hosts: dict[str, Host] = {}
    times: dict[str, tuple[int, str]] = {}
    open_processes: dict[tuple[str, int], tuple[dict[str, Any], str, str, str | None]] = {}
    out, flush = _writer(write)
    for line in lines:
        event = loads(line)
        host, prefix = _host(event["Hostname"], hosts)
        ns, printed = _local_time(event["EventTime"], times)
        if event["EventID"] == 4688:
            pid = int(event["NewProcessId"], 16)
            creator = open_processes.get((host, int(event["ProcessId"], 16)))
            open_processes[host, pid] = (
                event,
                printed,
                f"{prefix}-{pid:08x}-{ns:016x}-{event['RecordNumber']:016x}",
                None if creator is None else creator[2],
            )
        elif event["EventID"] == 4689:
            pid = int(event["ProcessId"], 16)
            start = open_processes.pop((host, pid), None)
            if start is None:
                continue
            created, begun, process_id, creator_process_id = start
            out.append(
                dumps(
                    {
                        "host": host,
                        "pid": pid,
                        "image": created["NewProcessName"],
                        "user": event["SubjectUserName"],
                        "domain": event["SubjectDomainName"],
                        "logon_id": event["SubjectLogonId"],
                        "owner_source": "exited",
                        "creator_pid": int(created["ProcessId"], 16),
                        "creator_image": created.get("ParentProcessName"),
                        "start": begun,
                        "end": printed,
                        "status": "complete",
                        "reason": "exited",
                        "events": [4688, 4689],
                        "record_numbers": [created["RecordNumber"], event["RecordNumber"]],
                        "layout": "vista+",
                        "channel": None,
                        "command_line": created.get("CommandLine"),
                        "exit_status": int(event["Status"], 16),
                        "integrity": INTEGRITY_LEVELS.get(created.get("MandatoryLabel", "")),
                        "extra": {key: created[key] for key in _EXTRA if key in created},
                        "process_id": process_id,
                        "creator_process_id": creator_process_id,
                        "audits_lost": False,
                    }
                )
            )
            if len(out) >= _BATCH:
                flush()
    flush()


#: A waiting EVTX creation: its EventData, host, pid, printed start, record number, process id,
#: creator's process id, creator's image.
_Created = tuple[dict[str, Any], str, int, str, int, str, str | None, str | None]


def _evtx_record(created: _Created, reason: str) -> bytes:
    data, host, pid, begun, number, process_id, creator_process_id, creator_image = created
    if data.get("TargetUserName", "-") == "-":
        owner = "Subject"
    else:
        owner = "Target"
    return dumps(
        {
            "host": host,
            "pid": pid,
            "image": data["NewProcessName"],
            "user": data[f"{owner}UserName"],
            "domain": data[f"{owner}DomainName"],
            "logon_id": data[f"{owner}LogonId"],
            "owner_source": "created",
            "creator_pid": int(data["ProcessId"], 16),
            "creator_image": creator_image,
            "start": begun,
            "end": None,
            "status": "partial",
            "reason": reason,
            "events": [4688],
            "record_numbers": [number],
            "layout": "vista+",
            "channel": None,
            "command_line": data.get("CommandLine"),
            "exit_status": None,
            "integrity": INTEGRITY_LEVELS.get(data.get("MandatoryLabel", "")),
            "extra": {key: data[key] for key in _EXTRA if key in data},
            "process_id": process_id,
            "creator_process_id": creator_process_id,
            "audits_lost": False,
        }
    )


def evtx(paths: Sequence[str], write: Write) -> None:
    """Write the record of every process the EVTX files show created (none exit in them)."""
    from evtx import PyEvtxParser

    hosts: dict[str, Host] = {}
    open_processes: dict[tuple[str, int], _Created] = {}
    out, flush = _writer(write)
    for path in paths:
        records = cast(Iterable[dict[str, Any]], PyEvtxParser(path).records_json())
        for rendered in records:
            event: dict[str, Any] = loads(rendered["data"])["Event"]
            system = event["System"]
            if system["EventID"] != 4688:
                continue
            host, prefix = _host(system["Computer"], hosts)
            text = system["TimeCreated"]["#attributes"]["SystemTime"]  # ...hh:mm:ss.ffffffZ
            moment = datetime.fromisoformat(text[:-1]).replace(tzinfo=UTC)
            ns = int(moment.timestamp()) * 10**9 + moment.microsecond * 1000
            data = event["EventData"]
            pid = int(data["NewProcessId"], 16)
            number = system["EventRecordID"]
            creator = open_processes.get((host, int(data["ProcessId"], 16)))
            waiting = open_processes.get((host, pid))
            if waiting is not None:
                out.append(_evtx_record(waiting, "superseded"))
            open_processes[host, pid] = (
                data,
                host,
                pid,
                f"{text[:-1]}000Z",
                number,
                f"{prefix}-{pid:08x}-{ns:016x}-{number:016x}",
                None if creator is None else creator[5],
                data.get("ParentProcessName")
                or (None if creator is None else creator[0]["NewProcessName"]),
            )
            if len(out) >= _BATCH:
                flush()
    out.extend(_evtx_record(created, "flushed") for created in open_processes.values())
    flush()


def main(argv: Sequence[str]) -> int:
    """``nxlog FILE`` or ``evtx FILE...``: the records on standard output."""
    gc.disable()
    kind, *paths = argv
    write = sys.stdout.buffer.write
    if kind == "nxlog":
        with open(paths[0], "rb") as lines:
            nxlog(lines, write)
    elif kind == "evtx":
        evtx(paths, write)
    else:
        raise SystemExit(f"usage: same_bytes.py nxlog FILE | evtx FILE...; not {kind!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
