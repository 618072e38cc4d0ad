"""Pageblock isolation: ``mm/page_isolation.c`` and ``has_unmovable_pages`` (Linux v5.9).

Isolating a pageblock retypes it MIGRATE_ISOLATE and moves its free pages to the ISOLATE
lists, so that nothing in it can be allocated while its in-use pages are migrated away; pages
freed into it meanwhile stay isolated. In v5.9 every isolated pageblock is followed by a
``drain_all_pages`` (pcp pages of the block go back to the buddy, onto the ISOLATE list);
v5.11 moved that to one drain per ``alloc_contig_range`` call (kernel model "6.1").
"""

import numpy as np

from .buddy import (
    del_page_from_free_list,
    fpi_to_tail,
    free_one_page_fpi,
    get_pageblock_migratetype,
    mod_zone_freepage_state,
    move_freepages_block,
    pageblock_nr_pages,
    pageblock_order,
    set_pageblock_migratetype,
)
from .constants import (
    C_ISOLATE_PAGEBLOCK,
    C_SCAN_PER_PFN,
    EBUSY,
    MAX_ORDER,
    MIGRATE_CMA,
    MIGRATE_ISOLATE,
    T_ISOLATE,
    T_SCAN,
    PG_buddy,
    PG_lru,
    PG_movable,
    PG_pcp,
    PG_reserved,
)
from .drain import drain_all_pages_timed
from .jit import mm_jit
from .pagestate import busy_page_class
from .sched import advance
from .state import Z_COST, Z_NR_ISOLATE_PAGEBLOCK, Z_NR_PAGES
from .vmstat import SIM_ISOLATE_FAIL, SIM_ISOLATE_PAGEBLOCK, SIM_TEST_ISOLATED_FAIL


@mm_jit
def page_is_unmovable(s, pfn):
    """The in-use test of ``has_unmovable_pages``: referenced, not LRU, not __PageMovable.

    Free buddy pages and pcp pages (refcount 0) are movable; a page still in a pagevec or
    isolated for migration is not on the LRU and counts as unmovable, as in the kernel.
    """
    f = s.page[pfn].flags
    if f & PG_reserved:
        return True
    if f & (PG_buddy | PG_pcp):
        return False
    return (f & (PG_lru | PG_movable)) == 0


@mm_jit
def has_unmovable_pages(s, pfn, migratetype):
    """``has_unmovable_pages`` (v5.9): first unmovable pfn of the pageblock, or -1.

    A CMA pageblock isolated for MIGRATE_CMA is movable by definition (CMA only ever serves
    movable allocations), without looking at its pages.
    """
    if get_pageblock_migratetype(s, pfn) == MIGRATE_CMA:
        if migratetype == MIGRATE_CMA:
            return np.int64(-1)
        return pfn
    pbn = pageblock_nr_pages(s)
    end = (pfn & ~(pbn - 1)) + pbn
    p = pfn
    scanned = 0
    while p < end:
        scanned += 1
        f = s.page[p].flags
        if f & PG_buddy:
            p += np.int64(1) << s.page[p].order
            continue
        if page_is_unmovable(s, p):
            advance(s, scanned * s.zone[Z_COST + C_SCAN_PER_PFN], T_ISOLATE)
            return p
        p += 1
    advance(s, scanned * s.zone[Z_COST + C_SCAN_PER_PFN], T_ISOLATE)
    return np.int64(-1)


@mm_jit
def set_migratetype_isolate(s, cpu, pfn, migratetype, drain):
    """``set_migratetype_isolate`` (v5.9): 0, or -EBUSY if isolated already or unmovable.

    ``drain``: v5.9 calls ``drain_all_pages(zone)`` after every isolated pageblock.
    """
    advance(s, s.zone[Z_COST + C_ISOLATE_PAGEBLOCK], T_ISOLATE)
    if get_pageblock_migratetype(s, pfn) == MIGRATE_ISOLATE:
        s.zone[SIM_ISOLATE_FAIL] += 1
        return -EBUSY
    if has_unmovable_pages(s, pfn, migratetype) >= 0:
        s.zone[SIM_ISOLATE_FAIL] += 1
        return -EBUSY
    mt = get_pageblock_migratetype(s, pfn)
    set_pageblock_migratetype(s, pfn, MIGRATE_ISOLATE)
    s.zone[Z_NR_ISOLATE_PAGEBLOCK] += 1
    nr_pages, _ = move_freepages_block(s, pfn, MIGRATE_ISOLATE)
    mod_zone_freepage_state(s, -nr_pages, mt)
    s.zone[SIM_ISOLATE_PAGEBLOCK] += 1
    if drain:
        drain_all_pages_timed(s)
    return 0


