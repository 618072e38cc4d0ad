"""Physical-memory maps: every pageblock, coloured by migratetype and by what blocks a
contiguous allocation there. The classification is ``mm.introspect.memory_map`` (what
``alloc_contig_range`` would have to do with each page, from the cheapest to the hardest; a
pageblock takes the hardest case among its pages); this module only draws its result:

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

from ..mm.constants import MIGRATETYPE_NAMES
from ..mm.introspect import BLOCKERS
from . import theme
from .figures import caption

BLOCKER_COLOURS = (
    "#f0f0f0", "#0072B2", "#b8e186", "#4dac26", "#E69F00", "#D55E00", "#CC79A7", "#882255",
    "#000000",
)
MT_COLOURS = ("#D55E00", "#56B4E9", "#E69F00", "#CC79A7", "#009E73", "#999999")


def pageblock_frame(memory_map: dict[str, np.ndarray], columns: int = 32) -> pd.DataFrame:
    """One row per pageblock of a memory map (``mm.introspect.memory_map``), placed on a grid
    of ``columns``: migratetype, hardest page, share of free pages, inside the CMA area."""
    idx = np.arange(len(memory_map["pfn"]))
    return pd.DataFrame(
        {
            "pageblock": idx,
            "pfn": memory_map["pfn"],
            "col": idx % columns,
            "row": idx // columns,
            "migratetype": [MIGRATETYPE_NAMES[m] for m in memory_map["migratetype"]],
            "blocker": [BLOCKERS[c] for c in memory_map["blocker"]],
            "free_pct": memory_map["free_pct"],
            "in_cma": memory_map["in_cma"],
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
