"""The fast correlator equals its plain reference, call for call, field for field.

:class:`correlog.testing.ReferenceCorrelator` is the specification, written from the lifecycle
and merge tables; :class:`correlog.Correlator` is the hand-specialised fold. Hypothesis drives
both with the same calls over every feature (any field on any event kind, clock jumps and skew,
record numbers that grow, repeat, go back or are missing, two hosts and two logs, restarts, log
clears and lost audits, the ordering window, small ``max_open``, ttl and memo) and every answer
must be the same: the records (every field), the errors, the snapshots and the counters.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from correlog import Correlator, Record
from correlog.testing import ReferenceCorrelator

from .strategies import correlator_calls, correlator_settings


def _call(corr: Any, call: tuple[Any, ...]) -> tuple[str, Any]:
    """Run one call; its answer, or the error's type and the records it carried."""
    verb, *args = call
    try:
        if verb == "snapshot":
            return ("ok", corr.snapshot(*args))
        result = getattr(corr, verb)(*args)
    except Exception as exc:  # compared, not hidden: both must fail alike
        return (type(exc).__name__, getattr(exc, "records", None))
    return ("ok", result)


def _state(corr: Any) -> tuple[Any, ...]:
    return (len(corr), corr.closed, corr.stats.as_dict(), list(_open(corr)))


def _open(corr: Any) -> list[Record]:
    return [] if corr.closed else list(corr.open_records())


@settings(max_examples=400)
@given(options=correlator_settings, calls=correlator_calls())
def test_correlator_equals_reference(options: dict[str, Any], calls: list[tuple[Any, ...]]) -> None:
    fast = Correlator(**options)
    reference = ReferenceCorrelator(**options)
    for step, call in enumerate(calls):
        got = _call(fast, call)
        want = _call(reference, call)
        assert got == want, f"call {step} {call[0]} answered differently"
        assert _state(fast) == _state(reference), f"state after call {step} {call[0]} differs"


@settings(max_examples=100)
@given(options=correlator_settings, calls=correlator_calls(), chunk=st.integers(1, 5))
def test_process_equals_reference(
    options: dict[str, Any], calls: list[tuple[Any, ...]], chunk: int
) -> None:
    events = [ev for call in calls if call[0] == "feed" for ev in call[1:]]
    fast = list(Correlator(**options).process(events, chunk=chunk))
    assert fast == list(ReferenceCorrelator(**options).process(events, chunk=chunk))


def test_one_exit_means_one_record_on_every_path() -> None:
    """The drift that the reference found: an exit that carries creation-only fields (a command
    line, an integrity level, a creator pid) gave different records from ``merge``, the fold's
    orphan branch, ``single_record`` and the late path. All four now say what ``merge`` says."""
    from correlog import Reason, merge, single_record
    from correlog.testing import exited

    ev = exited(
        8, 1, rn=5, command_line="cmd /c whoami", integrity="High", creator_pid=3120, extra={}
    )
    policy = merge([ev])
    policy_fields = set(policy)

    def merged_part(record: Record | None) -> dict[str, Any]:
        assert record is not None
        return {name: getattr(record, name) for name in policy_fields}

    (orphan,) = Correlator().feed(ev)
    assert orphan.reason is Reason.ORPHAN
    single = single_record(ev)
    window = Correlator(lateness=10)
    window.feed(exited(8, 30, rn=6))  # releases nothing, but moves the watermark past ev
    window.advance(ev.time + 60 * 10**9)
    (late,) = window.feed(ev)
    assert late.reason is Reason.LATE
    assert merged_part(orphan) == merged_part(single) == merged_part(late) == policy
    assert policy["command_line"] is None
    assert policy["creator_pid"] is None
