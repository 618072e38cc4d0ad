"""Direct compaction and the order-k slow path (Linux v5.9 mm/compaction.c, mm/page_alloc.c).

``compact_zone``: a migrate scanner walks pageblocks up from the zone start (cached position
per sync/async), a free scanner walks pageblocks down from the zone end (cached position);
movable pages found by the first are migrated into free pages isolated by the second, until
the scanners meet or a free block of the requested order (or a stealable fallback block)
exists. Rules kept from v5.9 (docs/model.md#compact-zone):

* ``compaction_suitable``: success if the order's watermark already holds; skip unless
  order-0 free pages exceed the (costly: low, else min) watermark + 2·2^order (CMA counted);
  for costly orders skip when the fragmentation index says "lack of memory" (≤ 500);
* deferral: after a failed sync compaction, the next 2^defer_shift attempts (≤ 64) skip;
* ASYNC and SYNC_LIGHT never isolate writeback pages or dirty pages without ->migratepage,
  never wait on writeback; direct compaction never sleeps on a page lock;
* async direct compaction scans only MOVABLE/CMA pageblocks for movable requests (only the
  request's own type otherwise) and abandons an order-aligned chunk at its first failure;
* free targets are in MOVABLE or CMA pageblocks (CMA *is* a target), never free blocks of
  pageblock order or more, and are only taken above MIN watermark + 2^order; async
  compaction's free scanner looks at every 32nd page of a pageblock until it finds some;
* pageblock skip bits: set on migrate-scanner blocks that yielded nothing and on
  free-scanner blocks scanned to their end, cleared by ``__reset_isolation_suitable``.

Before the linear scanners, the fast searches of the free lists (``fast_find_migrateblock``,
``fast_isolate_freepages``), each rotating the lists it looked at, as v5.9 does. The running
compaction's ``compact_control`` fields that outlive a call of these functions
(``free_pfn``, ``fast_search_fail``, ``search_order``, ``fast_start_pfn``) live in the zone
array (``Z_CC_*``): one compaction runs at a time. Not modelled: THP and hugetlb pages.
"""

import numpy as np

from .buddy import (
    del_page_from_free_list,
    find_suitable_fallback,
    free_one_page,
    get_pageblock_migratetype,
    mod_zone_freepage_state,
    pageblock_nr_pages,
    pageblock_order,
)
from .constants import (
    ___GFP_ATOMIC,
    ___GFP_DIRECT_RECLAIM,
    ___GFP_NORETRY,
    ___GFP_RETRY_MAYFAIL,
    ABLATE_COMPACTION,
    ALLOC_CMA,
    ALLOC_KSWAPD,
    ALLOC_WMARK_LOW,
    C_ALLOC_PAGE,
    C_COMPACTION_SCAN_PER_PFN,
    C_FREE_PAGE,
    ENOMEM,
    MAX_ORDER,
    MIGRATE_ASYNC,
    MIGRATE_CMA,
    MIGRATE_MOVABLE,
    MIGRATE_SYNC_LIGHT,
    NO_PAGE,
    PAGE_ALLOC_COSTLY_ORDER,
    T_ALLOC,
    T_COMPACT,
    PG_buddy,
)
from .jit import mm_jit
from .lists import free_list_slot, list_empty, list_rotate_after, list_rotate_before
from .migrate import (
    freepages_push,
    isolate_migratepages_block,
    migrate_pages,
    nr_freepages,
    nr_migratepages,
    putback_movable_pages,
)
from .page_alloc import (
    alloc_flags_nofragment,
    current_alloc_flags,
    direct_reclaim_and_retry,
    get_page_from_freelist_call,
    gfp_migratetype,
    gfp_to_alloc_flags,
    prep_new_page,
    should_reclaim_retry,
    wakeup_kswapd,
    wmark_pages,
    zone_watermark_ok,
    zone_watermark_ok_,
)
from .pagestate import lru_add_drain_cpu
from .pcp import drain_pages_zone
from .sched import advance
from .state import (
    COMPACT_CLUSTER_MAX,
    NR_FREEPAGE_BLOCKS,
    Z_ABLATE,
    Z_CAPTURE_ORDER,
    Z_CAPTURE_PFN,
    Z_CC_FAST_SEARCH_FAIL,
    Z_CC_FAST_START_PFN,
    Z_CC_FREE_PFN,
    Z_CC_SEARCH_ORDER,
    Z_COMPACT_BLOCKSKIP_FLUSH,
    Z_COMPACT_CACHED_FREE,
    Z_COMPACT_CACHED_MIGRATE,
    Z_COMPACT_CONSIDERED,
    Z_COMPACT_DEFER_SHIFT,
    Z_COMPACT_INIT_FREE,
    Z_COMPACT_ORDER_FAILED,
    Z_COMPACTION_PROACTIVENESS,
    Z_COST,
    Z_FREEPAGES,
    Z_KSWAPD_ACTIVE,
    Z_NR_FREE,
    Z_NR_PAGES,
    Z_PCP_COUNT,
    Z_WMARK,
)
from .vmscan import (
    free_scanner_start,
    reset_cached_positions,
    reset_isolation_suitable,
    zone_reclaimable_pages,
)
from .vmstat import (
    COMPACT_DEFERRED,
    COMPACT_FAIL,
    COMPACT_FREE_SCANNED,
    COMPACT_ISOLATED,
    COMPACT_MIGRATE_SCANNED,
    COMPACT_STALL,
    COMPACT_SUCCESS,
    NR_FREE_PAGES,
    SIM_ALLOC_FAIL,
    SIM_COMPACT_CAPTURE,
)

