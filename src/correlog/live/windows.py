"""Windows live source: the Security log as it is written, through a small backend interface.

Theory of operation. Two sources, each over a thin interface that mirrors the documented Win32
calls it needs, so that every branch can run (and be tested) against a replay of recorded event
XML on any platform, and against pywin32 (extra ``windows``, imported only when used) on Windows:

- :class:`SubscriptionSource` uses ``EvtSubscribe`` in the pull model (a signal event and
  ``EvtNext``, no callback) with an XPath filter for the process events, and a bookmark. On
  restart it subscribes with ``EvtSubscribeStartAfterBookmark | EvtSubscribeStrict``: with the
  strict flag Windows fails the call (``ERROR_NOT_FOUND``) instead of quietly starting at new
  events when the bookmarked record is gone (the log was cleared or overwritten). The source
  then subscribes from the oldest record and records a :class:`Gap`: it never skips silently to
  future events. The bookmark moves only past events the caller was handed, and the caller
  saves :attr:`~SubscriptionSource.position` with the state those events produced.
- :class:`EventLogSource` is the fallback for hosts or channels without the Vista+ API: it polls
  ``ReadEventLog`` by record number (``EVENTLOG_SEEK_READ | EVENTLOG_FORWARDS_READ``). Record
  numbers are 32-bit and wrap, so positions compare in serial-number arithmetic (RFC 1982): the
  saved "next record" is valid when it lies in ``[oldest, newest + 1]`` on the circle. Anything
  else means the log was cleared or overwrote what was not read yet: reading restarts at the
  oldest record and a :class:`Gap` says how many records were lost, when that is known.

Both sources return events as Event XML text, which :func:`correlog.read` reads with
``format="xml"`` (legacy events through the insertion-string decoders). This module was tested
on Linux against the replay backends only; it was not run on Windows.
"""

from __future__ import annotations

import datetime as dt
import html
import importlib
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final, Protocol

import attrs

from .._errors import CorrelogError, UsageError

__all__ = [
    "PROCESS_EVENT_QUERY",
    "BookmarkNotFound",
    "EventLogApi",
    "EventLogSource",
    "EventsMissing",
    "Gap",
    "LegacyRecord",
    "Pywin32EventLogApi",
    "Pywin32SubscriptionApi",
    "RecordedLog",
    "ReplayEventLogApi",
    "ReplaySubscriptionApi",
    "SubscriptionApi",
    "SubscriptionSource",
]

#: Win32 constants, as winevt.h and winnt.h define them.
EVT_SUBSCRIBE_TO_FUTURE_EVENTS: Final = 1
EVT_SUBSCRIBE_START_AT_OLDEST_RECORD: Final = 2
EVT_SUBSCRIBE_START_AFTER_BOOKMARK: Final = 3
EVT_SUBSCRIBE_STRICT: Final = 0x10000
EVT_RENDER_EVENT_XML: Final = 1
EVT_RENDER_BOOKMARK: Final = 2
ERROR_NO_MORE_ITEMS: Final = 259
ERROR_NOT_FOUND: Final = 1168
ERROR_TIMEOUT: Final = 1460
ERROR_EVT_QUERY_RESULT_STALE: Final = 15011
EVENTLOG_SEEK_READ: Final = 0x2
EVENTLOG_FORWARDS_READ: Final = 0x4
_RECORD_MODULUS: Final = 1 << 32

#: The events the correlator uses: process creation, exit and token assignment (legacy and
#: Vista+), and the host events that close what was open (log cleared, audit restart).
PROCESS_EVENT_IDS: Final = (592, 593, 600, 4688, 4689, 4696, 512, 517, 4608, 1102)
PROCESS_EVENT_QUERY: Final = (
    "*[System[(" + " or ".join(f"EventID={n}" for n in PROCESS_EVENT_IDS) + ")]]"
)
_NS: Final = "http://schemas.microsoft.com/win/2004/08/events/event"


class BookmarkNotFound(CorrelogError):
    """``EvtSubscribe`` with ``EvtSubscribeStrict`` failed with ``ERROR_NOT_FOUND``: the
    bookmarked record is no longer in the log."""


