"""An HTML report for people: summary, timeline, process trees and per-rule tables, one file.

:func:`render_report` turns records, the alerts of a :class:`~correlog.Monitor` and Sigma hits
(:meth:`correlog.sigma.RuleSet.hunt`) into one self-contained HTML page: its styles are inline,
it has no script, and its Content-Security-Policy forbids loading anything, so it opens offline
and the log's text (escaped everywhere) cannot make a viewer fetch a thing. The process trees
expand with the browser's own ``<details>``; those holding a finding start open.

It needs Jinja2 (``pip install 'correlog[report]'``), imported only when a report is rendered.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Final

from .. import __version__
from .._errors import UsageError
from .._events import HostEvent
from .._records import Alert, Record
from ._model import Finding, HostAlert, Summary, build_model

if TYPE_CHECKING:
    from ..sigma import Match

__all__ = ["DEFAULT_TIMELINE_LIMIT", "Finding", "HostAlert", "Summary", "render_report"]

#: How many processes the timeline lists at most (the earliest); the summary says how many more.
DEFAULT_TIMELINE_LIMIT: Final = 10_000


def _environment() -> Any:
    try:
        import jinja2
    except ImportError as exc:
        raise UsageError("the HTML report needs Jinja2: pip install 'correlog[report]'") from exc
    return jinja2.Environment(
        loader=jinja2.PackageLoader("correlog.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_report(
    records: Iterable[Record],
    alerts: Iterable[Alert] = (),
    hits: Iterable[Match] = (),
    *,
    host_alerts: Iterable[tuple[HostEvent, str]] | None = None,
    title: str = "correlog report",
    sources: Iterable[str] = (),
    timeline_limit: int = DEFAULT_TIMELINE_LIMIT,
) -> str:
    """The report as HTML text: write it to a file (UTF-8) and open it in any browser.

    ``records``: every record of the run (the trees and the timeline are built from them; a
    process with a finding whose record is not among them still appears in the findings
    tables). ``alerts``: from a :class:`~correlog.Monitor`. ``hits``: Sigma matches.
    ``host_alerts``: host events that deserve an alert, with its message, such as
    ``(event, message)`` for each event :meth:`correlog.rules.AuditTamper.host_event` answers;
    when given (even empty), the page has an "Audit trail" section. ``sources``: the inputs'
    names, listed in the summary. ``timeline_limit``: at most this
    many processes in the timeline, the earliest ones.

    Raises :class:`~correlog.UsageError` when Jinja2 is not installed or the limit is negative.
    """
    if timeline_limit < 0:
        raise UsageError(f"timeline_limit must be 0 or more, not {timeline_limit}")
    model = build_model(
        list(records),
        list(alerts),
        list(hits),
        None if host_alerts is None else list(host_alerts),
        timeline_limit,
    )
    template = _environment().get_template("report.html.j2")
    text: str = template.render(title=title, sources=list(sources), version=__version__, **model)
    return text
