"""``include/linux/list.h`` over the state's ``next``/``prev`` arrays, and list-slot helpers.

A list is identified by its sentinel slot (``free_list_slot`` / ``pcp_list_slot``); a page by
its pfn. All functions are compiled and inlined into their callers by LLVM.
"""

from numba import njit

from .constants import MAX_ORDER, MIGRATE_PCPTYPES
from .state import NR_FREE_LISTS, Z_NR_PAGES


@njit(cache=True)
def free_list_slot(s, migratetype, order):
    """Sentinel slot of ``zone->free_area[order].free_list[migratetype]``."""
    return s.zone[Z_NR_PAGES] + migratetype * MAX_ORDER + order


@njit(cache=True)
def pcp_list_slot(s, cpu, migratetype):
    """Sentinel slot of ``per_cpu_pages.lists[migratetype]`` of ``cpu``."""
    return s.zone[Z_NR_PAGES] + NR_FREE_LISTS + cpu * MIGRATE_PCPTYPES + migratetype


@njit(cache=True)
def list_empty(s, head):
    return s.next[head] == head


@njit(cache=True)
def list_first(s, head):
    """``list_first_entry``: the head entry (caller checks ``list_empty`` first)."""
    return s.next[head]


@njit(cache=True)
def list_last(s, head):
    """``list_last_entry``: the tail entry (caller checks ``list_empty`` first)."""
    return s.prev[head]


@njit(cache=True)
def _list_insert(s, entry, before, after):
    s.next[before] = entry
    s.prev[entry] = before
    s.next[entry] = after
    s.prev[after] = entry


@njit(cache=True)
def list_add(s, entry, head):
    """``list_add``: insert right after the sentinel (becomes the head)."""
    _list_insert(s, entry, head, s.next[head])


@njit(cache=True)
def list_add_tail(s, entry, head):
    """``list_add_tail``: insert right before the sentinel (becomes the tail)."""
    _list_insert(s, entry, s.prev[head], head)


@njit(cache=True)
def list_del(s, entry):
    """``list_del``: unlink; the entry's own links are left pointing at itself."""
    n = s.next[entry]
    p = s.prev[entry]
    s.next[p] = n
    s.prev[n] = p
    s.next[entry] = entry
    s.prev[entry] = entry
