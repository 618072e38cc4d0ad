"""Reclaim by LRU age (mm/vmscan.py, mm/lru.py): each step of v5.9's shrink_* path pinned.

Machines come from ``conftest.populated``: 16 MiB filled with clean page-cache pages of
background objects, on the inactive file list in the order the pagevecs added them.
"""

import numpy as np
import pytest
from conftest import populated

from allockit.mm.background import EV_ACCESS, PK_FILE, apply_event
from allockit.mm.constants import (
    LRU_ACTIVE_FILE,
    LRU_INACTIVE_FILE,
    REF_GUP,
    LRU_PG_active,
    LRU_PG_referenced,
    PG_dirty,
    PG_lru,
    PG_writeback,
)
from allockit.mm.invariants import check_invariants
from allockit.mm.lists import lru_list_slot
from allockit.mm.lru import lru_add_pages, lru_del_page, mark_page_accessed
from allockit.mm.state import Z_CLOCK, Z_KSWAPD_ACTIVE, Z_WATERMARK_BOOST, Z_WMARK
from allockit.mm.vmscan import kswapd_run, try_to_free_pages, wakeup_kswapd_reclaim
from allockit.mm.vmstat import (
    NR_ACTIVE_FILE,
    NR_FREE_CMA_PAGES,
    NR_FREE_PAGES,
    NR_INACTIVE_FILE,
    PGACTIVATE,
    PGDEACTIVATE,
)

N = 2600


def file_machine():
    return populated(N, kinds=np.full(N, PK_FILE))


def lru_order(s, lru):
    """The pfns of LRU list ``lru`` from its tail (oldest) to its head (youngest)."""
    head = lru_list_slot(s, lru)
    out, pfn = [], int(s.prev[head])
    while pfn != head:
        out.append(pfn)
        pfn = int(s.prev[pfn])
    return out


def relink(s, pfns):
    """Put the machine's LRU pages back on the lists in the order ``pfns`` (oldest first)."""
    for p in pfns:
        lru_del_page(s, p)
    lru_add_pages(s, np.asarray(pfns, dtype=np.int64))


def reclaimed_pfns(s, before):
    """The pages that were on the LRU in ``before`` and are no longer on it (reclaimed)."""
    return [p for p in before if not s.flags[p] & PG_lru]


def test_direct_reclaim_frees_the_oldest_pages_not_the_lowest_addresses():
    s = file_machine()
    lru = lru_order(s, LRU_INACTIVE_FILE)
    age = np.random.default_rng(1).permutation(lru)  # ages unrelated to addresses
    relink(s, age)
    assert lru_order(s, LRU_INACTIVE_FILE) == list(age)
    got = try_to_free_pages(s, 0)
    assert got >= 32
    freed = reclaimed_pfns(s, lru)
    assert sorted(freed) == sorted(age[:got])  # the tail of the list, in age order
    assert sorted(freed) != sorted(lru)[:got]  # not the lowest pfns (lumpy reclaim)
    assert s.zone[NR_INACTIVE_FILE] == len(lru) - got
    check_invariants(s)


def test_pages_reclaim_cannot_free_are_activated_or_kept():
    s = file_machine()
    dirty, writeback, pinned = lru_order(s, LRU_INACTIVE_FILE)[:3]
    s.flags[dirty] |= PG_dirty
    s.flags[writeback] |= PG_writeback
    s.page[writeback]["t_io"] = 10**9
    s.page[pinned]["t_ref"] = 10**9
    s.page[pinned]["refkind"] = REF_GUP
    try_to_free_pages(s, 0)
    active = lru_order(s, LRU_ACTIVE_FILE)
    assert dirty in active and writeback in active  # activate_locked
    inactive = lru_order(s, LRU_INACTIVE_FILE)
    assert pinned in inactive[-40:]  # keep_locked: back at the head, among the youngest
    assert s.zone[PGACTIVATE] == 2
    check_invariants(s)


