"""Direct compaction and the order-k slow path (v5.9 rules, docs/model.md#compact-zone)."""

import numpy as np
from conftest import populated

from allockit.mm import api
from allockit.mm.background import EV_FREE, run_background
from allockit.mm.compaction import (
    COMPACT_CONTINUE,
    COMPACT_SKIPPED,
    COMPACT_SUCCESS_R,
    SYSCTL_EXTFRAG_THRESHOLD,
    compaction_deferred,
    compaction_suitable,
    defer_compaction,
    fragmentation_index,
)
from allockit.mm.constants import (
    ___GFP_RETRY_MAYFAIL,
    ALLOC_CMA,
    GFP_HIGHUSER_MOVABLE,
    GFP_KERNEL,
    REF_GUP,
    PG_writeback,
)
from allockit.mm.introspect import free_counts
from allockit.mm.invariants import check_invariants
from allockit.mm.state import Z_CLOCK, Z_COMPACT_DEFER_SHIFT, Z_EV_TAIL, Z_NR_FREE
from allockit.mm.vmstat import NR_FREE_PAGES


def fragmented(every=2, n=2600, seed=0):
    """Fill the machine, then free every ``every``-th object: lots of free memory, none of it
    in blocks of order ≥ 1 where neighbours are busy."""
    s = populated(n, seed=seed)
    objs = np.arange(0, n, every)
    k = len(objs)
    head = int(s.zone[Z_EV_TAIL])
    ev = s.events[head : head + k]
    assert len(ev) == k, "event capacity"
    ev["time"] = 1
    ev["obj"] = objs
    ev["kind"] = EV_FREE
    s.zone[Z_EV_TAIL] = head + k
    run_background(s, 1)
    s.zone[Z_CLOCK] = 0
    return s


