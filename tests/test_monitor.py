"""The monitor: alerts as early as the events allow, one per process and rule."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any
from unittest import mock

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from correlog import (
    Alert,
    Correlator,
    Event,
    HostEvent,
    HostEventKind,
    Layout,
    Monitor,
    Reason,
    Record,
    SingleEventMonitor,
    UsageError,
    _monitor,
)
from correlog.rules import AnonymousWeb, AuditTamper, RuleLike, WebServerChild, rule_name
from correlog.testing import T0, created, exited, token

from .strategies import S, correlator_calls, correlator_settings


def _record(alert: Alert) -> Record:
    """The process an alert is about (every alert here is about one)."""
    assert alert.record is not None
    return alert.record


def alerts_of(monitor: Monitor | SingleEventMonitor, *events: object) -> list[Alert]:
    out: list[Alert] = []
    for event in events:
        out.extend(monitor.feed(event))  # type: ignore[arg-type]
    return out


class TestNormalMode:
    def test_windows_2000_alerts_at_the_593_that_names_iusr(self) -> None:
        monitor = Monitor([AnonymousWeb()])
        c = created(1452, host="iis01", image=r"\WINNT\system32\cmd.exe", creator_pid=1020)
        e = exited(
            1452,
            1,
            host="iis01",
            image=None,
            user="IUSR_IIS01",
            domain="IIS01",
            layout=Layout.NT4_2000,
        )
        assert monitor.feed(c) == []
        [alert] = monitor.feed(e)
        assert (alert.rule, alert.host, alert.pid) == ("anonymous-web", "iis01", 1452)
        assert alert.image == r"\WINNT\system32\cmd.exe"
        assert alert.user == "IUSR_IIS01"
        assert alert.event_id == 593
        assert alert.time == e.time
        assert _record(alert).reason is Reason.EXITED

    def test_windows_2003_alerts_at_the_600_although_the_process_never_exits(self) -> None:
        monitor = Monitor([AnonymousWeb()])
        assert monitor.feed(created(2216, 5)) == []
        [alert] = monitor.feed(token(2216, 5))
        assert alert.event_id == 600
        assert _record(alert).reason is Reason.OPEN
        assert monitor.close() == []  # and not a second time when flushed

    def test_one_alert_per_process_even_when_600_and_593_both_qualify(self) -> None:
        monitor = Monitor([AnonymousWeb()])
        alerts = alerts_of(monitor, created(2216), token(2216), exited(2216, 1))
        assert [a.event_id for a in alerts] == [600]

    def test_a_reused_pid_is_a_new_process_that_may_alert_again(self) -> None:
        monitor = Monitor([AnonymousWeb()])
        alerts = alerts_of(monitor, created(8), token(8), created(8, 20), token(8, 20))
        assert [a.event_id for a in alerts] == [600, 600]

    def test_the_allowed_script_host_does_not_alert(self) -> None:
        monitor = Monitor([AnonymousWeb()])
        php = r"C:\PHP\php.exe"
        assert (
            alerts_of(
                monitor,
                created(2208, image=php),
                token(2208, image=php),
                exited(2208, 1, image=php),
            )
            == []
        )

    def test_records_go_to_on_record_and_several_rules_each_alert_once(self) -> None:
        records: list[Record] = []
        monitor = Monitor([AnonymousWeb(), WebServerChild()], on_record=records.append)
        alerts = alerts_of(monitor, created(2216), token(2216), exited(2216, 1))
        assert sorted(a.rule for a in alerts) == ["anonymous-web", "web-server-child"]
        assert [r.reason for r in records] == [Reason.EXITED]

    def test_the_parent_rule_fires_on_the_592_when_the_creators_592_was_seen(self) -> None:
        monitor = Monitor([WebServerChild()])
        httpd = r"C:\Apache\bin\httpd.exe"
        monitor.feed(created(600, image=httpd, creator_pid=4))
        [alert] = monitor.feed(created(640, image=r"C:\WINNT\system32\cmd.exe", creator_pid=600))
        assert alert.event_id == 592
        assert _record(alert).creator_image == httpd

    def test_expiry_and_close_let_rules_see_final_records(self) -> None:
        seen: list[Reason] = []

        def spy(record: Record) -> bool:
            seen.append(record.reason)
            return record.reason is Reason.EXPIRED

        monitor = Monitor([spy], correlator=Correlator(ttl=60))
        monitor.feed(created(8))
        [alert] = monitor.advance(created(8).time + 61 * 1_000_000_000)
        assert _record(alert).reason is Reason.EXPIRED
        assert seen == [Reason.OPEN, Reason.EXPIRED]

    def test_with_an_ordering_window_the_alert_comes_when_the_window_lets_the_600_go(
        self,
    ) -> None:
        monitor = Monitor([AnonymousWeb()], correlator=Correlator(lateness=5))
        assert monitor.feed(created(2216, 0, rn=1)) == []
        assert monitor.feed(token(2216, 0, rn=2)) == []  # waiting in the window
        [alert] = monitor.feed(created(40, 6, rn=3))  # the watermark passes: released
        assert (alert.pid, _record(alert).reason) == (2216, Reason.OPEN)
        assert monitor.close() == []

    def test_with_an_ordering_window_advance_and_close_release_and_alert(self) -> None:
        monitor = Monitor([AnonymousWeb()], correlator=Correlator(lateness=5))
        monitor.feed(created(2216, 0, rn=1))
        monitor.feed(token(2216, 0, rn=2))
        [alert] = monitor.advance(token(2216, 0).time + 5 * 1_000_000_000)
        assert alert.pid == 2216
        other = Monitor([AnonymousWeb()], correlator=Correlator(lateness=5))
        other.feed(created(8, 0, rn=1))
        other.feed(token(8, 0, rn=2))
        [flushed] = other.close()
        assert _record(flushed).reason is Reason.FLUSHED

    def test_rules_must_be_callables_with_unique_names(self) -> None:
        with pytest.raises(UsageError):
            Monitor([])
        with pytest.raises(UsageError):
            Monitor(["not callable"])  # type: ignore[list-item]
        with pytest.raises(UsageError):
            Monitor([AnonymousWeb(), AnonymousWeb()])


class TestSingleEventMode:
    def test_a_600_alone_alerts_and_the_593_of_the_same_process_does_not_again(self) -> None:
        monitor = SingleEventMonitor([AnonymousWeb()])
        alerts = alerts_of(monitor, created(2216), token(2216), exited(2216, 1))
        assert [a.event_id for a in alerts] == [600]
        assert _record(alerts[0]).reason is Reason.SINGLE

    def test_an_xp_593_alone_is_enough(self) -> None:
        monitor = SingleEventMonitor([AnonymousWeb()])
        [alert] = monitor.feed(exited(2216, 1))
        assert alert.event_id == 593

    def test_windows_2000_cannot_alert_from_single_events(self) -> None:
        monitor = SingleEventMonitor([AnonymousWeb()])
        events = (
            created(1452, image=r"\WINNT\system32\cmd.exe"),
            exited(1452, 1, image=None, user="IUSR_IIS01"),
        )
        assert alerts_of(monitor, *events) == []

    def test_a_new_process_on_an_alerted_pid_alerts_again(self) -> None:
        monitor = SingleEventMonitor([AnonymousWeb()])
        alerts = alerts_of(monitor, token(8), created(8, 20), token(8, 20))
        assert len(alerts) == 2

    def test_feed_many_alerts_as_feed_does(self) -> None:
        events = [token(8), created(8, 20), token(8, 20), exited(8, 20), token(12), exited(12, 1)]
        one_by_one = alerts_of(SingleEventMonitor([AnonymousWeb()]), *events)
        batched = SingleEventMonitor([AnonymousWeb()]).feed_many(events)
        assert [(a.pid, a.event_id) for a in batched] == [(a.pid, a.event_id) for a in one_by_one]
        assert [(a.pid, a.event_id) for a in batched] == [(8, 600), (8, 600), (12, 600)]

    def test_host_events_are_ignored_and_non_events_refused(self) -> None:
        monitor = SingleEventMonitor([AnonymousWeb()])
        restart = HostEvent(HostEventKind.HOST_STARTED, "iis02", 0, 512, None)
        assert monitor.feed(restart) == []
        assert monitor.feed_many([restart, token(8)])[0].event_id == 600
        for bad in ("592", None):
            with pytest.raises(UsageError, match="not an event"):
                monitor.feed(bad)  # type: ignore[arg-type]
            with pytest.raises(UsageError, match="not an event"):
                monitor.feed_many([bad])  # type: ignore[list-item]

    def test_the_same_verbs_as_the_correlating_monitor(self) -> None:
        monitor = SingleEventMonitor([AnonymousWeb()])
        assert monitor.advance(10**18) == []
        assert monitor.close() == []
        with pytest.raises(UsageError, match="int nanoseconds"):
            monitor.advance(1.5)  # type: ignore[arg-type]
        with pytest.raises(UsageError, match="at least one rule"):
            SingleEventMonitor([])


class TestHostEventRules:
    def test_a_cleared_log_alerts_on_the_host_in_both_monitors(self) -> None:
        from correlog import HostEvent, HostEventKind
        from correlog.rules import AuditTamper

        clear = HostEvent(HostEventKind.LOG_CLEARED, "iis02", 5, 1102, None)
        restart = HostEvent(HostEventKind.HOST_STARTED, "iis02", 6, 4608, None)
        for monitor in (
            Monitor([AnonymousWeb(), AuditTamper()]),
            SingleEventMonitor([AnonymousWeb(), AuditTamper()]),
        ):
            (alert,) = monitor.feed_many([clear, restart])
            assert (alert.rule, alert.host, alert.event_id) == ("audit-tamper", "iis02", 1102)
            assert alert.record is None
            assert alert.pid is None
            assert alert.to_json()["record"] is None


# -- the batched path against the plain one ----------------------------------------------------


class _AskedAlways:
    """A rule as the plain monitor asks it: every time (no ``fields`` to say when it may not)."""

    def __init__(self, rule: RuleLike) -> None:
        self.rule = rule
        self.name = rule_name(rule)
        if callable(getattr(rule, "host_event", None)):
            self.host_event = rule.host_event  # type: ignore[attr-defined]

    def __call__(self, record: Record) -> str | bool | None:
        return self.rule(record)


@attrs.frozen
class _Constant:
    """A rule that reads no field of the record: the same answer for every one."""

    name: str
    answer: str | None
    record_fields: frozenset[str] = frozenset()

    def __call__(self, record: Record) -> str | None:
        return self.answer


#: Sigma rules (``watch --sigma``) that the generated events can match.
_SIGMA_RULES = (
    {"sel": {"Image|endswith": "a.exe"}, "condition": "sel"},
    {
        "sel": {"User|contains": "IUSR"},
        "filter": {"Image": None},
        "condition": "sel and not filter",
    },
    {"sel": {"CommandLine|contains": "whoami"}, "condition": "sel"},
)


def _rules(kinds: list[str]) -> list[RuleLike]:
    rules: list[RuleLike] = []
    for kind in kinds:
        if kind == "web":
            rules += [AnonymousWeb(), WebServerChild(servers=["w3wp.exe"], allow=["php.exe"])]
        elif kind == "tamper":
            rules.append(AuditTamper())
        elif kind == "constant":
            rules += [_Constant("never", None), _Constant("always", "constant")]
        else:
            sigma = pytest.importorskip("correlog.sigma")
            rules += sigma.RuleSet(_sigma_rules()).monitor_rules()
    return rules


@functools.cache
def _sigma_rules() -> list[Any]:
    """The Sigma rules compiled once (a set of them is made per monitor)."""
    from correlog.sigma import SigmaRule

    return [
        SigmaRule.from_dict(
            {
                "title": f"sigma {i}",
                "id": f"00000000-0000-4000-8000-00000000000{i}",
                "logsource": {"category": "process_creation", "product": "windows"},
                "detection": detection,
            }
        )
        for i, detection in enumerate(_SIGMA_RULES)
    ]


_rule_kinds = st.lists(
    st.sampled_from(["web", "tamper", "constant", "sigma"]), min_size=1, max_size=4, unique=True
)


def _groups(calls: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Consecutive ``feed``/``feed_many`` calls as one ``("stream", events)``; others as given."""
    out: list[tuple[Any, ...]] = []
    for call in calls:
        if call[0] in ("feed", "feed_many"):
            events = [call[1]] if call[0] == "feed" else call[1]
            if out and out[-1][0] == "stream":
                out[-1][1].extend(events)
            else:
                out.append(("stream", list(events)))
        elif call[0] != "snapshot":
            out.append(call)
    return out


