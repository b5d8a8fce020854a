"""The live monitor's parts: follow files, listen for syslog, checkpoint, deliver alerts.

Each part is a plain Python object the CLI (or a user's own program) wires together; see
``docs/live.md``. Nothing here runs on import, and pywin32 is imported only by the Windows
backends that need it.
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
from .config import ConfigError, LiveConfig, build_sinks, load_config
from .decode import LineDecoder
from .delivery import Backoff, DeliveryWorker, SinkStats
from .follow import Follower, FollowStats, follow
from .sinks import JsonLinesSink, LiveSink, SinkError, SmtpSink, SyslogSink, WebhookSink
from .stats import LiveCounters, stats_line
from .syslog import SyslogListener, SyslogMessage, message_events
from .windows import EventLogSource, Gap, SubscriptionSource

__all__ = [
    "FORMAT_VERSION",
    "Backoff",
    "Checkpoint",
    "CheckpointError",
    "ConfigError",
    "DeliveryWorker",
    "EventLogSource",
    "FollowStats",
    "Follower",
    "Gap",
    "JsonLinesSink",
    "LineDecoder",
    "LiveConfig",
    "LiveCounters",
    "LiveSink",
    "OutboxItem",
    "OutboxStats",
    "SinkError",
    "SinkStats",
    "SmtpSink",
    "Snapshot",
    "SubscriptionSource",
    "SyslogListener",
    "SyslogMessage",
    "SyslogSink",
    "WebhookSink",
    "alert_id",
    "alert_text",
    "build_sinks",
    "follow",
    "load_config",
    "message_events",
    "stats_line",
]
