"""One bounded memo for the output path, and one way to empty every memo (for tests).

A :class:`Memo` is a ``dict`` whose ``__missing__`` computes the value, stores it and returns it,
so a hit costs one dictionary lookup and no Python frame: call sites read ``TEXT[value]``. The
bound policy is the simplest that keeps memory flat whatever the input: when a memo holds
``bound`` entries, the next miss empties it. Output values repeat in bursts (one host's names,
one second's time prefix), so a memo refills with what is hot within a few records.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["Memo", "clear_caches"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

_ALL: list[Memo[object, object]] = []


class Memo(dict[K, V], Generic[K, V]):
    """``memo[key]`` is ``make(key)``, computed once while at most ``bound`` keys are kept."""

    __slots__ = ("bound", "make")

    def __init__(self, make: Callable[[K], V], bound: int) -> None:
        super().__init__()
        self.make = make
        self.bound = bound
        _ALL.append(self)  # type: ignore[arg-type]

    def __missing__(self, key: K) -> V:
        value = self.make(key)
        if len(self) >= self.bound:
            self.clear()
        self[key] = value
        return value


def clear_caches() -> None:
    """Empty every output memo (tests use it to start from a known state)."""
    for memo in _ALL:
        memo.clear()
