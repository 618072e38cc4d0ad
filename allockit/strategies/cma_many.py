"""S4: ``nr_elem`` separate ``cma_alloc(2^order, align=order)`` calls (the RFC's "too slow")."""

from ..mm import cma
from ..mm.api import Timed
from .base import Request, finish

PARAMS: dict = {}
NEEDS_CMA = True


def run(state, req: Request):
    req.validate(state)
    cpu = req.cpu_of(state)
    t = Timed(state)
    count = 1 << req.order
    got, calls, ret, pieces = 0, 0, 0, []
    while got < req.nr_elem:
        pfn, ret, tries = cma.cma_alloc(state, cpu, count, req.order, 0)
        calls += int(tries)
        if pfn < 0:
            break
        pieces.append(("cma", int(pfn), count))
        got += 1
    return finish("cma_many", t, req, got, int(ret), calls, pieces)