def kernel_fragmentation_index(counts: np.ndarray, order: int) -> int:
    """``__fragmentation_index`` (mm/vmstat.c, v5.9) from the free blocks per order, as
    /proc/buddyinfo shows them: computed here independently of the model's code."""
    free_pages = sum(int(n) << o for o, n in enumerate(counts))
    blocks = int(counts.sum())
    suitable = sum(int(n) << (o - order) for o, n in enumerate(counts) if o >= order)
    if blocks == 0:
        return 0
    if suitable:
        return -1000
    return 1000 - (1000 + free_pages * 1000 // (1 << order)) // blocks


def test_fragmentation_index_is_the_kernels():
    s = fragmented()
    counts = free_counts(s).sum(axis=0)
    assert counts[9:].sum() == 0  # scattered free pages: no order-9 block
    fi = fragmentation_index(s, 9)
    assert fi == kernel_fragmentation_index(counts, 9)
    assert fi > SYSCTL_EXTFRAG_THRESHOLD  # failure would be due to fragmentation
    assert fragmentation_index(s, 0) == -1000  # an order-0 page is free
    full = populated()
    full.zone[Z_NR_FREE : Z_NR_FREE + 11] = 0
    assert fragmentation_index(full, 4) == 0  # nothing free at all: lack of memory


def test_compaction_suitable_outcomes():
    s = fragmented()
    # order 9: the free pages meet the low watermark + compact_gap, and the index says
    # fragmentation: compaction can help
    assert compaction_suitable(s, 9, ALLOC_CMA) == COMPACT_CONTINUE
    # order 0: the allocation would succeed without compaction
    assert compaction_suitable(s, 0, ALLOC_CMA) == COMPACT_SUCCESS_R
    full = populated()
    full.zone[NR_FREE_PAGES] = 0  # no headroom for migration targets at all
    assert compaction_suitable(full, 4, 0) == COMPACT_SKIPPED


def test_deferral_window_grows_to_64():
    s = populated()
    for _ in range(8):
        defer_compaction(s, 4)
    assert s.zone[Z_COMPACT_DEFER_SHIFT] == 6
    skipped = sum(compaction_deferred(s, 4) for _ in range(64))
    assert skipped == 63  # the 64th attempt runs
    assert not compaction_deferred(s, 3)  # smaller orders than the failed one are not deferred


def test_compaction_makes_an_order4_block_from_scattered_free_pages():
    s = fragmented(every=2)
    r = api.alloc_pages_timed(s, GFP_HIGHUSER_MOVABLE | ___GFP_RETRY_MAYFAIL, 9)
    assert r.pfn is not None, r
    assert r.counters["compact_stall"] >= 1
    assert r.counters["pgmigrate_success"] > 0
    assert r.breakdown_ns.get("compact", 0) > 0
    assert sum(r.breakdown_ns.values()) == r.latency_ns
    check_invariants(s)


def test_plain_gfp_kernel_costly_order_gets_one_round():
    """Without __GFP_RETRY_MAYFAIL a costly order gets one round: async compaction (an
    UNMOVABLE request compacts only unmovable blocks, so it fails here), one direct reclaim,
    sync-light compaction (any block), then success or failure, never a retry."""
    s = fragmented(every=2)
    r = api.alloc_pages_timed(s, GFP_KERNEL, 9)
    assert r.pfn is not None
    assert r.counters["compact_stall"] == 2
    assert r.counters["compact_fail"] == 1 and r.counters["compact_success"] == 1
    assert r.counters["allocstall"] == 1
    check_invariants(s)
    # every in-use page pinned: both compactions fail, and the call gives up after them
    s = fragmented(every=2)
    busy = np.flatnonzero(s.owner >= 0)
    s.page["t_ref"][busy] = 10**9
    s.page["refkind"][busy] = REF_GUP
    r = api.alloc_pages_timed(s, GFP_KERNEL, 9)
    assert r.pfn is None
    assert r.counters["compact_stall"] == 2 and r.counters["compact_fail"] == 2
    assert r.counters["allocstall"] == 1
    check_invariants(s)


def test_writeback_pages_are_not_isolated_by_compaction():
    s = fragmented(every=2)
    busy = np.flatnonzero(s.owner >= 0)
    s.flags[busy] |= PG_writeback
    s.page["t_io"][busy] = 10**9
    r = api.alloc_pages_timed(s, GFP_HIGHUSER_MOVABLE | ___GFP_RETRY_MAYFAIL, 9)
    assert r.counters.get("compact_stall", 0) >= 1  # compaction ran ...
    assert r.breakdown_ns.get("compact", 0) > 0
    assert r.counters.get("pgmigrate_success", 0) == 0  # ... and isolated none of them
    assert r.counters.get("pgmigrate_fail", 0) == 0
    assert "wait_writeback" not in r.breakdown_ns
    assert r.pfn is None
    check_invariants(s)


def test_fast_path_charges_the_calling_task(small):
    """A strategy's alloc_pages served by the fast path costs alloc_page_ns, not zero."""
    from allockit.mm import api
    from allockit.params import load_costs

    r = api.alloc_pages_timed(small, "GFP_KERNEL", 4, cpu=0)
    assert r.pfn is not None
    assert r.latency_ns == load_costs()["alloc_page_ns"]
    assert r.breakdown_ns == {"alloc": load_costs()["alloc_page_ns"]}


# --- capture, check_drain, should_compact_retry, skip-bit reset ------------------------------
def _unmovable_block(s, order=4):
    """Allocate an UNMOVABLE order-``order`` block (it steals a pageblock) and return it."""
    from allockit.mm.buddy import get_pageblock_migratetype
    from allockit.mm.constants import MIGRATE_UNMOVABLE

    r = api.alloc_pages_timed(s, GFP_KERNEL, order)
    assert r.pfn is not None
    assert get_pageblock_migratetype(s, r.pfn) == MIGRATE_UNMOVABLE
    return r.pfn


def test_compaction_capture_takes_the_freed_block(small):
    """``compaction_capture``: while a direct compactor waits for order 4, a block of that
    order freed by the compacting task in an unmovable pageblock is handed to it instead of
    going to the free lists; freed by another CPU (a background operation) it is not."""
    from conftest import COSTS, small_config

    from allockit.mm import build_machine
    from allockit.mm.buddy import free_one_page
    from allockit.mm.constants import MIGRATE_UNMOVABLE
    from allockit.mm.state import Z_CAPTURE_ORDER, Z_CAPTURE_PFN, Z_IN_BG

    pfn = _unmovable_block(small)
    before = free_counts(small).copy()
    small.zone[Z_CAPTURE_ORDER] = 4
    free_one_page(small, pfn, 4, MIGRATE_UNMOVABLE)
    assert small.zone[Z_CAPTURE_PFN] == pfn
    assert (free_counts(small) == before).all()  # not on any free list, not counted free
    # the same free by a background operation, or with nobody compacting: the free lists
    for in_bg, order in ((1, 4), (0, -1)):
        s = build_machine(small_config(), COSTS)
        pfn = _unmovable_block(s)
        s.zone[Z_CAPTURE_ORDER] = order
        s.zone[Z_IN_BG] = in_bg
        free_one_page(s, pfn, 4, MIGRATE_UNMOVABLE)
        assert s.zone[Z_CAPTURE_PFN] == -1
        assert free_counts(s)[MIGRATE_UNMOVABLE].sum() > 0


def test_compaction_capture_spares_movable_and_cma_blocks(small):
    """A movable block below pageblock order, and any CMA block, is never captured."""
    from allockit.mm.buddy import free_one_page, get_pageblock_migratetype
    from allockit.mm.constants import MIGRATE_CMA, MIGRATE_MOVABLE
    from allockit.mm.state import Z_CAPTURE_ORDER, Z_CAPTURE_PFN

    seen = set()
    for _ in range(600):  # movable order-4 blocks: normal ones first, then CMA ones too
        r = api.alloc_pages_timed(small, "GFP_HIGHUSER_MOVABLE", 4)
        if r.pfn is None:
            break
        mt = get_pageblock_migratetype(small, r.pfn)
        seen.add(mt)
        small.zone[Z_CAPTURE_ORDER] = 4
        free_one_page(small, r.pfn, 4, mt)
        assert small.zone[Z_CAPTURE_PFN] == -1
        small.zone[Z_CAPTURE_ORDER] = -1
        api.alloc_pages_timed(small, "GFP_HIGHUSER_MOVABLE", 4)  # keep it: move on
    assert seen == {MIGRATE_MOVABLE, MIGRATE_CMA}


def test_direct_compaction_returns_the_captured_block():
    """An unmovable order-4 request on a full machine: one unmovable pageblock whose first
    order-4 chunk holds 8 anonymous LRU pages and 8 free ones, a movable pageblock with every
    32nd page free (the migration targets: async compaction's free scanner looks at every
    32nd page of a pageblock) and nothing else free. Async compaction migrates
    the 8 pages away, drains its own pcp list as its scanner leaves the chunk
    (``check_drain``), and the chunk, merging to order 4, is captured for the call."""
    from conftest import bare_state, lru_pages

    from allockit.mm.buddy import free_one_page, set_pageblock_migratetype
    from allockit.mm.constants import MIGRATE_MOVABLE, MIGRATE_UNMOVABLE

    s = bare_state()
    set_pageblock_migratetype(s, 512, MIGRATE_UNMOVABLE)
    lru_pages(s, 512, 520, anon=True)
    free_one_page(s, 520, 3, MIGRATE_UNMOVABLE)
    for pfn in range(1536, 2560, 32):
        free_one_page(s, pfn, 0, MIGRATE_MOVABLE)
    r = api.alloc_pages_timed(s, GFP_KERNEL, 4, cpu=1)
    assert r.pfn == 512
    assert r.counters["sim_compact_capture"] == 1 and r.counters["compact_success"] == 1
    assert r.counters["pgmigrate_success"] == 8
    assert r.counters.get("allocstall", 0) == 0  # no reclaim: async compaction was enough
    assert free_counts(s)[MIGRATE_UNMOVABLE].sum() == 0  # the chunk went to the caller only
    check_invariants(s)


def test_check_drain_flushes_the_local_pcp_list_once_the_block_is_left(small):
    """``check_drain``: the compacting CPU's pcp pages go back to the buddy once the migrate
    scanner left the order-aligned block it last migrated from, and not before."""
    from allockit.mm.compaction import compact_check_drain
    from allockit.mm.state import Z_PCP_BATCH, Z_PCP_COUNT, Z_PCP_HIGH

    small.zone[Z_PCP_BATCH] = 7  # a 16 MiB zone's pcp lists would hold nothing
    small.zone[Z_PCP_HIGH] = 42
    pfns = [api.alloc_pages_timed(small, "GFP_KERNEL", 0, cpu=1).pfn for _ in range(5)]
    for pfn in pfns:
        api.free_pages(small, pfn, 0, cpu=1)
    assert small.zone[Z_PCP_COUNT + 1] >= 5
    # still inside the order-4 block [16, 32) it migrated from: nothing happens
    assert compact_check_drain(small, 1, 4, 20, 17) == 17
    assert small.zone[Z_PCP_COUNT + 1] > 0
    # the scanner moved on to [32, 48): drained, and no more flushing until the next migration
    assert compact_check_drain(small, 1, 4, 33, 17) == 0
    assert small.zone[Z_PCP_COUNT + 1] == 0


def test_should_compact_retry_as_written():
    """``should_compact_retry`` (v5.9): the result decides between a counted retry, a raised
    priority, and asking whether reclaim could make compaction suitable."""
    from allockit.mm.compaction import (
        COMPACT_COMPLETE,
        COMPACT_CONTENDED,
        COMPACT_DEFERRED_R,
        COMPACT_PARTIAL_SKIPPED,
        COMPACT_PRIO_ASYNC,
        COMPACT_PRIO_SYNC_LIGHT,
        should_compact_retry,
    )

    s = fragmented()
    # progress: counted, retried up to MAX_COMPACT_RETRIES / 4 for a costly order
    assert should_compact_retry(s, 4, 0, COMPACT_SUCCESS_R, COMPACT_PRIO_ASYNC, 0) == (
        True, COMPACT_PRIO_ASYNC, 1)  # fmt: skip
    # ... then, retries exhausted, once more at a higher priority, and no more after that
    assert should_compact_retry(s, 4, 0, COMPACT_SUCCESS_R, COMPACT_PRIO_ASYNC, 4) == (
        True, COMPACT_PRIO_SYNC_LIGHT, 0)  # fmt: skip
    assert not should_compact_retry(s, 4, 0, COMPACT_SUCCESS_R, COMPACT_PRIO_SYNC_LIGHT, 4)[0]
    # withdrawn (deferred, contended, partial) and failed: only a higher priority, retries reset
    withdrawn_or_failed = (
        COMPACT_DEFERRED_R,
        COMPACT_CONTENDED,
        COMPACT_PARTIAL_SKIPPED,
        COMPACT_COMPLETE,
    )
    for result in withdrawn_or_failed:
        assert should_compact_retry(s, 4, 0, result, COMPACT_PRIO_ASYNC, 3) == (
            True, COMPACT_PRIO_SYNC_LIGHT, 0)  # fmt: skip
        # a costly order never goes past SYNC_LIGHT
        assert should_compact_retry(s, 4, 0, result, COMPACT_PRIO_SYNC_LIGHT, 0)[0] is False
    # skipped: retry while reclaim could make it suitable, at the same priority
    assert should_compact_retry(s, 4, 0, COMPACT_SKIPPED, COMPACT_PRIO_ASYNC, 2) == (
        True, COMPACT_PRIO_ASYNC, 2)  # fmt: skip
    # ... and not when even free plus a 1/order share of the file LRU could not pass
    # __compaction_suitable's watermark (compaction_zonelist_suitable)
    from allockit.mm.vmstat import NR_ACTIVE_FILE, NR_INACTIVE_FILE

    s.zone[NR_FREE_PAGES] = 0
    s.zone[NR_INACTIVE_FILE] = s.zone[NR_ACTIVE_FILE] = 0
    assert should_compact_retry(s, 4, 0, COMPACT_SKIPPED, COMPACT_PRIO_ASYNC, 2)[0] is False


def test_skip_bits_are_cleared_only_after_a_full_direct_compaction(small):
    """``__reset_isolation_suitable`` acts only when ``compact_blockskip_flush`` is set, as a
    direct compaction whose scanners met sets it; kswapd going to sleep clears the bits."""
    from allockit.mm.state import Z_COMPACT_BLOCKSKIP_FLUSH
    from allockit.mm.vmscan import reset_isolation_suitable

    small.pb_skip[:] = 1
    reset_isolation_suitable(small)
    assert small.pb_skip.all()  # no full compaction since the last reset
    small.zone[Z_COMPACT_BLOCKSKIP_FLUSH] = 1
    reset_isolation_suitable(small)
    assert not small.pb_skip.any()
    assert small.zone[Z_COMPACT_BLOCKSKIP_FLUSH] == 0


def _free(s, blocks):
    """Free hand-picked (pfn, order) blocks into a bare zone, MOVABLE pageblocks."""
    from allockit.mm.buddy import free_one_page
    from allockit.mm.constants import MIGRATE_MOVABLE

    for pfn, order in blocks:
        free_one_page(s, pfn, order, MIGRATE_MOVABLE)


def _list(s, order, mt=None):
    """The pfns on free_list[mt][order], head first."""
    from allockit.mm.constants import MIGRATE_MOVABLE
    from allockit.mm.lists import free_list_slot

    head = int(free_list_slot(s, MIGRATE_MOVABLE if mt is None else mt, order))
    out, e = [], int(s.page["next"][head])
    while e != head:
        out.append(e)
        e = int(s.page["next"][e])
    return out


def _cc(s, free_pfn, order, fail=0, init_free=0):
    from allockit.mm.state import (
        Z_CC_FAST_SEARCH_FAIL,
        Z_CC_FAST_START_PFN,
        Z_CC_FREE_PFN,
        Z_CC_SEARCH_ORDER,
        Z_COMPACT_CACHED_FREE,
        Z_COMPACT_INIT_FREE,
    )

    s.zone[Z_CC_FREE_PFN] = free_pfn
    s.zone[Z_COMPACT_CACHED_FREE] = free_pfn
    s.zone[Z_CC_SEARCH_ORDER] = order
    s.zone[Z_CC_FAST_SEARCH_FAIL] = fail
    s.zone[Z_CC_FAST_START_PFN] = 0
    s.zone[Z_COMPACT_INIT_FREE] = init_free


def test_list_rotations_are_the_kernels_cut_and_splice():
    from conftest import bare_state

    from allockit.mm.constants import MIGRATE_MOVABLE
    from allockit.mm.lists import free_list_slot, list_rotate_after, list_rotate_before

    s = bare_state()
    _free(s, [(p, 0) for p in (10, 20, 30, 40, 50)])  # each at the head: 50 40 30 20 10
    assert _list(s, 0) == [50, 40, 30, 20, 10]
    head = int(free_list_slot(s, MIGRATE_MOVABLE, 0))
    list_rotate_before(s, head, 30)  # move_freelist_head: 30 first, 50 40 after the rest
    assert _list(s, 0) == [30, 20, 10, 50, 40]
    list_rotate_after(s, head, 10)  # move_freelist_tail: 10 last
    assert _list(s, 0) == [50, 40, 30, 20, 10]
    check_invariants(s)


def test_fast_isolate_freepages_takes_a_block_high_in_the_zone():
    """Searching the MOVABLE lists from order-1 down, from the tail, one entry per order (the
    kernel's ``min(1U, ...)``): a block in the top quarter of the space between the scanners
    is taken at once; failing that, one in the top half."""
    from conftest import bare_state

    from allockit.mm.compaction import fast_isolate_freepages
    from allockit.mm.constants import MIGRATE_ASYNC
    from allockit.mm.migrate import nr_freepages
    from allockit.mm.state import Z_CC_FAST_SEARCH_FAIL, Z_CC_SEARCH_ORDER, Z_FREEPAGES

    s = bare_state()
    # free scanner at 3584, migrate scanner at 0: top quarter from 2560, top half from 1792
    _free(s, [(3000, 2), (100, 2), (2000, 1), (3400, 0), (3500, 0), (3600, 0)])
    assert _list(s, 2) == [100, 3000]  # 3000 at the tail, looked at first
    _cc(s, 3584, 4, init_free=4096)  # not the scan's start
    fast_isolate_freepages(s, 4, 0, 32, True, MIGRATE_ASYNC)
    assert s.zone[Z_FREEPAGES] == 1
    assert s.zone[Z_FREEPAGES + 1 : Z_FREEPAGES + 3].tolist() == [3000, 2]
    assert nr_freepages(s) == 4
    assert s.zone[Z_CC_SEARCH_ORDER] == 2 and s.zone[Z_CC_FAST_SEARCH_FAIL] == 0
    assert _list(s, 2) == [100] and sorted(_list(s, 0)) == [3400, 3500, 3600]
    check_invariants(s)
    # the order-2 tail is low: order 2 is done after one entry, order 1 gives 2000 (top half)
    s = bare_state()
    _free(s, [(100, 2), (3000, 2), (2000, 1)])  # order 2: head 3000, tail 100
    _cc(s, 3584, 4, init_free=4096)
    fast_isolate_freepages(s, 4, 0, 32, True, MIGRATE_ASYNC)
    assert s.zone[Z_FREEPAGES + 1 : Z_FREEPAGES + 3].tolist() == [2000, 1]
    assert _list(s, 2) == [3000, 100]  # untouched: the entry looked at was already the tail


def test_fast_isolate_freepages_falls_back_to_the_top_half_then_gives_up():
    from conftest import bare_state

    from allockit.mm.compaction import fast_isolate_freepages
    from allockit.mm.constants import MIGRATE_ASYNC, MIGRATE_SYNC_LIGHT
    from allockit.mm.state import (
        Z_CC_FAST_SEARCH_FAIL,
        Z_CC_FREE_PFN,
        Z_COMPACT_CACHED_FREE,
        Z_FREEPAGES,
    )

    # only the top half (from 1792) has one: taken when nothing is in the top quarter
    s = bare_state()
    _free(s, [(1900, 1), (100, 1)])
    _cc(s, 3584, 4, init_free=4096)
    fast_isolate_freepages(s, 4, 0, 32, True, MIGRATE_ASYNC)
    assert s.zone[Z_FREEPAGES + 1] == 1900
    # nothing above the top half: a failed search; at the scan's start (the free scanner at
    # compact_init_free_pfn) the free scanner jumps to the highest free page's pageblock, and
    # sync compaction takes that pageblock's free pages (fast_isolate_around)
    s = bare_state()
    _free(s, [(1000, 0), (1010, 1), (100, 0)])
    _cc(s, 3584, 4, init_free=3584)
    fast_isolate_freepages(s, 4, 0, 32, True, MIGRATE_SYNC_LIGHT)
    assert s.zone[Z_CC_FAST_SEARCH_FAIL] == 1
    assert s.zone[Z_CC_FREE_PFN] == 512
    taken = sorted(s.zone[Z_FREEPAGES + 1 : Z_FREEPAGES + 1 + 2 * s.zone[Z_FREEPAGES] : 2])
    assert taken == [1000, 1010] and _list(s, 0) == [100]
    assert s.zone[Z_COMPACT_CACHED_FREE] == 3584  # highest (512) is below it: unchanged
    check_invariants(s)


def test_fast_find_migrateblock_jumps_to_a_pageblock_with_free_pages():
    """A movable costly-order request: the migrate scanner jumps to the first pageblock in the
    first half of the space between the scanners that holds a free order-3 block, marks it
    skipped and rotates the list; an unmovable request or order 3 scans linearly."""
    from conftest import bare_state

    from allockit.mm.compaction import CC_DIRECT, fast_find_migrateblock
    from allockit.mm.constants import MIGRATE_MOVABLE, MIGRATE_UNMOVABLE
    from allockit.mm.state import Z_CC_FAST_SEARCH_FAIL, Z_CC_FAST_START_PFN

    s = bare_state()
    _free(s, [(3000, 3), (1200, 3), (2048, 3)])  # list head first: 2048 1200 3000
    _cc(s, 3584, 4)
    assert fast_find_migrateblock(s, 4, MIGRATE_UNMOVABLE, 0, CC_DIRECT) == 0
    assert fast_find_migrateblock(s, 3, MIGRATE_MOVABLE, 0, CC_DIRECT) == 0
    assert fast_find_migrateblock(s, 4, MIGRATE_MOVABLE, 10, CC_DIRECT) == 10  # mid-block
    pfn = fast_find_migrateblock(s, 4, MIGRATE_MOVABLE, 0, CC_DIRECT)
    assert pfn == 1024  # below 1792: 2048 is not, 1200 is
    assert s.pb_skip.tolist() == [0, 0, 1, 0, 0, 0, 0, 0]
    assert s.zone[Z_CC_FAST_START_PFN] == 1200 and s.zone[Z_CC_FAST_SEARCH_FAIL] == 0
    assert _list(s, 3) == [3000, 2048, 1200]  # move_freelist_tail
    # its pageblock is now skipped: the next search finds nothing, and the linear scan
    # restarts from the block the fast search had picked
    assert fast_find_migrateblock(s, 4, MIGRATE_MOVABLE, 0, CC_DIRECT) == 1200
    assert s.zone[Z_CC_FAST_SEARCH_FAIL] == 1 and s.zone[Z_CC_FAST_START_PFN] == -1


def test_movable_compaction_starts_at_the_pageblock_the_free_lists_point_to():
    """End to end, a movable order-4 request on a full machine: pageblock 2 holds free
    order-3 blocks between LRU pages, pageblock 0 only LRU pages, and free order-0 pages high
    up serve as targets. ``fast_find_migrateblock`` sends the migrate scanner to pageblock 2,
    where migrating 8 pages frees an order-4 block; the linear scanner would have started at
    pageblock 0 and freed its first 16 pages instead."""
    from conftest import bare_state, lru_pages

    s = bare_state()
    lru_pages(s, 0, 512, anon=True)
    for pfn in range(1024, 1152, 32):  # order-3 free blocks at 1024, 1056, 1088, 1120
        lru_pages(s, pfn + 8, pfn + 32, anon=True)
    lru_pages(s, 1152, 1536, anon=True)
    _free(s, [(pfn, 3) for pfn in range(1024, 1152, 32)])
    _free(s, [(pfn, 0) for pfn in range(2560, 3584, 32)])  # targets, every 32nd page
    r = api.alloc_pages_timed(s, GFP_HIGHUSER_MOVABLE, 4)
    assert r.pfn is not None and 1024 <= r.pfn < 1536, r
    assert r.counters["compact_stall"] == 1 and r.counters["pgmigrate_success"] <= 32
    assert s.pb_skip[2] == 1  # the fast search marked the pageblock it picked
    check_invariants(s)
