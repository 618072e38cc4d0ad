"""Differential test: the compiled allocator against the pure-Python reference.

Random machines and random sequences of allocations (every order, every gfp class), frees and
drains are applied to both models. After every operation the compiled state must pass the
invariant checker, both must have returned the same pfn, and both must hold the same free
lists in the same order, the same pcp lists, pageblock types and counters.

LRU pages are made anonymous on a machine without swap, so direct reclaim (which the reference
does not model) finds nothing to reclaim and leaves the buddy state alone.
"""

from __future__ import annotations

import numpy as np
from conftest import COSTS, lru_pages, lru_release, small_config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference_buddy import RefZone

from allockit.mm import build_machine
from allockit.mm.constants import (
    ___GFP_NOMEMALLOC,
    GFP_ATOMIC,
    GFP_HIGHUSER_MOVABLE,
    GFP_KERNEL,
    GFP_KERNEL_RECLAIMABLE,
    GFP_NOWAIT,
)
from allockit.mm.introspect import snapshot
from allockit.mm.invariants import check_invariants
from allockit.mm.page_alloc import alloc_pages, free_pages
from allockit.mm.pcp import drain_all_pages
from allockit.mm.state import Z_PCP_BATCH, Z_PCP_HIGH, Z_WMARK
from allockit.mm.vmstat import (
    NR_FREE_CMA_PAGES,
    NR_FREE_PAGES,
    PGALLOC_CMA,
    SIM_ALLOC_FAIL,
    SIM_EXTFRAG,
    SIM_HIGHATOMIC_RESERVE,
    SIM_KSWAPD_WAKE,
    SIM_PAGEBLOCK_STEAL,
    SIM_PCPU_DRAIN,
    SIM_WATERMARK_BOOST,
    VMSTAT_BASE,
    VMSTAT_NAMES,
)

GFPS = [
    GFP_KERNEL,
    GFP_HIGHUSER_MOVABLE,
    GFP_KERNEL_RECLAIMABLE,
    GFP_ATOMIC,
    GFP_NOWAIT,
    GFP_ATOMIC | ___GFP_NOMEMALLOC,
    GFP_HIGHUSER_MOVABLE | GFP_ATOMIC,  # movable atomic: ALLOC_HARDER with ALLOC_CMA
]

machines = st.fixed_dictionaries(
    {
        "ram": st.sampled_from(["8M", "16M", "32M"]),
        "cma": st.sampled_from([0, "4M", "8M"]),
        "nr_cpus": st.integers(1, 3),
        "pageblock_order": st.sampled_from([9, 10]),
        "zone": st.sampled_from(["DMA32", "Normal"]),
        "watermark_boost_factor": st.sampled_from([0, 15000]),
        "batch": st.integers(1, 8),
        "high_mult": st.integers(1, 6),
        "wmark_min": st.integers(0, 64),
    }
)

ops = st.lists(
    st.one_of(
        st.tuples(
            st.just("alloc"),
            st.integers(0, 2),  # cpu (mod nr_cpus)
            st.integers(0, len(GFPS) - 1),
            st.sampled_from([0] * 8 + [1, 1, 2, 2, 3, 4, 5, 6, 8, 9, 10]),
            st.booleans(),  # put a movable allocation on the LRU
        ),
        st.tuples(st.just("free"), st.integers(0, 2), st.integers(0, 10**6)),
        st.tuples(st.just("drain")),
    ),
    min_size=20,
    max_size=120,
)


