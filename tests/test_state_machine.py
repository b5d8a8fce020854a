"""The correlator against a simple model, driven by a hypothesis state machine.

The model is what the docs promise, written the obvious way: a dict of open processes in arrival
order, a clock per host, and the rules for when each record comes out. After every step the
correlator must have emitted exactly the records the model did (same process, reason, status and
events, in the same order), hold the same open set, stay within ``max_open``, and never emit an
event twice.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from correlog import Correlator, EventKind, ProcessEvent, Reason, Record, Status, UsageError

S = 1_000_000_000
TTL = 10
#: Time steps: mostly whole seconds (logs have 1 s resolution, and deadlines land exactly on
#: them), sometimes any number of nanoseconds.
steps = st.integers(0, 2 * TTL).map(lambda n: n * S) | st.integers(0, 2 * TTL * S)
IDS = {EventKind.CREATED: 592, EventKind.TOKEN_ASSIGNED: 600, EventKind.EXITED: 593}

Key = tuple[str, int]
# (host, pid, reason, status, provenance)
Summary = tuple[str, int, Reason, Status, tuple[int | None, ...]]


class Model:
    """The documented semantics, with no attention to speed."""

    def __init__(self, max_open: int) -> None:
        self.max_open = max_open
        self.clock: dict[str, int] = {}
        # key -> [first_seen, provenance, has_creation]; dict order is arrival order.
        self.open: dict[Key, list[Any]] = {}

    def _close(self, key: Key, reason: Reason, out: list[Summary], ended: bool = False) -> None:
        _, prov, has_creation = self.open.pop(key)
        complete = has_creation and ended
        status = Status.COMPLETE if complete else Status.PARTIAL
        out.append((key[0], key[1], reason, status, tuple(prov)))

    def _tick(self, host: str, t: int, out: list[Summary]) -> None:
        self.clock[host] = max(self.clock.get(host, t), t)
        due = [
            key
            for key, (first_seen, _, _) in self.open.items()
            if key[0] == host and first_seen + TTL * S <= self.clock[host]
        ]
        for key in due:
            self._close(key, Reason.EXPIRED, out)

    def _open(
        self, key: Key, prov: list[int | None], has_creation: bool, out: list[Summary]
    ) -> None:
        self.open[key] = [self.clock[key[0]], prov, has_creation]
        while len(self.open) > self.max_open:
            self._close(next(iter(self.open)), Reason.EVICTED, out)

    def feed(self, ev: ProcessEvent) -> list[Summary]:
        out: list[Summary] = []
        key = (ev.host, ev.pid)
        mine = [ev.event_id, ev.record_number]
        # A host's clock starts at its first event; then only events that open an entry move it.
        self.clock.setdefault(ev.host, ev.time)
        if ev.kind is EventKind.CREATED:
            self._tick(ev.host, ev.time, out)
            if key in self.open:
                self._close(key, Reason.SUPERSEDED, out)
            self._open(key, mine, True, out)
        elif ev.kind is EventKind.TOKEN_ASSIGNED:
            if key in self.open:
                self.open[key][1].extend(mine)
            else:
                self._tick(ev.host, ev.time, out)
                self._open(key, mine, False, out)
        elif key in self.open:
            self.open[key][1].extend(mine)
            self._close(key, Reason.EXITED, out, ended=True)
        else:
            out.append((ev.host, ev.pid, Reason.ORPHAN, Status.PARTIAL, tuple(mine)))
        return out

    def advance(self, t: int) -> list[Summary]:
        out: list[Summary] = []
        for host in list(self.clock):
            self._tick(host, t, out)
        return out

    def close(self) -> list[Summary]:
        out: list[Summary] = []
        for key in list(self.open):
            self._close(key, Reason.FLUSHED, out)
        return out


def summary(records: list[Record]) -> list[Summary]:
    return [(r.host, r.pid, r.reason, r.status, r.provenance) for r in records]


class CorrelatorMachine(RuleBasedStateMachine):
    @initialize(max_open=st.integers(1, 6))
    def setup(self, max_open: int) -> None:
        # max_skew is huge so the clock guard never holds a step; it has its own tests.
        self.corr = Correlator(ttl=TTL, max_open=max_open, max_skew=10**9)
        self.model = Model(max_open)
        self.now = 1_000_000 * S
        self.record_number = 0
        self.seen: set[tuple[int | None, int | None]] = set()
        self.fed = 0
        self.closed = False

    def _check(self, got: list[Record], want: list[Summary]) -> None:
        assert summary(got) == want
        for record in got:
            p = record.provenance
            for pair in zip(p[0::2], p[1::2], strict=True):
                assert pair not in self.seen, f"event {pair} emitted twice"
                self.seen.add(pair)

    @precondition(lambda self: not self.closed)
    @rule(
        kind=st.sampled_from(list(IDS)),
        host=st.sampled_from(["a", "b"]),
        pid=st.sampled_from([4, 8, 12]),
        step=steps,
        user=st.none() | st.just("IUSR_X"),
    )
    def event(self, kind: EventKind, host: str, pid: int, step: int, user: str | None) -> None:
        self.now += step
        self.record_number += 1
        ev = ProcessEvent(
            kind=kind,
            host=host,
            pid=pid,
            time=self.now,
            event_id=IDS[kind],
            record_number=self.record_number,
            image="x.exe",
            user=user,
        )
        self.fed += 1
        self._check(self.corr.feed(ev), self.model.feed(ev))

    @precondition(lambda self: not self.closed)
    @rule(step=steps)
    def advance(self, step: int) -> None:
        self.now += step
        self._check(self.corr.advance(self.now), self.model.advance(self.now))

    @precondition(lambda self: not self.closed)
    @rule()
    def close(self) -> None:
        self._check(self.corr.close(), self.model.close())
        self.closed = True
        assert len(self.seen) == self.fed, "every event is in exactly one record"

    @precondition(lambda self: self.closed)
    @rule(pid=st.sampled_from([4, 8]))
    def feed_after_close_is_refused(self, pid: int) -> None:
        ev = ProcessEvent(kind=EventKind.EXITED, host="a", pid=pid, time=self.now, event_id=593)
        with pytest.raises(UsageError):
            self.corr.feed(ev)
        assert self.corr.close() == []

    @invariant()
    def same_open_set(self) -> None:
        assert len(self.corr) == len(self.model.open) <= self.model.max_open
        for key in self.model.open:
            assert key in self.corr

    @invariant()
    def conservation(self) -> None:
        assert len(self.seen) + sum(len(v[1]) // 2 for v in self.model.open.values()) == self.fed


CorrelatorMachine.TestCase.settings = settings(
    CorrelatorMachine.TestCase.settings, max_examples=150, stateful_step_count=60
)
TestCorrelatorMachine = CorrelatorMachine.TestCase
