"""The compared ways to get ``nr_elem`` pages of order ``order``; one file each.

Each strategy module has ``run(state, request) -> StrategyResult``, written against
``allockit.mm`` the way the kernel patch it models is written against mm/, and declares its
parameters once: ``PARAMS = {name: (default, check)}`` (``check(value, order)`` returns the
value to use or raises ``ValueError``) and ``NEEDS_CMA`` (whether the request must fit the CMA
area). ``check`` validates a spec's strategy before any machine is built; ``get(name)`` returns
the strategy with its parameters checked and completed with their defaults, so ``run`` reads
``req.params[name]`` and checks nothing twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from types import ModuleType
from typing import Any

from . import (
    alloc_pages_bulk,
    buddy_compaction,
    chunk_heap_failfast,
    cma_alloc_bulk,
    cma_chunked,
    cma_many,
    cma_single,
)
from .base import Request, StrategyResult, check_request, release

STRATEGIES: dict[str, ModuleType] = {
    "cma_single": cma_single,
    "cma_chunked": cma_chunked,
    "alloc_pages_bulk": alloc_pages_bulk,
    "cma_many": cma_many,
    "buddy_compaction": buddy_compaction,
    "cma_alloc_bulk": cma_alloc_bulk,
    "chunk_heap_failfast": chunk_heap_failfast,
}
SEED_STRATEGIES = ("cma_single", "cma_chunked", "alloc_pages_bulk", "cma_many", "buddy_compaction")


def module(name: str) -> ModuleType:
    """The strategy module called ``name``; ``ValueError`` listing the known ones otherwise."""
    try:
        return STRATEGIES[name]
    except KeyError:
        raise ValueError(
            f"strategy: {name!r} is unknown; allowed: {', '.join(STRATEGIES)}"
        ) from None


def resolve_params(name: str, order: int, params: dict[str, Any]) -> dict[str, Any]:
    """``params`` (``strategy`` aside) checked against the strategy's ``PARAMS``, completed
    with the defaults: the parameters ``run`` sees."""
    declared = module(name).PARAMS
    unknown = sorted(set(params) - set(declared) - {"strategy"})
    if unknown:
        allowed = ", ".join(sorted(declared)) or "none"
        raise ValueError(
            f"strategy parameter {unknown[0]!r} is unknown for {name}; allowed: {allowed}"
        )
    return {key: check(params.get(key, default), order) for key, (default, check) in
            declared.items()}


def check(name: str, order: int, nr_elem: int, params: dict, cma_pages: int) -> None:
    """Every check a strategy would make, before any machine is built or warmed up."""
    mod = module(name)
    check_request(order, nr_elem, mod.NEEDS_CMA, cma_pages)
    resolve_params(name, order, params)


def get(name: str) -> Callable[..., StrategyResult]:
    """The strategy called ``name``: ``run(state, request)`` with the request's parameters
    checked and completed with their defaults first."""
    mod = module(name)

    def run(state, req: Request) -> StrategyResult:
        return mod.run(state, replace(req, params=resolve_params(name, req.order, req.params)))

    run.__doc__ = mod.__doc__
    return run


__all__ = [
    "STRATEGIES", "SEED_STRATEGIES", "Request", "StrategyResult", "check", "get", "module",
    "release", "resolve_params",
]
