"""A simulated zone rebuilt from a /proc snapshot, and its self-check."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

from allockit.ingest.procfs import KPF_ANON, KPF_BUDDY, KPF_LRU, KPF_SLAB
from allockit.ingest.rebuild import (
    check_passes,
    page_flags,
    place_migratetypes,
    rebuild_zone,
    self_check,
)
from allockit.ingest.snapshot import capture_snapshot, load_snapshot
from allockit.mm.config import ConfigError
from allockit.mm.constants import (
    MIGRATE_CMA,
    MIGRATE_MOVABLE,
    MIGRATE_RECLAIMABLE,
    MIGRATE_UNMOVABLE,
    PG_anon,
    PG_lru,
    PG_reserved,
    PG_slab,
)
from allockit.mm.invariants import check_invariants
from allockit.paths import DATA_DIR

IDLE = DATA_DIR / "raw" / "idle-snapshot"
FIXTURES = Path(__file__).parent / "fixtures" / "procfs"


def b(*bits):
    return np.uint64(sum(1 << x for x in bits))


def test_page_flags_from_kpageflags():
    kpf = np.array([b(KPF_BUDDY), b(KPF_ANON, KPF_LRU), b(KPF_LRU), b(KPF_SLAB), 0],
                   dtype=np.uint64)
    f, mapped = page_flags(kpf, np.array([0, 1, 0, 0, 0], dtype=np.uint64))
    assert list(f) == [0, PG_anon | PG_lru, PG_lru, PG_slab, PG_reserved]
    assert list(mapped) == [0, 1, 0, 0, 0]


def test_migratetype_placement_from_totals():
    pb = 4
    f = np.zeros(6 * pb, dtype=np.uint16)
    f[0:3] = PG_slab  # block 0: three slab pages
    f[8] = PG_reserved  # block 2: one kernel page
    f[12:14] = PG_slab  # block 3: two slab pages
    present = np.ones(len(f), dtype=bool)
    totals = {"Unmovable": 1, "Reclaimable": 1, "Movable": 3, "CMA": 1}
    mt = place_migratetypes(f, present, pb, totals, "top")
    assert mt[5] == MIGRATE_CMA  # the top block
    assert mt[0] == MIGRATE_UNMOVABLE  # most kernel pages
    assert mt[3] == MIGRATE_RECLAIMABLE  # most slab pages of the rest
    assert (mt == MIGRATE_MOVABLE).sum() == 3
    with pytest.raises(ConfigError, match="cma_placement: 'bottom'; allowed: top"):
        place_migratetypes(f, present, pb, totals, "bottom")


def test_rebuild_idle_dma32_matches_buddyinfo_exactly():
    snap = load_snapshot(IDLE)
    r = rebuild_zone(snap, "DMA32")
    check_invariants(r.state)
    check = self_check(snap, r)
    bi = check[check.file == "buddyinfo"]
    assert (bi["diff"] == 0).all() and bi.captured.sum() > 0
    assert check_passes(check)
    assert int(r.state.vmstat[0]) == snap.buddyinfo.free_pages(0, "DMA32")


def test_rebuild_refuses_without_kpage_or_with_other_page_size():
    snap = load_snapshot(FIXTURES / "v5.9-2node")
    with pytest.raises(ConfigError, match="no kpageflags; a rebuild needs it"):
        rebuild_zone(snap)
    snap.page_size = 65536
    with pytest.raises(ConfigError, match="page size 65536; allowed: 4096"):
        rebuild_zone(snap)


def test_rebuild_bad_zone():
    with pytest.raises(ConfigError, match=r"zone: 'HighMem'; allowed: DMA, DMA32, Normal"):
        rebuild_zone(load_snapshot(IDLE), "HighMem")


@pytest.mark.skipif(not sys.platform.startswith("linux") or os.geteuid() != 0
                    or not os.path.exists("/proc/kpageflags"), reason="needs root on Linux")
def test_live_machine_snapshot_captures_reloads_and_self_checks(tmp_path):
    """The machine the tests run on: capture (the first 64 Ki pfns: the DMA zone), reload,
    rebuild DMA and check it against the captured buddyinfo/pagetypeinfo."""
    capture_snapshot(tmp_path / "snap", max_pfns=1 << 16)
    snap = load_snapshot(tmp_path / "snap")
    r = rebuild_zone(snap, "DMA")
    check_invariants(r.state)
    check = self_check(snap, r)
    assert check_passes(check), check.to_string()
