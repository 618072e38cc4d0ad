"""Reclaim by LRU age: direct reclaim and kswapd (Linux v5.9/v5.10 mm/vmscan.c).

Pages are taken from the *tail* of the LRU lists (``lru.py``), the oldest first, so the pages
reclaim frees lie wherever those pages happened to be allocated: scattered, as in the kernel.
The steps, each named after the function it mirrors:

* ``shrink_inactive_list``: up to ``nr_to_scan`` pages from the inactive list's tail, each
  judged as ``shrink_page_list`` judges it: a locked page is kept; a page under writeback,
  a dirty page-cache page (reclaim does not write it: it is left to the flusher) and a page
  whose buffers jbd2 holds are activated; ``page_check_references`` activates a page mapped
  and referenced twice and keeps one referenced once; anonymous pages without swap are
  activated (``add_to_swap`` fails); a page with another extra reference (a pin) is kept
  (``__remove_mapping`` cannot freeze its count). The rest are freed; kept pages go back to
  the head of their list, activated ones to the head of the active list.
* ``shrink_active_list``: pages from the active list's tail are deactivated to the head of
  the inactive list (the only exception in the kernel, referenced executable file pages, does
  not occur in the model: no page is mapped executable).
* ``shrink_node``: the file (and, with swap, anonymous) active list is aged only while
  ``inactive_is_low``; with swap, ``cache_trim_mode`` scans the file lists alone while the
  inactive file list is large and needs no deactivation.
* ``shrink_lruvec``: each list scanned ``size >> priority`` pages, ``SWAP_CLUSTER_MAX`` at a
  time, in ``enum lru_list`` order, until ``nr_to_reclaim`` pages were freed (direct reclaim
  at ``DEF_PRIORITY`` scans its whole share: proportional reclaim).
* ``do_try_to_free_pages`` (direct reclaim): priority from ``DEF_PRIORITY`` down to 0 until
  ``SWAP_CLUSTER_MAX`` pages were freed; once more with ``force_deactivate`` if aging was
  skipped and nothing was freed.
* ``balance_pgdat`` (kswapd): woken below the low watermark, it reclaims ``max(high
  watermark, SWAP_CLUSTER_MAX)`` per pass until the zone is above the high watermark plus
  boost (free CMA pages not counted), lowering the priority after a pass that scanned less
  than that; boosted reclaim goes on until the boost is reclaimed, then clears the boost.
  After ``MAX_RECLAIM_RETRIES`` passes to priority 1 that freed nothing it stays asleep.
  kswapd runs on its own CPU with its own clock: it works while its clock is behind the
  machine's, each pass advancing it by the pass's cost.

Evicted page-cache pages leave shadow entries (``workingset.py``); a refault the workingset
activates makes ``shrink_node`` age the active file list (``may_deactivate``) on the next
reclaim, as a low inactive list does.

Not modelled (docs/model.md#not-yet-modelled): ``SCAN_FRACT`` balancing of anon against file by
swappiness and cost (with swap both are scanned equally), the unevictable list, writeback of
dirty pages by kswapd (``pageout``) and slab shrinkers.

Cost: every page scanned costs ``scan_per_pfn_ns``, every page freed ``reclaim_page_ns``;
direct reclaim charges the calling task (``T_RECLAIM``).
"""

import numpy as np

