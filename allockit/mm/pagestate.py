"""Per-page transient states that block migration, and the per-CPU LRU pagevecs.

States end at a release time set by whoever caused them (the workload): ``t_io`` for
writeback and read locks, ``t_ref`` for extra references. They are evaluated lazily: a
writeback whose time has passed has completed (the page is clean), a pin whose time has
passed is gone. ``PageWriteback`` and ``PageLocked`` clear the stale flag when they notice.

Pagevecs mirror ``lru_cache_add`` / ``__pagevec_lru_add`` / ``lru_add_drain_cpu`` of v5.9
(mm/swap.c): a new LRU page first sits in its CPU's 15-entry pagevec, holding an extra
reference and not yet PageLRU, so isolation skips it and migration fails on it, until the
pagevec fills or a drain moves it to the head of its LRU list (``lru.lru_add_page``).
"""

import numpy as np

from .constants import (
    ABLATE_PAGEVEC,
    REF_JOURNAL,
    PG_dirty,
    PG_isolated,
    PG_locked,
    PG_lru,
    PG_pagevec,
    PG_pcp,
    PG_writeback,
)
from .jit import mm_jit, mm_jit_inline
from .lru import lru_add_page
from .owners import OWNER_FREED
from .state import (
    PAGEVEC_SIZE,
    PAGEVEC_SLOTS,
    Z_ABLATE,
    Z_CLOCK,
    Z_LRU_DISABLE_COUNT,
    Z_NR_CPUS,
    Z_PAGEVEC,
)
from .vmstat import (
    SIM_BUSY_FREE,
    SIM_BUSY_IO,
    SIM_BUSY_JOURNAL,
    SIM_BUSY_NOLRU,
    SIM_BUSY_OTHER,
    SIM_BUSY_PINNED,
)


@mm_jit_inline
def _now_us(s):
    return s.zone[Z_CLOCK] // 1000


@mm_jit_inline
def PageWriteback(s, pfn):
    """``PageWriteback``; a writeback whose completion time has passed has ended (clean)."""
    if (s.page[pfn].flags & PG_writeback) == 0:
        return False
    if np.int64(s.page[pfn].t_io) <= _now_us(s):
        s.page[pfn].flags &= ~np.uint16(PG_writeback)  # end_page_writeback
        return False
    return True


@mm_jit_inline
def PageLocked(s, pfn):
    """``PageLocked``; a lock held for I/O is released at its time."""
    if (s.page[pfn].flags & PG_locked) == 0:
        return False
    if np.int64(s.page[pfn].t_io) <= _now_us(s):
        s.page[pfn].flags &= ~np.uint16(PG_locked)  # unlock_page
        return False
    return True


@mm_jit_inline
def PageDirty(s, pfn):
    return (s.page[pfn].flags & PG_dirty) != 0


@mm_jit_inline
def page_has_extra_ref(s, pfn):
    """An extra reference (pin, fork/exit walk, pagevec) is held right now."""
    if (s.page[pfn].flags & PG_pagevec) != 0:
        return True
    return np.int64(s.page[pfn].t_ref) > _now_us(s)


@mm_jit
def busy_page_class(s, pfn):
    """The counter (``SIM_BUSY_*``) naming why ``pfn`` is not a free buddy page when
    ``test_pages_isolated`` stops on it: the simulator's side of the lab's census of busy
    pages (``lab/module/allockit_lab.c``). The first matching reason wins: a free page on a
    pcp list or being freed, a reference jbd2 holds, any other extra reference, a read lock
    or writeback in flight, a page off the LRU (kernel memory, isolated by someone else),
    else a page migration gave up on for another reason (target allocation, the try
    limit)."""
    f = s.page[pfn].flags
    if (f & PG_pcp) != 0 or s.page[pfn].owner == OWNER_FREED:
        return SIM_BUSY_FREE
    if np.int64(s.page[pfn].t_ref) > _now_us(s):
        if s.page[pfn].refkind == REF_JOURNAL:
            return SIM_BUSY_JOURNAL
        return SIM_BUSY_PINNED
    if (f & PG_pagevec) != 0:
        return SIM_BUSY_PINNED
    if PageLocked(s, pfn) or PageWriteback(s, pfn):
        return SIM_BUSY_IO
    if (f & PG_lru) == 0:
        return SIM_BUSY_NOLRU
    return SIM_BUSY_OTHER


@mm_jit_inline
def pagevec_base(s, cpu):
    return s.zone[Z_PAGEVEC] + cpu * PAGEVEC_SLOTS


@mm_jit
def lru_add_drain_cpu(s, cpu):
    """``lru_add_drain_cpu``: the CPU's pagevec goes to the LRU. Returns pages moved."""
    base = pagevec_base(s, cpu)
    n = s.zone[base]
    moved = 0
    for i in range(n):
        pfn = s.zone[base + 1 + i]
        if pfn >= 0:
            s.page[pfn].flags &= ~np.uint16(PG_pagevec)
            if (s.page[pfn].flags & PG_isolated) == 0:
                lru_add_page(s, pfn)
            moved += 1
    s.zone[base] = 0
    return moved


@mm_jit
def lru_cache_add(s, cpu, pfn):
    """``lru_cache_add``: into the CPU's pagevec; a full pagevec is added to the LRU, and so
    is every pagevec while ``lru_cache_disable`` holds (v5.13, ``pagevec_add_and_need_flush``;
    6.1's ``folio_batch_add_and_move``).

    With ``ABLATE_PAGEVEC`` the page goes to the LRU at once (a pagevec of one, drained)."""
    if s.zone[Z_ABLATE] & ABLATE_PAGEVEC:
        lru_add_page(s, pfn)
        return
    base = pagevec_base(s, cpu)
    n = s.zone[base]
    s.zone[base + 1 + n] = pfn
    s.zone[base] = n + 1
    s.page[pfn].flags |= np.uint16(PG_pagevec)
    if n + 1 == PAGEVEC_SIZE or s.zone[Z_LRU_DISABLE_COUNT] > 0:
        lru_add_drain_cpu(s, cpu)


@mm_jit
def pagevec_forget(s, pfn):
    """Drop a page from whatever pagevec holds it (it is being freed or migrated away)."""
    if (s.page[pfn].flags & PG_pagevec) == 0:
        return
    for cpu in range(s.zone[Z_NR_CPUS]):
        base = pagevec_base(s, cpu)
        for i in range(s.zone[base]):
            if s.zone[base + 1 + i] == pfn:
                s.zone[base + 1 + i] = -1
    s.page[pfn].flags &= ~np.uint16(PG_pagevec)


@mm_jit
def lru_add_drain_all_pages(s):
    """The state change of ``lru_add_drain_all``; returns the number of CPUs that had pages."""
    busy = 0
    for cpu in range(s.zone[Z_NR_CPUS]):
        if s.zone[pagevec_base(s, cpu)] > 0:
            busy += 1
            lru_add_drain_cpu(s, cpu)
    return busy
