"""What every strategy takes and returns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..mm import contig
from ..mm.api import Timed, check_order, parse_gfp
from ..mm.cma import cma_release
from ..mm.constants import ENOMEM, ERRNO_NAMES
from ..mm.page_alloc import free_pages
from ..mm.state import Z_CMA_COUNT, Z_NR_CPUS, MachineState

ParamCheck = Callable[[Any, int], Any]
"""A strategy parameter's check: ``(value, requested order) -> value to use``, or
``ValueError`` naming the parameter, the value and what is allowed."""


def order_param(name: str) -> ParamCheck:
    """An allocation order 0..MAX_ORDER-1 (an alignment, a chunk order)."""
    return lambda v, order: check_order(v, name)


def chunk_order_param(v: Any, order: int) -> int:
    """A chunk order at least the requested order (each chunk is split into order-k pages)."""
    check_order(v, "chunk_order")
    if v < order:
        raise ValueError(
            f"chunk_order: {v} is smaller than the requested order {order}; allowed: {order}..10"
        )
    return v


def flag_param(name: str) -> ParamCheck:
    """A yes/no switch (YAML ``true``/``false``)."""

    def check(v: Any, order: int) -> bool:
        if not isinstance(v, bool):
            raise ValueError(f"{name}: {v!r}; allowed: true or false")
        return v

    return check


def count_param(name: str, lo: int) -> ParamCheck:
    """An integer >= ``lo``."""

    def check(v: Any, order: int) -> int:
        if isinstance(v, bool) or not isinstance(v, int) or v < lo:
            raise ValueError(f"{name}: {v!r}; allowed: an integer >= {lo}")
        return v

    return check


def gfp_param(v: Any, order: int) -> int:
    """A gfp mask, as kernel flag names joined by ``|`` or an int."""
    return parse_gfp(v)


def check_request(order: int, nr_elem: int, needs_cma: bool, cma_pages: int) -> None:
    """The request itself: an order, a positive count, and (for the CMA strategies) a size that
    fits the CMA area. The same check runs before any work and on the machine at hand."""
    check_order(order)
    if isinstance(nr_elem, bool) or not isinstance(nr_elem, int) or nr_elem <= 0:
        raise ValueError(f"nr_elem: {nr_elem!r}; allowed: an integer > 0")
    size = nr_elem << order
    if needs_cma and size > cma_pages:
        raise ValueError(
            f"nr_elem: {nr_elem} x 2^{order} = {size} pages is larger than the CMA "
            f"area ({cma_pages} pages); allowed: nr_elem <= {cma_pages >> order}"
        )


@dataclass(frozen=True)
class Request:
    """``nr_elem`` blocks of ``order`` pages, asked for on CPU ``cpu``; ``params`` are the
    strategy's own knobs (alignment, chunk order, gfp, ...), checked and completed with their
    defaults by ``strategies.get`` before the strategy runs."""

    order: int = 4
    nr_elem: int = 4800
    cpu: int = -1  # -1: the last CPU
    params: dict[str, Any] = field(default_factory=dict)

    def validate(self, state: MachineState, needs_cma: bool = True) -> None:
        check_request(self.order, self.nr_elem, needs_cma, int(state.zone[Z_CMA_COUNT]))
        n = int(state.zone[Z_NR_CPUS])
        if not -1 <= self.cpu < n:
            raise ValueError(f"cpu: {self.cpu}; allowed: -1 (last CPU) or 0..{n - 1}")

    def cpu_of(self, state: MachineState) -> int:
        return int(state.zone[Z_NR_CPUS]) - 1 if self.cpu < 0 else self.cpu


@dataclass
class StrategyResult:
    """What a strategy got and what it cost (simulated time, by category)."""

    strategy: str
    got: int  # order-k blocks obtained
    nr_elem: int
    ret: int  # 0 or the errno that ended it
    latency_ns: int
    breakdown_ns: dict[str, int]
    counters: dict[str, int]
    calls: int  # kernel allocation calls made (alloc_contig_range or alloc_pages)
    pieces: list[tuple[str, int, int]] = field(default_factory=list)  # (kind, pfn, npages)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def success(self) -> bool:
        return self.got >= self.nr_elem

    @property
    def errno(self) -> str:
        return ERRNO_NAMES.get(self.ret, str(self.ret))

    @property
    def dominant(self) -> str:
        """The time category that took the most time."""
        if not self.breakdown_ns:
            return "-"
        return max(self.breakdown_ns.items(), key=lambda kv: kv[1])[0]


def finish(
    name: str, t: Timed, req: Request, got: int, ret: int, calls: int, pieces, **extra
) -> StrategyResult:
    """Close a strategy's books. Short of ``nr_elem`` without an error of its own, a strategy
    reports -ENOMEM, as the chunk heap does when it has visited every pageblock."""
    r = t.result(ret, None)
    return StrategyResult(
        strategy=name,
        got=min(got, req.nr_elem),
        nr_elem=req.nr_elem,
        ret=0 if got >= req.nr_elem else (ret if ret != 0 else -ENOMEM),
        latency_ns=r.latency_ns,
        breakdown_ns=r.breakdown_ns,
        counters=r.counters,
        calls=calls,
        pieces=pieces,
        extra=extra,
    )


def release(state: MachineState, result: StrategyResult, cpu: int = 0) -> None:
    """Give every piece back, so that trials can run back to back on one machine."""
    for kind, pfn, npages in result.pieces:
        if kind == "cma":
            cma_release(state, cpu, pfn, npages)
        elif kind == "contig":
            contig.free_contig_range(state, cpu, pfn, npages)
        else:  # "buddy": one block of order log2(npages)
            free_pages(state, cpu, pfn, int(np.log2(npages)))
