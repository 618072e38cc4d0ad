"""The buddy allocator proper: free lists, merging, splitting, fallback and stealing.

Mirrors ``mm/page_alloc.c`` of Linux v5.9 (next-20200813, the seed's tree); see
``docs/buddy-model.md`` for the step-by-step text these functions follow. Names are the
kernel's without leading underscores. Nothing here takes a lock or charges time: the callers
(page_alloc.py, pcp.py, later isolation/migration) are the kernel's lock holders.
"""

import numpy as np

from .constants import (
    ALLOC_CMA,
    ALLOC_KSWAPD,
    ALLOC_NOFRAGMENT,
    KERNEL_V5_10,
    MAX_ORDER,
    MIGRATE_CMA,
    MIGRATE_HIGHATOMIC,
    MIGRATE_ISOLATE,
    MIGRATE_MOVABLE,
    MIGRATE_RECLAIMABLE,
    MIGRATE_UNMOVABLE,
    NO_PAGE,
    PG_buddy,
    PG_lru,
    PG_movable,
)
from .constants import FALLBACKS as FALLBACKS_TABLE
from .jit import mm_jit, mm_jit_inline
from .lists import free_list_slot, list_add, list_add_tail, list_del, list_empty, list_first
from .state import (
    Z_CAPTURE_ORDER,
    Z_CAPTURE_PFN,
    Z_FLAGS,
    Z_IN_BG,
    Z_KERNEL,
    Z_MANAGED,
    Z_NR_FREE,
    Z_NR_ISOLATE_PAGEBLOCK,
    Z_NR_PAGES,
    Z_PAGEBLOCK_ORDER,
    Z_WATERMARK_BOOST,
    Z_WATERMARK_BOOST_FACTOR,
    Z_WMARK,
    ZONE_BOOSTED_WATERMARK,
)
from .vmstat import (
    NR_FREE_CMA_PAGES,
    NR_FREE_PAGES,
    SIM_EXTFRAG,
    SIM_PAGEBLOCK_STEAL,
    SIM_WATERMARK_BOOST,
)

# fallbacks[] of v5.9 (constants.FALLBACKS) as an array compiled code can index
FALLBACKS = np.array(FALLBACKS_TABLE, dtype=np.int64)


# --- pageblock flags (include/linux/pageblock-flags.h) ---------------------------------------
@mm_jit_inline
def pageblock_order(s):
    return s.zone[Z_PAGEBLOCK_ORDER]


@mm_jit_inline
def pageblock_nr_pages(s):
    return np.int64(1) << s.zone[Z_PAGEBLOCK_ORDER]


@mm_jit_inline
def get_pageblock_migratetype(s, pfn):
    """``get_pageblock_migratetype`` / ``get_pfnblock_migratetype``."""
    return np.int64(s.pb_mt[pfn >> s.zone[Z_PAGEBLOCK_ORDER]])


@mm_jit_inline
def set_pageblock_migratetype(s, pfn, migratetype):
    """``set_pageblock_migratetype``."""
    s.pb_mt[pfn >> s.zone[Z_PAGEBLOCK_ORDER]] = migratetype


@mm_jit
def change_pageblock_range(s, pfn, start_order, migratetype):
    """``change_pageblock_range``: retype every pageblock covered by a block of ``start_order``."""
    nr_pageblocks = np.int64(1) << max(start_order - s.zone[Z_PAGEBLOCK_ORDER], 0)
    pbn = pageblock_nr_pages(s)
    for i in range(nr_pageblocks):
        set_pageblock_migratetype(s, pfn + i * pbn, migratetype)


@mm_jit_inline
def has_isolate_pageblock(s):
    """``has_isolate_pageblock``: any pageblock of the zone is MIGRATE_ISOLATE."""
    return s.zone[Z_NR_ISOLATE_PAGEBLOCK] > 0


