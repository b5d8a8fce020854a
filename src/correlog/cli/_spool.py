"""A spool for the events of inputs read ahead of the merge, so that they hold no file.

When many inputs are merged by event time, an input whose turn has not come would otherwise
stay open (an EVTX file with its parser child) until its last event is merged. :class:`Spool`
reads such an input to its end at once and hands its events back later, in the same order,
ending the same way (an error it raised is raised again at the same place).

Events are kept in memory up to a bound shared by every input of the spool (``memory_events``);
past it, batches of them go to one unlinked temporary file, written and read back only by this
process, as plain data (the checkpoint's event form, :func:`correlog._state.event_to_data`, in
JSON): nothing in it could run code, even were the file swapped under the process.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import IO, Any, Final

from .._events import Event
from .._state import event_from_data, event_to_data

__all__ = ["MEMORY_EVENTS", "Spool"]

#: Events a spool keeps in memory (about 800 bytes each, 25 MiB) before it writes to disk
#: (about 200 bytes an event there).
MEMORY_EVENTS: Final = 1 << 15
_BATCH: Final = 4096


class Spool:
    """Read inputs ahead, keep their events (memory first, then one temporary file), replay
    them. :meth:`close` frees the temporary file."""

    def __init__(self, memory_events: int | None = None) -> None:
        self._room = MEMORY_EVENTS if memory_events is None else memory_events
        self._file: IO[bytes] | None = None
        self._end = 0

    def replay(self, events: Iterable[Event]) -> Iterator[Event]:
        """Read ``events`` to their end now; return an iterator that hands them back.

        An exception (not a KeyboardInterrupt) that stops ``events`` is raised by the returned
        iterator after the events that came before it.
        """
        batches: list[list[Event] | tuple[int, int]] = []
        failure: Exception | None = None
        batch: list[Event] = []
        try:
            for event in events:
                batch.append(event)
                if len(batch) == _BATCH:
                    batches.append(self._keep(batch))
                    batch = []
        except Exception as exc:  # raised again at its place (see the docs)
            failure = exc
        if batch:
            batches.append(self._keep(batch))
        return self._replayed(batches, failure)

    def _keep(self, batch: list[Event]) -> list[Event] | tuple[int, int]:
        """``batch`` itself while memory allows, else where it was written: (offset, size)."""
        if len(batch) <= self._room:
            self._room -= len(batch)
            return batch
        if self._file is None:
            import tempfile  # only when memory runs out: most runs never spool to a file

            self._file = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close())
        data = json.dumps([event_to_data(event) for event in batch]).encode()
        self._file.seek(self._end)
        self._file.write(data)
        self._file.flush()
        at, self._end = self._end, self._end + len(data)
        return at, len(data)

    def _replayed(
        self, batches: list[list[Event] | tuple[int, int]], failure: Exception | None
    ) -> Iterator[Event]:
        for index, kept in enumerate(batches):
            batches[index] = []  # free it as it goes
            if isinstance(kept, list):
                self._room += len(kept)
                yield from kept
            else:
                yield from self._read(*kept)
        if failure is not None:
            raise failure

    def _read(self, at: int, size: int) -> list[Any]:
        assert self._file is not None
        self._file.seek(at)
        return [event_from_data(data) for data in json.loads(self._file.read(size))]

    def close(self) -> None:
        """Close the temporary file (the events still to replay are gone with it)."""
        if self._file is not None:
            self._file.close()
            self._file = None
