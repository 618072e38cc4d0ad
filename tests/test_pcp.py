"""Per-CPU lists: refill, free, overflow, CMA pages on the MOVABLE list, isolation, drains."""

from conftest import bare_state

from allockit.mm.buddy import free_one_page
from allockit.mm.constants import (
    ALLOC_CMA,
    MIGRATE_CMA,
    MIGRATE_ISOLATE,
    MIGRATE_MOVABLE,
    MIGRATE_RECLAIMABLE,
    MIGRATE_UNMOVABLE,
)
from allockit.mm.introspect import free_list, pcp_list
from allockit.mm.invariants import check_invariants
from allockit.mm.page_alloc import rmqueue
from allockit.mm.pcp import drain_all_pages, free_pcppages_bulk, free_unref_page
from allockit.mm.state import Z_NR_ISOLATE_PAGEBLOCK, Z_PCP_BATCH, Z_PCP_HIGH
from allockit.mm.vmstat import NR_FREE_CMA_PAGES, NR_FREE_PAGES


def test_refill_takes_one_batch_to_the_tail_in_split_order():
    s = bare_state()
    free_one_page(s, 0, 3, MIGRATE_UNMOVABLE)
    pfn = rmqueue(s, 0, 0, MIGRATE_UNMOVABLE, 0)
    # batch 4: pages 0,1,2,3 queued in the order __rmqueue returned them; head handed out
    assert pfn == 0
    assert pcp_list(s, 0, MIGRATE_UNMOVABLE) == [1, 2, 3]
    assert s.pcp_count[0] == 3
    assert s.zone[NR_FREE_PAGES] == 4  # 8 free - batch of 4 on the pcp list
    check_invariants(s)


def test_free_goes_to_head_and_overflow_drains_batch_from_tails():
    s = bare_state()  # batch 4, high 8
    for pfn in range(0, 8, 2):  # 4 pages to the MOVABLE list
        free_unref_page(s, 0, pfn)
    s.pb_mt[1] = MIGRATE_RECLAIMABLE
    for pfn in range(512, 518, 2):  # 3 pages to the RECLAIMABLE list
        free_unref_page(s, 0, pfn)
    assert pcp_list(s, 0, MIGRATE_MOVABLE) == [6, 4, 2, 0]
    assert s.pcp_count[0] == 7
    free_unref_page(s, 0, 8)  # count reaches high = 8: free_pcppages_bulk(batch = 4)
    # Round robin from MOVABLE (index 1), one page per turn (batch_free 1): MOVABLE's tail 0,
    # RECLAIMABLE's tail 512; UNMOVABLE is empty, so batch_free grows to 2 and MOVABLE gives
    # two more (2, 4).
    assert s.pcp_count[0] == 4
    assert pcp_list(s, 0, MIGRATE_MOVABLE) == [8, 6]
    assert pcp_list(s, 0, MIGRATE_RECLAIMABLE) == [516, 514]
    assert sorted(free_list(s, MIGRATE_MOVABLE, 0)) == [0, 2, 4]
    assert free_list(s, MIGRATE_RECLAIMABLE, 0) == [512]
    check_invariants(s)


def test_free_pcppages_bulk_single_list_frees_from_the_tail():
    s = bare_state()
    for pfn in (10, 20, 30):
        free_unref_page(s, 1, pfn)
    free_pcppages_bulk(s, 1, 2)
    assert pcp_list(s, 1, MIGRATE_MOVABLE) == [30]
    assert sorted(free_list(s, MIGRATE_MOVABLE, 0)) == [10, 20]


def test_cma_page_rides_the_movable_list_and_returns_to_cma():
    s = bare_state(mt=MIGRATE_CMA)
    free_unref_page(s, 0, 100)
    assert pcp_list(s, 0, MIGRATE_MOVABLE) == [100]
    assert s.pcpmt[100] == MIGRATE_CMA
    assert s.zone[NR_FREE_CMA_PAGES] == 0  # on a pcp list: not free for the kernel
    # any movable order-0 allocation with ALLOC_CMA on that CPU gets it
    assert rmqueue(s, 0, 0, MIGRATE_MOVABLE, ALLOC_CMA) == 100
    free_unref_page(s, 0, 100)
    drain_all_pages(s)
    assert free_list(s, MIGRATE_CMA, 0) == [100]
    assert s.zone[NR_FREE_CMA_PAGES] == 1
    check_invariants(s)


def test_isolated_pageblock_bypasses_pcp_and_drain_rereads_type():
    s = bare_state()
    free_unref_page(s, 0, 5)  # on the pcp list while its block is still MOVABLE
    s.pb_mt[0] = MIGRATE_ISOLATE
    s.zone[Z_NR_ISOLATE_PAGEBLOCK] = 1
    free_unref_page(s, 0, 7)  # ISOLATE: straight to the buddy's ISOLATE list
    assert free_list(s, MIGRATE_ISOLATE, 0) == [7]
    assert s.pcp_count[0] == 1
    drain_all_pages(s)  # the pcp page lands on the ISOLATE list too (type re-read)
    assert sorted(free_list(s, MIGRATE_ISOLATE, 0)) == [5, 7]
    assert s.zone[NR_FREE_PAGES] == 0
    check_invariants(s)


def test_drain_all_pages_counts_busy_cpus():
    s = bare_state(nr_cpus=4)
    s.zone[Z_PCP_HIGH] = 100
    s.zone[Z_PCP_BATCH] = 10
    free_unref_page(s, 0, 1)
    free_unref_page(s, 2, 3)
    assert drain_all_pages(s) == 2
    assert drain_all_pages(s) == 0
    assert list(s.pcp_count) == [0, 0, 0, 0]
    assert s.zone[NR_FREE_PAGES] == 2