@mm_jit
def unset_migratetype_isolate(s, pfn, migratetype):
    """``unset_migratetype_isolate`` (v5.9): give the pageblock back its type.

    Free pages move back to the type's lists without merging, except a free block of at
    least pageblock order starting here whose buddy is not isolated: it is taken out and
    freed again so that it merges (the isolate boundary had kept them apart).
    """
    pbn = pageblock_nr_pages(s)
    start = pfn & ~(pbn - 1)
    if get_pageblock_migratetype(s, start) != MIGRATE_ISOLATE:
        return
    isolated_page = False
    order = np.int64(0)
    if s.page[start].flags & PG_buddy:
        order = np.int64(s.page[start].order)
        if order >= pageblock_order(s) and order < MAX_ORDER - 1:
            buddy = start ^ (np.int64(1) << order)
            buddy_mt = get_pageblock_migratetype(s, buddy) if buddy < s.zone[Z_NR_PAGES] else -1
            if buddy_mt >= 0 and buddy_mt != MIGRATE_ISOLATE:
                del_page_from_free_list(s, start, order)  # __isolate_free_page on ISOLATE
                isolated_page = True
    if not isolated_page:
        nr_pages, _ = move_freepages_block(s, start, migratetype)
        mod_zone_freepage_state(s, nr_pages, migratetype)
    set_pageblock_migratetype(s, start, migratetype)
    if isolated_page:
        free_one_page_fpi(s, start, order, migratetype, fpi_to_tail(s))  # __putback_isolated_page
    s.zone[Z_NR_ISOLATE_PAGEBLOCK] -= 1


@mm_jit
def start_isolate_page_range(s, cpu, start_pfn, end_pfn, migratetype, drain_each):
    """``start_isolate_page_range``: isolate every pageblock; undo all on the first refusal.

    ``drain_each``: ``drain_all_pages`` after every pageblock, as v5.9/v5.10 do inside
    ``set_migratetype_isolate``. Returns the number of isolated pageblocks, or -EBUSY.
    """
    pbn = pageblock_nr_pages(s)
    n = 0
    pfn = start_pfn
    while pfn < end_pfn:
        if set_migratetype_isolate(s, cpu, pfn, migratetype, drain_each) != 0:
            undo = start_pfn
            while undo < pfn:
                unset_migratetype_isolate(s, undo, migratetype)
                undo += pbn
            return -EBUSY
        n += 1
        pfn += pbn
    return n


@mm_jit
def undo_isolate_page_range(s, start_pfn, end_pfn, migratetype):
    """``undo_isolate_page_range``."""
    pbn = pageblock_nr_pages(s)
    pfn = start_pfn
    while pfn < end_pfn:
        unset_migratetype_isolate(s, pfn, migratetype)
        pfn += pbn


@mm_jit
def test_page_isolated_in_pageblock(s, pfn, end_pfn):
    """``__test_page_isolated_in_pageblock``: first pfn that is not a free buddy page."""
    scanned = 0
    while pfn < end_pfn:
        scanned += 1
        if s.page[pfn].flags & PG_buddy:
            pfn += np.int64(1) << s.page[pfn].order
        else:
            break
    advance(s, scanned * s.zone[Z_COST + C_SCAN_PER_PFN], T_SCAN)
    return pfn


@mm_jit
def test_pages_isolated(s, start_pfn, end_pfn):
    """``test_pages_isolated`` (v5.9): 0 if every pageblock is isolated and every page free.

    Returns ``(ret, busy_pfn)``: the first busy pfn (as the kernel's tracepoint reports it),
    or -1.
    """
    pbn = pageblock_nr_pages(s)
    pfn = start_pfn & ~(pbn - 1)
    while pfn < end_pfn:
        if get_pageblock_migratetype(s, pfn) != MIGRATE_ISOLATE:
            s.zone[SIM_TEST_ISOLATED_FAIL] += 1
            return -EBUSY, max(pfn, start_pfn)
        pfn += pbn
    busy = test_page_isolated_in_pageblock(s, start_pfn, end_pfn)
    if busy < end_pfn:
        s.zone[SIM_TEST_ISOLATED_FAIL] += 1
        s.zone[busy_page_class(s, busy)] += 1
        return -EBUSY, busy
    return 0, np.int64(-1)
