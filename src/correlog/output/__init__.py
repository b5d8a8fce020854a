"""Records and alerts as text: JSON lines at the speed of the rest, and formats people read.

* :class:`Encoder` / :func:`json_text`: compact JSON, byte for byte what
  ``json.dumps(item.to_json(), ensure_ascii=False, separators=(",", ":"))`` writes, without a
  dict per record, and never an error (see ``docs/output.md`` for the few values the reference
  cannot write).
"""

from __future__ import annotations

from ._encoder import FIELD_RULES, Encoder, FieldRule
from ._memo import Memo, clear_caches

__all__ = [
    "FIELD_RULES",
    "Encoder",
    "FieldRule",
    "Memo",
    "clear_caches",
    "json_lines",
    "json_text",
]

#: The encoder :func:`json_text` and :func:`json_lines` use (orjson when installed).
ENCODER = Encoder()

#: One compact JSON object (no newline) for a record, an alert or a Sigma match.
json_text = ENCODER.text
#: The JSON lines of some items, each ending in a newline, as one text.
json_lines = ENCODER.lines
