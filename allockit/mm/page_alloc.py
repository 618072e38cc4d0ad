"""Allocation and free entry points: gfp handling, watermarks, ``rmqueue``, ``alloc_pages``.

Mirrors ``mm/page_alloc.c`` of Linux v5.9: ``gfp_migratetype``, ``current_alloc_flags``,
``alloc_flags_nofragment``, ``gfp_to_alloc_flags``, ``__zone_watermark_ok``,
``zone_watermark_fast``, ``rmqueue``, ``reserve_highatomic_pageblock``,
``get_page_from_freelist``, ``__alloc_pages_nodemask`` and ``__free_pages``.

``alloc_pages_slowpath`` holds the v5.9 slow path without direct compaction (wake kswapd,
retry at the MIN watermark, direct reclaim with a pcp drain, the reclaim retry rules): exact
for order 0, which never compacts. ``compaction.alloc_pages_compact`` is the slow path with the
compaction steps, for the higher-order requests of the strategies
(``docs/model.md#slow-path``).
"""

import numpy as np

from .buddy import (
    free_one_page,
    get_pageblock_migratetype,
    mod_zone_freepage_state,
    move_freepages_block,
    pageblock_nr_pages,
    rmqueue_,
    rmqueue_smallest,
    set_pageblock_migratetype,
)
from .clock import charge
from .constants import (
    ___GFP_ATOMIC,
    ___GFP_DIRECT_RECLAIM,
    ___GFP_HIGH,
    ___GFP_KSWAPD_RECLAIM,
    ___GFP_NOMEMALLOC,
    ___GFP_NORETRY,
    ___GFP_RETRY_MAYFAIL,
    ALLOC_CMA,
    ALLOC_CPUSET,
    ALLOC_HARDER,
    ALLOC_HIGH,
    ALLOC_KSWAPD,
    ALLOC_NO_WATERMARKS,
    ALLOC_NOFRAGMENT,
    ALLOC_OOM,
    ALLOC_WMARK_LOW,
    ALLOC_WMARK_MASK,
    ALLOC_WMARK_MIN,
    GFP_MOVABLE_MASK,
    GFP_MOVABLE_SHIFT,
    MAX_ORDER,
    MIGRATE_CMA,
    MIGRATE_HIGHATOMIC,
    MIGRATE_ISOLATE,
    MIGRATE_MOVABLE,
    MIGRATE_PCPTYPES,
    NO_PAGE,
    PAGE_ALLOC_COSTLY_ORDER,
    T_DRAIN_PCP,
    T_RECLAIM,
    PG_dirty,
    PG_head,
    PG_writeback,
)
from .jit import mm_jit, mm_jit_inline
from .lists import free_list_slot, list_empty
from .pagestate import PageWriteback
from .pcp import drain_all_pages, free_unref_page, pcp_drain_cost_ns, rmqueue_pcplist
from .state import (
    Z_ALLOC_NOFRAGMENT,
    Z_FLAGS,
    Z_IN_BG,
    Z_MANAGED,
    Z_NR_FREE,
    Z_NR_PAGES,
    Z_NR_RESERVED_HIGHATOMIC,
    Z_WATERMARK_BOOST,
    Z_WMARK,
    ZONE_BOOSTED_WATERMARK,
)
from .vmscan import try_to_free_pages, wakeup_kswapd_reclaim, zone_reclaimable_pages
from .vmstat import (
    NR_FREE_CMA_PAGES,
    NR_FREE_PAGES,
    PGALLOC,
    PGALLOC_CMA,
    PGFREE,
    SIM_ALLOC_FAIL,
    SIM_HIGHATOMIC_RESERVE,
    SIM_KSWAPD_WAKE,
    SIM_WMARK_FAIL,
)

MAX_RECLAIM_RETRIES = 16
CONGESTION_WAIT_NS = 100_000_000  # congestion_wait(BLK_RW_ASYNC, HZ/10)


# --- gfp -> migratetype and alloc_flags --------------------------------------------------------
@mm_jit_inline
def gfp_migratetype(gfp):
    """``gfp_migratetype``: __GFP_MOVABLE → MOVABLE, __GFP_RECLAIMABLE → RECLAIMABLE."""
    return (gfp & GFP_MOVABLE_MASK) >> GFP_MOVABLE_SHIFT


