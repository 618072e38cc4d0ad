"""Timed drains: ``drain_all_pages`` and ``lru_add_drain_all`` as the calling task sees
them; ``pcp.drain_cost_ns`` says what a drain costs."""

from .constants import T_DRAIN_LRU, T_DRAIN_PCP
from .jit import mm_jit
from .pagestate import lru_add_drain_all_pages, pagevec_base
from .pcp import drain_all_pages, drain_cost_ns, pcp_drain_cost_ns
from .sched import advance
from .state import Z_BUSY_CPUS, Z_NR_CPUS
from .vmstat import SIM_LRU_ADD_DRAIN_ALL


@mm_jit
def drain_all_pages_timed(s):
    """``drain_all_pages(zone)`` with its cost; returns the number of CPUs drained."""
    cost = pcp_drain_cost_ns(s)
    n = drain_all_pages(s)
    advance(s, cost, T_DRAIN_PCP)
    return n


@mm_jit
def lru_add_drain_all(s):
    """``lru_add_drain_all`` with its cost; returns the number of CPUs drained."""
    busy_with_work = False
    for cpu in range(min(s.zone[Z_BUSY_CPUS], s.zone[Z_NR_CPUS])):
        if s.zone[pagevec_base(s, cpu)] > 0:
            busy_with_work = True
    n = lru_add_drain_all_pages(s)
    s.zone[SIM_LRU_ADD_DRAIN_ALL] += 1
    advance(s, drain_cost_ns(s, busy_with_work), T_DRAIN_LRU)
    return n
