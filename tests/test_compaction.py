"""Direct compaction and the order-k slow path (v5.9 rules, kernel-model.md §5)."""

import numpy as np
from conftest import populated

from allockit.mm import api
from allockit.mm.background import EV_FREE, run_background
from allockit.mm.compaction import (
    COMPACT_CONTINUE,
    COMPACT_SKIPPED,
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
    PG_writeback,
)
from allockit.mm.invariants import check_invariants
from allockit.mm.state import Z_CLOCK, Z_COMPACT_DEFER_SHIFT, Z_EV_TAIL
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


def test_fragmentation_index_and_suitability():
    s = fragmented()
    # many free pages, few order-4 blocks: failure would be due to fragmentation
    fi = fragmentation_index(s, 9)
    assert fi == -1000 or fi > 500
    assert compaction_suitable(s, 2, ALLOC_CMA) in (COMPACT_CONTINUE, 8)
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
    s = fragmented(every=2)
    r = api.alloc_pages_timed(s, GFP_KERNEL, 9)
    # without __GFP_RETRY_MAYFAIL a costly order gets one reclaim + compaction round
    assert r.counters.get("allocstall", 0) <= 1
    check_invariants(s)


def test_writeback_pages_are_not_isolated_by_compaction():
    s = fragmented(every=2)
    busy = np.flatnonzero(s.owner >= 0)
    s.flags[busy] |= PG_writeback
    s.page["t_io"][busy] = 10**9
    r = api.alloc_pages_timed(s, GFP_HIGHUSER_MOVABLE | ___GFP_RETRY_MAYFAIL, 9)
    assert r.counters.get("pgmigrate_success", 0) == 0
    assert "wait_writeback" not in r.breakdown_ns
    check_invariants(s)


def test_fast_path_charges_the_calling_task(small):
    """A strategy's alloc_pages served by the fast path costs alloc_page_ns, not zero."""
    from allockit.mm import api
    from allockit.mm.costs import load_costs

    r = api.alloc_pages_timed(small, "GFP_KERNEL", 4, cpu=0)
    assert r.pfn is not None
    assert r.latency_ns == load_costs()["alloc_page_ns"]
    assert r.breakdown_ns == {"alloc": load_costs()["alloc_page_ns"]}
