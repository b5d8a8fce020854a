"""Draw ``docs/policy.md`` from :data:`correlog.MERGE_POLICY`, the one statement of the policy.

Run ``python docs/make_policy.py`` after changing the table; a test fails while the page is stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

from correlog import MERGE_POLICY

NAMES = {
    "created": "creation (592, 4688)",
    "token_assigned": "token (600, 4696)",
    "exited": "exit (593, 4689)",
}


def render() -> str:
    """The page's Markdown text."""
    rows = [
        "# The merge policy",
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
