"""Draw ``docs/policy.md`` from the policy tables the correlators follow.

:data:`correlog.LIFECYCLE` and :data:`correlog.LATE_LIFECYCLE` (what an event does to its
process's entry), :data:`correlog.CLOCK_RULES` and :data:`correlog.HOST_EVENT_RULES` (the
clocks, and host events), :data:`correlog.MERGE_POLICY` (which event's value becomes each
field) and :data:`correlog._policy.CROSS_LOG_POLICY` (one record from a process's Sysmon and
Security records). Run ``python docs/make_policy.py`` after changing a table; a test fails
while the page is stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

from correlog import (
    CLOCK_RULES,
    HOST_EVENT_RULES,
    LATE_LIFECYCLE,
    LIFECYCLE,
    MERGE_POLICY,
    EntryState,
    EventKind,
    Transition,
)
from correlog._crosslog import TOLERANCE, WINDOW
from correlog._policy import CROSS_LOG_POLICY

NAMES = {
    "created": "creation (592, 4688)",
    "token_assigned": "token (600, 4696)",
    "exited": "exit (593, 4689)",
}


def _lifecycle(table: dict[tuple[EntryState, EventKind], Transition]) -> list[str]:
    rows = [
        "| entry | event | action | record reason | moves the clock | why |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for state in EntryState:
        for kind in EventKind:
            row = table[state, kind]
            reason = f"`{row.reason}`" if row.reason is not None else ""
            clock = "yes" if row.moves_clock else ""
            rows.append(
                f"| {state} | {NAMES[str(kind)]} | {row.action} | {reason} | {clock} | {row.why} |"
            )
    return rows


HOW = {
    "first": "the first that knows the first field gives them all",
    "each": "each field: the first that knows it",
    "union": "all, the first winning a name both have",
    "concat": "both, in this order",
    "any": "true if either is",
    "derived": "computed",
}


def _cross_log() -> list[str]:
    rows = [
        "## Across logs: one record per process seen by Sysmon and the Security log",
        "",
        "Each log is correlated on its own, so a process that Sysmon (1/5) and the Security",
        "log (4688/4689) both saw first makes two records. A stage after the correlator",
        "(`correlog._crosslog`, on by default in `correlate`, `hunt`, `watch` (live too:",
        "`watch --follow`, `listen`), `tree` and `report`; `--no-merge-logs` turns it off)",
        "makes them one when they are one process:",
        "the same host and pid, one record from each log, the same image (case-insensitive),",
        f"their starts within `--merge-tolerance` ({TOLERANCE:g} s) when both know a start, and",
        "their ends too when both know an end. Never two records of one log, never across",
        "hosts; every record goes out exactly once, alone or merged. A record waits for its",
        f"partner at most {WINDOW:g} s of its host's clock (the later of its two logs' latest",
        "record times), and at most `--max-open` records wait.",
        "",
        "Two logs of one host a constant offset apart (NXLog's local `EventTime` read as UTC, a",
        "wrong clock) merge nothing: the summary names the host, the offset, how many processes",
        "(same pid and image) lie at it, and the flag that fixes it: `--tz` for local times,",
        "else `--log-offset HOST/security=SECONDS`.",
        "",
        "An alert is never held back: the first alert of a rule on either log's view of a",
        "process is raised at once, with that log's record; the same rule's alert on the other",
        "log's view of the same process is not raised again (`watch`, `watch --follow`,",
        "`listen`: the live loop saves what the stage holds with the engine state, so a",
        "restart keeps it). The merged record that",
        "follows (`watch --records`) carries Sysmon's process id. In a streamed output a child",
        "record that was not merged may name its creator's Security process id; `tree` and",
        "`report` relink it to the merged record.",
        "",
        "| record fields | from | taking | why |",
        "| --- | --- | --- | --- |",
    ]
    for rule in CROSS_LOG_POLICY:
        fields = ", ".join(f"`{f}`" for f in rule.fields)
        sources = " > ".join(rule.sources)
        how = "the first that knows it" if rule.how == "first" and len(rule.fields) == 1 else ""
        rows.append(f"| {fields} | {sources} | {how or HOW[rule.how]} | {rule.why} |")
    return [*rows, ""]


def render() -> str:
    """The page's Markdown text."""
    rows = [
        "# The correlation policy",
        "",
        "What correlog does with each thin event, drawn from the tables in",
        "`correlog._policy` by `docs/make_policy.py`. The plain reference correlator",
        "(`correlog.testing.ReferenceCorrelator`) is written from these tables; the fast",
        "`Correlator` is tested equal to it, call for call.",
        "",
        "## The lifecycle",
        "",
        "Each process event is looked up by the state of its process's open entry (by host,",
        "log and pid). When the row moves the clock, the clock rules below apply first and the",
        "state is read again (expiry may have closed the entry).",
        "",
        *_lifecycle(LIFECYCLE),
        "",
        "Events the ordering window (`lateness` > 0) could not put in order never move a",
        "clock and never open an entry:",
        "",
        *_lifecycle(LATE_LIFECYCLE),
        "",
        "## Clocks",
        "",
        *(f"- **{rule.name}**: {rule.rule}" for rule in CLOCK_RULES),
        "",
        "## Host events",
        "",
        "| host event | closes | record reason | then |",
        "| --- | --- | --- | --- |",
        *(
            f"| {rule.kind} | {rule.closes} | "
            f"{'' if rule.reason is None else f'`{rule.reason}`'} | {rule.then} |"
            for rule in HOST_EVENT_RULES
        ),
        "",
        "After any of them but a log clear, the Security log's clock follows the event when it is",
        "later and within `max_skew`.",
        "",
        "## The merge policy",
        "",
        "Which thin event's value becomes each field of a fat record. For each row, the first",
        'source (left to right) whose event knows the value wins; a source "knows" a row when',
        "its value for the row's first field is not null. Drawn from `correlog.MERGE_POLICY`",
        "by `docs/make_policy.py`; the correlator's hot path is tested against it for every",
        "arrival order it can see.",
        "",
        "| record fields | from event attributes | sources, in precedence order | why |",
        "| --- | --- | --- | --- |",
    ]
    for rule in MERGE_POLICY:
        fields = ", ".join(f"`{f}`" for f in rule.fields)
        if rule.witness:
            fields += f" (+ `{rule.witness}`)"
        attributes = ", ".join(f"`{a}`" for a in rule.fields.values())
        sources = " > ".join(NAMES[str(k)] for k in rule.sources)
        if rule.union:
            sources = "all of " + sources.replace(" > ", ", ") + " (earlier wins a name)"
        why = rule.why
        if rule.agrees_with:
            why += f" (only when the event's `{rule.agrees_with}` agrees)"
        rows.append(f"| {fields} | {attributes} | {sources} | {why} |")
    rows += [
        "",
        "Every other field is the correlator's own: `host` and `pid` are the key, `status`",
        "is `complete` when both the creation and the exit were seen, `reason` says why the",
        "record was emitted, `provenance` lists every event folded in, and `first_seen` is the",
        "host clock when the entry opened. For a 592 (which names no creator image) the",
        "correlator takes the creator's image from the creator's own open entry when it has one.",
        "",
        *_cross_log(),
    ]
    return "\n".join(rows)


def main() -> int:
    """Write the page next to this script."""
    target = Path(__file__).with_name("policy.md")
    target.write_text(render(), encoding="utf-8")
    print(f"wrote {target.name}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
