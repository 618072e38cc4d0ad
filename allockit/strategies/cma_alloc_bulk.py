"""``cma_alloc_bulk`` v1/v2 (Minchan Kim, Nov/Dec 2020): one drain up front, 2 MiB chunks,
fast ``alloc_contig_range`` (no per-block drain, one migration round, no post drain), a failed
chunk is skipped. ``fast`` (default true) selects the fast mode."""

import numpy as np

from ..mm.api import Timed
from ..mm.cma import cma_alloc_bulk
from .base import Request, finish, flag_param

PARAMS = {"fast": (True, flag_param("fast"))}
NEEDS_CMA = True


def run(state, req: Request):
    req.validate(state)
    cpu = req.cpu_of(state)
    fast = req.params["fast"]
    t = Timed(state)
    out = np.zeros(req.nr_elem, dtype=np.int64)
    got, ret = cma_alloc_bulk(state, cpu, req.order, req.nr_elem, fast, out)
    pieces = [("contig", int(p), 1 << req.order) for p in out[: int(got)]]
    # calls: the alloc_contig_range calls it made, one per 2 MiB chunk tried
    calls = t.result(int(ret), None).counters.get("sim_alloc_contig_range", 0)
    return finish("cma_alloc_bulk", t, req, int(got), int(ret), calls, pieces)
