"""Hostile input never crashes, hangs or silently ends a reader: one test per reproducer class.

Each test rebuilds its reproducer from the description it was reported with (no input files,
except a prefix of a shared EVTX sample for the truncation case, skipped when absent). Hang
reproducers run under a deadline a hundred times what the fixed code needs, and far below what
the quadratic code took.
"""

from __future__ import annotations

import builtins
import gzip
import io
import json
import struct
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import correlog
from correlog import ParseError, read
from correlog.readers import _winevent, evtx
from correlog.readers._core import Limits
from correlog.readers.evt import EvtRecord, evt_bytes

from .test_readers import EVENTREPORTER, JSONL, MSG_592, SNARE, snare_line
from .test_readers_vista import NXLOG_4688, WINLOGBEAT_4688

DEEP_JSON = "[" * 100_000 + "]" * 100_000


def finishes(work: Callable[[], Any], seconds: float) -> Any:
    """``work()``'s result; fails the test when it has not finished within ``seconds``."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["result"] = work()
        except BaseException as exc:  # handed to the test below
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s"
    if "error" in box:
        raise box["error"]
    return box["result"]


def read_all(source: Any, fmt: str = "auto", **options: Any) -> tuple[list[Any], Any]:
    reader = read(source, fmt, errors="skip", **options)
    events = list(reader)
    assert reader.stats.lines == reader.stats.accounted()
    return events, reader.stats


# -- class 1: one bad line must not end the stream ----------------------------------------------


class TestOneBadLine:
    def test_deep_json_line_in_jsonl_is_one_skip(self) -> None:
        events, stats = read_all([JSONL[0], DEEP_JSON, JSONL[0]], "jsonl")
        assert len(events) == 2
        assert stats.skipped_by_reason == {"bad json": 1}
        assert stats.errors[0].offset == 2

    def test_deep_json_first_line_does_not_end_detection(self) -> None:
        events, stats = read_all([DEEP_JSON, JSONL[0]])
        assert len(events) == 1
        assert stats.skipped_by_reason == {"bad json": 1}

    def test_kind_of_the_wrong_type_during_detection(self) -> None:
        reader = read(['{"kind": []}', JSONL[0]], errors="skip")
        assert len(list(reader)) == 1
        assert reader.format == "jsonl"
        assert reader.stats.skipped_by_reason == {"bad json event": 1}

    @pytest.mark.parametrize("sample", [NXLOG_4688, WINLOGBEAT_4688], ids=["nxlog", "winlogbeat"])
    def test_deep_json_without_orjson(
        self, monkeypatch: pytest.MonkeyPatch, sample: dict[str, Any]
    ) -> None:
        real_import = builtins.__import__

        def only_stdlib(name: str, *args: Any, **kwargs: Any) -> Any:
            if name in ("orjson", "msgspec"):
                raise ImportError(name)
            return real_import(name, *args, **kwargs)

        monkeypatch.setattr(builtins, "__import__", only_stdlib)
        monkeypatch.setattr(_winevent, "_LOADS", [])
        line = json.dumps(sample)
        events, stats = read_all([line, DEEP_JSON, line])
        assert _winevent.json_loads()[0] is json.loads
        assert len(events) == 2
        assert stats.skipped_by_reason == {"bad json": 1}

    @pytest.mark.parametrize("year", [2**31, 2**63, 10**30])
    def test_snare_year_past_any_calendar(self, year: int) -> None:
        absurd = snare_line(592, MSG_592, when=f"Tue Mar 04 09:15:02 {year}")
        events, stats = read_all([SNARE[0], absurd, SNARE[2]], "snare")
        assert len(events) == 2
        assert stats.skipped_by_reason == {"bad time": 1}
        assert stats.errors[0].record == 812


# -- class 2: values a record cannot hold are refused when read ----------------------------------


class TestAbsurdValues:
    @pytest.mark.parametrize(
        "when", ["0001-01-01T00:30:00+01:00", "9999-12-31T23:59:59-00:01"], ids=["year 0", "10000"]
    )
    def test_jsonl_time_outside_years_1_to_9999_in_utc(self, when: str) -> None:
        bad = json.loads(JSONL[0]) | {"time": when}
        events, stats = read_all([json.dumps(bad), JSONL[0]], "jsonl")
        assert len(events) == 1
        assert stats.skipped_by_reason == {"bad json event": 1}
        assert "years 1-9999" in str(stats.errors[0])

    def test_local_time_that_the_zone_moves_before_year_1(self) -> None:
        early = snare_line(592, MSG_592, when="Mon Jan 01 00:30:00 0001")
        events, stats = read_all([early, SNARE[0]], "snare", tz="+01:00")
        assert len(events) == 1
        assert stats.skipped_by_reason == {"bad time": 1}
        for event in events:
            assert correlog.iso(event.time) is not None

    def test_hex_pid_of_thousands_of_digits(self) -> None:
        huge = MSG_592.replace("New Process ID: 2208", "New Process ID: 0x" + "f" * 5000)
        assert huge != MSG_592
        events, stats = read_all([snare_line(592, huge), SNARE[1]], "snare")
        assert len(events) == 1
        assert stats.skipped_by_reason == {"bad process id": 1}

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("NewProcessId", "0x" + "1" * 3000),
            ("NewProcessId", str(2**64)),
            ("TargetLogonId", "0x" + "a" * 17),
        ],
    )
    def test_vista_ids_past_2_to_the_64(self, field: str, value: str) -> None:
        bad = NXLOG_4688 | {field: value}
        events, stats = read_all([json.dumps(bad), json.dumps(NXLOG_4688)], "nxlog")
        assert len(events) == 1
        assert stats.skipped == 1
        assert stats.errors[0].record == NXLOG_4688["RecordNumber"]

    def test_record_number_past_2_to_the_64(self) -> None:
        bad = NXLOG_4688 | {"RecordNumber": "9" * 4000}
        events, stats = read_all([json.dumps(bad), json.dumps(NXLOG_4688)], "nxlog")
        assert len(events) == 1
        assert stats.skipped_by_reason == {"bad record number": 1}

    def test_jsonl_pid_past_2_to_the_64(self) -> None:
        bad = json.loads(JSONL[0]) | {"pid": 2**64}
        events, stats = read_all([json.dumps(bad), JSONL[0]], "jsonl")
        assert len(events) == 1
        assert stats.skipped_by_reason == {"bad json event": 1}


# -- class 3: hangs -------------------------------------------------------------------------------


class TestNoHang:
    @pytest.mark.parametrize(
        "line",
        [
            # A run of spaces where the log name is: the lazy scan retried \s* at each of them.
            "EvntSLog: [AUS] Tue Mar 04 09:15:02 2003: IIS02/Security" + " " * (1 << 20) + "x",
            # The mark repeated: a search retried the whole pattern at each one.
            "EvntSLog: [AUS] Tue Mar 04 09:15:02 2003: IIS02/Security (592)" * 16_000,
        ],
        ids=["spaces", "repeated mark"],
    )
    def test_eventreporter_megabyte_line(self, line: str) -> None:
        events, stats = finishes(lambda: read_all([line, EVENTREPORTER[0]], "eventreporter"), 10)
        assert len(events) == 1
        assert stats.skipped == 1

    def test_xml_declaration_after_whitespace(self) -> None:
        text = "\x0c" * (128 << 10) + "<Events></Events>\n"
        events, stats = finishes(lambda: read_all(io.BytesIO(text.encode()), "xml"), 10)
        assert events == []
        assert stats.skipped == 1  # a form feed is not XML whitespace: the document is bad

    def test_evt_free_space_full_of_false_record_marks(self) -> None:
        # 4 MB of free space where every 8 bytes claim a 1 MB record that is not there.
        decoy = (1 << 20).to_bytes(4, "little") + b"LfLe"
        record = EvtRecord(7, 1_046_769_302, 592, "IIS02", ["1", "a.exe", "2", "u", "d", "-"])
        data = evt_bytes([record], free_space=decoy * (1 << 19))
        events, stats = finishes(lambda: read_all(io.BytesIO(data), "evt"), 20)
        assert [event.record_number for event in events] == [7]
        assert stats.skipped == 0

    def test_evtx_parser_that_never_returns_is_stopped(self) -> None:
        pytest.importorskip("evtx")
        data = evtx.MAGIC + b"\x00" * 4088

        class Looping:
            def __init__(self, source: Any) -> None:
                del source

            def records_json(self) -> Iterator[dict[str, str]]:
                yield {"data": '{"Event": {"System": {"EventID": 4624}}}'}
                time.sleep(0.2)  # handing over the record before it
                yield {"data": '{"Event": {"System": {"EventID": 4625}}}'}
                while True:  # what the crate does with one byte changed: forever, deaf to ^C
                    pass

        units = evtx.evtx_records(io.BytesIO(data), Limits(evtx_timeout=1), parser=Looping)
        found = finishes(lambda: list(units), 30)
        *records, (ordinal, stuck) = found
        assert [type(record) for _, record in records] in ([dict], [dict, dict])
        assert ordinal == len(records) + 1
        assert isinstance(stuck, ParseError)
        assert stuck.category == "evtx parser stuck"  # type: ignore[attr-defined]
        assert f"after record {len(records)}" in str(stuck)


# -- class 6: decompression limits ----------------------------------------------------------------


def zipped(members: dict[str, bytes], *, method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


class TestDecompressionLimits:
    def test_gzip_of_zeros_is_bounded_by_line_and_expansion(self) -> None:
        # 10 GiB of zeros in 47 MB, scaled down: 200 MB of zeros, no newline, after a good line.
        stream = io.BytesIO()
        with gzip.GzipFile(fileobj=stream, mode="wb", compresslevel=1) as packed:
            packed.write(("\n".join(SNARE) + "\n").encode())
            zeros = b"\x00" * (1 << 20)
            for _ in range(200):
                packed.write(zeros)
        stream.seek(0)
        events, stats = read_all(stream, max_line_bytes=1 << 16, max_expansion=2)
        assert len(events) == 3
        assert set(stats.skipped_by_reason) == {"expansion limit"}

    def test_a_long_line_is_skipped_without_being_held(self) -> None:
        long_line = b"x" * (3 << 20)
        data = b"\n".join([SNARE[0].encode(), long_line, SNARE[1].encode()]) + b"\n"
        events, stats = read_all(io.BytesIO(data), "snare")
        assert len(events) == 2
        assert stats.skipped_by_reason == {"line too long": 1}
        assert stats.errors[0].offset == 2

    def test_spool_limit_for_a_binary_format_in_an_archive(self) -> None:
        records = [EvtRecord(n, 1_046_769_302, 512, "IIS02") for n in range(1, 200)]
        data = gzip.compress(evt_bytes(records))
        with pytest.raises(ParseError, match="spool limit"):
            read(io.BytesIO(data), errors="skip", max_spool_bytes=1000)

    def test_zip_with_more_members_than_allowed(self) -> None:
        data = zipped({f"m{n}.jsonl": JSONL[0].encode() for n in range(50)})
        with pytest.raises(ParseError, match="zip member limit"):
            read(io.BytesIO(data), errors="skip", max_members=49)
        events, _ = read_all(io.BytesIO(data), max_members=50)
        assert len(events) == 50

    def test_a_thousand_nested_zips(self) -> None:
        data = JSONL[0].encode()
        for depth in range(1000):
            data = zipped({f"level{depth}.zip": data}, method=zipfile.ZIP_STORED)
        events, stats = read_all(io.BytesIO(data))
        assert events == []
        assert stats.skipped_by_reason == {"nesting limit": 1}

    def test_nesting_within_the_limit_is_read(self) -> None:
        data = gzip.compress(zipped({"a.jsonl": gzip.compress(JSONL[0].encode())}))
        events, _ = read_all(io.BytesIO(data), max_nesting=3)
        assert len(events) == 1
        with pytest.raises(ParseError, match="nesting limit"):
            read(io.BytesIO(data), max_nesting=2)

    def test_unsupported_compression_method_is_a_bad_member(self) -> None:
        data = bytearray(zipped({"a.jsonl": JSONL[0].encode(), "b.jsonl": JSONL[0].encode()}))
        # Member a's method (local header and central directory) becomes 99, which zipfile
        # cannot decompress (NotImplementedError).
        struct.pack_into("<H", data, 8, 99)
        central = data.find(b"PK\x01\x02")
        struct.pack_into("<H", data, central + 10, 99)
        events, stats = read_all(io.BytesIO(bytes(data)))
        assert len(events) == 1
        assert stats.skipped_by_reason == {"bad zip member": 1}

    def test_name_that_is_not_utf8_is_a_bad_zip(self) -> None:
        data = bytearray(zipped({"a.jsonl": JSONL[0].encode()}))
        central = data.find(b"PK\x01\x02")
        data[central + 9] |= 0x08  # bit 11 of the flags: the name is UTF-8 ...
        data[central + 46] = 0xFF  # ... and it is not (zipfile: UnicodeDecodeError)
        with pytest.raises(ParseError, match="bad zip: UnicodeDecodeError"):
            read(io.BytesIO(bytes(data)))

    def test_member_failing_its_crc_ends_that_member_with_a_skip(self) -> None:
        text = ((JSONL[0] + "\n") * 3).encode()
        data = bytearray(zipped({"a.jsonl": text}, method=zipfile.ZIP_STORED))
        data[data.find(b"iis02") + 1] ^= 1  # the stored bytes no longer match the CRC
        events, stats = read_all(io.BytesIO(bytes(data)))
        assert stats.skipped_by_reason == {"broken stream": 1}
        assert len(events) <= 3

    def test_truncated_gzip_keeps_what_came_before(self) -> None:
        data = gzip.compress(("\n".join(SNARE * 50) + "\n").encode())
        events, stats = read_all(io.BytesIO(data[: len(data) // 2]))
        assert 0 < len(events) < 150
        assert stats.skipped_by_reason == {"broken stream": 1}

    @pytest.mark.parametrize(
        "keyword",
        ["max_line_bytes", "max_expansion", "max_spool_bytes", "max_members", "evtx_timeout"],
    )
    def test_limits_must_be_positive(self, keyword: str) -> None:
        options: dict[str, Any] = {keyword: 0}
        with pytest.raises(correlog.UsageError, match=keyword):
            read(JSONL, **options)


# -- class 7: EVTX damage is reported, never silent -----------------------------------------------


DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture
def data() -> Path:
    if not DATA.is_dir():
        pytest.skip("the shared data folder is not beside this checkout")
    return DATA


def _evtx_sample(data: Path) -> bytes:
    path = data / "evtx" / "hayabusa_mitre_T1134_runas_4688_4648_4624.evtx"
    if not path.exists():
        pytest.skip("EVTX sample not available")
    return path.read_bytes()


class TestEvtxDamage:
    def test_sixty_four_bad_chunks_in_a_row_are_reported(self, data: Path) -> None:
        pytest.importorskip("evtx")
        sample = _evtx_sample(data)
        header, chunk = bytearray(sample[:4096]), sample[4096 : 4096 + 65536]
        bad = bytearray(chunk)
        bad[600:700] = b"\xff" * 100
        struct.pack_into("<QQ", header, 8, 0, 70)
        struct.pack_into("<H", header, 42, 71)
        damaged = bytes(header) + bytes(bad) * 70 + chunk
        events, stats = read_all(io.BytesIO(damaged))
        assert stats.skipped_by_reason == {"bad evtx chunk": 64, "evtx reading stopped": 1}
        assert events == []

    def test_truncated_file_says_what_it_lost(self, data: Path) -> None:
        pytest.importorskip("evtx")
        path = data / "evtx" / "hayabusa_mitre_T1027_Tchopper_4688.evtx"
        if not path.exists():
            pytest.skip("EVTX sample not available")
        events, stats = read_all(io.BytesIO(path.read_bytes()[:300_000]))
        assert 0 < len(events) < 735
        assert stats.skipped_by_reason == {"truncated evtx": 1}
        assert "chunks 5-9" in str(stats.errors[0])

    def test_a_whole_file_reports_nothing(self, data: Path) -> None:
        pytest.importorskip("evtx")
        _, stats = read_all(io.BytesIO(_evtx_sample(data)))
        assert stats.skipped == 0


def test_deadline_helper_fails_a_hang() -> None:
    with pytest.raises(AssertionError, match="still running"):
        finishes(lambda: time.sleep(2), 0.1)
