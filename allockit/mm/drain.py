"""Timed drains: ``drain_all_pages`` and ``lru_add_drain_all`` as the calling task sees them.

Both queue a work item on every CPU that has something to drain and wait for all of them
(``flush_work``). The wait is the slowest kworker's: on a CPU that runs the workload the
kworker competes with the compiler for the CPU. Cost: ``drain_base_ns``, plus
``drain_busy_cpu_wait_ns`` once if any CPU with something to drain is busy. CPUs
``0 .. busy_cpus-1`` run the workload (``Z_BUSY_CPUS``, set by the workload).
"""

from .clock import charge
from .constants import C_DRAIN_BASE, C_DRAIN_BUSY_CPU_WAIT, T_DRAIN_LRU, T_DRAIN_PCP
from .jit import mm_jit
from .pagestate import lru_add_drain_all_pages, pagevec_base
from .pcp import drain_all_pages
from .state import Z_BUSY_CPUS, Z_COST, Z_NR_CPUS, Z_PCP_COUNT
from .vmstat import SIM_LRU_ADD_DRAIN_ALL


@mm_jit
def drain_wait_ns(s, busy_with_work):
    cost = s.zone[Z_COST + C_DRAIN_BASE]
    if busy_with_work:
        cost += s.zone[Z_COST + C_DRAIN_BUSY_CPU_WAIT]
    return cost


@mm_jit
def drain_all_pages_timed(s):
    """``drain_all_pages(zone)`` with its cost; returns the number of CPUs drained."""
    busy_with_work = False
    for cpu in range(min(s.zone[Z_BUSY_CPUS], s.zone[Z_NR_CPUS])):
        if s.zone[Z_PCP_COUNT + cpu] > 0:
            busy_with_work = True
    n = drain_all_pages(s)
    charge(s, drain_wait_ns(s, busy_with_work), T_DRAIN_PCP)
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
    charge(s, drain_wait_ns(s, busy_with_work), T_DRAIN_LRU)
    return n
