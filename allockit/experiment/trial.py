"""Trials: a machine, warmed up under the workload, then each strategy on a copy of it.

A trial is a pure function of its parameters and its seed: the workload's random stream
comes from ``SeedSequence(seed).spawn(trials)[i]``, so trial *i* of every strategy starts
from the same warmed-up machine and sees the same background events afterwards (common
random numbers: a difference between strategies is the strategies' doing).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..mm import build_machine, copy_state, machine_config
from ..mm.background import run_background
from ..mm.constants import TIME_CATEGORY_NAMES, PG_anon, PG_dirty, PG_lru, PG_writeback
from ..mm.costs import load_costs
from ..mm.state import Z_BUSY_CPUS, Z_CLOCK, Z_EV_TAIL, MachineState
from ..strategies import STRATEGIES, Request, check, get
from ..workload.kbuild import generate_kbuild, load_kbuild_params

COUNTERS = (
    "pgmigrate_success",
    "pgmigrate_fail",
    "sim_migrate_eagain",
    "sim_writeback_wait",
    "sim_reclaim_clean",
    "sim_drain_all_pages",
    "sim_lru_add_drain_all",
    "sim_alloc_contig_range",
    "sim_alloc_contig_ebusy",
    "sim_cma_alloc_retry",
    "compact_stall",
    "allocstall",
    "sim_bg_alloc_fail",
)


@dataclass
class TrialSpec:
    """Everything a trial depends on (besides the seed)."""

    machine: dict[str, Any] = field(default_factory=dict)
    workload: dict[str, Any] = field(default_factory=dict)
    costs: dict[str, Any] = field(default_factory=dict)
    order: int = 4
    nr_elem: int = 4800
    strategies: dict[str, dict[str, Any]] = field(default_factory=dict)  # label -> params
    horizon_s: float = 10.0


def machine_summary(s: MachineState, cma_base: int, cma_count: int) -> dict[str, int]:
    """What the warmed-up machine holds (pages)."""
    f = s.flags
    used = s.owner >= 0
    cma = slice(cma_base, cma_base + cma_count)
    return {
        "free_pages": int(s.vmstat[0]),
        "free_cma_pages": int(s.vmstat[1]),
        "anon_pages": int(np.count_nonzero(f & PG_anon)),
        "file_pages": int(np.count_nonzero(used & ((f & PG_anon) == 0) & ((f & PG_lru) != 0))),
        "dirty_pages": int(np.count_nonzero(f & PG_dirty)),
        "writeback_pages": int(np.count_nonzero(f & PG_writeback)),
        "cma_in_use_pages": int(np.count_nonzero(used[cma])),
    }


def warm_machine(spec: TrialSpec, seed_seq: np.random.SeedSequence):
    """Boot the machine, generate the workload, run it to the strategy's start."""
    cfg = machine_config(**spec.machine)
    costs = load_costs(**spec.costs)
    wl = load_kbuild_params(**spec.workload)
    rng = np.random.default_rng(seed_seq)
    kb = generate_kbuild(wl, cfg.ram, cfg.nr_cpus, spec.horizon_s, rng)
    s = build_machine(cfg, costs, event_capacity=len(kb.events), nr_objects=kb.nr_objects)
    s.events[: len(kb.events)] = kb.events
    s.zone[Z_EV_TAIL] = len(kb.events)
    s.zone[Z_BUSY_CPUS] = kb.busy_cpus
    run_background(s, kb.t_start)
    s.zone[Z_CLOCK] = kb.t_start
    s.time_ns[:] = 0
    return cfg, s, kb


def check_spec(spec: TrialSpec) -> None:
    """Validate machine, workload, costs and every strategy before any work."""
    cfg = machine_config(**spec.machine)
    load_costs(**spec.costs)
    load_kbuild_params(**spec.workload)
    if not spec.strategies:
        raise ValueError("strategies: none given; allowed: " + ", ".join(STRATEGIES))
    for label, params in spec.strategies.items():
        check(params.get("strategy", label), spec.order, spec.nr_elem, params, cfg.cma_size)
    if not 0 < spec.horizon_s <= 3600:
        raise ValueError(f"horizon_s: {spec.horizon_s}; allowed: 0 < horizon_s <= 3600")


def run_trial(spec: TrialSpec, seed: int, trial: int, ntrials: int) -> list[dict[str, Any]]:
    """Trial ``trial`` of ``ntrials`` under root ``seed``: one row per strategy."""
    check_spec(spec)
    seq = np.random.SeedSequence(seed).spawn(ntrials)[trial]
    t0 = time.perf_counter()
    cfg, warm, kb = warm_machine(spec, seq)
    summary = machine_summary(warm, cfg.cma_base_pfn, cfg.cma_size)
    warm_s = time.perf_counter() - t0
    rows = []
    for label, params in spec.strategies.items():
        name = params.get("strategy", label)
        s = copy_state(warm)
        req = Request(
            order=spec.order,
            nr_elem=spec.nr_elem,
            params={k: v for k, v in params.items() if k != "strategy"},
        )
        t1 = time.perf_counter()
        r = get(name)(s, req)
        row: dict[str, Any] = {
            "strategy": label,
            "trial": trial,
            "seed": seed,
            "got": r.got,
            "nr_elem": r.nr_elem,
            "success": r.success,
            "errno": r.errno,
            "latency_ms": r.latency_ns / 1e6,
            "dominant": r.dominant,
            "calls": r.calls,
            "beyond_horizon": bool(warm.clock + r.latency_ns > kb.t_end),
            "wall_s": time.perf_counter() - t1,
            "warm_wall_s": warm_s,
        }
        for cat in TIME_CATEGORY_NAMES:
            row[f"t_{cat}_ms"] = r.breakdown_ns.get(cat, 0) / 1e6
        for c in COUNTERS:
            row[c] = r.counters.get(c, 0)
        row.update({f"warm_{k}": v for k, v in summary.items()})
        rows.append(row)
    return rows
