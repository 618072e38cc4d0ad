"""Trials: a machine, warmed up under the workload, then each strategy on a copy of it.

A trial is a pure function of its parameters and its seed: the workload's random stream
comes from ``SeedSequence(seed).spawn(trials)[i]``, so trial *i* of every strategy starts
from the same warmed-up machine and sees the same background events afterwards (common
random numbers: a difference between strategies is the strategies' doing).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..mm import build_machine, copy_state, machine_config
from ..mm.constants import SLEEP_CATEGORIES, TIME_CATEGORY_NAMES
from ..mm.introspect import machine_summary, memory_map
from ..mm.kcompactd import run_machine
from ..mm.state import EVENT_DTYPE, Z_ABLATE, Z_BUSY_CPUS, Z_CLOCK, Z_EV_TAIL, MachineState
from ..mm.vmstat import VMSTAT_NAMES
from ..params import load_costs
from ..strategies import STRATEGIES, Request, StrategyResult, check, get
from ..workload.kbuild import (
    REREAD_LOOPS,
    generate_kbuild,
    load_kbuild_params,
    paced,
    start_when,
)
from ..workload.replay import check_replay, replay_workload
from . import ablation

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
    *(n for n in VMSTAT_NAMES if n.startswith("sim_busy_")),  # the first busy page's class
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
    ablate: list[str] = field(default_factory=list)  # mechanisms switched off (ablation.py)


def workload_name(workload: dict[str, Any]) -> str:
    """``kbuild`` or ``replay:<file name>``: which workload a row's trial ran under."""
    return f"replay:{Path(workload['replay']).name}" if "replay" in workload else "kbuild"


def trial_seed(seed: int, trial: int, ntrials: int) -> np.random.SeedSequence:
    """The workload stream of trial ``trial``: ``SeedSequence(seed).spawn(ntrials)[trial]``
    (the same for any ``ntrials`` > ``trial``)."""
    return np.random.SeedSequence(seed).spawn(ntrials)[trial]


def warm_machine(spec: TrialSpec, seed_seq: np.random.SeedSequence):
    """Boot the machine, generate the workload, run it to the strategy's start."""
    cfg = machine_config(**spec.machine)
    costs = load_costs(**spec.costs)
    if "replay" in spec.workload:  # a real capture, re-issued (the seed plays no part)
        kb, _ = replay_workload(spec.workload, cfg.nr_cpus)
    else:
        wl = load_kbuild_params(**spec.workload)
        rng = np.random.default_rng(seed_seq)
        kb = generate_kbuild(wl, cfg.ram, cfg.nr_cpus, spec.horizon_s, rng,
                             ablation.workload_part(frozenset(spec.ablate)))  # fmt: skip
    s = build_machine(cfg, costs, event_capacity=len(kb.events), nr_objects=kb.nr_objects)
    s.zone[Z_ABLATE] = ablation.zone_mask(frozenset(spec.ablate))
    s.events[: len(kb.events)] = kb.events
    s.zone[Z_EV_TAIL] = len(kb.events)
    s.zone[Z_BUSY_CPUS] = kb.busy_cpus
    run_machine(s, kb.t_start)
    kb = replace(kb, t_start=start_when(s, kb))
    s.zone[Z_CLOCK] = kb.t_start
    s.time_ns[:] = 0
    return cfg, s, kb


def check_spec(spec: TrialSpec) -> None:
    """Validate machine, workload, costs and every strategy before any work."""
    cfg = machine_config(**spec.machine)
    load_costs(**spec.costs)
    if "replay" in spec.workload:
        check_replay(spec.workload)
    else:
        check_fits_in_memory(spec, cfg.ram, load_kbuild_params(**spec.workload))
    if not spec.strategies:
        raise ValueError("strategies: none given; allowed: " + ", ".join(STRATEGIES))
    for label, params in spec.strategies.items():
        check(params.get("strategy", label), spec.order, spec.nr_elem, params, cfg.cma_size)
    ablation.check_ablate(spec.ablate, cfg.kernel, "replay" not in spec.workload)
    if not 0 < spec.horizon_s <= 3600:
        raise ValueError(f"horizon_s: {spec.horizon_s}; allowed: 0 < horizon_s <= 3600")


def check_fits_in_memory(spec: TrialSpec, ram_pages: int, wl: dict[str, float]) -> None:
    """Refuse, before any work, a trial whose simulator state would not fit in this machine's
    memory: the page records (32 bytes per simulated page, twice: the warm machine and a
    strategy's copy) and the build's event queue (about two events per page the jobs allocate
    over the simulated time)."""
    phys = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    state = 2 * 32 * ram_pages
    wl = paced(wl)
    seconds = wl["dirty_expire_s"] + wl["flusher_interval_s"] + wl["warmup_s"] + spec.horizon_s
    if wl["start_cma_free_pct"] > 0:
        seconds += wl["start_wait_s"]
    per_job = wl["anon_pages_per_s_per_job"] + wl["kernel_pages_per_s_per_job"]
    reads = sum(wl[rate] for _, rate in REREAD_LOOPS)  # one event a page read
    events = 2 * wl["jobs"] * per_job * seconds + reads * (seconds + wl["reread_lead_s"])
    events *= EVENT_DTYPE.itemsize
    need = state + events
    if need > 0.8 * phys:
        gib = 1 << 30
        what = ("machine.ram" if state >= events else "workload.jobs")
        value = spec.machine.get("ram") if what == "machine.ram" else wl["jobs"]
        raise ValueError(
            f"{what}: {value}: the simulation would need about {need / gib:.0f} GiB "
            f"({state / gib:.1f} GiB of page state, {events / gib:.1f} GiB of workload "
            f"events); allowed: up to {0.8 * phys / gib:.0f} GiB on this machine")


