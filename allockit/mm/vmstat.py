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
    "sim_kswapd_wake",  # wakeup_kswapd() requests (kswapd itself comes with reclaim)
)

VMSTAT_BASE = 35  # first counter's offset in MachineState.zone (state.py checks the layout)

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

NR_VMSTAT_ITEMS = len(VMSTAT_NAMES)
