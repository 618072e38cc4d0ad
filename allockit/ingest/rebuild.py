"""A simulated zone rebuilt from a real machine's /proc snapshot, and its self-check.

From ``/proc/kpageflags`` (and ``kpagecount``) every pfn of one zone gets its state:

* free pages (``KPF_BUDDY``: since v4.x also set on the tail pages of a free block, via
  ``is_free_buddy_page``) are given back with the simulator's own ``__free_one_page``, run by
  run in naturally aligned chunks, so the buddy merges them as the kernel did;
* pages in use keep what the simulator models: anonymous (``KPF_ANON``, LRU), page cache
  (``KPF_LRU``), dirty, writeback and locked, mapped (``KPF_MMAP``), slab, page tables and
  reserved pages; a page with no flag at all that is not free (a raw ``alloc_pages`` page or
  a hole in the zone) is reserved: nothing can move it;
* pageblock migratetypes: the kernel does not export where each type lies, only how many
  blocks of each type a zone has (pagetypeinfo). They are placed from those totals: CMA
  blocks at the top of the zone (x86 memblock allocates top-down; ``cma_placement``), then
  the blocks with the most kernel pages are Unmovable, the next ones by slab pages
  Reclaimable, the rest Movable;
* zone scalars from zoneinfo: managed pages, watermarks, pcp batch and high, the CPUs.

:func:`self_check` recomputes buddyinfo and pagetypeinfo from the rebuilt zone and diffs them
against the captured files (which the kernel printed a moment apart from kpageflags, so a busy
machine differs a little). Without kpageflags (not root) :func:`rebuild_zone` refuses: the free
block positions would be invented.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..mm.buddy import free_one_page
from ..mm.config import ConfigError
from ..mm.constants import (
    MAX_ORDER,
    MIGRATE_CMA,
    MIGRATE_MOVABLE,
    MIGRATE_RECLAIMABLE,
    MIGRATE_UNMOVABLE,
    MIGRATETYPE_NAMES,
    PAGE_SIZE,
    LRU_PG_active,
    LRU_PG_referenced,
    PG_anon,
    PG_buddy,
    PG_dirty,
    PG_locked,
    PG_lru,
    PG_pagetable,
    PG_reserved,
    PG_slab,
    PG_writeback,
)
from ..mm.costs import apply_costs
from ..mm.lru import lru_add_pages
from ..mm.state import (
    Z_CMA_BASE,
    Z_CMA_COUNT,
    Z_MANAGED,
    Z_NR_CPUS,
    Z_PAGEBLOCK_ORDER,
    Z_PCP_BATCH,
    Z_PCP_HIGH,
    Z_WMARK,
    MachineState,
    allocate_state,
)
from ..params import load_costs
from .procfs import (
    KPF_ACTIVE,
    KPF_ANON,
    KPF_BUDDY,
    KPF_DIRTY,
    KPF_LOCKED,
    KPF_LRU,
    KPF_MMAP,
    KPF_PGTABLE,
    KPF_REFERENCED,
    KPF_RESERVED,
    KPF_SLAB,
    KPF_WRITEBACK,
    Snapshot,
)

MAX_BLOCK = 1 << (MAX_ORDER - 1)


@dataclass
class Rebuilt:
    """A rebuilt zone: the state, where it lies, and how it was made."""

    state: MachineState
    node: int
    zone: str
    base_pfn: int  # pfn of state page 0
    cma_base: int  # state index of the CMA area (0 pages if none)
    cma_count: int
    present_blocks: np.ndarray  # bool per pageblock: holds a page the kernel has a state for


def _bit(flags: np.ndarray, b: int) -> np.ndarray:
    return ((flags >> np.uint64(b)) & np.uint64(1)).astype(bool)


def _pick_zone(snap: Snapshot, zone: str | None, node: int) -> tuple[int, str]:
    pop = [z for z in snap.zoneinfo.populated if z.node == node]
    if not pop:
        raise ConfigError(f"node: {node}; the snapshot has no populated zone on it")
    if zone is None:
        return node, max(pop, key=lambda z: z.fields.get("managed", 0)).name
    names = [z.name for z in pop]
    if zone not in names:
        raise ConfigError(f"zone: {zone!r}; allowed: {', '.join(names)}")
    return node, zone


def page_flags(kpf: np.ndarray, kpc: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Simulator flags and mapcounts of pages in use, from kpageflags (free pages: 0)."""
    f = np.zeros(len(kpf), dtype=np.uint16)
    lru = _bit(kpf, KPF_LRU)
    anon = _bit(kpf, KPF_ANON)
    f[lru] |= PG_lru
    f[anon] |= PG_anon | PG_lru  # an anon page not yet on the LRU sits in a pagevec
    f[_bit(kpf, KPF_DIRTY)] |= PG_dirty
    f[_bit(kpf, KPF_WRITEBACK)] |= PG_writeback
    f[_bit(kpf, KPF_LOCKED)] |= PG_locked
    f[_bit(kpf, KPF_SLAB)] |= PG_slab
    f[_bit(kpf, KPF_PGTABLE)] |= PG_pagetable
    f[_bit(kpf, KPF_RESERVED)] |= PG_reserved
    free = _bit(kpf, KPF_BUDDY)
    unknown = (f == 0) & ~free  # no flag: a raw kernel page or a hole
    f[unknown] = PG_reserved
    f[free] = 0
    mapped = _bit(kpf, KPF_MMAP) | anon
    if kpc is not None:
        mapped |= kpc > 0
    return f, mapped.astype(np.uint8)