# --- counters ----------------------------------------------------------------------------------
@mm_jit_inline
def mod_zone_freepage_state(s, nr_pages, migratetype):
    """``__mod_zone_freepage_state``: NR_FREE_PAGES, and NR_FREE_CMA_PAGES for CMA."""
    s.zone[NR_FREE_PAGES] += nr_pages
    if migratetype == MIGRATE_CMA:
        s.zone[NR_FREE_CMA_PAGES] += nr_pages


# --- free lists (add_to_free_list & co., v5.9) ----------------------------------------------
@mm_jit_inline
def page_is_buddy(s, buddy_pfn, order):
    """``page_is_buddy``: the pfn is in the zone, PageBuddy, and of exactly this order."""
    if buddy_pfn >= s.zone[Z_NR_PAGES]:
        return False
    return (s.page[buddy_pfn].flags & PG_buddy) != 0 and s.page[buddy_pfn].order == order


@mm_jit_inline
def set_buddy_order(s, pfn, order):
    """``set_buddy_order``: mark the first page of a free block (``__SetPageBuddy``)."""
    s.page[pfn].order = order
    s.page[pfn].flags |= PG_buddy


@mm_jit_inline
def add_to_free_list(s, pfn, order, migratetype):
    """``add_to_free_list``: head insertion; ``nr_free`` +1."""
    list_add(s, pfn, free_list_slot(s, migratetype, order))
    s.zone[Z_NR_FREE + order] += 1


@mm_jit_inline
def add_to_free_list_tail(s, pfn, order, migratetype):
    """``add_to_free_list_tail``."""
    list_add_tail(s, pfn, free_list_slot(s, migratetype, order))
    s.zone[Z_NR_FREE + order] += 1


@mm_jit_inline
def fpi_to_tail(s):
    """v5.10 frees boot memory and isolated pages back to the tail of the free lists, and
    moves pages between lists to the tail too (David Hildenbrand, "mm/page_alloc: place pages
    to tail in __free_pages_core()", "... move pages to tail in move_to_free_list()",
    "mm/page_isolation: ... __putback_isolated_page"): pages that were just freed or moved
    are handed out last. v5.9 puts them at the head."""
    return s.zone[Z_KERNEL] >= KERNEL_V5_10


@mm_jit_inline
def move_to_free_list(s, pfn, order, migratetype):
    """``move_to_free_list``: ``list_move`` to the head of another type's list (v5.10+:
    ``list_move_tail``, to its tail)."""
    list_del(s, pfn)
    if fpi_to_tail(s):
        list_add_tail(s, pfn, free_list_slot(s, migratetype, order))
    else:
        list_add(s, pfn, free_list_slot(s, migratetype, order))


@mm_jit_inline
def del_page_from_free_list(s, pfn, order):
    """``del_page_from_free_list``: unlink, clear PageBuddy, ``nr_free`` −1."""
    list_del(s, pfn)
    s.page[pfn].flags &= ~PG_buddy
    s.zone[Z_NR_FREE + order] -= 1


# --- freeing -------------------------------------------------------------------------------
@mm_jit_inline
def buddy_merge_likely(s, pfn, buddy_pfn, order):
    """``buddy_merge_likely`` (v5.9): is the block one merge away from a free order+1 buddy?

    If so the kernel queues it at the tail, so that it is not handed out before its missing
    buddy comes back and the pair merges two levels up.
    """
    if order >= MAX_ORDER - 2:
        return False
    combined_pfn = buddy_pfn & pfn
    higher_buddy = combined_pfn ^ (np.int64(1) << (order + 1))
    return page_is_buddy(s, higher_buddy, order + 1)


@mm_jit
def free_one_page(s, pfn, order, migratetype):
    """``__free_one_page(..., FPI_NONE)``."""
    free_one_page_fpi(s, pfn, order, migratetype, False)


