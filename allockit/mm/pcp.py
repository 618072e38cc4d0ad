"""Per-CPU page lists (order-0 only, as in v5.9): refill, free, overflow and drains.

Mirrors ``rmqueue_bulk``, ``__rmqueue_pcplist``, ``free_unref_page``/``_commit``,
``free_pcppages_bulk``, ``drain_pages_zone`` and ``drain_all_pages`` of ``mm/page_alloc.c``
(v5.9). Why they matter for contiguous allocation: a page that sits on a pcp list is neither in
the buddy allocator (so ``test_pages_isolated`` fails on it) nor protected (its CPU may hand it
out again) until a drain pushes it back.
"""

import numpy as np

from .buddy import free_one_page, get_pageblock_migratetype, has_isolate_pageblock, rmqueue_
from .constants import (
    C_DRAIN_BASE,
    C_DRAIN_BUSY_CPU_WAIT,
    MIGRATE_CMA,
    MIGRATE_ISOLATE,
    MIGRATE_MOVABLE,
    MIGRATE_PCPTYPES,
    NO_PAGE,
    PG_pcp,
)
from .jit import mm_jit, mm_jit_inline
from .lists import (
    list_add,
    list_add_tail,
    list_del,
    list_empty,
    list_first,
    list_last,
    pcp_list_slot,
)
from .state import Z_BUSY_CPUS, Z_COST, Z_NR_CPUS, Z_PCP_BATCH, Z_PCP_COUNT, Z_PCP_HIGH
from .vmstat import (
    NR_FREE_CMA_PAGES,
    NR_FREE_PAGES,
    PGFREE,
    SIM_DRAIN_ALL_PAGES,
    SIM_PCPU_DRAIN,
)


@mm_jit
def rmqueue_bulk(s, cpu, count, migratetype, alloc_flags):
    """``rmqueue_bulk``: move up to ``count`` order-0 pages from the buddy to a pcp list's tail.

    Pages go to the list of the *requested* type even when they came from CMA (their pcppage
    migratetype says CMA), which is how CMA pages reach every movable allocation on that CPU.
    """
    head = pcp_list_slot(s, cpu, migratetype)
    taken = 0
    for _ in range(count):
        pfn = rmqueue_(s, 0, migratetype, alloc_flags)
        if pfn == NO_PAGE:
            break
        list_add_tail(s, pfn, head)
        s.page[pfn].flags |= PG_pcp
        taken += 1
        if s.page[pfn].pcpmt == MIGRATE_CMA:
            s.zone[NR_FREE_CMA_PAGES] -= 1
    s.zone[NR_FREE_PAGES] -= taken
    s.zone[Z_PCP_COUNT + cpu] += taken
    return taken


@mm_jit_inline
def rmqueue_pcplist(s, cpu, migratetype, alloc_flags):
    """``__rmqueue_pcplist``: take the head of this CPU's list, refilling it by one batch."""
    head = pcp_list_slot(s, cpu, migratetype)
    if list_empty(s, head):
        rmqueue_bulk(s, cpu, s.zone[Z_PCP_BATCH], migratetype, alloc_flags)
        if list_empty(s, head):
            return np.int64(NO_PAGE)
    pfn = np.int64(list_first(s, head))
    list_del(s, pfn)
    s.page[pfn].flags &= ~PG_pcp
    s.zone[Z_PCP_COUNT + cpu] -= 1
    return pfn


