"""``cma_alloc_bulk`` v1/v2 (Minchan Kim, Nov/Dec 2020), as posted: one drain up front, 2 MiB
chunks placed with the caller's alignment (the posted chunk heap passes its page order), fast
``alloc_contig_range`` (no per-block drain, one migration round, no post drain), a failed chunk
is skipped (``allockit/mm/cma.py``, docs/model.md#cma-alloc-bulk).

``fast`` (default true) selects the fast mode. ``calls`` (default 1) is the caller's retry
loop of the posted v2 chunk heap (``20201201175144.3996569-5-minchan@kernel.org``, which makes
5): up to that many calls while the last one ended in -EBUSY, each searching the area from its
start again, the last one in normal mode (with ``fast``); pages from every call are kept.
"""

import numpy as np

from ..mm.api import Timed
from ..mm.cma import cma_alloc_bulk
from ..mm.constants import EBUSY
from .base import Request, count_param, finish, flag_param

PARAMS = {"fast": (True, flag_param("fast")), "calls": (1, count_param("calls", 1))}
NEEDS_CMA = True


def run(state, req: Request):
    req.validate(state)
    cpu = req.cpu_of(state)
    fast, calls = req.params["fast"], req.params["calls"]
    t = Timed(state)
    out = np.zeros(req.nr_elem, dtype=np.int64)
    got, ret = 0, -EBUSY
    for k in range(calls):
        last = k == calls - 1
        mode = fast and (calls == 1 or not last)  # the posted heap's last try is a normal one
        # align = order, as the posted chunk heap calls it
        n, r = cma_alloc_bulk(state, cpu, req.order, req.order, req.nr_elem - got, mode,
                              out[got:])  # fmt: skip
        got, ret = got + int(n), int(r)
        if got == req.nr_elem or ret != -EBUSY:
            break
    pieces = [("contig", int(p), 1 << req.order) for p in out[:got]]
    # calls: the alloc_contig_range calls it made, one per 2 MiB chunk tried
    acr = t.result(ret, None).counters.get("sim_alloc_contig_range", 0)
    return finish("cma_alloc_bulk", t, req, got, ret, acr, pieces)
