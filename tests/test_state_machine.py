"""The correlator against its reference, driven by a hypothesis state machine.

:class:`correlog.testing.ReferenceCorrelator` is the documented semantics written plainly (see
``docs/policy.md``). After every step the fast correlator must have emitted exactly the records
the reference did (every field, in the same order), hold the same open set, stay within
``max_open``, and never emit an event twice; at the end every event fed is in exactly one record.
"""

from __future__ import annotations

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

from correlog import Correlator, EventKind, ProcessEvent, Record, UsageError
from correlog.testing import ReferenceCorrelator

S = 1_000_000_000
TTL = 10
#: Time steps: mostly whole seconds (logs have 1 s resolution, and deadlines land exactly on
#: them), sometimes any number of nanoseconds.
steps = st.integers(0, 2 * TTL).map(lambda n: n * S) | st.integers(0, 2 * TTL * S)
IDS = {EventKind.CREATED: 592, EventKind.TOKEN_ASSIGNED: 600, EventKind.EXITED: 593}


class CorrelatorMachine(RuleBasedStateMachine):
    @initialize(max_open=st.integers(1, 6), memo_size=st.integers(0, 2))
    def setup(self, max_open: int, memo_size: int) -> None:
        options = {"ttl": TTL, "max_open": max_open, "max_skew": 10**9, "memo_size": memo_size}
        self.corr = Correlator(**options)
        self.reference = ReferenceCorrelator(**options)
        self.max_open = max_open
        self.now = 1_000_000 * S
        self.record_number = 0
        self.seen: set[tuple[int | None, int | None]] = set()
        self.fed = 0
        self.closed = False

    def _check(self, got: list[Record], want: list[Record]) -> None:
        assert got == want
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
        creator=st.none() | st.sampled_from([4, 8]),
        step=steps,
        user=st.none() | st.just("IUSR_X"),
    )
    def event(
        self, kind: EventKind, host: str, pid: int, creator: int | None, step: int, user: str | None
    ) -> None:
        self.now += step
        self.record_number += 1
        ev = ProcessEvent(
            kind=kind,
            host=host,
            pid=pid,
            time=self.now,
            event_id=IDS[kind],
            record_number=self.record_number,
            image=f"{pid}.exe",
            user=user,
            creator_pid=creator,
        )
        self.fed += 1
        self._check(self.corr.feed(ev), self.reference.feed(ev))

    @precondition(lambda self: not self.closed)
    @rule(step=steps)
    def advance(self, step: int) -> None:
        self.now += step
        self._check(self.corr.advance(self.now), self.reference.advance(self.now))

    @precondition(lambda self: not self.closed)
    @rule()
    def close(self) -> None:
        self._check(self.corr.close(), self.reference.close())
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
        assert len(self.corr) == len(self.reference) <= self.max_open
        if not self.closed:
            assert self.corr.open_records() == self.reference.open_records()

    @invariant()
    def conservation(self) -> None:
        held = 0 if self.closed else sum(len(r.provenance) // 2 for r in self.corr.open_records())
        assert len(self.seen) + held == self.fed

    @invariant()
    def same_counters(self) -> None:
        assert self.corr.stats == self.reference.stats


CorrelatorMachine.TestCase.settings = settings(
    CorrelatorMachine.TestCase.settings, max_examples=150, stateful_step_count=60
)
TestCorrelatorMachine = CorrelatorMachine.TestCase
