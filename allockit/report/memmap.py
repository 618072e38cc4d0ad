"""Physical-memory maps: every pageblock, coloured by migratetype and by what blocks a
contiguous allocation there.

For each page the map asks what ``alloc_contig_range`` (v5.9) would have to do with it, from
the cheapest to the hardest, and a pageblock takes the hardest case among its pages:

====================  ============================================================
free                  on a buddy or pcp free list: taken as it is
taken                 held by a contiguous allocation (the strategy's own blocks)
clean file            LRU page cache, clean: dropped or migrated cheaply
anon / mapped         mapped pages: unmap, copy, remap (TLB shootdown)
dirty                 dirty page cache: migrated with its buffers, or written back
writeback / locked    ``wait_on_page_writeback`` / ``lock_page`` before it can move
pinned                an elevated refcount (GUP, fork, exit): migration fails -EAGAIN
journaled metadata    ext4 metadata whose buffer jbd2 holds (``b_count`` > 0): the block
                      device's ``buffer_migrate_page_norefs`` fails -EAGAIN for tens of s
unmovable             slab, page tables, reserved and other kernel pages: never moves
====================  ============================================================

The maps are pre-aggregated (one row per pageblock), so a 1.5 GB machine is 768 rectangles
and the PNG stays small.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..mm.constants import (
    MIGRATETYPE_NAMES,
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
from ..mm.owners import OWNER_CONTIG
from ..mm.state import Z_PAGEBLOCK_ORDER, MachineState
from . import theme
from .figures import caption

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
BLOCKER_COLOURS = (
    "#f0f0f0", "#0072B2", "#b8e186", "#4dac26", "#E69F00", "#D55E00", "#CC79A7", "#882255",
    "#000000",
)
MT_COLOURS = ("#D55E00", "#56B4E9", "#E69F00", "#CC79A7", "#009E73", "#999999")


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


def pageblock_frame(
    s: MachineState, cma_base: int, cma_count: int, pieces=(), columns: int = 32
) -> pd.DataFrame:
    """One row per pageblock: position in the map grid, migratetype, hardest page (the
    strategy's ``pieces`` count as taken), and the share of free pages."""
    pb = 1 << int(s.zone[Z_PAGEBLOCK_ORDER])
    cat = page_blockers(s, pieces)
    n = len(cat) // pb
    cat = cat[: n * pb].reshape(n, pb)
    idx = np.arange(n)
    start = idx * pb
    return pd.DataFrame(
        {
            "pageblock": idx,
            "pfn": start,
            "col": idx % columns,
            "row": idx // columns,
            "migratetype": [MIGRATETYPE_NAMES[m] for m in s.pb_mt[:n]],
            "blocker": [BLOCKERS[c] for c in cat.max(axis=1)],
            "free_pct": 100.0 * (cat == 0).mean(axis=1),
            "in_cma": (start >= cma_base) & (start < cma_base + cma_count),
        }
    )


def memory_map_chart(frames: dict[str, pd.DataFrame], tag: str, by: str = "blocker"):
    """Small multiples, one map per stage (``frames``: stage label -> pageblock frame),
    coloured ``by`` "blocker" or "migratetype"; the CMA area is outlined."""
    import altair as alt

    theme.use()
    data = pd.concat([f.assign(stage=k) for k, f in frames.items()], ignore_index=True)
    domain, colours = (
        (list(BLOCKERS), list(BLOCKER_COLOURS)) if by == "blocker"
        else (list(MIGRATETYPE_NAMES), list(MT_COLOURS))
    )
    if by not in ("blocker", "migratetype"):
        raise ValueError(f"by: {by!r}; allowed: blocker, migratetype")
    ncol = int(data["col"].max()) + 1
    cell = max(3, 240 // ncol)
    base = alt.Chart(data).encode(
        x=alt.X("col:O", axis=None), y=alt.Y("row:O", axis=None),
        tooltip=["pageblock", "pfn", "migratetype", "blocker", "free_pct", "in_cma"],
    )
    rect = base.mark_rect().encode(
        color=alt.Color(f"{by}:N", scale=alt.Scale(domain=domain, range=colours), title=by),
        stroke=alt.condition("datum.in_cma", alt.value("#0072B2"), alt.value(None)),
        strokeWidth=alt.value(0.6),
    ).properties(width=cell * ncol, height=cell * (int(data["row"].max()) + 1))
    stages = list(frames)
    return rect.facet(
        facet=alt.Facet("stage:N", sort=stages, title=None), columns=min(4, len(stages))
    ).properties(
        title=alt.Title(f"Pageblocks by {by} (CMA area outlined)", subtitle=caption(tag))
    )
