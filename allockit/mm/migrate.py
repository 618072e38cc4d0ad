"""Page migration: ``isolate_migratepages_block``, ``reclaim_clean_pages_from_list`` and
``migrate_pages`` (Linux v5.9 ``mm/compaction.c``, ``mm/vmscan.c``, ``mm/migrate.c``).

The migration list (``cc->migratepages``) lives in the zone array at ``Z_MIGRATE_LIST``:
a count and up to ``COMPACT_CLUSTER_MAX`` pfns. A page on it is PG_isolated (off the LRU).

Per-page outcomes of ``unmap_and_move`` follow the kernel (docs/model.md#migrate-pages):

* page freed meanwhile (its owner freed it while it was isolated): success, nothing to copy;
* no target page: -ENOMEM, ``migrate_pages`` stops at once;
* locked page: -EAGAIN unless a forced pass (pass ≥ 3) of a non-ASYNC mode, where it sleeps
  in ``lock_page`` (never in direct compaction, PF_MEMALLOC);
* writeback: -EBUSY in ASYNC/SYNC_LIGHT; in SYNC -EAGAIN unless forced, then it waits;
* an extra reference (pin, fork/exit walk, pagevec): -EAGAIN (refcount check);
* dirty page whose mapping has no ->migratepage: SYNC starts writeout and returns -EAGAIN,
  other modes -EBUSY;
* otherwise success: unmap (TLB shootdown per CPU that maps it), copy, remap, old page freed.
"""

import numpy as np

from .constants import (
    ___GFP_FS,
    ___GFP_MOVABLE,
    ___GFP_RETRY_MAYFAIL,
    C_DROP_CLEAN_PAGE,
    C_ISOLATE_LRU_PAGE,
    C_LOCK_WAKEUP,
    C_MIGRATE_ATTEMPT,
    C_MIGRATE_PAGE,
    C_SCAN_PER_PFN,
    C_TLB_FLUSH_PER_CPU,
    C_UNMAP_PAGE,
    C_WRITEOUT,
    EAGAIN,
    EBUSY,
    ENOMEM,
    GFP_USER,
    MIGRATE_ASYNC,
    MIGRATE_SYNC,
    NO_PAGE,
    T_DROP_CLEAN,
    T_MIGRATE,
    T_SCAN,
    T_WAIT_LOCK,
    T_WAIT_WRITEBACK,
    PG_anon,
    PG_buddy,
    PG_dirty,
    PG_isolated,
    PG_lru,
    PG_movable,
    PG_nomigratepage,
    PG_private,
    PG_writeback,
)
from .jit import mm_jit, mm_jit_inline
from .lru import lru_add_page, lru_del_page
from .owners import OWNER_FREED, OWNER_NONE
from .page_alloc import alloc_pages, free_pages
from .pagestate import PageLocked, PageWriteback, page_has_extra_ref
from .sched import advance, wait_until_us
from .state import COMPACT_CLUSTER_MAX, Z_CLOCK, Z_COST, Z_FREEPAGES, Z_MIGRATE_LIST
from .vmstat import (
    PGMIGRATE_FAIL,
    PGMIGRATE_SUCCESS,
    SIM_ISOLATE_SKIP,
    SIM_LOCK_WAIT,
    SIM_MIGRATE_EAGAIN,
    SIM_MIGRATE_EBUSY,
    SIM_MIGRATE_ENOMEM,
    SIM_MIGRATE_FREED,
    SIM_RECLAIM_CLEAN,
    SIM_WRITEBACK_WAIT,
)
from .workingset import evict_from_mapping

MIGRATEPAGE_SUCCESS = 0

# alloc_contig_range's migration target: GFP_USER | __GFP_MOVABLE | __GFP_RETRY_MAYFAIL
GFP_MIGRATION_TARGET = GFP_USER | ___GFP_MOVABLE | ___GFP_RETRY_MAYFAIL


# --- the migration list ------------------------------------------------------------------
@mm_jit_inline
def nr_migratepages(s):
    return s.zone[Z_MIGRATE_LIST]


