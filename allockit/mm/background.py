"""What the rest of the machine does while a simulated call runs: the background event queue.

The workload (``allockit/workload``, or a test) fills ``MachineState.events`` with
time-ordered operations on *objects* (its allocations); ``run_background(s, t)`` applies every
operation due by time ``t`` through the simulated kernel: allocations and frees go through
``alloc_pages`` / ``__free_pages`` on the event's CPU, LRU pages through that CPU's pagevec,
and state changes (dirty, writeback, read lock, pin, mapping) set the page's flags and
release times. An object follows its page: migration moves it, reclaim drops it (later
operations on a dropped or never-allocated object are counted and skipped). A read
(``EV_READ``) is the page cache's lookup: it finds the object's page, or reads it in again.

Background work runs on the other CPUs and costs the calling task no time; kswapd's reclaim
(vmscan.py) runs alongside, up to each event's time.
"""

import numpy as np

from .constants import (
    GFP_HIGHUSER_MOVABLE,
    NO_PAGE,
    PG_anon,
    PG_dirty,
    PG_isolated,
    PG_locked,
    PG_movable,
    PG_nomigratepage,
    PG_pagetable,
    PG_private,
    PG_slab,
    PG_writeback,
)
from .jit import mm_jit
from .lru import lru_del_page, mark_page_accessed
from .owners import OWNER_FREED
from .page_alloc import alloc_pages, free_pages
from .pagestate import lru_add_drain_cpu, lru_cache_add, pagevec_forget
from .state import Z_CLOCK, Z_EV_HEAD, Z_EV_TAIL, Z_IN_BG, Z_NR_OBJ
from .vmscan import kswapd_run
from .vmstat import SIM_BG_ALLOC_FAIL, SIM_BG_EVENTS, SIM_BG_SKIPPED
from .workingset import is_shadow, workingset_refault

# Event kinds
EV_ALLOC = 1  # obj := alloc_pages(gfp=arg, order) on cpu; pkind says what the page is
EV_FREE = 2  # __free_pages(obj) on cpu
EV_DIRTY = 3  # set_page_dirty
EV_WRITEBACK = 4  # the flusher starts writeback: clean, PG_writeback for arg us
EV_PIN = 5  # extra reference for arg us; order field = REF_* kind
EV_LOCK = 6  # lock_page for read I/O for arg us
EV_MAP = 7  # mapped by processes on arg CPUs (0: unmapped)
EV_LRU_DRAIN = 8  # lru_add_drain on cpu (e.g. the CPU's task scheduled away)
EV_ACCESS = 9  # mark_page_accessed: the page was read (a file read, a buffer-head lookup)
EV_READ = 10  # read the file page obj on cpu: a page-cache hit, or a miss read for arg us
EVENT_NAMES = (
    "none", "alloc", "free", "dirty", "writeback", "pin", "lock", "map", "lru_drain", "access",
    "read",
)

# Page kinds of EV_ALLOC
PK_KERNEL = 0  # kernel allocation not on any LRU (stacks, vmalloc, buffers)
PK_ANON = 1  # anonymous memory of a process: LRU via pagevec, mapped
PK_FILE = 2  # page cache with a ->migratepage (ext4 via buffer_migrate_page): LRU via pagevec
PK_FILE_NOMIGRATE = 3  # page cache whose mapping has no ->migratepage
PK_SLAB = 4  # slab page (PG_slab)
PK_PAGETABLE = 5  # page-table page
PK_MOVABLE_NONLRU = 6  # __PageMovable (zsmalloc, balloon)
PKIND_NAMES = ("kernel", "anon", "file", "file_nomigrate", "slab", "pagetable", "movable_nonlru")


@mm_jit
def set_page_kind(s, cpu, pfn, order, pkind):
    """Flags of a new allocation, and ``lru_cache_add`` for LRU pages."""
    nr = np.int64(1) << order
    if pkind == PK_ANON:
        for p in range(pfn, pfn + nr):
            s.page[p].flags |= np.uint16(PG_anon)
            s.page[p].mapcount = 1
            lru_cache_add(s, cpu, p)
    elif pkind == PK_FILE or pkind == PK_FILE_NOMIGRATE:
        for p in range(pfn, pfn + nr):
            s.page[p].flags |= np.uint16(PG_private)
            if pkind == PK_FILE_NOMIGRATE:
                s.page[p].flags |= np.uint16(PG_nomigratepage)
            lru_cache_add(s, cpu, p)
    elif pkind == PK_SLAB:
        s.page[pfn].flags |= np.uint16(PG_slab)
    elif pkind == PK_PAGETABLE:
        s.page[pfn].flags |= np.uint16(PG_pagetable)
    elif pkind == PK_MOVABLE_NONLRU:
        s.page[pfn].flags |= np.uint16(PG_movable)


@mm_jit
def release_page(s, cpu, pfn, order):
    """Free an allocation: leave any pagevec or LRU list, then ``__free_pages``.

    A page isolated for migration holds the migration's reference: the final put happens
    when migration is done with it (``unmap_and_move``'s "page was freed from under us").
    """
    if order == 0 and (s.page[pfn].flags & PG_isolated):
        s.page[pfn].owner = OWNER_FREED
        s.page[pfn].mapcount = 0
        s.page[pfn].t_ref = 0
        return
    for p in range(pfn, pfn + (np.int64(1) << order)):
        pagevec_forget(s, p)
        lru_del_page(s, p)  # __page_cache_release
        s.page[p].mapcount = 0
        s.page[p].t_ref = 0
        s.page[p].t_io = 0
    free_pages(s, cpu, pfn, order)