@mm_jit_inline
def task_capc_order(s):
    """``task_capc``: the order a direct compactor waits for, if the page is freed by that
    task itself (not by the workload's CPUs, which run as background operations) and nothing
    was captured yet; else -1."""
    if s.zone[Z_IN_BG] != 0 or s.zone[Z_CAPTURE_PFN] != NO_PAGE:
        return np.int64(-1)
    return s.zone[Z_CAPTURE_ORDER]


@mm_jit_inline
def compaction_capture(s, pfn, order, migratetype):
    """``compaction_capture`` (v5.9 mm/page_alloc.c): hand a block of the compactor's order to
    it at once, unless it lies in a CMA or isolated pageblock, or is a movable block below
    pageblock order (a lower-order request must not pollute a movable pageblock)."""
    if migratetype == MIGRATE_CMA or migratetype == MIGRATE_ISOLATE:
        return False
    if order < pageblock_order(s) and migratetype == MIGRATE_MOVABLE:
        return False
    s.zone[Z_CAPTURE_PFN] = pfn
    return True


@mm_jit
def free_one_page_fpi(s, pfn, order, migratetype, to_tail):
    """``__free_one_page`` (v5.9/v5.10): merge with free buddies and queue the result.

    Merging is unconditional up to pageblock order; above it, while the zone has isolated
    pageblocks, a merge between an ISOLATE and a non-ISOLATE pageblock is refused (so that an
    isolated range's free pages never escape onto a normal list). The block goes to the
    list's tail with ``to_tail`` (v5.10 ``FPI_TO_TAIL``) or when ``buddy_merge_likely``, else
    to its head. A block that reaches a direct compactor's order is captured for it
    (``compaction_capture``) before it merges further. Shuffling and page reporting are off
    (kernel defaults). Caller holds zone->lock.
    """
    if migratetype != MIGRATE_ISOLATE:
        mod_zone_freepage_state(s, np.int64(1) << order, migratetype)
    max_order = min(MAX_ORDER - 1, pageblock_order(s))
    capture_order = task_capc_order(s)
    buddy_pfn = np.int64(NO_PAGE)
    done = False
    while True:
        while order < max_order:
            if order == capture_order and compaction_capture(s, pfn, order, migratetype):
                mod_zone_freepage_state(s, -(np.int64(1) << order), migratetype)
                return
            buddy_pfn = pfn ^ (np.int64(1) << order)
            if not page_is_buddy(s, buddy_pfn, order):
                done = True
                break
            del_page_from_free_list(s, buddy_pfn, order)
            pfn = pfn & buddy_pfn
            order += 1
        if done or order >= MAX_ORDER - 1:
            break
        # order == pageblock_order (or above): merging across pageblocks.
        if has_isolate_pageblock(s):
            higher = pfn ^ (np.int64(1) << order)
            if higher >= s.zone[Z_NR_PAGES]:
                break
            buddy_mt = get_pageblock_migratetype(s, higher)
            if migratetype != buddy_mt and (
                migratetype == MIGRATE_ISOLATE or buddy_mt == MIGRATE_ISOLATE
            ):
                break
        max_order = order + 1
    set_buddy_order(s, pfn, order)
    if to_tail or buddy_merge_likely(s, pfn, buddy_pfn, order):
        add_to_free_list_tail(s, pfn, order, migratetype)
    else:
        add_to_free_list(s, pfn, order, migratetype)


# --- allocation ----------------------------------------------------------------------------
@mm_jit
def expand(s, pfn, low, high, migratetype):
    """``expand``: split a block of order ``high``; upper halves go to the list heads."""
    size = np.int64(1) << high
    while high > low:
        high -= 1
        size >>= 1
        add_to_free_list(s, pfn + size, high, migratetype)
        set_buddy_order(s, pfn + size, high)