def lru_flags(kpf: np.ndarray) -> np.ndarray:
    """The simulator's ``lru_flags`` (PG_active, PG_referenced) from kpageflags."""
    out = np.zeros(len(kpf), dtype=np.uint8)
    out[_bit(kpf, KPF_ACTIVE)] |= LRU_PG_active
    out[_bit(kpf, KPF_REFERENCED)] |= LRU_PG_referenced
    return out


def present_pageblocks(present: np.ndarray, pb: int) -> np.ndarray:
    """Per whole pageblock: does it hold a page the kernel has a state for? The blocks
    pagetypeinfo counts, over which the placement distributes its totals."""
    n = len(present) // pb
    return present[: n * pb].reshape(n, pb).any(axis=1)


def place_migratetypes(
    f: np.ndarray, present: np.ndarray, pb: int, totals: dict[str, int], cma_placement: str
) -> np.ndarray:
    """Pageblock migratetypes from pagetypeinfo's totals (see the module docstring)."""
    n = len(f) // pb
    mt = np.full(n, MIGRATE_MOVABLE, dtype=np.int8)
    blocks = f[: n * pb].reshape(n, pb)
    kernel = ((blocks & (PG_slab | PG_pagetable | PG_reserved)) != 0).sum(axis=1)
    slab = ((blocks & PG_slab) != 0).sum(axis=1)
    live = np.flatnonzero(present_pageblocks(present, pb)[:n])
    ncma = int(totals.get("CMA", 0))
    if ncma:
        if cma_placement != "top":
            raise ConfigError(f"cma_placement: {cma_placement!r}; allowed: top")
        cma = live[-ncma:]
        mt[cma] = MIGRATE_CMA
        live = live[:-ncma]
    order = live[np.argsort(-kernel[live], kind="stable")]
    nu = int(totals.get("Unmovable", 0)) + int(totals.get("HighAtomic", 0))
    mt[order[:nu]] = MIGRATE_UNMOVABLE
    rest = order[nu:]
    rest = rest[np.argsort(-slab[rest], kind="stable")]
    mt[rest[: int(totals.get("Reclaimable", 0))]] = MIGRATE_RECLAIMABLE
    return mt