class EventsMissing(CorrelogError):
    """``EvtNext`` on a strict subscription failed with ``ERROR_EVT_QUERY_RESULT_STALE``:
    records were overwritten (or the log cleared) before the subscription read them."""


@attrs.frozen
class Gap:
    """Records a source could not read: the log was cleared or overwrote them first.

    ``lost``: how many, when the record numbers tell (None when they do not).
    """

    reason: str
    lost: int | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"reason": self.reason, "lost": self.lost}


# -- EvtSubscribe -------------------------------------------------------------------------------


class SubscriptionApi(Protocol):
    """The ``EvtSubscribe`` calls :class:`SubscriptionSource` makes (handles are opaque)."""

    def subscribe(self, channel: str, query: str, bookmark: Any | None, flags: int) -> Any:
        """``EvtSubscribe`` (pull model); raise :class:`BookmarkNotFound` for ERROR_NOT_FOUND."""
        ...

    def next(self, subscription: Any, count: int, timeout_ms: int) -> Sequence[Any]:
        """``EvtNext``: up to ``count`` event handles; empty for ERROR_NO_MORE_ITEMS/timeout;
        raise :class:`EventsMissing` for ERROR_EVT_QUERY_RESULT_STALE."""
        ...

    def render_event(self, event: Any) -> str:
        """``EvtRender(event, EvtRenderEventXml)``."""
        ...

    def create_bookmark(self, xml: str | None) -> Any:
        """``EvtCreateBookmark``."""
        ...

    def update_bookmark(self, bookmark: Any, event: Any) -> None:
        """``EvtUpdateBookmark``."""
        ...

    def render_bookmark(self, bookmark: Any) -> str:
        """``EvtRender(bookmark, EvtRenderBookmark)``."""
        ...

    def close(self, handle: Any) -> None:
        """``EvtClose``."""
        ...


class SubscriptionSource:
    """Read a channel live through ``EvtSubscribe``; see the module's docstring.

    ``position``: one saved from :attr:`position` (None: start at the oldest record, so a first
    run reads what the log already holds).
    """

    def __init__(
        self,
        api: SubscriptionApi,
        *,
        channel: str = "Security",
        query: str = PROCESS_EVENT_QUERY,
        position: Mapping[str, Any] | None = None,
    ) -> None:
        self._api = api
        self.channel = channel
        self.query = query
        saved = None
        if position is not None:
            saved = position.get("bookmark")
            if position.get("backend") != "evtsubscribe" or not isinstance(saved, str | None):
                raise UsageError(f"not an EvtSubscribe position: {dict(position)!r}")
        self._bookmark_xml: str | None = saved
        self._bookmark: Any = None
        self._subscription: Any = None
        #: Gaps met so far (a stale bookmark).
        self.gaps: list[Gap] = []

    def _subscribe(self, *, gap_reported: bool = False) -> None:
        # Strict on every subscription: a missing bookmark fails the call, and records that
        # go missing while subscribed fail EvtNext, instead of being skipped in silence.
        api = self._api
        self._bookmark = api.create_bookmark(self._bookmark_xml)
        oldest = EVT_SUBSCRIBE_START_AT_OLDEST_RECORD | EVT_SUBSCRIBE_STRICT
        if self._bookmark_xml is None:
            self._subscription = api.subscribe(self.channel, self.query, None, oldest)
            return
        flags = EVT_SUBSCRIBE_START_AFTER_BOOKMARK | EVT_SUBSCRIBE_STRICT
        try:
            self._subscription = api.subscribe(self.channel, self.query, self._bookmark, flags)
        except BookmarkNotFound:
            if not gap_reported:
                self.gaps.append(Gap("the bookmarked record is gone (log cleared or overwritten)"))
            self._subscription = api.subscribe(self.channel, self.query, None, oldest)

    def poll(self, count: int = 500, timeout_ms: int = 0) -> list[str]:
        """The next events' XML (up to ``count``), waiting up to ``timeout_ms`` for the first."""
        if self._subscription is None:
            self._subscribe()
        api = self._api
        try:
            handles = api.next(self._subscription, count, timeout_ms)
        except EventsMissing:
            # Read on from the bookmark if it is still there, else from the oldest record.
            self.gaps.append(Gap("records were overwritten before they were read"))
            api.close(self._subscription)
            api.close(self._bookmark)
            self._subscribe(gap_reported=True)
            handles = api.next(self._subscription, count, timeout_ms)
        found = []
        try:
            for handle in handles:
                found.append(api.render_event(handle))
                api.update_bookmark(self._bookmark, handle)
        finally:
            for handle in handles:
                api.close(handle)
        if found:
            self._bookmark_xml = api.render_bookmark(self._bookmark)
        return found

    @property
    def position(self) -> dict[str, Any]:
        """The bookmark after the last event returned, as plain JSON data."""
        return {"backend": "evtsubscribe", "channel": self.channel, "bookmark": self._bookmark_xml}

    def close(self) -> None:
        """Close the subscription (``position`` stays valid)."""
        for handle in (self._subscription, self._bookmark):
            if handle is not None:
                self._api.close(handle)
        self._subscription = self._bookmark = None


