"""Kernel constants, as in Linux v5.9 (x86-64, 4 KiB pages) unless a docstring says otherwise.

Module-level integers are compile-time constants for numba, so every kernel that uses them
is specialised on them. Values that differ between configurations (``pageblock_order``,
the pcp ``batch``/``high``) are *not* here: they live in the zone array of the machine state.

Sources: include/linux/mmzone.h, include/linux/gfp.h, mm/internal.h, include/linux/vmstat.h
(v5.9); see ``docs/model.md#constants`` for the behaviour they drive.
"""

PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT

# include/linux/mmzone.h: MAX_ORDER = 11 (CONFIG_FORCE_MAX_ZONEORDER default), orders 0..10.
MAX_ORDER = 11
MAX_ORDER_NR_PAGES = 1 << (MAX_ORDER - 1)
# include/linux/mmzone.h
PAGE_ALLOC_COSTLY_ORDER = 3

# enum migratetype (v5.9, CONFIG_CMA=y, CONFIG_MEMORY_ISOLATION=y)
MIGRATE_UNMOVABLE = 0
MIGRATE_MOVABLE = 1
MIGRATE_RECLAIMABLE = 2
MIGRATE_PCPTYPES = 3
MIGRATE_HIGHATOMIC = MIGRATE_PCPTYPES
MIGRATE_CMA = 4
MIGRATE_ISOLATE = 5
MIGRATE_TYPES = 6

# Kernel-model versions as 100 * major + minor (the value of the state's ``Z_KERNEL``), and
# the releases that changed a step the model follows.
KERNEL_V5_9 = 509  # next-20200813, the seed's kernel
KERNEL_V5_10 = 510  # FPI_TO_TAIL: freed boot memory and isolated pages, moved pages to the tail
KERNEL_V5_11 = 511  # alloc_contig_range drains the pcp lists once per call, not per pageblock
KERNEL_V5_13 = 513  # __alloc_contig_migrate_range stops at the first -ENOMEM of migrate_pages,
# and runs with the LRU pagevecs disabled (lru_cache_disable)
KERNEL_V5_19 = 519  # alloc_contig_range isolates pageblock-aligned ranges, not MAX_ORDER ones
KERNEL_V6_1 = 601
# the models ``machine.kernel`` names
KERNEL_VERSIONS = {"5.9": KERNEL_V5_9, "5.10": KERNEL_V5_10, "6.1": KERNEL_V6_1}

MIGRATETYPE_NAMES = ("Unmovable", "Movable", "Reclaimable", "HighAtomic", "CMA", "Isolate")

# mm/page_alloc.c fallbacks[] (v5.9): the order in which other types' free lists are tried.
# CMA and ISOLATE never serve as fallback sources (their rows are empty and they never appear).
# -1 terminates a row (the kernel uses MIGRATE_TYPES).
FALLBACKS = (
    (MIGRATE_RECLAIMABLE, MIGRATE_MOVABLE, -1),  # UNMOVABLE
    (MIGRATE_RECLAIMABLE, MIGRATE_UNMOVABLE, -1),  # MOVABLE
    (MIGRATE_UNMOVABLE, MIGRATE_MOVABLE, -1),  # RECLAIMABLE
)

# ---------------------------------------------------------------------------------------------
# gfp bits, include/linux/gfp.h (v5.9 values, so that trace gfp_flags map one to one)
___GFP_DMA = 0x01
___GFP_HIGHMEM = 0x02
___GFP_DMA32 = 0x04
___GFP_MOVABLE = 0x08
___GFP_RECLAIMABLE = 0x10
___GFP_HIGH = 0x20
___GFP_IO = 0x40
___GFP_FS = 0x80
___GFP_ZERO = 0x100
___GFP_ATOMIC = 0x200
___GFP_DIRECT_RECLAIM = 0x400
___GFP_KSWAPD_RECLAIM = 0x800
___GFP_WRITE = 0x1000
___GFP_NOWARN = 0x2000
___GFP_RETRY_MAYFAIL = 0x4000
___GFP_NOFAIL = 0x8000
___GFP_NORETRY = 0x10000
___GFP_MEMALLOC = 0x20000
___GFP_COMP = 0x40000
___GFP_NOMEMALLOC = 0x80000
___GFP_HARDWALL = 0x100000
___GFP_THISNODE = 0x200000
___GFP_ACCOUNT = 0x400000

