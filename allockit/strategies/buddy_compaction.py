"""S4 baseline: ``nr_elem`` ``alloc_pages(gfp, order)`` through the buddy allocator's slow
path with direct compaction.

``gfp`` (default ``GFP_KERNEL``, a driver buffer: UNMOVABLE, never served from
CMA); ``GFP_HIGHUSER_MOVABLE`` may take CMA pageblocks. Stops at the first failure, as a
driver filling a buffer would.
"""

from ..mm.api import Timed
from ..mm.compaction import alloc_pages_compact
from ..mm.constants import ENOMEM
from .base import Request, finish, gfp_param

PARAMS = {"gfp": ("GFP_KERNEL", gfp_param)}
NEEDS_CMA = False


def run(state, req: Request):
    req.validate(state, needs_cma=False)
    gfp = req.params["gfp"]
    cpu = req.cpu_of(state)
    t = Timed(state)
    got, pieces = 0, []
    while got < req.nr_elem:
        pfn = int(alloc_pages_compact(state, cpu, gfp, req.order))
        if pfn < 0:
            break
        pieces.append(("buddy", pfn, 1 << req.order))
        got += 1
    # alloc_pages returns NULL, which a driver reports as -ENOMEM
    return finish("buddy_compaction", t, req, got, -ENOMEM, got + (got < req.nr_elem), pieces)
