"""Counters of the simulated machine, named after ``/proc/vmstat`` (v5.9).

The counters live in ``MachineState.zone`` from offset ``VMSTAT_BASE`` on; the constants
below are absolute offsets into that array (``s.zone[NR_FREE_PAGES]``), so numba kernels
compile them in. ``MachineState.vmstat`` is the Python-side view of the counters.

Names starting with ``sim_`` have no /proc/vmstat line in v5.9: they count a kernel event
that is visible only as a tracepoint (the name says which) or a step the simulator reports
separately. Add a counter by appending to ``VMSTAT_NAMES`` *and* adding its offset constant
below (a test checks the two agree).
"""

VMSTAT_NAMES = (
    # zone state items (include/linux/mmzone.h enum zone_stat_item)
    "nr_free_pages",
    "nr_free_cma",
    # events (include/linux/vm_event_item.h)
    "pgalloc",  # pgalloc_<zone>: pages allocated (counted in 2^order units)
    "pgfree",
    "pgalloc_cma",  # sim: pages handed out that lie in MIGRATE_CMA pageblocks
    "sim_mm_page_alloc_extfrag",  # tracepoint kmem:mm_page_alloc_extfrag (each fallback)
    "sim_pageblock_steal",  # fallbacks that re-typed a whole pageblock
    "sim_mm_page_pcpu_drain",  # tracepoint kmem:mm_page_pcpu_drain (pages pcp -> buddy)
    "sim_drain_all_pages",  # drain_all_pages() calls
    "sim_watermark_boost",  # boost_watermark() raised the boost
    "sim_highatomic_reserve",  # reserve_highatomic_pageblock() reserved a block
    "sim_alloc_fail",  # get_page_from_freelist found nothing (fast + min-wmark retry)
    "sim_wmark_fail",  # zone_watermark_ok() refused
    "sim_kswapd_wake",  # wakeup_kswapd() requests
    # background (workload) operations, background.py
    "sim_bg_events",
    "sim_bg_skipped",  # operations on an object that was reclaimed or never allocated
    "sim_bg_alloc_fail",
    # migration (mm/migrate.c)
    "pgmigrate_success",
    "pgmigrate_fail",
    "sim_migrate_eagain",  # per-page -EAGAIN results (retried in a later pass)
    "sim_migrate_ebusy",  # per-page -EBUSY results (non-SYNC modes: writeback, no migratepage)
    "sim_migrate_enomem",  # target allocation failures
    "sim_migrate_freed",  # page freed meanwhile (refcount 1): nothing to migrate
    "sim_writeback_wait",  # wait_on_page_writeback in a forced SYNC pass
    "sim_lock_wait",  # lock_page slept
    "sim_reclaim_clean",  # reclaim_clean_pages_from_list: clean page cache dropped
    "sim_isolate_skip",  # isolate_migratepages: in-use pages left in place
    # isolation and contiguous allocation (mm/page_isolation.c, mm/cma.c)
    "sim_isolate_pageblock",
    "sim_isolate_fail",  # set_migratetype_isolate refused (has_unmovable_pages / isolated)
    "sim_test_isolated_fail",  # test_pages_isolated found a busy page
    # ... and what that first busy page was (pagestate.busy_page_class; the lab's census)
    "sim_busy_free",  # free but not in the buddy: on a pcp list
    "sim_busy_journal",  # ext4 metadata whose buffer jbd2 holds (REF_JOURNAL)
    "sim_busy_pinned",  # another extra reference: GUP pin, pagevec
    "sim_busy_io",  # locked for read I/O or under writeback
    "sim_busy_nolru",  # in use and off the LRU: kernel page, isolated elsewhere
    "sim_busy_other",  # on the LRU, unreferenced: migration gave up on it (ENOMEM, tries)
    "sim_lru_add_drain_all",
    "sim_alloc_contig_range",
    "sim_alloc_contig_ebusy",
    "cma_alloc_success",  # pages (v5.12+ vmstat; counted here for every model version)
    "cma_alloc_fail",
    "sim_cma_alloc_retry",  # cma_alloc slides after -EBUSY (tracepoint cma_alloc_busy_retry)
    # compaction and reclaim
    "compact_stall",
    "compact_fail",
    "compact_success",
    "compact_migrate_scanned",
    "compact_free_scanned",
    "compact_isolated",
    "compact_deferred",  # sim: compaction skipped by defer_compaction
    "allocstall",
    "pgsteal_direct",
    "pgsteal_kswapd",
    # the LRU lists (node stat items NR_LRU_BASE + lru, enum lru_list order) and their aging
    "nr_inactive_anon",
    "nr_active_anon",
    "nr_inactive_file",
    "nr_active_file",
    "pgscan_kswapd",
    "pgscan_direct",
    "pgactivate",
    "pgdeactivate",
    # refault detection (mm/workingset.c, node stat items)
    "workingset_refault_file",
    "workingset_activate_file",
    # compaction (mm/compaction.c)
    "sim_proactive_compact",  # proactive_compact_node runs (no vmstat line in v5.9)
    "sim_compact_capture",  # a direct compactor captured its block (compaction_capture)
)