@mm_jit_inline
def current_alloc_flags(gfp, alloc_flags):
    """``current_alloc_flags`` (v5.9): movable requests may use CMA (no PF_MEMALLOC_NOCMA)."""
    if gfp_migratetype(gfp) == MIGRATE_MOVABLE:
        alloc_flags |= ALLOC_CMA
    return alloc_flags


@mm_jit_inline
def alloc_flags_nofragment(s, gfp):
    """``alloc_flags_nofragment``: ALLOC_KSWAPD, and ALLOC_NOFRAGMENT for ZONE_NORMAL.

    NOFRAGMENT applies when the preferred zone is ZONE_NORMAL with a DMA32 zone below it;
    the machine config says whether the modelled zone is such a zone.
    """
    alloc_flags = gfp & ___GFP_KSWAPD_RECLAIM  # == ALLOC_KSWAPD, as the kernel relies on
    if s.zone[Z_ALLOC_NOFRAGMENT] != 0:
        alloc_flags |= ALLOC_NOFRAGMENT
    return alloc_flags


@mm_jit_inline
def gfp_to_alloc_flags(gfp):
    """``gfp_to_alloc_flags`` (v5.9): the slow path's flags (MIN watermark)."""
    alloc_flags = ALLOC_WMARK_MIN | ALLOC_CPUSET
    alloc_flags |= gfp & (___GFP_HIGH | ___GFP_KSWAPD_RECLAIM)  # == ALLOC_HIGH | ALLOC_KSWAPD
    if gfp & ___GFP_ATOMIC:
        if not (gfp & ___GFP_NOMEMALLOC):
            alloc_flags |= ALLOC_HARDER
        alloc_flags &= ~ALLOC_CPUSET
    return current_alloc_flags(gfp, alloc_flags)


# --- watermarks ------------------------------------------------------------------------------
@mm_jit_inline
def wmark_pages(s, i):
    """``wmark_pages``: watermark i (MIN/LOW/HIGH) plus the current boost."""
    return s.zone[Z_WMARK + i] + s.zone[Z_WATERMARK_BOOST]


@mm_jit_inline
def zone_watermark_unusable_free(s, order, alloc_flags):
    """``__zone_watermark_unusable_free`` (v5.9): free pages this request may not count."""
    unusable = (np.int64(1) << order) - 1
    if (alloc_flags & (ALLOC_HARDER | ALLOC_OOM)) == 0:
        unusable += s.zone[Z_NR_RESERVED_HIGHATOMIC]
    if not (alloc_flags & ALLOC_CMA):
        unusable += s.zone[NR_FREE_CMA_PAGES]
    return unusable


@mm_jit_inline
def zone_watermark_ok_(s, order, mark, alloc_flags, free_pages):
    """``__zone_watermark_ok`` (v5.9): order-0 headroom, then a suitable free block ≥ order."""
    minimum = mark
    alloc_harder = (alloc_flags & (ALLOC_HARDER | ALLOC_OOM)) != 0
    free_pages -= zone_watermark_unusable_free(s, order, alloc_flags)
    if alloc_flags & ALLOC_HIGH:
        minimum -= minimum // 2
    if alloc_flags & ALLOC_OOM:
        minimum -= minimum // 2
    elif alloc_harder:
        minimum -= minimum // 4
    if free_pages <= minimum:
        return False
    if order == 0:
        return True
    for o in range(order, MAX_ORDER):
        if s.zone[Z_NR_FREE + o] == 0:
            continue
        for mt in range(MIGRATE_PCPTYPES):
            if not list_empty(s, free_list_slot(s, mt, o)):
                return True
        if (alloc_flags & ALLOC_CMA) and not list_empty(s, free_list_slot(s, MIGRATE_CMA, o)):
            return True
        if alloc_harder and not list_empty(s, free_list_slot(s, MIGRATE_HIGHATOMIC, o)):
            return True
    return False