GFP_MOVABLE_MASK = ___GFP_RECLAIMABLE | ___GFP_MOVABLE
GFP_MOVABLE_SHIFT = 3
__GFP_RECLAIM = ___GFP_DIRECT_RECLAIM | ___GFP_KSWAPD_RECLAIM

GFP_ATOMIC = ___GFP_HIGH | ___GFP_ATOMIC | ___GFP_KSWAPD_RECLAIM
GFP_KERNEL = __GFP_RECLAIM | ___GFP_IO | ___GFP_FS
GFP_NOWAIT = ___GFP_KSWAPD_RECLAIM
GFP_NOIO = __GFP_RECLAIM
GFP_NOFS = __GFP_RECLAIM | ___GFP_IO
GFP_USER = __GFP_RECLAIM | ___GFP_IO | ___GFP_FS | ___GFP_HARDWALL
GFP_HIGHUSER = GFP_USER | ___GFP_HIGHMEM
GFP_HIGHUSER_MOVABLE = GFP_HIGHUSER | ___GFP_MOVABLE
GFP_KERNEL_RECLAIMABLE = GFP_KERNEL | ___GFP_RECLAIMABLE

GFP_FLAG_NAMES = {
    "__GFP_DMA": ___GFP_DMA,
    "__GFP_HIGHMEM": ___GFP_HIGHMEM,
    "__GFP_DMA32": ___GFP_DMA32,
    "__GFP_MOVABLE": ___GFP_MOVABLE,
    "__GFP_RECLAIMABLE": ___GFP_RECLAIMABLE,
    "__GFP_HIGH": ___GFP_HIGH,
    "__GFP_IO": ___GFP_IO,
    "__GFP_FS": ___GFP_FS,
    "__GFP_ZERO": ___GFP_ZERO,
    "__GFP_ATOMIC": ___GFP_ATOMIC,
    "__GFP_DIRECT_RECLAIM": ___GFP_DIRECT_RECLAIM,
    "__GFP_KSWAPD_RECLAIM": ___GFP_KSWAPD_RECLAIM,
    "__GFP_RECLAIM": __GFP_RECLAIM,
    "__GFP_WRITE": ___GFP_WRITE,
    "__GFP_NOWARN": ___GFP_NOWARN,
    "__GFP_RETRY_MAYFAIL": ___GFP_RETRY_MAYFAIL,
    "__GFP_NOFAIL": ___GFP_NOFAIL,
    "__GFP_NORETRY": ___GFP_NORETRY,
    "__GFP_MEMALLOC": ___GFP_MEMALLOC,
    "__GFP_COMP": ___GFP_COMP,
    "__GFP_NOMEMALLOC": ___GFP_NOMEMALLOC,
    "__GFP_HARDWALL": ___GFP_HARDWALL,
    "__GFP_THISNODE": ___GFP_THISNODE,
    "__GFP_ACCOUNT": ___GFP_ACCOUNT,
    "GFP_ATOMIC": GFP_ATOMIC,
    "GFP_KERNEL": GFP_KERNEL,
    "GFP_KERNEL_ACCOUNT": GFP_KERNEL | ___GFP_ACCOUNT,
    "GFP_NOWAIT": GFP_NOWAIT,
    "GFP_NOIO": GFP_NOIO,
    "GFP_NOFS": GFP_NOFS,
    "GFP_USER": GFP_USER,
    "GFP_HIGHUSER": GFP_HIGHUSER,
    "GFP_HIGHUSER_MOVABLE": GFP_HIGHUSER_MOVABLE,
    "GFP_TRANSHUGE_LIGHT": GFP_HIGHUSER_MOVABLE | ___GFP_COMP | ___GFP_NOMEMALLOC | ___GFP_NOWARN,
}

# ---------------------------------------------------------------------------------------------
# alloc_flags, mm/internal.h (v5.9)
ALLOC_WMARK_MIN = 0x00
ALLOC_WMARK_LOW = 0x01
ALLOC_WMARK_HIGH = 0x02
ALLOC_NO_WATERMARKS = 0x04
ALLOC_WMARK_MASK = ALLOC_NO_WATERMARKS - 1
ALLOC_OOM = 0x08
ALLOC_HARDER = 0x10
ALLOC_HIGH = 0x20
ALLOC_CPUSET = 0x40
ALLOC_CMA = 0x80
ALLOC_NOFRAGMENT = 0x100
ALLOC_KSWAPD = 0x800

