"""Draw ``docs/policy.md`` from the policy tables the correlators follow.

:data:`correlog.LIFECYCLE` and :data:`correlog.LATE_LIFECYCLE` (what an event does to its
process's entry), :data:`correlog.CLOCK_RULES` and :data:`correlog.HOST_EVENT_RULES` (the
clocks, and host events), :data:`correlog.MERGE_POLICY` (which event's value becomes each
field). Run ``python docs/make_policy.py`` after changing a table; a test fails while the page
is stale.
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
