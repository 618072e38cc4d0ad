"""Reading the simulated machine from Python: lists, snapshots, /proc-style summaries.

Nothing here is on a hot path; it walks the arrays the way ``/proc/pagetypeinfo`` walks the
free lists.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .constants import (
    MAX_ORDER,
    MIGRATE_PCPTYPES,
    MIGRATE_TYPES,
    REF_JOURNAL,
    PG_anon,
    PG_buddy,
    PG_dirty,
    PG_isolated,
    PG_locked,
    PG_lru,
    PG_movable,
    PG_pagetable,
    PG_pagevec,
    PG_pcp,
    PG_reserved,
    PG_slab,
    PG_writeback,
)
from .owners import OWNER_CONTIG
from .state import (
    NR_FREE_LISTS,
    Z_ALLOC_NOFRAGMENT,
    Z_FLAGS,
    Z_MANAGED,
    Z_NR_CPUS,
    Z_NR_ISOLATE_PAGEBLOCK,
    Z_NR_PAGES,
    Z_NR_RESERVED_HIGHATOMIC,
    Z_PAGEBLOCK_ORDER,
    Z_PCP_BATCH,
    Z_PCP_HIGH,
    Z_WATERMARK_BOOST,
    Z_WATERMARK_BOOST_FACTOR,
    Z_WMARK,
    ZONE_BOOSTED_WATERMARK,
    MachineState,
)
from .vmstat import (
    NR_ACTIVE_FILE,
    NR_FREE_CMA_PAGES,
    NR_FREE_PAGES,
    NR_INACTIVE_FILE,
    VMSTAT_NAMES,
)


def walk_list(state: MachineState, slot: int) -> list[int]:
    """The pfns on the list whose sentinel is ``slot``, head first."""
    out = []
    pfn = int(state.next[slot])
    while pfn != slot:
        out.append(pfn)
        pfn = int(state.next[pfn])
    return out


def free_list(state: MachineState, migratetype: int, order: int) -> list[int]:
    """``zone->free_area[order].free_list[migratetype]``, head first."""
    return walk_list(state, int(state.zone[Z_NR_PAGES]) + migratetype * MAX_ORDER + order)


def pcp_list(state: MachineState, cpu: int, migratetype: int) -> list[int]:
    """A CPU's pcp list of one type, head first."""
    slot = int(state.zone[Z_NR_PAGES]) + NR_FREE_LISTS + cpu * MIGRATE_PCPTYPES + migratetype
    return walk_list(state, slot)


def snapshot(state: MachineState) -> dict[str, Any]:
    """Everything the buddy/pcp model's behaviour depends on, as plain Python values.

    The format is the one the pure-Python reference (tests/reference_buddy.py) reads and
    writes, so the two models can be compared list by list.
    """
    z = state.zone
    nr_cpus = int(z[Z_NR_CPUS])
    pcp = {(c, t): pcp_list(state, c, t) for c in range(nr_cpus) for t in range(MIGRATE_PCPTYPES)}
    pcp_pfns = [p for lst in pcp.values() for p in lst]
    lru = np.flatnonzero(state.flags & (PG_lru | PG_movable))
    return {
        "nr_pages": int(z[Z_NR_PAGES]),
        "pageblock_order": int(z[Z_PAGEBLOCK_ORDER]),
        "nr_cpus": nr_cpus,
        "pcp_batch": int(z[Z_PCP_BATCH]),
        "pcp_high": int(z[Z_PCP_HIGH]),
        "watermark": [int(v) for v in z[Z_WMARK : Z_WMARK + 3]],
        "watermark_boost": int(z[Z_WATERMARK_BOOST]),
        "watermark_boost_factor": int(z[Z_WATERMARK_BOOST_FACTOR]),
        "managed": int(z[Z_MANAGED]),
        "nr_reserved_highatomic": int(z[Z_NR_RESERVED_HIGHATOMIC]),
        "nr_isolate_pageblock": int(z[Z_NR_ISOLATE_PAGEBLOCK]),
        "boosted": bool(z[Z_FLAGS] & ZONE_BOOSTED_WATERMARK),
        "alloc_nofragment": bool(z[Z_ALLOC_NOFRAGMENT]),
        "nr_free_pages": int(state.zone[NR_FREE_PAGES]),
        "nr_free_cma_pages": int(state.zone[NR_FREE_CMA_PAGES]),
        "pageblock_mt": [int(v) for v in state.pb_mt],
        "free_lists": {
            (mt, o): free_list(state, mt, o)
            for mt in range(MIGRATE_TYPES)
            for o in range(MAX_ORDER)
        },
        "pcp_lists": pcp,
        "pcppage_mt": {p: int(state.pcpmt[p]) for p in pcp_pfns},
        "lru": {int(p) for p in lru},
    }


def free_counts(state: MachineState) -> np.ndarray:
    """Free blocks per (migratetype, order), as the first table of /proc/pagetypeinfo."""
    out = np.zeros((MIGRATE_TYPES, MAX_ORDER), dtype=np.int64)
    for mt in range(MIGRATE_TYPES):
        for o in range(MAX_ORDER):
            out[mt, o] = len(free_list(state, mt, o))
    return out


def pageblock_counts(state: MachineState) -> np.ndarray:
    """Pageblocks per migratetype, as the second table of /proc/pagetypeinfo."""
    return np.bincount(state.pb_mt.astype(np.int64), minlength=MIGRATE_TYPES)


def vmstat_dict(state: MachineState) -> dict[str, int]:
    """The counter array as {name: value}."""
    return {name: int(v) for name, v in zip(VMSTAT_NAMES, state.vmstat, strict=True)}


def nr_pcp_pages(state: MachineState) -> int:
    """Pages sitting on pcp lists (not counted as free by the kernel)."""
    return int(np.count_nonzero(state.flags & PG_pcp))


