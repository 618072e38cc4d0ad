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
  pageblock order or more, and are only taken above MIN watermark + 2^order;
* pageblock skip bits: set on blocks that yielded nothing, cleared when compaction restarts
  after full deferral.

Deviations, not yet modelled (docs/model.md#not-yet-modelled): ``fast_isolate_freepages`` /
``fast_find_migrateblock`` (linear scanners instead), compaction capture, kcompactd and
proactive compaction, THP/hugetlb.
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
from .lists import free_list_slot, list_empty
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
    get_page_from_freelist,
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
    NR_FREEPAGE_BLOCKS,
    Z_ABLATE,
    Z_CAPTURE_ORDER,
    Z_CAPTURE_PFN,
    Z_COMPACT_BLOCKSKIP_FLUSH,
    Z_COMPACT_CACHED_FREE,
    Z_COMPACT_CACHED_MIGRATE,
    Z_COMPACT_CONSIDERED,
    Z_COMPACT_DEFER_SHIFT,
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
def isolate_freepages_block(s, start, end, want):
    """``isolate_freepages_block`` (non-strict): take free blocks as migration targets.

    Each block must pass ``__isolate_free_page``'s watermark test (MIN + 2^order, CMA
    counted). Returns ``(isolated, scanned, stopped_pfn)``.
    """
    isolated = 0
    scanned = 0
    pfn = start
    while pfn < end and isolated < want:
        scanned += 1
        if (s.page[pfn].flags & PG_buddy) == 0:
            pfn += 1
            continue
        order = np.int64(s.page[pfn].order)
        mark = s.zone[Z_WMARK] + (np.int64(1) << order)
        if not zone_watermark_ok_(s, 0, mark, ALLOC_CMA, s.zone[NR_FREE_PAGES]):
            break
        if s.zone[Z_FREEPAGES] >= NR_FREEPAGE_BLOCKS:
            break
        mt = get_pageblock_migratetype(s, pfn)
        del_page_from_free_list(s, pfn, order)
        mod_zone_freepage_state(s, -(np.int64(1) << order), mt)
        freepages_push(s, pfn, order)
        isolated += np.int64(1) << order
        pfn += np.int64(1) << order
    return isolated, scanned, pfn


@mm_jit
def isolate_freepages(s, migrate_pfn, want, ignore_skip_hint):
    """``isolate_freepages``: move the free scanner down until enough targets are isolated.

    Returns False when the free scanner met the migrate scanner.
    """
    pbn = pageblock_nr_pages(s)
    free_pfn = s.zone[Z_COMPACT_CACHED_FREE]
    scanned_total = 0
    while nr_freepages(s) < want:
        if free_pfn <= migrate_pfn:
            s.zone[Z_COMPACT_CACHED_FREE] = free_pfn
            advance(s, scanned_total * s.zone[Z_COST + C_COMPACTION_SCAN_PER_PFN], T_COMPACT)
            return False
        pb = free_pfn >> pageblock_order(s)
        if (ignore_skip_hint or s.pb_skip[pb] == 0) and suitable_migration_target(s, free_pfn):
            isolated, scanned, _ = isolate_freepages_block(
                s, free_pfn, free_pfn + pbn, want - nr_freepages(s)
            )
            scanned_total += scanned
            s.zone[COMPACT_FREE_SCANNED] += scanned
            if isolated == 0:
                s.pb_skip[pb] = 1  # update_pageblock_skip
            if nr_freepages(s) >= want:
                break
        free_pfn -= pbn
    s.zone[Z_COMPACT_CACHED_FREE] = free_pfn
    advance(s, scanned_total * s.zone[Z_COST + C_COMPACTION_SCAN_PER_PFN], T_COMPACT)
    return True


@mm_jit
def release_freepages(s):
    """``release_freepages``: unused targets go back to the buddy allocator."""
    for i in range(s.zone[Z_FREEPAGES]):
        pfn = s.zone[Z_FREEPAGES + 1 + 2 * i]
        order = s.zone[Z_FREEPAGES + 2 + 2 * i]
        free_one_page(s, pfn, order, get_pageblock_migratetype(s, pfn))
    s.zone[Z_FREEPAGES] = 0


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
    if kind == CC_PROACTIVE:  # whole_zone
        migrate_pfn = np.int64(0)
        s.zone[Z_COMPACT_CACHED_FREE] = free_scanner_start(s)
    else:
        migrate_pfn = s.zone[Z_COMPACT_CACHED_MIGRATE + sync]
        if s.zone[Z_COMPACT_CACHED_FREE] <= 0 or s.zone[Z_COMPACT_CACHED_FREE] >= n:
            s.zone[Z_COMPACT_CACHED_FREE] = free_scanner_start(s)
    whole_zone = migrate_pfn <= 0
    chunk = np.int64(1) << max(order, 0)
    last_migrated_pfn = np.int64(0)
    while True:
        if s.zone[Z_COMPACT_CACHED_FREE] <= migrate_pfn:  # compact_scanners_met
            ret = COMPACT_COMPLETE
            break
        ret = compact_finished(s, order, migratetype, migrate_pfn, kind)
        if ret != COMPACT_CONTINUE:
            break
        block_end = min((migrate_pfn & ~(pbn - 1)) + pbn, n)
        pb = migrate_pfn >> pageblock_order(s)
        if (s.pb_skip[pb] and not ignore_skip_hint) or not suitable_migration_source(
            s, migrate_pfn, mode, migratetype, kind
        ):
            migrate_pfn = block_end
            last_migrated_pfn = compact_check_drain(s, cpu, order, migrate_pfn, last_migrated_pfn)
            continue
        low = migrate_pfn
        next_pfn = isolate_migratepages_block(s, low, block_end, mode, gfp)
        scanned = next_pfn - low
        s.zone[COMPACT_MIGRATE_SCANNED] += scanned
        advance(s, scanned * s.zone[Z_COST + C_COMPACTION_SCAN_PER_PFN], T_COMPACT)
        migrate_pfn = next_pfn
        if nr_migratepages(s) == 0:  # ISOLATE_NONE
            if migrate_pfn >= block_end:
                s.pb_skip[pb] = 1  # nothing isolated in this pageblock
        else:
            last_migrated_pfn = max(low, np.int64(1))  # ISOLATE_SUCCESS
            s.zone[COMPACT_ISOLATED] += nr_migratepages(s)
            if not isolate_freepages(s, migrate_pfn, nr_migratepages(s), ignore_skip_hint):
                putback_movable_pages(s, cpu)
                ret = COMPACT_COMPLETE
                break
            err = migrate_pages(s, cpu, mode, True)
            if err != 0:
                putback_movable_pages(s, cpu)
                if err == -ENOMEM and s.zone[Z_COMPACT_CACHED_FREE] > migrate_pfn:
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
        pfn = get_page_from_freelist(s, cpu, gfp, order, migratetype, alloc_flags)
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
    pfn = get_page_from_freelist(s, cpu, gfp, order, migratetype, alloc_flags)
    if pfn != NO_PAGE:
        return pfn
    if (gfp & (___GFP_ATOMIC | ___GFP_DIRECT_RECLAIM)) == (___GFP_ATOMIC | ___GFP_DIRECT_RECLAIM):
        gfp &= ~___GFP_ATOMIC
    costly = order > PAGE_ALLOC_COSTLY_ORDER
    can_direct_reclaim = (gfp & ___GFP_DIRECT_RECLAIM) != 0
    alloc_flags = gfp_to_alloc_flags(gfp)
    if alloc_flags & ALLOC_KSWAPD:
        wakeup_kswapd(s)
    pfn = get_page_from_freelist(s, cpu, gfp, order, migratetype, alloc_flags)
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
        pfn = get_page_from_freelist(s, cpu, gfp, order, migratetype, alloc_flags)
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