def _drive(
    make: Callable[[Callable[[Record], object]], Monitor | SingleEventMonitor],
    calls: list[tuple[Any, ...]],
    plain: bool,
) -> tuple[list[object], Any]:
    """Run ``calls``; what came out, records and alerts (and errors) in order, and the state."""
    log: list[object] = []
    monitor = make(log.append)
    for call in _groups(calls):
        try:
            if call[0] == "stream" and plain:
                for event in call[1]:
                    log.extend(monitor.feed(event))
            elif call[0] == "stream":
                monitor.feed_stream(call[1], log.append)
            elif call[0] == "advance":
                log.extend(monitor.advance(call[1], call[2]))
            else:
                log.extend(monitor.close())
        except UsageError as exc:
            log.append(("error", str(exc)))
    return log, monitor.state()


@settings(max_examples=100)
@given(
    calls=correlator_calls(),
    config=correlator_settings,
    kinds=_rule_kinds,
    batch=st.sampled_from([1, 2, 3, 1024]),
    single=st.booleans(),
)
def test_the_batched_monitor_says_what_the_plain_one_says(
    calls: list[tuple[Any, ...]],
    config: dict[str, Any],
    kinds: list[str],
    batch: int,
    single: bool,
) -> None:
    """``feed_stream`` (what ``watch`` runs, and ``feed_many``) against ``feed`` on each event
    with every rule asked every time: the same records and alerts, in the same order, the same
    state, whatever the batch size, the rules (web, audit-tamper, Sigma, rules that read no
    field), the correlator's settings (ordering window, bounds, ttl) and the mode."""

    def make(asked_always: bool) -> Callable[[Callable[[Record], object]], Any]:
        def build(on_record: Callable[[Record], object]) -> Monitor | SingleEventMonitor:
            rules = _rules(kinds)
            if asked_always:
                rules = [_AskedAlways(rule) for rule in rules]
            if single:
                return SingleEventMonitor(rules, on_record=on_record)
            return Monitor(rules, correlator=Correlator(**config), on_record=on_record)

        return build

    with mock.patch.object(_monitor, "_BATCH", batch):
        batched = _drive(make(False), calls, plain=False)
    assert batched == _drive(make(True), calls, plain=True)


