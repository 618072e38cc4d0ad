"""Booting a simulated machine: memmap init, freeing memory, CMA activation, watermarks, pcp.

Mirrors, in boot order (v5.9): ``memmap_init_zone`` (every pageblock MOVABLE),
``memblock_free_all`` / ``__free_pages_memory`` (free RAM in naturally aligned blocks of the
largest order that fits, ascending, to the list heads), ``zone_batchsize`` /
``pageset_set_batch`` (pcp batch/high from managed pages, before CMA is activated),
``cma_init_reserved_areas`` / ``init_cma_reserved_pageblock`` (each CMA pageblock set to
MIGRATE_CMA and freed as one block), ``init_per_zone_wmark_min``,
``set_recommended_min_free_kbytes`` (THP's khugepaged) and ``__setup_per_zone_wmarks``.

Deliberate differences: one zone stands for all RAM (the 16 MiB ZONE_DMA of x86 is not
modelled, so this zone gets the whole min_free_kbytes share); the boot-reserved memory
(kernel + memmap, an estimate) sits at the bottom of the zone; the watermarks are computed
from the final managed pages (CMA included), i.e. as after khugepaged's recalculation.
"""

from __future__ import annotations

import math

import numpy as np

from .buddy import fpi_to_tail, free_one_page, free_one_page_fpi, set_pageblock_migratetype
from .config import MachineConfig
from .constants import (
    HPAGE_FRAG_CHECK_INTERVAL_NS,
    MAX_ORDER,
    MIGRATE_CMA,
    MIGRATE_MOVABLE,
    MIGRATE_PCPTYPES,
    PAGE_SIZE,
    PG_reserved,
)
from .costs import apply_costs
from .jit import mm_jit
from .state import (
    Z_ALLOC_NOFRAGMENT,
    Z_CMA_BASE,
    Z_CMA_COUNT,
    Z_CMA_ORDER_PER_BIT,
    Z_COMPACTION_PROACTIVENESS,
    Z_KCOMPACTD_NEXT,
    Z_KERNEL,
    Z_MANAGED,
    Z_MIN_FREE_KBYTES,
    Z_PCP_BATCH,
    Z_PCP_HIGH,
    Z_SWAP,
    Z_WATERMARK_BOOST_FACTOR,
    Z_WMARK,
    MachineState,
    allocate_state,
)


@mm_jit
def free_pages_memory(s, start, end, migratetype):
    """``__free_pages_memory``: free [start, end) in aligned blocks of the largest fitting order.

    Each block goes through ``__free_one_page``: v5.9's ``__free_pages_core`` puts it at the
    list head, so later, higher pfns are handed out first; v5.10's ``FPI_TO_TAIL`` at the
    tail, so lower pfns are handed out first.
    """
    pfn = start
    while pfn < end:
        order = MAX_ORDER - 1
        while order > 0 and (pfn & ((np.int64(1) << order) - 1)) != 0:
            order -= 1
        while pfn + (np.int64(1) << order) > end:
            order -= 1
        free_one_page_fpi(s, pfn, order, migratetype, fpi_to_tail(s))
        pfn += np.int64(1) << order
    return end - start


@mm_jit
def init_cma_reserved_pageblocks(s, base, count, pageblock_order):
    """``init_cma_reserved_pageblock`` for each pageblock of the area: type CMA, then free."""
    pbn = np.int64(1) << pageblock_order
    for pfn in range(base, base + count, pbn):
        set_pageblock_migratetype(s, pfn, MIGRATE_CMA)
        free_one_page(s, pfn, pageblock_order, MIGRATE_CMA)


def zone_batchsize(managed: int) -> int:
    """``zone_batchsize`` (v5.9): ~1/1000 of the zone, at most 1 MiB, /4, then 2^n − 1."""
    batch = managed // 1024
    if batch * PAGE_SIZE > 1024 * 1024:
        batch = (1024 * 1024) // PAGE_SIZE
    batch //= 4
    batch = max(batch, 1)
    b = batch + batch // 2
    return (1 << (b.bit_length() - 1)) - 1  # rounddown_pow_of_two(b) - 1


def init_per_zone_wmark_min(lowmem_pages: int) -> int:
    """``init_per_zone_wmark_min``: min_free_kbytes = sqrt(16 · lowmem KiB), 128 KiB..256 MiB."""
    lowmem_kbytes = lowmem_pages * (PAGE_SIZE >> 10)
    return min(max(math.isqrt(lowmem_kbytes * 16), 128), 262144)


