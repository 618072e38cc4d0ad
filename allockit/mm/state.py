"""The simulated machine's state: one zone as a NamedTuple of plain numpy arrays.

numba types a NamedTuple of arrays as a tuple, so every ``@njit(cache=True)`` kernel can take
the whole machine as one argument and still be cached on disk (a jitclass could not be).

Lists are the kernel's ``struct list_head`` rings: ``next``/``prev`` hold one slot per page
frame followed by one sentinel slot per list (free lists, then pcp lists), so unlinking a page
needs no knowledge of which list it is on, exactly as ``list_del()``.

Memory per simulated page: next 4 + prev 4 + order 1 + flags 2 + pcp migratetype 1 + owner 4
= 16 bytes (see ``bytes_per_page``); the budget is 32.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .constants import MAX_ORDER, MIGRATE_PCPTYPES, MIGRATE_TYPES
from .vmstat import NR_VMSTAT_ITEMS

# --- indices into MachineState.zone (int64): the scalar fields of struct zone ----------------
Z_NR_PAGES = 0  # spanned pages (pfns 0 .. nr_pages-1)
Z_START_PFN = 1  # zone_start_pfn of the modelled zone (for reports only; arithmetic is 0-based)
Z_MANAGED = 2  # zone_managed_pages()
Z_WMARK = 3  # _watermark[WMARK_MIN], then LOW (4) and HIGH (5)
Z_WATERMARK_BOOST = 6
Z_NR_RESERVED_HIGHATOMIC = 7
Z_NR_ISOLATE_PAGEBLOCK = 8
Z_PAGEBLOCK_ORDER = 9
Z_PCP_BATCH = 10
Z_PCP_HIGH = 11
Z_NR_CPUS = 12
Z_FLAGS = 13  # bit ZONE_BOOSTED_WATERMARK
Z_WATERMARK_BOOST_FACTOR = 14
Z_ALLOC_NOFRAGMENT = 15  # 1 if this zone is ZONE_NORMAL above a populated ZONE_DMA32
Z_CMA_BASE = 16  # CMA area: first pfn, page count, order_per_bit (count 0 = no area)
Z_CMA_COUNT = 17
Z_CMA_ORDER_PER_BIT = 18
Z_KERNEL = 19  # kernel-model version as 100*major + minor (509 = v5.9, 601 = v6.1)
Z_MIN_FREE_KBYTES = 20
NR_ZONE_FIELDS = 21

ZONE_BOOSTED_WATERMARK = 1

# Sentinel slots: free_list[mt][order] then pcp[cpu][type].
NR_FREE_LISTS = MIGRATE_TYPES * MAX_ORDER


class MachineState(NamedTuple):
    """One zone of the simulated machine. Every field is a numpy array (mutable in place)."""

    next: np.ndarray  # int32[nr_pages + nr_lists]: list links (free lists and pcp lists)
    prev: np.ndarray  # int32[nr_pages + nr_lists]
    order: np.ndarray  # int8[nr_pages]: buddy order (valid on PG_buddy pages) / allocation order
    flags: np.ndarray  # uint16[nr_pages]: PG_* bits (constants.py)
    pcpmt: np.ndarray  # int8[nr_pages]: "pcppage migratetype" (page->index in the kernel)
    owner: np.ndarray  # int32[nr_pages]: allocation/object id set by the allocating caller
    pb_mt: np.ndarray  # int8[nr_pageblocks]: pageblock migratetype
    nr_free: np.ndarray  # int64[MAX_ORDER]: free_area[order].nr_free
    pcp_count: np.ndarray  # int64[nr_cpus]: per_cpu_pages.count
    zone: np.ndarray  # int64[NR_ZONE_FIELDS]
    vmstat: np.ndarray  # int64[NR_VMSTAT_ITEMS]
    cma_bitmap: np.ndarray  # uint8[bits]: one byte per bit of cma->bitmap


def nr_lists(nr_cpus: int) -> int:
    """Number of sentinel slots: every free list and every pcp list."""
    return NR_FREE_LISTS + nr_cpus * MIGRATE_PCPTYPES


def allocate_state(nr_pages: int, pageblock_order: int, nr_cpus: int, cma_bits: int) -> MachineState:
    """Allocate an empty zone: no free pages, all lists empty, all pages reserved-less and zeroed.

    Boot (``boot.build_machine``) fills it; this only sizes and initialises the arrays.
    """
    n_links = nr_pages + nr_lists(nr_cpus)
    links = np.arange(n_links, dtype=np.int32)
    state = MachineState(
        next=links.copy(),
        prev=links,  # a sentinel pointing at itself is an empty list
        order=np.zeros(nr_pages, dtype=np.int8),
        flags=np.zeros(nr_pages, dtype=np.uint16),
        pcpmt=np.zeros(nr_pages, dtype=np.int8),
        owner=np.full(nr_pages, -1, dtype=np.int32),
        pb_mt=np.zeros(nr_pages >> pageblock_order, dtype=np.int8),
        nr_free=np.zeros(MAX_ORDER, dtype=np.int64),
        pcp_count=np.zeros(nr_cpus, dtype=np.int64),
        zone=np.zeros(NR_ZONE_FIELDS, dtype=np.int64),
        vmstat=np.zeros(NR_VMSTAT_ITEMS, dtype=np.int64),
        cma_bitmap=np.zeros(max(cma_bits, 1), dtype=np.uint8),
    )
    state.zone[Z_NR_PAGES] = nr_pages
    state.zone[Z_PAGEBLOCK_ORDER] = pageblock_order
    state.zone[Z_NR_CPUS] = nr_cpus
    return state


def bytes_per_page(state: MachineState) -> float:
    """Bytes of state per simulated page frame, all arrays included."""
    total = sum(a.nbytes for a in state)
    return total / int(state.zone[Z_NR_PAGES])


def copy_state(state: MachineState) -> MachineState:
    """Deep copy (used to start paired trials from one warmed-up machine)."""
    return MachineState(*(a.copy() for a in state))
