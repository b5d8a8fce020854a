"""Output sorted by time in bounded memory: an external merge sort of rendered text.

What is sorted is each item's rendered text with its time (:attr:`Row.time`) and its arrival
number, so ties keep arrival order and any format can be sorted. Up to ``limit`` entries are held
in memory; past that, they are sorted and spilled as a run to a temporary file (JSON lines, so
any text goes through), and the end merges the runs with :func:`heapq.merge`, one line of each
in memory. When more than ``fan_in`` runs exist they are first merged into one, so the number of
open files stays bounded too. Temporary files are deleted when iteration ends or on
:meth:`TimeSorter.close`.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Iterator, Sequence
from typing import IO, Any

from ._rows import row
from ._writers import TextWriter

__all__ = ["SortedWriter", "TimeSorter", "sort_time"]

#: Items without a time come first.
_NO_TIME = -(2**200)

Entry = tuple[int, int, str]


def sort_time(item: Any) -> int | None:
    """The time output is sorted by: an alert's or hit's time, a record's start (its first
    event's time when the start was not seen)."""
    return row(item).time


def _read_run(f: IO[str]) -> Iterator[Entry]:
    f.seek(0)
    for line in f:
        time, seq, text = json.loads(line)
        yield time, seq, text


class TimeSorter:
    """Collects ``(time, text)`` and gives the texts back in time order, in bounded memory."""

    def __init__(self, limit: int = 100_000, *, fan_in: int = 64, folder: str | None = None):
        if limit < 1 or fan_in < 2:
            raise ValueError("limit must be >= 1 and fan_in >= 2")
        #: Entries held in memory before a run is spilled to disk.
        self.limit = limit
        self.fan_in = fan_in
        self.folder = folder
        #: Runs spilled so far (a merge of runs counts as one).
        self.spilled = 0
        self._buffer: list[Entry] = []
        self._runs: list[IO[str]] = []
        self._seq = 0

    def add(self, time: int | None, text: str) -> None:
        """Add one text with its time (``None`` sorts first)."""
        self._buffer.append((_NO_TIME if time is None else time, self._seq, text))
        self._seq += 1
        if len(self._buffer) >= self.limit:
            self._spill(sorted(self._buffer))
            self._buffer.clear()

    def _spill(self, entries: Iterator[Entry] | list[Entry]) -> None:
        import tempfile  # only when a run spills: it costs start-up time otherwise

        # Kept open until the merge: closed by close() (or by the merge of runs below).
        f = tempfile.TemporaryFile("w+", encoding="utf-8", dir=self.folder)  # noqa: SIM115
        # ensure_ascii: any text, lone surrogates included, is safe on disk
        f.writelines(json.dumps(e) + "\n" for e in entries)
        self._runs.append(f)
        self.spilled += 1
        if len(self._runs) > self.fan_in:
            runs, self._runs = self._runs, []
            self._spill(heapq.merge(*(_read_run(r) for r in runs)))
            for r in runs:
                r.close()

    def __iter__(self) -> Iterator[str]:
        """The texts in time order (then arrival order); the sorter is emptied."""
        entries = sorted(self._buffer)
        self._buffer = []
        try:
            for _, _, text in heapq.merge(entries, *(_read_run(r) for r in self._runs)):
                yield text
        finally:
            self.close()

    def close(self) -> None:
        """Delete the spilled runs and forget everything."""
        for r in self._runs:
            r.close()
        self._runs.clear()
        self._buffer.clear()


class SortedWriter:
    """A writer whose output comes sorted by time when it is closed (``--sort time``).

    Items are rendered by ``writer`` as they come and held by a :class:`TimeSorter`; on
    :meth:`close` the texts are written in order, in batches, after the writer's header.
    """

    def __init__(self, writer: TextWriter, limit: int = 100_000, **sorter: Any) -> None:
        self.writer = writer
        self.sorter = TimeSorter(limit, **sorter)
        self.written = 0

    def __call__(self, item: Any, /) -> None:
        self.sorter.add(sort_time(item), self.writer.render(item))
        self.written += 1

    def write_many(self, items: Sequence[Any]) -> None:
        """Hold each of ``items`` (see :meth:`__call__`)."""
        for item in items:
            self(item)

    def flush(self) -> None:
        """Nothing can be written before the end; kept so the CLI can treat writers alike."""

    def close(self) -> None:
        """Write everything, sorted, and flush."""
        batch: list[str] = []
        for text in self.sorter:
            batch.append(text)
            if len(batch) >= self.writer.batch:
                self.writer.write_text("".join(batch))
                batch.clear()
        self.writer.write_text("".join(batch))
        self.writer.close()