@mm_jit_inline
def migratepage(s, i):
    return s.zone[Z_MIGRATE_LIST + 1 + i]


@mm_jit
def migratelist_add(s, pfn):
    n = s.zone[Z_MIGRATE_LIST]
    s.zone[Z_MIGRATE_LIST + 1 + n] = pfn
    s.zone[Z_MIGRATE_LIST] = n + 1


@mm_jit
def migratelist_remove(s, i):
    """Remove entry i keeping the order of the others (the kernel's list order)."""
    n = s.zone[Z_MIGRATE_LIST]
    for j in range(i, n - 1):
        s.zone[Z_MIGRATE_LIST + 1 + j] = s.zone[Z_MIGRATE_LIST + 2 + j]
    s.zone[Z_MIGRATE_LIST] = n - 1


@mm_jit
def putback_lru_page(s, cpu, pfn):
    """``putback_lru_page``; a page whose owner freed it meanwhile is freed now."""
    s.page[pfn].flags &= ~np.uint16(PG_isolated)
    if s.page[pfn].owner == OWNER_FREED:
        s.page[pfn].owner = OWNER_NONE
        free_pages(s, cpu, pfn, 0)
        return
    if (s.page[pfn].flags & PG_movable) == 0:
        lru_add_page(s, pfn)  # the kernel goes through lru_cache_add's pagevec


@mm_jit
def putback_movable_pages(s, cpu):
    """``putback_movable_pages``: everything left on the list goes back."""
    for i in range(nr_migratepages(s)):
        putback_lru_page(s, cpu, migratepage(s, i))
    s.zone[Z_MIGRATE_LIST] = 0


# --- compaction's migration targets: cc->freepages as (pfn, order) blocks -------------------
@mm_jit
def nr_freepages(s):
    total = 0
    for i in range(s.zone[Z_FREEPAGES]):
        total += np.int64(1) << s.zone[Z_FREEPAGES + 2 + 2 * i]
    return total


@mm_jit
def freepages_push(s, pfn, order):
    i = s.zone[Z_FREEPAGES]
    s.zone[Z_FREEPAGES + 1 + 2 * i] = pfn
    s.zone[Z_FREEPAGES + 2 + 2 * i] = order
    s.zone[Z_FREEPAGES] = i + 1


@mm_jit
def compaction_alloc(s):
    """``compaction_alloc`` (mm/compaction.c): one order-0 target from the free blocks the
    free scanner isolated (it isolates enough for the batch before migration starts)."""
    i = s.zone[Z_FREEPAGES] - 1
    if i < 0:
        return np.int64(NO_PAGE)
    pfn = s.zone[Z_FREEPAGES + 1 + 2 * i]
    order = s.zone[Z_FREEPAGES + 2 + 2 * i]
    s.zone[Z_FREEPAGES] = i
    for o in range(order):  # split_map_pages: keep the rest as smaller blocks
        freepages_push(s, pfn + (np.int64(1) << o), o)
    s.page[pfn].flags = 0
    s.page[pfn].order = 0
    return pfn


@mm_jit
def free_target(s, cpu, pfn, in_compaction):
    """A target page that was not used: ``compaction_free`` or ``put_page``."""
    if in_compaction:
        freepages_push(s, pfn, 0)
    else:
        free_pages(s, cpu, pfn, 0)


