"""Unit tests of the pure-Python reference buddy model (tests/reference_buddy.py).

Every expected value below was worked out by hand from docs/buddy-model.md.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

from reference_buddy import C, RefZone  # noqa: E402

U, M, R, HA, CMA, ISO = 0, 1, 2, 3, 4, 5
MAX_ORDER = C.MAX_ORDER


def make_snap(
    nr_pages=2048,
    pbo=9,
    nr_cpus=2,
    batch=4,
    high=12,
    watermark=(0, 0, 0),
    boost=0,
    boost_factor=0,
    managed=None,
    reserved=0,
    nr_isolate=0,
    boosted=False,
    nofrag=False,
    blocks=None,
    free=None,
    pcp=None,
    pcppage_mt=None,
    lru=(),
    nr_free=None,
    nr_free_cma=None,
):
    """A snapshot with every free-list and pcp key present. `free` maps (mt, order) to a
    list; `blocks` lists pageblock types (default all MOVABLE); the free counters default
    to what the free lists hold (ISOLATE excluded)."""
    free = dict(free or {})
    free_lists = {(mt, o): list(free.pop((mt, o), [])) for mt in range(6) for o in range(MAX_ORDER)}
    assert not free, "bad free-list key"
    pcp = dict(pcp or {})
    pcp_lists = {(c, t): list(pcp.pop((c, t), [])) for c in range(nr_cpus) for t in range(3)}
    assert not pcp, "bad pcp key"
    nblocks = (nr_pages + (1 << pbo) - 1) >> pbo
    if nr_free is None:
        nr_free = sum(len(v) << o for (mt, o), v in free_lists.items() if mt != ISO)
    if nr_free_cma is None:
        nr_free_cma = sum(len(v) << o for (mt, o), v in free_lists.items() if mt == CMA)
    return dict(
        nr_pages=nr_pages,
        pageblock_order=pbo,
        nr_cpus=nr_cpus,
        pcp_batch=batch,
        pcp_high=high,
        watermark=list(watermark),
        watermark_boost=boost,
        watermark_boost_factor=boost_factor,
        managed=nr_pages if managed is None else managed,
        nr_reserved_highatomic=reserved,
        nr_isolate_pageblock=nr_isolate,
        boosted=boosted,
        alloc_nofragment=nofrag,
        nr_free_pages=nr_free,
        nr_free_cma_pages=nr_free_cma,
        pageblock_mt=list(blocks) if blocks is not None else [M] * nblocks,
        free_lists=free_lists,
        pcp_lists=pcp_lists,
        pcppage_mt=dict(pcppage_mt or {}),
        lru=set(lru),
    )


def nonempty(snap):
    return {k: v for k, v in snap["free_lists"].items() if v}


def test_snapshot_roundtrip():
    s = make_snap(
        free={(M, 10): [1024], (U, 3): [8]},
        blocks=[U, M, M, M],
        pcp={(1, M): [600]},
        pcppage_mt={600: M},
        lru={5, 6},
    )
    z = RefZone(s)
    assert z.snapshot() == s
    z.snapshot()["free_lists"][(M, 10)].append(0)  # a deep copy
    assert z.snapshot()["free_lists"][(M, 10)] == [1024]


def test_two_order0_buddies_merge():
    z = RefZone(make_snap())
    z.free_one_page_(0, 0, M)
    assert nonempty(z.snapshot()) == {(M, 0): [0]}
    z.free_one_page_(1, 0, M)
    assert nonempty(z.snapshot()) == {(M, 1): [0]}
    assert z.nr_free_pages == 2


def test_order0_frees_via_pcp_merge_on_drain():
    z = RefZone(make_snap())
    z.set_lru(0, 2)
    z.free_pages(0, 0, 0)
    z.free_pages(0, 1, 0)
    s = z.snapshot()
    assert s["pcp_lists"][(0, M)] == [1, 0]  # head insertion
    assert s["pcppage_mt"] == {0: M, 1: M}
    assert s["lru"] == set()
    assert s["nr_free_pages"] == 0
    z.drain_all_pages()
    s = z.snapshot()
    assert nonempty(s) == {(M, 1): [0]}
    assert s["pcp_lists"][(0, M)] == [] and s["pcppage_mt"] == {}
    assert s["nr_free_pages"] == 2


def test_free_goes_to_tail_when_higher_buddy_free():
    # 2..3 free at order 1; freeing 0 (buddy 1 busy) -> higher buddy 2 is free at order 1.
    z = RefZone(make_snap(free={(M, 1): [2], (M, 0): [100], (M, 2): [16]}))
    z.free_one_page_(0, 0, M)
    assert z.free[(M, 0)] == [100, 0]
    # freeing 8: higher buddy 10 not free -> head
    z.free_one_page_(8, 0, M)
    assert z.free[(M, 0)] == [8, 100, 0]
    # order-1 free of 20 (buddy 22 busy), higher buddy 16 free at order 2 -> tail
    z.free_one_page_(20, 1, M)
    assert z.free[(M, 1)] == [2, 20]
    assert z.nr_free_pages == 2 + 1 + 4 + 1 + 1 + 2


def test_no_tail_at_order_9_or_above():
    # block 0 at order 9: buddy 512 busy, higher buddy 1024 free at order 10 -> still head
    z = RefZone(make_snap(nr_pages=4096, free={(M, 10): [1024], (M, 9): [2048]}))
    z.free_one_page_(0, 9, M)
    assert z.free[(M, 9)] == [0, 2048]


def test_expand_puts_upper_halves_at_head():
    z = RefZone(make_snap(free={(M, 2): [300], (M, 1): [200], (M, 0): [100]}))
    z.expand(0, 0, 3, M)
    assert z.free[(M, 2)] == [4, 300]
    assert z.free[(M, 1)] == [2, 200]
    assert z.free[(M, 0)] == [1, 100]
    assert z.nr_free_pages == 7  # expand does not account


def test_rmqueue_smallest_takes_head_of_lowest_order():
    z = RefZone(make_snap(free={(M, 3): [0, 8], (M, 5): [32]}))
    assert z.rmqueue_smallest_(0, M) == 0
    assert nonempty(z.snapshot()) == {
        (M, 0): [1],
        (M, 1): [2],
        (M, 2): [4],
        (M, 3): [8],
        (M, 5): [32],
    }
    assert z.pcppage_mt[0] == M
    assert z.rmqueue_smallest_(4, M) == 32
    assert z.free[(M, 4)] == [48]
    assert z.rmqueue_smallest_(6, M) == -1


def test_movable_steals_smallest_order_single_block():
    # No MOVABLE pages; UNMOVABLE blocks at orders 3 and 1: order 3 < pbo/2 = 4 cannot be
    # stolen whole, so the smallest fallback (order 1) is moved alone.
    z = RefZone(make_snap(blocks=[U, U, U, U], free={(U, 3): [8], (U, 1): [2]}))
    pfn = z.rmqueue(0, 0, M, C.ALLOC_WMARK_LOW)  # no ALLOC_CMA -> buddy path
    assert pfn == 2
    s = z.snapshot()
    assert nonempty(s) == {(U, 3): [8], (M, 0): [3]}
    assert s["pageblock_mt"] == [U, U, U, U]
    assert s["nr_free_pages"] == 9


def test_movable_steals_whole_block_with_movable_majority_and_boosts():
    lru = set(range(200, 500))  # 300 LRU pages in block 0
    z = RefZone(
        make_snap(
            blocks=[U, M, M, M],
            free={(U, 4): [16], (U, 0): [5]},
            lru=lru,
            watermark=(50, 80, 100),
            boost_factor=15000,
            managed=2048,
        )
    )
    pfn = z.rmqueue(1, 0, M, C.ALLOC_WMARK_LOW | C.ALLOC_KSWAPD)
    # order 4 >= pbo/2 -> whole block: free 17 + alike 300 >= 256 -> MOVABLE; both free
    # blocks moved to the MOVABLE lists; smallest then takes pfn 5 at order 0.
    assert pfn == 5
    s = z.snapshot()
    assert s["pageblock_mt"][0] == M
    assert nonempty(s) == {(M, 4): [16]}
    # boost = min(0 + 512, max(512, 100 * 15000 // 10000)) ; flag set then cleared by rmqueue
    assert s["watermark_boost"] == 512
    assert s["boosted"] is False and z.kswapd_wakes == 1


def test_unmovable_order0_claims_pageblock_when_half_free():
    # Block 0 MOVABLE: 256 pages free at 256 (order 8) + pfn 3; 255 LRU pages.
    lru = set(range(0, 256)) - {3}
    z = RefZone(make_snap(free={(M, 8): [256], (M, 0): [3]}, lru=lru))
    assert len(lru) == 255
    pfn = z.rmqueue_(0, U, C.ALLOC_WMARK_LOW)
    # free 257 + alike (512 - 257 - 255 = 0) >= 256 -> claimed; pfn 3 moved, taken first
    assert pfn == 3
    s = z.snapshot()
    assert s["pageblock_mt"] == [U, M, M, M]
    assert nonempty(s) == {(U, 8): [256]}


def test_unmovable_does_not_claim_pageblock_below_half():
    # 192 free pages (orders 7 and 6), the other 320 pages LRU -> 192 + 0 < 256
    lru = set(range(0, 256)) | set(range(448, 512))
    z = RefZone(make_snap(free={(M, 7): [256], (M, 6): [384]}, lru=lru))
    pfn = z.rmqueue_(0, U, C.ALLOC_WMARK_LOW)
    assert pfn == 384
    s = z.snapshot()
    assert s["pageblock_mt"] == [M, M, M, M]
    # the free blocks were moved to UNMOVABLE anyway; 384 split with halves at the head
    assert nonempty(s) == {
        (U, 7): [256],
        (U, 5): [416],
        (U, 4): [400],
        (U, 3): [392],
        (U, 2): [388],
        (U, 1): [386],
        (U, 0): [385],
    }


def test_steal_order_ge_pageblock_retypes_all_covered_blocks():
    z = RefZone(make_snap(free={(M, 10): [1024], (M, 3): [8]}))
    pfn = z.rmqueue_(0, R, C.ALLOC_WMARK_LOW)
    assert pfn == 1024
    s = z.snapshot()
    assert s["pageblock_mt"] == [M, M, R, R]
    assert s["free_lists"][(M, 3)] == [8]
    assert s["free_lists"][(R, 9)] == [1536]


def test_cma_more_than_half_rule():
    blocks = [M, M, CMA, CMA]
    # free 512 + 1024, CMA 1024 > 1536 // 2 -> CMA first
    z = RefZone(make_snap(blocks=blocks, free={(M, 9): [0], (CMA, 10): [1024]}))
    assert z.alloc_pages(0, C.GFP_HIGHUSER_MOVABLE, 1) == 1024
    assert z.nr_free_cma_pages == 1022 and z.nr_free_pages == 1534
    # free 1024 + 1024, CMA 1024 > 1024 is false -> MOVABLE first
    z = RefZone(make_snap(blocks=blocks, free={(M, 10): [0], (CMA, 10): [1024]}))
    assert z.alloc_pages(0, C.GFP_HIGHUSER_MOVABLE, 1) == 0
    assert z.nr_free_cma_pages == 1024 and z.nr_free_pages == 2046
    # without ALLOC_CMA the CMA list is never used even as a fallback
    z = RefZone(make_snap(blocks=blocks, free={(CMA, 10): [1024]}))
    assert z.rmqueue_(1, M, 0) == -1
    assert z.rmqueue_(1, M, C.ALLOC_CMA) == 1024


def test_movable_order0_without_alloc_cma_bypasses_pcp():
    s = make_snap(
        blocks=[M, M, CMA, CMA], free={(M, 0): [5]}, pcp={(0, M): [1024]}, pcppage_mt={1024: CMA}
    )
    z = RefZone(s)
    assert z.rmqueue(0, 0, M, C.ALLOC_WMARK_LOW) == 5
    assert z.pcp[(0, M)] == [1024]
    assert z.nr_free_pages == 0
    assert z.rmqueue(0, 0, M, C.ALLOC_WMARK_LOW | C.ALLOC_CMA) == 1024
    assert z.pcp[(0, M)] == [] and z.nr_free_cma_pages == 0


def test_pcp_refill_takes_batch_pages_to_tail():
    z = RefZone(make_snap(blocks=[U, M, M, M], free={(U, 3): [0]}, batch=4))
    assert z.rmqueue(1, 0, U, C.ALLOC_WMARK_LOW) == 0
    s = z.snapshot()
    assert s["pcp_lists"][(1, U)] == [1, 2, 3]
    assert s["pcppage_mt"] == {1: U, 2: U, 3: U}
    assert nonempty(s) == {(U, 2): [4]}
    assert s["nr_free_pages"] == 4
    # next allocation is served from the pcp head without touching the buddy lists
    assert z.rmqueue(1, 0, U, C.ALLOC_WMARK_LOW) == 1
    assert z.nr_free_pages == 4


def test_rmqueue_bulk_cma_counter_drops_per_page_free_counter_after():
    # free = 8 CMA + 6 MOVABLE = 14. Page 1: 8 > 7 -> CMA; then CMA = 7 while NR_FREE_PAGES
    # is still 14 until the end of the bulk, so 7 > 7 fails: the rest come from MOVABLE.
    z = RefZone(
        make_snap(blocks=[M, M, M, CMA], free={(CMA, 3): [1536], (M, 2): [0], (M, 1): [4]}, batch=4)
    )
    assert z.rmqueue(0, 0, M, C.ALLOC_CMA) == 1536
    assert z.pcp[(0, M)] == [4, 5, 0]
    assert z.nr_free_cma_pages == 7 and z.nr_free_pages == 10
    assert z.pcppage_mt[1536] == CMA


def test_pcp_overflow_frees_batch_round_robin_from_movable_tail():
    s = make_snap(
        blocks=[U, M, M, M],
        batch=4,
        high=6,
        pcp={(0, U): [10, 12], (0, M): [520, 522, 524]},
        pcppage_mt={10: U, 12: U, 520: M, 522: M, 524: M},
    )
    z = RefZone(s)
    z.free_pages(0, 600, 0)  # count 6 >= high -> free_pcppages_bulk(4)
    s = z.snapshot()
    # order: MOVABLE tail 524; UNMOVABLE tail 12 then 10; MOVABLE tail 522
    assert s["pcp_lists"][(0, M)] == [600, 520]
    assert s["pcp_lists"][(0, U)] == []
    assert nonempty(s) == {(U, 0): [10, 12], (M, 0): [522, 524]}
    assert s["nr_free_pages"] == 4
    assert s["pcppage_mt"] == {600: M, 520: M}


def test_pcp_below_high_keeps_page():
    z = RefZone(make_snap(batch=4, high=6, pcp={(0, M): [520]}, pcppage_mt={520: M}))
    z.free_pages(0, 600, 0)
    assert z.pcp[(0, M)] == [600, 520] and z.nr_free_pages == 0


def test_cma_page_on_movable_pcp_returns_to_cma_list_when_drained():
    z = RefZone(make_snap(blocks=[M, M, M, CMA], nr_free=10, nr_free_cma=3))
    z.set_lru(1600, 1)
    z.free_pages(1, 1600, 0)
    s = z.snapshot()
    assert s["pcp_lists"][(1, M)] == [1600]
    assert s["pcppage_mt"] == {1600: CMA}
    assert s["lru"] == set() and s["nr_free_cma_pages"] == 3
    z.drain_all_pages()
    s = z.snapshot()
    assert nonempty(s) == {(CMA, 0): [1600]}
    assert s["nr_free_cma_pages"] == 4 and s["nr_free_pages"] == 11


def test_highatomic_page_goes_to_movable_pcp():
    z = RefZone(make_snap(blocks=[HA, M, M, M]))
    z.free_pages(0, 7, 0)
    assert z.pcp[(0, M)] == [7] and z.pcppage_mt[7] == HA
    z.drain_all_pages()
    assert z.free[(HA, 0)] == [7]


def test_isolated_page_frees_straight_to_buddy_unaccounted():
    z = RefZone(make_snap(blocks=[ISO, M, M, M], nr_isolate=1))
    z.free_pages(0, 7, 0)
    assert z.pcp[(0, M)] == [] and z.free[(ISO, 0)] == [7]
    assert z.nr_free_pages == 0


def test_drain_rereads_pageblock_type_when_zone_has_isolation():
    s = make_snap(
        blocks=[ISO, M, M, M], nr_isolate=1, pcp={(0, M): [7, 600]}, pcppage_mt={7: M, 600: M}
    )
    z = RefZone(s)
    z.drain_all_pages()
    assert nonempty(z.snapshot()) == {(ISO, 0): [7], (M, 0): [600]}
    assert z.nr_free_pages == 1


def test_watermark_refusal():
    # 64 free pages, min 80: both fast (low) and slow (min) checks refuse GFP_KERNEL.
    snap = make_snap(blocks=[U, M, M, M], free={(U, 6): [0]}, watermark=(80, 90, 100))
    z = RefZone(snap)
    assert z.alloc_pages(0, C.GFP_KERNEL, 0) == -1
    assert z.kswapd_wakes == 1  # slow path woke kswapd
    s = z.snapshot()
    assert nonempty(s) == {(U, 6): [0]} and s["nr_free_pages"] == 64
    # GFP_ATOMIC: fast path fails, slow path: min 80 - 40 (HIGH) - 10 (HARDER) = 30 < 64.
    # The order-0 fast check (64 > 80) fails and falls through to __zone_watermark_ok.
    assert z.alloc_pages(0, C.GFP_ATOMIC, 0) == 0
    assert z.kswapd_wakes == 2


def test_watermark_boost_counts_and_cma_excluded():
    z = RefZone(
        make_snap(blocks=[U, M, M, M], free={(U, 6): [0]}, watermark=(10, 50, 60), boost=20)
    )
    assert not z.zone_watermark_fast(0, 0, z.wmark_pages(C.WMARK_LOW), 0)  # 64 > 70 fails
    assert z.zone_watermark_fast(0, 0, z.wmark_pages(C.WMARK_MIN), 0)  # 64 > 30
    z = RefZone(make_snap(blocks=[M, M, M, CMA], free={(M, 5): [0], (CMA, 5): [1536]}))
    assert z.zone_watermark_fast(0, 0, 40, C.ALLOC_CMA)  # 64 > 40
    assert not z.zone_watermark_fast(0, 0, 40, 0)  # 64 - 32 = 32 <= 40
    # order > 0: some eligible list of order >= 5 needed; CMA only with ALLOC_CMA
    assert not z.zone_watermark_ok_(6, 0, C.ALLOC_CMA, z.nr_free_pages)
    z.rmqueue_smallest_(5, M)
    z.nr_free_pages -= 32
    assert z.zone_watermark_ok_(5, 0, C.ALLOC_CMA, z.nr_free_pages)
    assert not z.zone_watermark_ok_(5, 0, 0, z.nr_free_pages + 100)


def test_atomic_high_order_reserves_highatomic_pageblock():
    z = RefZone(make_snap(blocks=[U, M, M, M], free={(U, 6): [0]}, watermark=(60, 70, 80)))
    assert z.alloc_pages(0, C.GFP_ATOMIC, 1) == 0
    s = z.snapshot()
    assert s["pageblock_mt"][0] == HA
    assert s["nr_reserved_highatomic"] == 512
    assert nonempty(s) == {(HA, 1): [2], (HA, 2): [4], (HA, 3): [8], (HA, 4): [16], (HA, 5): [32]}
    assert s["nr_free_pages"] == 62
    # ALLOC_HARDER order-1 requests use the HIGHATOMIC list first
    assert z.rmqueue(0, 1, U, C.ALLOC_HARDER) == 2


def test_nofragment_first_pass_then_fallback_without_it():
    z = RefZone(make_snap(free={(M, 3): [8]}, nofrag=True, batch=4))
    # NOFRAGMENT: no fallback below pbo -> fails; retried without it -> steals order 3 from
    # MOVABLE block 0, 8 free + (512 - 8) alike >= 256 -> block 0 becomes UNMOVABLE.
    assert z.alloc_pages(0, C.GFP_KERNEL, 0) == 8
    s = z.snapshot()
    assert s["pageblock_mt"] == [U, M, M, M]
    assert s["pcp_lists"][(0, U)] == [9, 10, 11]
    assert nonempty(s) == {(U, 2): [12]}
    assert z.kswapd_wakes == 0
    # the NOFRAGMENT pass alone refuses:
    z = RefZone(make_snap(free={(M, 3): [8]}))
    assert z.rmqueue_(0, U, C.ALLOC_NOFRAGMENT) == -1
    assert z.free[(M, 3)] == [8]


def test_merge_across_isolate_boundary_refused():
    blocks = [ISO, M, M, M]
    z = RefZone(make_snap(blocks=blocks, free={(M, 9): [512]}, nr_isolate=1))
    z.free_pages(0, 0, 9)  # pageblock type ISOLATE
    s = z.snapshot()
    assert nonempty(s) == {(ISO, 9): [0], (M, 9): [512]}
    assert s["nr_free_pages"] == 512  # ISOLATE frees are not accounted
    # with no isolated pageblock recorded the check is skipped and the blocks merge
    z = RefZone(make_snap(blocks=blocks, free={(M, 9): [512]}, nr_isolate=0))
    z.free_pages(0, 0, 9)
    assert nonempty(z.snapshot()) == {(ISO, 10): [0]}
    # two non-ISOLATE types of different kind merge even with isolation present
    z = RefZone(make_snap(blocks=[U, M, ISO, M], free={(M, 9): [512]}, nr_isolate=1))
    z.free_pages(0, 0, 9)
    assert nonempty(z.snapshot()) == {(U, 10): [0]}
    assert z.nr_free_pages == 1024


def test_merge_below_pageblock_order_ignores_isolation():
    z = RefZone(make_snap(blocks=[ISO, M, M, M], free={(M, 8): [256]}, nr_isolate=1))
    z.free_one_page_(0, 8, ISO)
    assert nonempty(z.snapshot()) == {(ISO, 9): [0]}


def test_partial_last_pageblock_is_not_stolen_whole():
    # 1792 pages: pageblock 3 (1536..2047) crosses the zone end, so move_freepages_block
    # moves nothing and only the stolen block changes lists; the block keeps its type.
    z = RefZone(make_snap(nr_pages=1792, free={(M, 3): [1536], (M, 0): [1600]}))
    assert z.rmqueue_(0, U, 0) == 1536
    s = z.snapshot()
    assert s["pageblock_mt"] == [M, M, M, M]
    assert s["free_lists"][(M, 0)] == [1600]
    assert s["free_lists"][(U, 2)] == [1540]


def test_watermark_ok_reserve_adjustments():
    z = RefZone(make_snap(blocks=[U, M, M, M], free={(U, 6): [0]}, reserved=10))
    # free 64, mark 80: plain refuses; HARDER 80 - 20 = 60 < 64; OOM 80 - 40 = 40
    assert not z.zone_watermark_ok_(0, 80, 0, 64)
    assert z.zone_watermark_ok_(0, 80, C.ALLOC_HARDER, 64)
    assert not z.zone_watermark_ok_(0, 80, C.ALLOC_HARDER, 60)
    assert z.zone_watermark_ok_(0, 80, C.ALLOC_OOM, 41)
    # without HARDER the highatomic reserve is subtracted: 64 - 10 = 54 <= 55
    assert not z.zone_watermark_ok_(0, 55, 0, 64)
    assert z.zone_watermark_ok_(0, 53, 0, 64)
    # ALLOC_HIGH halves the mark: 100 -> 50; order 2 subtracts 3: 64 - 3 - 10 = 51 > 50
    assert z.zone_watermark_ok_(2, 100, C.ALLOC_HIGH, 64)


def test_boost_watermark_limits():
    z = RefZone(make_snap(watermark=(0, 0, 500), boost_factor=15000, managed=2048))
    assert z.boost_watermark() and z.watermark_boost == 512
    assert z.boost_watermark() and z.watermark_boost == 750  # 500 * 15000 // 10000
    assert z.boost_watermark() and z.watermark_boost == 750
    z = RefZone(make_snap(watermark=(0, 0, 500), boost_factor=15000, managed=2047))
    assert not z.boost_watermark() and z.watermark_boost == 0  # 4 * 512 > managed
    z = RefZone(make_snap(watermark=(0, 0, 0), boost_factor=15000))
    assert not z.boost_watermark()  # max_boost 0
    z = RefZone(make_snap(watermark=(0, 0, 500), boost_factor=0))
    assert not z.boost_watermark()
