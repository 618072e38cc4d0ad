"""``include/linux/list.h`` over the state's ``next``/``prev`` arrays, and list-slot helpers.

A list is identified by its sentinel slot (``free_list_slot`` / ``pcp_list_slot`` /
``lru_list_slot``); a page by its pfn. All functions are compiled and inlined into their
callers by LLVM.
"""

from .constants import MAX_ORDER, MIGRATE_PCPTYPES
from .jit import mm_jit_inline
from .state import NR_FREE_LISTS, Z_NR_CPUS, Z_NR_PAGES


@mm_jit_inline
def free_list_slot(s, migratetype, order):
    """Sentinel slot of ``zone->free_area[order].free_list[migratetype]``."""
    return s.zone[Z_NR_PAGES] + migratetype * MAX_ORDER + order


@mm_jit_inline
def pcp_list_slot(s, cpu, migratetype):
    """Sentinel slot of ``per_cpu_pages.lists[migratetype]`` of ``cpu``."""
    return s.zone[Z_NR_PAGES] + NR_FREE_LISTS + cpu * MIGRATE_PCPTYPES + migratetype


@mm_jit_inline
def lru_list_slot(s, lru):
    """Sentinel slot of ``lruvec->lists[lru]`` (enum lru_list)."""
    return s.zone[Z_NR_PAGES] + NR_FREE_LISTS + s.zone[Z_NR_CPUS] * MIGRATE_PCPTYPES + lru


@mm_jit_inline
def list_empty(s, head):
    return s.page[head].next == head


@mm_jit_inline
def list_first(s, head):
    """``list_first_entry``: the head entry (caller checks ``list_empty`` first)."""
    return s.page[head].next


@mm_jit_inline
def list_last(s, head):
    """``list_last_entry``: the tail entry (caller checks ``list_empty`` first)."""
    return s.page[head].prev


@mm_jit_inline
def _list_insert(s, entry, before, after):
    s.page[before].next = entry
    s.page[entry].prev = before
    s.page[entry].next = after
    s.page[after].prev = entry


@mm_jit_inline
def list_add(s, entry, head):
    """``list_add``: insert right after the sentinel (becomes the head)."""
    _list_insert(s, entry, head, s.page[head].next)


@mm_jit_inline
def list_add_tail(s, entry, head):
    """``list_add_tail``: insert right before the sentinel (becomes the tail)."""
    _list_insert(s, entry, s.page[head].prev, head)


@mm_jit_inline
def list_move(s, entry, head):
    """``list_move``: unlink, then insert as the head of another (or the same) list."""
    list_del(s, entry)
    list_add(s, entry, head)


@mm_jit_inline
def list_del(s, entry):
    """``list_del``: unlink; the entry's own links are left pointing at itself."""
    n = s.page[entry].next
    p = s.page[entry].prev
    s.page[p].next = n
    s.page[n].prev = p
    s.page[entry].next = entry
    s.page[entry].prev = entry


@mm_jit_inline
def list_rotate_before(s, head, entry):
    """Make ``entry`` the first entry of the ring ``head`` (the entries before it go to the
    tail, in order): ``list_cut_before(&sub, head, entry); list_splice_tail(&sub, head)``.
    The sentinel moves to just before ``entry``; nothing else is relinked."""
    list_del(s, head)
    _list_insert(s, head, s.page[entry].prev, entry)


@mm_jit_inline
def list_rotate_after(s, head, entry):
    """Make ``entry`` the last entry of the ring ``head`` (the entries after it become the
    first): ``list_cut_position(&sub, head, entry); list_splice_tail(&sub, head)``."""
    list_del(s, head)
    _list_insert(s, head, entry, s.page[entry].next)