# enum compact_result (v5.9 order of values)
COMPACT_NOT_SUITABLE_ZONE = 0
COMPACT_SKIPPED = 1
COMPACT_DEFERRED_R = 2
COMPACT_NO_SUITABLE_PAGE = 3
COMPACT_CONTINUE = 4
COMPACT_COMPLETE = 5
COMPACT_PARTIAL_SKIPPED = 6
COMPACT_CONTENDED = 7
COMPACT_SUCCESS_R = 8
COMPACT_RESULT_NAMES = (
    "not_suitable_zone",
    "skipped",
    "deferred",
    "no_suitable_page",
    "continue",
    "complete",
    "partial_skipped",
    "contended",
    "success",
)

# enum compact_priority
COMPACT_PRIO_SYNC_FULL = 0
COMPACT_PRIO_SYNC_LIGHT = 1
COMPACT_PRIO_ASYNC = 2
MIN_COMPACT_PRIORITY = COMPACT_PRIO_SYNC_FULL
MIN_COMPACT_COSTLY_PRIORITY = COMPACT_PRIO_SYNC_LIGHT
INIT_COMPACT_PRIORITY = COMPACT_PRIO_ASYNC
DEF_COMPACT_PRIORITY = COMPACT_PRIO_SYNC_LIGHT
MAX_COMPACT_RETRIES = 16
COMPACT_MAX_DEFER_SHIFT = 6
SYSCTL_EXTFRAG_THRESHOLD = 500

# Who compacts: the compact_control fields that differ between the callers.
CC_DIRECT = 0  # __alloc_pages_direct_compact: direct_compaction, capture_control
CC_PROACTIVE = 1  # kcompactd's proactive_compact_node: order -1, whole_zone, ignore_skip_hint
COMPACTION_HPAGE_ORDER = 9  # HPAGE_PMD_ORDER (x86-64 and arm64, 4 KiB pages)


# --- deferral ------------------------------------------------------------------------------
@mm_jit
def compaction_deferred(s, order):
    """``compaction_deferred``: skip this attempt (True) while within the defer window."""
    limit = np.int64(1) << s.zone[Z_COMPACT_DEFER_SHIFT]
    if order < s.zone[Z_COMPACT_ORDER_FAILED]:
        return False
    s.zone[Z_COMPACT_CONSIDERED] += 1
    if s.zone[Z_COMPACT_CONSIDERED] >= limit:
        s.zone[Z_COMPACT_CONSIDERED] = limit
        return False
    return True


@mm_jit
def defer_compaction(s, order):
    """``defer_compaction``: double the window after a failed sync compaction (≤ 64)."""
    s.zone[Z_COMPACT_CONSIDERED] = 0
    s.zone[Z_COMPACT_DEFER_SHIFT] = min(s.zone[Z_COMPACT_DEFER_SHIFT] + 1, COMPACT_MAX_DEFER_SHIFT)
    if order < s.zone[Z_COMPACT_ORDER_FAILED]:
        s.zone[Z_COMPACT_ORDER_FAILED] = order


@mm_jit
def compaction_defer_reset(s, order, alloc_success):
    """``compaction_defer_reset``."""
    if alloc_success:
        s.zone[Z_COMPACT_CONSIDERED] = 0
        s.zone[Z_COMPACT_DEFER_SHIFT] = 0
    if order >= s.zone[Z_COMPACT_ORDER_FAILED]:
        s.zone[Z_COMPACT_ORDER_FAILED] = order + 1


@mm_jit
def compaction_restarting(s, order):
    """``compaction_restarting``: the defer window ran out at its maximum."""
    if order < s.zone[Z_COMPACT_ORDER_FAILED]:
        return False
    return s.zone[Z_COMPACT_DEFER_SHIFT] == COMPACT_MAX_DEFER_SHIFT and s.zone[
        Z_COMPACT_CONSIDERED
    ] >= (np.int64(1) << COMPACT_MAX_DEFER_SHIFT)


