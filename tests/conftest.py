"""Shared fixtures: small machines that boot in microseconds once numba's cache is warm."""

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from allockit.mm import build_machine, machine_config  # noqa: E402
from allockit.params import load_costs  # noqa: E402

COSTS = load_costs()  # params/costs.yaml: the simulated kernel reads no files itself


def small_config(**overrides):
    """16 MiB, 4 MiB CMA at the top, 2 CPUs, pageblock order 9, nothing reserved but memmap."""
    params = dict(ram="16M", cma_size="4M", nr_cpus=2, kernel_reserved=0)
    params.update(overrides)
    return machine_config(**params)


@pytest.fixture
def small():
    return build_machine(small_config(), COSTS)


@pytest.fixture
def small_nocma():
    return build_machine(small_config(cma_size=0), COSTS)


def bare_state(nr_pages=4096, pageblock_order=9, nr_cpus=2, mt=None):
    """A zone with no free memory at all (every page allocated), all pageblocks MOVABLE.

    Unit tests free hand-picked blocks into it with the compiled functions under test.
    """
    from allockit.mm.constants import MIGRATE_CMA, MIGRATE_MOVABLE
    from allockit.mm.state import (
        Z_CMA_COUNT,
        Z_MANAGED,
        Z_PCP_BATCH,
        Z_PCP_HIGH,
        allocate_state,
    )

    s = allocate_state(nr_pages, pageblock_order, nr_cpus, 1)
    s.pb_mt[:] = MIGRATE_MOVABLE if mt is None else mt
    s.zone[Z_MANAGED] = nr_pages
    s.zone[Z_PCP_BATCH] = 4
    s.zone[Z_PCP_HIGH] = 8
    if mt == MIGRATE_CMA:
        s.zone[Z_CMA_COUNT] = nr_pages  # the whole zone is the CMA area
    return s


def populated(n=2600, kinds=None, seed=0, **cfg_overrides):
    """A small machine whose memory (CMA included) is filled with ``n`` background objects.

    Objects are order-0 movable pages (anon or file at random unless ``kinds`` says) made
    through the background queue at 1 us intervals, then every pagevec is drained, so they are
    ordinary LRU pages. Returns the state; object i's pfn is ``s.obj_pfn[i]``.
    """
    import numpy as np

    from allockit.mm.background import EV_ALLOC, PK_ANON, PK_FILE, run_background
    from allockit.mm.constants import GFP_HIGHUSER_MOVABLE
    from allockit.mm.pagestate import lru_add_drain_all_pages
    from allockit.mm.state import Z_BUSY_CPUS, Z_CLOCK, Z_EV_TAIL, Z_PCP_BATCH, Z_PCP_HIGH

    cfg = small_config(**cfg_overrides)
    s = build_machine(cfg, COSTS, event_capacity=2 * n + 16, nr_objects=n + 16)
    # a 16 MiB zone gets batch 1 / high 0 from zone_batchsize: give it working pcp lists
    s.zone[Z_PCP_BATCH] = 7
    s.zone[Z_PCP_HIGH] = 42
    rng = np.random.default_rng(seed)
    ev = s.events[:n]
    ev["time"] = np.arange(n) * 1000
    ev["obj"] = np.arange(n)
    ev["kind"] = EV_ALLOC
    ev["cpu"] = rng.integers(0, cfg.nr_cpus, n)
    ev["arg"] = GFP_HIGHUSER_MOVABLE
    # random kinds: an alternating pattern would lock step with the CMA "more than half of
    # free" rule, which alternates CMA and normal pages once it engages
    ev["pkind"] = kinds if kinds is not None else rng.choice([PK_ANON, PK_FILE], n)
    s.zone[Z_EV_TAIL] = n
    run_background(s, n * 1000)
    lru_add_drain_all_pages(s)
    s.zone[Z_CLOCK] = 0
    s.zone[Z_BUSY_CPUS] = 0
    s.time_ns[:] = 0
    return s


def read_file(s, obj, read_us=300, slot=None):
    """Apply one ``EV_READ`` of file object ``obj`` on CPU 0 at the machine's clock, from
    event slot ``slot`` (by default the first one after the queued events, which
    ``populated`` leaves free); returns the object's slot entry (its pfn once read)."""
    from allockit.mm.background import EV_READ, PK_FILE, apply_event
    from allockit.mm.state import Z_CLOCK, Z_EV_TAIL

    slot = int(s.zone[Z_EV_TAIL]) if slot is None else slot
    ev = s.events[slot]
    ev["kind"], ev["obj"], ev["time"] = EV_READ, obj, int(s.zone[Z_CLOCK])
    ev["cpu"], ev["arg"], ev["pkind"] = 0, read_us, PK_FILE
    apply_event(s, slot)
    return int(s.obj_pfn[obj])


def lru_pages(s, start, stop, anon=False):
    """Put allocated pages [start, stop) on the LRU (inactive, anon or file), as a drained
    pagevec would: ``PG_lru`` set and linked into the list."""
    import numpy as np

    from allockit.mm.constants import PG_anon
    from allockit.mm.lru import lru_add_pages

    if anon:
        s.flags[start:stop] |= PG_anon
    lru_add_pages(s, np.arange(start, stop, dtype=np.int64))


def lru_release(s, start, stop):
    """Take pages [start, stop) off the LRU before they are freed (``__page_cache_release``)."""
    from allockit.mm.lru import lru_del_page

    for p in range(start, stop):
        lru_del_page(s, p)
