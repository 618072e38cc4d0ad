"""Reading the simulated machine from Python: lists, snapshots, /proc-style summaries.

Nothing here is on a hot path; it walks the arrays the way ``/proc/pagetypeinfo`` walks the
free lists.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .constants import MAX_ORDER, MIGRATE_PCPTYPES, MIGRATE_TYPES, PG_lru, PG_movable, PG_pcp
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
from .vmstat import NR_FREE_CMA_PAGES, NR_FREE_PAGES, VMSTAT_NAMES


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
