"""One test per step of the buddy allocator (v5.9 semantics, docs/buddy-model.md)."""

import pytest
from conftest import COSTS, bare_state, lru_pages, small_config

from allockit.mm import build_machine
from allockit.mm.buddy import (
    free_one_page,
    mod_zone_freepage_state,
    move_freepages_block,
    rmqueue_,
    rmqueue_fallback,
    rmqueue_smallest,
)
from allockit.mm.constants import (
    ALLOC_CMA,
    ALLOC_HARDER,
    ALLOC_KSWAPD,
    ALLOC_WMARK_LOW,
    GFP_ATOMIC,
    GFP_HIGHUSER_MOVABLE,
    GFP_KERNEL,
    KERNEL_V5_9,
    KERNEL_V5_10,
    MAX_ORDER,
    MIGRATE_CMA,
    MIGRATE_HIGHATOMIC,
    MIGRATE_ISOLATE,
    MIGRATE_MOVABLE,
    MIGRATE_RECLAIMABLE,
    MIGRATE_UNMOVABLE,
)
from allockit.mm.introspect import free_list, pageblock_counts
from allockit.mm.invariants import check_invariants
from allockit.mm.isolation import set_migratetype_isolate, undo_isolate_page_range
from allockit.mm.page_alloc import (
    alloc_pages,
    free_pages,
    get_page_from_freelist,
    gfp_to_alloc_flags,
    rmqueue,
    zone_watermark_ok,
)
from allockit.mm.state import (
    Z_FLAGS,
    Z_KERNEL,
    Z_NR_ISOLATE_PAGEBLOCK,
    Z_NR_RESERVED_HIGHATOMIC,
    Z_WATERMARK_BOOST,
    Z_WATERMARK_BOOST_FACTOR,
    Z_WMARK,
    ZONE_BOOSTED_WATERMARK,
)
from allockit.mm.vmstat import NR_FREE_CMA_PAGES, NR_FREE_PAGES, SIM_KSWAPD_WAKE


def take(s, order, mt, alloc_flags=0):
    """The zone->lock part of ``rmqueue``: ``__rmqueue`` plus the free-page accounting."""
    pfn = rmqueue_(s, order, mt, alloc_flags)
    if pfn >= 0:
        mod_zone_freepage_state(s, -(1 << order), s.pcpmt[pfn])
    return pfn


def test_free_merges_buddies():
    s = bare_state()
    free_one_page(s, 0, 0, MIGRATE_MOVABLE)
    free_one_page(s, 1, 0, MIGRATE_MOVABLE)
    assert free_list(s, MIGRATE_MOVABLE, 0) == []
    assert free_list(s, MIGRATE_MOVABLE, 1) == [0]
    assert s.zone[NR_FREE_PAGES] == 2
    check_invariants(s)


def test_free_goes_to_tail_when_merge_is_likely():
    s = bare_state()
    free_one_page(s, 2, 1, MIGRATE_MOVABLE)  # 2-3 free at order 1
    free_one_page(s, 8, 0, MIGRATE_MOVABLE)  # an unrelated order-0 block
    free_one_page(s, 0, 0, MIGRATE_MOVABLE)  # buddy 1 busy, but 2-3 (its order-1 buddy) free
    assert free_list(s, MIGRATE_MOVABLE, 0) == [8, 0]
    free_one_page(s, 12, 0, MIGRATE_MOVABLE)  # neither buddy free: head
    assert free_list(s, MIGRATE_MOVABLE, 0) == [12, 8, 0]
    check_invariants(s)


def test_no_tail_heuristic_at_order_9_and_above():
    s = bare_state()
    free_one_page(s, 2048, 10, MIGRATE_MOVABLE)
    free_one_page(s, 512, 9, MIGRATE_MOVABLE)  # buddy 0 busy; 1024 free at order 10
    free_one_page(s, 1536, 9, MIGRATE_MOVABLE)
    assert free_list(s, MIGRATE_MOVABLE, 9) == [1536, 512]


def test_merge_refused_across_isolate_boundary_above_pageblock_order():
    s = bare_state()
    s.pb_mt[0] = MIGRATE_ISOLATE
    s.zone[Z_NR_ISOLATE_PAGEBLOCK] = 1
    free_one_page(s, 0, 9, MIGRATE_ISOLATE)
    free_one_page(s, 512, 9, MIGRATE_MOVABLE)
    assert free_list(s, MIGRATE_ISOLATE, 9) == [0]
    assert free_list(s, MIGRATE_MOVABLE, 9) == [512]
    assert s.zone[NR_FREE_PAGES] == 512  # isolated free pages are not counted
    check_invariants(s)