def test_feed_many_returns_what_feed_returns_one_event_at_a_time() -> None:
    events: list[Event] = [
        created(1452, 1, host="iis01", image=r"C:\inetpub\scripts\x.exe", creator_pid=20),
        token(1452, 2, host="iis01", user="IUSR_IIS01", domain="IIS01"),
        created(1460, 3, host="iis01", image=r"C:\w\cmd.exe", creator_pid=1452),
        token(1460, 4, host="iis01", user="IUSR_IIS01", domain="IIS01"),
        exited(1452, 5, host="iis01"),
        HostEvent(kind=HostEventKind.LOG_CLEARED, host="iis01", time=T0 + 6 * S, event_id=517),
    ]
    plain, batched = (
        Monitor([AnonymousWeb(), AuditTamper()]),
        Monitor([AnonymousWeb(), AuditTamper()]),
    )
    expected = alerts_of(plain, *events)
    assert [a.rule for a in expected] == ["anonymous-web", "anonymous-web", "audit-tamper"]
    assert batched.feed_many(events) == expected
    assert [a.event_id for a in expected] == [600, 600, 517]  # each names its own event


def test_a_rule_that_reads_no_field_is_asked_once_when_it_says_no() -> None:
    asked: list[Record] = []

    @attrs.frozen
    class Quiet:
        name: str = "quiet"
        record_fields: frozenset[str] = frozenset()

        def __call__(self, record: Record) -> None:
            asked.append(record)

    monitor = Monitor([Quiet(), AnonymousWeb()])
    monitor.feed_many([created(1, 1), created(2, 2), exited(1, 3)])
    assert len(asked) == 1