# Watermark indices (enum zone_watermarks)
WMARK_MIN = 0
WMARK_LOW = 1
WMARK_HIGH = 2

# ---------------------------------------------------------------------------------------------
# Page flags of the simulated struct page (a uint16 per page). PG_buddy is the kernel's
# PageBuddy page type; PG_pcp is simulator bookkeeping for "sits on a per-CPU list" (the kernel
# knows it only as refcount 0 and not PageBuddy). The others mirror include/linux/page-flags.h.
PG_buddy = 1 << 0
PG_pcp = 1 << 1
PG_lru = 1 << 2
PG_movable = 1 << 3  # __PageMovable: non-LRU movable (zsmalloc, balloon)
PG_reserved = 1 << 4
PG_slab = 1 << 5
PG_anon = 1 << 6
PG_dirty = 1 << 7
PG_writeback = 1 << 8
PG_locked = 1 << 9
PG_head = 1 << 10  # first page of an allocation of order > 0
PG_pagetable = 1 << 11
PG_private = 1 << 12  # buffer heads attached (file pages)
PG_nomigratepage = 1 << 13  # sim: its mapping has no ->migratepage (fallback_migrate_page)
PG_isolated = 1 << 14  # sim: off the LRU, on a migration list (isolate_lru_page)
PG_pagevec = 1 << 15  # sim: in a per-CPU LRU-add pagevec (not yet PageLRU, extra reference)

PAGE_FLAG_NAMES = {
    "buddy": PG_buddy,
    "pcp": PG_pcp,
    "lru": PG_lru,
    "movable": PG_movable,
    "reserved": PG_reserved,
    "slab": PG_slab,
    "anon": PG_anon,
    "dirty": PG_dirty,
    "writeback": PG_writeback,
    "locked": PG_locked,
    "head": PG_head,
    "pagetable": PG_pagetable,
    "private": PG_private,
    "nomigratepage": PG_nomigratepage,
    "isolated": PG_isolated,
    "pagevec": PG_pagevec,
}

# Page-aging flags, kept in the page record's own byte ``lru_flags`` (the PG_* word is full):
# include/linux/page-flags.h PG_active and PG_referenced.
LRU_PG_active = 1 << 0
LRU_PG_referenced = 1 << 1

# enum lru_list (include/linux/mmzone.h, v5.9): the node's LRU lists (one node, one lruvec,
# no memory cgroups). LRU_UNEVICTABLE is not modelled: nothing the workload does is mlocked.
LRU_BASE = 0
LRU_ACTIVE = 1
LRU_FILE = 2
LRU_INACTIVE_ANON = LRU_BASE
LRU_ACTIVE_ANON = LRU_BASE + LRU_ACTIVE
LRU_INACTIVE_FILE = LRU_BASE + LRU_FILE
LRU_ACTIVE_FILE = LRU_BASE + LRU_FILE + LRU_ACTIVE
NR_LRU_LISTS = 4
LRU_NAMES = ("inactive_anon", "active_anon", "inactive_file", "active_file")

# Kinds of extra reference a page can hold until its t_ref (page->_refcount above what the
# mapping and the mappers account for): why migration's refcount check fails on it.
REF_NONE = 0
REF_GUP = 1  # short-term get_user_pages pin (O_DIRECT, futex, ...)
REF_FORK = 2  # copy_page_range during fork
REF_EXIT = 3  # zap_pte_range during exit/munmap
REF_SPECULATIVE = 4  # get_page_unless_zero by a concurrent walker
# jbd2 journal_head on a buffer of a block-device (ext4 metadata) page: get_bh in
# jbd2_journal_add_journal_head raises b_count until the buffer leaves the checkpoint list, and
# buffer_migrate_page_norefs (the block device's ->migratepage, v5.9/5.10 and 6.1) returns
# -EAGAIN while any buffer of the page has b_count > 0
REF_JOURNAL = 5
REF_NAMES = ("none", "gup", "fork", "exit", "speculative", "journal")

# Kernel mechanisms an ablation study can switch off (bits of the state's ``Z_ABLATE``): how
# much of a result each one carries. Never set in an ordinary trial.
ABLATE_PAGEVEC = 1  # lru_cache_add puts a page straight on the LRU (no pagevec residency)
ABLATE_KSWAPD = 2  # kswapd is never woken (only direct reclaim frees memory)
ABLATE_COMPACTION = 4  # the slow path skips direct compaction (COMPACT_SKIPPED)

