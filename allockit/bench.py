"""Benchmarks of the simulated allocator, printed by ``allockit bench [--json] [--quick]``.

Measured, never asserted in tests. Figures (``--quick`` skips the ones marked *):

* ``buddy_ns_per_op``: mean wall time of one ``alloc_pages`` or ``__free_pages`` call inside
  a compiled churn loop on the seed's machine (1.5 GiB, 500 MiB CMA) held at ~75 % occupancy,
  with a kernel-like mix (mostly order 0 through the pcp lists, some orders 1-4; movable,
  unmovable and reclaimable requests).
* ``numba_min_buddy_ns_per_op`` and ``c_buddy_ns_per_op``: the same churn in a minimal
  array-based buddy allocator (one free list per order, no migratetypes, pcp lists or
  watermarks), compiled by numba (``allockit/minbuddy.py``) and by the system C compiler
  (``benchmarks/c_buddy.c``, when one is found); the yardsticks, run interleaved with the
  simulator segment by segment so that all three see the same machine load. ``ratio_to_numba``
  and ``ratio_to_c`` are the medians of the per-segment ratios.
* ``bytes_per_page``: memory of the machine state per simulated page.
* ``seed_trial_s`` (``seed_warm_s``, ``seed_trial_parts_s``): wall time of one trial of
  ``params/seed.yaml`` (warm-up and every strategy; the warm-up alone; the warm-up and each
  strategy), median of ``REPEATS`` runs on a warm cache.
* ``compile_s``* (per entry point), ``compile_s_cold``* and ``load_s_warm``*: a fresh process
  with an empty numba cache runs a seed trial; the seconds numba spent compiling, by the entry
  point (a compiled function called from Python) that reached the code first; the process's
  wall time; then the same process with the cache it filled.
* ``cold_start_s``*: the README's main job (``allockit reproduce``, every core) from an empty
  numba cache to the printed seed table, installation excluded.
* ``sweep_default_s``*: the default sweep (``params/sweep-seed-axes.yaml``, every core) on a
  warm cache.
* ``scale_<size>_s`` and ``scale_<size>_rss_mb`` for 1.5G, 24G and 256G*: a fresh process
  boots a machine of that size, warms it up under the seed's build and runs one
  ``cma_chunked`` call: wall time (imports and cache loading included) and peak RSS.
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


def _python(code: str, *args: str, env: dict[str, str] | None = None) -> tuple[float, str]:
    """Run ``code`` in a fresh interpreter; return its wall time and its last output line."""
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code, *args], env=env, check=True,
                         capture_output=True, text=True)  # fmt: skip
    lines = out.stdout.strip().splitlines()
    return time.perf_counter() - t0, lines[-1] if lines else ""


def seed_trial_0(overrides: dict | None = None):
    """Trial 0 of ``params/seed.yaml`` (with ``overrides``): its TrialSpec, and a function
    that runs a TrialSpec as that trial (``run(spec, timing=None)``: its seed and stream)."""
    from .experiment.spec import load
    from .experiment.trial import run_trial
    from .paths import PARAMS_DIR

    sweep = load(PARAMS_DIR / "seed.yaml", overrides)

    def run(spec, timing: dict[str, float] | None = None):
        return run_trial(spec, sweep.seed, 0, sweep.trials, timing=timing)

    return sweep.trial_spec(sweep.points()[0]), run


def seed_trial_compile() -> None:
    """Run trial 0 of the seed spec; print what numba compiled for it, per entry point, as
    JSON (``{}`` when everything came from the cache)."""
    from .mm.jit import entry_point_compile_times

    spec, run = seed_trial_0()
    with entry_point_compile_times() as times:
        run(spec)
    print(json.dumps({k: round(v, 2) for k, v in sorted(times.items(), key=lambda kv: -kv[1])}))


_SEED_TRIAL = "from allockit.bench import seed_trial_compile; seed_trial_compile()"


def compile_times() -> dict:
    """A seed trial in a fresh process with an empty numba cache, then again with the cache
    it filled. ``recompiled_warm`` names what the second process compiled all the same (it
    should be empty: something there is not cached)."""
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        cold, per_entry = _python(_SEED_TRIAL, env=env)
        warm, again = _python(_SEED_TRIAL, env=env)
    per = json.loads(per_entry)
    return {
        "compile_s": per,
        "compile_s_total": round(sum(per.values()), 1),
        "compile_s_cold": round(cold, 1),
        "load_s_warm": round(warm, 2),
        "recompiled_warm": sorted(json.loads(again)),
    }


_REPRODUCE = "import sys; from pathlib import Path; from allockit.reproduce import main; " \
    "main(out=Path(sys.argv[1]))"


def cold_start() -> dict[str, float]:
    """``allockit reproduce`` from an empty numba cache to the printed seed table (results to
    a scratch directory; installation is not included)."""
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, NUMBA_CACHE_DIR=str(Path(tmp) / "numba"))
        wall, _ = _python(_REPRODUCE, str(Path(tmp) / "data"), env=env)
    return {"cold_start_s": round(wall, 1)}


def sweep_default() -> dict[str, float]:
    """Wall time of the default sweep (``params/sweep-seed-axes.yaml``) on every core, into a
    scratch directory, on a warm cache."""
    from .experiment.spec import load
    from .experiment.sweep import run_sweep
    from .paths import PARAMS_DIR

    with tempfile.TemporaryDirectory() as tmp:
        run = run_sweep(load(PARAMS_DIR / "sweep-seed-axes.yaml"), out=tmp, progress=False)
    return {"sweep_default_s": round(run.wall_s, 1), "sweep_default_trials": run.ran}


# machine sizes of the scale figures: (RAM, CMA); the seed's machine, then a CMA area of
# 1/16 of RAM, as on large servers with a few GB of CMA
SCALES = {"1.5G": ("1536M", "500M"), "24G": ("24G", "1536M"), "256G": ("256G", "16G")}


def scale_probe(ram: str, cma: str) -> None:
    """Boot a machine of ``ram`` with ``cma``, warm it up under the seed's build and run one
    ``cma_chunked`` call; print the peak RSS in MB as JSON."""
    from dataclasses import replace

    spec, run = seed_trial_0({"machine.ram": ram, "machine.cma_size": cma})
    run(replace(spec, strategies={"cma_chunked": spec.strategies["cma_chunked"]}))
    # VmHWM: the peak of this process's own memory; getrusage's ru_maxrss would carry over the
    # parent's peak, which Linux keeps across fork and exec
    hwm_kb = next(int(line.split()[1]) for line in open("/proc/self/status")
                  if line.startswith("VmHWM:"))  # fmt: skip
    print(json.dumps({"rss_mb": hwm_kb // 1024}))


def scale(sizes: list[str]) -> dict[str, float]:
    """``scale_probe`` for each size in a fresh process (warm cache): wall time and RSS."""
    out: dict[str, float] = {}
    for size in sizes:
        ram, cma = SCALES[size]
        code = "import sys; from allockit.bench import scale_probe; scale_probe(*sys.argv[1:])"
        wall, line = _python(code, ram, cma)
        out[f"scale_{size}_s"] = round(wall, 1)
        out[f"scale_{size}_rss_mb"] = json.loads(line)["rss_mb"]
    return out


C_BUDDY = ROOT / "benchmarks" / "c_buddy.c"


def seed_trial_times() -> dict:
    """Median wall time of trial 0 of the seed spec, whole, its warm-up alone, and each part
    (``seed_trial_parts_s``: the warm-up and every strategy, the profile to start from)."""
    spec, run = seed_trial_0()
    run(spec)  # compile or load before timing
    whole, parts = [], []
    for _ in range(REPEATS):
        timing: dict[str, float] = {}
        t0 = time.perf_counter()
        run(spec, timing)
        whole.append(time.perf_counter() - t0)
        parts.append(timing)
    part = {k.removesuffix("_s"): round(float(np.median([p[k] for p in parts])), 3)
            for k in parts[0]}  # fmt: skip
    return {
        "seed_trial_s": round(float(np.median(whole)), 3),
        "seed_warm_s": part["warm"],
        "seed_trial_parts_s": part,
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


def churn_vs_yardsticks(ops: int) -> dict[str, float]:
    """The simulator's churn, the numba minimal buddy and the C one, segment by segment."""
    from . import minbuddy

    s, segment, live = churn_machine()
    mini = minbuddy.zone()
    segment(20_000)  # the churn compiled (or loaded from the cache) before timing
    minbuddy.ns_per_op(mini, 20_000)
    ours, numba_min, c = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        exe = build_c_buddy(Path(tmp))
        for _ in range(REPEATS):
            ours.append(segment(ops // REPEATS) * 1e9)
            numba_min.append(minbuddy.ns_per_op(mini, ops // REPEATS))
            if exe is not None:
                c.append(run_c_buddy(exe, ops // REPEATS))
    result: dict[str, float] = {
        "buddy_ns_per_op": round(float(np.median(ours)), 1),
        "churn_ops": ops,
        "churn_failed_allocs": int(live["failed"]),
        "occupancy_end": round(1.0 - int(s.zone[NR_FREE_PAGES]) / int(s.zone[Z_MANAGED]), 4),
        "bytes_per_page": round(bytes_per_page(s), 2),
        "numba_min_buddy_ns_per_op": round(float(np.median(numba_min)), 1),
        "ratio_to_numba": round(float(np.median(np.divide(ours, numba_min))), 2),
    }
    if c:
        result["c_buddy_ns_per_op"] = round(float(np.median(c)), 1)
        result["ratio_to_c"] = round(float(np.median(np.divide(ours, c))), 2)
    return result


def main(as_json: bool = False, ops: int = 2_000_000, quick: bool = False) -> dict:
    """Run the benchmarks (``quick``: the ones that take seconds); print a table or one JSON
    object."""
    result: dict = churn_vs_yardsticks(ops)
    result.update(seed_trial_times())
    result.update(scale(["1.5G", "24G"] if quick else list(SCALES)))
    if not quick:
        result.update(sweep_default())
        result.update(compile_times())
        result.update(cold_start())
    if as_json:
        print(json.dumps(result, sort_keys=True))
    else:
        for k, v in result.items():
            print(f"{k:26s} {v}")
    return result
