"""Legacy binary ``.evt`` event logs (NT4, 2000, XP, 2003), in pure Python, and a writer for tests.

Theory of operation
-------------------
An ``.evt`` file is a circular buffer. A 48-byte header (signature ``LfLe`` at offset 4) gives
the offset of the oldest record (StartOffset), of the end-of-file record (EndOffset), the next
and oldest record numbers, the file size, and flags: DIRTY (the header was not rewritten when
the log was last closed, so its offsets may be stale) and WRAP (the buffer has wrapped).
Records follow one another from StartOffset; one that reaches the end of the file continues
right after the header, byte for byte. A 40-byte end-of-file record (``0x11111111 0x22222222
0x33333333 0x44444444``) follows the newest record and repeats the true offsets, so a DIRTY
file is read from the offsets the end-of-file record holds, found by scanning for it.

Each record (EVENTLOGRECORD) starts with its length and ``LfLe`` and ends with its length
again: RecordNumber, TimeGenerated (Unix seconds, UTC), EventID (its low 16 bits are the id
people know), NumStrings, StringOffset, then SourceName and ComputerName as NUL-terminated
UTF-16LE, and the insertion strings at StringOffset. Security events (source ``Security``) with
a legacy id go to :func:`correlog.decoders.decode_strings`; everything else is ignored.

The space between the end-of-file record and the oldest record is free, but often still holds
whole records that the log has since dropped: older ones, or stale copies. They are recovered
(each is checked: signature, length at both ends) and yielded *before* the live records, since
they are older; one whose number is not below the oldest live record's is a stale copy of a
live record and is counted as ignored, not yielded twice.

The file is read with seeks, a record at a time, never whole; it must be seekable (standard
input is spooled to a temporary file first by :func:`correlog.read`). Offsets in errors are
byte offsets of the record in the file.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import IO, Any, Final, NamedTuple

from .._errors import Malformed
from .._events import Event
from .._time import NS_PER_SECOND
from ..decoders import STRING_DECODERS
from ._core import Limits, RecordFormat

__all__ = [
    "EOF_SIGNATURE",
    "FORMAT",
    "HEADER_SIZE",
    "NAME",
    "EvtRecord",
    "decode_evt_record",
    "evt_bytes",
    "evt_records",
    "sniff_bytes",
]

#: The format's name for :func:`correlog.read`.
NAME: Final = "evt"
#: Size of the file header, and where the record area begins.
HEADER_SIZE: Final = 0x30
#: The 16 bytes after an end-of-file record's length.
EOF_SIGNATURE: Final = bytes.fromhex("11111111222222223333333344444444")
_EOF_SIZE: Final = 0x28
_RECORD_FIXED: Final = 56
_DIRTY: Final = 0x1
_WRAP: Final = 0x2
_HEADER: Final = struct.Struct("<I4s10I")
_RECORD: Final = struct.Struct("<I4sIIIIHHHHIIIIII")
_EOF: Final = struct.Struct("<I16sIIIII")
_SCAN_CHUNK: Final = 1 << 20
_SECURITY: Final = frozenset({"Security"})


def sniff_bytes(head: bytes) -> bool:
    """True when ``head`` (the first bytes of an input) starts an ``.evt`` file."""
    return len(head) >= 8 and head[4:8] == b"LfLe" and head[:4] == b"\x30\x00\x00\x00"


class _Circular:
    """Reads of the record area of a seekable ``.evt`` file, wrapping at its end."""

    __slots__ = ("_file", "size")

    def __init__(self, file: IO[bytes], size: int) -> None:
        self._file = file
        self.size = size

    def read(self, offset: int, length: int) -> bytes:
        file = self._file
        file.seek(offset)
        if offset + length <= self.size:
            return file.read(length)
        first = file.read(self.size - offset)
        file.seek(HEADER_SIZE)
        return first + file.read(length - len(first))

    def advance(self, offset: int, length: int) -> int:
        offset += length
        if offset >= self.size:
            offset = HEADER_SIZE + offset - self.size
        return offset


def evt_records(file: IO[bytes]) -> Iterator[tuple[int, Any]]:
    """``(offset, record bytes)`` for every record of a seekable ``.evt`` file, oldest first.

    Free-space records come first as ``(offset, (record bytes, oldest live number))`` so the
    decoder can tell stale copies; a damaged record is ``(offset, ParseError)`` and the live
    chain ends there. Raises :class:`~correlog.ParseError` when the header is not an ``.evt``
    header.
    """
    file.seek(0, 2)
    file_size = file.tell()
    file.seek(0)
    head = file.read(HEADER_SIZE)
    if len(head) < HEADER_SIZE or not sniff_bytes(head):
        raise Malformed("not an evt file", "no 'LfLe' header signature", offset=0)
    (_, _, _, _, start, end, _current, oldest, max_size, flags, _, end_size) = _HEADER.unpack(head)
    size = min(max_size, file_size) if max_size >= HEADER_SIZE else file_size
    if end_size != HEADER_SIZE:
        raise Malformed("not an evt file", f"header ends with size {end_size}", offset=0)
    area = _Circular(file, size)
    eof = _eof_at(area, end)
    if eof is None or flags & _DIRTY:
        found = _find_eof(file, size)
        if found is not None:
            eof = found
    if eof is not None:
        end, start, oldest = eof
    elif not HEADER_SIZE <= start < size:
        raise Malformed("bad evt header", f"oldest record offset {start} is outside the file")
    # The free space runs from just past the end-of-file record to the oldest record.
    free_from = area.advance(end, _EOF_SIZE) if eof is not None else end
    if start != end:
        for offset, data in _recover(area, free_from, start):
            yield offset, (data, oldest)
    yield from _live(area, start, end)


def _eof_at(area: _Circular, offset: int) -> tuple[int, int, int] | None:
    """(end offset, start offset, oldest number) from the end-of-file record at ``offset``."""
    if not HEADER_SIZE <= offset < area.size:
        return None
    data = area.read(offset, _EOF_SIZE)
    if len(data) < _EOF_SIZE:
        return None
    length, signature, begin, end, _current, oldest, tail = _EOF.unpack(data[: _EOF.size])
    if length != _EOF_SIZE or signature != EOF_SIGNATURE or tail != _EOF_SIZE:
        return None
    if not (HEADER_SIZE <= begin < area.size and HEADER_SIZE <= end < area.size):
        return None
    return end, begin, oldest


def _find_eof(file: IO[bytes], size: int) -> tuple[int, int, int] | None:
    """Scan the file for the end-of-file record (a DIRTY header's offsets may be stale)."""
    mark = _EOF_SIZE.to_bytes(4, "little") + EOF_SIGNATURE
    area = _Circular(file, size)
    position = HEADER_SIZE
    carry = b""
    while position < size:
        file.seek(position)
        chunk = file.read(min(_SCAN_CHUNK, size - position))
        if not chunk:
            break
        data = carry + chunk
        base = position - len(carry)
        at = data.find(mark)
        while at >= 0:
            found = _eof_at(area, base + at)
            if found is not None:
                return found
            at = data.find(mark, at + 1)
        carry = data[-(len(mark) - 1) :]
        position += len(chunk)
    return None


def _live(area: _Circular, start: int, end: int) -> Iterator[tuple[int, Any]]:
    """The live records, from the oldest to the end-of-file record."""
    offset = start
    seen = 0
    limit = area.size - HEADER_SIZE
    while offset != end:
        head = area.read(offset, 8)
        if len(head) < 8:
            yield (
                offset,
                Malformed("bad evt record", "the file ends inside a record", offset=offset),
            )
            return
        length = int.from_bytes(head[:4], "little")
        if head[4:8] != b"LfLe" or not _RECORD_FIXED <= length <= limit - seen or length % 4:
            if head[4:8] == EOF_SIGNATURE[:4]:
                return  # an end-of-file record where the header said none would be
            yield (
                offset,
                Malformed(
                    "bad evt record", f"no record signature (length {length})", offset=offset
                ),
            )
            return
        data = area.read(offset, length)
        if int.from_bytes(data[-4:], "little") != length:
            yield (
                offset,
                Malformed("bad evt record", "the record's closing length differs", offset=offset),
            )
            return
        yield offset, data
        seen += length
        offset = area.advance(offset, length)


def _recover(area: _Circular, begin: int, stop: int) -> Iterator[tuple[int, bytes]]:
    """Whole records left in the free space from ``begin`` up to ``stop`` (circularly)."""
    free = stop - begin if stop >= begin else (area.size - begin) + (stop - HEADER_SIZE)
    scanned = 0  # bytes of free space read so far
    offset = begin
    carry = b""  # the last bytes of the previous chunk: a length may sit just before a chunk
    resume = 0  # distance from ``begin`` before which a record was already recovered
    last = -1  # distance of the last candidate looked at (the carry is scanned twice)
    while scanned < free:
        chunk = area.read(offset, min(_SCAN_CHUNK, free - scanned, area.size - offset))
        if not chunk:
            break
        data = carry + chunk
        base = scanned - len(carry)
        at = data.find(b"LfLe", 4)
        while at >= 0:
            distance = base + at - 4
            if distance > last and distance >= resume:
                last = distance
                length = int.from_bytes(data[at - 4 : at], "little")
                if _RECORD_FIXED <= length <= free - distance and not length % 4:
                    # The closing length first, four bytes: reading every candidate whole
                    # would make a free space full of false "LfLe" marks cost its size
                    # squared. A record that passes is read once, and skipped past.
                    record_offset = area.advance(begin, distance)
                    closing = area.read(area.advance(record_offset, length - 4), 4)
                    if int.from_bytes(closing, "little") == length:
                        yield record_offset, area.read(record_offset, length)
                        resume = distance + length
            at = data.find(b"LfLe", at + 1)
        carry = data[-8:]
        scanned += len(chunk)
        offset = area.advance(offset, len(chunk))


def _utf16z(data: bytes, start: int) -> tuple[str, int]:
    """A NUL-terminated UTF-16LE string at ``start``, and the offset just past its NUL."""
    end = start
    while True:
        end = data.find(b"\x00\x00", end)
        if end < 0:
            raise Malformed("bad evt record", "a string has no terminating NUL")
        if (end - start) % 2 == 0:
            break
        end += 1
    return data[start:end].decode("utf-16-le", "replace"), end + 2


def decode_evt_record(raw: Any) -> Event | None:
    """Decode one item of :func:`evt_records` (record bytes) into an event, or None."""
    if type(raw) is tuple:
        data, oldest = raw
        number = int.from_bytes(data[8:12], "little")
        if number >= oldest:
            return None  # a stale copy of a live record
    else:
        data = raw
    (
        length,
        _,
        record_number,
        generated,
        _written,
        event_code,
        _event_type,
        num_strings,
        _category,
        _flags,
        _closing,
        string_offset,
        _sid_length,
        _sid_offset,
        _data_length,
        _data_offset,
    ) = _RECORD.unpack_from(data)
    event_id = event_code & 0xFFFF
    decode = STRING_DECODERS.get(event_id)
    if decode is None:
        return None
    try:
        source, after = _utf16z(data, _RECORD_FIXED)
        if source not in _SECURITY:
            return None
        computer, _ = _utf16z(data, after)
        strings: list[str] = []
        at = string_offset
        if num_strings and not _RECORD_FIXED <= string_offset < length:
            raise Malformed("bad evt record", f"string offset {string_offset} is outside it")
        for _ in range(num_strings):
            text, at = _utf16z(data, at)
            strings.append(text)
        return decode(strings, computer, generated * NS_PER_SECOND, record_number)
    except Malformed as exc:
        raise exc.with_record(record_number) from None


def _decoder() -> Callable[[Any], Event | None]:
    return decode_evt_record


#: The format, as the reader registry lists it.
def _records(file: IO[bytes], limits: Limits) -> Iterator[tuple[int, Any]]:
    del limits  # read with seeks, a record at a time: nothing to bound beyond the file
    return evt_records(file)


#: The format, as the reader registry lists it.
FORMAT: Final = RecordFormat(NAME, True, None, sniff_bytes, _records, _decoder)


# -- writing, for fixtures -----------------------------------------------------------------------


class EvtRecord(NamedTuple):
    """One record to write with :func:`evt_bytes`."""

    record_number: int
    #: TimeGenerated (and TimeWritten), Unix seconds UTC.
    time: int
    event_id: int
    computer: str
    strings: Sequence[str] = ()
    source: str = "Security"
    #: 8 audit success, 16 audit failure, 4 information, ...
    event_type: int = 8
    category: int = 5


def _record_bytes(record: EvtRecord) -> bytes:
    names = (record.source + "\0").encode("utf-16-le") + (record.computer + "\0").encode(
        "utf-16-le"
    )
    names += b"\0" * (-len(names) % 4)
    strings = b"".join((s + "\0").encode("utf-16-le") for s in record.strings)
    body_length = _RECORD_FIXED + len(names) + len(strings)
    padding = -(body_length + 4) % 4
    length = body_length + padding + 4
    string_offset = _RECORD_FIXED + len(names)
    fixed = _RECORD.pack(
        length,
        b"LfLe",
        record.record_number,
        record.time,
        record.time,
        record.event_id,
        record.event_type,
        len(record.strings),
        record.category,
        0,
        0,
        string_offset,
        0,
        string_offset,
        0,
        string_offset + len(strings),
    )
    return fixed + names + strings + b"\0" * padding + length.to_bytes(4, "little")


def evt_bytes(
    records: Iterable[EvtRecord],
    *,
    size: int | None = None,
    start: int = HEADER_SIZE,
    dirty: bool = False,
    free_space: bytes = b"",
) -> bytes:
    """The bytes of an ``.evt`` file holding ``records`` (oldest first): a fixture writer.

    ``size``: the file size (the circular buffer's end; by default just large enough).
    ``start``: where the oldest record begins; records past the end of the file continue after
    the header, as Windows writes a wrapped log. ``dirty``: leave stale offsets in the header
    (as after a crash), so a reader must find the end-of-file record. ``free_space``: bytes put
    right after the end-of-file record (say, the bytes of records the log has dropped).
    """
    records = list(records)
    body = b"".join(_record_bytes(record) for record in records)
    numbers = [record.record_number for record in records]
    needed = len(body) + _EOF_SIZE + len(free_space)
    if size is None:
        size = max(HEADER_SIZE + needed, start + 1)
    area = size - HEADER_SIZE
    if needed > area:
        raise ValueError(f"{needed} bytes of records do not fit in a {size}-byte file")
    if not HEADER_SIZE <= start < size:
        raise ValueError(f"start {start} is outside the record area")
    image = bytearray(size)
    oldest = numbers[0] if numbers else 1
    current = numbers[-1] + 1 if numbers else 1

    def put(offset: int, data: bytes) -> int:
        for byte_index in range(0, len(data)):
            image[offset] = data[byte_index]
            offset += 1
            if offset >= size:
                offset = HEADER_SIZE
        return offset

    end = put(start, body)
    eof = _EOF.pack(_EOF_SIZE, EOF_SIGNATURE, start, end, current, oldest, _EOF_SIZE)
    after = put(end, eof)
    put(after, free_space)
    wrapped = start + len(body) + _EOF_SIZE > size
    flags = (_WRAP if wrapped else 0) | (_DIRTY if dirty else 0)
    header_start, header_end = (HEADER_SIZE, HEADER_SIZE) if dirty else (start, end)
    image[:HEADER_SIZE] = _HEADER.pack(
        HEADER_SIZE,
        b"LfLe",
        1,
        1,
        header_start,
        header_end,
        current,
        oldest,
        size,
        flags,
        0,
        HEADER_SIZE,
    )
    return bytes(image)
