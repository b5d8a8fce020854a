"""Records and alerts as text: JSON lines at the speed of the rest, and formats people read.

* :class:`Encoder`, :func:`json_text`, :func:`json_lines`: compact JSON, byte for byte what
  ``json.dumps(item.to_json(), ensure_ascii=False, separators=(",", ":"))`` writes, without a
  dict per record, and never an error (``docs/output.md`` says what is written for the few
  values the reference cannot write).
* Writers, one per format (:data:`FORMATS`, :func:`make_writer`): ``json`` (the encoder, in
  batches), ``table`` (aligned columns, colour on request), ``csv`` and ``ecs`` (Elastic Common
  Schema documents). Each is a sink: call it with a record, an alert or a Sigma hit, then
  :meth:`~TextWriter.close` it.
* :class:`Summary` (hits by rule and level, by host, first and last time), :class:`SortedWriter`
  (output by time in bounded memory) and :func:`fixed_time` (times with a fixed number of
  decimals, so they sort as text).
"""

from __future__ import annotations

from ._encoder import ENCODER, FIELD_RULES, Encoder, FieldRule
from ._memo import Memo, clear_caches
from ._rows import Row, row
from ._sort import SortedWriter, TimeSorter, sort_time
from ._summary import Summary
from ._text import fixed_time
from ._writers import (
    CSV_COLUMNS,
    FORMATS,
    TABLE_COLUMNS,
    CsvWriter,
    EcsWriter,
    JsonWriter,
    TableWriter,
    TextWriter,
    color_wanted,
    ecs_document,
    make_writer,
)

__all__ = [
    "CSV_COLUMNS",
    "ENCODER",
    "FIELD_RULES",
    "FORMATS",
    "TABLE_COLUMNS",
    "CsvWriter",
    "EcsWriter",
    "Encoder",
    "FieldRule",
    "JsonWriter",
    "Memo",
    "Row",
    "SortedWriter",
    "Summary",
    "TableWriter",
    "TextWriter",
    "TimeSorter",
    "clear_caches",
    "color_wanted",
    "ecs_document",
    "fixed_time",
    "json_lines",
    "json_text",
    "make_writer",
    "row",
    "sort_time",
]

#: One compact JSON object (no newline) for a record, an alert or a Sigma match.
json_text = ENCODER.text
#: The JSON lines of some items, each ending in a newline, as one text.
json_lines = ENCODER.lines
