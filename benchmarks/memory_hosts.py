"""Peak traced memory of the engine against the number of hosts: ``python -m
benchmarks.memory_hosts``.

A ``Correlator(max_open=10_000, ttl=3600)`` is fed 200,000 creations (two in three exiting),
in batches of 1,000 with the records dropped, spread over 1, 100, 10,000 and 100,000 hosts; the
peak of ``tracemalloc`` is printed per host count. Bounded memory means the last figure stays
within twice the first.
"""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Iterator
from itertools import islice

from correlog import Correlator, ProcessEvent
from correlog.testing import created, exited

__all__ = ["main", "peak"]


def _stream(hosts: int, events: int) -> Iterator[ProcessEvent]:
    for i in range(events):
        host = f"h{i % hosts}"
        yield created(4 * (i % 50_000), i / 100, host=host, rn=i)
        if i % 3:
            yield exited(4 * (i % 50_000), i / 100, host=host, rn=i)


def peak(hosts: int, events: int = 200_000, max_open: int = 10_000) -> int:
    """Peak traced bytes while ``events`` creations over ``hosts`` hosts are correlated."""
    gc.collect()
    tracemalloc.start()
    corr = Correlator(max_open=max_open, ttl=3600)
    stream = _stream(hosts, events)
    while batch := list(islice(stream, 1000)):
        corr.feed_many(batch)
    _, top = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return top


def main() -> int:
    """Print one line per host count."""
    one = peak(1)
    for hosts in (1, 100, 10_000, 100_000):
        top = one if hosts == 1 else peak(hosts)
        print(f"{hosts:>7,} hosts  {top / 2**20:6.1f} MiB  {top / one:4.2f} x one host")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
