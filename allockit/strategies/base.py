"""What every strategy takes and returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..mm import contig
from ..mm.api import _Timed, check_order
from ..mm.cma import cma_release
from ..mm.constants import ERRNO_NAMES
from ..mm.page_alloc import free_pages
from ..mm.state import Z_CMA_COUNT, Z_NR_CPUS, MachineState


@dataclass(frozen=True)
class Request:
    """``nr_elem`` blocks of ``order`` pages, asked for on CPU ``cpu``; ``params`` are the
    strategy's own knobs (alignment, chunk order, gfp, ...)."""

    order: int = 4
    nr_elem: int = 4800
    cpu: int = -1  # -1: the last CPU
    params: dict[str, Any] = field(default_factory=dict)

    def validate(self, state: MachineState, needs_cma: bool = True) -> None:
        check_order(self.order)
        if isinstance(self.nr_elem, bool) or not isinstance(self.nr_elem, int) or self.nr_elem <= 0:
            raise ValueError(f"nr_elem: {self.nr_elem!r}; allowed: an integer > 0")
        size = self.nr_elem << self.order
        cma = int(state.zone[Z_CMA_COUNT])
        if needs_cma and size > cma:
            raise ValueError(
                f"nr_elem: {self.nr_elem} x 2^{self.order} = {size} pages is larger than the CMA "
                f"area ({cma} pages); allowed: nr_elem <= {cma >> self.order}"
            )
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
    calls: int  # kernel allocation calls made
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


def finish(name: str, t: _Timed, req: Request, got: int, ret: int, calls: int, pieces, **extra):
    """Close a strategy's books. Short of ``nr_elem`` without an error of its own, a strategy
    reports -ENOMEM, as the chunk heap does when it has visited every pageblock."""
    r = t.result(ret, None)
    return StrategyResult(
        strategy=name,
        got=min(got, req.nr_elem),
        nr_elem=req.nr_elem,
        ret=0 if got >= req.nr_elem else (ret if ret != 0 else -12),
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