# -- ReadEventLog -------------------------------------------------------------------------------


@attrs.frozen
class LegacyRecord:
    """What ``ReadEventLog`` gives for one record (an ``EVENTLOGRECORD``)."""

    record_number: int
    #: The event id without its severity and facility bits (``EventID & 0xFFFF``).
    event_id: int
    #: ``TimeGenerated``, seconds since 1970 UTC.
    time_generated: int
    computer: str
    source: str
    strings: tuple[str, ...]


class EventLogApi(Protocol):
    """The ``ReadEventLog`` calls :class:`EventLogSource` makes."""

    def oldest(self) -> int:
        """``GetOldestEventLogRecord``."""
        ...

    def count(self) -> int:
        """``GetNumberOfEventLogRecords``."""
        ...

    def read(self, record_number: int, count: int) -> list[LegacyRecord]:
        """``ReadEventLog(EVENTLOG_SEEK_READ | EVENTLOG_FORWARDS_READ, record_number)``."""
        ...


def _serial_distance(start: int, end: int) -> int:
    """How many steps forward from ``start`` to ``end`` on the 32-bit circle."""
    return (end - start) % _RECORD_MODULUS


class EventLogSource:
    """Poll a classic event log by record number; see the module's docstring."""

    def __init__(
        self,
        api: EventLogApi,
        *,
        log: str = "Security",
        position: Mapping[str, Any] | None = None,
        event_ids: Iterable[int] = PROCESS_EVENT_IDS,
    ) -> None:
        self._api = api
        self.log = log
        self._wanted = frozenset(event_ids)
        self._next: int | None = None
        if position is not None:
            value = position.get("next")
            if position.get("backend") != "readeventlog" or not isinstance(value, int | None):
                raise UsageError(f"not a ReadEventLog position: {dict(position)!r}")
            self._next = value
        #: Gaps met so far.
        self.gaps: list[Gap] = []

    def poll(self, count: int = 500) -> list[str]:
        """The XML of the wanted events among the next ``count`` records."""
        total = self._api.count()
        if total == 0:
            return []
        oldest = self._api.oldest()
        end = (oldest + total) % _RECORD_MODULUS  # one past the newest
        if self._next is None:
            self._next = oldest
        elif _serial_distance(oldest, self._next) > total:
            # Not in [oldest, newest + 1]: cleared, or overwritten before it was read.
            lost = _serial_distance(self._next, oldest)
            self.gaps.append(
                Gap(
                    "the next record is no longer in the log (cleared or overwritten)",
                    lost if lost < _RECORD_MODULUS // 2 else None,
                )
            )
            self._next = oldest
        if self._next == end:
            return []
        records = self._api.read(self._next, min(count, _serial_distance(self._next, end)))
        if not records:
            return []
        self._next = (records[-1].record_number + 1) % _RECORD_MODULUS
        return [legacy_xml(r, self.log) for r in records if r.event_id in self._wanted]

    @property
    def position(self) -> dict[str, Any]:
        """The next record number to read, as plain JSON data."""
        return {"backend": "readeventlog", "log": self.log, "next": self._next}