@mm_jit
def rmqueue_smallest(s, order, migratetype):
    """``__rmqueue_smallest``: first-fit from the smallest order of this type's lists."""
    for current_order in range(order, MAX_ORDER):
        head = free_list_slot(s, migratetype, current_order)
        if list_empty(s, head):
            continue
        pfn = np.int64(list_first(s, head))
        del_page_from_free_list(s, pfn, current_order)
        expand(s, pfn, order, current_order, migratetype)
        s.page[pfn].pcpmt = migratetype  # set_pcppage_migratetype
        return pfn
    return np.int64(NO_PAGE)


@mm_jit_inline
def can_steal_fallback(s, order, start_mt):
    """``can_steal_fallback``: may the whole pageblock be taken over?"""
    pbo = pageblock_order(s)
    if order >= pbo:
        return True
    return order >= pbo // 2 or start_mt == MIGRATE_RECLAIMABLE or start_mt == MIGRATE_UNMOVABLE


@mm_jit
def find_suitable_fallback(s, order, migratetype, only_stealable):
    """``find_suitable_fallback``: first fallback type with a free block of this order.

    Returns ``(fallback_mt, can_steal)``; fallback_mt is -1 when there is none.
    """
    if s.zone[Z_NR_FREE + order] == 0:
        return np.int64(-1), False
    can_steal = False
    for i in range(FALLBACKS.shape[1]):
        fallback_mt = FALLBACKS[migratetype, i]
        if fallback_mt < 0:
            break
        if list_empty(s, free_list_slot(s, fallback_mt, order)):
            continue
        if can_steal_fallback(s, order, migratetype):
            can_steal = True
        if not only_stealable or can_steal:
            return fallback_mt, can_steal
    return np.int64(-1), can_steal


@mm_jit
def boost_watermark(s):
    """``boost_watermark``: raise the boost by one pageblock after a fragmenting fallback."""
    factor = s.zone[Z_WATERMARK_BOOST_FACTOR]
    if factor == 0:
        return False
    pbn = pageblock_nr_pages(s)
    if pbn * 4 > s.zone[Z_MANAGED]:
        return False
    max_boost = s.zone[Z_WMARK + 2] * factor // 10000  # mult_frac(high, factor, 10000)
    if max_boost == 0:
        return False
    max_boost = max(pbn, max_boost)
    s.zone[Z_WATERMARK_BOOST] = min(s.zone[Z_WATERMARK_BOOST] + pbn, max_boost)
    s.zone[SIM_WATERMARK_BOOST] += 1
    return True


@mm_jit
def move_freepages_block(s, pfn, migratetype):
    """``move_freepages_block``: move every free block of ``pfn``'s pageblock to another list.

    Returns ``(pages_moved, num_movable)`` where num_movable counts the in-use pages that are
    on the LRU or ``__PageMovable`` (the kernel's guess at what could be migrated away).
    """
    pbn = pageblock_nr_pages(s)
    start = pfn & ~(pbn - 1)
    end = start + pbn
    if end > s.zone[Z_NR_PAGES]:
        return 0, 0  # "Do not cross zone boundaries"
    moved = 0
    movable = 0
    p = start
    while p < end:
        if (s.page[p].flags & PG_buddy) == 0:
            if (s.page[p].flags & (PG_lru | PG_movable)) != 0:
                movable += 1
            p += 1
            continue
        order = np.int64(s.page[p].order)
        move_to_free_list(s, p, order, migratetype)
        p += np.int64(1) << order
        moved += np.int64(1) << order
    return moved, movable


