"""Scenario tests pinning each rule of migration, isolation, alloc_contig_range and cma_alloc.

Machines come from ``conftest.populated``: 16 MiB with a 4 MiB CMA area at pfns 3072-4095,
filled with anonymous and file LRU pages of background objects.
"""

import numpy as np
import pytest
from conftest import bare_state, lru_pages, populated, read_file

from allockit.mm import api, copy_state
from allockit.mm.background import PK_FILE, PK_FILE_NOMIGRATE
from allockit.mm.buddy import free_one_page
from allockit.mm.constants import (
    C_DRAIN_BASE,
    C_MIGRATE_PAGE,
    EBUSY,
    EINVAL,
    ENOMEM,
    MIGRATE_CMA,
    MIGRATE_ISOLATE,
    MIGRATE_MOVABLE,
    REF_GUP,
    REF_JOURNAL,
    PG_dirty,
    PG_lru,
    PG_pagevec,
    PG_writeback,
)
from allockit.mm.contig import ACR_ASYNC, ACR_ONE_TRY
from allockit.mm.drain import lru_cache_disable, lru_cache_enable
from allockit.mm.invariants import check_invariants
from allockit.mm.isolation import set_migratetype_isolate, undo_isolate_page_range
from allockit.mm.pagestate import lru_add_drain_all_pages
from allockit.mm.state import Z_CLOCK, Z_COST, Z_LRU_DISABLE_COUNT, Z_WMARK
from allockit.mm.vmscan import try_to_free_pages
from allockit.mm.vmstat import NR_FREE_PAGES
from allockit.params import load_costs

CMA_BASE, CMA_END = 3072, 4096


def cma_pages_in_use(s, lo=CMA_BASE, hi=CMA_END, kind=None):
    pfns = np.flatnonzero(s.owner[lo:hi] >= 0) + lo
    if kind == "anon":
        pfns = [p for p in pfns if s.flags[p] & 0x40]
    elif kind == "file":
        pfns = [p for p in pfns if not s.flags[p] & 0x40]
    return [int(p) for p in pfns]


def pin(s, pfn, us):
    s.page[pfn]["t_ref"] = us
    s.page[pfn]["refkind"] = REF_GUP


def test_whole_cma_area_allocates_when_nothing_blocks():
    s = populated()
    r = api.cma_alloc(s, 1024, align=10)
    assert r.ret == 0 and r.pfn == CMA_BASE
    assert (s.owner[CMA_BASE:CMA_END] == -3).all()
    assert r.counters["pgmigrate_success"] > 0
    assert r.counters["sim_reclaim_clean"] > 0  # clean page cache was dropped, not migrated
    check_invariants(s)
    # every object that lived in the area lives elsewhere now (or was dropped as clean cache)
    moved = s.obj_pfn[s.obj_pfn >= 0]
    assert not ((moved >= CMA_BASE) & (moved < CMA_END)).any()


def test_clean_page_cache_is_dropped_not_migrated():
    n = 2600
    s = populated(n, kinds=np.full(n, PK_FILE))
    victims = cma_pages_in_use(s, CMA_BASE, CMA_BASE + 512)
    r = api.alloc_contig_range(s, CMA_BASE, CMA_BASE + 512)
    assert r.ret == 0
    assert r.counters.get("pgmigrate_success", 0) == 0
    assert r.counters["sim_reclaim_clean"] == len(victims)
    assert "drop_clean" in r.breakdown_ns and "migrate" not in r.breakdown_ns
    check_invariants(s)


def test_dirty_page_cache_is_migrated():
    n = 2600
    s = populated(n, kinds=np.full(n, PK_FILE))
    victims = cma_pages_in_use(s, CMA_BASE, CMA_BASE + 512)
    owners = [int(s.owner[p]) for p in victims]
    for p in victims:
        s.flags[p] |= PG_dirty
    r = api.alloc_contig_range(s, CMA_BASE, CMA_BASE + 512)
    assert r.ret == 0
    assert r.counters["pgmigrate_success"] == len(victims)
    # each object moved with its dirtiness
    for o in owners:
        assert s.obj_pfn[o] >= 0 and s.flags[s.obj_pfn[o]] & PG_dirty
    check_invariants(s)


