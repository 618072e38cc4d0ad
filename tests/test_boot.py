"""Boot: the state right after the kernel came up (memblock_free_all, CMA, watermarks, pcp)."""

import numpy as np
import pytest
from conftest import COSTS

from allockit.mm import build_machine, bytes_per_page, machine_config
from allockit.mm.boot import init_per_zone_wmark_min, zone_batchsize
from allockit.mm.constants import MIGRATE_CMA, MIGRATE_MOVABLE, PG_reserved
from allockit.mm.introspect import free_counts, free_list, pageblock_counts
from allockit.mm.invariants import check_invariants
from allockit.mm.state import Z_MANAGED, Z_MIN_FREE_KBYTES, Z_PCP_BATCH, Z_PCP_HIGH, Z_WMARK
from allockit.mm.vmstat import NR_FREE_CMA_PAGES, NR_FREE_PAGES


def test_seed_machine_layout():
    cfg = machine_config()  # 1.5 GiB, 500 MiB CMA
    s = build_machine(cfg, COSTS)
    check_invariants(s)
    assert s.order.shape[0] == 393216
    assert cfg.cma_size == 128000 and cfg.cma_size // 512 == 250
    # CMA at the top, 4 MiB aligned
    assert cfg.cma_base_pfn % 1024 == 0
    assert cfg.cma_base_pfn + cfg.cma_size <= 393216
    assert pageblock_counts(s)[MIGRATE_CMA] == 250
    assert s.zone[NR_FREE_CMA_PAGES] == 128000
    reserved = int(np.count_nonzero(s.flags & PG_reserved))
    assert reserved == cfg.boot_reserved_pages
    assert s.zone[NR_FREE_PAGES] == 393216 - reserved
    assert s.zone[Z_MANAGED] == 393216 - reserved


def test_pcp_batch_and_high_as_kernel_computes():
    # docs/model.md#constants: batch 63, high 378 for any zone >= ~1 GiB
    s = build_machine(machine_config(), COSTS)
    assert s.zone[Z_PCP_BATCH] == 63
    assert s.zone[Z_PCP_HIGH] == 378
    assert zone_batchsize(1024) == 0  # 1 page/1024 -> 1 -> rounddown_pow_of_two(1)-1 = 0
    assert zone_batchsize(16384) == 3  # 16 -> /4 = 4 -> rounddown(6)-1 = 3


def test_watermarks_follow_thp_recommendation():
    s = build_machine(machine_config(), COSTS)
    # THP: 2 zones (DMA, DMA32) * 512 * (2 + 9) = 11264 pages, under 5 % of lowmem
    assert s.zone[Z_MIN_FREE_KBYTES] == 11264 * 4
    wmin, wlow, whigh = (int(v) for v in s.zone[Z_WMARK : Z_WMARK + 3])
    assert wmin == 11264
    assert wlow - wmin == max(wmin // 4, int(s.zone[Z_MANAGED]) * 10 // 10000)
    assert whigh - wmin == 2 * (wlow - wmin)


def test_watermarks_without_thp_use_sqrt_rule():
    s = build_machine(machine_config(transparent_hugepage=False), COSTS)
    managed = int(s.zone[Z_MANAGED])
    assert s.zone[Z_MIN_FREE_KBYTES] == init_per_zone_wmark_min(managed)
    assert init_per_zone_wmark_min(1) == 128  # clamp low
    assert init_per_zone_wmark_min(1 << 30) == 262144  # clamp high (256 MiB)


def test_boot_frees_ascending_to_head_so_high_pfns_come_first():
    """v5.9 frees boot memory to the list heads (FPI_TO_TAIL came in v5.10)."""
    s = build_machine(machine_config(ram="64M", cma_size=0, kernel_reserved=0), COSTS)
    lst = free_list(s, MIGRATE_MOVABLE, 10)
    assert lst == sorted(lst, reverse=True)
    assert lst[0] == 16384 - 1024


def test_cma_area_is_order10_cma_blocks(small):
    counts = free_counts(small)
    # 4 MiB CMA = one order-10 block on the CMA list (two pageblocks merged at boot)
    assert counts[MIGRATE_CMA].tolist() == [0] * 10 + [1]
    assert free_list(small, MIGRATE_CMA, 10) == [3072]


def test_state_budget_per_page():
    s = build_machine(machine_config(), COSTS)
    assert bytes_per_page(s) <= 32


@pytest.mark.parametrize("pbo", [9, 10])
def test_pageblock_order_variants_boot_clean(pbo):
    s = build_machine(machine_config(ram="256M", cma_size="64M", pageblock_order=pbo), COSTS)
    check_invariants(s)
    assert pageblock_counts(s)[MIGRATE_CMA] == (64 << 20) // 4096 >> pbo


def test_copy_state_copies_everything_but_the_event_queue(small):
    from allockit.mm import copy_state

    c = copy_state(small)
    for name in small._fields:
        a, b = getattr(small, name), getattr(c, name)
        assert np.array_equal(a, b)
        assert (a is b) == (name == "events"), name  # the read-only queue is shared
    c.zone[0] += 1
    assert c.zone[0] != small.zone[0]