from .buddy import pageblock_nr_pages
from .clock import charge
from .constants import (
    ABLATE_KSWAPD,
    C_RECLAIM_PAGE,
    C_SCAN_PER_PFN,
    LRU_ACTIVE,
    LRU_ACTIVE_ANON,
    LRU_ACTIVE_FILE,
    LRU_FILE,
    LRU_INACTIVE_ANON,
    LRU_INACTIVE_FILE,
    NR_LRU_LISTS,
    REF_JOURNAL,
    T_RECLAIM,
    LRU_PG_active,
    LRU_PG_referenced,
    PG_anon,
    PG_dirty,
    PG_private,
)
from .jit import mm_jit, mm_jit_inline
from .lists import list_empty, list_last, lru_list_slot
from .lru import add_page_to_lru_list, del_page_from_lru_list, lru_size
from .owners import OWNER_NONE
from .pagestate import PageLocked, PageWriteback, page_has_extra_ref
from .pcp import free_unref_page
from .state import (
    Z_ABLATE,
    Z_CLOCK,
    Z_COMPACT_BLOCKSKIP_FLUSH,
    Z_COMPACT_CACHED_FREE,
    Z_COMPACT_CACHED_MIGRATE,
    Z_COMPACT_INIT_FREE,
    Z_COST,
    Z_EV_HEAD,
    Z_IN_BG,
    Z_KSWAPD_ACTIVE,
    Z_KSWAPD_BOOST_RECLAIM,
    Z_KSWAPD_FAILURES,
    Z_KSWAPD_LAST,
    Z_KSWAPD_PRIORITY,
    Z_KSWAPD_RECLAIMED,
    Z_NR_PAGES,
    Z_RECLAIM_DRY_CLOCK,
    Z_RECLAIM_DRY_COST,
    Z_RECLAIM_DRY_HEAD,
    Z_REFAULTS_FILE,
    Z_SWAP,
    Z_WATERMARK_BOOST,
    Z_WMARK,
)
from .vmstat import (
    ALLOCSTALL,
    NR_FREE_CMA_PAGES,
    NR_FREE_PAGES,
    PGACTIVATE,
    PGDEACTIVATE,
    PGSCAN_DIRECT,
    PGSCAN_KSWAPD,
    PGSTEAL_DIRECT,
    PGSTEAL_KSWAPD,
    WORKINGSET_ACTIVATE_FILE,
)
from .workingset import evict_from_mapping, workingset_age_nonresident

SWAP_CLUSTER_MAX = 32  # include/linux/swap.h
DEF_PRIORITY = 12  # include/linux/mmzone.h
MAX_RECLAIM_RETRIES = 16  # mm/internal.h
BG_RECLAIM_SCAN = SWAP_CLUSTER_MAX * 64  # pages a workload allocation's reclaim may scan

# shrink_page_list's verdict on one page
PAGE_RECLAIMED = 0
PAGE_KEEP = 1  # keep / keep_locked: back to the head of its list
PAGE_ACTIVATE = 2  # activate_locked: to the head of the active list

# page_check_references (enum page_references)
PAGEREF_RECLAIM = 0
PAGEREF_RECLAIM_CLEAN = 1
PAGEREF_KEEP = 2
PAGEREF_ACTIVATE = 3

DEACTIVATE_ANON = 1  # sc->may_deactivate bits
DEACTIVATE_FILE = 2


@mm_jit_inline
def page_check_references(s, pfn):
    """``page_check_references`` (v5.9): a mapped page counts as referenced through each of
    its mappings (the workload's processes touch their memory while they run);
    ``PG_referenced`` is tested and cleared."""
    referenced_ptes = np.int64(s.page[pfn].mapcount)
    referenced_page = (s.page[pfn].lru_flags & LRU_PG_referenced) != 0
    s.page[pfn].lru_flags &= ~np.uint8(LRU_PG_referenced)
    if referenced_ptes > 0:
        s.page[pfn].lru_flags |= np.uint8(LRU_PG_referenced)
        if referenced_page or referenced_ptes > 1:
            return PAGEREF_ACTIVATE
        return PAGEREF_KEEP
    if referenced_page and (s.page[pfn].flags & PG_anon) == 0:
        return PAGEREF_RECLAIM_CLEAN
    return PAGEREF_RECLAIM


@mm_jit
def shrink_page(s, pfn):
    """``shrink_page_list``'s verdict on one isolated page (see the module docstring)."""
    if PageLocked(s, pfn):
        return PAGE_KEEP  # trylock_page failed
    if PageWriteback(s, pfn):
        return PAGE_ACTIVATE  # SetPageReclaim, nr_writeback
    ref = page_check_references(s, pfn)
    if ref == PAGEREF_ACTIVATE:
        return PAGE_ACTIVATE
    if ref == PAGEREF_KEEP:
        return PAGE_KEEP
    f = s.page[pfn].flags
    if (f & PG_anon) != 0 and s.zone[Z_SWAP] == 0:
        return PAGE_ACTIVATE  # add_to_swap failed: activate_locked_split
    if (f & PG_dirty) != 0:
        if (f & PG_anon) == 0:
            return PAGE_ACTIVATE  # dirty file page: left to the flusher
        return PAGE_KEEP
    held = page_has_extra_ref(s, pfn)
    if held and (f & PG_private) != 0 and s.page[pfn].refkind == REF_JOURNAL:
        return PAGE_ACTIVATE  # try_to_release_page: jbd2 holds the buffers
    if held:
        return PAGE_KEEP  # __remove_mapping cannot freeze the page count
    return PAGE_RECLAIMED


