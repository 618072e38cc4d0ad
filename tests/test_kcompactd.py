"""kcompactd's proactive compaction (v5.9 mm/compaction.c) and ``run_machine``."""

import numpy as np
from conftest import populated
from test_compaction import fragmented

from allockit.mm.background import EV_FREE
from allockit.mm.compaction import (
    extfrag_for_order,
    fragmentation_score_wmark,
    fragmentation_score_zone,
)
from allockit.mm.constants import HPAGE_FRAG_CHECK_INTERVAL_NS
from allockit.mm.introspect import free_counts
from allockit.mm.invariants import check_invariants
from allockit.mm.kcompactd import kcompactd_timeout, run_machine, should_proactive_compact_node
from allockit.mm.state import (
    Z_CLOCK,
    Z_COMPACTION_PROACTIVENESS,
    Z_EV_HEAD,
    Z_EV_TAIL,
    Z_KCOMPACTD_NEXT,
    Z_KSWAPD_ACTIVE,
    Z_PROACTIVE_DEFER,
)
from allockit.mm.vmstat import PGMIGRATE_SUCCESS, SIM_PROACTIVE_COMPACT


def kernel_score(counts: np.ndarray, nr_pages: int, order: int = 9) -> int:
    """``fragmentation_score_zone`` computed from the free blocks per order, as
    /proc/buddyinfo shows them, independently of the model's code."""
    free = sum(int(n) << o for o, n in enumerate(counts))
    suitable = sum(int(n) << (o - order) for o, n in enumerate(counts) if o >= order)
    extfrag = (free - (suitable << order)) * 100 // free if free else 0
    return nr_pages * extfrag // (nr_pages + 1)


def test_fragmentation_score_is_the_kernels():
    s = fragmented()
    counts = free_counts(s).sum(axis=0)
    assert fragmentation_score_zone(s) == kernel_score(counts, s.nr_pages)
    assert extfrag_for_order(s, 0) == 0  # every free page is a block of order >= 0
    # proactiveness 20: compaction starts above 90 and stops at 80
    assert (fragmentation_score_wmark(s, True), fragmentation_score_wmark(s, False)) == (80, 90)
    s.zone[Z_COMPACTION_PROACTIVENESS] = 100
    assert fragmentation_score_wmark(s, True) == 5  # the low watermark is capped at 5


def scattered():
    """Fill the whole machine, then free every other page: free memory only in order-0
    blocks, the fragmentation score at its maximum."""
    s = fragmented(every=2, n=4096)
    assert fragmentation_score_zone(s) > 90
    s.zone[Z_KSWAPD_ACTIVE] = 0  # half the memory is free: kswapd has gone back to sleep
    return s


def test_proactive_compaction_lowers_the_score_to_its_low_watermark():
    s = scattered()
    before = fragmentation_score_zone(s)
    assert should_proactive_compact_node(s)
    kcompactd_timeout(s)
    assert s.zone[SIM_PROACTIVE_COMPACT] == 1
    assert s.zone[PGMIGRATE_SUCCESS] > 0
    after = fragmentation_score_zone(s)
    assert after < before
    assert s.zone[Z_PROACTIVE_DEFER] == 0  # progress: no deferral
    assert s.zone[Z_CLOCK] == 0  # kcompactd's CPU: the calling task's clock did not move
    check_invariants(s)


def test_proactive_compaction_off_or_kswapd_running():
    for field, value in ((Z_COMPACTION_PROACTIVENESS, 0), (Z_KSWAPD_ACTIVE, 1)):
        s = scattered()
        s.zone[field] = value
        assert not should_proactive_compact_node(s)
        kcompactd_timeout(s)
        assert s.zone[SIM_PROACTIVE_COMPACT] == 0 and s.zone[PGMIGRATE_SUCCESS] == 0


def test_proactive_compaction_defers_after_a_run_without_progress():
    """Every in-use page pinned: the run migrates nothing, the score stays, and the next 64
    timeouts that would compact are skipped."""
    s = scattered()
    busy = np.flatnonzero(s.owner >= 0)
    s.page["t_ref"][busy] = 10**9
    s.page["refkind"][busy] = 1  # REF_GUP
    kcompactd_timeout(s)
    assert s.zone[SIM_PROACTIVE_COMPACT] == 1
    assert s.zone[Z_PROACTIVE_DEFER] == 64
    for _ in range(64):
        kcompactd_timeout(s)
    assert s.zone[SIM_PROACTIVE_COMPACT] == 1 and s.zone[Z_PROACTIVE_DEFER] == 0
    kcompactd_timeout(s)
    assert s.zone[SIM_PROACTIVE_COMPACT] == 2


def test_run_machine_runs_kcompactd_at_its_timeouts():
    """``run_machine``: the background's operations up to each 500 ms timeout, then
    kcompactd; the machine is left at the time asked for with the next timeout after it."""
    s = populated(4096)
    n = 4096
    head = int(s.zone[Z_EV_TAIL])
    ev = s.events[head : head + n // 2]
    assert len(ev) == n // 2, "event capacity"
    ev["time"] = 1
    ev["obj"] = np.arange(0, n, 2)
    ev["kind"] = EV_FREE
    s.zone[Z_EV_TAIL] = head + n // 2
    s.zone[Z_KCOMPACTD_NEXT] = HPAGE_FRAG_CHECK_INTERVAL_NS
    t = 3 * HPAGE_FRAG_CHECK_INTERVAL_NS + 7
    run_machine(s, t)
    assert s.zone[Z_EV_HEAD] == s.zone[Z_EV_TAIL]  # the frees ran (before the first timeout)
    assert s.zone[SIM_PROACTIVE_COMPACT] >= 1  # ... and kcompactd compacted after them
    assert s.zone[Z_KCOMPACTD_NEXT] == 4 * HPAGE_FRAG_CHECK_INTERVAL_NS
    check_invariants(s)
