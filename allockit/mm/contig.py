"""Contiguous allocation: ``alloc_contig_range`` and its pieces (Linux v5.9, mm/page_alloc.c).

Steps of ``alloc_contig_range(start, end)`` in v5.9 (docs/model.md#alloc-contig-range):

1. isolate [start, end) rounded out to MAX_ORDER_NR_PAGES, one pageblock at a time, with a
   ``drain_all_pages`` after each (v5.11+: one drain after the whole range; v5.19+ isolates
   only the pageblocks the range touches);
2. ``__alloc_contig_migrate_range``: ``lru_add_drain_all`` (v5.13+: ``lru_cache_disable``
   for the whole step, the pagevecs off), then batches of ≤ 32 isolated
   pages: drop clean page cache, ``migrate_pages(MIGRATE_SYNC)``, until the range is done; a
   batch that still has pages after 5 rounds ends the migration with -EBUSY (the rest of the
   range is not migrated), which the caller ignores: the test of step 5 decides;
3. any other error is returned after undo: -ENOMEM when the last round could not allocate a
   migration target (v5.13+: the first such round ends the migration);
4. ``lru_add_drain_all`` again (up to v5.12); find ``outer_start``, the free buddy block
   holding ``start``;
5. ``test_pages_isolated(outer_start, end)``: every page must be free, else -EBUSY;
6. ``isolate_freepages_range``: take the free blocks out as order-0 pages;
7. free the pages outside [start, end) again;
8. always undo the isolation.

``ACR_*`` mode flags model the 2020-2021 proposals (docs/model.md#proposals): skipping the
per-pageblock pcp drain, one ``migrate_pages`` call per batch instead of five, skipping the
post-migration LRU drain, MIGRATE_ASYNC migration.
"""

import numpy as np

from .buddy import (
    add_to_free_list,
    del_page_from_free_list,
    free_one_page,
    get_pageblock_migratetype,
    pageblock_nr_pages,
    pageblock_order,
    set_buddy_order,
)
from .constants import (
    C_FREE_PAGE,
    C_HARVEST_PER_PAGE,
    EBUSY,
    EINVAL,
    ENOMEM,
    GFP_KERNEL,
    KERNEL_V5_11,
    KERNEL_V5_13,
    KERNEL_V5_19,
    MAX_ORDER,
    MAX_ORDER_NR_PAGES,
    MIGRATE_ASYNC,
    MIGRATE_SYNC,
    T_ALLOC,
    T_SCAN,
    PG_buddy,
)
from .drain import drain_all_pages_timed, lru_add_drain_all, lru_cache_disable, lru_cache_enable
from .isolation import start_isolate_page_range, test_pages_isolated, undo_isolate_page_range
from .jit import mm_jit
from .migrate import (
    isolate_migratepages_block,
    migrate_pages,
    nr_migratepages,
    putback_movable_pages,
    reclaim_clean_pages_from_list,
)
from .owners import OWNER_CONTIG, OWNER_NONE
from .page_alloc import free_pages
from .sched import advance
from .state import Z_COST, Z_KERNEL, Z_NR_PAGES
from .vmstat import SIM_ALLOC_CONTIG_EBUSY, SIM_ALLOC_CONTIG_RANGE

# alloc_contig_range mode flags (none = v5.9 behaviour)
ACR_SKIP_PCP_DRAIN = 1  # no drain_all_pages at isolation (cma_alloc_bulk v1/v2 fast mode)
ACR_ONE_TRY = 2  # one migrate_pages call per stuck batch instead of 5 (v1/v2/v4 fast mode)
ACR_SKIP_LRU_DRAIN = 4  # no lru_add_drain_all after migration (v1/v2 fast mode)
ACR_ASYNC = 8  # MIGRATE_ASYNC migration (v4 fail-fast, __GFP_NORETRY)
ACR_BEST_EFFORT = 16  # alloc_pages_bulk RFC: keep going past stuck batches