@mm_jit
def alloc_object_pages(s, cpu, obj, gfp, order):
    """``alloc_pages`` for object ``obj``, which then owns the block; a failure is counted.
    Returns the first pfn or ``NO_PAGE``."""
    new = alloc_pages(s, cpu, gfp, order)
    if new == NO_PAGE:
        s.zone[SIM_BG_ALLOC_FAIL] += 1
        return new
    s.obj_pfn[obj] = new
    for p in range(new, new + (np.int64(1) << order)):
        s.page[p].owner = obj
    return new


@mm_jit
def page_cache_read(s, cpu, obj, entry, read_us, pkind):
    """A read of one page of a file (v5.9/v5.10 ``generic_file_buffered_read``).

    A hit (``find_get_page``) is ``mark_page_accessed``. A miss allocates a page
    (``page_cache_alloc``: the mapping's ``GFP_HIGHUSER_MOVABLE``) and inserts it
    (``add_to_page_cache_lru``): locked, a refault of a shadow entry judged by
    ``workingset_refault`` (so it may start active), into the CPU's pagevec; the page stays
    locked while the read I/O of ``read_us`` runs, and the read marks it accessed.
    """
    if entry >= 0:
        mark_page_accessed(s, entry)
        return
    new = alloc_object_pages(s, cpu, obj, np.int64(GFP_HIGHUSER_MOVABLE), np.int64(0))
    if new == NO_PAGE:
        return
    if is_shadow(entry):
        workingset_refault(s, new, entry)
    set_page_kind(s, cpu, new, np.int64(0), pkind)
    s.page[new].flags |= np.uint16(PG_locked)
    s.page[new].t_io = s.zone[Z_CLOCK] // 1000 + read_us
    mark_page_accessed(s, new)


@mm_jit
def apply_event(s, i):
    """Apply event ``i`` of the queue at the current clock."""
    ev = s.events[i]
    kind = ev.kind
    obj = np.int64(ev.obj)
    cpu = np.int64(ev.cpu)
    if obj < 0 or obj >= s.zone[Z_NR_OBJ]:
        s.zone[SIM_BG_SKIPPED] += 1
        return
    pfn = np.int64(s.obj_pfn[obj])
    now_us = s.zone[Z_CLOCK] // 1000
    if kind == EV_READ:
        page_cache_read(s, cpu, obj, pfn, np.int64(ev.arg), np.int64(ev.pkind))
        return
    if kind == EV_ALLOC:
        order = np.int64(ev.order)
        new = alloc_object_pages(s, cpu, obj, np.int64(ev.arg), order)
        if new != NO_PAGE:
            set_page_kind(s, cpu, new, order, np.int64(ev.pkind))
        return
    if pfn < 0:
        if kind == EV_FREE:
            s.obj_pfn[obj] = NO_PAGE  # a deleted file's shadow entries go with it
        s.zone[SIM_BG_SKIPPED] += 1  # reclaimed, or its allocation failed
        return
    if kind == EV_FREE:
        s.obj_pfn[obj] = NO_PAGE
        release_page(s, cpu, pfn, np.int64(s.page[pfn].order))
    elif kind == EV_DIRTY:
        s.page[pfn].flags |= np.uint16(PG_dirty)
    elif kind == EV_WRITEBACK:
        s.page[pfn].flags = (s.page[pfn].flags & ~np.uint16(PG_dirty)) | np.uint16(PG_writeback)
        s.page[pfn].t_io = now_us + np.int64(ev.arg)
    elif kind == EV_PIN:
        until = now_us + np.int64(ev.arg)
        if until > np.int64(s.page[pfn].t_ref):
            s.page[pfn].t_ref = until
            s.page[pfn].refkind = ev.order
    elif kind == EV_LOCK:
        s.page[pfn].flags |= np.uint16(PG_locked)
        s.page[pfn].t_io = now_us + np.int64(ev.arg)
    elif kind == EV_MAP:
        s.page[pfn].mapcount = ev.arg
    elif kind == EV_LRU_DRAIN:
        lru_add_drain_cpu(s, cpu)
    elif kind == EV_ACCESS:
        mark_page_accessed(s, pfn)


@mm_jit
def run_background(s, t):
    """Apply every queued event with time ≤ ``t``, in order, each at its own time.

    The clock is set to each event's time while it runs (so its release times are relative to
    when it happened) and restored to ``t`` afterwards.
    """
    if s.zone[Z_IN_BG] != 0:
        return
    head = s.zone[Z_EV_HEAD]
    tail = s.zone[Z_EV_TAIL]
    if head >= tail or s.events[head].time > t:
        s.zone[Z_IN_BG] = 1
        kswapd_run(s, t)
        s.zone[Z_IN_BG] = 0
        return
    s.zone[Z_IN_BG] = 1
    saved = s.zone[Z_CLOCK]
    while head < tail and s.events[head].time <= t:
        kswapd_run(s, s.events[head].time)
        s.zone[Z_CLOCK] = s.events[head].time
        apply_event(s, head)
        s.zone[SIM_BG_EVENTS] += 1
        head += 1
    s.zone[Z_EV_HEAD] = head
    kswapd_run(s, t)
    s.zone[Z_CLOCK] = max(saved, t)
    s.zone[Z_IN_BG] = 0