@mm_jit_inline
def snapshot_refaults(s):
    """``snapshot_refaults``: remember ``WORKINGSET_ACTIVATE_FILE`` at the end of a reclaim
    (the next one ages the active file list if it moved meanwhile)."""
    s.zone[Z_REFAULTS_FILE] = s.zone[WORKINGSET_ACTIVATE_FILE]


@mm_jit
def reclaim_page(s, cpu, pfn):
    """Free a page ``shrink_page_list`` reclaimed: its object loses it (``__remove_mapping``:
    a page-cache page leaves its shadow entry, a swapped-out anonymous page nothing), the
    page is freed."""
    evict_from_mapping(s, pfn)
    s.page[pfn].owner = OWNER_NONE
    s.page[pfn].mapcount = 0
    s.page[pfn].flags = 0
    s.page[pfn].lru_flags = 0
    free_unref_page(s, cpu, pfn)


@mm_jit
def shrink_inactive_list(s, cpu, lru, nr_to_scan):
    """``shrink_inactive_list``: judge up to ``nr_to_scan`` pages from the tail of inactive
    list ``lru``. Returns ``(reclaimed, scanned)``."""
    head = lru_list_slot(s, lru)
    reclaimed = 0
    scanned = 0
    while scanned < nr_to_scan and not list_empty(s, head):
        pfn = list_last(s, head)
        del_page_from_lru_list(s, pfn, lru)  # isolate_lru_pages
        scanned += 1
        verdict = shrink_page(s, pfn)
        if verdict == PAGE_RECLAIMED:
            reclaim_page(s, cpu, pfn)
            reclaimed += 1
        elif verdict == PAGE_ACTIVATE:
            s.page[pfn].lru_flags |= np.uint8(LRU_PG_active)
            add_page_to_lru_list(s, pfn, lru + LRU_ACTIVE)  # move_pages_to_lru
            s.zone[PGACTIVATE] += 1
            workingset_age_nonresident(s, 1)
        else:
            add_page_to_lru_list(s, pfn, lru)
    return reclaimed, scanned


@mm_jit
def shrink_active_list(s, lru, nr_to_scan):
    """``shrink_active_list``: deactivate up to ``nr_to_scan`` pages from the tail of active
    list ``lru`` to the head of its inactive list. Returns the pages scanned."""
    head = lru_list_slot(s, lru)
    scanned = 0
    while scanned < nr_to_scan and not list_empty(s, head):
        pfn = list_last(s, head)
        del_page_from_lru_list(s, pfn, lru)
        scanned += 1
        s.page[pfn].lru_flags &= ~np.uint8(LRU_PG_active)  # ClearPageActive
        add_page_to_lru_list(s, pfn, lru - LRU_ACTIVE)
        s.zone[PGDEACTIVATE] += 1
    return scanned


@mm_jit_inline
def inactive_is_low(s, inactive_lru):
    """``inactive_is_low``: the inactive list is smaller than the active one divided by
    ``inactive_ratio`` (``int_sqrt(10 * GiB)`` of the pair, 1 below 1 GiB)."""
    inactive = lru_size(s, inactive_lru)
    active = lru_size(s, inactive_lru + LRU_ACTIVE)
    gb = (inactive + active) >> 18  # 30 - PAGE_SHIFT
    ratio = np.int64(1)
    if gb > 0:
        ratio = np.int64(np.sqrt(10.0 * gb))
    return inactive * ratio < active