def test_pinned_anon_page_fails_the_range_after_everything_else_migrated():
    s = populated()
    anon = cma_pages_in_use(s, CMA_BASE, CMA_BASE + 1024, "anon")
    target = anon[len(anon) // 2]
    pin(s, target, 10**9)  # pinned for the whole test
    r = api.alloc_contig_range(s, CMA_BASE, CMA_BASE + 1024)
    assert r.ret == -EBUSY
    assert r.extra["busy_pfn"] == target
    # the pinned anon page was never isolated; every other in-use page left the range
    left = cma_pages_in_use(s)
    assert left == [target]
    assert s.pb_mt[CMA_BASE >> 9] == MIGRATE_CMA  # isolation undone
    check_invariants(s)


def test_pinned_file_page_stops_migration_after_five_tries():
    """A pinned page that is isolated (file) returns -EAGAIN 5 x 10 times: v5.9 then gives up
    on the rest of the range too (the loop breaks), and the test finds a busy page."""
    s = populated()
    files = cma_pages_in_use(s, CMA_BASE, CMA_END, "file")
    target = files[0]
    pin(s, target, 10**9)
    r = api.alloc_contig_range(s, CMA_BASE, CMA_END)
    assert r.ret == -EBUSY
    assert r.counters["sim_migrate_eagain"] == 50  # 5 migrate_pages calls x 10 passes
    later = [p for p in cma_pages_in_use(s) if p > target + 64]
    assert later, "pages after the stuck batch were not migrated"
    check_invariants(s)


def test_a_pin_blocks_the_range_only_while_it_lasts():
    """The same page pinned for a second makes the range fail on it; pinned for 1 us (over
    before migration reaches it: pins end lazily at their release time) it is migrated."""
    base = populated()
    target = cma_pages_in_use(base, CMA_BASE, CMA_BASE + 512, "file")[0]
    held = copy_state(base)
    pin(held, target, 10**6)
    r = api.alloc_contig_range(held, CMA_BASE, CMA_BASE + 512)
    assert r.ret == -EBUSY and r.extra["busy_pfn"] == target
    assert r.counters["sim_migrate_eagain"] == 50
    short = copy_state(base)
    pin(short, target, 1)
    r = api.alloc_contig_range(short, CMA_BASE, CMA_BASE + 512)
    assert r.ret == 0
    assert r.counters.get("sim_migrate_eagain", 0) == 0
    obj = int(base.owner[target])  # the background object that lived there now lives elsewhere
    assert obj >= 0 and not CMA_BASE <= short.obj_pfn[obj] < CMA_BASE + 512
    check_invariants(short)


def test_writeback_is_waited_for_in_sync_mode():
    s = populated()
    files = cma_pages_in_use(s, CMA_BASE, CMA_BASE + 512, "file")
    p = files[0]
    s.flags[p] |= PG_writeback
    s.page[p]["t_io"] = 50_000  # writeback completes at 50 ms
    r = api.alloc_contig_range(s, CMA_BASE, CMA_BASE + 512)
    assert r.ret == 0
    assert r.counters["sim_writeback_wait"] == 1
    assert r.breakdown_ns["wait_writeback"] > 0
    assert s.clock >= 50_000_000  # the latency includes the wait
    check_invariants(s)


def test_writeback_fails_async_mode():
    s = populated()
    files = cma_pages_in_use(s, CMA_BASE, CMA_BASE + 512, "file")
    p = files[0]
    s.flags[p] |= PG_writeback
    s.page[p]["t_io"] = 50_000
    r = api.alloc_contig_range(s, CMA_BASE, CMA_BASE + 512, flags=ACR_ASYNC | ACR_ONE_TRY)
    assert r.ret == -EBUSY
    assert "wait_writeback" not in r.breakdown_ns
    assert s.clock < 50_000_000
    check_invariants(s)


def test_dirty_page_without_migratepage_is_written_out_then_migrated():
    n = 2600
    s = populated(n, kinds=np.full(n, PK_FILE_NOMIGRATE))
    p = cma_pages_in_use(s, CMA_BASE, CMA_BASE + 512)[0]
    s.flags[p] |= PG_dirty
    r = api.alloc_contig_range(s, CMA_BASE, CMA_BASE + 512)
    # writeout starts writeback (-EAGAIN); a forced pass then waits for it
    assert r.ret == 0
    assert r.counters["sim_writeback_wait"] == 1
    assert r.latency_ns >= load_costs()["writeout_ns"]


def test_breakdown_sums_to_latency():
    s = populated()
    files = cma_pages_in_use(s, CMA_BASE, CMA_BASE + 1024, "file")
    s.flags[files[3]] |= PG_writeback
    s.page[files[3]]["t_io"] = 7_000
    r = api.cma_alloc(s, 1024, align=10)
    assert r.latency_ns > 0
    assert sum(r.breakdown_ns.values()) == r.latency_ns


def test_isolation_refuses_unmovable_in_movable_block_never_in_cma_block():
    s = bare_state(nr_pages=4096)
    s.pb_mt[6:8] = MIGRATE_CMA
    from allockit.mm.state import Z_CMA_BASE, Z_CMA_COUNT

    s.zone[Z_CMA_BASE], s.zone[Z_CMA_COUNT] = 3072, 1024
    # every page of the bare state is "allocated" with no LRU flag: unmovable kernel memory
    assert set_migratetype_isolate(s, 0, 0, MIGRATE_MOVABLE, False) == -EBUSY
    assert s.pb_mt[0] == MIGRATE_MOVABLE
    lru_pages(s, 0, 512)  # all movable now
    assert set_migratetype_isolate(s, 0, 0, MIGRATE_MOVABLE, False) == 0
    assert s.pb_mt[0] == MIGRATE_ISOLATE
    # a CMA block is isolated for MIGRATE_CMA whatever its pages are
    assert set_migratetype_isolate(s, 0, 3072, MIGRATE_CMA, False) == 0
    # but not for another migratetype
    assert set_migratetype_isolate(s, 0, 3584, MIGRATE_MOVABLE, False) == -EBUSY
    # already isolated: -EBUSY (a concurrent user)
    assert set_migratetype_isolate(s, 0, 3072, MIGRATE_CMA, False) == -EBUSY
    undo_isolate_page_range(s, 0, 512, MIGRATE_MOVABLE)
    undo_isolate_page_range(s, 3072, 3584, MIGRATE_CMA)
    check_invariants(s)


def test_isolated_free_pages_leave_the_counters_and_come_back():
    s = bare_state(nr_pages=4096)
    free_one_page(s, 0, 9, MIGRATE_MOVABLE)
    lru_pages(s, 512, 1024)
    free0 = int(s.zone[NR_FREE_PAGES])
    assert set_migratetype_isolate(s, 0, 0, MIGRATE_MOVABLE, False) == 0
    assert int(s.zone[NR_FREE_PAGES]) == free0 - 512
    undo_isolate_page_range(s, 0, 512, MIGRATE_MOVABLE)
    assert int(s.zone[NR_FREE_PAGES]) == free0
    check_invariants(s)


def test_cma_alloc_slides_one_alignment_step_and_restarts_at_zero():
    s = populated()
    anon = cma_pages_in_use(s, CMA_BASE, CMA_BASE + 16, "anon")
    assert anon
    pin(s, anon[0], 10**9)
    r = api.cma_alloc(s, 16, align=4)
    # the first 16-page window (bit 0) holds the pinned page: -EBUSY, slide by 16 pages
    assert r.ret == 0 and r.pfn == CMA_BASE + 16
    assert r.extra["tries"] == 2
    assert r.counters["sim_cma_alloc_retry"] == 1
    r2 = api.cma_alloc(s, 16, align=4)
    # the next call starts at bit 0 again: it retries the busy window before moving on
    assert r2.ret == 0 and r2.pfn == CMA_BASE + 32
    assert r2.extra["tries"] == 2
    check_invariants(s)


def test_cma_alloc_align0_slides_one_page():
    s = populated()
    anon = cma_pages_in_use(s, CMA_BASE, CMA_BASE + 64, "anon")
    busy = anon[0]
    pin(s, busy, 10**9)
    window = busy - CMA_BASE + 1  # the first window that contains the pinned page at its end
    r = api.cma_alloc(s, window, align=0)
    # windows starting at bits 0, 1, ..., busy-base all contain the page: one try each
    assert r.ret == 0 and r.pfn == busy + 1
    assert r.extra["tries"] == window + 1


def test_enomem_from_migration_target_aborts_without_sliding():
    s = populated(cma_size="4M")
    # no free page anywhere outside the CMA window: migration targets cannot be allocated
    s.zone[Z_WMARK : Z_WMARK + 3] = 10**6
    r = api.cma_alloc(s, 512, align=9)
    assert r.ret == -ENOMEM
    assert r.extra["tries"] == 1
    assert r.counters.get("sim_cma_alloc_retry", 0) == 0
    assert r.pfn is None
    check_invariants(s)


@pytest.mark.parametrize(("kernel", "rounds"), [("5.9", 5), ("6.1", 1)])
def test_enomem_is_retried_up_to_the_try_limit_before_v5_13(kernel, rounds):
    """v5.9/v5.10 keep looping after a -ENOMEM round (five rounds of the batch); v5.13 and
    later stop at the first one."""
    s = populated(cma_size="4M", kernel=kernel)
    s.zone[Z_WMARK : Z_WMARK + 3] = 10**6  # no migration target can be allocated
    r = api.alloc_contig_range(s, CMA_BASE, CMA_BASE + 512)
    assert r.ret == -ENOMEM
    assert r.counters["sim_migrate_enomem"] == rounds
    check_invariants(s)


def test_cma_release_returns_pages_through_pcp():
    s = populated()
    r = api.cma_alloc(s, 512, align=9)
    assert r.ret == 0
    rel = api.cma_release(s, r.pfn, 512, cpu=1)
    assert rel.ret == 0
    assert s.cma_bitmap[:512].sum() == 0
    check_invariants(s)
    with pytest.raises(ValueError, match="not allocated by cma_alloc"):
        api.cma_release(s, r.pfn, 512)


def test_drain_per_pageblock_in_v59_once_in_v61():
    s59 = populated(kernel="5.9")
    r59 = api.alloc_contig_range(s59, CMA_BASE, CMA_BASE + 16)
    s61 = populated(kernel="6.1")
    r61 = api.alloc_contig_range(s61, CMA_BASE, CMA_BASE + 16)
    # v5.9: MAX_ORDER-aligned isolation (2 pageblocks), a drain after each
    assert r59.counters["sim_isolate_pageblock"] == 2
    assert r59.counters["sim_drain_all_pages"] == 2
    # v6.1: only the touched pageblock, one drain per call
    assert r61.counters["sim_isolate_pageblock"] == 1
    assert r61.counters["sim_drain_all_pages"] == 1
    check_invariants(s59)
    check_invariants(s61)


def test_lru_cache_disable_sends_added_pages_to_the_lru_at_once():
    """v5.13's lru_cache_disable: while it holds, lru_cache_add flushes the pagevec (the
    pages here are read into the page cache, as the build reads its files)."""
    n = 2600
    s = populated(n, kinds=np.full(n, PK_FILE))
    try_to_free_pages(s, 0)  # room for the new pages
    lru_add_drain_all_pages(s)

    first = read_file(s, n)  # an object id no event has used
    assert not s.flags[first] & PG_lru  # cached in CPU 0's pagevec
    lru_cache_disable(s)  # drains every CPU, that page included
    assert s.flags[first] & PG_lru
    second = read_file(s, n + 1)
    assert s.flags[second] & PG_lru and not s.flags[second] & PG_pagevec
    lru_cache_enable(s)
    assert s.zone[Z_LRU_DISABLE_COUNT] == 0
    check_invariants(s)


@pytest.mark.parametrize(("kernel", "lru_drains"), [("5.9", 2), ("6.1", 1)])
def test_alloc_contig_range_drains_the_lru_twice_before_v5_13_then_disables_it(kernel,
                                                                              lru_drains):
    """Up to v5.12: migrate_prep's drain and the drain after migration; from v5.13 one forced
    drain in lru_cache_disable, and the pagevecs stay off until the migration is done."""
    s = populated(kernel=kernel)
    r = api.alloc_contig_range(s, CMA_BASE, CMA_BASE + 16)
    assert r.ret == 0
    assert r.counters["sim_lru_add_drain_all"] == lru_drains
    assert s.zone[Z_LRU_DISABLE_COUNT] == 0  # enabled again
    check_invariants(s)


def test_drain_cost_depends_on_busy_cpus():
    from allockit.mm.state import Z_BUSY_CPUS

    costs = load_costs()
    quiet = populated()
    rq = api.alloc_contig_range(quiet, CMA_BASE, CMA_BASE + 512)
    busy = populated()
    busy.zone[Z_BUSY_CPUS] = 2
    assert (busy.pcp_count > 0).any()  # the busy CPUs hold pcp pages: drains must wait
    rb = api.alloc_contig_range(busy, CMA_BASE, CMA_BASE + 512)
    assert (
        rq.breakdown_ns["drain_pcp"] == rq.counters["sim_drain_all_pages"] * costs["drain_base_ns"]
    )
    assert rb.breakdown_ns["drain_pcp"] > rq.breakdown_ns["drain_pcp"]


def test_same_seed_same_result():
    a = populated(seed=3)
    b = populated(seed=3)
    pin(a, cma_pages_in_use(a, kind="anon")[5], 10**9)
    pin(b, cma_pages_in_use(b, kind="anon")[5], 10**9)
    ra = api.cma_alloc(a, 256, align=8)
    rb = api.cma_alloc(b, 256, align=8)
    assert ra == rb
    assert (a.page == b.page).all() and (a.zone == b.zone).all()


@pytest.mark.parametrize(
    "start, end",
    [(100, 100), (200, 100), (-1, 10), (4000, 5000)],
)
def test_alloc_contig_range_bad_range_is_einval(start, end):
    s = populated()
    before = s.page.copy()
    r = api.alloc_contig_range(s, start, end)
    assert r.ret == -EINVAL and r.latency_ns == 0
    assert (s.page == before).all()


def test_alloc_contig_range_mixed_migratetypes_is_einval():
    s = populated()
    r = api.alloc_contig_range(s, CMA_BASE - 512, CMA_BASE + 512)  # MOVABLE + CMA blocks
    assert r.ret == -EINVAL
    r = api.alloc_contig_range(s, CMA_BASE, CMA_BASE + 512, migratetype="Movable")
    assert r.ret == -EINVAL


def test_cma_alloc_count_zero_or_too_large():
    s = populated()
    with pytest.raises(ValueError, match="count: 0 is not a page count"):
        api.cma_alloc(s, 0)
    r = api.cma_alloc(s, 4096)
    assert r.ret == -ENOMEM and r.pfn is None and r.extra["tries"] == 0
    with pytest.raises(ValueError, match="align: 12"):
        api.cma_alloc(s, 16, align=12)


def test_costs_file_errors(tmp_path):
    from allockit.mm.config import ConfigError

    bad = tmp_path / "c.yaml"
    bad.write_text("migrate_page_ns: {value: 1, source: x}\n: : :")
    with pytest.raises(ConfigError, match="malformed YAML"):
        load_costs(bad)
    bad.write_text("bogus_ns: {value: 1, source: x}\n")
    with pytest.raises(ConfigError, match="unknown cost 'bogus_ns'"):
        load_costs(bad)
    with pytest.raises(ConfigError, match="costs.migrate_page_ns: -5 is not a duration"):
        load_costs(migrate_page_ns=-5)
    assert load_costs(migrate_page_ns=7)["migrate_page_ns"] == 7


def test_cost_constants_reach_the_state():
    s = populated()
    assert s.zone[Z_COST + C_MIGRATE_PAGE] == load_costs()["migrate_page_ns"]
    assert s.zone[Z_COST + C_DRAIN_BASE] == load_costs()["drain_base_ns"]
    assert s.zone[Z_CLOCK] == 0


def test_busy_page_census_names_what_blocked_the_range():
    """test_pages_isolated counts the first busy page by class (the lab's census): a page
    jbd2 holds is 'journal', a GUP-pinned one 'pinned'."""
    s = populated()
    files = cma_pages_in_use(s, CMA_BASE, CMA_BASE + 512, "file")
    pin(s, files[0], 10**9)
    s.page[files[0]]["refkind"] = REF_JOURNAL
    r = api.alloc_contig_range(s, CMA_BASE, CMA_BASE + 512)
    assert r.ret == -EBUSY and r.extra["busy_pfn"] == files[0]
    assert r.counters["sim_busy_journal"] == 1
    assert r.counters.get("sim_busy_pinned", 0) == 0
    pin(s, files[0], 10**9)  # the same page, now a GUP pin
    r = api.alloc_contig_range(s, CMA_BASE, CMA_BASE + 512)
    assert r.ret == -EBUSY
    assert r.counters["sim_busy_pinned"] == 1
    assert r.counters.get("sim_busy_journal", 0) == 0
    check_invariants(s)


def test_costs_file_with_a_key_twice_is_refused(tmp_path):
    from allockit.mm.config import ConfigError

    bad = tmp_path / "c.yaml"
    bad.write_text("migrate_page_ns: {value: 1, source: x}\n"
                   "migrate_page_ns: {value: 2, source: x}\n")
    with pytest.raises(ConfigError, match=r"key 'migrate_page_ns' appears twice .*\(line 2"):
        load_costs(bad)


def test_cma_alloc_bulk_places_chunks_with_the_callers_alignment():
    """As posted: first fit with ``cma_bitmap_aligned_mask(cma, align)``, the chunk heap's page
    order, not the chunk's: with the area's first 16 pages taken, the first 2 MiB chunk starts
    right after them, straddling two pageblocks."""
    from allockit.mm.cma import cma_alloc_bulk

    s = populated()
    assert api.cma_alloc(s, 16, align=4).pfn == CMA_BASE
    out = np.zeros(32, dtype=np.int64)
    got, ret = cma_alloc_bulk(s, 1, 4, 4, 32, True, out)
    assert ret == 0 and got == 32
    assert out[0] == CMA_BASE + 16 and out[-1] == CMA_BASE + 16 + 31 * 16
    check_invariants(s)


def test_chunk_heap_retries_until_the_last_call_in_normal_mode():
    """The posted v2 chunk heap: up to ``calls`` calls while -EBUSY, each from the area's
    start; one call when nothing blocks."""
    from allockit.strategies import Request, get

    s = populated()
    free = get("cma_alloc_bulk")(copy_state(s), Request(order=4, nr_elem=64, params={"calls": 5}))
    assert free.got == 64 and free.calls == 2  # two 2 MiB chunks, one call
    pin(s, cma_pages_in_use(s, CMA_BASE, CMA_BASE + 512, "anon")[0], 10**9)
    one = get("cma_alloc_bulk")(copy_state(s), Request(order=4, nr_elem=64))
    five = get("cma_alloc_bulk")(copy_state(s), Request(order=4, nr_elem=64,
                                                        params={"calls": 5}))  # fmt: skip
    assert one.got == five.got == 32  # the pinned chunk never comes free
    # the first call tries both chunks; each later one searches from the start again and
    # tries the pinned chunk, the only place left
    assert one.calls == 2 and five.calls == 2 + 4
    assert one.ret == five.ret == -EBUSY
