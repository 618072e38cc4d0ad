"""The simulated machine's state: one zone as a NamedTuple of seven numpy arrays.

numba types a NamedTuple of arrays as a tuple, so every compiled kernel takes the whole
machine as one argument and can still be cached on disk (a jitclass could not be). The tuple
is passed by value on every call, so it is kept small:

* ``page``: one record per page frame (``struct page``): list links, owner, flags, buddy or
  allocation order, pcppage migratetype, the release times of transient states (I/O:
  writeback or read lock; extra reference: pins, fork/exit walks) and the page-aging flags;
  followed by one record per list sentinel.
* ``pb_mt``, ``pb_skip``: per pageblock, its migratetype and compaction's skip bit.
* ``zone``: int64 scalars of ``struct zone`` and of the machine (clock, ...), then
  ``free_area[].nr_free``, the vmstat counters, the time breakdown, the cost constants, the
  per-CPU pcp counts and the per-CPU LRU pagevecs (offsets below; vmstat.py's are absolute).
* ``cma_bitmap``: one byte per bit of ``cma->bitmap``.
* ``events``: the time-ordered queue of what the rest of the machine does (background.py).
* ``obj_pfn``: for each background object (an allocation of the workload), its current pfn;
  for a page-cache object whose page reclaim evicted, its shadow entry (workingset.py).

Lists are the kernel's ``struct list_head`` rings: the link fields hold one slot per page
frame followed by one sentinel slot per list (free lists, then pcp lists, then the LRU lists),
so unlinking a page needs no knowledge of which list it is on, exactly as ``list_del()``. As
``page->lru`` in the kernel, one pair of links serves the buddy, pcp and LRU lists: a page is
on at most one of them.

Memory per simulated page: 28 bytes (``bytes_per_page``); the budget is 32.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .constants import (
    MAX_ORDER,
    MIGRATE_PCPTYPES,
    MIGRATE_TYPES,
    NR_COSTS,
    NR_LRU_LISTS,
    NR_TIME_CATEGORIES,
)
from .vmstat import NR_VMSTAT_ITEMS, VMSTAT_BASE

PAGE_DTYPE = np.dtype(
    [
        ("next", np.int32),  # list links: free lists and pcp lists
        ("prev", np.int32),
        ("owner", np.int32),  # allocation/object id set by the allocating caller, -1 if none
        ("flags", np.uint16),  # PG_* bits (constants.py)
        ("order", np.int8),  # buddy order (valid on PG_buddy pages) / allocation order on heads
        ("pcpmt", np.int8),  # "pcppage migratetype" (page->index in the kernel)
        ("t_io", np.uint32),  # us: end of writeback (PG_writeback) or of a read lock (PG_locked)
        ("t_ref", np.uint32),  # us: end of an extra reference (pin, fork/exit walk)
        ("mapcount", np.uint8),  # CPUs whose TLBs may cache a mapping of the page (0: unmapped)
        ("refkind", np.uint8),  # REF_* kind of the extra reference until t_ref
        ("lru_flags", np.uint8),  # LRU_PG_active, LRU_PG_referenced (constants.py)
    ],
    align=True,
)

# A background operation: at ``time`` (ns) CPU ``cpu`` does ``kind`` to object ``obj``.
EVENT_DTYPE = np.dtype(
    [
        ("time", np.int64),
        ("obj", np.int32),
        ("arg", np.int32),  # gfp (EV_ALLOC), duration in us (EV_PIN/EV_WRITEBACK/...), ...
        ("kind", np.uint8),
        ("cpu", np.uint8),
        ("order", np.uint8),
        ("pkind", np.uint8),  # page kind of an allocation (background.PK_*)
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
Z_CLOCK = 21  # the virtual clock, ns
Z_BUSY_CPUS = 22  # CPUs running the workload (drain waits depend on it)
Z_EV_HEAD = 23  # next background event to run (index into events)
Z_EV_TAIL = 24  # number of valid events
Z_PAGEVEC = 25  # offset of the per-CPU pagevecs in this array
Z_NR_OBJ = 26  # size of obj_pfn in use
Z_SWAP = 27  # 1 if anonymous memory can be swapped (reclaim may take anon pages)
Z_IN_BG = 28  # 1 while background events run (they cost the calling task no time)
Z_KSWAPD_PRIORITY = 29  # balance_pgdat's sc.priority while kswapd is awake
Z_KSWAPD_ACTIVE = 30  # 0: kswapd sleeps; 1: awake
Z_KSWAPD_LAST = 31  # kswapd's own clock: up to when its CPU has done its passes (ns)
# compaction state of struct zone (mm/compaction.c)
Z_COMPACT_CACHED_MIGRATE = 32  # compact_cached_migrate_pfn[0] (async), [1] (sync) at 33
Z_COMPACT_CACHED_FREE = 34
Z_COMPACT_CONSIDERED = 35
Z_COMPACT_DEFER_SHIFT = 36
Z_COMPACT_ORDER_FAILED = 37
Z_COMPACT_BLOCKSKIP_FLUSH = 38
Z_RECLAIM_DRY_HEAD = 39  # a direct reclaim freed nothing at this background event ...
Z_RECLAIM_DRY_CLOCK = 40  # ... and this clock: the same reclaim now would free nothing too
Z_RECLAIM_DRY_COST = 41  # ... and what that reclaim cost (ns)
Z_KSWAPD_BOOST_RECLAIM = 42  # balance_pgdat's nr_boost_reclaim: boost pages still to reclaim
Z_KSWAPD_RECLAIMED = 43  # pages kswapd reclaimed since balance_pgdat (re)started
Z_KSWAPD_FAILURES = 44  # pgdat->kswapd_failures
Z_ABLATE = 45  # kernel mechanisms switched off for an ablation study (constants.ABLATE_*)
Z_NONRESIDENT_AGE = 46  # lruvec->nonresident_age (workingset.py)
Z_REFAULTS_FILE = 47  # lruvec->refaults[1]: WORKINGSET_ACTIVATE_FILE at the last snapshot
# the calling task's capture_control while it compacts directly (compaction.py)
Z_CAPTURE_ORDER = 48  # capc->cc->order, or -1: no capture_control
Z_CAPTURE_PFN = 49  # capc->page: the captured block, or -1
# kcompactd (kcompactd.py)
Z_KCOMPACTD_NEXT = 50  # when kcompactd's wait times out next (ns)
Z_PROACTIVE_DEFER = 51  # kcompactd's proactive_defer: timeouts still to skip
Z_COMPACTION_PROACTIVENESS = 52  # sysctl vm.compaction_proactiveness
Z_COMPACT_INIT_FREE = 53  # zone->compact_init_free_pfn (0 until __reset_isolation_suitable)
# the running compaction's compact_control (one compaction at a time in the model)
Z_CC_FREE_PFN = 54  # cc->free_pfn: the free scanner (the zone's cached position is separate)
Z_CC_FAST_SEARCH_FAIL = 55  # cc->fast_search_fail
Z_CC_SEARCH_ORDER = 56  # cc->search_order
Z_CC_FAST_START_PFN = 57  # cc->fast_start_pfn (0: unset; ULONG_MAX in the kernel: -1 here)
Z_LRU_DISABLE_COUNT = 58  # lru_disable_count (mm/swap.c, from v5.13): lru_cache_disable() calls
NR_ZONE_FIELDS = 59
Z_NR_FREE = 59  # free_area[order].nr_free, MAX_ORDER entries
assert Z_NR_FREE >= NR_ZONE_FIELDS and VMSTAT_BASE == Z_NR_FREE + MAX_ORDER
Z_TIME = VMSTAT_BASE + NR_VMSTAT_ITEMS  # ns spent per time category (constants.T_*)
Z_COST = Z_TIME + NR_TIME_CATEGORIES  # cost constants (constants.C_*)
COMPACT_CLUSTER_MAX = 32  # include/linux/swap.h SWAP_CLUSTER_MAX
Z_MIGRATE_LIST = Z_COST + NR_COSTS  # cc->migratepages: count, then up to 32 pfns
NR_FREEPAGE_BLOCKS = 64
Z_FREEPAGES = Z_MIGRATE_LIST + 1 + COMPACT_CLUSTER_MAX  # cc->freepages: count, (pfn, order)*
Z_PCP_COUNT = Z_FREEPAGES + 1 + 2 * NR_FREEPAGE_BLOCKS  # pcp counts per CPU, then pagevecs
PAGEVEC_SIZE = 15  # include/linux/pagevec.h
PAGEVEC_SLOTS = PAGEVEC_SIZE + 1  # count, then the pfns

ZONE_BOOSTED_WATERMARK = 1

# Sentinel slots: free_list[mt][order], then pcp[cpu][type], then lruvec.lists[lru].
NR_FREE_LISTS = MIGRATE_TYPES * MAX_ORDER


class MachineState(NamedTuple):
    """One zone of the simulated machine. Every field is a numpy array (mutable in place).

    The properties are Python-side views for tests and reports; compiled code indexes the
    arrays directly.
    """

    page: np.ndarray  # PAGE_DTYPE[nr_pages + nr_lists]
    pb_mt: np.ndarray  # int8[nr_pageblocks]: pageblock migratetype
    pb_skip: np.ndarray  # uint8[nr_pageblocks]: compaction's PB_migrate_skip
    zone: np.ndarray  # int64[Z_PCP_COUNT + nr_cpus * (1 + PAGEVEC_SLOTS)]
    cma_bitmap: np.ndarray  # uint8[bits]: one byte per bit of cma->bitmap
    events: np.ndarray  # EVENT_DTYPE[capacity]: background operations, time-ordered
    obj_pfn: np.ndarray  # int32[objects]: each object's pfn; -1 none; below: a shadow entry

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
        return self.zone[Z_PCP_COUNT : Z_PCP_COUNT + int(self.zone[Z_NR_CPUS])]

    @property
    def time_ns(self) -> np.ndarray:
        """Time spent per category (constants.TIME_CATEGORY_NAMES), ns."""
        return self.zone[Z_TIME : Z_TIME + NR_TIME_CATEGORIES]

    @property
    def clock(self) -> int:
        return int(self.zone[Z_CLOCK])


def nr_lists(nr_cpus: int) -> int:
    """Number of sentinel slots: every free list, every pcp list and the LRU lists."""
    return NR_FREE_LISTS + nr_cpus * MIGRATE_PCPTYPES + NR_LRU_LISTS


def allocate_state(
    nr_pages: int,
    pageblock_order: int,
    nr_cpus: int,
    cma_bits: int,
    event_capacity: int = 1,
    nr_objects: int = 1,
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
        pb_skip=np.zeros(nr_pages >> pageblock_order, dtype=np.uint8),
        zone=np.zeros(Z_PCP_COUNT + nr_cpus * (1 + PAGEVEC_SLOTS), dtype=np.int64),
        cma_bitmap=np.zeros(max(cma_bits, 1), dtype=np.uint8),
        events=np.zeros(max(event_capacity, 1), dtype=EVENT_DTYPE),
        obj_pfn=np.full(max(nr_objects, 1), -1, dtype=np.int32),
    )
    state.zone[Z_NR_PAGES] = nr_pages
    state.zone[Z_PAGEBLOCK_ORDER] = pageblock_order
    state.zone[Z_NR_CPUS] = nr_cpus
    state.zone[Z_PAGEVEC] = Z_PCP_COUNT + nr_cpus
    state.zone[Z_NR_OBJ] = state.obj_pfn.shape[0]
    state.zone[Z_CAPTURE_ORDER] = -1
    state.zone[Z_CAPTURE_PFN] = -1
    return state


def bytes_per_page(state: MachineState) -> float:
    """Bytes of machine state per simulated page frame (the workload's queues excluded)."""
    total = sum(
        a.nbytes for a in (state.page, state.pb_mt, state.pb_skip, state.zone, state.cma_bitmap)
    )
    return total / state.nr_pages


def copy_state(state: MachineState) -> MachineState:
    """Copy (used to start paired trials from one warmed-up machine). The background event
    queue is shared, not copied: nothing writes it once the workload is installed (the
    queue's head lives in ``zone``), and at the seed's size it is most of the bytes."""
    return state._replace(**{f: getattr(state, f).copy() for f in state._fields if f != "events"})
