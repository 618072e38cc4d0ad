"""S1: one ``cma_alloc`` of the whole size, split afterwards into order-k pages.

``align``: the alignment order passed to ``cma_alloc`` (default 8: dma_alloc callers cap it
at CONFIG_CMA_ALIGNMENT = 8; the debugfs path passes 0).
"""

from ..mm import cma
from ..mm.api import Timed
from .base import Request, finish, order_param

PARAMS = {"align": (8, order_param("align"))}
NEEDS_CMA = True


def run(state, req: Request):
    req.validate(state)
    align = req.params["align"]
    cpu = req.cpu_of(state)
    t = Timed(state)
    count = req.nr_elem << req.order
    pfn, ret, tries = cma.cma_alloc(state, cpu, count, align, 0)
    got = req.nr_elem if pfn >= 0 else 0
    pieces = [("cma", int(pfn), count)] if pfn >= 0 else []
    return finish("cma_single", t, req, got, int(ret), int(tries), pieces, tries=int(tries))