# --- suitability -----------------------------------------------------------------------------
@mm_jit
def fragmentation_index(s, order):
    """``fragmentation_index`` (mm/vmstat.c): -1000 if a block of this order is free, else
    0 (lack of memory) .. 1000 (fragmentation), in thousandths."""
    free_pages = 0
    free_blocks_total = 0
    free_blocks_suitable = 0
    for o in range(MAX_ORDER):
        blocks = s.zone[Z_NR_FREE + o]
        free_blocks_total += blocks
        free_pages += blocks << o
        if o >= order:
            free_blocks_suitable += blocks << (o - order)
    if free_blocks_total == 0:
        return np.int64(0)
    if free_blocks_suitable:
        return np.int64(-1000)
    requested = np.int64(1) << order
    return 1000 - (1000 + free_pages * 1000 // requested) // free_blocks_total


@mm_jit
def compaction_suitable_(s, order, alloc_flags, wmark_target):
    """``__compaction_suitable`` (v5.9): success if the order's watermark already holds; skip
    unless ``wmark_target`` free pages (CMA counted) exceed the low watermark (costly orders;
    else the min watermark) plus ``compact_gap`` (2 << order) for the migration targets."""
    if order == -1:
        return COMPACT_CONTINUE  # is_via_compact_memory
    if zone_watermark_ok(s, order, wmark_pages(s, alloc_flags & 3), alloc_flags):
        return COMPACT_SUCCESS_R
    if order > PAGE_ALLOC_COSTLY_ORDER:
        watermark = s.zone[Z_WMARK + 1]  # low_wmark_pages
    else:
        watermark = s.zone[Z_WMARK]
    watermark += np.int64(2) << order  # compact_gap
    if not zone_watermark_ok_(s, 0, watermark, ALLOC_CMA, wmark_target):
        return COMPACT_SKIPPED
    return COMPACT_CONTINUE


@mm_jit
def compaction_suitable(s, order, alloc_flags):
    """``compaction_suitable`` (v5.9) for the one zone: ``__compaction_suitable`` with the
    zone's free pages; for costly orders skip when the fragmentation index says "lack of
    memory" (0..500)."""
    ret = compaction_suitable_(s, order, alloc_flags, s.zone[NR_FREE_PAGES])
    if ret == COMPACT_CONTINUE and order > PAGE_ALLOC_COSTLY_ORDER:
        fragindex = fragmentation_index(s, order)
        if 0 <= fragindex <= SYSCTL_EXTFRAG_THRESHOLD:
            return COMPACT_SKIPPED  # COMPACT_NOT_SUITABLE_ZONE, reported as skipped
    return ret


# --- the fragmentation score (proactive compaction) --------------------------------------------
@mm_jit
def extfrag_for_order(s, order):
    """``extfrag_for_order`` (mm/vmstat.c): the percentage of free memory that lies in blocks
    smaller than ``order``."""
    free_pages = 0
    free_blocks_suitable = 0
    for o in range(MAX_ORDER):
        blocks = s.zone[Z_NR_FREE + o]
        free_pages += blocks << o
        if o >= order:
            free_blocks_suitable += blocks << (o - order)
    if free_pages == 0:
        return np.int64(0)
    return (free_pages - (free_blocks_suitable << order)) * 100 // free_pages


@mm_jit
def fragmentation_score_zone(s):
    """``fragmentation_score_zone`` (v5.9): the zone's external fragmentation at
    ``COMPACTION_HPAGE_ORDER`` scaled by its share of the node (the one zone: its present
    pages over the node's + 1)."""
    n = s.zone[Z_NR_PAGES]
    return n * extfrag_for_order(s, COMPACTION_HPAGE_ORDER) // (n + 1)


@mm_jit
def fragmentation_score_wmark(s, low):
    """``fragmentation_score_wmark``: low = max(100 - proactiveness, 5), high = low + 10."""
    wmark_low = max(100 - s.zone[Z_COMPACTION_PROACTIVENESS], 5)
    return wmark_low if low else min(wmark_low + 10, 100)


# --- free scanner: cc->freepages as (pfn, order) blocks -------------------------------------
@mm_jit
def suitable_migration_target(s, pfn):
    """``suitable_migration_target``: MOVABLE or CMA pageblocks not wholly free."""
    if (s.page[pfn].flags & PG_buddy) and s.page[pfn].order >= pageblock_order(s):
        return False
    mt = get_pageblock_migratetype(s, pfn)
    return mt == MIGRATE_MOVABLE or mt == MIGRATE_CMA


@mm_jit
def count_scanned(s, counter, n):
    """Count ``n`` pages or free-list entries a scanner looked at (``counter``:
    ``COMPACT_FREE_SCANNED`` or ``COMPACT_MIGRATE_SCANNED``) and charge the compacting task
    for them."""
    s.zone[counter] += n
    advance(s, n * s.zone[Z_COST + C_COMPACTION_SCAN_PER_PFN], T_COMPACT)


@mm_jit
def isolate_free_page(s, pfn, order):
    """``__isolate_free_page`` for compaction: take the free block at ``pfn`` off its free list
    as migration targets, unless the zone would fall below MIN watermark + 2^order (CMA
    counted). Returns whether it was taken."""
    mark = s.zone[Z_WMARK] + (np.int64(1) << order)
    if not zone_watermark_ok_(s, 0, mark, ALLOC_CMA, s.zone[NR_FREE_PAGES]):
        return False
    if s.zone[Z_FREEPAGES] >= NR_FREEPAGE_BLOCKS:
        return False
    mt = get_pageblock_migratetype(s, pfn)
    del_page_from_free_list(s, pfn, order)
    mod_zone_freepage_state(s, -(np.int64(1) << order), mt)
    freepages_push(s, pfn, order)
    return True


@mm_jit
def isolate_freepages_block(s, start, end, want, stride):
    """``isolate_freepages_block`` (non-strict): look at every ``stride``-th page of
    ``[start, end)`` and take the free blocks found as migration targets, until ``want``
    pages are taken or ``__isolate_free_page`` refuses one (the watermark).

    Returns ``(isolated, scanned, stopped_pfn)``: ``stopped_pfn`` is ``end`` when the range
    was scanned to its end (the kernel's ``*start_pfn``)."""
    isolated = 0
    scanned = 0
    pfn = start
    while pfn < end:
        scanned += 1
        if (s.page[pfn].flags & PG_buddy) == 0:
            pfn += stride
            continue
        order = np.int64(s.page[pfn].order)
        if not isolate_free_page(s, pfn, order):
            break
        isolated += np.int64(1) << order
        if isolated >= want:
            pfn += np.int64(1) << order
            break
        pfn += (np.int64(1) << order) - 1 + stride  # past the block, then the stride
    return isolated, scanned, min(pfn, end)


@mm_jit
def freelist_scan_limit(s):
    """``freelist_scan_limit``: how many free-list entries a fast search may look at, fewer
    after each failed one."""
    return (np.int64(COMPACT_CLUSTER_MAX) >> min(63, s.zone[Z_CC_FAST_SEARCH_FAIL])) + 1


@mm_jit
def next_search_order(s, cc_order, o):
    """``next_search_order``: the free lists' orders round-robin below ``cc->order``; -1 once
    the search has wrapped around to where it started (which moves the start down)."""
    o -= 1
    if o < 0:
        o = cc_order - 1
    if o == s.zone[Z_CC_SEARCH_ORDER]:
        s.zone[Z_CC_SEARCH_ORDER] -= 1
        if s.zone[Z_CC_SEARCH_ORDER] < 0:
            s.zone[Z_CC_SEARCH_ORDER] = cc_order - 1
        return np.int64(-1)
    return o


@mm_jit
def fast_isolate_around(s, pfn, want, direct, mode):
    """``fast_isolate_around``: after a fast pick, also take the rest of its pageblock's free
    pages (not for async direct compaction) and mark the block skipped if still short."""
    if nr_freepages(s) >= want:
        return
    if direct and mode == MIGRATE_ASYNC:
        return
    pbn = pageblock_nr_pages(s)
    start = pfn & ~(pbn - 1)
    end = min(start + pbn, s.zone[Z_NR_PAGES])
    _, scanned, _ = isolate_freepages_block(s, start, end, want - nr_freepages(s), 1)
    count_scanned(s, COMPACT_FREE_SCANNED, scanned)
    if nr_freepages(s) < want:
        s.pb_skip[start >> pageblock_order(s)] = 1


@mm_jit
def fast_isolate_freepages(s, order, migrate_pfn, want, direct, mode):
    """``fast_isolate_freepages`` (v5.9): before the linear free scanner, search the MOVABLE
    free lists of the orders below the request's for a block in the top quarter of the
    space between the scanners (the top half if need be), starting with the order that last
    worked, a few entries per order (``min(1U, ...)`` as written: one, or the scan's first
    pageblock/2 entries when the free scanner starts). Each list is rotated so that the next
    search looks at other entries. Takes at most one block, then its pageblock's other free
    pages (``fast_isolate_around``); on the scan's first call with nothing found the free
    scanner jumps to the highest free page seen. Moves the zone's cached free position up
    to the highest pageblock with a free page seen."""
    if order <= 0:  # full compaction passes in a negative order
        return
    pbn = pageblock_nr_pages(s)
    limit = min(np.int64(1), freelist_scan_limit(s) >> 1)
    scan_start = False
    free_pfn = s.zone[Z_CC_FREE_PFN]
    if free_pfn >= s.zone[Z_COMPACT_INIT_FREE]:
        limit = pbn >> 1
        scan_start = True
    distance = free_pfn - migrate_pfn
    low_pfn = (free_pfn - (distance >> 2)) & ~(pbn - 1)
    min_pfn = (free_pfn - (distance >> 1)) & ~(pbn - 1)
    if min_pfn > low_pfn:
        low_pfn = min_pfn
    s.zone[Z_CC_SEARCH_ORDER] = min(order - 1, s.zone[Z_CC_SEARCH_ORDER])
    page = np.int64(NO_PAGE)
    highest = np.int64(0)
    nr_scanned = 0
    o = s.zone[Z_CC_SEARCH_ORDER]
    while page == NO_PAGE and o >= 0:
        if s.zone[Z_NR_FREE + o] == 0:
            o = next_search_order(s, order, o)
            continue
        head = free_list_slot(s, MIGRATE_MOVABLE, o)
        order_scanned = 0
        high_pfn = np.int64(0)
        # the kernel's freepage: the entry the walk stopped at, the sentinel if it ran out
        last = head
        entry = np.int64(s.page[head].prev)  # list_for_each_entry_reverse
        while entry != head:
            order_scanned += 1
            nr_scanned += 1
            if entry >= highest:
                highest = entry & ~(pbn - 1)
            if entry >= low_pfn:
                s.zone[Z_CC_FAST_SEARCH_FAIL] = 0
                s.zone[Z_CC_SEARCH_ORDER] = o
                page = entry
                last = entry
                break
            if entry >= min_pfn and entry > high_pfn:
                high_pfn = entry
                limit >>= 1  # shorten the scan once a candidate is found
            if order_scanned >= limit:
                last = entry
                break
            entry = np.int64(s.page[entry].prev)
        if page == NO_PAGE and high_pfn != 0:
            page = high_pfn
            last = high_pfn
        # move_freelist_head: the entries looked at go to the head, to be seen last next time
        if last != head and s.page[last].next != head:
            list_rotate_before(s, head, last)
        if page != NO_PAGE and not isolate_free_page(s, page, o):
            o = s.zone[Z_CC_SEARCH_ORDER] + 1  # isolation failed: abort the search
            page = np.int64(NO_PAGE)
        if order_scanned >= limit:
            limit = min(np.int64(1), limit >> 1)
        if page == NO_PAGE:
            o = next_search_order(s, order, o)
    target = page
    if page == NO_PAGE:
        s.zone[Z_CC_FAST_SEARCH_FAIL] += 1
        if scan_start:
            if highest != 0:
                target = highest
                s.zone[Z_CC_FREE_PFN] = highest
            elif direct:
                target = min_pfn
                s.zone[Z_CC_FREE_PFN] = min_pfn
    if highest != 0 and highest >= s.zone[Z_COMPACT_CACHED_FREE]:
        s.zone[Z_COMPACT_CACHED_FREE] = highest - pbn
    count_scanned(s, COMPACT_FREE_SCANNED, nr_scanned)
    if target != NO_PAGE:
        fast_isolate_around(s, target, want, direct, mode)


@mm_jit
def update_pageblock_skip_free(s, block_start):
    """``update_pageblock_skip`` for the free scanner: mark the pageblock skipped and let
    the zone's cached free position (where the next compaction's free scanner starts) come
    down to it."""
    s.pb_skip[block_start >> pageblock_order(s)] = 1
    if block_start < s.zone[Z_COMPACT_CACHED_FREE]:
        s.zone[Z_COMPACT_CACHED_FREE] = block_start


@mm_jit
def isolate_freepages(s, order, migrate_pfn, want, mode, direct, ignore_skip_hint):
    """``isolate_freepages`` (v5.9), as ``compaction_alloc`` calls it each time the isolated
    targets run out, until ``want`` pages are isolated: first ``fast_isolate_freepages``;
    if it took nothing, the linear free scanner moves ``cc->free_pfn`` down pageblock by
    pageblock from where it stopped to the migrate scanner's pageblock, taking free pages
    from MOVABLE and CMA blocks not marked skipped, every ``stride``-th page (async: up to
    ``COMPACT_CLUSTER_MAX``, back to 1 where it finds some); a pageblock scanned to its end is
    marked skipped (``update_pageblock_skip``).

    Returns False when the free scanner met the migrate scanner short of ``want``."""
    pbn = pageblock_nr_pages(s)
    n = s.zone[Z_NR_PAGES]
    while nr_freepages(s) < want:
        before = nr_freepages(s)
        fast_isolate_freepages(s, order, migrate_pfn, want, direct, mode)
        if nr_freepages(s) > before:
            continue
        isolate_start = s.zone[Z_CC_FREE_PFN]
        block_start = isolate_start & ~(pbn - 1)
        block_end = min(block_start + pbn, n)
        low = (migrate_pfn & ~(pbn - 1)) + pbn
        stride = np.int64(COMPACT_CLUSTER_MAX) if mode == MIGRATE_ASYNC else np.int64(1)
        scanned_total = 0
        while block_start >= low:
            pb = block_start >> pageblock_order(s)
            if suitable_migration_target(s, block_start) and (
                ignore_skip_hint or s.pb_skip[pb] == 0
            ):
                isolated, scanned, isolate_start = isolate_freepages_block(
                    s, isolate_start, block_end, want - nr_freepages(s), stride
                )
                scanned_total += scanned
                if isolate_start == block_end:
                    update_pageblock_skip_free(s, block_start)
                if nr_freepages(s) >= want:
                    if isolate_start >= block_end:
                        isolate_start = block_start - pbn  # restart at the block below
                    break
                if isolate_start < block_end:
                    break  # isolation failed early: do not go on
                stride = np.int64(1) if isolated else min(np.int64(COMPACT_CLUSTER_MAX),
                                                          stride << 1)
            block_end = block_start
            block_start -= pbn
            isolate_start = block_start
        s.zone[Z_CC_FREE_PFN] = isolate_start
        count_scanned(s, COMPACT_FREE_SCANNED, scanned_total)
        if nr_freepages(s) < want:
            return not compact_scanners_met(s, migrate_pfn)
    return True


@mm_jit
def compact_scanners_met(s, migrate_pfn):
    """``compact_scanners_met``: the free scanner is at or below the migrate scanner's
    pageblock."""
    return (s.zone[Z_CC_FREE_PFN] >> pageblock_order(s)) <= (migrate_pfn >> pageblock_order(s))


@mm_jit
def release_freepages(s):
    """``release_freepages``: unused targets go back to the buddy allocator; the zone's
    cached free position goes back up to the pageblock of the highest of them (only up:
    ``compact_zone``'s end)."""
    high = np.int64(-1)
    for i in range(s.zone[Z_FREEPAGES]):
        pfn = s.zone[Z_FREEPAGES + 1 + 2 * i]
        order = s.zone[Z_FREEPAGES + 2 + 2 * i]
        free_one_page(s, pfn, order, get_pageblock_migratetype(s, pfn))
        high = max(high, pfn)
    s.zone[Z_FREEPAGES] = 0
    if high >= 0:
        block = high & ~(pageblock_nr_pages(s) - 1)
        if block > s.zone[Z_COMPACT_CACHED_FREE]:
            s.zone[Z_COMPACT_CACHED_FREE] = block


# --- the migrate scanner ----------------------------------------------------------------------
@mm_jit
def suitable_migration_source(s, pfn, mode, migratetype, kind):
    """``suitable_migration_source``: async direct compaction sticks to its own kind."""
    if mode != MIGRATE_ASYNC or kind != CC_DIRECT:
        return True
    block_mt = get_pageblock_migratetype(s, pfn)
    if migratetype == MIGRATE_MOVABLE:
        return block_mt == MIGRATE_MOVABLE or block_mt == MIGRATE_CMA
    return block_mt == migratetype


@mm_jit
def update_fast_start_pfn(s, pfn):
    """``update_fast_start_pfn``: remember the lowest pageblock a fast search picked."""
    if s.zone[Z_CC_FAST_START_PFN] == -1:  # ULONG_MAX: already used
        return
    if s.zone[Z_CC_FAST_START_PFN] == 0:
        s.zone[Z_CC_FAST_START_PFN] = pfn
    s.zone[Z_CC_FAST_START_PFN] = min(s.zone[Z_CC_FAST_START_PFN], pfn)


@mm_jit
def reinit_migrate_pfn(s, migrate_pfn):
    """``reinit_migrate_pfn``: once fast searching fails, the linear scan starts (once) from
    the lowest pageblock a fast search had picked."""
    fast_start = s.zone[Z_CC_FAST_START_PFN]
    if fast_start == 0 or fast_start == -1:
        return migrate_pfn
    s.zone[Z_CC_FAST_START_PFN] = -1
    return fast_start


@mm_jit
def fast_find_migrateblock(s, order, migratetype, migrate_pfn, kind):
    """``fast_find_migrateblock`` (v5.9): for a costly order (> 3) asked by kcompactd or by a
    movable direct request, at the start of a pageblock, look through the MOVABLE free lists
    of orders ``order-1`` down to 3 for a free block low in the zone (in the first half of the
    space between the scanners when starting, else the first eighth) whose pageblock is not
    marked skipped: migrating the rest of that pageblock frees it soonest. The pageblock found
    is marked skipped and the migrate scanner jumps there; the list is rotated so the next
    search looks further. Returns the pfn the migrate scanner continues from."""
    pfn = migrate_pfn
    if kind == CC_PROACTIVE:  # skip hints are relied on to avoid repeats: not with ignore
        return pfn
    pbn = pageblock_nr_pages(s)
    if pfn != 0 and pfn != (pfn & ~(pbn - 1)):
        return pfn  # the continuation of a pageblock's scan
    if order <= PAGE_ALLOC_COSTLY_ORDER:
        return pfn
    if kind == CC_DIRECT and migratetype != MIGRATE_MOVABLE:
        return pfn
    limit = freelist_scan_limit(s)
    distance = (s.zone[Z_CC_FREE_PFN] - migrate_pfn) >> 1
    if migrate_pfn != 0:
        distance >>= 2
    high_pfn = (migrate_pfn + distance) & ~(pbn - 1)
    nr_scanned = 0
    found = False
    o = order - 1
    while o >= PAGE_ALLOC_COSTLY_ORDER and not found and nr_scanned < limit:
        if s.zone[Z_NR_FREE + o] != 0:
            head = free_list_slot(s, MIGRATE_MOVABLE, o)
            entry = np.int64(s.page[head].next)  # list_for_each_entry
            while entry != head:
                nr_scanned += 1
                if nr_scanned > limit:
                    if s.page[entry].prev != head:  # move_freelist_tail
                        list_rotate_after(s, head, entry)
                    break
                if entry < high_pfn:
                    pb = entry >> pageblock_order(s)
                    if s.pb_skip[pb]:  # skipped recently
                        entry = np.int64(s.page[entry].next)
                        continue
                    if s.page[entry].prev != head:  # move_freelist_tail
                        list_rotate_after(s, head, entry)
                    update_fast_start_pfn(s, entry)
                    pfn = entry & ~(pbn - 1)
                    s.zone[Z_CC_FAST_SEARCH_FAIL] = 0
                    found = True
                    s.pb_skip[pb] = 1
                    break
                entry = np.int64(s.page[entry].next)
        o -= 1
    count_scanned(s, COMPACT_MIGRATE_SCANNED, nr_scanned)
    if not found:
        s.zone[Z_CC_FAST_SEARCH_FAIL] += 1
        pfn = reinit_migrate_pfn(s, migrate_pfn)
    return pfn


@mm_jit
def compact_finished(s, order, migratetype, migrate_pfn, kind):
    """``__compact_finished`` (v5.9); the caller handles the scanners meeting."""
    if kind == CC_PROACTIVE:
        if s.zone[Z_KSWAPD_ACTIVE] != 0:  # kswapd_is_running
            return COMPACT_PARTIAL_SKIPPED
        if fragmentation_score_zone(s) > fragmentation_score_wmark(s, True):
            return COMPACT_CONTINUE
        return COMPACT_SUCCESS_R
    if migrate_pfn & (pageblock_nr_pages(s) - 1):
        return COMPACT_CONTINUE
    for o in range(order, MAX_ORDER):
        if not list_empty(s, free_list_slot(s, migratetype, o)):
            return COMPACT_SUCCESS_R
        if migratetype == MIGRATE_MOVABLE and not list_empty(s, free_list_slot(s, MIGRATE_CMA, o)):
            return COMPACT_SUCCESS_R
        fallback, _ = find_suitable_fallback(s, o, migratetype, True)
        if fallback != -1:
            return COMPACT_SUCCESS_R
    return COMPACT_CONTINUE


@mm_jit
def compact_check_drain(s, cpu, order, migrate_pfn, last_migrated_pfn):
    """``compact_zone``'s ``check_drain``: once the migrate scanner has left the order-aligned
    block it last migrated from, flush this CPU's pagevec and pcp lists
    (``lru_add_drain_cpu_zone``) so the freed pages merge and a capture or
    ``compact_finished`` sees them. Returns the new ``last_migrated_pfn``."""
    if order <= 0 or last_migrated_pfn == 0:
        return last_migrated_pfn
    if last_migrated_pfn >= migrate_pfn & ~((np.int64(1) << order) - 1):
        return last_migrated_pfn
    lru_add_drain_cpu(s, cpu)
    freed = s.zone[Z_PCP_COUNT + cpu]
    drain_pages_zone(s, cpu)  # drain_local_pages
    advance(s, freed * s.zone[Z_COST + C_FREE_PAGE], T_COMPACT)
    return np.int64(0)


@mm_jit
def compact_zone(s, cpu, order, gfp, mode, alloc_flags, kind):
    """``compact_zone`` (v5.9) for one compact_control. Returns a compact_result.

    ``kind`` says who compacts (``CC_DIRECT``, ``CC_PROACTIVE``): a direct
    compactor's capture_control is set up by the caller (``try_to_compact_pages``) and stops
    the scan once it holds a block; proactive compaction (order -1) scans the whole zone
    ignoring the skip bits until the fragmentation score falls to its low watermark.
    """
    ret = compaction_suitable(s, order, alloc_flags)
    if ret == COMPACT_SUCCESS_R or ret == COMPACT_SKIPPED:
        return ret
    if compaction_restarting(s, order):
        reset_isolation_suitable(s)
    migratetype = gfp_migratetype(gfp)
    n = s.zone[Z_NR_PAGES]
    pbn = pageblock_nr_pages(s)
    sync = 1 if mode != MIGRATE_ASYNC else 0
    ignore_skip_hint = kind == CC_PROACTIVE
    direct = kind == CC_DIRECT
    # compact_zone_order's compact_control
    s.zone[Z_CC_FAST_SEARCH_FAIL] = 0
    s.zone[Z_CC_SEARCH_ORDER] = order
    s.zone[Z_CC_FAST_START_PFN] = 0
    if kind == CC_PROACTIVE:  # whole_zone
        migrate_pfn = np.int64(0)
        s.zone[Z_CC_FREE_PFN] = free_scanner_start(s)
    else:
        migrate_pfn = s.zone[Z_COMPACT_CACHED_MIGRATE + sync]
        if s.zone[Z_COMPACT_CACHED_FREE] <= 0 or s.zone[Z_COMPACT_CACHED_FREE] >= n:
            s.zone[Z_COMPACT_CACHED_FREE] = free_scanner_start(s)
        s.zone[Z_CC_FREE_PFN] = s.zone[Z_COMPACT_CACHED_FREE]
    whole_zone = migrate_pfn <= 0
    chunk = np.int64(1) << max(order, 0)
    last_migrated_pfn = np.int64(0)
    while True:
        if compact_scanners_met(s, migrate_pfn):
            ret = COMPACT_COMPLETE
            break
        ret = compact_finished(s, order, migratetype, migrate_pfn, kind)
        if ret != COMPACT_CONTINUE:
            break
        # isolate_migratepages: a fast search may move the scanner to a better pageblock
        low = fast_find_migrateblock(s, order, migratetype, migrate_pfn, kind)
        fast_find_block = low != migrate_pfn and s.zone[Z_CC_FAST_SEARCH_FAIL] == 0
        migrate_pfn = low
        block_end = min((migrate_pfn & ~(pbn - 1)) + pbn, n)
        pb = migrate_pfn >> pageblock_order(s)
        # the skip bit is checked once per pageblock, at its start
        skipped = (migrate_pfn & (pbn - 1)) == 0 and s.pb_skip[pb] and not ignore_skip_hint
        if (skipped and not fast_find_block) or not suitable_migration_source(
            s, migrate_pfn, mode, migratetype, kind
        ):
            migrate_pfn = block_end
            last_migrated_pfn = compact_check_drain(s, cpu, order, migrate_pfn, last_migrated_pfn)
            continue
        low = migrate_pfn
        next_pfn = isolate_migratepages_block(s, low, block_end, mode, gfp)
        scanned = next_pfn - low
        count_scanned(s, COMPACT_MIGRATE_SCANNED, scanned)
        migrate_pfn = next_pfn
        if nr_migratepages(s) == 0:  # ISOLATE_NONE
            if migrate_pfn >= block_end:
                s.pb_skip[pb] = 1  # nothing isolated in this pageblock
        else:
            last_migrated_pfn = max(low, np.int64(1))  # ISOLATE_SUCCESS
            s.zone[COMPACT_ISOLATED] += nr_migratepages(s)
            if not isolate_freepages(s, order, migrate_pfn, nr_migratepages(s), mode, direct,
                                     ignore_skip_hint):
                putback_movable_pages(s, cpu)
                ret = COMPACT_COMPLETE
                break
            err = migrate_pages(s, cpu, mode, True)
            if err != 0:
                putback_movable_pages(s, cpu)
                if err == -ENOMEM and not compact_scanners_met(s, migrate_pfn):
                    ret = COMPACT_CONTENDED
                    break
                if kind == CC_DIRECT and mode == MIGRATE_ASYNC:
                    # skip the rest of the order-aligned chunk that failed
                    migrate_pfn = ((migrate_pfn - 1) | (chunk - 1)) + 1
                    last_migrated_pfn = 0  # draining pcplists is useless in this case
        last_migrated_pfn = compact_check_drain(s, cpu, order, migrate_pfn, last_migrated_pfn)
        if s.zone[Z_CAPTURE_PFN] != NO_PAGE and kind == CC_DIRECT:
            ret = COMPACT_SUCCESS_R  # a page has been captured
            break
    release_freepages(s)
    if ret == COMPACT_COMPLETE:
        reset_cached_positions(s)  # scanners met: restart from the zone's ends next time
        if kind == CC_DIRECT:
            s.zone[Z_COMPACT_BLOCKSKIP_FLUSH] = 1
        if not whole_zone:
            ret = COMPACT_PARTIAL_SKIPPED
    else:
        s.zone[Z_COMPACT_CACHED_MIGRATE + sync] = migrate_pfn
    return ret


@mm_jit
def try_to_compact_pages(s, cpu, gfp, order, alloc_flags, prio):
    """``try_to_compact_pages`` (v5.9) for the one zone (skipped with ``ABLATE_COMPACTION``),
    with the calling task's ``capture_control`` set while it compacts.

    Returns ``(compact_result, captured pfn or -1)``.
    """
    if s.zone[Z_ABLATE] & ABLATE_COMPACTION:
        return COMPACT_SKIPPED, np.int64(NO_PAGE)
    if prio > MIN_COMPACT_PRIORITY and compaction_deferred(s, order):
        s.zone[COMPACT_DEFERRED] += 1
        return COMPACT_DEFERRED_R, np.int64(NO_PAGE)
    mode = MIGRATE_ASYNC if prio == COMPACT_PRIO_ASYNC else MIGRATE_SYNC_LIGHT
    s.zone[Z_CAPTURE_ORDER] = order  # compact_zone_order: current->capture_control = &capc
    s.zone[Z_CAPTURE_PFN] = NO_PAGE
    status = compact_zone(s, cpu, order, gfp, mode, alloc_flags, CC_DIRECT)
    captured = s.zone[Z_CAPTURE_PFN]
    s.zone[Z_CAPTURE_ORDER] = -1
    s.zone[Z_CAPTURE_PFN] = NO_PAGE
    if captured != NO_PAGE:
        s.zone[SIM_COMPACT_CAPTURE] += 1
        status = COMPACT_SUCCESS_R
    if status == COMPACT_SUCCESS_R:
        # the allocation will probably succeed here; the caller resets for good if it does
        compaction_defer_reset(s, order, False)
    elif prio != COMPACT_PRIO_ASYNC and (
        status == COMPACT_COMPLETE or status == COMPACT_PARTIAL_SKIPPED
    ):
        defer_compaction(s, order)
    return status, captured


@mm_jit
def alloc_pages_direct_compact(s, cpu, gfp, order, migratetype, alloc_flags, prio):
    """``__alloc_pages_direct_compact``: compact, then try the free lists once.

    Returns ``(pfn, compact_result)``.
    """
    if order == 0:
        return np.int64(NO_PAGE), COMPACT_SKIPPED
    result, pfn = try_to_compact_pages(s, cpu, gfp, order, alloc_flags, prio)
    if result == COMPACT_SKIPPED:
        return np.int64(NO_PAGE), result
    s.zone[COMPACT_STALL] += 1
    if pfn != NO_PAGE:
        prep_new_page(s, pfn, order)  # the captured page
    else:
        pfn = get_page_from_freelist_call(s, cpu, gfp, order, migratetype, alloc_flags)
    if pfn != NO_PAGE:
        s.zone[Z_COMPACT_BLOCKSKIP_FLUSH] = 0
        compaction_defer_reset(s, order, True)
        s.zone[COMPACT_SUCCESS] += 1
        return pfn, result
    s.zone[COMPACT_FAIL] += 1
    return np.int64(NO_PAGE), result


@mm_jit
def compaction_zonelist_suitable(s, order, alloc_flags):
    """``compaction_zonelist_suitable`` (v5.9): would ``__compaction_suitable`` pass if reclaim
    freed a share (1/order) of the reclaimable pages?"""
    available = zone_reclaimable_pages(s) // order + s.zone[NR_FREE_PAGES]
    return compaction_suitable_(s, order, alloc_flags, available) != COMPACT_SKIPPED


@mm_jit
def should_compact_retry(s, order, alloc_flags, result, prio, retries):
    """``should_compact_retry`` (v5.9), as written: progress (SUCCESS) counts a retry; a failed
    compaction (COMPLETE) or one that withdrew (DEFERRED, CONTENDED, PARTIAL_SKIPPED) may only
    raise the priority; one skipped for want of order-0 pages retries while
    ``compaction_zonelist_suitable`` says reclaim could help; anything else retries up to
    ``MAX_COMPACT_RETRIES`` (a quarter for costly orders). Returns ``(retry, prio, retries)``."""
    if order == 0:
        return False, prio, retries
    if result == COMPACT_SUCCESS_R:  # compaction_made_progress
        retries += 1
    if result == COMPACT_SKIPPED:  # compaction_needs_reclaim
        return compaction_zonelist_suitable(s, order, alloc_flags), prio, retries
    if not (
        result == COMPACT_COMPLETE  # compaction_failed
        or result == COMPACT_DEFERRED_R  # compaction_withdrawn ...
        or result == COMPACT_CONTENDED
        or result == COMPACT_PARTIAL_SKIPPED
    ):
        max_retries = MAX_COMPACT_RETRIES
        if order > PAGE_ALLOC_COSTLY_ORDER:
            max_retries //= 4
        if retries <= max_retries:
            return True, prio, retries
    # check_priority
    min_priority = MIN_COMPACT_PRIORITY
    if order > PAGE_ALLOC_COSTLY_ORDER:
        min_priority = MIN_COMPACT_COSTLY_PRIORITY
    if prio > min_priority:
        return True, prio - 1, 0
    return False, prio, retries


@mm_jit
def alloc_pages_compact(s, cpu, gfp, order):
    """``__alloc_pages_nodemask`` with the whole v5.9 slow path, direct compaction included.

    For order-k requests by the calling task (the strategies): fast path; slow path with
    kswapd wake-up, async compaction first for costly orders, direct reclaim (with a pcp
    drain), compaction at SYNC_LIGHT, and the retry rules (``__GFP_NORETRY`` stops; a costly
    order without ``__GFP_RETRY_MAYFAIL`` gets exactly one reclaim and compaction round).
    """
    migratetype = gfp_migratetype(gfp)
    alloc_flags = current_alloc_flags(gfp, ALLOC_WMARK_LOW) | alloc_flags_nofragment(s, gfp)
    # the calling task's fast path (rmqueue under zone->lock or from the pcp list); the
    # background's own allocations are not charged to anybody's clock
    advance(s, s.zone[Z_COST + C_ALLOC_PAGE], T_ALLOC)
    pfn = get_page_from_freelist_call(s, cpu, gfp, order, migratetype, alloc_flags)
    if pfn != NO_PAGE:
        return pfn
    if (gfp & (___GFP_ATOMIC | ___GFP_DIRECT_RECLAIM)) == (___GFP_ATOMIC | ___GFP_DIRECT_RECLAIM):
        gfp &= ~___GFP_ATOMIC
    costly = order > PAGE_ALLOC_COSTLY_ORDER
    can_direct_reclaim = (gfp & ___GFP_DIRECT_RECLAIM) != 0
    alloc_flags = gfp_to_alloc_flags(gfp)
    if alloc_flags & ALLOC_KSWAPD:
        wakeup_kswapd(s)
    pfn = get_page_from_freelist_call(s, cpu, gfp, order, migratetype, alloc_flags)
    if pfn != NO_PAGE:
        return pfn
    prio = DEF_COMPACT_PRIORITY
    if can_direct_reclaim and (costly or (order > 0 and migratetype != MIGRATE_MOVABLE)):
        pfn, result = alloc_pages_direct_compact(
            s, cpu, gfp, order, migratetype, alloc_flags, INIT_COMPACT_PRIORITY
        )
        if pfn != NO_PAGE:
            return pfn
        if costly and (gfp & ___GFP_NORETRY):
            if result == COMPACT_SKIPPED or result == COMPACT_DEFERRED_R:
                s.zone[SIM_ALLOC_FAIL] += 1
                return np.int64(NO_PAGE)
            prio = INIT_COMPACT_PRIORITY
    if not can_direct_reclaim:
        s.zone[SIM_ALLOC_FAIL] += 1
        return np.int64(NO_PAGE)
    no_progress_loops = 0
    compaction_retries = 0
    while True:
        if alloc_flags & ALLOC_KSWAPD:
            wakeup_kswapd(s)
        pfn = get_page_from_freelist_call(s, cpu, gfp, order, migratetype, alloc_flags)
        if pfn != NO_PAGE:
            return pfn
        pfn, progress = direct_reclaim_and_retry(s, cpu, gfp, order, migratetype, alloc_flags)
        if pfn != NO_PAGE:
            return pfn
        pfn, result = alloc_pages_direct_compact(s, cpu, gfp, order, migratetype, alloc_flags, prio)
        if pfn != NO_PAGE:
            return pfn
        if gfp & ___GFP_NORETRY:
            break
        if costly and (gfp & ___GFP_RETRY_MAYFAIL) == 0:
            break
        retry, no_progress_loops = should_reclaim_retry(
            s, order, alloc_flags, progress > 0, no_progress_loops
        )
        if retry:
            continue
        if progress > 0:
            retry, prio, compaction_retries = should_compact_retry(
                s, order, alloc_flags, result, prio, compaction_retries
            )
            if retry:
                continue
        break
    s.zone[SIM_ALLOC_FAIL] += 1
    return np.int64(NO_PAGE)