VMSTAT_BASE = 70  # first counter's offset in MachineState.zone (state.py checks the layout)

NR_FREE_PAGES = VMSTAT_BASE + 0
NR_FREE_CMA_PAGES = VMSTAT_BASE + 1
PGALLOC = VMSTAT_BASE + 2
PGFREE = VMSTAT_BASE + 3
PGALLOC_CMA = VMSTAT_BASE + 4
SIM_EXTFRAG = VMSTAT_BASE + 5
SIM_PAGEBLOCK_STEAL = VMSTAT_BASE + 6
SIM_PCPU_DRAIN = VMSTAT_BASE + 7
SIM_DRAIN_ALL_PAGES = VMSTAT_BASE + 8
SIM_WATERMARK_BOOST = VMSTAT_BASE + 9
SIM_HIGHATOMIC_RESERVE = VMSTAT_BASE + 10
SIM_ALLOC_FAIL = VMSTAT_BASE + 11
SIM_WMARK_FAIL = VMSTAT_BASE + 12
SIM_KSWAPD_WAKE = VMSTAT_BASE + 13
SIM_BG_EVENTS = VMSTAT_BASE + 14
SIM_BG_SKIPPED = VMSTAT_BASE + 15
SIM_BG_ALLOC_FAIL = VMSTAT_BASE + 16
PGMIGRATE_SUCCESS = VMSTAT_BASE + 17
PGMIGRATE_FAIL = VMSTAT_BASE + 18
SIM_MIGRATE_EAGAIN = VMSTAT_BASE + 19
SIM_MIGRATE_EBUSY = VMSTAT_BASE + 20
SIM_MIGRATE_ENOMEM = VMSTAT_BASE + 21
SIM_MIGRATE_FREED = VMSTAT_BASE + 22
SIM_WRITEBACK_WAIT = VMSTAT_BASE + 23
SIM_LOCK_WAIT = VMSTAT_BASE + 24
SIM_RECLAIM_CLEAN = VMSTAT_BASE + 25
SIM_ISOLATE_SKIP = VMSTAT_BASE + 26
SIM_ISOLATE_PAGEBLOCK = VMSTAT_BASE + 27
SIM_ISOLATE_FAIL = VMSTAT_BASE + 28
SIM_TEST_ISOLATED_FAIL = VMSTAT_BASE + 29
SIM_BUSY_FREE = VMSTAT_BASE + 30
SIM_BUSY_JOURNAL = VMSTAT_BASE + 31
SIM_BUSY_PINNED = VMSTAT_BASE + 32
SIM_BUSY_IO = VMSTAT_BASE + 33
SIM_BUSY_NOLRU = VMSTAT_BASE + 34
SIM_BUSY_OTHER = VMSTAT_BASE + 35
SIM_LRU_ADD_DRAIN_ALL = VMSTAT_BASE + 36
SIM_ALLOC_CONTIG_RANGE = VMSTAT_BASE + 37
SIM_ALLOC_CONTIG_EBUSY = VMSTAT_BASE + 38
CMA_ALLOC_SUCCESS = VMSTAT_BASE + 39
CMA_ALLOC_FAIL = VMSTAT_BASE + 40
SIM_CMA_ALLOC_RETRY = VMSTAT_BASE + 41
COMPACT_STALL = VMSTAT_BASE + 42
COMPACT_FAIL = VMSTAT_BASE + 43
COMPACT_SUCCESS = VMSTAT_BASE + 44
COMPACT_MIGRATE_SCANNED = VMSTAT_BASE + 45
COMPACT_FREE_SCANNED = VMSTAT_BASE + 46
COMPACT_ISOLATED = VMSTAT_BASE + 47
COMPACT_DEFERRED = VMSTAT_BASE + 48
ALLOCSTALL = VMSTAT_BASE + 49
PGSTEAL_DIRECT = VMSTAT_BASE + 50
PGSTEAL_KSWAPD = VMSTAT_BASE + 51
NR_INACTIVE_ANON = VMSTAT_BASE + 52  # NR_LRU_BASE: the size of LRU list ``lru`` is at + lru
NR_ACTIVE_ANON = VMSTAT_BASE + 53
NR_INACTIVE_FILE = VMSTAT_BASE + 54
NR_ACTIVE_FILE = VMSTAT_BASE + 55
PGSCAN_KSWAPD = VMSTAT_BASE + 56
PGSCAN_DIRECT = VMSTAT_BASE + 57
PGACTIVATE = VMSTAT_BASE + 58
PGDEACTIVATE = VMSTAT_BASE + 59
WORKINGSET_REFAULT_FILE = VMSTAT_BASE + 60
WORKINGSET_ACTIVATE_FILE = VMSTAT_BASE + 61
SIM_PROACTIVE_COMPACT = VMSTAT_BASE + 62
SIM_COMPACT_CAPTURE = VMSTAT_BASE + 63

NR_VMSTAT_ITEMS = len(VMSTAT_NAMES)