def test_merge_across_normal_pageblock_types_is_allowed_in_v59():
    s = bare_state()
    s.pb_mt[0] = MIGRATE_UNMOVABLE
    free_one_page(s, 0, 9, MIGRATE_UNMOVABLE)
    free_one_page(s, 512, 9, MIGRATE_MOVABLE)
    assert free_list(s, MIGRATE_MOVABLE, 10) == [0]


def test_expand_puts_upper_halves_at_heads():
    s = bare_state()
    free_one_page(s, 1024, 10, MIGRATE_MOVABLE)
    free_one_page(s, 0, 2, MIGRATE_MOVABLE)  # occupies the order-2 head first
    pfn = rmqueue_smallest(s, 0, MIGRATE_MOVABLE)
    assert pfn == 0  # smallest order first: the order-2 block
    assert free_list(s, MIGRATE_MOVABLE, 1) == [2]
    assert free_list(s, MIGRATE_MOVABLE, 0) == [1]
    pfn = rmqueue_smallest(s, 3, MIGRATE_MOVABLE)
    assert pfn == 1024
    for k in range(3, 10):
        assert free_list(s, MIGRATE_MOVABLE, k) == [1024 + (1 << k)]
    assert s.pcpmt[pfn] == MIGRATE_MOVABLE


def test_movable_fallback_that_cannot_steal_takes_smallest_block():
    s = bare_state()
    s.pb_mt[0] = MIGRATE_UNMOVABLE
    free_one_page(s, 8, 3, MIGRATE_UNMOVABLE)
    free_one_page(s, 2, 1, MIGRATE_UNMOVABLE)
    assert rmqueue_fallback(s, 0, MIGRATE_MOVABLE, 0)
    # order 1 block moved alone (order < pageblock_order/2: no whole-block steal)
    assert free_list(s, MIGRATE_MOVABLE, 1) == [2]
    assert free_list(s, MIGRATE_UNMOVABLE, 3) == [8]
    assert s.pb_mt[0] == MIGRATE_UNMOVABLE
    assert take(s, 0, MIGRATE_MOVABLE) == 2
    check_invariants(s)


def test_unmovable_fallback_claims_pageblock_when_half_free():
    s = bare_state()
    free_one_page(s, 512, 8, MIGRATE_MOVABLE)  # exactly half of pageblock 1 free
    pfn = take(s, 0, MIGRATE_UNMOVABLE)
    assert 512 <= pfn < 768
    assert s.pb_mt[1] == MIGRATE_UNMOVABLE
    check_invariants(s)


def test_unmovable_fallback_does_not_claim_a_block_of_movable_pages():
    s = bare_state()
    free_one_page(s, 512, 7, MIGRATE_MOVABLE)  # 128 free
    lru_pages(s, 640, 1024)  # the other 384 are LRU pages: not "alike"
    pfn = take(s, 0, MIGRATE_UNMOVABLE)
    assert 512 <= pfn < 640
    assert s.pb_mt[1] == MIGRATE_MOVABLE
    # ...but its free pages were moved to the UNMOVABLE lists all the same
    assert free_list(s, MIGRATE_MOVABLE, 6) == []
    check_invariants(s)


def test_whole_pageblock_steal_retypes_the_range():
    s = bare_state()
    free_one_page(s, 1024, 10, MIGRATE_MOVABLE)
    pfn = take(s, 0, MIGRATE_RECLAIMABLE)
    assert pfn == 1024
    assert s.pb_mt[2] == MIGRATE_RECLAIMABLE and s.pb_mt[3] == MIGRATE_RECLAIMABLE


def test_move_freepages_block_counts_movable_pages():
    s = bare_state()
    free_one_page(s, 0, 4, MIGRATE_MOVABLE)
    lru_pages(s, 100, 110)
    moved, movable = move_freepages_block(s, 5, MIGRATE_RECLAIMABLE)
    assert (moved, movable) == (16, 10)
    assert free_list(s, MIGRATE_RECLAIMABLE, 4) == [0]


