"""Readers: Windows event log transports in, normalized events out, one record at a time.

:func:`read` opens a path, standard input, a file object or an iterable of lines, detects or
takes the format, and returns an :class:`EventReader`: an iterator of
:class:`~correlog.ProcessEvent` and :class:`~correlog.HostEvent` with :class:`ReadStats`.
Each format lives in its own module: text lines (:mod:`.snare`, :mod:`.eventreporter`,
:mod:`.ossec`, :mod:`.logparser`, :mod:`.evtviewer`, :mod:`.jsonl`, :mod:`.nxlog`,
:mod:`.winlogbeat`, :mod:`.ecs`), Event XML (:mod:`.eventxml`), and the binary logs
(:mod:`.evtx`, :mod:`.evt`, whose :func:`evt_bytes` also writes ``.evt`` files for tests);
``docs/formats.md`` shows an example of each.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._core import MAX_KEPT_ERRORS, EventReader, Limits, ReadStats
from ._read import BINARY_FORMATS, DETECTION_ORDER, FORMATS, read, registry

if TYPE_CHECKING:
    from ._core import Format
    from .evt import EvtRecord, evt_bytes
    from .jsonl import event_from_json, event_to_json

    #: Every format, in :data:`DETECTION_ORDER` (asking for it imports every format's module).
    REGISTRY: tuple[Format, ...]

#: Names whose module is imported when first asked for: ``import correlog`` imports no format
#: module; reading an input imports its format's (see ``_read``).
_LAZY = {
    "EvtRecord": ".evt",
    "evt_bytes": ".evt",
    "event_from_json": ".jsonl",
    "event_to_json": ".jsonl",
}


def __getattr__(name: str) -> Any:
    if name == "REGISTRY":
        return registry()
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BINARY_FORMATS",
    "DETECTION_ORDER",
    "FORMATS",
    "MAX_KEPT_ERRORS",
    "REGISTRY",
    "EventReader",
    "EvtRecord",
    "Limits",
    "ReadStats",
    "event_from_json",
    "event_to_json",
    "evt_bytes",
    "read",
]