@mm_jit
def shrink_lruvec(s, cpu, priority, nr_to_reclaim, proportional, may_deactivate, scan_anon):
    """``get_scan_count`` + ``shrink_lruvec`` + ``shrink_list``. Returns ``(reclaimed,
    scanned, skipped_deactivate)``."""
    n0 = lru_size(s, LRU_INACTIVE_ANON) >> priority if scan_anon else 0
    n1 = lru_size(s, LRU_ACTIVE_ANON) >> priority if scan_anon else 0
    n2 = lru_size(s, LRU_INACTIVE_FILE) >> priority
    n3 = lru_size(s, LRU_ACTIVE_FILE) >> priority
    reclaimed = 0
    scanned = 0
    skipped = False
    while n0 > 0 or n3 > 0 or n2 > 0:
        for lru in range(NR_LRU_LISTS):
            left = n0 if lru == 0 else n1 if lru == 1 else n2 if lru == 2 else n3
            if left == 0:
                continue
            batch = min(left, SWAP_CLUSTER_MAX)
            if lru == 0:
                n0 -= batch
            elif lru == 1:
                n1 -= batch
            elif lru == 2:
                n2 -= batch
            else:
                n3 -= batch
            if lru & LRU_ACTIVE:
                bit = DEACTIVATE_FILE if lru & LRU_FILE else DEACTIVATE_ANON
                if may_deactivate & bit:
                    scanned += shrink_active_list(s, lru, batch)
                else:
                    skipped = True
            else:
                r, sc = shrink_inactive_list(s, cpu, lru, batch)
                reclaimed += r
                scanned += sc
        if reclaimed >= nr_to_reclaim and not proportional:
            break
    return reclaimed, scanned, skipped


@mm_jit
def shrink_node(s, cpu, priority, nr_to_reclaim, is_kswapd, force_deactivate):
    """``shrink_node``: decide what may be aged and what is scanned, then ``shrink_lruvec``.
    Returns ``(reclaimed, scanned, skipped_deactivate)``."""
    if force_deactivate:
        may_deactivate = DEACTIVATE_ANON | DEACTIVATE_FILE
    else:
        may_deactivate = 0
        if inactive_is_low(s, LRU_INACTIVE_ANON):
            may_deactivate |= DEACTIVATE_ANON
        # refaults activated since the last snapshot: the file workingset is thrashing
        refaults = s.zone[WORKINGSET_ACTIVATE_FILE]
        if refaults != s.zone[Z_REFAULTS_FILE] or inactive_is_low(s, LRU_INACTIVE_FILE):
            may_deactivate |= DEACTIVATE_FILE
    cache_trim_mode = (lru_size(s, LRU_INACTIVE_FILE) >> priority) > 0 and (
        may_deactivate & DEACTIVATE_FILE
    ) == 0
    scan_anon = s.zone[Z_SWAP] != 0 and not cache_trim_mode
    proportional = not is_kswapd and priority == DEF_PRIORITY
    reclaimed, scanned, skipped = shrink_lruvec(
        s, cpu, priority, nr_to_reclaim, proportional, may_deactivate, scan_anon
    )
    if reclaimed > 0:
        s.zone[Z_KSWAPD_FAILURES] = 0  # "Kswapd gives up on balancing ... after 16 failures"
    return reclaimed, scanned, skipped


@mm_jit_inline
def reclaim_cost(s, reclaimed, scanned):
    return scanned * s.zone[Z_COST + C_SCAN_PER_PFN] + reclaimed * s.zone[Z_COST + C_RECLAIM_PAGE]


@mm_jit
def do_try_to_free_pages(s, cpu, max_scan):
    """``do_try_to_free_pages``: the priority loop, stopped early once ``max_scan`` pages were
    scanned. Returns ``(reclaimed, scanned)``."""
    reclaimed = 0
    scanned = 0
    force = False
    while True:
        skipped = False
        for priority in range(DEF_PRIORITY, -1, -1):
            r, sc, sk = shrink_node(s, cpu, priority, SWAP_CLUSTER_MAX, False, force)
            reclaimed += r
            scanned += sc
            skipped = skipped or sk
            if reclaimed >= SWAP_CLUSTER_MAX or scanned >= max_scan:
                break
        snapshot_refaults(s)
        if reclaimed > 0 or not skipped or force or scanned >= max_scan:
            return reclaimed, scanned
        force = True  # "Untapped cgroup reserves? ... deactivate": retry with aging forced