@mm_jit
def pfn_max_align_down(pfn):
    return pfn & ~np.int64(MAX_ORDER_NR_PAGES - 1)


@mm_jit
def pfn_max_align_up(pfn):
    return (pfn + MAX_ORDER_NR_PAGES - 1) & ~np.int64(MAX_ORDER_NR_PAGES - 1)


@mm_jit
def isolation_bounds(s, start, end):
    """The pfns whose pageblocks are isolated: MAX_ORDER-aligned until v5.18, pageblock
    aligned from v5.19 (kernel-model version 6.1)."""
    if s.zone[Z_KERNEL] >= KERNEL_V5_19:
        pbn = pageblock_nr_pages(s)
        return start & ~(pbn - 1), min((end + pbn - 1) & ~(pbn - 1), s.zone[Z_NR_PAGES])
    return pfn_max_align_down(start), min(pfn_max_align_up(end), s.zone[Z_NR_PAGES])


@mm_jit
def split_free_block_at(s, pfn):
    """v5.19's ``split_free_page`` for pageblock-granular isolation: if a free block larger
    than a pageblock covers ``pfn``'s pageblock, break it into pageblock-sized free blocks
    on the same list (no accounting change), so that isolation can take one of them."""
    pbo = pageblock_order(s)
    for order in range(pbo + 1, MAX_ORDER):
        head = pfn & ~((np.int64(1) << order) - 1)
        if (s.page[head].flags & PG_buddy) and s.page[head].order == order:
            mt = get_pageblock_migratetype(s, head)
            del_page_from_free_list(s, head, order)
            for p in range(head, head + (np.int64(1) << order), np.int64(1) << pbo):
                set_buddy_order(s, p, pbo)
                add_to_free_list(s, p, pbo, mt)
            return


@mm_jit
def alloc_contig_migrate_range(s, cpu, start, end, mode, max_tries, best_effort, gfp):
    """``__alloc_contig_migrate_range`` (v5.9): migrate every movable page out of the range.

    Each round's ``migrate_pages`` result is kept, as the kernel keeps ``ret``: a batch that
    still has pages after ``max_tries`` rounds ends the migration with that result if it was
    an error, else -EBUSY (unless ``best_effort``: then only that batch is given up on). Up to
    v5.12 a -ENOMEM from a migration target does not end the loop: the batch is retried (a
    later round may find a target once reclaim has run) and -ENOMEM survives only if the last
    round returned it. From v5.13 (Oscar Salvador, "mm,page_alloc: bail out earlier on -ENOMEM
    in alloc_contig_migrate_range"; present in the 6.1 source) the loop ends at the first one.
    Up to v5.12 the LRU pagevecs are drained once before (``migrate_prep``); from v5.13 the
    loop runs between ``lru_cache_disable`` and ``lru_cache_enable`` (d479960e44f2), so a
    page the workload adds to the LRU meanwhile is on a list, where migration can isolate it,
    not held by a pagevec.

    Returns 0, -EBUSY or -ENOMEM.
    """
    lru_disabled = s.zone[Z_KERNEL] >= KERNEL_V5_13
    if lru_disabled:
        lru_cache_disable(s)
    else:
        lru_add_drain_all(s)  # migrate_prep
    pfn = start
    tries = 0
    ret = 0
    while pfn < end or nr_migratepages(s) > 0:
        if nr_migratepages(s) == 0:
            pfn = isolate_migratepages_block(s, pfn, end, mode, gfp)
            tries = 0
        else:
            tries += 1
            if tries == max_tries:
                ret = ret if ret < 0 else -EBUSY
                if not best_effort:
                    break
                putback_movable_pages(s, cpu)  # give up on this batch only
                ret = 0
                continue
        if nr_migratepages(s) == 0:
            continue
        reclaim_clean_pages_from_list(s, cpu)
        ret = migrate_pages(s, cpu, mode, False)
        if ret == -ENOMEM and s.zone[Z_KERNEL] >= KERNEL_V5_13:
            break
    if lru_disabled:
        lru_cache_enable(s)
    if ret < 0:
        putback_movable_pages(s, cpu)
        return ret
    return 0


