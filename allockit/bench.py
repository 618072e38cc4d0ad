"""Benchmarks of the simulated allocator, printed by ``allockit bench [--json]``.

Measured, never asserted in tests. Figures:

* ``buddy_ns_per_op``: mean wall time of one ``alloc_pages`` or ``__free_pages`` call inside
  a compiled churn loop on the seed's machine (1.5 GiB, 500 MiB CMA) held at ~75 % occupancy,
  with a kernel-like mix (mostly order 0 through the pcp lists, some orders 1-4; movable,
  unmovable and reclaimable requests).
* ``compile_s_cold``: a fresh process with an empty numba cache: import, boot, churn.
* ``load_s_warm``: the same process again with the cache filled by the cold run.
* ``bytes_per_page``: memory of the machine state per simulated page.
* ``seed_trial_s`` (``seed_warm_s``): wall time of one trial of ``params/seed.yaml`` (warm-up
  and every strategy; the warm-up alone), median of ``REPEATS`` runs on a warm cache.
* ``c_buddy_ns_per_op``: the same churn in a minimal C array-based buddy allocator
  (``benchmarks/c_buddy.c``: one free list per order, no migratetypes, pcp lists or
  watermarks), built with the system C compiler when one is found; the yardstick for
  ``buddy_ns_per_op``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from .mm import build_machine, bytes_per_page, machine_config
from .mm.constants import GFP_HIGHUSER_MOVABLE, GFP_KERNEL, GFP_KERNEL_RECLAIMABLE, NO_PAGE
from .mm.jit import mm_jit
from .mm.page_alloc import alloc_pages, free_pages
from .mm.state import Z_MANAGED, Z_NR_CPUS
from .mm.vmstat import NR_FREE_PAGES
from .params import load_costs
from .paths import ROOT

REPEATS = 5
ORDER_MIX = np.array([0.90, 0.04, 0.03, 0.02, 0.01])  # orders 0..4
GFP_MIX = (
    (GFP_HIGHUSER_MOVABLE, 0.70),
    (GFP_KERNEL, 0.20),
    (GFP_KERNEL_RECLAIMABLE, 0.10),
)


@mm_jit
def churn(s, orders, gfps, cpus, victims, live_pfn, live_order, nlive, target_free):
    """Allocate while free pages are above ``target_free``, else free a random live block.

    Starting from an empty machine this first fills it, then holds it at the target. Random
    choices come in as arrays (one entry per operation), so a run is deterministic.
    Returns ``(live allocations, failed allocations)``.
    """
    failed = 0
    for i in range(orders.shape[0]):
        if nlive == 0 or s.zone[NR_FREE_PAGES] > target_free:
            pfn = alloc_pages(s, cpus[i], gfps[i], orders[i])
            if pfn == NO_PAGE:
                failed += 1
            else:
                live_pfn[nlive] = pfn
                live_order[nlive] = orders[i]
                nlive += 1
        else:
            v = victims[i] % nlive
            free_pages(s, cpus[i], live_pfn[v], live_order[v])
            nlive -= 1
            live_pfn[v] = live_pfn[nlive]
            live_order[v] = live_order[nlive]
    return nlive, failed


def _draws(rng: np.random.Generator, n: int, nr_cpus: int):
    orders = rng.choice(len(ORDER_MIX), size=n, p=ORDER_MIX).astype(np.int64)
    gfp_values = np.array([g for g, _ in GFP_MIX], dtype=np.int64)
    gfps = gfp_values[rng.choice(len(GFP_MIX), size=n, p=[p for _, p in GFP_MIX])]
    cpus = rng.integers(0, nr_cpus, size=n).astype(np.int64)
    victims = rng.integers(0, 1 << 40, size=n).astype(np.int64)
    return orders, gfps, cpus, victims


def churn_machine(seed: int = 0, occupancy: float = 0.75):
    """The seed machine filled to ``occupancy``, with a function that times one churn segment."""
    s = build_machine(machine_config(), load_costs())
    rng = np.random.default_rng(seed)
    managed = int(s.zone[Z_MANAGED])
    target_free = int(managed * (1.0 - occupancy))
    live_pfn = np.zeros(managed + 1, dtype=np.int64)
    live_order = np.zeros(managed + 1, dtype=np.int64)
    nr_cpus = int(s.zone[Z_NR_CPUS])
    live = {"n": 0, "failed": 0}
    live["n"], _ = churn(s, *_draws(rng, managed, nr_cpus), live_pfn, live_order, 0, target_free)

    def segment(ops: int) -> float:
        """Run ``ops`` churn operations; return seconds per operation."""
        draws = _draws(rng, ops, nr_cpus)
        t0 = time.perf_counter()
        live["n"], f = churn(s, *draws, live_pfn, live_order, live["n"], target_free)
        dt = time.perf_counter() - t0
        live["failed"] += f
        return dt / ops

    return s, segment, live


def run_churn(ops: int = 2_000_000, seed: int = 0) -> dict[str, float]:
    """Median ns per operation over REPEATS segments of the seed machine's churn."""
    s, segment, live = churn_machine(seed)
    per_op = [segment(ops // REPEATS) for _ in range(REPEATS)]
    return {
        "buddy_ns_per_op": round(float(np.median(per_op)) * 1e9, 1),
        "churn_ops": ops,
        "churn_failed_allocs": int(live["failed"]),
        "occupancy_end": round(1.0 - int(s.zone[NR_FREE_PAGES]) / int(s.zone[Z_MANAGED]), 4),
        "bytes_per_page": round(bytes_per_page(s), 2),
    }


_COMPILE_PROBE = (
    "import time; t=time.perf_counter(); "
    "from allockit.bench import run_churn; run_churn(ops=2000); "
    "from allockit.mm.invariants import check_invariants; "
    "from allockit.mm import build_machine, machine_config; "
    "from allockit.params import load_costs; "
    "check_invariants(build_machine(machine_config(ram='16M', cma_size='4M', kernel_reserved=0), "
    "load_costs())); "
    "print(time.perf_counter()-t)"
)


def compile_times() -> dict[str, float]:
    """Wall time of a fresh process with an empty numba cache, then with the cache warm."""
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        out = []
        for _ in range(2):
            t0 = time.perf_counter()
            subprocess.run(
                [sys.executable, "-c", _COMPILE_PROBE], env=env, check=True, capture_output=True
            )
            out.append(time.perf_counter() - t0)
    return {"compile_s_cold": round(out[0], 2), "load_s_warm": round(out[1], 2)}


C_BUDDY = ROOT / "benchmarks" / "c_buddy.c"


def seed_trial_times() -> dict[str, float]:
    """Median wall time of trial 0 of the seed spec, whole and its warm-up alone."""
    from .experiment.spec import load
    from .experiment.trial import run_trial
    from .paths import PARAMS_DIR

    sweep = load(PARAMS_DIR / "seed.yaml")
    spec = sweep.trial_spec(sweep.points()[0])
    run_trial(spec, sweep.seed, 0, sweep.trials)  # compile or load before timing
    whole, warm = [], []
    for _ in range(REPEATS):
        timing: dict[str, float] = {}
        t0 = time.perf_counter()
        run_trial(spec, sweep.seed, 0, sweep.trials, timing=timing)
        whole.append(time.perf_counter() - t0)
        warm.append(timing["warm_s"])
    return {
        "seed_trial_s": round(float(np.median(whole)), 3),
        "seed_warm_s": round(float(np.median(warm)), 3),
    }


def build_c_buddy(tmp: Path) -> Path | None:
    """Compile benchmarks/c_buddy.c; None when no C compiler or no source checkout."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None or not C_BUDDY.exists():
        return None
    exe = tmp / "c_buddy"
    subprocess.run([cc, "-O2", "-o", str(exe), str(C_BUDDY)], check=True, capture_output=True)
    return exe


def run_c_buddy(exe: Path, ops: int) -> float:
    """ns per operation of one run of the C yardstick."""
    out = subprocess.run([str(exe), str(ops)], check=True, capture_output=True, text=True)
    return float(out.stdout.strip().split("=")[1])


def main(as_json: bool = False, ops: int = 2_000_000, compile: bool = True) -> dict[str, float]:
    """Run every benchmark; print a table or one JSON object.

    The compiled churn and the C yardstick run interleaved, segment by segment, so that both
    see the same machine load; the ratio is the median of the per-segment ratios.
    """
    run_churn(ops=20_000)  # compile (or load from the cache) before timing
    s, segment, live = churn_machine()
    ours, theirs = [], []
    with tempfile.TemporaryDirectory() as tmp:
        exe = build_c_buddy(Path(tmp))
        for _ in range(REPEATS):
            ours.append(segment(ops // REPEATS) * 1e9)
            if exe is not None:
                theirs.append(run_c_buddy(exe, ops // REPEATS))
    result: dict[str, float] = {
        "buddy_ns_per_op": round(float(np.median(ours)), 1),
        "churn_ops": ops,
        "churn_failed_allocs": int(live["failed"]),
        "occupancy_end": round(1.0 - int(s.zone[NR_FREE_PAGES]) / int(s.zone[Z_MANAGED]), 4),
        "bytes_per_page": round(bytes_per_page(s), 2),
    }
    if theirs:
        result["c_buddy_ns_per_op"] = round(float(np.median(theirs)), 1)
        ratios = [a / b for a, b in zip(ours, theirs, strict=True)]
        result["ratio_to_c"] = round(float(np.median(ratios)), 2)
    result.update(seed_trial_times())
    if compile:
        result.update(compile_times())
    if as_json:
        print(json.dumps(result, sort_keys=True))
    else:
        for k, v in result.items():
            print(f"{k:24s} {v}")
    return result