@mm_jit
def free_pcppages_bulk(s, cpu, count):
    """``free_pcppages_bulk`` (v5.9): return ``count`` pages from a CPU's lists to the buddy.

    Round-robin over the three lists starting after the last one used (MOVABLE first), taking
    from list tails (the coldest pages); a list's turn lasts ``batch_free`` pages, which grows
    with every empty list passed. If any pageblock is isolated the type is re-read, so pages of
    a block isolated meanwhile land on the ISOLATE list (v5.9's ``isolated_pageblocks``).
    The kernel collects the pages first and frees them afterwards under zone->lock; freeing in
    collection order here is the same, since collecting does not look at the buddy.
    """
    count = min(count, s.zone[Z_PCP_COUNT + cpu])
    migratetype = 0
    batch_free = 0
    isolated_pageblocks = has_isolate_pageblock(s)
    while count > 0:
        while True:
            batch_free += 1
            migratetype += 1
            if migratetype == MIGRATE_PCPTYPES:
                migratetype = 0
            head = pcp_list_slot(s, cpu, migratetype)
            if not list_empty(s, head):
                break
        if batch_free == MIGRATE_PCPTYPES:
            batch_free = count
        while True:
            pfn = np.int64(list_last(s, head))
            list_del(s, pfn)
            s.page[pfn].flags &= ~PG_pcp
            s.zone[Z_PCP_COUNT + cpu] -= 1
            mt = np.int64(s.page[pfn].pcpmt)
            if isolated_pageblocks:
                mt = get_pageblock_migratetype(s, pfn)
            free_one_page(s, pfn, 0, mt)
            s.zone[SIM_PCPU_DRAIN] += 1
            count -= 1
            batch_free -= 1
            if count == 0 or batch_free == 0 or list_empty(s, head):
                break


@mm_jit_inline
def free_unref_page(s, cpu, pfn):
    """``free_unref_page`` + ``free_unref_page_commit`` (v5.9): free an order-0 page.

    The pageblock type is recorded in the page; ISOLATE pages bypass the pcp lists, HIGHATOMIC
    and CMA pages go on the MOVABLE list (keeping their recorded type for the way back).
    """
    migratetype = get_pageblock_migratetype(s, pfn)
    s.page[pfn].pcpmt = migratetype
    s.zone[PGFREE] += 1
    if migratetype >= MIGRATE_PCPTYPES:
        if migratetype == MIGRATE_ISOLATE:
            free_one_page(s, pfn, 0, migratetype)
            return
        migratetype = MIGRATE_MOVABLE
    list_add(s, pfn, pcp_list_slot(s, cpu, migratetype))
    s.page[pfn].flags |= PG_pcp
    s.zone[Z_PCP_COUNT + cpu] += 1
    if s.zone[Z_PCP_COUNT + cpu] >= s.zone[Z_PCP_HIGH]:
        free_pcppages_bulk(s, cpu, s.zone[Z_PCP_BATCH])


@mm_jit_inline
def drain_pages_zone(s, cpu):
    """``drain_pages_zone``: give back everything on one CPU's lists."""
    if s.zone[Z_PCP_COUNT + cpu] > 0:
        free_pcppages_bulk(s, cpu, s.zone[Z_PCP_COUNT + cpu])


@mm_jit
def drain_all_pages(s):
    """``drain_all_pages(zone)`` (v5.9): drain every CPU that has pcp pages.

    In the kernel this queues a work item on each such CPU and waits for all of them; what
    that costs in time is charged by the caller through the cost model. Returns the number of
    CPUs that had pages (the number of kworkers that had to run).
    """
    s.zone[SIM_DRAIN_ALL_PAGES] += 1
    busy = 0
    for cpu in range(s.zone[Z_NR_CPUS]):
        if s.zone[Z_PCP_COUNT + cpu] > 0:
            busy += 1
            drain_pages_zone(s, cpu)
    return busy


@mm_jit
def drain_cost_ns(s, busy_with_work):
    """Time the caller waits in ``drain_all_pages`` / ``lru_add_drain_all``.

    Both queue a work item on every CPU with something to drain and wait for all of them
    (``flush_work``). The wait is the slowest kworker's: on a CPU that runs the workload the
    kworker competes with the compiler. Cost: ``drain_base_ns``, plus
    ``drain_busy_cpu_wait_ns`` once if any CPU with something to drain is busy (CPUs
    ``0 .. busy_cpus-1`` run the workload).
    """
    cost = s.zone[Z_COST + C_DRAIN_BASE]
    if busy_with_work:
        cost += s.zone[Z_COST + C_DRAIN_BUSY_CPU_WAIT]
    return cost


@mm_jit
def pcp_drain_cost_ns(s):
    """What ``drain_all_pages`` costs the caller right now: does a busy CPU hold pcp pages?"""
    busy_with_work = False
    for cpu in range(min(s.zone[Z_BUSY_CPUS], s.zone[Z_NR_CPUS])):
        if s.zone[Z_PCP_COUNT + cpu] > 0:
            busy_with_work = True
    return drain_cost_ns(s, busy_with_work)
