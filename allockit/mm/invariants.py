"""The invariant checker: recompute what the allocator's bookkeeping claims and compare.

``check_invariants(state)`` raises ``InvariantError`` with the first violation found. Tests
call it after every operation; any run can enable it with a ``debug`` flag. It is O(pages).

Checked:
1. every free list is a consistent ring; its entries are PageBuddy, not on a pcp list, of the
   list's order, naturally aligned, inside the zone, and on no other list;
2. ``nr_free[order]`` equals the blocks counted on the lists of that order; every PageBuddy
   page is on a list; no page lies in two free blocks; pages inside a free block carry no flags;
3. NR_FREE_PAGES = pages on all lists but ISOLATE; NR_FREE_CMA_PAGES = pages on the CMA lists;
4. a free page on the CMA list lies in a CMA pageblock; a free page in a CMA pageblock is on
   the CMA or ISOLATE list; the ISOLATE list holds exactly the free pages of ISOLATE pageblocks;
5. no two free buddies of equal order are left unmerged where ``__free_one_page`` would have
   merged them (below MAX_ORDER−1; across an ISOLATE boundary above pageblock order it would not);
6. pcp lists are consistent rings of non-buddy pages flagged PG_pcp, their lengths equal the
   per-CPU counts, each page on the list its recorded migratetype maps to, and every PG_pcp
   page is on one;
7. ``nr_isolate_pageblock`` and ``nr_reserved_highatomic`` match the pageblock types;
8. CMA pageblocks are exactly the pageblocks of the CMA area (as CMA or, while isolated, ISOLATE);
9. the LRU lists are consistent rings of PG_lru pages that are in no free list, pcp list,
   pagevec or migration list, each on the list its type and PG_active name; their lengths
   equal the ``nr_*_anon/file`` counters, and every PG_lru page is on one.
"""

from __future__ import annotations

import numpy as np

from .constants import (
    MAX_ORDER,
    MIGRATE_CMA,
    MIGRATE_HIGHATOMIC,
    MIGRATE_ISOLATE,
    MIGRATE_MOVABLE,
    MIGRATE_PCPTYPES,
    MIGRATE_TYPES,
    MIGRATETYPE_NAMES,
    NR_LRU_LISTS,
    LRU_PG_active,
    PG_anon,
    PG_buddy,
    PG_isolated,
    PG_lru,
    PG_pagevec,
    PG_pcp,
)
from .jit import mm_njit
from .lists import free_list_slot, lru_list_slot, pcp_list_slot
from .state import (
    Z_CMA_BASE,
    Z_CMA_COUNT,
    Z_NR_CPUS,
    Z_NR_FREE,
    Z_NR_ISOLATE_PAGEBLOCK,
    Z_NR_PAGES,
    Z_NR_RESERVED_HIGHATOMIC,
    Z_PAGEBLOCK_ORDER,
    Z_PCP_COUNT,
    MachineState,
)
from .vmstat import NR_FREE_CMA_PAGES, NR_FREE_PAGES, NR_INACTIVE_ANON


class InvariantError(AssertionError):
    """The simulated allocator's state is inconsistent (a bug in allockit, not in the input)."""


_MESSAGES = {
    1: "free list ring broken (next/prev disagree) at pfn {pfn} on list {a}",
    2: "page {pfn} on free list (type {a}, order {b}) is not PageBuddy or has wrong order",
    3: "page {pfn} on free list of order {b} is misaligned or outside the zone",
    4: "page {pfn} lies in two free blocks (or is listed twice)",
    5: "nr_free[{a}] = {b} but the lists hold a different number of blocks",
    6: "PageBuddy page {pfn} is on no free list",
    7: "NR_FREE_PAGES = {a} but the non-ISOLATE free lists hold {b} pages",
    8: "NR_FREE_CMA_PAGES = {a} but the CMA free lists hold {b} pages",
    9: "free page {pfn} on the CMA list lies in a pageblock of type {a}",
    10: "free page {pfn} in a CMA pageblock is on the list of type {a}",
    11: "free page {pfn} on the ISOLATE list lies in a pageblock of type {a}",
    12: "free page {pfn} in an ISOLATE pageblock is on the list of type {a}",
    13: "free blocks {pfn} and its buddy (order {a}) were left unmerged",
    14: "pcp list ring broken at pfn {pfn} (cpu {a})",
    15: "page {pfn} on pcp list of cpu {a} is not flagged PG_pcp, or is PageBuddy",
    16: "pcp count of cpu {a} is {b} but its lists hold a different number",
    17: "page {pfn} with recorded migratetype {b} is on pcp list {a}",
    18: "page {pfn} is flagged PG_pcp but is on no pcp list",
    19: "nr_isolate_pageblock = {a} but {b} pageblocks are ISOLATE",
    20: "nr_reserved_highatomic = {a} but HIGHATOMIC pageblocks hold {b} pages",
    21: "pageblock {a} has type CMA outside the CMA area",
    22: "pageblock {a} of the CMA area has type {b}",
    23: "page {pfn} inside a free block carries flags {a}",
    24: "LRU ring broken at pfn {pfn} (list {a})",
    25: "page {pfn} on LRU list {a} has flags {b} (not PG_lru, or free, isolated, in a pagevec)",
    26: "page {pfn} of LRU list {b} is on LRU list {a}",
    27: "LRU list {a} holds a different number of pages than its counter ({b})",
    28: "page {pfn} is flagged PG_lru but is on no LRU list",
}


