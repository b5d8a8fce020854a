"""The formats people read: table, CSV, ECS, JSON writers; the summary; output sorted by time in
bounded memory; times with a fixed number of decimals."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from importlib import resources
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

import correlog
from correlog import Alert, Correlator, Monitor, Record, UsageError
from correlog._records import LevelledAlert
from correlog.output import (
    CSV_COLUMNS,
    JsonWriter,
    SortedWriter,
    Summary,
    TimeSorter,
    color_wanted,
    ecs_document,
    fixed_time,
    json_lines,
    make_writer,
    row,
)
from correlog.rules import AnonymousWeb
from correlog.sinks import JsonLines

from .strategies import MAX_NS, MIN_NS, alerts, items


def sample_items() -> list[Any]:
    """What ``correlog watch --records --sample`` writes: records and two alerts."""
    path = str(resources.files("correlog") / "samples" / "iis-intrusion.snare")
    out: list[Any] = []
    monitor = Monitor([AnonymousWeb()], correlator=Correlator(), on_record=out.append)
    for event in correlog.read(path):
        out.extend(monitor.feed(event))
    out.extend(monitor.close())
    return out


def _a_record(things: list[Any]) -> Record:
    record: Record = next(x for x in things if isinstance(x, Record))
    return record


@attrs.frozen
class _Rule:
    title: str
    level: str
    id: str = "0b5b7a0e-0000-4000-8000-000000000000"


@attrs.frozen
class _Hit:
    """Shaped like a Sigma match: a rule with a title and a level, and the record."""

    rule: _Rule
    record: Record


def written(writer_name: str, things: list[Any], **kw: Any) -> str:
    out = io.StringIO()
    writer = make_writer(writer_name, out, **kw)
    for thing in things:
        writer(thing)
    writer.close()
    return out.getvalue()


def test_the_table_has_a_header_and_one_aligned_line_per_item() -> None:
    things = sample_items()
    lines = written("table", things).splitlines()
    assert lines[0].split() == ["time", "(UTC)", "host", "user", "image", "parent", "rule", "level"]
    assert len(lines) == 1 + len(things)
    starts = [lines[0].index(c) for c in ("host", "user", "image", "parent", "rule")]
    for line in lines[1:]:
        assert line[:4] == "2003"
        assert all(line[s - 1 : s] in (" ", "") for s in starts)
    alert_lines = [line for line in lines if "anonymous-web" in line]
    assert len(alert_lines) == 2
    assert "WEB2K\\IUSR_WEB2K" in alert_lines[0]
    assert "\x1b" not in "".join(lines)  # no colour unless asked


def test_the_table_cuts_paths_from_the_left_and_escapes_control_characters() -> None:
    record = next(x for x in sample_items() if isinstance(x, Record))
    long_image = "C:\\" + "very long folder\\" * 5 + "cmd.exe"
    line = written("table", [record._replace(image=long_image, user="evil\x1b[2J")]).splitlines()[1]
    assert "…" in line
    assert "cmd.exe" in line
    assert "\x1b" not in line
    assert "evil\\x1b[2J" in line


def test_colour_only_when_asked_and_never_with_no_color() -> None:
    things = sample_items()
    coloured = written("table", things, color=True)
    assert "\x1b[31m" in coloured  # alerts without a level show as high
    hit = _Hit(_Rule("Whoami", "medium"), _a_record(things))
    assert "\x1b[33m" in written("table", [hit], color=True)

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert color_wanted(Tty(), "auto", {}) is True
    assert color_wanted(Tty(), "auto", {"NO_COLOR": "1"}) is False
    assert color_wanted(Tty(), "auto", {"NO_COLOR": ""}) is True  # empty means unset
    assert color_wanted(io.StringIO(), "auto", {}) is False  # not a terminal
    assert color_wanted(io.StringIO(), "always", {"NO_COLOR": "1"}) is True
    assert color_wanted(Tty(), "never", {}) is False


def test_csv_has_one_header_and_the_key_fields_of_each_item() -> None:
    things = sample_items()
    text = written("csv", things)
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == list(CSV_COLUMNS)
    assert len(rows) == 1 + len(things)
    alerts = [dict(zip(CSV_COLUMNS, r, strict=True)) for r in rows if r[0] == "alert"]
    assert [a["rule"] for a in alerts] == ["anonymous-web", "anonymous-web"]
    assert alerts[0]["time"] == "2003-03-04T09:15:04.000000000Z"
    assert alerts[0]["user"] == "WEB2K\\IUSR_WEB2K"
    assert "{" not in text  # key fields, not the whole record as JSON
    assert written("csv", []).splitlines() == [",".join(CSV_COLUMNS)]


def test_csv_takes_newlines_quotes_and_lone_surrogates() -> None:
    record = next(x for x in sample_items() if isinstance(x, Record))
    odd = record._replace(command_line='a "b"\nc,d', user="\ud800")
    text = written("csv", [odd])
    text.encode("utf-8")
    got = dict(zip(CSV_COLUMNS, list(csv.reader(io.StringIO(text)))[1], strict=True))
    assert got["command_line"] == 'a "b"\nc,d'
    assert got["user"].endswith("\\ud800")


def test_ecs_documents_carry_the_ecs_fields() -> None:
    things = sample_items()
    docs = [json.loads(line) for line in written("ecs", things).splitlines()]
    alert = next(d for d in docs if d["event"]["kind"] == "alert")
    assert alert["@timestamp"] == "2003-03-04T09:15:04.000000000Z"
    assert alert["host"]["name"] == "web2k"
    assert alert["process"]["pid"] == 1452
    assert alert["process"]["name"] == "cmd.exe"
    assert alert["process"]["parent"]["pid"] == 1020
    assert alert["user"] == {"name": "IUSR_WEB2K", "domain": "WEB2K"}
    assert alert["rule"]["name"] == "anonymous-web"
    assert alert["event"]["category"] == ["process"]
    assert set(alert["event"]["type"]) == {"start", "end"}
    record = next(d for d in docs if d["event"]["kind"] == "event")
    assert record["process"]["entity_id"].count("-") == 3

    def no_nulls(value: Any) -> bool:
        if isinstance(value, dict):
            return all(v is not None and no_nulls(v) for v in value.values())
        return True

    assert all(no_nulls(d) for d in docs)
    hit = ecs_document(_Hit(_Rule("Whoami", "high"), _a_record(things)))
    assert hit["event"]["severity"] == 73
    assert hit["rule"]["id"].startswith("0b5b7a0e")


@given(items)
def test_every_format_writes_any_item_as_valid_utf8(item: Record | Alert) -> None:
    for name in ("table", "csv", "ecs", "json"):
        written(name, [item]).encode("utf-8")


def test_the_json_writer_writes_what_json_lines_writes_in_batches() -> None:
    things = sample_items()

    class Counting(io.StringIO):
        calls = 0

        def write(self, s: str) -> int:
            Counting.calls += 1
            return super().write(s)

    out = Counting()
    writer = JsonWriter(out, batch=5)
    for thing in things:
        writer(thing)
    writer.close()
    plain = io.StringIO()
    sink = JsonLines(plain)
    for thing in things:
        sink(thing)
    assert out.getvalue() == plain.getvalue() == json_lines(things)
    assert Counting.calls == -(-len(things) // 5)


def test_unknown_format_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="table"):
        make_writer("xml", io.StringIO())


def test_the_summary_counts_hits_by_rule_level_and_host_and_the_time_span() -> None:
    things = sample_items()
    summary = Summary()
    for thing in [*things, _Hit(_Rule("Whoami", "high"), _a_record(things))]:
        summary(thing)
    assert summary.kinds["alert"] == 2
    assert summary.kinds["hit"] == 1
    assert summary.by_rule == {("anonymous-web", ""): 2, ("Whoami", "high"): 1}
    assert summary.by_host["web2k"] >= 1
    text = summary.render()
    assert "2 alerts" in text
    assert "Whoami (high)" in text
    assert "from 2003-03-04T09:14:" in text
    known = [t for x in things if (t := row(x).time) is not None]
    assert summary.first == min(known)
    assert summary.last == max(known)


_levelled = st.builds(
    lambda alert, level, title: LevelledAlert(
        **attrs.asdict(alert, recurse=False), level=level, title=title
    ),
    alerts(),
    st.none() | st.sampled_from(["", "high", "low"]),
    st.none() | st.text(max_size=5),
)


@given(st.lists(items | _levelled, max_size=12))
def test_the_summary_counts_every_item_as_its_row_says(things: list[Any]) -> None:
    # Records and alerts take a shortcut (no Row built): the counts must be those of the rows.
    summary = Summary()
    for thing in things:
        summary(thing)
    rows = [row(thing) for thing in things]
    assert summary.kinds == Counter(r.kind for r in rows)
    assert summary.records_by_host == Counter(r.host for r in rows if r.kind == "record")
    assert summary.by_host == Counter(r.host for r in rows if r.kind != "record")
    assert summary.by_rule == Counter(
        (r.rule or "", r.level or "") for r in rows if r.kind != "record"
    )
    times = [r.time for r in rows if r.time is not None]
    assert (summary.first, summary.last) == ((min(times), max(times)) if times else (None, None))


@given(st.lists(st.lists(items, max_size=5), max_size=4))
def test_a_batch_counts_and_writes_as_its_items_one_by_one(batches: list[list[Any]]) -> None:
    # write_many and add_many (what correlate calls per batch) against one call per item.
    for name in ("json", "table", "csv", "ecs"):
        one_by_one, batched = io.StringIO(), io.StringIO()
        single, many = make_writer(name, one_by_one), make_writer(name, batched)
        for batch in batches:
            for item in batch:
                single(item)
            many.write_many(batch)
        single.close()
        many.close()
        assert batched.getvalue() == one_by_one.getvalue()
        assert many.written == single.written
    each, together = Summary(), Summary()
    for batch in batches:
        for item in batch:
            each.add(item)
        together.add_many(batch)
    assert vars(together) == vars(each)


@given(st.lists(st.none() | st.integers(-(10**20), 10**20), max_size=60), st.integers(1, 5))
def test_the_time_sorter_is_a_stable_sort_whatever_its_memory_limit(
    times: list[int | None], limit: int
) -> None:
    sorter = TimeSorter(limit, fan_in=2)
    for i, t in enumerate(times):
        sorter.add(t, f"{i}\n")

    def key(i: int) -> int:
        t = times[i]
        return -(2**200) if t is None else t

    want = sorted(range(len(times)), key=key)
    assert list(sorter) == [f"{i}\n" for i in want]
    if len(times) > limit:
        assert sorter.spilled >= 1


def test_sorted_output_is_a_timeline_in_any_format() -> None:
    arrival = list(reversed(sample_items()))
    # a stable sort by time: ties keep their arrival order
    timeline = sorted(arrival, key=lambda x: row(x).time or 0)
    assert timeline != arrival
    for name in ("table", "csv", "json", "ecs"):
        out = io.StringIO()
        writer = SortedWriter(make_writer(name, out), limit=2, fan_in=2)
        for thing in arrival:
            writer(thing)
        writer.close()
        assert writer.sorter.spilled >= 2
        assert out.getvalue() == written(name, timeline)


@given(st.integers(MIN_NS, MAX_NS), st.integers(MIN_NS, MAX_NS), st.integers(0, 9))
def test_fixed_times_have_one_width_and_sort_as_text(a: int, b: int, decimals: int) -> None:
    ta, tb = fixed_time(a, decimals), fixed_time(b, decimals)
    assert len(ta) == len(tb)
    cut = 10 ** (9 - decimals)
    assert (ta < tb) == (a // cut < b // cut)
    assert correlog.parse_iso(fixed_time(a)) == a
