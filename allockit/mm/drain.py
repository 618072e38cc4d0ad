"""Timed drains: ``drain_all_pages`` and ``lru_add_drain_all`` as the calling task sees
them; ``pcp.drain_cost_ns`` says what a drain costs."""

from .constants import T_DRAIN_LRU, T_DRAIN_PCP
from .jit import mm_jit
from .pagestate import lru_add_drain_all_pages, pagevec_base
from .pcp import drain_all_pages, drain_cost_ns, pcp_drain_cost_ns
from .sched import advance
from .state import Z_BUSY_CPUS, Z_LRU_DISABLE_COUNT, Z_NR_CPUS
from .vmstat import SIM_LRU_ADD_DRAIN_ALL


@mm_jit
def drain_all_pages_timed(s):
    """``drain_all_pages(zone)`` with its cost; returns the number of CPUs drained."""
    cost = pcp_drain_cost_ns(s)
    n = drain_all_pages(s)
    advance(s, cost, T_DRAIN_PCP)
    return n


@mm_jit
def lru_add_drain_all_(s, force_all_cpus):
    """``__lru_add_drain_all``: work queued on every CPU whose pagevecs hold pages, or on
    every CPU when forced; the caller waits for it (on a CPU busy with the build, until the
    kworker gets the CPU). Returns the number of CPUs drained."""
    busy_with_work = False
    for cpu in range(min(s.zone[Z_BUSY_CPUS], s.zone[Z_NR_CPUS])):
        if force_all_cpus or s.zone[pagevec_base(s, cpu)] > 0:
            busy_with_work = True
    n = lru_add_drain_all_pages(s)
    s.zone[SIM_LRU_ADD_DRAIN_ALL] += 1
    advance(s, drain_cost_ns(s, busy_with_work), T_DRAIN_LRU)
    return n


@mm_jit
def lru_add_drain_all(s):
    """``lru_add_drain_all`` with its cost; returns the number of CPUs drained."""
    return lru_add_drain_all_(s, False)


@mm_jit
def lru_cache_disable(s):
    """``lru_cache_disable`` (v5.13, Minchan Kim, "mm: disable LRU pagevec during the
    migration temporarily", d479960e44f2): count the caller in, then drain every CPU's
    pagevecs (forced); until ``lru_cache_enable``, a page added to a pagevec goes to the LRU
    at once (``lru_cache_add``), so that no page in the range being migrated is held by a
    pagevec. Its ``synchronize_rcu_expedited`` is not charged (no cost of it in params/)."""
    s.zone[Z_LRU_DISABLE_COUNT] += 1
    lru_add_drain_all_(s, True)


@mm_jit
def lru_cache_enable(s):
    """``lru_cache_enable``: the pagevecs cache pages again."""
    s.zone[Z_LRU_DISABLE_COUNT] -= 1