def machine_summary(state: MachineState, cma_base: int, cma_count: int) -> dict[str, int]:
    """What a machine holds (pages), as /proc/meminfo would summarise it.

    Writeback is tested as ``pagestate.PageWriteback`` tests it (the flag, and a completion
    time still ahead), without clearing stale flags: a summary must not change the machine.
    """
    f = state.flags
    used = state.owner >= 0
    cma = slice(cma_base, cma_base + cma_count)
    now_us = state.clock // 1000
    under_io = state.page["t_io"][: len(f)] > now_us
    return {
        "free_pages": int(state.zone[NR_FREE_PAGES]),
        "free_cma_pages": int(state.zone[NR_FREE_CMA_PAGES]),
        "anon_pages": int(np.count_nonzero(f & PG_anon)),
        "file_pages": int(np.count_nonzero(used & ((f & PG_anon) == 0) & ((f & PG_lru) != 0))),
        "dirty_pages": int(np.count_nonzero(f & PG_dirty)),
        "writeback_pages": int(np.count_nonzero(((f & PG_writeback) != 0) & under_io)),
        "slab_pages": int(np.count_nonzero(f & PG_slab)),
        "cma_in_use_pages": int(np.count_nonzero(used[cma])),
        "active_file_pages": int(state.zone[NR_ACTIVE_FILE]),
        "inactive_file_pages": int(state.zone[NR_INACTIVE_FILE]),
    }


# --- memory maps: what stands in a contiguous allocation's way, page by page ----------------
# For each page, what ``alloc_contig_range`` (v5.9) would have to do with it, from the
# cheapest to the hardest: free (taken as it is); taken (held by a contiguous allocation);
# clean file (dropped or migrated cheaply); anon / mapped (unmap, copy, remap); dirty
# (migrated with its buffers, or written back); writeback / locked (waited for); pinned (an
# elevated refcount: -EAGAIN); journaled metadata (jbd2 holds the buffer: the block device's
# buffer_migrate_page_norefs fails -EAGAIN for tens of seconds); unmovable (slab, page tables,
# reserved and other kernel pages).
BLOCKERS = (
    "free",
    "taken",
    "clean file",
    "anon / mapped",
    "dirty",
    "writeback / locked",
    "pinned",
    "journaled metadata",
    "unmovable",
)


def page_blockers(s: MachineState, pieces=()) -> np.ndarray:
    """Per page, the index in ``BLOCKERS`` of what stands in a contiguous allocation's way;
    ``pieces`` ((kind, pfn, npages), a strategy's result) are marked taken."""
    f = s.flags.astype(np.int64)
    page = s.page[: len(f)]
    owner = s.owner
    now_us = int(s.clock) // 1000
    # writeback, I/O locks and pins are lazy (pagestate.py): over once their time has passed
    io_busy = page["t_io"].astype(np.int64) > now_us
    movable_user = (f & (PG_lru | PG_isolated | PG_pagevec | PG_movable)) != 0
    cat = np.full(len(f), BLOCKERS.index("clean file"), dtype=np.int8)
    cat[((f & PG_anon) != 0) | (page["mapcount"] > 0)] = BLOCKERS.index("anon / mapped")
    cat[(f & PG_dirty) != 0] = BLOCKERS.index("dirty")
    cat[((f & (PG_writeback | PG_locked)) != 0) & io_busy] = BLOCKERS.index("writeback / locked")
    held = page["t_ref"].astype(np.int64) > now_us
    cat[held] = BLOCKERS.index("pinned")
    cat[held & (page["refkind"] == REF_JOURNAL)] = BLOCKERS.index("journaled metadata")
    kernel = ((f & (PG_slab | PG_pagetable | PG_reserved)) != 0) | ~movable_user
    cat[kernel] = BLOCKERS.index("unmovable")
    cat[owner == OWNER_CONTIG] = BLOCKERS.index("taken")
    cat[free_mask(s)] = BLOCKERS.index("free")
    for _, pfn, npages in pieces:  # buddy allocations carry no owner mark: use the result
        cat[pfn : pfn + npages] = BLOCKERS.index("taken")
    return cat


def free_mask(s: MachineState) -> np.ndarray:
    """Pages on free lists: PageBuddy marks only a free block's first page (its order in
    ``page.order``), so each buddy head is expanded to its 2^order pages; pcp pages are
    order 0."""
    f = s.flags
    heads = np.flatnonzero(f & PG_buddy)
    sizes = np.left_shift(1, s.page["order"][heads].astype(np.int64))
    starts = np.repeat(heads - np.cumsum(sizes) + sizes, sizes)
    pfns = np.arange(int(sizes.sum())) + starts
    mask = (f & PG_pcp) != 0
    mask[pfns] = True
    return mask


def memory_map(
    state: MachineState, cma_base: int, cma_count: int, pieces=()
) -> dict[str, np.ndarray]:
    """Per pageblock: first pfn, migratetype, the index in ``BLOCKERS`` of its hardest page
    (the strategy's ``pieces`` count as taken), the share of free pages and whether it lies in
    the CMA area. What ``report.memmap`` draws."""
    pb = 1 << int(state.zone[Z_PAGEBLOCK_ORDER])
    cat = page_blockers(state, pieces)
    n = len(cat) // pb
    cat = cat[: n * pb].reshape(n, pb)
    start = np.arange(n) * pb
    return {
        "pfn": start,
        "migratetype": state.pb_mt[:n].astype(np.int64),
        "blocker": cat.max(axis=1).astype(np.int64),
        "free_pct": 100.0 * (cat == 0).mean(axis=1),
        "in_cma": (start >= cma_base) & (start < cma_base + cma_count),
    }
