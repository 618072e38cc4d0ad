"""The fail-fast chunk heap (v4, Jan 2021, and the shipped Pixel 6 variant).

``cma_alloc(2^alloc_order, align=alloc_order, __GFP_NORETRY)`` with
``alloc_order = max(pageblock_order, chunk_order)``: NORETRY means MIGRATE_ASYNC and one
migration round. On failure the same size is retried without NORETRY; v4 then gives up,
``shipped: true`` halves ``alloc_order`` (re-arming NORETRY) down to the requested
order, as the shipped gs101 chunk heap does.
"""

from ..mm import cma
from ..mm.api import Timed
from ..mm.buddy import pageblock_order
from ..mm.contig import ACR_ASYNC, ACR_ONE_TRY
from .base import Request, chunk_order_param, finish, flag_param


def _chunk_order(v, order: int) -> int | None:
    return None if v is None else chunk_order_param(v, order)


# chunk_order None: the requested order (alloc_order is at least pageblock_order anyway)
PARAMS = {"shipped": (False, flag_param("shipped")), "chunk_order": (None, _chunk_order)}
NEEDS_CMA = True


def run(state, req: Request):
    req.validate(state)
    cpu = req.cpu_of(state)
    shipped = req.params["shipped"]
    chunk_order = req.order if req.params["chunk_order"] is None else req.params["chunk_order"]
    alloc_order = max(int(pageblock_order(state)), chunk_order)
    t = Timed(state)
    got, calls, ret, pieces = 0, 0, 0, []
    noretry = True
    while got < req.nr_elem:
        remaining = (req.nr_elem - got) << req.order
        while alloc_order > req.order and (1 << alloc_order) > remaining:
            alloc_order -= 1  # shrink for the tail
        count = 1 << alloc_order
        flags = ACR_ASYNC | ACR_ONE_TRY if noretry else 0
        pfn, ret, tries = cma.cma_alloc(state, cpu, count, alloc_order, flags)
        calls += int(tries)
        if pfn >= 0:
            pieces.append(("cma", int(pfn), count))
            got += count >> req.order
            continue
        if noretry:
            noretry = False  # retry the same size in the normal mode
            continue
        if shipped and alloc_order > req.order:
            alloc_order -= 1
            noretry = True
            continue
        break
    return finish("chunk_heap_failfast", t, req, got, int(ret), calls, pieces, shipped=shipped)