@mm_jit
def try_to_free_pages(s, cpu):
    """``try_to_free_pages``: direct reclaim of ``SWAP_CLUSTER_MAX`` pages by the caller.

    A priority loop that freed nothing is remembered with the background event and clock it
    ran at: until either moves, the same loop would find nothing again (its simulated time is
    charged all the same, without walking the lists). The workload's own allocations (other
    CPUs, ``Z_IN_BG``) stop after ``BG_RECLAIM_SCAN`` pages: their stalls cost the measured
    call nothing, and on a machine full of pages reclaim cannot free, the whole loop for each
    of their failing allocations would dominate the simulation's run time.
    """
    s.zone[ALLOCSTALL] += 1
    if s.zone[Z_RECLAIM_DRY_HEAD] == s.zone[Z_EV_HEAD] and (
        s.zone[Z_RECLAIM_DRY_CLOCK] == s.zone[Z_CLOCK]
    ):
        charge(s, s.zone[Z_RECLAIM_DRY_COST], T_RECLAIM)
        s.zone[Z_RECLAIM_DRY_CLOCK] = s.zone[Z_CLOCK]
        return 0
    max_scan = BG_RECLAIM_SCAN if s.zone[Z_IN_BG] != 0 else np.int64(1) << 62
    reclaimed, scanned = do_try_to_free_pages(s, cpu, max_scan)
    s.zone[PGSCAN_DIRECT] += scanned
    s.zone[PGSTEAL_DIRECT] += reclaimed
    cost = reclaim_cost(s, reclaimed, scanned)
    charge(s, cost, T_RECLAIM)
    if reclaimed == 0:
        s.zone[Z_RECLAIM_DRY_HEAD] = s.zone[Z_EV_HEAD]
        s.zone[Z_RECLAIM_DRY_CLOCK] = s.zone[Z_CLOCK]
        s.zone[Z_RECLAIM_DRY_COST] = cost
    return reclaimed


@mm_jit
def zone_reclaimable_pages(s):
    """``zone_reclaimable_pages``: the file LRU lists, plus the anonymous ones with swap."""
    total = lru_size(s, LRU_INACTIVE_FILE) + lru_size(s, LRU_ACTIVE_FILE)
    if s.zone[Z_SWAP] != 0:
        total += lru_size(s, LRU_INACTIVE_ANON) + lru_size(s, LRU_ACTIVE_ANON)
    return total


@mm_jit
def wakeup_kswapd_reclaim(s):
    """Wake kswapd (``wakeup_kswapd``): not when awake, not after ``MAX_RECLAIM_RETRIES``
    fruitless runs (until a reclaim frees something), never with ``ABLATE_KSWAPD``. A new
    ``balance_pgdat`` starts at ``DEF_PRIORITY`` with the boost to reclaim."""
    if s.zone[Z_ABLATE] & ABLATE_KSWAPD:
        return
    if s.zone[Z_KSWAPD_ACTIVE] != 0 or s.zone[Z_KSWAPD_FAILURES] >= MAX_RECLAIM_RETRIES:
        return
    s.zone[Z_KSWAPD_ACTIVE] = 1
    s.zone[Z_KSWAPD_LAST] = max(s.zone[Z_KSWAPD_LAST], s.zone[Z_CLOCK])
    balance_pgdat_start(s)


@mm_jit_inline
def balance_pgdat_start(s):
    s.zone[Z_KSWAPD_PRIORITY] = DEF_PRIORITY
    s.zone[Z_KSWAPD_RECLAIMED] = 0
    s.zone[Z_KSWAPD_BOOST_RECLAIM] = s.zone[Z_WATERMARK_BOOST]


@mm_jit_inline
def pgdat_balanced(s):
    """``pgdat_balanced``: free pages (without CMA: no ``ALLOC_CMA``) above the high
    watermark plus boost (``high_wmark_pages``)."""
    target = s.zone[Z_WMARK + 2] + s.zone[Z_WATERMARK_BOOST]
    return s.zone[NR_FREE_PAGES] - s.zone[NR_FREE_CMA_PAGES] >= target


# --- compaction's per-zone scanner state (v5.9 mm/compaction.c), here because compaction
# builds on this module and kswapd resets it
@mm_jit_inline
def free_scanner_start(s):
    """``pageblock_start_pfn(zone_end_pfn(zone) - 1)``: where compaction's free scanner
    starts, at the zone's last pageblock."""
    return (s.zone[Z_NR_PAGES] - 1) & ~(pageblock_nr_pages(s) - 1)


@mm_jit
def reset_cached_positions(s):
    """``reset_cached_positions``: both compaction scanners restart at the zone's ends."""
    s.zone[Z_COMPACT_CACHED_MIGRATE] = 0
    s.zone[Z_COMPACT_CACHED_MIGRATE + 1] = 0
    s.zone[Z_COMPACT_CACHED_FREE] = free_scanner_start(s)


