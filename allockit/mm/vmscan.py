"""Reclaim: direct reclaim (``try_to_free_pages``) and kswapd (Linux v5.9 mm/vmscan.c).

Deviation, see docs/model.md#not-yet-modelled: instead of aging active/inactive LRU lists,
a clock hand sweeps the pfns and reclaims pages that ``shrink_page_list`` would free without
I/O: clean page cache (and anonymous pages when the machine has swap, as swap-out to a fast
device). Dirty pages are left to the flusher, pages under writeback, locked, pinned, in a
pagevec or isolated for migration are skipped. A reclaimed page's object is dropped (the
workload's later operations on it are skipped) and the page is freed through the pcp list of
the reclaiming CPU.

kswapd is woken below the low watermark and reclaims, on its own CPU, one page per
``reclaim_page_ns`` of elapsed time until the zone is above the high watermark (plus boost);
on balancing it clears the watermark boost.
"""

import numpy as np

from .clock import charge
from .constants import (
    ABLATE_KSWAPD,
    C_RECLAIM_PAGE,
    C_SCAN_PER_PFN,
    T_RECLAIM,
    PG_anon,
    PG_dirty,
    PG_isolated,
    PG_lru,
    PG_pagevec,
)
from .jit import mm_jit
from .owners import OWNER_NONE
from .pagestate import PageLocked, PageWriteback, page_has_extra_ref
from .pcp import free_unref_page
from .state import (
    Z_ABLATE,
    Z_CLOCK,
    Z_COST,
    Z_EV_HEAD,
    Z_IN_BG,
    Z_KSWAPD_ACTIVE,
    Z_KSWAPD_LAST,
    Z_NR_PAGES,
    Z_RECLAIM_DRY_CLOCK,
    Z_RECLAIM_DRY_HEAD,
    Z_RECLAIM_HAND,
    Z_SWAP,
    Z_WATERMARK_BOOST,
    Z_WMARK,
)
from .vmstat import ALLOCSTALL, NR_FREE_CMA_PAGES, NR_FREE_PAGES, PGSTEAL_DIRECT, PGSTEAL_KSWAPD

SWAP_CLUSTER_MAX = 32
BG_RECLAIM_SCAN = SWAP_CLUSTER_MAX * 64
COUNT_STRIDE = 64  # sampling stride of the slow path's page counts


@mm_jit
def page_reclaimable(s, pfn):
    """Would ``shrink_page_list`` free this page without writing it?"""
    f = s.page[pfn].flags
    if (f & PG_lru) == 0 or (f & (PG_isolated | PG_pagevec | PG_dirty)) != 0:
        return False
    if (f & PG_anon) != 0 and s.zone[Z_SWAP] == 0:
        return False
    if PageWriteback(s, pfn) or PageLocked(s, pfn) or page_has_extra_ref(s, pfn):
        return False
    return True


@mm_jit
def reclaim_page(s, cpu, pfn):
    """Drop a reclaimable page: its object loses it, the page is freed."""
    owner = np.int64(s.page[pfn].owner)
    if owner >= 0 and owner < s.obj_pfn.shape[0] and s.obj_pfn[owner] == pfn:
        s.obj_pfn[owner] = -1
    s.page[pfn].owner = OWNER_NONE
    s.page[pfn].mapcount = 0
    s.page[pfn].flags = 0
    free_unref_page(s, cpu, pfn)


@mm_jit
def shrink_zone(s, cpu, nr_to_reclaim, max_scan):
    """Sweep the reclaim hand; returns ``(reclaimed, scanned)``."""
    n = s.zone[Z_NR_PAGES]
    hand = s.zone[Z_RECLAIM_HAND]
    reclaimed = 0
    scanned = 0
    while reclaimed < nr_to_reclaim and scanned < max_scan:
        if hand >= n:
            hand = 0
        if page_reclaimable(s, hand):
            reclaim_page(s, cpu, hand)
            reclaimed += 1
        hand += 1
        scanned += 1
    s.zone[Z_RECLAIM_HAND] = hand
    return reclaimed, scanned


