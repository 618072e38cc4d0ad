"""Yield points of the calling task: time passes, and the rest of the machine runs meanwhile.

A simulated call runs on one CPU; the workload's background operations run on the others.
``advance`` charges the task's time and then applies every background operation (and
kswapd's reclaim) due by the new time, so a multi-second ``cma_alloc`` sees pages freed,
dirtied, written back, pinned and unpinned meanwhile. Blocking waits jump the clock to the
moment the awaited state ends; the awaited page's release time was set by whoever caused
the state, so the workload's own timeline decides how long a wait is.
"""

import numpy as np

from .background import run_background
from .clock import charge
from .jit import mm_jit
from .state import Z_CLOCK


@mm_jit
def advance(s, ns, category):
    """Spend ``ns`` on ``category``, then let the machine catch up."""
    charge(s, ns, category)
    run_background(s, s.zone[Z_CLOCK])


@mm_jit
def wait_until_us(s, t_us, category):
    """Sleep until ``t_us`` (a page's release time); no-op if it is already past."""
    target = np.int64(t_us) * 1000
    if target > s.zone[Z_CLOCK]:
        advance(s, target - s.zone[Z_CLOCK], category)