# --- isolation for migration ---------------------------------------------------------------
@mm_jit
def isolate_migratepages_block(s, low_pfn, end_pfn, mode, gfp):
    """``isolate_migratepages_block`` (v5.9, alloc_contig and compaction callers).

    Scans [low_pfn, end_pfn) and moves migratable in-use pages to the migration list until it
    holds ``COMPACT_CLUSTER_MAX``; returns the pfn where the scan stopped. Pages that cannot
    be isolated are left in place (an alloc_contig range then fails at test_pages_isolated):
    free pages (skipped by order), pages not on the LRU (kernel memory, pagevec and pcp
    residents, pages already isolated) unless non-LRU movable, anonymous pages holding an
    extra reference (pinned), pages with a mapping when the caller cannot enter the
    filesystem; with ISOLATE_ASYNC_MIGRATE (every mode but MIGRATE_SYNC) also pages under
    writeback and dirty pages whose mapping has no ->migratepage.
    """
    pfn = low_pfn
    scanned = 0
    async_isolate = mode != MIGRATE_SYNC
    while pfn < end_pfn:
        scanned += 1
        f = s.page[pfn].flags
        if f & PG_buddy:
            pfn += np.int64(1) << s.page[pfn].order
            continue
        ok = True
        if (f & PG_lru) == 0:
            ok = (f & PG_movable) != 0 and (f & PG_isolated) == 0
        elif (f & PG_anon) and page_has_extra_ref(s, pfn):
            ok = False  # "Migration will fail if an anonymous page is pinned in memory"
        elif (f & PG_anon) == 0 and (gfp & ___GFP_FS) == 0:
            ok = False
        elif async_isolate:
            if PageWriteback(s, pfn):
                ok = False
            elif (f & PG_dirty) and (f & PG_nomigratepage):
                ok = False
        if not ok:
            s.zone[SIM_ISOLATE_SKIP] += 1
            pfn += 1
            continue
        lru_del_page(s, pfn)  # isolate_lru_page (a non-LRU movable page: nothing to unlink)
        s.page[pfn].flags |= np.uint16(PG_isolated)
        advance(s, s.zone[Z_COST + C_ISOLATE_LRU_PAGE], T_SCAN)
        migratelist_add(s, pfn)
        pfn += 1
        if nr_migratepages(s) == COMPACT_CLUSTER_MAX:
            break
    advance(s, scanned * s.zone[Z_COST + C_SCAN_PER_PFN], T_SCAN)
    return pfn


# --- dropping clean page cache instead of migrating it -------------------------------------
@mm_jit
def try_to_drop_clean_page(s, cpu, pfn):
    """``shrink_page_list`` on one isolated clean file page (no writeout allowed).

    It is dropped unless locked, under writeback or holding an extra reference (the
    refcount check of ``__remove_mapping``); a mapped page is unmapped first.
    """
    if PageLocked(s, pfn) or PageWriteback(s, pfn) or page_has_extra_ref(s, pfn):
        return False
    cost = s.zone[Z_COST + C_DROP_CLEAN_PAGE]
    if s.page[pfn].mapcount > 0:
        cost += s.zone[Z_COST + C_UNMAP_PAGE]
        cost += s.zone[Z_COST + C_TLB_FLUSH_PER_CPU] * np.int64(s.page[pfn].mapcount)
    advance(s, cost, T_DROP_CLEAN)
    evict_from_mapping(s, pfn)  # __remove_mapping: the page cache entry is gone
    s.page[pfn].owner = OWNER_NONE
    s.page[pfn].mapcount = 0
    s.page[pfn].flags &= ~np.uint16(PG_isolated)
    free_pages(s, cpu, pfn, 0)
    return True


@mm_jit
def reclaim_clean_pages_from_list(s, cpu):
    """``reclaim_clean_pages_from_list`` (v5.9): drop isolated clean page cache pages.

    File LRU pages that are not dirty (writeback pages are not dirty: they are tried and
    kept) and not non-LRU movable go through ``shrink_page_list``; the rest stay on the list
    for migration. Returns the number dropped.
    """
    dropped = 0
    i = 0
    while i < nr_migratepages(s):
        pfn = migratepage(s, i)
        f = s.page[pfn].flags
        is_file = (f & (PG_anon | PG_movable)) == 0
        if s.page[pfn].owner == OWNER_FREED:
            i += 1
            continue
        if is_file and (f & PG_dirty) == 0 and try_to_drop_clean_page(s, cpu, pfn):
            migratelist_remove(s, i)
            dropped += 1
            continue
        i += 1
    s.zone[SIM_RECLAIM_CLEAN] += dropped
    return dropped