def workload_slowdown_pct(breakdown_ns: dict[str, int], latency_ns: int, busy: int, ncpu: int):
    """How much CPU the call took from the workload, in % of the workload's CPU time meanwhile.

    The workload's timeline is open loop (its events keep their times), so its slowdown is
    not simulated; it is estimated from the call's own time breakdown. The call runs on one
    CPU; its running time (everything but the ``SLEEP_CATEGORIES``: writeback, lock, mutex
    and drain waits) displaces a compile job only when every CPU has one (``busy >= ncpu``;
    with an idle CPU, CFS runs the call there). The result is that displaced time over the
    jobs' CPU time during the call (``busy x latency``). 0 when idle or the call took no time.
    """
    if busy <= 0 or latency_ns <= 0 or busy < ncpu:
        return 0.0
    running = sum(v for k, v in breakdown_ns.items() if k not in SLEEP_CATEGORIES)
    return 100.0 * running / (busy * latency_ns)


def run_strategies(spec: TrialSpec, warm: MachineState):
    """Each strategy on its own copy of the warmed-up machine: yields (label, the machine
    after the call, with the blocks still held, the result, wall seconds)."""
    for label, params in spec.strategies.items():
        s = copy_state(warm)
        req = Request(
            order=spec.order,
            nr_elem=spec.nr_elem,
            params={k: v for k, v in params.items() if k != "strategy"},
        )
        t1 = time.perf_counter()
        r = get(params.get("strategy", label))(s, req)
        yield label, s, r, time.perf_counter() - t1


def trial_states(spec: TrialSpec, seed: int, trial: int, ntrials: int):
    """The machines of one trial: (config, warmed-up machine, {label: (after, result)})."""
    check_spec(spec)
    cfg, warm, _ = warm_machine(spec, trial_seed(seed, trial, ntrials))
    after = {label: (s, r) for label, s, r, _ in run_strategies(spec, warm)}
    return cfg, warm, after


def trial_memory_maps(
    spec: TrialSpec, seed: int, trial: int, ntrials: int
) -> dict[str, tuple[dict, StrategyResult | None]]:
    """The physical-memory maps of one trial (``mm.introspect.memory_map``): ``"before"`` (the
    warmed-up machine) and one per strategy after its call, with its result."""
    cfg, warm, after = trial_states(spec, seed, trial, ntrials)
    maps: dict[str, tuple[dict, StrategyResult | None]] = {
        "before": (memory_map(warm, cfg.cma_base_pfn, cfg.cma_size), None)
    }
    for label, (state, result) in after.items():
        maps[label] = (memory_map(state, cfg.cma_base_pfn, cfg.cma_size, result.pieces), result)
    return maps


def warm_key(spec: TrialSpec) -> str:
    """What the warmed-up machine depends on (besides seed and trial): trials of points that
    differ only in order, nr_elem or strategies can share one warm-up."""
    return json.dumps([spec.machine, spec.workload, spec.costs, spec.horizon_s, spec.ablate],
                      sort_keys=True, default=str)


def run_trial(
    spec: TrialSpec,
    seed: int,
    trial: int,
    ntrials: int,
    timing: dict[str, float] | None = None,
    warmed: tuple | None = None,
) -> list[dict[str, Any]]:
    """Trial ``trial`` of ``ntrials`` under root ``seed``: one row per strategy.

    The rows are a pure function of the arguments (no wall times: those go to ``timing``,
    when given, as ``warm_s`` and ``<label>_s``), so a trial's result file is the same bytes
    whoever runs it. ``warmed`` is the ``warm_machine`` result of this trial for a spec with
    the same ``warm_key``, to share a warm-up (the strategies run on copies of it).
    """
    check_spec(spec)
    t0 = time.perf_counter()
    if warmed is None:
        warmed = warm_machine(spec, trial_seed(seed, trial, ntrials))
    cfg, warm, kb = warmed
    summary = machine_summary(warm, cfg.cma_base_pfn, cfg.cma_size)
    if timing is not None:
        timing["warm_s"] = time.perf_counter() - t0
    rows = []
    for label, _, r, wall in run_strategies(spec, warm):
        row: dict[str, Any] = {
            "strategy": label,
            "trial": trial,
            "seed": seed,
            "kernel": cfg.kernel,
            "ram_pages": cfg.ram,
            "cma_pages": cfg.cma_size,
            "nr_cpus": cfg.nr_cpus,
            "workload": workload_name(spec.workload),
            "jobs": kb.jobs,
            "workload_unmapped": sum(kb.unmapped.values()),
            "order": spec.order,
            "got": r.got,
            "nr_elem": r.nr_elem,
            "success": r.success,
            "errno": r.errno,
            "latency_ms": r.latency_ns / 1e6,
            "dominant": r.dominant,
            "calls": r.calls,
            "beyond_horizon": bool(warm.clock + r.latency_ns > kb.t_end),
            "workload_slowdown_pct": workload_slowdown_pct(
                r.breakdown_ns, r.latency_ns, int(warm.zone[Z_BUSY_CPUS]), cfg.nr_cpus
            ),
        }
        if timing is not None:
            timing[f"{label}_s"] = wall
        for cat in TIME_CATEGORY_NAMES:
            row[f"t_{cat}_ms"] = r.breakdown_ns.get(cat, 0) / 1e6
        for c in COUNTERS:
            row[c] = r.counters.get(c, 0)
        row.update({f"warm_{k}": v for k, v in summary.items()})
        rows.append(row)
    return rows