@mm_jit
def reset_isolation_suitable(s):
    """``__reset_isolation_suitable``: only if a full direct compaction finished since the
    last reset (``compact_blockskip_flush``), clear every pageblock's skip bit and restart both
    scanners at the zone's ends (the kernel starts them at the first block with LRU or free
    pages)."""
    if s.zone[Z_COMPACT_BLOCKSKIP_FLUSH] == 0:
        return
    s.zone[Z_COMPACT_BLOCKSKIP_FLUSH] = 0
    s.pb_skip[:] = 0
    reset_cached_positions(s)
    s.zone[Z_COMPACT_INIT_FREE] = s.zone[Z_COMPACT_CACHED_FREE]  # where fast searches start


@mm_jit
def balance_pgdat_end(s, loop_ended):
    """The end of ``balance_pgdat``: a priority loop that ended (not left balanced) without
    reclaiming anything counts a failure; ``out:`` clears the boost; kswapd sleeps if the
    zone is balanced (``prepare_kswapd_sleep``) or hopeless, first clearing compaction's skip
    bits (``reset_isolation_suitable``), else balances again."""
    if loop_ended and s.zone[Z_KSWAPD_RECLAIMED] == 0:
        s.zone[Z_KSWAPD_FAILURES] += 1
    s.zone[Z_WATERMARK_BOOST] = 0
    snapshot_refaults(s)
    if pgdat_balanced(s) or s.zone[Z_KSWAPD_FAILURES] >= MAX_RECLAIM_RETRIES:
        reset_isolation_suitable(s)  # kswapd_try_to_sleep, once prepare_kswapd_sleep holds
        s.zone[Z_KSWAPD_ACTIVE] = 0
    else:
        balance_pgdat_start(s)


@mm_jit
def balance_pgdat_step(s):
    """One pass of ``balance_pgdat``'s priority loop; returns its cost in ns."""
    balanced = pgdat_balanced(s)
    if not balanced and s.zone[Z_KSWAPD_BOOST_RECLAIM] > 0:
        # boosted reclaim cannot balance the zone: restart as ordinary reclaim
        s.zone[Z_KSWAPD_BOOST_RECLAIM] = 0
        s.zone[Z_KSWAPD_PRIORITY] = DEF_PRIORITY
    if balanced and s.zone[Z_KSWAPD_BOOST_RECLAIM] == 0:
        balance_pgdat_end(s, False)
        return np.int64(0)
    priority = s.zone[Z_KSWAPD_PRIORITY]
    raise_priority = True
    if s.zone[Z_KSWAPD_BOOST_RECLAIM] > 0 and priority == DEF_PRIORITY - 2:
        raise_priority = False
    nr_to_reclaim = max(s.zone[Z_WMARK + 2] + s.zone[Z_WATERMARK_BOOST], SWAP_CLUSTER_MAX)
    reclaimed, scanned, _ = shrink_node(s, 0, priority, nr_to_reclaim, True, False)
    s.zone[PGSCAN_KSWAPD] += scanned
    s.zone[PGSTEAL_KSWAPD] += reclaimed
    s.zone[Z_KSWAPD_RECLAIMED] += reclaimed
    if scanned >= nr_to_reclaim:
        raise_priority = False  # kswapd_shrink_node
    boost = s.zone[Z_KSWAPD_BOOST_RECLAIM]
    s.zone[Z_KSWAPD_BOOST_RECLAIM] = boost - min(boost, reclaimed)
    if s.zone[Z_KSWAPD_BOOST_RECLAIM] > 0 and reclaimed == 0:
        balance_pgdat_end(s, True)
    else:
        if raise_priority or reclaimed == 0:
            s.zone[Z_KSWAPD_PRIORITY] = priority - 1
        if s.zone[Z_KSWAPD_PRIORITY] < 1:
            balance_pgdat_end(s, True)
    return max(reclaim_cost(s, reclaimed, scanned), np.int64(1))


@mm_jit
def kswapd_run(s, until):
    """kswapd on its own CPU (no time charged to anyone): ``balance_pgdat`` passes while its
    clock is behind ``until``, each pass advancing its clock by what the pass cost."""
    while s.zone[Z_KSWAPD_ACTIVE] != 0 and s.zone[Z_KSWAPD_LAST] < until:
        s.zone[Z_KSWAPD_LAST] += balance_pgdat_step(s)