# --- migrate_pages -------------------------------------------------------------------------
@mm_jit
def move_page_state(s, old, new):
    """The part of ``migrate_page_states`` / ``migrate_page_move_mapping`` the model keeps:
    the owner follows the page, with its kind flags, dirtiness, mappings and aging flags
    (``PG_active``, ``PG_referenced``); the new page goes back to the head of its LRU list."""
    keep = PG_anon | PG_dirty | PG_private | PG_nomigratepage | PG_movable
    s.page[new].flags = (s.page[new].flags & ~np.uint16(keep)) | (s.page[old].flags & keep)
    s.page[new].mapcount = s.page[old].mapcount
    s.page[new].lru_flags = s.page[old].lru_flags
    s.page[old].lru_flags = 0
    owner = np.int64(s.page[old].owner)
    s.page[new].owner = owner
    if owner >= 0 and owner < s.obj_pfn.shape[0] and s.obj_pfn[owner] == old:
        s.obj_pfn[owner] = new
    if (s.page[new].flags & PG_movable) == 0:
        lru_add_page(s, new)  # putback_lru_page of the new page
    s.page[old].owner = OWNER_NONE
    s.page[old].mapcount = 0
    s.page[old].flags = 0


@mm_jit
def move_to_new_page(s, pfn, mode):
    """``move_to_new_page``: the mapping's ->migratepage decides (after unmap)."""
    f = s.page[pfn].flags
    if (f & PG_anon) == 0 and (f & PG_movable) == 0 and (f & PG_nomigratepage):
        # fallback_migrate_page
        if f & PG_dirty:
            if mode != MIGRATE_SYNC:
                return -EBUSY
            # writeout(): start writepage; the page is now under writeback
            s.page[pfn].flags = (f & ~np.uint16(PG_dirty)) | np.uint16(PG_writeback)
            done_us = (s.zone[Z_CLOCK] + s.zone[Z_COST + C_WRITEOUT]) // 1000
            s.page[pfn].t_io = done_us
            return -EAGAIN
    if page_has_extra_ref(s, pfn):
        return -EAGAIN  # page_count != expected_count in migrate_page_move_mapping
    return MIGRATEPAGE_SUCCESS


