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
