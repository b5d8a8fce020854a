"""Readers: Windows event log transports in, normalized events out, one line at a time.

:func:`read` opens a path, standard input, a file object or an iterable of lines, detects or
takes the format, and returns an :class:`EventReader`: an iterator of
:class:`~correlog.ProcessEvent` and :class:`~correlog.HostEvent` with :class:`ReadStats`.
Each format lives in its own module (:mod:`.snare`, :mod:`.eventreporter`, :mod:`.ossec`,
:mod:`.logparser`, :mod:`.evtviewer`, :mod:`.jsonl`); ``docs/formats.md`` shows a line of each.
"""

from __future__ import annotations

from ._core import MAX_KEPT_ERRORS, EventReader, ReadStats
from ._read import DETECTION_ORDER, FORMATS, read
from .jsonl import event_from_json, event_to_json

__all__ = [
    "DETECTION_ORDER",
    "FORMATS",
    "MAX_KEPT_ERRORS",
    "EventReader",
    "ReadStats",
    "event_from_json",
    "event_to_json",
    "read",
]
