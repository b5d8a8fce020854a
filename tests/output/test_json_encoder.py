"""The compiled JSON encoder writes the bytes of the readable reference, for every record and
alert: ``json.dumps(item.to_json(), ensure_ascii=False, separators=(",", ":"))``.

The one difference is documented (docs/output.md): a lone surrogate, which the reference leaves
in its text and a UTF-8 stream then refuses, is written as its JSON escape.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import correlog
from correlog import Alert, Correlator, Record
from correlog.output import Encoder, clear_caches, json_lines, json_text
from correlog.output._encoder import _compile
from correlog.sinks import dumps

from .strategies import items, records

_SURROGATE = re.compile("[\ud800-\udfff]")


def reference(item: Record | Alert) -> str:
    """The readable path, lone surrogates escaped as ``ensure_ascii`` escapes them."""
    text = json.dumps(item.to_json(), ensure_ascii=False, separators=(",", ":"))
    return _SURROGATE.sub(lambda m: f"\\u{ord(m[0]):04x}", text)


STDLIB = Encoder(use_orjson=False)


@given(items)
def test_the_encoder_writes_the_bytes_of_the_reference(item: Record | Alert) -> None:
    want = reference(item)
    assert json_text(item) == want
    assert STDLIB.text(item) == want
    # a second time, from the memos
    assert json_text(item) == want


TOTAL = {cls: _compile(cls, "total", dict(STDLIB._names)) for cls in (Record, Alert)}


@given(items)
def test_the_total_path_also_writes_the_bytes_of_the_reference(item: Record | Alert) -> None:
    # What the encoder falls back to when its fast path raises, compared on its own.
    assert TOTAL[type(item)](item) == reference(item)


@given(st.lists(items, max_size=4))
def test_json_lines_are_the_reference_lines_in_order(batch: list[Any]) -> None:
    assert json_lines(batch) == "".join(reference(x) + "\n" for x in batch)


@given(st.lists(records(), min_size=1, max_size=6))
def test_a_batch_of_records_is_written_as_each_record_alone(batch: list[Record]) -> None:
    # A batch of records only takes the fast function with no call per record; a record the
    # fast function refuses (no record number, an int past 64 bits) sends the batch item by item.
    want = "".join(reference(r) + "\n" for r in batch)
    assert STDLIB.lines(batch) == want
    assert json_lines(batch) == want
    assert STDLIB.lines(iter(batch)) == want


@given(items)
def test_output_is_valid_utf8_and_reads_back_as_the_reference_dict(item: Record | Alert) -> None:
    text = json_text(item)
    text.encode("utf-8")  # no lone surrogate left
    assert json.loads(text) == json.loads(reference(item))


def test_orjson_and_the_stdlib_write_the_same_bytes() -> None:
    pytest.importorskip("orjson")
    fast = Encoder(use_orjson=True)
    assert fast.orjson
    extra = {'a"b': "c\\d", "é": "\x00\x1f\x7f\u2028😀", "": ""}

    @given(items)
    def same(item: Record | Alert) -> None:
        assert fast.text(item) == STDLIB.text(item)

    same()
    record = _sample_records()[0]._replace(extra=extra)
    assert fast.text(record) == STDLIB.text(record) == reference(record)


def _sample_records() -> list[Record]:

    from importlib import resources

    sample = resources.files("correlog") / "samples" / "iis-intrusion.snare"
    return list(Correlator().process(correlog.read(str(sample))))


def test_the_bundled_sample_is_written_as_dumps_wrote_it() -> None:
    records = _sample_records()
    assert records
    for record in records:
        assert json_text(record) == dumps(record) == reference(record)


def test_memos_are_bounded_and_clearing_them_changes_nothing() -> None:
    records = _sample_records()
    before = [json_text(r) for r in records]
    clear_caches()
    assert [json_text(r) for r in records] == before