def boot(m):
    cma = m["cma"]
    ram_mb = int(m["ram"][:-1])
    if cma and int(cma[:-1]) > ram_mb // 2:
        cma = 0
    s = build_machine(
        small_config(
            ram=m["ram"],
            cma_size=cma,
            nr_cpus=m["nr_cpus"],
            pageblock_order=m["pageblock_order"],
            zone=m["zone"],
            watermark_boost_factor=m["watermark_boost_factor"],
        )
    , COSTS)
    # small machines get batch 0/high 0 from zone_batchsize; exercise real pcp behaviour
    s.zone[Z_PCP_BATCH] = m["batch"]
    s.zone[Z_PCP_HIGH] = m["batch"] * m["high_mult"]
    w = m["wmark_min"]
    s.zone[Z_WMARK : Z_WMARK + 3] = (w, w + w // 4, w + w // 2)
    return s


def assert_same(s, ref, step):
    a = snapshot(s)
    b = ref.snapshot()
    for key in a:
        assert a[key] == b[key], f"after op {step}: '{key}' differs"


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(m=machines, seq=ops)
def test_compiled_model_matches_reference(m, seq):
    s = boot(m)
    ref = RefZone(snapshot(s))
    ncpu = m["nr_cpus"]
    live: list[tuple[int, int]] = []
    check_invariants(s)
    for step, op in enumerate(seq):
        if op[0] == "alloc":
            _, cpu, g, order, lru = op
            gfp = GFPS[g]
            pfn = int(alloc_pages(s, cpu % ncpu, gfp, order))
            assert pfn == ref.alloc_pages(cpu % ncpu, gfp, order), f"op {step}: {op}"
            if pfn >= 0:
                live.append((pfn, order))
                if lru and gfp & 0x08:
                    lru_pages(s, pfn, pfn + (1 << order), anon=True)
                    ref.set_lru(pfn, 1 << order)
        elif op[0] == "free":
            if not live:
                continue
            _, cpu, k = op
            pfn, order = live.pop(k % len(live))
            lru_release(s, pfn, pfn + (1 << order))
            free_pages(s, cpu % ncpu, pfn, order)
            ref.free_pages(cpu % ncpu, pfn, order)
        else:
            drain_all_pages(s)
            ref.drain_all_pages()
        check_invariants(s)
        assert_same(s, ref, step)
    assert int(s.zone[SIM_KSWAPD_WAKE]) == ref.kswapd_wakes


def test_differential_catches_a_divergence():
    """The comparison itself must be able to fail: perturb one model and see it caught."""
    s = boot(
        dict(
            ram="16M",
            cma="4M",
            nr_cpus=1,
            pageblock_order=9,
            zone="DMA32",
            watermark_boost_factor=0,
            batch=2,
            high_mult=2,
            wmark_min=0,
        )
    )
    ref = RefZone(snapshot(s))
    pfn = int(alloc_pages(s, 0, GFP_KERNEL, 3))
    ref.alloc_pages(0, GFP_KERNEL, 3)
    assert_same(s, ref, 0)
    free_pages(s, 0, pfn, 3)  # only the compiled model frees
    try:
        assert_same(s, ref, 1)
    except AssertionError:
        return
    raise AssertionError("a one-sided free went unnoticed")


def test_long_random_run_matches_reference():
    """One long deterministic run (thousands of operations) held near the watermarks.

    Allocating while more than ~6 % of memory is free and freeing otherwise keeps the zone
    under pressure, so fallbacks, pageblock steals, watermark boosts, highatomic reserves and
    pcp overflows all happen; the test checks that they did, so that it keeps covering them.
    """
    rng = np.random.default_rng(1)
    m = dict(
        ram="32M",
        cma="8M",
        nr_cpus=2,
        pageblock_order=9,
        zone="DMA32",
        watermark_boost_factor=15000,
        batch=7,
        high_mult=6,
        wmark_min=32,
    )
    s = boot(m)
    ref = RefZone(snapshot(s))
    live = []
    order_p = [0.75, 0.1, 0.06, 0.04, 0.03, 0.01, 0.005, 0.003, 0.001, 0.0005, 0.0005]
    target = int(s.zone[NR_FREE_PAGES]) * 3 // 100
    failed = False
    for step in range(6000):
        free_normal = s.zone[NR_FREE_PAGES] - s.zone[NR_FREE_CMA_PAGES]
        if not live or (free_normal > target and not failed):
            gfp = GFPS[rng.integers(len(GFPS))]
            order = int(rng.choice(11, p=order_p))
            cpu = int(rng.integers(2))
            pfn = int(alloc_pages(s, cpu, gfp, order))
            assert pfn == ref.alloc_pages(cpu, gfp, order), f"step {step}"
            failed = pfn < 0
            if pfn >= 0:
                live.append((pfn, order))
                if gfp & 0x08 and rng.random() < 0.7:
                    lru_pages(s, pfn, pfn + (1 << order), anon=True)
                    ref.set_lru(pfn, 1 << order)
        else:
            pfn, order = live.pop(int(rng.integers(len(live))))
            cpu = int(rng.integers(2))
            lru_release(s, pfn, pfn + (1 << order))
            free_pages(s, cpu, pfn, order)
            ref.free_pages(cpu, pfn, order)
            failed = False
        if step % 300 == 299:
            drain_all_pages(s)
            ref.drain_all_pages()
        if step % 50 == 0:
            check_invariants(s)
            assert_same(s, ref, step)
    check_invariants(s)
    assert_same(s, ref, 6000)
    for counter in (
        SIM_EXTFRAG,
        SIM_PAGEBLOCK_STEAL,
        SIM_PCPU_DRAIN,
        SIM_WATERMARK_BOOST,
        SIM_HIGHATOMIC_RESERVE,
        SIM_ALLOC_FAIL,
        PGALLOC_CMA,
    ):
        assert s.zone[counter] > 0, VMSTAT_NAMES[counter - VMSTAT_BASE]