@mm_jit
def try_to_free_pages(s, cpu):
    """``try_to_free_pages``: direct reclaim of ``SWAP_CLUSTER_MAX`` pages by the caller.

    The scan is bounded the way the kernel's priority loop bounds it: from 1/4096 of the
    LRU doubling to all of it, stopping once enough was reclaimed; here, for background
    allocations (the workload's CPUs), at ``BG_RECLAIM_SCAN`` pfns per attempt.
    """
    s.zone[ALLOCSTALL] += 1
    full = s.zone[Z_IN_BG] == 0
    max_scan = s.zone[Z_NR_PAGES] if full else BG_RECLAIM_SCAN
    if (
        full
        and s.zone[Z_RECLAIM_DRY_HEAD] == s.zone[Z_EV_HEAD]
        and (s.zone[Z_RECLAIM_DRY_CLOCK] == s.zone[Z_CLOCK])
    ):
        # nothing ran since a full sweep found nothing: it would find nothing again (the
        # simulated time of the sweep is charged all the same)
        reclaimed, scanned = 0, max_scan
    else:
        reclaimed, scanned = shrink_zone(s, cpu, SWAP_CLUSTER_MAX, max_scan)
        if full and reclaimed == 0:
            s.zone[Z_RECLAIM_DRY_HEAD] = s.zone[Z_EV_HEAD]
    s.zone[PGSTEAL_DIRECT] += reclaimed
    cost = scanned * s.zone[Z_COST + C_SCAN_PER_PFN] + reclaimed * s.zone[Z_COST + C_RECLAIM_PAGE]
    charge(s, cost, T_RECLAIM)
    if full and reclaimed == 0:
        s.zone[Z_RECLAIM_DRY_CLOCK] = s.zone[Z_CLOCK]
    return reclaimed


@mm_jit
def zone_reclaimable_pages(s):
    """``zone_reclaimable_pages``: file LRU pages, plus anonymous ones with swap.

    Estimated from every ``COUNT_STRIDE``-th page frame (the slow path's retry heuristic only
    compares it with a watermark; an exact count is a walk of every page per call).
    """
    total = 0
    swap = s.zone[Z_SWAP] != 0
    for pfn in range(0, s.zone[Z_NR_PAGES], COUNT_STRIDE):
        f = s.page[pfn].flags
        if f & (PG_lru | PG_isolated | PG_pagevec):
            if (f & PG_anon) == 0 or swap:
                total += 1
    return total * COUNT_STRIDE


@mm_jit
def wakeup_kswapd_reclaim(s):
    """Wake kswapd (when not already running; never with ``ABLATE_KSWAPD``)."""
    if s.zone[Z_ABLATE] & ABLATE_KSWAPD:
        return
    if s.zone[Z_KSWAPD_ACTIVE] == 0:
        s.zone[Z_KSWAPD_ACTIVE] = 1
        s.zone[Z_KSWAPD_LAST] = s.zone[Z_CLOCK]


@mm_jit
def kswapd_run(s, until):
    """kswapd's reclaim from its last run to ``until``, on its own CPU (no time charged).

    Its CPU bounds it: at most one pfn scanned per ``scan_per_pfn_ns`` and one page
    reclaimed per ``reclaim_page_ns`` of elapsed time. It sleeps when the zone is balanced
    (high watermark + boost, free CMA pages not counted, as ``pgdat_balanced``), or after
    sweeping the whole zone without reclaiming anything.
    """
    if s.zone[Z_KSWAPD_ACTIVE] == 0 or until <= s.zone[Z_KSWAPD_LAST]:
        return
    elapsed = until - s.zone[Z_KSWAPD_LAST]
    budget = elapsed // max(s.zone[Z_COST + C_RECLAIM_PAGE], 1)
    max_scan = elapsed // max(s.zone[Z_COST + C_SCAN_PER_PFN], 1)
    if budget == 0 or max_scan == 0:
        return
    s.zone[Z_KSWAPD_LAST] = until
    # pgdat_balanced checks the high watermark without ALLOC_CMA: free CMA pages do not count
    target = s.zone[Z_WMARK + 2] + s.zone[Z_WATERMARK_BOOST]
    want = target - (s.zone[NR_FREE_PAGES] - s.zone[NR_FREE_CMA_PAGES])
    if want <= 0:
        s.zone[Z_KSWAPD_ACTIVE] = 0
        s.zone[Z_WATERMARK_BOOST] = 0  # balanced: the boost has done its job
        return
    reclaimed, scanned = shrink_zone(s, 0, min(budget, want), min(max_scan, s.zone[Z_NR_PAGES]))
    s.zone[PGSTEAL_KSWAPD] += reclaimed
    if reclaimed > 0:
        s.zone[Z_KSWAPD_ACTIVE] = 1
    else:
        s.zone[Z_KSWAPD_ACTIVE] += scanned  # pfns swept in vain since the last success
        if s.zone[Z_KSWAPD_ACTIVE] > s.zone[Z_NR_PAGES]:
            s.zone[Z_KSWAPD_ACTIVE] = 0  # nothing reclaimable: kswapd goes back to sleep