@mm_jit
def zone_watermark_ok(s, order, mark, alloc_flags):
    """``zone_watermark_ok``: ``__zone_watermark_ok`` on NR_FREE_PAGES."""
    return zone_watermark_ok_(s, order, mark, alloc_flags, s.zone[NR_FREE_PAGES])


@mm_jit_inline
def zone_watermark_fast(s, gfp, order, mark, alloc_flags):
    """``zone_watermark_fast`` (v5.9): a cheap order-0 test before the full check.

    GFP_ATOMIC order-0 requests checked at the MIN watermark ignore the boost (the boost
    exists to wake kswapd early, not to fail atomic allocations).
    """
    free_pages = s.zone[NR_FREE_PAGES]
    if order == 0 and free_pages - zone_watermark_unusable_free(s, 0, alloc_flags) > mark:
        return True
    if zone_watermark_ok_(s, order, mark, alloc_flags, free_pages):
        return True
    if (
        order == 0
        and (gfp & ___GFP_ATOMIC) != 0
        and s.zone[Z_WATERMARK_BOOST] != 0
        and (alloc_flags & ALLOC_WMARK_MASK) == ALLOC_WMARK_MIN
    ):
        return zone_watermark_ok_(s, order, s.zone[Z_WMARK], alloc_flags, free_pages)
    return False


# --- rmqueue ---------------------------------------------------------------------------------
@mm_jit_inline
def wakeup_kswapd(s):
    """``wakeup_kswapd``: kswapd reclaims on its own CPU as the clock advances (vmscan.py)."""
    s.zone[SIM_KSWAPD_WAKE] += 1
    wakeup_kswapd_reclaim(s)


@mm_jit_inline
def rmqueue(s, cpu, order, migratetype, alloc_flags):
    """``rmqueue`` (v5.9): pcp lists for order 0, the buddy (zone->lock) otherwise.

    A MOVABLE order-0 request that may not use CMA bypasses the pcp lists, since those can hold
    CMA pages (v5.9's ALLOC_CMA change).
    """
    if order == 0 and ((alloc_flags & ALLOC_CMA) != 0 or migratetype != MIGRATE_MOVABLE):
        pfn = rmqueue_pcplist(s, cpu, migratetype, alloc_flags)
    else:
        pfn = np.int64(NO_PAGE)
        if order > 0 and (alloc_flags & ALLOC_HARDER):
            pfn = rmqueue_smallest(s, order, MIGRATE_HIGHATOMIC)
        if pfn == NO_PAGE:
            pfn = rmqueue_(s, order, migratetype, alloc_flags)
        if pfn == NO_PAGE:
            return pfn  # "goto failed": the boost check below is skipped
        mod_zone_freepage_state(s, -(np.int64(1) << order), np.int64(s.page[pfn].pcpmt))
    if pfn != NO_PAGE:
        s.zone[PGALLOC] += np.int64(1) << order
        if s.page[pfn].pcpmt == MIGRATE_CMA:
            s.zone[PGALLOC_CMA] += np.int64(1) << order
    if s.zone[Z_FLAGS] & ZONE_BOOSTED_WATERMARK:
        s.zone[Z_FLAGS] &= ~ZONE_BOOSTED_WATERMARK
        wakeup_kswapd(s)
    return pfn


@mm_jit
def reserve_highatomic_pageblock(s, pfn):
    """``reserve_highatomic_pageblock``: keep a pageblock for high-order atomic requests."""
    pbn = pageblock_nr_pages(s)
    max_managed = s.zone[Z_MANAGED] // 100 + pbn
    if s.zone[Z_NR_RESERVED_HIGHATOMIC] >= max_managed:
        return
    mt = get_pageblock_migratetype(s, pfn)
    if mt != MIGRATE_HIGHATOMIC and mt != MIGRATE_ISOLATE and mt != MIGRATE_CMA:
        s.zone[Z_NR_RESERVED_HIGHATOMIC] += pbn
        set_pageblock_migratetype(s, pfn, MIGRATE_HIGHATOMIC)
        move_freepages_block(s, pfn, MIGRATE_HIGHATOMIC)
        s.zone[SIM_HIGHATOMIC_RESERVE] += 1