def test_a_rule_with_a_fields_attribute_of_its_own_is_still_asked_about_every_record() -> None:
    """Only ``record_fields`` tells the monitor what a rule reads: a Sigma rule's ``fields`` (its
    view fields, empty for a keyword rule) must not make the monitor stop asking it."""

    @attrs.frozen
    class KeywordRule:
        name: str = "keyword"
        fields: frozenset[str] = frozenset()

        def __call__(self, record: Record) -> bool:
            return record.image is not None and record.image.endswith("b.exe")

    monitor = Monitor([KeywordRule()])
    alerts = (
        monitor.feed_many(
            [
                created(1, 0, image="a.exe"),
                exited(1, 1, image="a.exe"),
                created(2, 2, image="b.exe"),
            ]
        )
        + monitor.close()
    )
    assert [alert.pid for alert in alerts] == [2]


def test_a_final_record_whose_values_a_rule_judged_is_not_asked_again() -> None:
    """The verdict on a final record is kept by the values of the fields the rule reads: the
    second process with the same image and reason is not asked, and still alerts."""
    asked: list[Record] = []

    @attrs.frozen
    class Counting:
        name: str = "counting"
        record_fields: frozenset[str] = frozenset({"image", "reason"})

        def __call__(self, record: Record) -> str | None:
            asked.append(record)
            if record.reason is Reason.OPEN or record.image != "b.exe":
                return None
            return f"ran {record.image}"

    images = ["a.exe", "a.exe", "b.exe", "b.exe"]
    events: list[Event] = [created(n, n, image=image) for n, image in enumerate(images, 1)]
    events += [exited(n, 10 + n) for n in range(1, 5)]
    for batched in (True, False):
        asked.clear()
        monitor = Monitor([Counting()])
        if batched:
            alerts = monitor.feed_many(events)
        else:
            alerts = [alert for event in events for alert in monitor.feed(event)]
        assert [(alert.pid, alert.message) for alert in alerts] == [
            (3, "ran b.exe"),
            (4, "ran b.exe"),
        ]
        assert [r.pid for r in asked if r.reason is not Reason.OPEN] == [1, 3]


