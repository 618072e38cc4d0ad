"""The compared ways to get ``nr_elem`` pages of order ``order``; one file each.

Each strategy is a function ``run(state, request) -> StrategyResult`` written against
``allockit.mm`` the way the kernel patch it models is written against mm/. The registry maps
names to functions; ``get(name)`` fails with the list of known names.
"""

from __future__ import annotations

from collections.abc import Callable

from . import (
    alloc_pages_bulk,
    buddy_compaction,
    chunk_heap_failfast,
    cma_alloc_bulk,
    cma_chunked,
    cma_many,
    cma_single,
)
from .base import Request, StrategyResult, release

STRATEGIES: dict[str, Callable] = {
    "cma_single": cma_single.run,
    "cma_chunked": cma_chunked.run,
    "alloc_pages_bulk": alloc_pages_bulk.run,
    "cma_many": cma_many.run,
    "buddy_compaction": buddy_compaction.run,
    "cma_alloc_bulk": cma_alloc_bulk.run,
    "chunk_heap_failfast": chunk_heap_failfast.run,
}
SEED_STRATEGIES = ("cma_single", "cma_chunked", "alloc_pages_bulk", "cma_many", "buddy_compaction")


def get(name: str) -> Callable:
    """The strategy called ``name``; ``ValueError`` listing the known ones otherwise."""
    try:
        return STRATEGIES[name]
    except KeyError:
        raise ValueError(
            f"strategy: {name!r} is unknown; allowed: {', '.join(STRATEGIES)}"
        ) from None


__all__ = ["STRATEGIES", "SEED_STRATEGIES", "Request", "StrategyResult", "get", "release"]