def test_boost_watermark_and_kswapd_wake_on_fragmenting_fallback():
    s = bare_state()
    s.zone[Z_WMARK + 2] = 100  # high watermark
    s.zone[Z_WATERMARK_BOOST_FACTOR] = 15000
    s.pb_mt[0] = MIGRATE_UNMOVABLE
    free_one_page(s, 2, 1, MIGRATE_UNMOVABLE)
    pfn = rmqueue(s, 0, 1, MIGRATE_MOVABLE, ALLOC_KSWAPD)
    assert pfn == 2
    assert s.zone[Z_WATERMARK_BOOST] == 512  # max(pageblock, 150 % of high)
    assert not (s.zone[Z_FLAGS] & ZONE_BOOSTED_WATERMARK)  # rmqueue consumed it ...
    assert s.zone[SIM_KSWAPD_WAKE] == 1  # ... and woke kswapd


def test_cma_used_first_when_more_than_half_of_free_is_cma():
    s = build_machine(small_config(cma_size="8M"), COSTS)  # CMA 2048 of 3584 free pages
    assert s.zone[NR_FREE_CMA_PAGES] > s.zone[NR_FREE_PAGES] // 2
    pfn = alloc_pages(s, 0, GFP_HIGHUSER_MOVABLE, 1)
    assert s.pb_mt[pfn >> 9] == MIGRATE_CMA
    pfn = alloc_pages(s, 0, GFP_KERNEL, 1)
    assert s.pb_mt[pfn >> 9] != MIGRATE_CMA
    check_invariants(s)


def test_cma_used_before_stealing(small):
    # less than half is CMA: movable requests use MOVABLE first ...
    pfn = alloc_pages(small, 0, GFP_HIGHUSER_MOVABLE, 9)
    assert small.pb_mt[pfn >> 9] == MIGRATE_MOVABLE
    while free_list(small, MIGRATE_MOVABLE, 9) or free_list(small, MIGRATE_MOVABLE, 10):
        alloc_pages(small, 0, GFP_HIGHUSER_MOVABLE, 9)
    steals = pageblock_counts(small)
    # ... then CMA, never another type's block
    pfn = alloc_pages(small, 0, GFP_HIGHUSER_MOVABLE, 9)
    assert small.pb_mt[pfn >> 9] == MIGRATE_CMA
    assert (pageblock_counts(small) == steals).all()


def test_movable_order0_without_alloc_cma_bypasses_pcp(small):
    pfn = rmqueue(small, 0, 0, MIGRATE_MOVABLE, ALLOC_WMARK_LOW)
    assert pfn >= 0
    assert small.pcp_count[0] == 0
    pfn = rmqueue(small, 0, 0, MIGRATE_MOVABLE, ALLOC_WMARK_LOW | ALLOC_CMA)
    assert small.pcp_count[0] == small.zone[10] - 1  # refilled by one batch, one taken


def test_watermark_check_subtracts_cma_for_non_cma_requests():
    s = build_machine(small_config(cma_size="8M"), COSTS)
    free = int(s.zone[NR_FREE_PAGES])
    cma = int(s.zone[NR_FREE_CMA_PAGES])
    mark = free - cma + 10  # more than the non-CMA free pages, less than all free pages
    assert zone_watermark_ok(s, 0, mark, ALLOC_CMA)
    assert not zone_watermark_ok(s, 0, mark, 0)


def test_high_order_watermark_needs_a_suitable_block(small):
    # plenty of order-0 headroom but no free block of order >= 10 outside CMA after this:
    while free_list(small, MIGRATE_MOVABLE, 10):
        alloc_pages(small, 0, GFP_KERNEL, 10)
    assert not zone_watermark_ok(small, 10, 0, 0)
    assert zone_watermark_ok(small, 10, 0, ALLOC_CMA)  # the CMA order-10 block counts


