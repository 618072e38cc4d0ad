"""S2, Minchan Kim's RFC ``alloc_pages_bulk`` (14 Aug 2020), with its one caller's pattern.

The chunk heap (Hyesoo Yu, 18 Aug 2020) calls it on one pageblock at a time,
``nr_elem = min(remaining, pageblock_nr_pages >> order)``, visiting the CMA area's
pageblocks round-robin once; ``per_pageblock: false`` makes one call over the
whole area instead. ``max_tries`` (default 5): migration rounds before a stuck batch
is skipped — the RFC's best-effort patch is not on record, so this is a knob
(docs/model.md#alloc-pages-bulk).
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
