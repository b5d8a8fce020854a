"""Follow a growing log file like ``tail -F``: through rotation, copy-truncate and truncation.

Theory of operation. A :class:`Follower` reads what was appended to one path since its last
call and returns the complete lines (a last line without its newline waits for it). It knows a
file by its device, inode and a fingerprint (SHA-256) of its first bytes, never by its name,
because rotation moves names around:

- rename rotation (``app.log`` becomes ``app.log.1``, a new ``app.log`` appears): the follower
  still holds the old file open, reads it to its end, then opens the new one from its start;
- copy-truncate (the file is copied away, then cut to zero length) and plain truncation: the
  same inode shrinks, or its first bytes change; reading starts again at offset 0;
- a file that is gone (not yet re-created after a rotation): the follower keeps what it holds
  open and waits for the path to come back.

:attr:`Follower.position` is plain JSON data (path, device, inode, fingerprint, offset of the
first byte after the last line returned). Saved with the checkpoint in the same transaction as
the state those lines produced, it lets a new follower resume exactly there: at the saved offset
when the path still holds the same file; or first the rest of the saved file, found by device,
inode and fingerprint among its rotated siblings (``app.log.1``), then the path from its start.
When the saved file is nowhere to be found the follower reads the path from its start and counts
a gap (:attr:`FollowStats.gaps`): what the old file held after the saved offset was not read.

What copy-truncate itself loses, no reader can save: the lines appended between the copy and the
truncation are in neither file when the follower looks. Prefer rename rotation.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator, Mapping
from typing import Any, BinaryIO, Final

import attrs

from .._errors import UsageError

__all__ = ["FollowStats", "Follower", "follow"]

#: How many first bytes identify a file's content.
FINGERPRINT_BYTES: Final = 1024
#: How much one :meth:`Follower.read` takes at most (the rest waits for the next call).
_READ_BUDGET: Final = 8 << 20
_CHUNK: Final = 1 << 20
#: A line longer than this is dropped and counted (a binary file followed by mistake).
MAX_LINE: Final = 1 << 20


@attrs.define
class FollowStats:
    """What a follower met."""

    #: Complete lines returned.
    lines: int = 0
    #: Bytes those lines took, newlines included.
    bytes: int = 0
    #: Rename rotations followed (the old file read to its end, the new one opened).
    rotations: int = 0
    #: Truncations and copy-truncates met (reading restarted at offset 0).
    truncations: int = 0
    #: Resumes that found the saved file gone: its unread end was lost.
    gaps: int = 0
    #: Lines longer than :data:`MAX_LINE`, dropped.
    overlong: int = 0

    def to_json(self) -> dict[str, int]:
        """The counters as a JSON-ready dict."""
        return attrs.asdict(self)


@attrs.define
class _Open:
    """One open file and how far it was read."""

    handle: BinaryIO
    device: int
    inode: int
    #: Offset just past the last complete line returned.
    offset: int
    fingerprint: str
    fingerprint_length: int
    #: Bytes read past ``offset``: the start of a line whose newline has not come yet.
    partial: bytes = b""
    #: True while dropping the rest of an overlong line.
    skipping: bool = False

    def position(self, path: str) -> dict[str, Any]:
        return {
            "path": path,
            "device": self.device,
            "inode": self.inode,
            "fingerprint": self.fingerprint,
            "fingerprint_length": self.fingerprint_length,
            "offset": self.offset,
        }


def _fingerprint(handle: BinaryIO, length: int) -> tuple[str, int]:
    """SHA-256 (hex) of the first ``length`` bytes, and how many there were."""
    head = os.pread(handle.fileno(), length, 0)
    return hashlib.sha256(head).hexdigest(), len(head)


class Follower:
    """Follow ``path``; ``position`` is one saved from :attr:`position` to resume from.

    Call :meth:`read` whenever convenient (:func:`follow` polls it); save :attr:`position` with
    the state the returned lines produced. Lines are ``bytes`` without their line end (``\\n``
    or ``\\r\\n``), ready for :func:`correlog.read`.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        position: Mapping[str, Any] | None = None,
        *,
        fingerprint_bytes: int = FINGERPRINT_BYTES,
    ) -> None:
        self.path = os.fspath(path)
        self._fingerprint_bytes = fingerprint_bytes
        self.stats = FollowStats()
        #: The file being read (None until the path exists).
        self._current: _Open | None = None
        self._saved = None if position is None else _checked_position(position)

    @property
    def position(self) -> dict[str, Any] | None:
        """Where reading stands, as plain JSON data; None before the file was first opened."""
        if self._current is None:
            return None if self._saved is None else dict(self._saved)
        return self._current.position(self.path)

    def read(self, budget: int = _READ_BUDGET) -> list[bytes]:
        """The complete lines appended since the last call (up to about ``budget`` bytes)."""
        lines: list[bytes] = []
        if self._current is None:
            self._current = self._resume()
            if self._current is None:
                return lines
        while True:
            if self._truncated(self._current):
                self.stats.truncations += 1
                self._current.handle.close()
                self._current = self._open(self.path)
                if self._current is None:
                    return lines
            if self._read_available(self._current, lines, budget):
                return lines  # the budget is spent: the rest waits for the next call
            replaced = self._look_at_path(self._current, lines)
            if replaced is None:
                return lines
            self._current = replaced

    def close(self) -> None:
        """Close the file; :attr:`position` stays valid."""
        if self._current is not None:
            self._saved = self._current.position(self.path)
            self._current.handle.close()
            self._current = None

    def __enter__(self) -> Follower:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- opening and resuming ----------------------------------------------------------------

    def _open(self, path: str) -> _Open | None:
        try:
            handle = open(path, "rb")  # noqa: SIM115 - held open across calls on purpose
        except FileNotFoundError:
            return None
        info = os.fstat(handle.fileno())
        fingerprint, length = _fingerprint(handle, self._fingerprint_bytes)
        return _Open(handle, info.st_dev, info.st_ino, 0, fingerprint, length)

    def _matches(self, opened: _Open, saved: Mapping[str, Any]) -> bool:
        if (opened.device, opened.inode) != (saved["device"], saved["inode"]):
            return False
        fingerprint, length = _fingerprint(opened.handle, saved["fingerprint_length"])
        size = os.fstat(opened.handle.fileno()).st_size
        return bool(
            length == saved["fingerprint_length"]
            and fingerprint == saved["fingerprint"]
            and size >= saved["offset"]
        )

    def _resume(self) -> _Open | None:
        saved, self._saved = self._saved, None
        opened = self._open(self.path)
        if saved is None:
            return opened
        if opened is not None and self._matches(opened, saved):
            opened.offset = saved["offset"]
            opened.handle.seek(opened.offset)
            return opened
        rotated = self._find_rotated(saved)
        if rotated is not None:
            if opened is not None:
                opened.handle.close()
            # Read the rest of the saved file first; the rotation check then moves to the path.
            rotated.offset = saved["offset"]
            rotated.handle.seek(rotated.offset)
            return rotated
        if opened is None:
            self._saved = saved  # nothing there yet: try again on the next call
            return None
        same_inode = (opened.device, opened.inode) == (saved["device"], saved["inode"])
        if same_inode:
            self.stats.truncations += 1
        else:
            self.stats.gaps += 1
        return opened

    def _find_rotated(self, saved: Mapping[str, Any]) -> _Open | None:
        folder = os.path.dirname(self.path) or "."
        base = os.path.basename(self.path)
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            return None
        for name in names:
            if name == base or not name.startswith(base):
                continue
            candidate = os.path.join(folder, name)
            try:
                info = os.stat(candidate)
            except OSError:
                continue
            if (info.st_dev, info.st_ino) != (saved["device"], saved["inode"]):
                continue
            opened = self._open(candidate)
            if opened is not None and self._matches(opened, saved):
                return opened
            if opened is not None:
                opened.handle.close()
        return None

    # -- reading -----------------------------------------------------------------------------

    def _read_available(self, current: _Open, lines: list[bytes], budget: int) -> bool:
        """Read to the file's end or until ``budget`` bytes; True when the budget ran out."""
        taken = 0
        while taken < budget:
            chunk = current.handle.read(min(_CHUNK, budget - taken))
            if not chunk:
                return False
            taken += len(chunk)
            self._split(current, chunk, lines)
        return True

    def _split(self, current: _Open, chunk: bytes, lines: list[bytes]) -> None:
        data = current.partial + chunk if current.partial else chunk
        current.partial = b""
        if current.skipping:
            cut = data.find(b"\n")
            if cut < 0:
                current.offset += len(data)
                return
            current.offset += cut + 1
            data = data[cut + 1 :]
            current.skipping = False
        found = data.split(b"\n")
        rest = found.pop()  # after the last newline: the start of a line still coming
        if found:
            consumed = len(data) - len(rest)
            if len(found[0]) > MAX_LINE:  # a kept partial line and this chunk's start
                del found[0]
                self.stats.overlong += 1
            if b"\r" in data:
                found = [line[:-1] if line.endswith(b"\r") else line for line in found]
            lines.extend(found)
            self.stats.lines += len(found)
            self.stats.bytes += consumed
            current.offset += consumed
            data = rest
        if len(data) > MAX_LINE:
            self._cut(current, data)
        else:
            current.partial = data
        if current.fingerprint_length < self._fingerprint_bytes:
            # the file was shorter than a fingerprint when opened: extend it as it grows
            current.fingerprint, current.fingerprint_length = _fingerprint(
                current.handle, self._fingerprint_bytes
            )

    def _cut(self, current: _Open, data: bytes) -> None:
        """An overlong line: count it and drop it, up to its newline."""
        self.stats.overlong += 1
        current.offset += len(data)
        current.partial = b""
        current.skipping = True

    def _look_at_path(self, current: _Open, lines: list[bytes]) -> _Open | None:
        """After reading to the end: does the path name another file now (rotation)? Return
        the file to read next, or None to stay with the current one."""
        try:
            info = os.stat(self.path)
        except FileNotFoundError:
            return None  # renamed away, not re-created yet: keep reading what we hold
        if (info.st_dev, info.st_ino) != (current.device, current.inode):
            if self._read_available(current, lines, _READ_BUDGET):
                return None  # more before the rename than one call takes: finish it next time
            if current.partial:  # the old file is finished: its last line will not grow
                lines.append(current.partial)
                self.stats.lines += 1
                self.stats.bytes += len(current.partial)
                current.offset += len(current.partial)
                current.partial = b""
            current.handle.close()
            self.stats.rotations += 1
            return self._open(self.path)
        return None

    @staticmethod
    def _truncated(current: _Open) -> bool:
        """Did the file shrink below what was read, or do its first bytes differ now?

        Checked before reading, so a file cut and refilled beyond the old offset is read from
        its start, not from the middle of a new line.
        """
        size = os.fstat(current.handle.fileno()).st_size
        if size < current.offset + len(current.partial):
            return True
        fingerprint, _ = _fingerprint(current.handle, current.fingerprint_length)
        return fingerprint != current.fingerprint


def follow(
    follower: Follower,
    stop: threading.Event,
    *,
    interval: float = 0.25,
) -> Iterator[list[bytes]]:
    """Yield batches of new lines from ``follower`` until ``stop`` is set, polling every
    ``interval`` seconds while nothing new came. Save ``follower.position`` after each batch."""
    while not stop.is_set():
        lines = follower.read()
        if lines:
            yield lines
        else:
            stop.wait(interval)


def _checked_position(position: Mapping[str, Any]) -> dict[str, Any]:
    """A saved position, checked field by field (it came from a file)."""
    expected = {
        "device": int,
        "inode": int,
        "fingerprint": str,
        "fingerprint_length": int,
        "offset": int,
    }
    for key, kind in expected.items():
        value = position.get(key)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise UsageError(f"a follow position needs {key!r} as {kind.__name__}, not {value!r}")
    if position["offset"] < 0 or position["fingerprint_length"] < 0:
        raise UsageError(f"a follow position's offset and length are not negative: {position}")
    return dict(position)
