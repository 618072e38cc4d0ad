"""Page-cache reads and refault detection (mm/background.py ``page_cache_read``, mm/workingset.py).

Each step of v5.9/v5.10's read path and of ``mm/workingset.c`` pinned: a read hit is an
access, a miss reads the page in (locked, referenced), an eviction leaves a shadow entry, a
refault inside the workingset starts active, and an activating refault makes the next reclaim
age the active file list.
"""

import numpy as np
from conftest import populated, read_file

from allockit.mm.background import EV_FREE, PK_FILE, apply_event
from allockit.mm.constants import (
    NO_PAGE,
    LRU_PG_active,
    LRU_PG_referenced,
    PG_locked,
    PG_lru,
)
from allockit.mm.invariants import check_invariants
from allockit.mm.lru import mark_page_accessed
from allockit.mm.pagestate import lru_add_drain_all_pages
from allockit.mm.state import Z_CLOCK, Z_NONRESIDENT_AGE
from allockit.mm.vmscan import shrink_node, try_to_free_pages
from allockit.mm.vmstat import (
    NR_ACTIVE_FILE,
    PGDEACTIVATE,
    WORKINGSET_ACTIVATE_FILE,
    WORKINGSET_REFAULT_FILE,
)
from allockit.mm.workingset import is_shadow, unpack_shadow

N = 2600
SPARE = N  # the populated machine has 16 object ids no event has used


def file_machine():
    return populated(N, kinds=np.full(N, PK_FILE))


def evict(s, obj):
    """Reclaim until ``obj``'s page is gone; returns the entry left in its slot."""
    while s.obj_pfn[obj] >= 0:
        assert try_to_free_pages(s, 0) > 0
    return int(s.obj_pfn[obj])


def activate(s, pfns):
    for p in pfns:
        mark_page_accessed(s, int(p))
        mark_page_accessed(s, int(p))


def test_a_read_hit_is_an_access_and_a_second_one_activates():
    s = file_machine()
    pfn = int(s.obj_pfn[5])
    assert read_file(s, 5) == pfn  # found: no new page
    assert s.page[pfn]["lru_flags"] == LRU_PG_referenced
    read_file(s, 5)
    assert s.page[pfn]["lru_flags"] == LRU_PG_active
    assert s.zone[NR_ACTIVE_FILE] == 1
    check_invariants(s)


def test_a_read_miss_reads_the_page_in_locked_and_referenced():
    s = file_machine()
    try_to_free_pages(s, 0)  # room for the new page
    s.zone[Z_CLOCK] = 5_000_000
    pfn = read_file(s, SPARE, read_us=300)
    assert pfn >= 0 and s.page[pfn]["owner"] == SPARE
    assert s.flags[pfn] & PG_locked and s.page[pfn]["t_io"] == 5_000 + 300
    assert s.page[pfn]["lru_flags"] == LRU_PG_referenced  # marked by the read itself
    assert not s.flags[pfn] & PG_lru  # in the CPU's pagevec until it drains
    lru_add_drain_all_pages(s)
    assert s.flags[pfn] & PG_lru
    check_invariants(s)


def test_eviction_leaves_a_shadow_entry_with_the_nonresident_age():
    s = file_machine()
    oldest_obj = int(s.page[int(s.obj_pfn[0])]["owner"])
    entry = evict(s, oldest_obj)
    assert is_shadow(entry) and entry != NO_PAGE
    assert unpack_shadow(entry) <= s.zone[Z_NONRESIDENT_AGE]
    assert s.zone[Z_NONRESIDENT_AGE] >= 32  # every eviction ages the non-resident pages


def test_activation_ages_the_nonresident_pages():
    s = file_machine()
    age = int(s.zone[Z_NONRESIDENT_AGE])
    activate(s, [s.obj_pfn[1]])
    assert s.zone[Z_NONRESIDENT_AGE] == age + 1  # workingset_activation


def test_a_refault_inside_the_workingset_starts_active():
    s = file_machine()
    activate(s, s.obj_pfn[1000:1400])  # a workingset of 400 active pages
    entry = evict(s, 0)  # object 0 is the oldest inactive page
    distance = int(s.zone[Z_NONRESIDENT_AGE]) - unpack_shadow(entry)
    assert distance <= s.zone[NR_ACTIVE_FILE]
    pfn = read_file(s, 0)
    assert s.page[pfn]["lru_flags"] & LRU_PG_active
    assert s.zone[WORKINGSET_REFAULT_FILE] == 1 and s.zone[WORKINGSET_ACTIVATE_FILE] == 1
    lru_add_drain_all_pages(s)
    assert s.flags[pfn] & PG_lru and s.zone[NR_ACTIVE_FILE] == 401
    check_invariants(s)


def test_a_refault_farther_than_the_workingset_starts_inactive():
    s = file_machine()
    activate(s, s.obj_pfn[1000:1010])  # a workingset of 10 pages
    entry = evict(s, 0)
    s.zone[Z_NONRESIDENT_AGE] = unpack_shadow(entry) + 11  # 11 evictions since
    pfn = read_file(s, 0)
    assert not s.page[pfn]["lru_flags"] & LRU_PG_active
    assert s.zone[WORKINGSET_REFAULT_FILE] == 1 and s.zone[WORKINGSET_ACTIVATE_FILE] == 0


def test_an_activating_refault_makes_reclaim_age_the_active_file_list():
    """shrink_node: WORKINGSET_ACTIVATE_FILE moved since the last reclaim: may_deactivate,
    although the inactive list is not low."""
    s = file_machine()
    activate(s, s.obj_pfn[1000:1100])
    assert not s.zone[PGDEACTIVATE]
    try_to_free_pages(s, 0)  # snapshot_refaults at its end
    shrink_node(s, 0, 4, 32, True, False)  # priority 4: the active list gets a batch
    assert s.zone[PGDEACTIVATE] == 0  # inactive list large, no refaults: no aging
    entry = evict(s, 0)
    assert is_shadow(entry)
    read_file(s, 0)
    assert s.zone[WORKINGSET_ACTIVATE_FILE] == 1
    shrink_node(s, 0, 4, 32, True, False)  # priority 4: the active list gets a batch
    assert s.zone[PGDEACTIVATE] > 0
    assert s.zone[NR_ACTIVE_FILE] < 100  # aged to the inactive list


def test_freeing_an_evicted_object_drops_its_shadow():
    s = file_machine()
    entry = evict(s, 0)
    assert is_shadow(entry)
    ev = s.events[N]
    ev["kind"], ev["obj"], ev["time"] = EV_FREE, 0, int(s.zone[Z_CLOCK])
    apply_event(s, N)
    assert s.obj_pfn[0] == NO_PAGE  # truncate: no refault can be judged any more
    read_file(s, 0)
    assert s.zone[WORKINGSET_REFAULT_FILE] == 0
