"""Fuzzing every reader and the archive layer: hostile bytes give events or counted skips.

Each example damages a format's sample (flipped bytes, truncation, NULs, another encoding, huge
fields, deep nesting, absurd years and numbers, noise; see ``tests/fuzz_inputs.py``) and reads
it with ``errors="skip"``, under a per-example deadline and a traced memory bound. Zero untyped
exceptions is the invariant; ``benchmarks/fuzz.py`` runs the same check for longer.
"""

from __future__ import annotations

import datetime as dt
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .fuzz_inputs import FORMAT_NAMES, SAMPLES, check, mutate, wrap

# Generous next to what an input takes (milliseconds), far below what a hang takes.
PER_INPUT = settings(
    deadline=dt.timedelta(seconds=10),
    max_examples=40,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
seeds = st.integers(0, 2**32 - 1)


@pytest.mark.parametrize("fmt", FORMAT_NAMES)
@PER_INPUT
@given(seed=seeds, rounds=st.integers(1, 3), detect=st.booleans())
def test_mutated_samples(fmt: str, seed: int, rounds: int, detect: bool) -> None:
    rng = random.Random(seed)
    data = SAMPLES[fmt]
    for _ in range(rounds):
        data = mutate(data, rng)
    check(data, "auto" if detect else fmt)


@pytest.mark.parametrize("fmt", FORMAT_NAMES)
def test_samples_read_cleanly(fmt: str) -> None:
    events, skips = check(SAMPLES[fmt], fmt)
    assert events >= 1
    assert skips == 0


@PER_INPUT
@given(data=st.binary(max_size=4096), fmt=st.sampled_from(("auto", *FORMAT_NAMES)))
def test_random_bytes(data: bytes, fmt: str) -> None:
    check(data, fmt)


@PER_INPUT
@given(seed=seeds, fmt=st.sampled_from(FORMAT_NAMES))
def test_archives_of_mutated_samples(seed: int, fmt: str) -> None:
    rng = random.Random(seed)
    data = SAMPLES[fmt]
    if rng.random() < 0.5:
        data = mutate(data, rng)
    check(wrap(data, rng), max_nesting=2, max_members=4)


@settings(deadline=dt.timedelta(seconds=30), max_examples=10)
@given(seed=seeds)
def test_evtx_mutations(seed: int) -> None:
    pytest.importorskip("evtx")
    rng = random.Random(seed)
    # A header and one chunk header, then noise: the crate meets damaged chunks.
    data = b"ElfFile\x00" + bytes(34) + (1).to_bytes(2, "little") + bytes(4052)
    data += b"ElfChnk\x00" + rng.randbytes(65536 - 8)
    check(mutate(data, rng), evtx_timeout=10)