def test_atomic_high_order_reserves_highatomic_block(small):
    # The fast path has no ALLOC_HARDER: an atomic order-2 request served there reserves nothing.
    pfn = alloc_pages(small, 0, GFP_ATOMIC, 2)
    assert small.zone[Z_NR_RESERVED_HIGHATOMIC] == 0
    # In the slow path (gfp_to_alloc_flags sets ALLOC_HARDER) success reserves the pageblock.
    flags = gfp_to_alloc_flags(GFP_ATOMIC)
    assert flags & ALLOC_HARDER
    pfn = get_page_from_freelist(small, 0, GFP_ATOMIC, 2, MIGRATE_UNMOVABLE, flags)
    assert pfn >= 0
    assert small.pb_mt[pfn >> 9] == MIGRATE_HIGHATOMIC
    assert small.zone[Z_NR_RESERVED_HIGHATOMIC] == 512
    # the next ALLOC_HARDER high-order request is served from the reserve
    pfn2 = get_page_from_freelist(small, 0, GFP_ATOMIC, 2, MIGRATE_UNMOVABLE, flags)
    assert pfn2 >> 9 == pfn >> 9
    check_invariants(small)


def test_free_pages_round_trip_restores_boot_state(small):
    before = free_list(small, MIGRATE_MOVABLE, 10), free_list(small, MIGRATE_CMA, 10)
    got = [(alloc_pages(small, 0, GFP_HIGHUSER_MOVABLE, o), o) for o in (3, 5, 1, 9)]
    for pfn, o in reversed(got):
        free_pages(small, 0, pfn, o)
    assert (free_list(small, MIGRATE_MOVABLE, 10), free_list(small, MIGRATE_CMA, 10)) == before
    check_invariants(small)


@pytest.mark.parametrize("gfp", [GFP_KERNEL, GFP_HIGHUSER_MOVABLE])
def test_allocation_fails_cleanly_when_memory_is_exhausted(small, gfp):
    n = 0
    while alloc_pages(small, 0, gfp, 0) >= 0:
        n += 1
        assert n < 5000
    check_invariants(small)
    # below the MIN watermark nothing more is handed out to a normal request
    assert small.zone[NR_FREE_PAGES] <= small.zone[Z_WMARK] + small.zone[NR_FREE_CMA_PAGES]


# --- v5.10: FPI_TO_TAIL -----------------------------------------------------------------
@pytest.mark.parametrize(("kernel", "lower_first"), [("5.9", False), ("5.10", True)])
def test_boot_memory_is_freed_to_the_tail_from_v5_10(kernel, lower_first):
    """__free_pages_core: v5.9 queues each freed block at the head (the highest pfns come
    out first), v5.10 at the tail (FPI_TO_TAIL: the lowest first)."""
    s = build_machine(small_config(kernel=kernel), COSTS)
    blocks = free_list(s, MIGRATE_MOVABLE, MAX_ORDER - 1)
    assert len(blocks) >= 2
    assert (blocks == sorted(blocks)) is lower_first
    assert (blocks == sorted(blocks, reverse=True)) is not lower_first


@pytest.mark.parametrize(("kernel", "order_after"), [(KERNEL_V5_9, [1024, 0]),
                                                     (KERNEL_V5_10, [0, 1024])])
def test_moved_free_pages_go_to_the_tail_from_v5_10(kernel, order_after):
    """move_to_free_list: list_move (head) in v5.9, list_move_tail in v5.10."""
    s = bare_state()
    s.zone[Z_KERNEL] = kernel
    free_one_page(s, 0, 9, MIGRATE_MOVABLE)
    free_one_page(s, 1024, 9, MIGRATE_MOVABLE)
    move_freepages_block(s, 0, MIGRATE_RECLAIMABLE)
    move_freepages_block(s, 1024, MIGRATE_RECLAIMABLE)
    assert free_list(s, MIGRATE_RECLAIMABLE, 9) == order_after


@pytest.mark.parametrize(("kernel", "order_after"), [(KERNEL_V5_9, [0, 2048]),
                                                     (KERNEL_V5_10, [2048, 0])])
def test_putback_of_an_isolated_block_goes_to_the_tail_from_v5_10(kernel, order_after):
    """__putback_isolated_page: FPI_TO_TAIL from v5.10."""
    s = bare_state()
    s.zone[Z_KERNEL] = kernel
    free_one_page(s, 0, 9, MIGRATE_MOVABLE)
    free_one_page(s, 2048, 9, MIGRATE_MOVABLE)
    assert set_migratetype_isolate(s, 0, 0, MIGRATE_MOVABLE, False) == 0
    undo_isolate_page_range(s, 0, 512, MIGRATE_MOVABLE)
    assert free_list(s, MIGRATE_MOVABLE, 9) == order_after
    check_invariants(s)