@mm_jit
def isolate_freepages_range(s, start, end):
    """``isolate_freepages_range`` (strict): take every free block of [start, end) out of
    the buddy as allocated order-0 pages. Returns the end pfn of the last block (may extend
    past ``end``), or 0 if a pfn in the range was not free."""
    pfn = start
    while pfn < end:
        if (s.page[pfn].flags & PG_buddy) == 0:
            return np.int64(0)
        order = np.int64(s.page[pfn].order)
        del_page_from_free_list(s, pfn, order)
        n = np.int64(1) << order
        for p in range(pfn, pfn + n):
            s.page[p].flags = 0
            s.page[p].owner = OWNER_CONTIG
            s.page[p].order = 0
        advance(s, n * s.zone[Z_COST + C_HARVEST_PER_PAGE], T_SCAN)
        pfn += n
    return pfn


@mm_jit
def free_contig_range(s, cpu, pfn, nr_pages):
    """``free_contig_range``: ``__free_page`` on each page (through the pcp lists)."""
    for p in range(pfn, pfn + nr_pages):
        s.page[p].owner = OWNER_NONE
        free_pages(s, cpu, p, 0)
    advance(s, nr_pages * s.zone[Z_COST + C_FREE_PAGE], T_ALLOC)


@mm_jit
def find_outer_start(s, start):
    """The head of the free buddy block that contains ``start`` (or ``start``)."""
    order = 0
    outer_start = start
    while (s.page[outer_start].flags & PG_buddy) == 0:
        order += 1
        if order >= MAX_ORDER:
            return start
        outer_start &= ~((np.int64(1) << order) - 1)
    if outer_start != start:
        order = np.int64(s.page[outer_start].order)
        if outer_start + (np.int64(1) << order) <= start:
            return start
    return outer_start


@mm_jit
def alloc_contig_range(s, cpu, start, end, migratetype, flags):
    """``alloc_contig_range(start, end, migratetype, GFP_KERNEL)`` (v5.9) with ``ACR_*`` modes.

    Returns ``(ret, busy_pfn)``: 0 with every page of [start, end) allocated to the caller
    (order-0 pages, owner ``OWNER_CONTIG``), or a negative errno; ``busy_pfn`` is the page
    that made ``test_pages_isolated`` fail, or -1.
    """
    s.zone[SIM_ALLOC_CONTIG_RANGE] += 1
    if not (0 <= start < end <= s.zone[Z_NR_PAGES]):
        return -EINVAL, np.int64(-1)
    iso_start, iso_end = isolation_bounds(s, start, end)
    if s.zone[Z_KERNEL] >= KERNEL_V5_19:
        split_free_block_at(s, iso_start)
        split_free_block_at(s, iso_end - 1)
    skip_drain = (flags & ACR_SKIP_PCP_DRAIN) != 0
    drain_each = s.zone[Z_KERNEL] < KERNEL_V5_11 and not skip_drain  # v5.11 drains once, below
    n = start_isolate_page_range(s, cpu, iso_start, iso_end, migratetype, drain_each)
    if n < 0:
        s.zone[SIM_ALLOC_CONTIG_EBUSY] += 1
        return np.int64(n), np.int64(-1)
    if s.zone[Z_KERNEL] >= KERNEL_V5_11 and not skip_drain:
        drain_all_pages_timed(s)  # v5.11: one drain for the whole range
    mode = MIGRATE_ASYNC if flags & ACR_ASYNC else MIGRATE_SYNC
    max_tries = 1 if flags & ACR_ONE_TRY else 5
    ret = alloc_contig_migrate_range(
        s, cpu, start, end, mode, max_tries, (flags & ACR_BEST_EFFORT) != 0, GFP_KERNEL
    )
    busy = np.int64(-1)
    if ret != 0 and ret != -EBUSY:
        undo_isolate_page_range(s, iso_start, iso_end, migratetype)
        return ret, busy
    # up to v5.12 the pagevecs filled during migration are drained; from v5.13 they were off
    if (flags & ACR_SKIP_LRU_DRAIN) == 0 and s.zone[Z_KERNEL] < KERNEL_V5_13:
        lru_add_drain_all(s)
    outer_start = find_outer_start(s, start)
    ret, busy = test_pages_isolated(s, outer_start, end)
    if ret == 0:
        outer_end = isolate_freepages_range(s, outer_start, end)
        if outer_end == 0:
            ret = -EBUSY
        else:
            if start != outer_start:
                free_contig_range(s, cpu, outer_start, start - outer_start)
            if end != outer_end:
                free_contig_range(s, cpu, end, outer_end - end)
    if ret == -EBUSY:
        s.zone[SIM_ALLOC_CONTIG_EBUSY] += 1
    undo_isolate_page_range(s, iso_start, iso_end, migratetype)
    return ret, busy