@mm_jit_inline
def prep_new_page(s, pfn, order):
    """``prep_new_page``: the head remembers the allocation order (compound_order)."""
    s.page[pfn].order = order
    if order > 0:
        s.page[pfn].flags |= PG_head


@mm_jit_inline
def get_page_from_freelist(s, cpu, gfp, order, migratetype, alloc_flags):
    """``get_page_from_freelist`` (v5.9, one zone): watermark check, then ``rmqueue``."""
    while True:
        ok = (alloc_flags & ALLOC_NO_WATERMARKS) != 0 or zone_watermark_fast(
            s, gfp, order, wmark_pages(s, alloc_flags & ALLOC_WMARK_MASK), alloc_flags
        )
        if ok:
            pfn = rmqueue(s, cpu, order, migratetype, alloc_flags)
            if pfn != NO_PAGE:
                prep_new_page(s, pfn, order)
                if order > 0 and (alloc_flags & ALLOC_HARDER):
                    reserve_highatomic_pageblock(s, pfn)
                return pfn
        else:
            s.zone[SIM_WMARK_FAIL] += 1
        # "It's possible on a UMA machine to get through all zones that are fragmented."
        if alloc_flags & ALLOC_NOFRAGMENT:
            alloc_flags &= ~ALLOC_NOFRAGMENT
            continue
        return np.int64(NO_PAGE)


@mm_jit
def get_page_from_freelist_call(s, cpu, gfp, order, migratetype, alloc_flags):
    """``get_page_from_freelist`` compiled once, as a function, for the slow paths: each
    reaches it two or three times, and inlining it there (with ``rmqueue`` and the watermark
    checks it inlines) multiplied compile time for no measurable run time. The fast path in
    ``alloc_pages`` keeps it inlined."""
    return get_page_from_freelist(s, cpu, gfp, order, migratetype, alloc_flags)


COUNT_STRIDE = 64  # sampling stride of write_pending_pages


@mm_jit
def write_pending_pages(s):
    """NR_ZONE_WRITE_PENDING (dirty and writeback pages), estimated from every
    ``COUNT_STRIDE``-th page frame (dirtiness ends lazily: there is no exact counter)."""
    n = 0
    for pfn in range(0, s.zone[Z_NR_PAGES], COUNT_STRIDE):
        f = s.page[pfn].flags
        if (f & PG_dirty) or ((f & PG_writeback) and PageWriteback(s, pfn)):
            n += 1
    return n * COUNT_STRIDE


@mm_jit
def should_reclaim_retry(s, order, alloc_flags, did_some_progress, no_progress_loops):
    """``should_reclaim_retry`` (v5.9): retry while reclaiming everything reclaimable could
    meet the MIN watermark for this order, at most MAX_RECLAIM_RETRIES loops without progress
    (costly orders never count as progress); with no progress and mostly dirty/writeback
    pages it first waits ``congestion_wait(HZ/10)``. Returns ``(retry, no_progress_loops)``.

    """
    if did_some_progress and order <= PAGE_ALLOC_COSTLY_ORDER:
        no_progress_loops = 0
    else:
        no_progress_loops += 1
    if no_progress_loops > MAX_RECLAIM_RETRIES:
        return False, no_progress_loops
    reclaimable = zone_reclaimable_pages(s)
    available = reclaimable + s.zone[NR_FREE_PAGES]
    if zone_watermark_ok_(s, order, s.zone[Z_WMARK], alloc_flags, available):
        if not did_some_progress and 2 * write_pending_pages(s) > reclaimable:
            charge(s, CONGESTION_WAIT_NS, T_RECLAIM)
        return True, no_progress_loops
    return False, no_progress_loops


@mm_jit
def direct_reclaim_and_retry(s, cpu, gfp, order, migratetype, alloc_flags):
    """``__alloc_pages_direct_reclaim``: reclaim, retry; once, drain the pcp lists and retry.

    Returns ``(pfn, progress)``.
    """
    progress = try_to_free_pages(s, cpu)
    if progress == 0:
        return np.int64(NO_PAGE), 0
    pfn = get_page_from_freelist_call(s, cpu, gfp, order, migratetype, alloc_flags)
    if pfn == NO_PAGE:
        cost = pcp_drain_cost_ns(s)
        drain_all_pages(s)
        charge(s, cost, T_DRAIN_PCP)
        pfn = get_page_from_freelist_call(s, cpu, gfp, order, migratetype, alloc_flags)
    return pfn, progress


