"""Prometheus metrics from the live counters (extra ``metrics``: prometheus-client, imported here).

:func:`serve_metrics` serves ``/metrics`` on an address; each scrape calls the snapshot function
(typically ``lambda: counters.snapshot(...)``, see :mod:`correlog.live.stats`) and turns its
dict into metric families, so the counters have one source and Prometheus reads the same
numbers ``--stats`` prints. :func:`render` gives the exposition text without a server.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from .._errors import UsageError

__all__ = ["MetricsServer", "render", "serve_metrics"]

Snapshot = Callable[[], Mapping[str, Any]]


def _client() -> Any:
    try:
        return importlib.import_module("prometheus_client")
    except ImportError as exc:
        raise UsageError("metrics need prometheus-client: pip install 'correlog[metrics]'") from exc


def _families(snapshot: Mapping[str, Any], core: Any) -> Iterator[Any]:
    """The metric families of one snapshot."""
    counter, gauge = core.CounterMetricFamily, core.GaugeMetricFamily

    def by_label(name: str, text: str, label: str, values: Mapping[str, Any] | None) -> Any:
        family = counter(name, text, labels=[label])
        for key, value in (values or {}).items():
            family.add_metric([str(key)], float(value))
        return family

    yield by_label("correlog_events", "Events read, by kind.", "kind", snapshot.get("events"))
    yield by_label(
        "correlog_records", "Records made final, by reason.", "reason", snapshot.get("records")
    )
    yield by_label("correlog_alerts", "Alerts raised, by rule.", "rule", snapshot.get("alerts"))
    skipped = snapshot.get("skipped") or {}
    yield by_label(
        "correlog_lines_skipped",
        "Lines that were not events, by reason.",
        "reason",
        skipped.get("skipped_by_reason"),
    )
    if snapshot.get("open") is not None:
        yield gauge("correlog_open_entries", "Processes open in the correlator.", snapshot["open"])
    outbox = snapshot.get("outbox")
    if outbox is not None:
        yield gauge("correlog_outbox_depth", "Alerts waiting for a sink.", outbox["depth"])
        yield gauge("correlog_outbox_limit", "The outbox bound.", outbox["limit"])
        yield counter(
            "correlog_outbox_dropped", "Alerts dropped at the outbox bound.", outbox["dropped"]
        )
    sinks = snapshot.get("sinks") or {}
    for key, text in (
        ("delivered", "Alerts a sink accepted."),
        ("failures", "Failed delivery attempts."),
        ("retries", "Delivery attempts after a failure."),
    ):
        yield by_label(
            f"correlog_sink_{key}", text, "sink", {name: s[key] for name, s in sinks.items()}
        )
    sources = snapshot.get("sources") or {}
    fields = sorted(
        {
            key
            for values in sources.values()
            for key, value in values.items()
            if isinstance(value, int | float) and not isinstance(value, bool)
        }
    )
    for key in fields:
        yield by_label(
            f"correlog_source_{key}",
            f"A source's {key.replace('_', ' ')}.",
            "source",
            {
                name: values[key]
                for name, values in sources.items()
                if isinstance(values.get(key), int | float)
            },
        )


def _registry(snapshot: Snapshot) -> Any:
    client = _client()
    core = importlib.import_module("prometheus_client.core")

    class Collector:
        def collect(self) -> Iterator[Any]:
            return _families(snapshot(), core)

    registry = client.CollectorRegistry(auto_describe=False)
    registry.register(Collector())
    return registry


def render(snapshot: Snapshot) -> bytes:
    """The Prometheus text exposition of one snapshot."""
    data: bytes = _client().generate_latest(_registry(snapshot))
    return data


class MetricsServer:
    """A running ``/metrics`` endpoint; :meth:`stop` ends it."""

    def __init__(self, server: Any, thread: Any) -> None:
        self._server = server
        self._thread = thread
        bound = server.server_address
        self.address: tuple[str, int] = (str(bound[0]), int(bound[1]))

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


def serve_metrics(address: tuple[str, int], snapshot: Snapshot) -> MetricsServer:
    """Serve ``snapshot()`` as Prometheus metrics on ``address`` (port 0 picks one)."""
    host, port = address
    server, thread = _client().start_http_server(port, addr=host, registry=_registry(snapshot))
    return MetricsServer(server, thread)
