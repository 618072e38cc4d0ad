"""The simulated machine's state: one zone as a NamedTuple of four numpy arrays.

numba types a NamedTuple of arrays as a tuple, so every compiled kernel takes the whole
machine as one argument and can still be cached on disk (a jitclass could not be). The tuple
is passed by value on every call, so it is kept to four arrays:

* ``page``: one record per page frame (``struct page``): list links, owner, flags, buddy or
  allocation order, pcppage migratetype; followed by one record per list sentinel.
* ``pb_mt``: one migratetype per pageblock.
* ``zone``: int64 scalars of ``struct zone``, then ``free_area[].nr_free``, then the vmstat
  counters, then the per-CPU pcp counts (offsets below; vmstat.py's indices are absolute).
* ``cma_bitmap``: one byte per bit of ``cma->bitmap``.

Lists are the kernel's ``struct list_head`` rings: the link fields hold one slot per page
frame followed by one sentinel slot per list (free lists, then pcp lists), so unlinking a page
needs no knowledge of which list it is on, exactly as ``list_del()``.

Memory per simulated page: 16 bytes (``bytes_per_page``); the budget is 32.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .constants import MAX_ORDER, MIGRATE_PCPTYPES, MIGRATE_TYPES
from .vmstat import NR_VMSTAT_ITEMS, VMSTAT_BASE

PAGE_DTYPE = np.dtype(
    [
        ("next", np.int32),  # list links: free lists and pcp lists
        ("prev", np.int32),
        ("owner", np.int32),  # allocation/object id set by the allocating caller, -1 if none
        ("flags", np.uint16),  # PG_* bits (constants.py)
        ("order", np.int8),  # buddy order (valid on PG_buddy pages) / allocation order on heads
        ("pcpmt", np.int8),  # "pcppage migratetype" (page->index in the kernel)
    ],
    align=True,
)

# --- offsets into MachineState.zone (int64): the scalar fields of struct zone ----------------
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
Z_NR_FREE = 24  # free_area[order].nr_free, MAX_ORDER entries
assert Z_NR_FREE >= NR_ZONE_FIELDS and VMSTAT_BASE == Z_NR_FREE + MAX_ORDER
Z_PCP_COUNT = VMSTAT_BASE + NR_VMSTAT_ITEMS  # per_cpu_pages.count, one per CPU

ZONE_BOOSTED_WATERMARK = 1

# Sentinel slots: free_list[mt][order] then pcp[cpu][type].
NR_FREE_LISTS = MIGRATE_TYPES * MAX_ORDER


class MachineState(NamedTuple):
    """One zone of the simulated machine. Every field is a numpy array (mutable in place).

    The properties are Python-side views for tests and reports; compiled code indexes the
    four arrays directly.
    """

    page: np.ndarray  # PAGE_DTYPE[nr_pages + nr_lists]
    pb_mt: np.ndarray  # int8[nr_pageblocks]: pageblock migratetype
    zone: np.ndarray  # int64[Z_PCP_COUNT + nr_cpus]
    cma_bitmap: np.ndarray  # uint8[bits]: one byte per bit of cma->bitmap

    @property
    def nr_pages(self) -> int:
        return int(self.zone[Z_NR_PAGES])

    @property
    def flags(self) -> np.ndarray:
        return self.page["flags"][: self.nr_pages]

    @property
    def order(self) -> np.ndarray:
        return self.page["order"][: self.nr_pages]

    @property
    def pcpmt(self) -> np.ndarray:
        return self.page["pcpmt"][: self.nr_pages]

    @property
    def owner(self) -> np.ndarray:
        return self.page["owner"][: self.nr_pages]

    @property
    def next(self) -> np.ndarray:
        """Links of pages and sentinels (sentinels follow the pages)."""
        return self.page["next"]

    @property
    def prev(self) -> np.ndarray:
        return self.page["prev"]

    @property
    def nr_free(self) -> np.ndarray:
        return self.zone[Z_NR_FREE : Z_NR_FREE + MAX_ORDER]

    @property
    def vmstat(self) -> np.ndarray:
        return self.zone[VMSTAT_BASE : VMSTAT_BASE + NR_VMSTAT_ITEMS]

    @property
    def pcp_count(self) -> np.ndarray:
        return self.zone[Z_PCP_COUNT:]


def nr_lists(nr_cpus: int) -> int:
    """Number of sentinel slots: every free list and every pcp list."""
    return NR_FREE_LISTS + nr_cpus * MIGRATE_PCPTYPES


def allocate_state(
    nr_pages: int, pageblock_order: int, nr_cpus: int, cma_bits: int
) -> MachineState:
    """Allocate an empty zone: no free pages, all lists empty, every page zeroed.

    Boot (``boot.build_machine``) fills it; this only sizes and initialises the arrays.
    """
    page = np.zeros(nr_pages + nr_lists(nr_cpus), dtype=PAGE_DTYPE)
    links = np.arange(page.shape[0], dtype=np.int32)
    page["next"] = links  # a sentinel pointing at itself is an empty list
    page["prev"] = links
    page["owner"] = -1
    state = MachineState(
        page=page,
        pb_mt=np.zeros(nr_pages >> pageblock_order, dtype=np.int8),
        zone=np.zeros(Z_PCP_COUNT + nr_cpus, dtype=np.int64),
        cma_bitmap=np.zeros(max(cma_bits, 1), dtype=np.uint8),
    )
    state.zone[Z_NR_PAGES] = nr_pages
    state.zone[Z_PAGEBLOCK_ORDER] = pageblock_order
    state.zone[Z_NR_CPUS] = nr_cpus
    return state


def bytes_per_page(state: MachineState) -> float:
    """Bytes of state per simulated page frame, all arrays included."""
    total = sum(a.nbytes for a in state)
    return total / state.nr_pages


def copy_state(state: MachineState) -> MachineState:
    """Deep copy (used to start paired trials from one warmed-up machine)."""
    return MachineState(*(a.copy() for a in state))
