"""Counters of the simulated machine, named after ``/proc/vmstat`` (v5.9).

The counter array is ``MachineState.vmstat`` (int64). Indices are module constants so numba
kernels compile them in. Names starting with ``sim_`` have no /proc/vmstat line in v5.9: they
count a kernel event that is visible only as a tracepoint (the name says which) or a step the
simulator reports separately. Add a counter by appending to ``VMSTAT_NAMES`` *and* adding its
index constant below (a test checks the two agree).
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
    "sim_kswapd_wake",  # wakeup_kswapd() requests (kswapd itself comes with reclaim)
)

NR_FREE_PAGES = 0
NR_FREE_CMA_PAGES = 1
PGALLOC = 2
PGFREE = 3
PGALLOC_CMA = 4
SIM_EXTFRAG = 5
SIM_PAGEBLOCK_STEAL = 6
SIM_PCPU_DRAIN = 7
SIM_DRAIN_ALL_PAGES = 8
SIM_WATERMARK_BOOST = 9
SIM_HIGHATOMIC_RESERVE = 10
SIM_ALLOC_FAIL = 11
SIM_WMARK_FAIL = 12
SIM_KSWAPD_WAKE = 13

NR_VMSTAT_ITEMS = len(VMSTAT_NAMES)
