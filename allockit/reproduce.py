"""``allockit reproduce``: the seed experiment (Minchan Kim, linux-mm, 14 Aug 2020).

Boots the seed's machine and prints what the simulated kernel looks like, beside the seed's
published outcomes. The strategy comparison itself needs migration, ``alloc_contig_range``
and ``cma_alloc`` (the next layer of ``allockit/mm``) and the strategies; until they exist
this command says so instead of printing numbers it does not have.
"""

from __future__ import annotations

import time

from .mm import build_machine, machine_config
from .mm.constants import MAX_ORDER, MIGRATE_CMA, MIGRATE_MOVABLE, MIGRATETYPE_NAMES, PAGE_SIZE
from .mm.introspect import free_counts, pageblock_counts
from .mm.state import (
    Z_MANAGED,
    Z_MIN_FREE_KBYTES,
    Z_PCP_BATCH,
    Z_PCP_HIGH,
    Z_WMARK,
)
from .units import format_pages

SEED_TABLE = """\
Seed (linux-mm, 14 Aug 2020; 1.5 GB RAM, 500 MB CMA, kernel build running, next-20200813):
  S1 one 300 MB cma_alloc (76,800 pages), 10 trials ..... 10/10 fail, up to several seconds
  S2 alloc_pages_bulk, 4,800 order-4 pages, 10 trials ... 7/10 get 4,800; others 4,799,
                                                          4,789, 4,799; all within 300 ms
  S5 MAX_ORDER-1 chunks (David Hildenbrand) ............. never measured: the kit predicts it
"""


def main() -> int:
    t0 = time.perf_counter()
    cfg = machine_config()
    s = build_machine(cfg)
    print(SEED_TABLE)
    wmin, wlow, whigh = (int(v) for v in s.zone[Z_WMARK : Z_WMARK + 3])
    pbs = pageblock_counts(s)
    fc = free_counts(s)
    print(f"Simulated machine (kernel model v{cfg.kernel}), as booted:")
    print(f"  RAM {format_pages(cfg.ram)}, managed {format_pages(int(s.zone[Z_MANAGED]))}")
    print(
        f"  CMA {format_pages(cfg.cma_size)} at pfn {cfg.cma_base_pfn}: "
        f"{pbs[MIGRATE_CMA]} pageblocks of {1 << cfg.pageblock_order} pages"
    )
    print(
        f"  watermarks min/low/high {wmin}/{wlow}/{whigh} pages "
        f"(min_free_kbytes {int(s.zone[Z_MIN_FREE_KBYTES])})"
    )
    print(
        f"  pcp batch/high {int(s.zone[Z_PCP_BATCH])}/{int(s.zone[Z_PCP_HIGH])}"
        f" on {cfg.nr_cpus} CPUs"
    )
    for mt in (MIGRATE_MOVABLE, MIGRATE_CMA):
        row = " ".join(f"{int(fc[mt, o]):4d}" for o in range(MAX_ORDER))
        print(f"  free blocks {MIGRATETYPE_NAMES[mt]:>8s} order 0..10: {row}")
    print(f"  page size {PAGE_SIZE} B")
    print()
    print(
        "Not yet simulated: the strategies (cma_alloc, alloc_pages_bulk, MAX_ORDER-1 chunks)\n"
        "need migration, alloc_contig_range and cma_alloc, which are the next layer of the\n"
        "simulated kernel; this command prints no outcome until they exist."
    )
    print(f"\nwall time {time.perf_counter() - t0:.2f} s")
    return 0
