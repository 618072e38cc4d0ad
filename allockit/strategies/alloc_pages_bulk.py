"""S2, Minchan Kim's RFC ``alloc_pages_bulk`` (14 Aug 2020), with its one caller's pattern.

What is posted code and what is reconstruction, per patch of the RFC (cover letter
``20200814173131.2803002-1-minchan@kernel.org``, linux-mm, next-20200813):

* The ``alloc_pages_bulk`` patch: only its changelog and kerneldoc are on record (a linux-mm
  archive page); its code, the ``split_page_by_order`` helper and the other patches, including
  the one that makes it best effort, were not found in the public archives searched (the
  stored copies of the LKML, linux-media and dri-devel lists hold the later series and the
  caller, not the RFC's diffs). ``allockit/mm/contig.py``'s ``alloc_pages_bulk`` is a
  reconstruction from that changelog and kerneldoc: isolate the range, drain, migrate its
  in-use pages (``max_tries`` rounds, default 5, then a stuck batch is skipped: the knob the
  missing patch decides) and take the order-k chunks that are free afterwards
  (docs/model.md#alloc-pages-bulk).
* The caller, posted (Hyesoo Yu's chunk heap, 18 Aug 2020,
  ``20200818080415.7531-3-hyesoo.yu@samsung.com``): one call per pageblock,
  ``nr_elem = min(remaining, pageblock_nr_pages >> order)``, MIGRATE_CMA, GFP_KERNEL, visiting
  the CMA area's pageblocks round-robin once. Followed here, with two differences: the posted
  cursor is global, starts at pageblock 1 (``atomic_inc_return`` from 0) and persists across
  allocations, where each strategy run starts at pageblock 0; and the posted heap frees
  everything when a pass falls short (-ENOMEM), where the strategy keeps and reports what it
  got (the RFC's "4,800 or a few less").

``per_pageblock: false`` makes one call over the whole area instead.
"""
import numpy as np

from ..mm.api import Timed
from ..mm.buddy import pageblock_nr_pages
from ..mm.constants import MIGRATE_CMA
from ..mm.contig import alloc_pages_bulk
from ..mm.state import Z_CMA_BASE, Z_CMA_COUNT
from .base import Request, count_param, finish, flag_param

PARAMS = {
    "per_pageblock": (True, flag_param("per_pageblock")),
    "max_tries": (5, count_param("max_tries", 1)),
}
NEEDS_CMA = True


def run(state, req: Request):
    req.validate(state)
    cpu = req.cpu_of(state)
    max_tries = req.params["max_tries"]
    per_pb = req.params["per_pageblock"]
    base, count = int(state.zone[Z_CMA_BASE]), int(state.zone[Z_CMA_COUNT])
    t = Timed(state)
    out = np.zeros(req.nr_elem, dtype=np.int64)
    got, calls, ret, pieces = 0, 0, 0, []
    step = int(pageblock_nr_pages(state)) if per_pb else count
    for start in range(base, base + count, step):
        if got >= req.nr_elem:
            break
        want = min(req.nr_elem - got, step >> req.order)
        n, r = alloc_pages_bulk(
            state, cpu, start, start + step, MIGRATE_CMA, req.order, want, out[got:], max_tries
        )
        calls += 1
        ret = int(r) if r else ret
        for i in range(int(n)):
            pieces.append(("contig", int(out[got + i]), 1 << req.order))
        got += int(n)
    return finish("alloc_pages_bulk", t, req, got, ret, calls, pieces)
