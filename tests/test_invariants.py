"""The invariant checker must catch each kind of corruption, or property tests prove nothing."""

import pytest
from conftest import bare_state, lru_pages

from allockit.mm.buddy import free_one_page
from allockit.mm.constants import (
    MIGRATE_CMA,
    MIGRATE_HIGHATOMIC,
    MIGRATE_ISOLATE,
    MIGRATE_MOVABLE,
    MIGRATE_UNMOVABLE,
    LRU_PG_active,
    PG_buddy,
    PG_isolated,
    PG_lru,
    PG_pcp,
)
from allockit.mm.invariants import InvariantError, check_invariants
from allockit.mm.lists import free_list_slot, list_add, list_del
from allockit.mm.pcp import free_unref_page
from allockit.mm.state import Z_CMA_BASE, Z_CMA_COUNT, Z_NR_ISOLATE_PAGEBLOCK
from allockit.mm.vmstat import NR_FREE_CMA_PAGES, NR_FREE_PAGES, NR_INACTIVE_FILE


@pytest.fixture
def s():
    st = bare_state()
    free_one_page(st, 0, 3, MIGRATE_MOVABLE)
    free_one_page(st, 64, 0, MIGRATE_MOVABLE)
    free_unref_page(st, 0, 100)
    free_unref_page(st, 1, 102)
    check_invariants(st)
    return st


def corrupt_and_expect(st, code):
    with pytest.raises(InvariantError, match=f"invariant {code} violated"):
        check_invariants(st)


def test_broken_ring(s):
    s.prev[0] = 5
    corrupt_and_expect(s, 1)


def test_wrong_order_on_list(s):
    s.order[64] = 1
    corrupt_and_expect(s, 2)


def test_misaligned_block(s):
    free_one_page(s, 67, 0, MIGRATE_MOVABLE)  # its buddy 66 is busy: stays order 0
    list_del(s, 67)  # relabel it as an order-1 block at an odd pfn
    list_add(s, 67, free_list_slot(s, MIGRATE_MOVABLE, 1))
    s.order[67] = 1
    s.nr_free[0] -= 1
    s.nr_free[1] += 1
    s.zone[NR_FREE_PAGES] += 1
    corrupt_and_expect(s, 3)


def test_nr_free_mismatch(s):
    s.nr_free[3] += 1
    corrupt_and_expect(s, 5)


def test_orphan_buddy_page(s):
    s.flags[300] |= PG_buddy
    s.order[300] = 0
    corrupt_and_expect(s, 6)


def test_free_counter_mismatch(s):
    s.zone[NR_FREE_PAGES] += 1
    corrupt_and_expect(s, 7)


def test_cma_counter_mismatch(s):
    s.zone[NR_FREE_CMA_PAGES] += 1
    corrupt_and_expect(s, 8)


def test_cma_list_page_outside_cma_block(s):
    free_one_page(s, 600, 0, MIGRATE_CMA)
    corrupt_and_expect(s, 9)


def test_free_page_of_cma_block_on_wrong_list():
    st = bare_state(mt=MIGRATE_CMA)
    free_one_page(st, 8, 0, MIGRATE_MOVABLE)
    corrupt_and_expect(st, 10)


def test_isolate_list_page_in_normal_block(s):
    free_one_page(s, 600, 0, MIGRATE_ISOLATE)
    corrupt_and_expect(s, 11)


def test_free_page_in_isolated_block_on_normal_list(s):
    s.pb_mt[0] = MIGRATE_ISOLATE
    s.zone[Z_NR_ISOLATE_PAGEBLOCK] = 1
    corrupt_and_expect(s, 12)


def test_unmerged_buddies(s):
    # put 65 on the list without merging it with its free buddy 64
    s.flags[65] |= PG_buddy
    s.order[65] = 0
    list_add(s, 65, free_list_slot(s, MIGRATE_MOVABLE, 0))
    s.nr_free[0] += 1
    s.zone[NR_FREE_PAGES] += 1
    corrupt_and_expect(s, 13)


def test_pcp_page_without_flag(s):
    s.flags[100] ^= PG_pcp
    corrupt_and_expect(s, 15)


def test_pcp_count_mismatch(s):
    s.pcp_count[1] += 1
    corrupt_and_expect(s, 16)


def test_pcp_page_on_wrong_list(s):
    s.pcpmt[100] = MIGRATE_UNMOVABLE
    corrupt_and_expect(s, 17)


def test_orphan_pcp_flag(s):
    s.flags[400] |= PG_pcp
    corrupt_and_expect(s, 18)


def test_isolate_count_mismatch(s):
    s.zone[Z_NR_ISOLATE_PAGEBLOCK] = 1
    corrupt_and_expect(s, 19)


def test_highatomic_count_mismatch(s):
    s.pb_mt[3] = MIGRATE_HIGHATOMIC
    corrupt_and_expect(s, 20)


def test_cma_block_outside_area(s):
    s.pb_mt[5] = MIGRATE_CMA
    corrupt_and_expect(s, 21)


def test_area_block_not_cma(s):
    s.zone[Z_CMA_BASE] = 1024
    s.zone[Z_CMA_COUNT] = 512
    corrupt_and_expect(s, 22)


def test_flags_inside_free_block(s):
    s.flags[3] |= PG_lru
    corrupt_and_expect(s, 23)


def test_broken_pcp_ring(s):
    s.prev[100] = 7
    corrupt_and_expect(s, 14)


@pytest.fixture
def on_lru(s):
    lru_pages(s, 200, 210)
    check_invariants(s)
    return s


def test_lru_page_on_no_list(on_lru):
    on_lru.flags[300] |= PG_lru
    corrupt_and_expect(on_lru, 28)


def test_broken_lru_ring(on_lru):
    on_lru.prev[205] = 7
    corrupt_and_expect(on_lru, 24)


def test_isolated_page_left_on_the_lru(on_lru):
    on_lru.flags[203] |= PG_isolated
    corrupt_and_expect(on_lru, 25)


def test_active_page_on_the_inactive_list(on_lru):
    on_lru.page[204]["lru_flags"] = LRU_PG_active
    corrupt_and_expect(on_lru, 26)


def test_lru_counter_drift(on_lru):
    on_lru.zone[NR_INACTIVE_FILE] += 1
    corrupt_and_expect(on_lru, 27)