def test_second_access_activates_a_page():
    s = file_machine()
    pfn = lru_order(s, LRU_INACTIVE_FILE)[0]
    mark_page_accessed(s, pfn)
    assert s.page[pfn]["lru_flags"] == LRU_PG_referenced
    assert pfn in lru_order(s, LRU_INACTIVE_FILE)
    mark_page_accessed(s, pfn)
    assert s.page[pfn]["lru_flags"] == LRU_PG_active
    assert lru_order(s, LRU_ACTIVE_FILE) == [pfn]
    check_invariants(s)


def test_access_event_marks_the_objects_page():
    s = file_machine()
    obj = 7
    pfn = int(s.obj_pfn[obj])
    ev = s.events[N]
    ev["kind"], ev["obj"], ev["time"] = EV_ACCESS, obj, int(s.zone[Z_CLOCK])
    for _ in range(2):
        apply_event(s, N)
    assert s.page[pfn]["lru_flags"] & LRU_PG_active
    assert pfn in lru_order(s, LRU_ACTIVE_FILE)


def test_referenced_unmapped_page_is_still_reclaimed_once():
    """page_check_references: PG_referenced alone (no mapping) is PAGEREF_RECLAIM_CLEAN."""
    s = file_machine()
    oldest = lru_order(s, LRU_INACTIVE_FILE)[0]
    mark_page_accessed(s, oldest)
    try_to_free_pages(s, 0)
    assert not s.flags[oldest] & PG_lru


def test_active_list_is_aged_only_while_the_inactive_list_is_low():
    s = file_machine()
    lru = lru_order(s, LRU_INACTIVE_FILE)
    protected = lru[: len(lru) // 3]  # the oldest third: active
    for p in protected:
        mark_page_accessed(s, p)
        mark_page_accessed(s, p)
    assert s.zone[NR_ACTIVE_FILE] == len(protected)
    try_to_free_pages(s, 0)
    # the inactive list (two thirds) is not low: no deactivation, the young pages go
    assert s.zone[PGDEACTIVATE] == 0
    assert all(s.flags[p] & PG_lru for p in protected)
    for _ in range(60):
        try_to_free_pages(s, 0)
    # once the inactive list is low, the active list's tail is deactivated and reclaimed
    assert s.zone[PGDEACTIVATE] > 0
    assert not s.flags[protected[0]] & PG_lru
    check_invariants(s)


@pytest.mark.parametrize("boost", [0, 200])
def test_kswapd_balances_to_the_high_watermark_then_sleeps(boost):
    s = file_machine()
    free = int(s.zone[NR_FREE_PAGES] - s.zone[NR_FREE_CMA_PAGES])
    s.zone[Z_WMARK : Z_WMARK + 3] = [free + 100, free + 200, free + 300]
    s.zone[Z_WATERMARK_BOOST] = boost
    before = lru_order(s, LRU_INACTIVE_FILE)
    wakeup_kswapd_reclaim(s)
    assert s.zone[Z_KSWAPD_ACTIVE] == 1
    kswapd_run(s, int(s.zone[Z_CLOCK]) + 10**9)
    assert s.zone[Z_KSWAPD_ACTIVE] == 0 and s.zone[Z_WATERMARK_BOOST] == 0
    now_free = int(s.zone[NR_FREE_PAGES] - s.zone[NR_FREE_CMA_PAGES])
    assert now_free >= free + 300
    freed = reclaimed_pfns(s, before)
    assert sorted(freed) == sorted(before[: len(freed)])  # oldest first
    check_invariants(s)


def test_kswapd_is_bounded_by_its_cpu_time():
    s = file_machine()
    free = int(s.zone[NR_FREE_PAGES])
    s.zone[Z_WMARK : Z_WMARK + 3] = [free + 1000, free + 2000, free + 3000]
    wakeup_kswapd_reclaim(s)
    kswapd_run(s, int(s.zone[Z_CLOCK]) + 5_000)  # 5 us: a few dozen pages at most
    assert int(s.zone[NR_FREE_PAGES]) - free < 100
    assert s.zone[Z_KSWAPD_ACTIVE] == 1