@mm_jit
def steal_suitable_fallback(s, pfn, alloc_flags, start_type, whole_block):
    """``steal_suitable_fallback`` (v5.9): move the stolen block, maybe claim its pageblock."""
    current_order = np.int64(s.page[pfn].order)
    old_block_type = get_pageblock_migratetype(s, pfn)
    pbo = pageblock_order(s)
    if old_block_type == MIGRATE_HIGHATOMIC:
        move_to_free_list(s, pfn, current_order, start_type)
        return
    if current_order >= pbo:
        change_pageblock_range(s, pfn, current_order, start_type)
        s.zone[SIM_PAGEBLOCK_STEAL] += 1
        move_to_free_list(s, pfn, current_order, start_type)
        return
    if boost_watermark(s) and (alloc_flags & ALLOC_KSWAPD) != 0:
        s.zone[Z_FLAGS] |= ZONE_BOOSTED_WATERMARK
    if not whole_block:
        move_to_free_list(s, pfn, current_order, start_type)
        return
    free_pages, movable_pages = move_freepages_block(s, pfn, start_type)
    if start_type == MIGRATE_MOVABLE:
        alike_pages = movable_pages
    elif old_block_type == MIGRATE_MOVABLE:
        alike_pages = pageblock_nr_pages(s) - (free_pages + movable_pages)
    else:
        alike_pages = 0
    if free_pages == 0:
        move_to_free_list(s, pfn, current_order, start_type)
        return
    if free_pages + alike_pages >= (np.int64(1) << (pbo - 1)):
        set_pageblock_migratetype(s, pfn, start_type)
        s.zone[SIM_PAGEBLOCK_STEAL] += 1


@mm_jit
def rmqueue_fallback(s, order, start_migratetype, alloc_flags):
    """``__rmqueue_fallback`` (v5.9): steal from another type's lists; True if it moved pages.

    Takes the *largest* block of a fallback type (approximating "the pageblock with most free
    pages"), except for MOVABLE requests that could not claim the whole block: those take the
    *smallest* suitable block, so that a movable fallback fragments as little as possible.
    """
    min_order = order
    if alloc_flags & ALLOC_NOFRAGMENT:
        min_order = pageblock_order(s)
    current_order = MAX_ORDER - 1
    found = False
    fallback_mt = np.int64(-1)
    can_steal = False
    while current_order >= min_order:
        fallback_mt, can_steal = find_suitable_fallback(s, current_order, start_migratetype, False)
        if fallback_mt != -1:
            found = True
            break
        current_order -= 1
    if not found:
        return False
    if not can_steal and start_migratetype == MIGRATE_MOVABLE and current_order > order:
        # find_smallest
        current_order = order
        while current_order < MAX_ORDER:
            fallback_mt, can_steal = find_suitable_fallback(
                s, current_order, start_migratetype, False
            )
            if fallback_mt != -1:
                break
            current_order += 1
    pfn = np.int64(list_first(s, free_list_slot(s, fallback_mt, current_order)))
    s.zone[SIM_EXTFRAG] += 1  # trace_mm_page_alloc_extfrag
    steal_suitable_fallback(s, pfn, alloc_flags, start_migratetype, can_steal)
    return True


@mm_jit_inline
def rmqueue_cma_fallback(s, order):
    """``__rmqueue_cma_fallback``."""
    return rmqueue_smallest(s, order, MIGRATE_CMA)


@mm_jit
def rmqueue_(s, order, migratetype, alloc_flags):
    """``__rmqueue`` (v5.9, ALLOC_CMA variant): the zone-locked allocation of one block.

    Movable requests allowed into CMA take CMA first when CMA holds more than half of the
    zone's free pages (keeps CMA in use so that the normal zone is not exhausted first), and
    take CMA before stealing from another migratetype.
    """
    if (alloc_flags & ALLOC_CMA) != 0 and s.zone[NR_FREE_CMA_PAGES] > s.zone[NR_FREE_PAGES] // 2:
        pfn = rmqueue_cma_fallback(s, order)
        if pfn != NO_PAGE:
            return pfn
    while True:
        pfn = rmqueue_smallest(s, order, migratetype)
        if pfn != NO_PAGE:
            return pfn
        if (alloc_flags & ALLOC_CMA) != 0:
            pfn = rmqueue_cma_fallback(s, order)
            if pfn != NO_PAGE:
                return pfn
        if not rmqueue_fallback(s, order, migratetype, alloc_flags):
            return np.int64(NO_PAGE)
