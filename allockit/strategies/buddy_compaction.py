"""S4 baseline: ``nr_elem`` ``alloc_pages(gfp, order)`` through the buddy allocator's slow
path with direct compaction.

``params['gfp']`` (default ``GFP_KERNEL``, a driver buffer: UNMOVABLE, never served from
CMA); ``GFP_HIGHUSER_MOVABLE`` may take CMA pageblocks. Stops at the first failure, as a
driver filling a buffer would.
"""

from ..mm.api import _Timed, parse_gfp
from ..mm.compaction import alloc_pages_compact
from .base import Request, finish


def run(state, req: Request):
    req.validate(state, needs_cma=False)
    gfp = parse_gfp(req.params.get("gfp", "GFP_KERNEL"))
    cpu = req.cpu_of(state)
    t = _Timed(state)
    got, pieces = 0, []
    while got < req.nr_elem:
        pfn = int(alloc_pages_compact(state, cpu, gfp, req.order))
        if pfn < 0:
            break
        pieces.append(("buddy", pfn, 1 << req.order))
        got += 1
    return finish("buddy_compaction", t, req, got, -12, got + (got < req.nr_elem), pieces)
