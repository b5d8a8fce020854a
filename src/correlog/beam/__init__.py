"""correlog on Apache Beam: the same records for a fleet or a year of archives.

Needs the ``beam`` extra (``pip install 'correlog[beam]'``); ``import correlog`` never imports
Beam, only ``import correlog.beam`` does. See docs/beam.md.

* :class:`CorrelateByHost`: normalized events in, records out, one correlator per host.
* :class:`AlertByHost`: normalized events in, alerts out, one monitor per host (the rules of
  ``correlog watch``).
* :func:`event_order`: the order each host's events are folded in.
* ``correlog beam correlate|watch INPUT... --output PREFIX`` (also ``python -m correlog.beam``):
  the runnable pipelines.
"""

from __future__ import annotations

try:
    import apache_beam  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("correlog.beam needs Apache Beam: pip install 'correlog[beam]'") from exc

from ._fold import Settings, event_order
from ._transforms import AlertByHost, CorrelateByHost

__all__ = ["AlertByHost", "CorrelateByHost", "Settings", "event_order"]
