"""The virtual clock: every step that costs time charges it here, by category.

A simulated call runs on one CPU; the rest of the machine (the workload's background
operations in ``MachineState.events``) runs on the others. Whenever the calling task's clock
moves forward, every background operation due by then is applied first, so a multi-second
``cma_alloc`` sees pages freed, dirtied, written back, pinned and unpinned meanwhile.

Blocking waits (writeback, page lock) jump the clock to the moment the awaited state ends;
the awaited page's release time was set by whoever caused the state, so the workload's own
timeline decides how long a wait is.

Per-page release times (``t_io``, ``t_ref``) are kept in microseconds (uint32: 71 minutes of
simulated time); the clock itself is in nanoseconds.
"""

import numpy as np

from .background import run_background
from .jit import mm_jit, mm_jit_inline
from .state import Z_CLOCK, Z_IN_BG, Z_TIME


@mm_jit_inline
def now_ns(s):
    return s.zone[Z_CLOCK]


@mm_jit_inline
def now_us(s):
    return s.zone[Z_CLOCK] // 1000


@mm_jit
def charge(s, ns, category):
    """Spend ``ns`` of the calling task's time on ``category``; the machine runs meanwhile."""
    if ns <= 0 or s.zone[Z_IN_BG] != 0:
        return  # background work runs on other CPUs: not the calling task's time
    s.zone[Z_CLOCK] += ns
    s.zone[Z_TIME + category] += ns
    run_background(s, s.zone[Z_CLOCK])


@mm_jit
def wait_until_us(s, t_us, category):
    """Sleep until ``t_us`` (a page's release time); no-op if it is already past."""
    target = np.int64(t_us) * 1000
    if target > s.zone[Z_CLOCK]:
        charge(s, target - s.zone[Z_CLOCK], category)
