"""correlog: Windows' thin process audit events in, fat process records and alerts out.

The core is sans-IO: :class:`Correlator` takes normalized events and returns records; readers
(:func:`read`) turn bytes into events at one edge, rules and sinks turn records into alerts at the
other. See the user guide in ``docs/``.
"""

from __future__ import annotations

from ._correlator import Correlator, CorrelatorStats
from ._errors import CorrelogError, ParseError, StateError, UsageError
from ._events import (
    APID_THRESHOLD,
    Event,
    EventKind,
    HostEvent,
    HostEventKind,
    Layout,
    ProcessEvent,
)
from ._monitor import Monitor, SingleEventMonitor
from ._policy import (
    CLOCK_RULES,
    HOST_EVENT_RULES,
    LATE_LIFECYCLE,
    LIFECYCLE,
    MERGE_POLICY,
    Action,
    ClockRule,
    EntryState,
    HostEventRule,
    MergeRule,
    Transition,
    merge,
)
from ._records import (
    Alert,
    ProcessId,
    Reason,
    Record,
    Status,
    format_process_id,
    process_id,
)
from ._single import is_sufficient, single_record
from ._time import from_datetime, iso, parse_iso, to_datetime
from .readers import FORMATS, EventReader, ReadStats, read

__version__ = "0.1.0"

__all__ = [
    "APID_THRESHOLD",
    "CLOCK_RULES",
    "FORMATS",
    "HOST_EVENT_RULES",
    "LATE_LIFECYCLE",
    "LIFECYCLE",
    "MERGE_POLICY",
    "Action",
    "Alert",
    "ClockRule",
    "Correlator",
    "CorrelatorStats",
    "CorrelogError",
    "EntryState",
    "Event",
    "EventKind",
    "EventReader",
    "HostEvent",
    "HostEventKind",
    "HostEventRule",
    "Layout",
    "MergeRule",
    "Monitor",
    "ParseError",
    "ProcessEvent",
    "ProcessId",
    "ReadStats",
    "Reason",
    "Record",
    "SingleEventMonitor",
    "StateError",
    "Status",
    "Transition",
    "UsageError",
    "__version__",
    "format_process_id",
    "from_datetime",
    "is_sufficient",
    "iso",
    "merge",
    "parse_iso",
    "process_id",
    "read",
    "single_record",
    "to_datetime",
]