@mm_jit
def harvest_free_blocks(s, start, end, order, nr_elem, out, got):
    """Take free buddy blocks of order ≥ ``order`` inside [start, end) of an isolated range,
    cut them into order-``order`` pieces written to ``out`` from index ``got``; pieces beyond
    ``nr_elem`` or outside the range go back to the (ISOLATE) free lists. Returns ``got``."""
    size = np.int64(1) << order
    pfn = (start + size - 1) & ~(size - 1)
    while pfn + size <= end and got < nr_elem:
        if (s.page[pfn].flags & PG_buddy) == 0 or s.page[pfn].order < order:
            if s.page[pfn].flags & PG_buddy:
                pfn += np.int64(1) << s.page[pfn].order
                pfn = (pfn + size - 1) & ~(size - 1)
            else:
                pfn += size
            continue
        block_order = np.int64(s.page[pfn].order)
        block_end = pfn + (np.int64(1) << block_order)
        del_page_from_free_list(s, pfn, block_order)
        p = pfn
        while p < block_end:
            if got < nr_elem and p + size <= end:
                for q in range(p, p + size):
                    s.page[q].flags = 0
                    s.page[q].owner = OWNER_CONTIG
                s.page[p].order = order
                out[got] = p
                got += 1
            else:
                free_one_page(s, p, order, get_pageblock_migratetype(s, p))
            p += size
        advance(s, (block_end - pfn) * s.zone[Z_COST + C_HARVEST_PER_PAGE], T_SCAN)
        pfn = block_end
    return got


@mm_jit
def alloc_pages_bulk(s, cpu, start, end, migratetype, order, nr_elem, out, max_tries):
    """``alloc_pages_bulk`` from Minchan Kim's RFC (14 Aug 2020), as docs/model.md#alloc-pages-bulk
    reconstructs it: isolate the range (MAX_ORDER-aligned; no per-pageblock pcp drain,
    patch 7), migrate by best effort (a batch still stuck after ``max_tries`` rounds is put
    back and the scan goes on, patch 6), drain the LRU pagevecs, then harvest the free blocks
    of order ≥ ``order`` inside the range (no all-or-nothing test), undo the isolation.

    Returns ``(pages obtained, ret)``; ret is -EBUSY if the range could not be isolated, or
    -ENOMEM if a migration target could not be allocated (harvesting still happens).
    """
    iso_start, iso_end = isolation_bounds(s, start, end)
    n = start_isolate_page_range(s, cpu, iso_start, iso_end, migratetype, False)
    if n < 0:
        return 0, np.int64(n)
    ret = alloc_contig_migrate_range(s, cpu, start, end, MIGRATE_SYNC, max_tries, True, GFP_KERNEL)
    lru_add_drain_all(s)
    got = harvest_free_blocks(s, start, end, order, nr_elem, out, 0)
    undo_isolate_page_range(s, iso_start, iso_end, migratetype)
    return got, np.int64(ret)
