"""The formats reference shows one line of each transport: each must read as the same event."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from correlog import FORMATS, EventKind, ProcessEvent, read
from correlog.readers import BINARY_FORMATS

REFERENCE = Path(__file__).resolve().parents[1] / "docs" / "formats.md"
# A "### `name` — ..." heading, then prose, then the first fenced block: that format's example.
EXAMPLE = re.compile(r"^### `(\w+)`[^\n]*\n.*?^```\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def examples() -> dict[str, list[str]]:
    text = REFERENCE.read_text(encoding="utf-8")
    return {name: block.splitlines() for name, block in EXAMPLE.findall(text)}


#: Binary formats have no text example; their tests build files (``test_readers_vista.py``).
TEXT_FORMATS = [fmt for fmt in FORMATS if fmt not in BINARY_FORMATS]


def test_the_reference_has_an_example_of_every_text_format() -> None:
    assert sorted(examples()) == sorted(TEXT_FORMATS)


@pytest.mark.parametrize("fmt", TEXT_FORMATS)
def test_each_example_reads_as_php_started_by_w3wp(fmt: str) -> None:
    reader = read(examples()[fmt])
    assert reader.format == fmt
    found = list(reader)
    assert reader.stats.skipped == 0
    event = found[-1]
    assert isinstance(event, ProcessEvent)
    assert (event.kind, event.host, event.pid, event.image, event.creator_pid) == (
        EventKind.CREATED,
        "iis02",
        2208,
        "C:\\PHP\\php.exe",
        3120,
    )
