"""The progress bar of a whole run on a terminal's stderr: files done of the total, events read,
their rate, the share of bytes read and the time left.

A thread redraws the line a few times a second from what the readers count and from the file
descriptors' offsets, so the line moves even while a reader finds nothing to yield, and the read
loop pays nothing for it. The bar is drawn only where :class:`~correlog.cli._inputs.Inputs`
asks for it: stderr is a terminal and ``--no-progress`` was not given.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, TextIO

__all__ = ["ProgressBar", "eta_text"]


def eta_text(seconds: float) -> str:
    """``0:07``, ``12:30``, ``1:02:03``: what is left, to the second."""
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _size(path: str) -> int:
    try:
        return os.path.getsize(path) if path != "-" else 0
    except OSError:
        return 0


class ProgressBar:
    """``3/12 files, 45,120 events, 12,300 events/s, 41% of 120.5 MB, ETA 0:07``.

    ``files`` are the run's inputs (``-`` counts as a file of unknown size); ``readers`` is the
    list the inputs append each :class:`~correlog.readers.EventReader` to, read for its event
    count. :meth:`opened` and :meth:`closed` say which file handles are being read.
    """

    INTERVAL = 0.25

    def __init__(
        self,
        files: Sequence[str],
        readers: Sequence[Any],
        err: TextIO,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._files = len(files)
        self._total = sum(_size(path) for path in files)
        self._readers = readers
        self._err = err
        self._clock = clock
        self._started = clock()
        self._done_files = 0
        self._done_bytes = 0
        self._open: dict[int, Any] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="correlog-progress", daemon=True)

    def __enter__(self) -> ProgressBar:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        self._err.write("\r\x1b[K")
        self._err.flush()

    def opened(self, handle: Any) -> None:
        """``handle`` (a binary file) is being read."""
        with self._lock:
            self._open[id(handle)] = handle

    def closed(self, handle: Any) -> None:
        """``handle`` was read to its end (or given up on): its whole size is done."""
        with self._lock:
            if self._open.pop(id(handle), None) is not None:
                self._done_files += 1
                with contextlib.suppress(OSError, ValueError):
                    self._done_bytes += os.fstat(handle.fileno()).st_size

    def _bytes_read(self) -> int:
        with self._lock:
            done = self._done_bytes
            for handle in self._open.values():
                with contextlib.suppress(OSError, ValueError):  # closed meanwhile
                    done += os.lseek(handle.fileno(), 0, os.SEEK_CUR)
        return done

    def line(self) -> str:
        """The progress text now."""
        elapsed = max(self._clock() - self._started, 1e-9)
        events = sum(reader.stats.events for reader in self._readers)
        parts = [
            f"{self._done_files}/{self._files} files",
            f"{events:,} events",
            f"{events / elapsed:,.0f} events/s",
        ]
        if self._total:
            done = min(self._bytes_read(), self._total)
            parts.append(f"{100 * done // self._total}% of {self._total / 1e6:,.1f} MB")
            if done:
                parts.append(f"ETA {eta_text(elapsed * (self._total - done) / done)}")
        return "correlog: " + ", ".join(parts)

    def _run(self) -> None:
        while not self._stop.wait(self.INTERVAL):
            try:
                text = self.line()
            except Exception:  # a progress line never stops the run
                return
            width = shutil.get_terminal_size((80, 24)).columns - 1
            self._err.write("\r" + text[:width] + "\x1b[K")
            self._err.flush()
