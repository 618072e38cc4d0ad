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
    other page free (the migration targets) and nothing else free. Async compaction migrates
    the 8 pages away, drains its own pcp list as its scanner leaves the chunk
    (``check_drain``), and the chunk, merging to order 4, is captured for the call."""
    from conftest import bare_state, lru_pages

    from allockit.mm.buddy import free_one_page, set_pageblock_migratetype
    from allockit.mm.constants import MIGRATE_MOVABLE, MIGRATE_UNMOVABLE

    s = bare_state()
    set_pageblock_migratetype(s, 512, MIGRATE_UNMOVABLE)
    lru_pages(s, 512, 520, anon=True)
    free_one_page(s, 520, 3, MIGRATE_UNMOVABLE)
    for pfn in range(1536, 1664, 2):
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
