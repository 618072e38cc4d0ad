"""The virtual clock: every step that costs time charges it here, by category.

``charge`` only keeps the books (clock and per-category time); it is safe anywhere, even in
the allocator's own slow path. The rest of the machine catches up at the calling task's
*yield points* (``sched.advance``, used by the time-consuming kernel paths: migration,
isolation, drains, waits), which apply every background operation due by then.

Per-page release times (``t_io``, ``t_ref``) are kept in microseconds (uint32: 71 minutes of
simulated time); the clock itself is in nanoseconds.
"""

from .jit import mm_jit_inline
from .state import Z_CLOCK, Z_IN_BG, Z_TIME


@mm_jit_inline
def now_us(s):
    return s.zone[Z_CLOCK] // 1000


@mm_jit_inline
def charge(s, ns, category):
    """Spend ``ns`` of the calling task's time on ``category``.

    Work done on behalf of background operations (other CPUs) costs the calling task nothing.
    """
    if ns > 0 and s.zone[Z_IN_BG] == 0:
        s.zone[Z_CLOCK] += ns
        s.zone[Z_TIME + category] += ns