def _free_runs(s: MachineState, free: np.ndarray) -> int:
    """Give every run of free pages back through ``__free_one_page`` in aligned chunks."""
    idx = np.flatnonzero(np.diff(np.concatenate(([0], free.astype(np.int8), [0]))))
    pbo = int(s.zone[Z_PAGEBLOCK_ORDER])
    calls = 0
    for a, b in zip(idx[0::2], idx[1::2], strict=True):
        a, b = int(a), int(b)
        while a < b:
            k = min(MAX_ORDER - 1, (a & -a).bit_length() - 1 if a else MAX_ORDER - 1)
            while a + (1 << k) > b:
                k -= 1
            free_one_page(s, a, k, int(s.pb_mt[a >> pbo]))  # the head's block decides
            calls += 1
            a += 1 << k
    return calls


def rebuild_zone(
    snap: Snapshot,
    zone: str | None = None,
    node: int = 0,
    *,
    cma_placement: str = "top",
    io_remaining_us: int = 10_000,
) -> Rebuilt:
    """The simulated zone of ``snap``'s ``zone`` (default: the one with most managed pages).

    ``io_remaining_us``: a page under writeback or locked for I/O in the snapshot stays so
    for this long (estimate: the snapshot does not say when its I/O completes)."""
    if snap.page_size != PAGE_SIZE:
        raise ConfigError(f"{snap.path}: page size {snap.page_size}; allowed: {PAGE_SIZE} (the "
                          "simulated kernel has 4 KiB pages)")
    if not snap.has_kpage:
        raise ConfigError(f"{snap.path}: no kpageflags; a rebuild needs it (capture the "
                          "snapshot as root)")
    node, zone = _pick_zone(snap, zone, node)
    z = snap.zoneinfo.zone(node, zone)
    pti = snap.pagetypeinfo
    pbo = pti.pageblock_order if pti else 9
    if pbo not in (9, 10):
        raise ConfigError(f"{snap.path}: pageblock order {pbo}; allowed: 9 or 10")
    base = z.start_pfn - z.start_pfn % MAX_BLOCK
    end = -(-z.end_pfn // MAX_BLOCK) * MAX_BLOCK
    n = end - base
    kpf = np.zeros(n, dtype=np.uint64)
    kpc = np.zeros(n, dtype=np.uint64)
    sl = snap.pfn_slice(node, zone)
    off = snap.pfn_start + sl.start - base
    kpf[off : off + (sl.stop - sl.start)] = snap.kpageflags[sl]
    if snap.kpagecount is not None:
        kpc[off : off + (sl.stop - sl.start)] = snap.kpagecount[sl]
    in_zone = np.zeros(n, dtype=bool)
    in_zone[z.start_pfn - base : z.end_pfn - base] = True
    kpf[~in_zone] = 0
    flags, mapped = page_flags(kpf, kpc)
    free = _bit(kpf, KPF_BUDDY) & in_zone
    flags[~in_zone] = PG_reserved
    present = in_zone & ((kpf != 0) | free)

    totals = pti.blocks.get((node, zone), {}) if pti else {}
    pb = 1 << pbo
    mt = place_migratetypes(flags, present, pb, totals, cma_placement)
    cma_blocks = np.flatnonzero(mt == MIGRATE_CMA)
    cma_base = int(cma_blocks[0]) * pb if len(cma_blocks) else n
    cma_count = len(cma_blocks) * pb
    nr_cpus = max(1, len(z.pagesets))
    s = allocate_state(n, pbo, nr_cpus, cma_count)
    apply_costs(s, load_costs())
    s.pb_mt[:] = mt
    lru = (flags & PG_lru) != 0
    s.page["flags"][:n] = flags & ~np.uint16(PG_lru)
    s.page["lru_flags"][:n] = lru_flags(kpf) * lru
    # a snapshot has no LRU ages: the pages are linked in a fixed pseudo-random order
    lru_add_pages(s, np.random.default_rng(0).permutation(np.flatnonzero(lru)))
    s.page["mapcount"][:n] = mapped
    busy_io = (flags & (PG_writeback | PG_locked)) != 0
    s.page["t_io"][:n][busy_io] = io_remaining_us
    _free_runs(s, free)
    zz = s.zone
    zz[Z_MANAGED] = z.fields.get("managed", int(present.sum()))
    zz[Z_WMARK : Z_WMARK + 3] = [z.fields.get(k, 0) for k in ("min", "low", "high")]
    if z.pagesets:
        zz[Z_PCP_BATCH] = max(1, z.pagesets[0].batch or 1)
        zz[Z_PCP_HIGH] = max(1, z.pagesets[0].high or 1)
    zz[Z_NR_CPUS] = nr_cpus
    if cma_count:
        zz[Z_CMA_BASE] = cma_base
        zz[Z_CMA_COUNT] = cma_count
    return Rebuilt(s, node, zone, base, cma_base, cma_count, present_pageblocks(present, pb))


def self_check(snap: Snapshot, r: Rebuilt) -> pd.DataFrame:
    """Captured vs recomputed: free blocks per order (buddyinfo), free blocks per order and
    migratetype and pageblocks per migratetype (pagetypeinfo)."""
    s = r.state
    rows = []
    heads = np.flatnonzero(s.flags & PG_buddy)
    orders = s.page["order"][heads].astype(np.int64)
    rebuilt = np.bincount(orders, minlength=MAX_ORDER)
    captured = snap.buddyinfo.zones[(r.node, r.zone)]
    for o in range(min(MAX_ORDER, len(captured))):
        rows.append(("buddyinfo", f"order {o}", captured[o], int(rebuilt[o])))
    pti = snap.pagetypeinfo
    if pti is not None:
        mts = s.pb_mt[heads >> pti.pageblock_order]
        for name in pti.migratetypes:
            row = pti.free.get((r.node, r.zone, name))
            if row is None or name not in MIGRATETYPE_NAMES:
                continue
            i = MIGRATETYPE_NAMES.index(name)
            got = np.bincount(orders[mts == i], minlength=MAX_ORDER)
            for o, c in enumerate(row.counts[:MAX_ORDER]):
                rows.append(("pagetypeinfo free", f"{name} order {o}", c, int(got[o])))
        # the blocks pagetypeinfo counts: those with a page the kernel has a state for, the
        # same blocks the migratetype placement distributed the totals over
        present = r.present_blocks
        for name, c in pti.blocks.get((r.node, r.zone), {}).items():
            if name in MIGRATETYPE_NAMES:
                i = MIGRATETYPE_NAMES.index(name)
                rows.append(("pagetypeinfo blocks", name, c,
                             int(((s.pb_mt == i) & present).sum())))
    df = pd.DataFrame(rows, columns=["file", "row", "captured", "rebuilt"])
    df["diff"] = df.rebuilt - df.captured
    return df


def check_passes(check: pd.DataFrame, tolerance: float = 0.01) -> bool:
    """Whether free memory as buddyinfo says agrees with the rebuilt zone within
    ``tolerance`` (the files are read one after another; a busy machine moves meanwhile)."""
    b = check[check.file == "buddyinfo"]
    pages = np.left_shift(1, np.arange(len(b)))
    cap, reb = float((b.captured * pages).sum()), float((b.rebuilt * pages).sum())
    return abs(reb - cap) <= tolerance * max(cap, 1.0)


def check_text(check: pd.DataFrame, r: Rebuilt) -> str:
    """The self-check, <= 80 columns: per file the captured and rebuilt totals."""
    lines = [f"rebuilt node {r.node} zone {r.zone}: {len(r.state.pb_mt)} pageblocks from pfn "
             f"{r.base_pfn:#x}, CMA {r.cma_count} pages",
             f"{'file':<22}{'row':<22}{'captured':>12}{'rebuilt':>12}{'diff':>10}"]
    for row in check.itertuples():
        if row.diff or row.file == "buddyinfo":
            lines.append(f"{row.file:<22}{row.row:<22}{row.captured:>12}{row.rebuilt:>12}"
                         f"{row.diff:>10}")
    lines.append("self-check: " + ("passed" if check_passes(check) else "FAILED") +
                 " (free pages within 1 %; rows not shown agree exactly)")
    return "\n".join(lines)
