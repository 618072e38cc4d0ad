"""S5, David Hildenbrand's reply: ``cma_alloc`` MAX_ORDER-1 chunks and split each.

``chunk_order`` (default 10 = MAX_ORDER-1; 9 is the pageblock-size variant the Pixel 6 chunk
heap shipped) must be ≥ the requested order. Chunks are requested with ``align =
chunk_order`` until enough order-k pages are had or a ``cma_alloc`` fails (the area has no
window left that can be made free).
"""

from ..mm import cma
from ..mm.api import Timed
from .base import Request, chunk_order_param, finish

PARAMS = {"chunk_order": (10, chunk_order_param)}
NEEDS_CMA = True


def run(state, req: Request):
    req.validate(state)
    chunk_order = req.params["chunk_order"]
    cpu = req.cpu_of(state)
    t = Timed(state)
    per_chunk = 1 << (chunk_order - req.order)
    got, calls, ret, pieces = 0, 0, 0, []
    while got < req.nr_elem:
        need = req.nr_elem - got
        count = min(1 << chunk_order, need << req.order)
        align = chunk_order if need >= per_chunk else req.order  # the tail: a smaller call
        pfn, ret, tries = cma.cma_alloc(state, cpu, count, align, 0)
        calls += int(tries)
        if pfn < 0:
            break
        pieces.append(("cma", int(pfn), count))
        got += count >> req.order
    return finish("cma_chunked", t, req, got, int(ret), calls, pieces, chunk_order=chunk_order)