@mm_njit
def _walk_free_lists(s, seen):
    """Checks 1-2 for the free lists; fills ``seen`` (1 = in a free block, 2 = block head)."""
    nr_pages = s.zone[Z_NR_PAGES]
    free_pages = 0
    cma_pages = 0
    for order in range(MAX_ORDER):
        blocks = 0
        size = np.int64(1) << order
        for mt in range(MIGRATE_TYPES):
            head = free_list_slot(s, mt, order)
            prev = head
            pfn = np.int64(s.page[head].next)
            steps = 0
            while pfn != head:
                if s.page[pfn].prev != prev or pfn < 0 or pfn >= nr_pages:
                    return 1, pfn, mt, order
                if (s.page[pfn].flags & PG_buddy) == 0 or s.page[pfn].order != order:
                    return 2, pfn, mt, order
                if (s.page[pfn].flags & PG_pcp) != 0:
                    return 2, pfn, mt, order
                if (pfn & (size - 1)) != 0 or pfn + size > nr_pages:
                    return 3, pfn, mt, order
                for p in range(pfn, pfn + size):
                    if seen[p] != 0:
                        return 4, p, mt, order
                    seen[p] = 1
                    if p != pfn and s.page[p].flags != 0:
                        return 23, p, s.page[p].flags, 0
                seen[pfn] = 2
                blocks += 1
                if mt != MIGRATE_ISOLATE:
                    free_pages += size
                if mt == MIGRATE_CMA:
                    cma_pages += size
                blocks_pb = s.pb_mt[pfn >> s.zone[Z_PAGEBLOCK_ORDER]]
                if mt == MIGRATE_CMA and blocks_pb != MIGRATE_CMA:
                    return 9, pfn, blocks_pb, 0
                if blocks_pb == MIGRATE_CMA and mt != MIGRATE_CMA and mt != MIGRATE_ISOLATE:
                    return 10, pfn, mt, 0
                if mt == MIGRATE_ISOLATE and blocks_pb != MIGRATE_ISOLATE:
                    return 11, pfn, blocks_pb, 0
                if blocks_pb == MIGRATE_ISOLATE and mt != MIGRATE_ISOLATE:
                    return 12, pfn, mt, 0
                prev = pfn
                pfn = np.int64(s.page[pfn].next)
                steps += 1
                if steps > nr_pages:
                    return 1, pfn, mt, order
            if s.page[head].prev != prev:
                return 1, head, mt, order
        if blocks != s.zone[Z_NR_FREE + order]:
            return 5, -1, order, s.zone[Z_NR_FREE + order]
    if free_pages != s.zone[NR_FREE_PAGES]:
        return 7, -1, s.zone[NR_FREE_PAGES], free_pages
    if cma_pages != s.zone[NR_FREE_CMA_PAGES]:
        return 8, -1, s.zone[NR_FREE_CMA_PAGES], cma_pages
    return 0, -1, 0, 0


@mm_njit
def _check_buddies(s, seen):
    """Checks 2 (orphan PageBuddy) and 5 (unmerged buddies)."""
    nr_pages = s.zone[Z_NR_PAGES]
    pbo = s.zone[Z_PAGEBLOCK_ORDER]
    for pfn in range(nr_pages):
        if (s.page[pfn].flags & PG_buddy) == 0:
            continue
        if seen[pfn] != 2:
            return 6, pfn, 0, 0
        order = np.int64(s.page[pfn].order)
        if order >= MAX_ORDER - 1:
            continue
        buddy = pfn ^ (np.int64(1) << order)
        if buddy >= nr_pages or buddy < pfn:
            continue
        if (s.page[buddy].flags & PG_buddy) == 0 or s.page[buddy].order != order:
            continue
        if order >= pbo:
            mt_a = s.pb_mt[pfn >> pbo]
            mt_b = s.pb_mt[buddy >> pbo]
            if mt_a != mt_b and (mt_a == MIGRATE_ISOLATE or mt_b == MIGRATE_ISOLATE):
                continue
        return 13, pfn, order, 0
    return 0, -1, 0, 0


