"""A web server's Sysmon and Security logs in one JSON lines file (correlog's own event lines).

The application pool's worker ``w3wp.exe`` starts processes; each is logged by Sysmon (1/5) and
by the Security log (4688/4689, its times cut to the second as NXLog gives them), the two logs
interleaved in time order. Every third child is ``cmd.exe``: the anonymous-web rule fires on
both logs' views of it, and the cross-log stage raises it once. Some children only Sysmon saw
(the Security log missed them), some never exit (``open_every``); the story spans more than the
merge window, so lone records leave on the host's clock.
"""

from __future__ import annotations

import json

from correlog import EventKind, Layout, ProcessEvent
from correlog.readers.jsonl import event_to_json

S = 1_000_000_000
T0 = 1_700_000_000 * S
HOST = "web1"
W3WP = "C:\\Windows\\System32\\inetsrv\\w3wp.exe"
IMAGES = ("C:\\Windows\\System32\\cmd.exe", "C:\\Windows\\System32\\whoami.exe")


def _event(
    kind: EventKind, pid: int, time: int, log: str | None, image: str, rn: int, clock: int
) -> ProcessEvent:
    sysmon = log == "sysmon"
    return ProcessEvent(
        kind=kind,
        host=HOST,
        pid=pid,
        time=time if sysmon else time - time % S + clock,
        event_id=(1 if sysmon else 4688) if kind is EventKind.CREATED else (5 if sysmon else 4689),
        record_number=rn,
        image=image,
        user="DefaultAppPool",
        domain="IIS APPPOOL",
        logon_id=0x1A2B,
        creator_pid=900 if kind is EventKind.CREATED else None,
        creator_image=W3WP if kind is EventKind.CREATED else None,
        layout=Layout.VISTA,
        channel=log,
    )


def two_log_lines(
    processes: int = 30, *, open_every: int = 0, security_clock: int = 0
) -> list[str]:
    """The file's lines (see the module docs). ``security_clock``: nanoseconds the Security
    log's clock is off (the lines stay in the order the events happened)."""
    events: list[tuple[int, int, ProcessEvent]] = []
    numbers = {None: 0, "sysmon": 0}
    for n in range(processes):
        pid = 1000 + 4 * n
        image = IMAGES[0] if n % 3 == 0 else IMAGES[1] if n % 3 == 1 else f"C:\\tools\\t{n}.exe"
        start = T0 + n * 40 * S + 123_456_789
        end = None if open_every and n % open_every == open_every - 1 else start + 7 * S
        logs = ("sysmon",) if n % 7 == 5 else ("sysmon", None)  # the Security log missed it
        for log in logs:
            for kind, time in ((EventKind.CREATED, start), (EventKind.EXITED, end)):
                if time is None:
                    continue
                numbers[log] += 1
                order = 0 if log == "sysmon" else 1
                events.append(
                    (time, order, _event(kind, pid, time, log, image, numbers[log], security_clock))
                )
    events.sort(key=lambda item: (item[0], item[1]))
    return [json.dumps(event_to_json(event)) for _, _, event in events]