def set_recommended_min_free_kbytes(nr_zones: int, pageblock_pages: int, buffer_pages: int) -> int:
    """``set_recommended_min_free_kbytes`` (mm/khugepaged.c): THP's floor for min_free_kbytes.

    Two free pageblocks per zone, plus MIGRATE_PCPTYPES² per zone so every type has a block to
    fall back to, capped at 5 % of lowmem; returned in KiB.
    """
    recommended = pageblock_pages * nr_zones * 2
    recommended += pageblock_pages * nr_zones * MIGRATE_PCPTYPES * MIGRATE_PCPTYPES
    recommended = min(recommended, buffer_pages // 20)
    return recommended * (PAGE_SIZE >> 10)


def setup_per_zone_wmarks(min_free_kbytes: int, managed: int, watermark_scale_factor: int):
    """``__setup_per_zone_wmarks`` for the one zone: (min, low, high) in pages."""
    wmin = min_free_kbytes >> (12 - 10)
    tmp = max(wmin >> 2, managed * watermark_scale_factor // 10000)
    return wmin, wmin + tmp, wmin + 2 * tmp


def x86_populated_zones(ram_pages: int) -> int:
    """Populated zones up to ZONE_NORMAL on x86-64: DMA + DMA32, plus Normal above 4 GiB."""
    return 2 if ram_pages <= (4 << 30) // PAGE_SIZE else 3


def build_machine(
    cfg: MachineConfig,
    costs: dict[str, int],
    event_capacity: int = 1,
    nr_objects: int = 1,
) -> MachineState:
    """Boot a machine from a validated config: the state right after the kernel came up.

    ``costs``: the cost model, name -> ns (``allockit.params.load_costs()`` reads
    ``params/costs.yaml``; the simulated kernel reads no files itself).
    ``event_capacity`` / ``nr_objects`` size the background queue and object table for the
    workload that will run on the machine.
    """
    pbo = cfg.pageblock_order
    cma_bits = cfg.cma_size >> cfg.cma_order_per_bit
    s = allocate_state(cfg.ram, pbo, cfg.nr_cpus, cma_bits, event_capacity, nr_objects)
    apply_costs(s, costs)
    s.pb_mt[:] = MIGRATE_MOVABLE  # memmap_init_zone
    reserved = cfg.boot_reserved_pages
    s.flags[:reserved] = PG_reserved  # a view on the page records
    z = s.zone
    z[Z_KERNEL] = cfg.kernel_code
    z[Z_WATERMARK_BOOST_FACTOR] = cfg.watermark_boost_factor
    z[Z_ALLOC_NOFRAGMENT] = 1 if cfg.zone_name == "Normal" else 0
    z[Z_SWAP] = 1 if cfg.swap else 0
    z[Z_COMPACTION_PROACTIVENESS] = cfg.compaction_proactiveness
    z[Z_KCOMPACTD_NEXT] = HPAGE_FRAG_CHECK_INTERVAL_NS  # kcompactd's first timeout

    # memblock_free_all: everything but the reserved pages and the (memblock-reserved) CMA area.
    cma_base = cfg.cma_base_pfn if cfg.cma_size else cfg.ram
    cma_end = cma_base + cfg.cma_size
    managed = int(free_pages_memory(s, reserved, cma_base, MIGRATE_MOVABLE))
    if cma_end < cfg.ram:
        managed += int(free_pages_memory(s, cma_end, cfg.ram, MIGRATE_MOVABLE))

    # setup_per_cpu_pageset runs before the CMA area is activated.
    batch = zone_batchsize(managed)
    z[Z_PCP_BATCH] = max(batch, 1)
    z[Z_PCP_HIGH] = 6 * batch

    if cfg.cma_size:
        init_cma_reserved_pageblocks(s, cma_base, cfg.cma_size, pbo)
        managed += cfg.cma_size
        z[Z_CMA_BASE] = cma_base
        z[Z_CMA_COUNT] = cfg.cma_size
        z[Z_CMA_ORDER_PER_BIT] = cfg.cma_order_per_bit
    z[Z_MANAGED] = managed

    if cfg.min_free_kbytes is not None:
        min_free_kbytes = cfg.min_free_kbytes
    else:
        min_free_kbytes = init_per_zone_wmark_min(managed)
        if cfg.transparent_hugepage:
            wmin, wlow, whigh = setup_per_zone_wmarks(
                min_free_kbytes, managed, cfg.watermark_scale_factor
            )
            recommended = set_recommended_min_free_kbytes(
                x86_populated_zones(cfg.ram), 1 << pbo, max(managed - whigh, 0)
            )
            min_free_kbytes = max(min_free_kbytes, recommended)
    z[Z_MIN_FREE_KBYTES] = min_free_kbytes
    wmarks = setup_per_zone_wmarks(min_free_kbytes, managed, cfg.watermark_scale_factor)
    z[Z_WMARK : Z_WMARK + 3] = wmarks
    return s