def legacy_xml(record: LegacyRecord, channel: str) -> str:
    """Event XML for a ``ReadEventLog`` record: its insertion strings as unnamed ``Data``."""
    when = dt.datetime.fromtimestamp(record.time_generated, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    data = "".join(f"<Data>{html.escape(s, quote=False)}</Data>" for s in record.strings)
    return (
        f'<Event xmlns="{_NS}"><System><Provider Name="{html.escape(record.source)}"/>'
        f'<EventID>{record.event_id}</EventID><TimeCreated SystemTime="{when}"/>'
        f"<EventRecordID>{record.record_number}</EventRecordID>"
        f"<Channel>{html.escape(channel)}</Channel>"
        f"<Computer>{html.escape(record.computer)}</Computer></System>"
        f"<EventData>{data}</EventData></Event>"
    )


# -- replay backends (for tests and for trying the sources anywhere) ----------------------------


class RecordedLog:
    """An event log holding recorded Event XML, with the documented behaviour of a real one:
    record numbers count up from ``first_record`` and wrap at 2**32, ``clear()`` empties it
    and restarts numbering at 1, and with ``capacity`` the oldest records are overwritten.
    A bookmark is a record number, as on Windows: the replay, like ``EvtSubscribeStrict``,
    finds a bookmark stale only when no record carries its number."""

    def __init__(self, *, first_record: int = 1, capacity: int | None = None) -> None:
        self._records: list[tuple[int, str]] = []
        self._next = first_record % _RECORD_MODULUS
        self._capacity = capacity
        #: Bumped by every clear(): a live subscription goes on with the new log's records.
        self.epoch = 0

    def append(self, xml: str) -> int:
        """Write one event (its EventRecordID is set to the log's next number)."""
        number = self._next
        self._records.append((number, _with_record_id(xml, number)))
        self._next = (number + 1) % _RECORD_MODULUS
        if self._capacity is not None and len(self._records) > self._capacity:
            del self._records[0]
        return number

    def clear(self) -> None:
        """Empty the log; numbering starts again at 1."""
        self._records.clear()
        self._next = 1
        self.epoch += 1

    @property
    def records(self) -> list[tuple[int, str]]:
        """``(record number, xml)``, oldest first."""
        return list(self._records)


def _with_record_id(xml: str, number: int) -> str:
    root = ET.fromstring(xml)
    system = root.find(f"{{{_NS}}}System")
    if system is None:
        raise UsageError("recorded event XML needs the event namespace and a System element")
    element = system.find(f"{{{_NS}}}EventRecordID")
    if element is None:
        element = ET.SubElement(system, f"{{{_NS}}}EventRecordID")
    element.text = str(number)
    ET.register_namespace("", _NS)
    return ET.tostring(root, encoding="unicode")


@attrs.define
class _ReplaySubscription:
    #: The record number read next, and the log epoch it belongs to.
    next: int
    epoch: int
    query_ids: frozenset[int]
    strict: bool


@attrs.define
class _ReplayBookmark:
    record: int | None


class ReplaySubscriptionApi:
    """:class:`SubscriptionApi` over a :class:`RecordedLog`, following the documented
    semantics: a strict start after a bookmark whose record is gone raises
    :class:`BookmarkNotFound`, a start after it without the strict flag goes on with future
    events only; the query's ``EventID=`` terms filter events (none: every event)."""

    def __init__(self, log: RecordedLog) -> None:
        self.log = log
        self.calls: list[tuple[str, int]] = []

    def subscribe(self, channel: str, query: str, bookmark: Any | None, flags: int) -> Any:
        self.calls.append(("subscribe", flags))
        ids = frozenset(int(n) for n in re.findall(r"EventID=(\d+)", query))
        records = self.log.records
        start_kind = flags & 0xFFFF
        strict = bool(flags & EVT_SUBSCRIBE_STRICT)
        if start_kind == EVT_SUBSCRIBE_START_AFTER_BOOKMARK:
            assert isinstance(bookmark, _ReplayBookmark)
            present = {number for number, _ in records}
            if bookmark.record not in present:
                if flags & EVT_SUBSCRIBE_STRICT:
                    raise BookmarkNotFound(f"record {bookmark.record} is not in the log")
                return _ReplaySubscription(self.log._next, self.log.epoch, ids, strict)
            assert bookmark.record is not None
            after = (bookmark.record + 1) % _RECORD_MODULUS
            return _ReplaySubscription(after, self.log.epoch, ids, strict)
        if start_kind == EVT_SUBSCRIBE_START_AT_OLDEST_RECORD:
            first = records[0][0] if records else self.log._next
            return _ReplaySubscription(first, self.log.epoch, ids, strict)
        return _ReplaySubscription(self.log._next, self.log.epoch, ids, strict)

    def next(self, subscription: Any, count: int, timeout_ms: int) -> Sequence[Any]:
        assert isinstance(subscription, _ReplaySubscription)
        records = self.log.records
        if subscription.epoch != self.log.epoch:  # a live subscription sees the new log
            subscription.epoch = self.log.epoch
            subscription.next = records[0][0] if records else 1
        numbers = [number for number, _ in records]
        if subscription.next in numbers:
            start = numbers.index(subscription.next)
        elif records and subscription.next != self.log._next:
            # what it was to read next was overwritten: strict says so, else it goes on
            if subscription.strict:
                raise EventsMissing(f"record {subscription.next} was overwritten")
            start = 0
        else:
            start = len(records)
        found: list[tuple[int, str]] = []
        for number, xml in records[start:]:
            if len(found) == count:
                break
            subscription.next = (number + 1) % _RECORD_MODULUS
            if not subscription.query_ids or _event_id(xml) in subscription.query_ids:
                found.append((number, xml))
        return found

    def render_event(self, event: Any) -> str:
        return str(event[1])

    def create_bookmark(self, xml: str | None) -> Any:
        if xml is None:
            return _ReplayBookmark(None)
        element = ET.fromstring(xml).find("Bookmark")
        if element is None:
            raise UsageError(f"not a bookmark: {xml!r}")
        return _ReplayBookmark(int(element.get("RecordId", "0")))

    def update_bookmark(self, bookmark: Any, event: Any) -> None:
        bookmark.record = event[0]

    def render_bookmark(self, bookmark: Any) -> str:
        # the shape Windows renders
        return (
            f"<BookmarkList><Bookmark Channel='Security' RecordId='{bookmark.record}' "
            "IsCurrent='true'/></BookmarkList>"
        )

    def close(self, handle: Any) -> None:
        pass


class ReplayEventLogApi:
    """:class:`EventLogApi` over a :class:`RecordedLog`."""

    def __init__(self, log: RecordedLog) -> None:
        self.log = log

    def oldest(self) -> int:
        records = self.log.records
        return records[0][0] if records else 0

    def count(self) -> int:
        return len(self.log.records)

    def read(self, record_number: int, count: int) -> list[LegacyRecord]:
        records = self.log.records
        numbers = [number for number, _ in records]
        if record_number not in numbers:
            raise UsageError(f"record {record_number} is not in the log (ERROR_INVALID_PARAMETER)")
        start = numbers.index(record_number)
        return [_legacy_record(number, xml) for number, xml in records[start : start + count]]


def _event_id(xml: str) -> int:
    root = ET.fromstring(xml)
    element = root.find(f"{{{_NS}}}System/{{{_NS}}}EventID")
    return int(element.text or "0") if element is not None else 0


def _legacy_record(number: int, xml: str) -> LegacyRecord:
    root = ET.fromstring(xml)
    system = root.find(f"{{{_NS}}}System")
    assert system is not None

    def text(tag: str) -> str:
        element = system.find(f"{{{_NS}}}{tag}")
        return (element.text or "") if element is not None else ""

    created = system.find(f"{{{_NS}}}TimeCreated")
    stamp = created.get("SystemTime", "") if created is not None else ""
    when = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")[:19] + "+00:00")
    provider = system.find(f"{{{_NS}}}Provider")
    strings = tuple(d.text or "" for d in root.iter(f"{{{_NS}}}Data"))
    return LegacyRecord(
        record_number=number,
        event_id=int(text("EventID")),
        time_generated=int(when.timestamp()),
        computer=text("Computer"),
        source=provider.get("Name", "Security") if provider is not None else "Security",
        strings=strings,
    )


# -- pywin32 backends (extra "windows"; not run here) -------------------------------------------


def _pywin32(module: str) -> Any:
    """A pywin32 module, imported only now (pywin32 exists on Windows only)."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise UsageError(
            "the Windows live source needs pywin32: pip install 'correlog[windows]' (on Windows)"
        ) from exc


class Pywin32SubscriptionApi:
    """:class:`SubscriptionApi` through pywin32's ``win32evtlog`` (pull model)."""

    def __init__(self) -> None:
        self._evt = _pywin32("win32evtlog")
        win32event = _pywin32("win32event")
        self._error = _pywin32("pywintypes").error
        self._signal = win32event.CreateEvent(None, 0, 0, None)
        self._wait = win32event.WaitForSingleObjectEx

    def subscribe(self, channel: str, query: str, bookmark: Any | None, flags: int) -> Any:
        try:
            return self._evt.EvtSubscribe(
                channel, flags, SignalEvent=self._signal, Query=query, Bookmark=bookmark
            )
        except self._error as exc:
            if exc.winerror == ERROR_NOT_FOUND:
                raise BookmarkNotFound(str(exc)) from exc
            raise

    def next(self, subscription: Any, count: int, timeout_ms: int) -> Sequence[Any]:
        if timeout_ms:
            self._wait(self._signal, timeout_ms, True)
        try:
            return tuple(self._evt.EvtNext(subscription, count, 0))
        except self._error as exc:
            if exc.winerror in (ERROR_NO_MORE_ITEMS, ERROR_TIMEOUT):
                return ()
            if exc.winerror == ERROR_EVT_QUERY_RESULT_STALE:
                raise EventsMissing(str(exc)) from exc
            raise

    def render_event(self, event: Any) -> str:
        return str(self._evt.EvtRender(event, EVT_RENDER_EVENT_XML))

    def create_bookmark(self, xml: str | None) -> Any:
        return self._evt.EvtCreateBookmark(xml)

    def update_bookmark(self, bookmark: Any, event: Any) -> None:
        self._evt.EvtUpdateBookmark(bookmark, event)

    def render_bookmark(self, bookmark: Any) -> str:
        return str(self._evt.EvtRender(bookmark, EVT_RENDER_BOOKMARK))

    def close(self, handle: Any) -> None:
        close = getattr(handle, "Close", None)
        if close is not None:
            close()


class Pywin32EventLogApi:
    """:class:`EventLogApi` through pywin32's ``OpenEventLog`` / ``ReadEventLog``."""

    def __init__(self, log: str = "Security", server: str | None = None) -> None:
        self._evt = _pywin32("win32evtlog")
        self._handle = self._evt.OpenEventLog(server, log)

    def oldest(self) -> int:
        return int(self._evt.GetOldestEventLogRecord(self._handle))

    def count(self) -> int:
        return int(self._evt.GetNumberOfEventLogRecords(self._handle))

    def read(self, record_number: int, count: int) -> list[LegacyRecord]:
        flags = EVENTLOG_SEEK_READ | EVENTLOG_FORWARDS_READ
        found: list[LegacyRecord] = []
        while len(found) < count:
            start = (record_number + len(found)) % _RECORD_MODULUS
            batch = self._evt.ReadEventLog(self._handle, flags, start)
            if not batch:
                break
            found.extend(_from_pywin32(raw) for raw in batch[: count - len(found)])
        return found


def _from_pywin32(raw: Any) -> LegacyRecord:
    """A pywin32 ``PyEventLogRecord`` as a :class:`LegacyRecord`."""
    return LegacyRecord(
        record_number=int(raw.RecordNumber),
        event_id=int(raw.EventID) & 0xFFFF,
        time_generated=int(raw.TimeGenerated.timestamp()),
        computer=str(raw.ComputerName),
        source=str(raw.SourceName),
        strings=tuple(str(s) for s in raw.StringInserts or ()),
    )
