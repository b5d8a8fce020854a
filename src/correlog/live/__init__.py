"""The live monitor's parts: follow files, listen for syslog, checkpoint, deliver alerts.

Each part is a plain Python object the CLI (or a user's own program) wires together; see
``docs/live.md``. Nothing here runs on import, and the optional packages (pywin32, aiosmtpd,
prometheus-client) are imported only by the parts that need them.
"""

from __future__ import annotations

from .checkpoint import (
    FORMAT_VERSION,
    Checkpoint,
    CheckpointError,
    OutboxItem,
    OutboxStats,
    Snapshot,
    alert_id,
    alert_text,
)

__all__ = [
    "FORMAT_VERSION",
    "Checkpoint",
    "CheckpointError",
    "OutboxItem",
    "OutboxStats",
    "Snapshot",
    "alert_id",
    "alert_text",
]