@mm_jit
def unmap_and_move(s, cpu, pfn, force, mode, in_compaction):
    """``unmap_and_move`` + ``__unmap_and_move`` (v5.9) for one isolated order-0 page.

    ``in_compaction``: direct compaction (targets from ``compaction_alloc``; PF_MEMALLOC, so
    never sleeps in ``lock_page``); otherwise ``alloc_migration_target``.

    Returns ``(rc, new_pfn)``.
    """
    if s.page[pfn].owner == OWNER_FREED:
        s.zone[SIM_MIGRATE_FREED] += 1
        return MIGRATEPAGE_SUCCESS, np.int64(NO_PAGE)  # "page was freed from under us"
    if in_compaction:
        new = compaction_alloc(s)
    else:
        new = alloc_pages(s, cpu, GFP_MIGRATION_TARGET, 0)  # alloc_migration_target
    if new == NO_PAGE:
        return -ENOMEM, np.int64(NO_PAGE)
    rc = -EAGAIN
    if PageLocked(s, pfn):
        if not force or mode == MIGRATE_ASYNC or in_compaction:
            free_target(s, cpu, new, in_compaction)
            advance(s, s.zone[Z_COST + C_MIGRATE_ATTEMPT], T_MIGRATE)
            return rc, np.int64(NO_PAGE)
        s.zone[SIM_LOCK_WAIT] += 1
        wait_until_us(s, np.int64(s.page[pfn].t_io), T_WAIT_LOCK)  # lock_page
        advance(s, s.zone[Z_COST + C_LOCK_WAKEUP], T_WAIT_LOCK)
        PageLocked(s, pfn)  # the I/O completed: the lock is ours now
    if PageWriteback(s, pfn):
        if mode != MIGRATE_SYNC:
            rc = -EBUSY
        elif force:
            s.zone[SIM_WRITEBACK_WAIT] += 1
            wait_until_us(s, np.int64(s.page[pfn].t_io), T_WAIT_WRITEBACK)
            advance(s, s.zone[Z_COST + C_LOCK_WAKEUP], T_WAIT_WRITEBACK)
            PageWriteback(s, pfn)
        if PageWriteback(s, pfn) or rc == -EBUSY:
            free_target(s, cpu, new, in_compaction)
            advance(s, s.zone[Z_COST + C_MIGRATE_ATTEMPT], T_MIGRATE)
            return rc, np.int64(NO_PAGE)
    if s.page[pfn].owner == OWNER_FREED:  # freed by its owner while we slept
        free_target(s, cpu, new, in_compaction)
        s.zone[SIM_MIGRATE_FREED] += 1
        return MIGRATEPAGE_SUCCESS, np.int64(NO_PAGE)
    mapped = np.int64(s.page[pfn].mapcount)
    cost = s.zone[Z_COST + C_MIGRATE_PAGE]
    if mapped > 0:  # try_to_unmap, then remove_migration_ptes
        cost += s.zone[Z_COST + C_UNMAP_PAGE] + s.zone[Z_COST + C_TLB_FLUSH_PER_CPU] * mapped
    rc = move_to_new_page(s, pfn, mode)
    if rc != MIGRATEPAGE_SUCCESS:
        # an unmapped-and-remapped failure still paid for the unmap and the shootdowns
        unmap = cost - s.zone[Z_COST + C_MIGRATE_PAGE]
        advance(s, s.zone[Z_COST + C_MIGRATE_ATTEMPT] + unmap, T_MIGRATE)
        free_target(s, cpu, new, in_compaction)
        return rc, np.int64(NO_PAGE)
    advance(s, cost, T_MIGRATE)
    move_page_state(s, pfn, new)
    return MIGRATEPAGE_SUCCESS, new


@mm_jit
def migrate_pages(s, cpu, mode, in_compaction):
    """``migrate_pages`` (v5.9) over the migration list.

    Up to 10 passes while some page asked to be retried; passes from the fourth on are
    "forced" (may sleep on locks and writeback in the modes that allow it). Pages that
    succeed or fail permanently leave the list (failures go back to the LRU); -EAGAIN pages
    stay for the next pass and, afterwards, on the list for the caller. Returns the number of
    pages not migrated, or -ENOMEM when a target page could not be allocated.
    """
    nr_failed = 0
    nr_succeeded = 0
    retry = 1
    pass_ = 0
    while pass_ < 10 and retry:
        retry = 0
        i = 0
        while i < nr_migratepages(s):
            pfn = migratepage(s, i)
            rc, new = unmap_and_move(s, cpu, pfn, pass_ > 2, mode, in_compaction)
            if rc == -ENOMEM:
                s.zone[SIM_MIGRATE_ENOMEM] += 1
                nr_failed += 1
                s.zone[PGMIGRATE_SUCCESS] += nr_succeeded
                s.zone[PGMIGRATE_FAIL] += nr_failed
                return -ENOMEM
            if rc == -EAGAIN:
                s.zone[SIM_MIGRATE_EAGAIN] += 1
                retry += 1
                i += 1
                continue
            migratelist_remove(s, i)
            if rc == MIGRATEPAGE_SUCCESS:
                nr_succeeded += 1
                # the old page has no user left: put_page frees it
                s.page[pfn].flags &= ~np.uint16(PG_isolated)
                s.page[pfn].owner = OWNER_NONE
                free_pages(s, cpu, pfn, 0)
            else:
                s.zone[SIM_MIGRATE_EBUSY] += 1
                nr_failed += 1
                putback_lru_page(s, cpu, pfn)
        pass_ += 1
    nr_failed += retry
    s.zone[PGMIGRATE_SUCCESS] += nr_succeeded
    s.zone[PGMIGRATE_FAIL] += nr_failed
    return nr_failed