# kcompactd's wait between fragmentation-score checks (mm/compaction.c, v5.9)
HPAGE_FRAG_CHECK_INTERVAL_NS = 500 * 1000 * 1000  # HPAGE_FRAG_CHECK_INTERVAL_MSEC

# Errnos as the kernel returns them (negative).
EINTR = 4
EAGAIN = 11
ENOMEM = 12
EBUSY = 16
EINVAL = 22
ERRNO_NAMES = {
    0: "0",
    -EINTR: "-EINTR",
    -EAGAIN: "-EAGAIN",
    -ENOMEM: "-ENOMEM",
    -EBUSY: "-EBUSY",
    -EINVAL: "-EINVAL",
}

# enum migrate_mode
MIGRATE_ASYNC = 0
MIGRATE_SYNC_LIGHT = 1
MIGRATE_SYNC = 2

# Time categories of the breakdown every time-consuming call reports.
T_ISOLATE = 0  # start/undo_isolate_page_range, has_unmovable_pages
T_DRAIN_PCP = 1  # drain_all_pages
T_DRAIN_LRU = 2  # lru_add_drain_all
T_SCAN = 3  # isolate_migratepages_range, test_pages_isolated, bitmap search, harvesting
T_MIGRATE = 4  # migrate_pages: target allocation, unmap, TLB shootdown, copy, remap
T_DROP_CLEAN = 5  # reclaim_clean_pages_from_list
T_WAIT_WRITEBACK = 6  # wait_on_page_writeback
T_WAIT_LOCK = 7  # lock_page
T_COMPACT = 8  # compaction scanners
T_RECLAIM = 9  # direct reclaim
T_ALLOC = 10  # buddy allocator work (split, free, merge)
T_MUTEX = 11  # waiting for cma_mutex / other serialisation
NR_TIME_CATEGORIES = 12
TIME_CATEGORY_NAMES = (
    "isolate",
    "drain_pcp",
    "drain_lru",
    "scan",
    "migrate",
    "drop_clean",
    "wait_writeback",
    "wait_lock",
    "compact",
    "reclaim",
    "alloc",
    "mutex",
)
# Time categories in which the calling task sleeps, its CPU free for the workload: waits on
# writeback, page locks and mutexes, and the drains, which are mostly flush_work() waiting
# for per-CPU kworkers (their own few microseconds of CPU are not counted).
SLEEP_CATEGORIES = ("wait_writeback", "wait_lock", "mutex", "drain_pcp", "drain_lru")

# No page / empty list / failed allocation.
NO_PAGE = -1

# Cost-model constants (params/costs.yaml), stored at MachineState.zone[Z_COST + C_*].
COST_NAMES = (
    "migrate_page_ns",
    "unmap_page_ns",
    "tlb_flush_per_cpu_ns",
    "drop_clean_page_ns",
    "drain_base_ns",
    "drain_busy_cpu_wait_ns",
    "isolate_pageblock_ns",
    "scan_per_pfn_ns",
    "isolate_lru_page_ns",
    "harvest_per_page_ns",
    "free_page_ns",
    "lock_wakeup_ns",
    "compaction_scan_per_pfn_ns",
    "reclaim_page_ns",
    "migrate_attempt_ns",
    "writeout_ns",
    "alloc_page_ns",
)
C_MIGRATE_PAGE = 0
C_UNMAP_PAGE = 1
C_TLB_FLUSH_PER_CPU = 2
C_DROP_CLEAN_PAGE = 3
C_DRAIN_BASE = 4
C_DRAIN_BUSY_CPU_WAIT = 5
C_ISOLATE_PAGEBLOCK = 6
C_SCAN_PER_PFN = 7
C_ISOLATE_LRU_PAGE = 8
C_HARVEST_PER_PAGE = 9
C_FREE_PAGE = 10
C_LOCK_WAKEUP = 11
C_COMPACTION_SCAN_PER_PFN = 12
C_RECLAIM_PAGE = 13
C_MIGRATE_ATTEMPT = 14
C_WRITEOUT = 15
C_ALLOC_PAGE = 16
NR_COSTS = len(COST_NAMES)
