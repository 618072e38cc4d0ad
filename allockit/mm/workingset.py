"""Refault detection: shadow entries of evicted page-cache pages (v5.9/v5.10 mm/workingset.c).

When reclaim evicts a page-cache page, ``__remove_mapping`` leaves a *shadow entry* in the
page's slot of the mapping: the node's ``nonresident_age`` at eviction. The age counts every
eviction and every activation (``workingset_age_nonresident``), so when the page is read
again, ``workingset_refault`` computes how many pages the LRU aged while it was out (the
*refault distance*). A page that would have stayed resident had the inactive list had the
active list's room (distance ≤ ``NR_ACTIVE_FILE``, plus the anonymous lists with swap) starts
on the active list: a loop over a file set that does not fit in memory still earns its
share of the active list, and reclaim learns it must age the active list
(``shrink_node``'s ``may_deactivate`` on ``WORKINGSET_ACTIVATE_FILE`` moving).

The mapping's slot is the object's entry in ``MachineState.obj_pfn``, as the kernel keeps a
page or a value entry in the same ``i_pages`` slot: ``>= 0`` a page, ``NO_PAGE`` (-1)
nothing, below that a shadow (``pack_shadow``). Only page-cache pages leave shadows (the
model's anonymous pages are not in a swap cache).
"""

import numpy as np

from .constants import NO_PAGE, LRU_PG_active, PG_anon
from .jit import mm_jit, mm_jit_inline
from .state import Z_NONRESIDENT_AGE, Z_SWAP
from .vmstat import (
    NR_ACTIVE_ANON,
    NR_ACTIVE_FILE,
    NR_INACTIVE_ANON,
    WORKINGSET_ACTIVATE_FILE,
    WORKINGSET_REFAULT_FILE,
)

# EVICTION_MASK: the kernel packs the age into the bits of an xarray value entry left over
# from the memcg id and node; here into a non-negative int32 below NO_PAGE's encoding
EVICTION_MASK = (1 << 30) - 1


@mm_jit_inline
def workingset_age_nonresident(s, nr_pages):
    """``workingset_age_nonresident``: age the non-resident pages as the LRU ages."""
    s.zone[Z_NONRESIDENT_AGE] += nr_pages


@mm_jit_inline
def pack_shadow(eviction):
    """``pack_shadow``: the slot value of a shadow entry for age ``eviction``."""
    return NO_PAGE - 1 - (eviction & EVICTION_MASK)


@mm_jit_inline
def is_shadow(entry):
    """``xa_is_value``: the slot holds a shadow entry."""
    return entry < NO_PAGE


@mm_jit_inline
def unpack_shadow(entry):
    return NO_PAGE - 1 - entry


@mm_jit
def workingset_eviction(s):
    """``workingset_eviction``: note an eviction; returns the shadow entry to store."""
    workingset_age_nonresident(s, 1)
    return pack_shadow(s.zone[Z_NONRESIDENT_AGE])


@mm_jit
def workingset_refault(s, pfn, entry):
    """``workingset_refault``: a page read back into the slot of shadow ``entry`` starts
    active (``SetPageActive`` before ``lru_cache_add``) if its refault distance fits in the
    workingset. Returns True if it was activated."""
    eviction = unpack_shadow(entry)
    refault = s.zone[Z_NONRESIDENT_AGE]
    distance = (refault - eviction) & EVICTION_MASK
    s.zone[WORKINGSET_REFAULT_FILE] += 1
    workingset_size = s.zone[NR_ACTIVE_FILE]
    if s.zone[Z_SWAP] != 0:  # mem_cgroup_get_nr_swap_pages() > 0
        workingset_size += s.zone[NR_ACTIVE_ANON] + s.zone[NR_INACTIVE_ANON]
    if distance > workingset_size:
        return False
    s.page[pfn].lru_flags |= np.uint8(LRU_PG_active)
    workingset_age_nonresident(s, 1)
    s.zone[WORKINGSET_ACTIVATE_FILE] += 1
    return True


@mm_jit
def evict_from_mapping(s, pfn):
    """The part of ``__remove_mapping`` that touches the page's object: a page-cache page's
    slot gets its shadow entry (``workingset_eviction``), another page's is emptied. Every
    eviction ages the non-resident pages."""
    shadow = workingset_eviction(s)
    owner = np.int64(s.page[pfn].owner)
    if owner >= 0 and owner < s.obj_pfn.shape[0] and s.obj_pfn[owner] == pfn:
        if (s.page[pfn].flags & PG_anon) == 0:
            s.obj_pfn[owner] = shadow
        else:
            s.obj_pfn[owner] = NO_PAGE
