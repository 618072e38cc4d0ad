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


def check(name: str, order: int, nr_elem: int, params: dict, cma_pages: int) -> None:
    """Every check a strategy would make, before any machine is built or warmed up."""
    from ..mm.api import check_order, parse_gfp

    get(name)
    check_order(order)
    if isinstance(nr_elem, bool) or not isinstance(nr_elem, int) or nr_elem <= 0:
        raise ValueError(f"nr_elem: {nr_elem!r}; allowed: an integer > 0")
    if name != "buddy_compaction" and nr_elem << order > cma_pages:
        raise ValueError(
            f"nr_elem: {nr_elem} x 2^{order} = {nr_elem << order} pages is larger than the CMA "
            f"area ({cma_pages} pages); allowed: nr_elem <= {cma_pages >> order}"
        )
    if "align" in params:
        check_order(params["align"], "align")
    if "chunk_order" in params:
        check_order(params["chunk_order"], "chunk_order")
        if params["chunk_order"] < order:
            raise ValueError(
                f"chunk_order: {params['chunk_order']} is smaller than the requested order "
                f"{order}; allowed: {order}..10"
            )
    if "gfp" in params:
        parse_gfp(params["gfp"])
    if "max_tries" in params and (
        not isinstance(params["max_tries"], int) or params["max_tries"] < 1
    ):
        raise ValueError(f"max_tries: {params['max_tries']!r}; allowed: an integer >= 1")
    known = {
        "strategy",
        "align",
        "chunk_order",
        "gfp",
        "max_tries",
        "per_pageblock",
        "fast",
        "shipped",
    }
    unknown = sorted(set(params) - known)
    if unknown:
        raise ValueError(
            f"strategy parameter {unknown[0]!r} is unknown; allowed: {', '.join(sorted(known))}"
        )


def get(name: str) -> Callable:
    """The strategy called ``name``; ``ValueError`` listing the known ones otherwise."""
    try:
        return STRATEGIES[name]
    except KeyError:
        raise ValueError(
            f"strategy: {name!r} is unknown; allowed: {', '.join(STRATEGIES)}"
        ) from None


__all__ = ["STRATEGIES", "SEED_STRATEGIES", "Request", "StrategyResult", "check", "get", "release"]
