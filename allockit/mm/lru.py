"""The LRU lists: ``include/linux/mm_inline.h`` and the aging half of ``mm/swap.c`` (v5.9).

One lruvec (one node, no memory cgroups) with the four evictable lists of ``enum lru_list``.
Each list is a ``list_head`` ring through the page records' links, its sentinel after the pcp
lists' (``lists.lru_list_slot``); its head is the youngest page, its tail the oldest, and
reclaim takes pages from the tail. ``PG_lru`` says a page is on one of them; ``PG_active``
(which of the pair) and ``PG_referenced`` live in the record's ``lru_flags``. The list sizes
are the node counters ``nr_inactive_anon`` ... ``nr_active_file``.
"""

import numpy as np

from .constants import (
    LRU_ACTIVE,
    LRU_FILE,
    LRU_INACTIVE_ANON,
    LRU_PG_active,
    LRU_PG_referenced,
    PG_anon,
    PG_lru,
)
from .jit import mm_jit, mm_jit_inline
from .lists import list_add, list_del, lru_list_slot
from .vmstat import NR_INACTIVE_ANON, PGACTIVATE
from .workingset import workingset_age_nonresident


@mm_jit_inline
def page_lru_base_type(s, pfn):
    """``page_lru_base_type``: the inactive list of the page's type (file or anon)."""
    if (s.page[pfn].flags & PG_anon) != 0:
        return LRU_INACTIVE_ANON
    return LRU_INACTIVE_ANON + LRU_FILE


@mm_jit_inline
def page_lru(s, pfn):
    """``page_lru``: the list the page belongs on, by its type and ``PG_active``."""
    lru = page_lru_base_type(s, pfn)
    if (s.page[pfn].lru_flags & LRU_PG_active) != 0:
        lru += LRU_ACTIVE
    return lru


@mm_jit_inline
def lru_size(s, lru):
    """``lruvec_lru_size``: pages on list ``lru``."""
    return s.zone[NR_INACTIVE_ANON + lru]


@mm_jit_inline
def add_page_to_lru_list(s, pfn, lru):
    """``add_page_to_lru_list``: at the head (the youngest end) of list ``lru``."""
    list_add(s, pfn, lru_list_slot(s, lru))
    s.zone[NR_INACTIVE_ANON + lru] += 1


@mm_jit_inline
def del_page_from_lru_list(s, pfn, lru):
    """``del_page_from_lru_list``."""
    list_del(s, pfn)
    s.zone[NR_INACTIVE_ANON + lru] -= 1


@mm_jit
def lru_add_page(s, pfn):
    """``__pagevec_lru_add_fn``: ``SetPageLRU`` and onto the list its flags name (inactive
    unless ``mark_page_accessed`` activated it while it sat in the pagevec)."""
    s.page[pfn].flags |= np.uint16(PG_lru)
    add_page_to_lru_list(s, pfn, page_lru(s, pfn))


@mm_jit
def lru_del_page(s, pfn):
    """Take a page off its LRU list and clear ``PG_lru`` (``__isolate_lru_page`` /
    ``__page_cache_release``); nothing for a page that is not on one."""
    if (s.page[pfn].flags & PG_lru) == 0:
        return
    del_page_from_lru_list(s, pfn, page_lru(s, pfn))
    s.page[pfn].flags &= ~np.uint16(PG_lru)


@mm_jit
def activate_page(s, pfn):
    """``__activate_page``: an inactive LRU page moves to the head of its active list.

    The kernel batches this through a per-CPU ``activate_page`` pagevec (drained within a
    few accesses); the move is made at once here."""
    if (s.page[pfn].flags & PG_lru) == 0 or (s.page[pfn].lru_flags & LRU_PG_active) != 0:
        return
    lru = page_lru_base_type(s, pfn)
    del_page_from_lru_list(s, pfn, lru)
    s.page[pfn].lru_flags |= np.uint8(LRU_PG_active)
    add_page_to_lru_list(s, pfn, lru + LRU_ACTIVE)
    s.zone[PGACTIVATE] += 1


@mm_jit
def mark_page_accessed(s, pfn):
    """``mark_page_accessed`` (v5.9 mm/swap.c): the first access sets ``PG_referenced``; the
    second activates an inactive page (on the LRU: ``activate_page``; still in a pagevec:
    ``__lru_cache_activate_page`` sets ``PG_active`` so the drain adds it to the active
    list), clears ``PG_referenced`` and ages the non-resident pages
    (``workingset_activation``)."""
    f = s.page[pfn].lru_flags
    if (f & LRU_PG_referenced) == 0:
        s.page[pfn].lru_flags = f | np.uint8(LRU_PG_referenced)
        return
    if (f & LRU_PG_active) != 0:
        return
    if (s.page[pfn].flags & PG_lru) != 0:
        activate_page(s, pfn)
    else:
        s.page[pfn].lru_flags |= np.uint8(LRU_PG_active)
    s.page[pfn].lru_flags &= ~np.uint8(LRU_PG_referenced)
    workingset_age_nonresident(s, 1)


@mm_jit
def lru_add_pages(s, pfns):
    """``lru_add_page`` for each pfn in turn: the last one ends up the youngest."""
    for i in range(pfns.shape[0]):
        lru_add_page(s, np.int64(pfns[i]))