@pytest.mark.parametrize("kinds", [["web"], ["web", "tamper", "sigma"]])
def test_verdicts_kept_for_open_processes_are_those_the_rules_give(kinds: list[str]) -> None:
    """A rule that names the fields it reads is not asked again about an open process whose
    fields hold values it already judged: processes that agree on the owner and differ in the
    image (allowed or not) still get each their own verdict, message included."""
    events: list[Event] = []
    images = [r"C:\w\cmd.exe", r"C:\php\php.exe", r"C:\w\net.exe", r"C:\w\cmd.exe"]
    for n, image in enumerate(images * 2):
        pid, t = 100 + n, 2 * n
        events += [created(pid, t, image=image, creator_pid=7), token(pid, t + 1, user="IUSR_A")]
    events += [exited(100 + n, 30 + n) for n in range(len(images))]
    remembering = Monitor(_rules(kinds))
    asking = Monitor([_AskedAlways(rule) for rule in _rules(kinds)])
    got = remembering.feed_many(events) + remembering.close()
    assert got == asking.feed_many(events) + asking.close()
    assert sorted(a.message for a in got if a.rule == "anonymous-web") == sorted(
        f"IUSR_A ran {image}" for image in images * 2 if "php" not in image
    )
    assert remembering._open_verdicts["anonymous-web"].known  # they were remembered
