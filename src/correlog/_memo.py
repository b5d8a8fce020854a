"""One bounded memo for the decoders' and readers' text caches.

A :class:`Memo` is a ``dict`` from raw text to its normalized value, filled by ``__missing__``
(the hook :class:`collections.defaultdict` and cachetools document): a hit is a plain dict
lookup with no Python frame, and the call site reads ``HOSTS[raw]``. A miss calls the memo's
``make`` function; what ``make`` raises propagates and nothing is stored, so only values that
were read successfully are remembered.

Bound policy, the same for every memo: when a memo holds ``bound`` entries and a new key
arrives, the memo is emptied first. A working set (the hosts, accounts and images of a log)
refills it within a few lines, no hit pays for recency bookkeeping, and memory stays flat
whatever the input. :func:`clear_caches` empties every memo (for tests that count misses or
measure a cold start).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

__all__ = ["Memo", "clear_caches"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

# Every memo made; they are module-level tables that live as long as the process.
_ALL: list[Memo[Any, Any]] = []


class Memo(dict[K, V], Generic[K, V]):
    """``memo[key]``: the value ``make(key)`` gave the first time, kept up to ``bound`` keys."""

    __slots__ = ("bound", "make")

    def __init__(self, make: Callable[[K], V], bound: int) -> None:
        super().__init__()
        if bound < 1:
            raise ValueError(f"bound must be at least 1, not {bound!r}")
        #: Computes the value of a key not held (it may raise; nothing is stored then).
        self.make = make
        #: At most this many keys are held; the memo is emptied before it would hold more.
        self.bound = bound
        _ALL.append(self)

    def __missing__(self, key: K) -> V:
        """Compute, remember and return the value of a key not held."""
        result = self.make(key)
        if len(self) >= self.bound:
            self.clear()
        self[key] = result
        return result


def clear_caches() -> None:
    """Empty every :class:`Memo` (for tests: the next lookup of each key is a miss)."""
    for memo in _ALL:
        memo.clear()