@mm_njit
def _check_pcp(s):
    """Check 6."""
    nr_pages = s.zone[Z_NR_PAGES]
    on_pcp = 0
    for cpu in range(s.zone[Z_NR_CPUS]):
        n = 0
        for t in range(MIGRATE_PCPTYPES):
            head = pcp_list_slot(s, cpu, t)
            prev = head
            pfn = np.int64(s.page[head].next)
            while pfn != head:
                if pfn < 0 or pfn >= nr_pages or s.page[pfn].prev != prev or n > nr_pages:
                    return 14, pfn, cpu, 0
                if (s.page[pfn].flags & PG_pcp) == 0 or (s.page[pfn].flags & PG_buddy) != 0:
                    return 15, pfn, cpu, 0
                rec = s.page[pfn].pcpmt
                want = rec if rec < MIGRATE_PCPTYPES else MIGRATE_MOVABLE
                if want != t or rec == MIGRATE_ISOLATE:
                    return 17, pfn, t, rec
                n += 1
                prev = pfn
                pfn = np.int64(s.page[pfn].next)
            if s.page[head].prev != prev:
                return 14, head, cpu, 0
        if n != s.zone[Z_PCP_COUNT + cpu]:
            return 16, -1, cpu, s.zone[Z_PCP_COUNT + cpu]
        on_pcp += n
    return _flagged_but_unlisted(s, PG_pcp, on_pcp, 18)


@mm_njit
def _flagged_but_unlisted(s, flag, listed, code):
    """``code`` if fewer pages are on the lists (``listed``) than carry ``flag``, naming an
    unlinked one; else 0."""
    nr_pages = s.zone[Z_NR_PAGES]
    flagged = 0
    for pfn in range(nr_pages):
        if s.page[pfn].flags & flag:
            flagged += 1
    if flagged != listed:
        for pfn in range(nr_pages):
            if (s.page[pfn].flags & flag) and s.page[pfn].next == pfn:
                return code, pfn, 0, 0
        return code, -1, 0, 0
    return 0, -1, 0, 0


@mm_njit
def _check_pageblocks(s):
    """Checks 7-8."""
    pbo = s.zone[Z_PAGEBLOCK_ORDER]
    n_iso = 0
    n_ha = 0
    cma_lo = s.zone[Z_CMA_BASE] >> pbo
    cma_hi = (s.zone[Z_CMA_BASE] + s.zone[Z_CMA_COUNT]) >> pbo
    for pb in range(s.pb_mt.shape[0]):
        mt = s.pb_mt[pb]
        if mt == MIGRATE_ISOLATE:
            n_iso += 1
        elif mt == MIGRATE_HIGHATOMIC:
            n_ha += 1
        in_cma = cma_lo <= pb < cma_hi
        if mt == MIGRATE_CMA and not in_cma:
            return 21, -1, pb, 0
        if in_cma and mt != MIGRATE_CMA and mt != MIGRATE_ISOLATE:
            return 22, -1, pb, mt
    if n_iso != s.zone[Z_NR_ISOLATE_PAGEBLOCK]:
        return 19, -1, s.zone[Z_NR_ISOLATE_PAGEBLOCK], n_iso
    if (n_ha << pbo) != s.zone[Z_NR_RESERVED_HIGHATOMIC]:
        return 20, -1, s.zone[Z_NR_RESERVED_HIGHATOMIC], n_ha << pbo
    return 0, -1, 0, 0


@mm_njit
def _check_lru(s):
    """Check 9."""
    nr_pages = s.zone[Z_NR_PAGES]
    bad = PG_buddy | PG_pcp | PG_isolated | PG_pagevec
    on_lru = 0
    for lru in range(NR_LRU_LISTS):
        head = lru_list_slot(s, lru)
        prev = head
        pfn = np.int64(s.page[head].next)
        n = 0
        while pfn != head:
            if pfn < 0 or pfn >= nr_pages or s.page[pfn].prev != prev or n > nr_pages:
                return 24, pfn, lru, 0
            f = s.page[pfn].flags
            if (f & PG_lru) == 0 or (f & bad) != 0:
                return 25, pfn, lru, f
            want = 2 if (f & PG_anon) == 0 else 0
            if s.page[pfn].lru_flags & LRU_PG_active:
                want += 1
            if want != lru:
                return 26, pfn, lru, want
            n += 1
            prev = pfn
            pfn = np.int64(s.page[pfn].next)
        if s.page[head].prev != prev:
            return 24, head, lru, 0
        if n != s.zone[NR_INACTIVE_ANON + lru]:
            return 27, -1, lru, s.zone[NR_INACTIVE_ANON + lru]
        on_lru += n
    return _flagged_but_unlisted(s, PG_lru, on_lru, 28)


@mm_njit
def check_invariants_nb(s):
    """Compiled checker: ``(code, pfn, a, b)``; code 0 means every invariant holds."""
    seen = np.zeros(s.zone[Z_NR_PAGES], dtype=np.uint8)
    r = _walk_free_lists(s, seen)
    if r[0] != 0:
        return r
    r = _check_buddies(s, seen)
    if r[0] != 0:
        return r
    r = _check_pcp(s)
    if r[0] != 0:
        return r
    r = _check_lru(s)
    if r[0] != 0:
        return r
    return _check_pageblocks(s)


def check_invariants(state: MachineState) -> None:
    """Raise ``InvariantError`` describing the first violated invariant, if any."""
    code, pfn, a, b = check_invariants_nb(state)
    if code == 0:
        return
    msg = _MESSAGES[int(code)].format(pfn=int(pfn), a=int(a), b=int(b))
    if code in (10, 12):
        msg += f" ({MIGRATETYPE_NAMES[int(a)]})"
    raise InvariantError(f"invariant {int(code)} violated: {msg}")
