"""Lines to events, batch by batch, bad lines counted; and a followed file through to a sink."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import correlog
from correlog import UsageError
from correlog.live import Checkpoint, alert_id
from correlog.live.decode import LineDecoder
from correlog.live.delivery import DeliveryWorker
from correlog.live.follow import Follower
from correlog.live.sinks import JsonLinesSink
from correlog.rules import AnonymousWeb, WebServerChild

from .helpers import sample_alerts, sample_lines


def test_batches_give_the_events_of_the_whole_input() -> None:
    lines = sample_lines()
    decoder = LineDecoder()
    events = [event for n in range(0, len(lines), 5) for event in decoder.decode(lines[n : n + 5])]
    assert events == list(correlog.read(lines, "snare"))
    assert decoder.format == "snare"
    assert decoder.counts["lines"] == len(lines)


def test_bad_lines_are_counted_not_raised() -> None:
    decoder = LineDecoder("snare")
    lines = [*sample_lines()[:2], "not a snare record at all"]
    assert len(decoder.decode(lines)) == 2
    assert decoder.to_json()["skipped"] == 1
    assert decoder.recent_errors


def test_a_batch_no_format_recognises_is_counted_whole() -> None:
    decoder = LineDecoder()
    assert decoder.decode(["hello", "world"]) == []
    assert decoder.to_json() == {
        "lines": 2,
        "events": 0,
        "ignored": 0,
        "skipped": 2,
        "skipped_by_reason": {"unrecognised format": 2},
    }
    assert decoder.format == "auto"


def test_an_unknown_format_is_a_usage_error_at_once() -> None:
    with pytest.raises(UsageError, match="unknown format"):
        LineDecoder("nope")


def test_a_followed_file_through_checkpoint_to_a_sink(tmp_path: Path) -> None:
    """The live loop a CLI runs: follow, decode, correlate, commit with the position, deliver.
    Restarting the follower from the committed position reads no line twice."""
    log = tmp_path / "security.log"
    lines = sample_lines()
    monitor = correlog.Monitor([AnonymousWeb(), WebServerChild()])
    decoder = LineDecoder()
    read_back: list[bytes] = []
    with Checkpoint(tmp_path / "state") as checkpoint:
        follower = Follower(log)
        for n in range(0, len(lines), 4):
            with log.open("a", encoding="utf-8") as file:
                file.write("".join(line + "\n" for line in lines[n : n + 4]))
            batch = follower.read()
            read_back += batch
            alerts = monitor.feed_many(decoder.decode(batch))
            checkpoint.commit(positions={"security": follower.position}, alerts=alerts)
            if n == 4:  # restart the follower from what was committed
                follower.close()
                follower = Follower(log, checkpoint.load().positions["security"])
        checkpoint.commit(alerts=monitor.close())
        DeliveryWorker(checkpoint, [JsonLinesSink(tmp_path / "alerts.jsonl")]).deliver_due()
    assert [line.decode() for line in read_back] == lines
    delivered = (tmp_path / "alerts.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["id"] for line in delivered] == [alert_id(a) for a in sample_alerts()]


_LINE_BYTES = st.sampled_from(
    [line.encode() for line in sample_lines()]
    + [
        sample_lines()[0].encode().replace(b"notepad", b"n\xf6tepad"),  # cp1252
        sample_lines()[0].replace("notepad", "nötepad").encode(),  # UTF-8
        sample_lines()[1].encode() + b"\r",
        b"\xef\xbb\xbf" + sample_lines()[2].encode(),
        b"garbage \xff\xfe",
        b"one item, two lines\n" + sample_lines()[3].encode(),
        b"",
    ]
)


@given(st.lists(_LINE_BYTES, min_size=1, max_size=12))
def test_a_batch_decoded_at_once_equals_line_by_line(lines: list[bytes]) -> None:
    """The one-call decode of a UTF-8 batch is the readers' own line-by-line decode."""
    decoder = LineDecoder("snare")
    reader = correlog.read(lines, "snare", errors="skip")
    assert decoder.decode(lines) == list(reader)
    assert decoder.counts["skipped"] == reader.stats.skipped
    streamed = LineDecoder("snare")
    assert list(streamed.stream(lines)) == list(correlog.read(lines, "snare", errors="skip"))
    assert streamed.counts == decoder.counts