@mm_jit
def alloc_pages_slowpath(s, cpu, gfp, order, migratetype):
    """``__alloc_pages_slowpath`` (v5.9) without the direct-compaction steps.

    Exact for order 0, which never compacts (``__alloc_pages_direct_compact`` returns at once
    for order 0); ``compaction.alloc_pages_compact`` adds the compaction steps for higher
    orders. There is no OOM killer: where the kernel would kill, the allocation fails.
    """
    # atomic reserves are not for callers that can sleep
    if (gfp & (___GFP_ATOMIC | ___GFP_DIRECT_RECLAIM)) == (___GFP_ATOMIC | ___GFP_DIRECT_RECLAIM):
        gfp &= ~___GFP_ATOMIC
    alloc_flags = gfp_to_alloc_flags(gfp)
    if alloc_flags & ALLOC_KSWAPD:
        wakeup_kswapd(s)
    pfn = get_page_from_freelist_call(s, cpu, gfp, order, migratetype, alloc_flags)
    if pfn != NO_PAGE or (gfp & ___GFP_DIRECT_RECLAIM) == 0:
        return pfn
    no_progress_loops = 0
    while True:
        pfn, progress = direct_reclaim_and_retry(s, cpu, gfp, order, migratetype, alloc_flags)
        if pfn != NO_PAGE:
            return pfn
        if gfp & ___GFP_NORETRY:
            return pfn
        if order > PAGE_ALLOC_COSTLY_ORDER and (gfp & ___GFP_RETRY_MAYFAIL) == 0:
            return pfn
        if s.zone[Z_IN_BG] != 0:
            # the workload's own allocations get one reclaim round: their retry loops would
            # only cost the simulation time (counted as sim_bg_alloc_fail)
            return pfn
        retry, no_progress_loops = should_reclaim_retry(
            s, order, alloc_flags, progress > 0, no_progress_loops
        )
        if not retry:
            return pfn
        if alloc_flags & ALLOC_KSWAPD:
            wakeup_kswapd(s)
        pfn = get_page_from_freelist_call(s, cpu, gfp, order, migratetype, alloc_flags)
        if pfn != NO_PAGE:
            return pfn


@mm_jit_inline
def alloc_pages(s, cpu, gfp, order):
    """``__alloc_pages_nodemask`` (v5.9) on CPU ``cpu``: fast path, then the slow path.

    Returns the first pfn of a 2^order block, or -1.
    """
    migratetype = gfp_migratetype(gfp)
    alloc_flags = current_alloc_flags(gfp, ALLOC_WMARK_LOW)
    alloc_flags |= alloc_flags_nofragment(s, gfp)
    pfn = get_page_from_freelist(s, cpu, gfp, order, migratetype, alloc_flags)
    if pfn != NO_PAGE:
        return pfn
    pfn = alloc_pages_slowpath(s, cpu, gfp, order, migratetype)
    if pfn == NO_PAGE:
        s.zone[SIM_ALLOC_FAIL] += 1
    return pfn


@mm_jit_inline
def free_pages_prepare(s, pfn, order):
    """``free_pages_prepare``: clear the page flags (aging flags too) and owner of every page
    of the block. A page still on an LRU list is the caller's bug, as the kernel's
    ``bad_page`` on ``PG_lru``: the invariant checker finds the broken list."""
    for p in range(pfn, pfn + (np.int64(1) << order)):
        s.page[p].flags = 0
        s.page[p].lru_flags = 0
        s.page[p].owner = -1


@mm_jit_inline
def free_pages(s, cpu, pfn, order):
    """``__free_pages`` (v5.9): order 0 via the pcp lists, larger orders to the buddy."""
    free_pages_prepare(s, pfn, order)
    if order == 0:
        free_unref_page(s, cpu, pfn)
    else:
        s.zone[PGFREE] += np.int64(1) << order
        free_one_page(s, pfn, order, get_pageblock_migratetype(s, pfn))
