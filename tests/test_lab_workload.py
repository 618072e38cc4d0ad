"""The lab guest's workload in the simulator: re-read loops, its wait before each experiment,
the build at the guest's pace (allockit/workload/kbuild.py, params/workload-lab.yaml)."""

import numpy as np
import pandas as pd
import pytest

from allockit.experiment.trial import TrialSpec, warm_machine
from allockit.lab import compare
from allockit.mm.background import EV_ALLOC, EV_READ, PK_ANON, PK_FILE
from allockit.mm.config import ConfigError
from allockit.mm.state import Z_CLOCK
from allockit.mm.vmstat import (
    NR_ACTIVE_FILE,
    NR_FREE_CMA_PAGES,
    WORKINGSET_ACTIVATE_FILE,
    WORKINGSET_REFAULT_FILE,
)
from allockit.params import lab_workload_constants
from allockit.workload.kbuild import (
    LAB_PARAM_NAMES,
    PACED_METADATA_RATES,
    PACED_RATES,
    PACED_TIMES,
    generate_kbuild,
    load_kbuild_params,
    mean_job_life_s,
    paced,
)

NS = 1_000_000_000
WORK = dict(jobs=2, anon_pages_per_s_per_job=2000, kernel_pages_per_s_per_job=200)
LOOPS = dict(reread_tree_pages=3000, reread_tree_pages_per_s=500,
             reread_filler_pages=2000, reread_filler_pages_per_s=4000)  # fmt: skip


def kbuild(rng=0, **over):
    p = load_kbuild_params(**WORK, **over)
    return generate_kbuild(p, 16384, 2, 2.0, np.random.default_rng(rng))


def test_loops_read_their_file_sets_in_order_at_their_rates():
    kb = kbuild(**LOOPS)
    reads = kb.events[kb.events["kind"] == EV_READ]
    assert (reads["pkind"] == PK_FILE).all()
    span_s = kb.t_end / NS
    for cpu, pages, rate in ((0, 3000, 500), (1, 2000, 4000)):
        mine = reads[reads["cpu"] == cpu]
        assert len(mine) == int(span_s * rate)
        objs = mine["obj"]
        assert len(np.unique(objs)) == min(pages, len(mine))  # the set, then again
        assert (objs[pages:] == objs[:-pages]).all()  # each pass in the same order
        assert np.allclose(np.diff(mine["time"]), NS / rate, atol=1)
    # the loops' pages are objects of their own: no allocation event names them
    assert not np.isin(reads["obj"], kb.events[kb.events["kind"] == EV_ALLOC]["obj"]).any()


def test_the_loops_lead_shifts_the_build_not_its_events():
    plain = kbuild(rng=5)
    led = kbuild(rng=5, **LOOPS, reread_lead_s=7.0)
    assert led.t_start == plain.t_start + 7 * NS and led.t_end == plain.t_end + 7 * NS
    build = led.events[led.events["kind"] != EV_READ]
    assert (build["time"] == plain.events["time"] + 7 * NS).all()
    assert led.events[led.events["kind"] == EV_READ]["time"].min() == 0


def test_no_loops_leave_the_seed_build_as_it_was():
    assert (kbuild(rng=2, reread_lead_s=50.0).events == kbuild(rng=2).events).all()


def test_paced_build_stretches_jobs_and_keeps_their_footprint():
    p = load_kbuild_params(build_slowdown=10)
    q = paced(p)
    for name in PACED_TIMES:
        assert q[name] == pytest.approx(10 * p[name])
    for name in PACED_RATES:
        assert q[name] == pytest.approx(p[name] / 10)
    hot = p["metadata_hot_fraction"]
    for name in PACED_METADATA_RATES:  # the hot core keeps its pace
        assert q[name] == pytest.approx(p[name] * (hot + (1 - hot) / 10))
    assert q["storage_latency_ms"] == p["storage_latency_ms"]  # the disk is not slowed
    def anon_allocations(kb):
        ev = kb.events
        return ((ev["kind"] == EV_ALLOC) & (ev["pkind"] == PK_ANON)).sum()

    slow = kbuild(rng=1, build_slowdown=10)
    fast = kbuild(rng=1)
    assert anon_allocations(slow) < anon_allocations(fast) / 3  # a tenth the pace


def test_bad_lab_workload_parameters():
    with pytest.raises(ConfigError, match="workload.build_slowdown: 0.5; allowed: a number >= 1"):
        load_kbuild_params(build_slowdown=0.5)
    with pytest.raises(ConfigError, match="workload.start_cma_free_pct: 150; allowed"):
        load_kbuild_params(start_cma_free_pct=150)
    with pytest.raises(ConfigError, match="workload.reread_tree_pages: -1"):
        load_kbuild_params(reread_tree_pages=-1)


def test_lab_workload_file_names_every_value_and_its_source():
    lab = lab_workload_constants()
    assert sorted(lab) == sorted(LAB_PARAM_NAMES)
    assert all(v["source"] for v in lab.values())


SMALL = dict(ram="64M", cma_size="16M", nr_cpus=2, kernel_reserved=0)


def lab_like(**over):
    loops = dict(LOOPS, reread_tree_pages=12000, reread_filler_pages=6000, reread_lead_s=10.0)
    return TrialSpec(machine=SMALL, workload=dict(WORK, **loops, **over), horizon_s=1.0)


def test_the_loops_fill_the_cache_and_the_filler_ends_up_active():
    """From an empty cache: the filler (6,000 pages, re-read fast) fits and its second pass
    hits, the tree (12,000 pages) does not fit and comes back after eviction (refaults)."""
    _, s, kb = warm_machine(lab_like(), np.random.SeedSequence(1))
    assert s.zone[WORKINGSET_REFAULT_FILE] > 0  # the tree's pages came back after eviction
    assert s.zone[NR_ACTIVE_FILE] > 3000
    assert s.zone[WORKINGSET_ACTIVATE_FILE] <= s.zone[WORKINGSET_REFAULT_FILE]


def test_the_strategy_waits_until_the_cma_area_is_nearly_full():
    """The lab's wait_low: a poll a second until free CMA <= the share, at most the cap."""
    kb_cfg = dict(start_wait_s=20)
    _, s, kb = warm_machine(lab_like(start_cma_free_pct=100, **kb_cfg), np.random.SeedSequence(1))
    _, s0, kb0 = warm_machine(lab_like(), np.random.SeedSequence(1))
    assert kb.t_start == kb0.t_start  # met at once: no wait
    _, s1, kb1 = warm_machine(lab_like(start_cma_free_pct=1e-9, **kb_cfg),
                              np.random.SeedSequence(1))  # fmt: skip
    assert kb1.t_start == kb0.t_start + 20 * NS  # never met: the cap
    assert s1.zone[Z_CLOCK] == kb1.t_start
    # the same events (same wait, so the same horizon): a share just below the one at t_start
    cma = int(s.zone[NR_FREE_CMA_PAGES])
    pct = 100 * (cma - 1) / 4096  # (a 16 MiB area)
    _, s2, kb2 = warm_machine(lab_like(start_cma_free_pct=pct, **kb_cfg),
                              np.random.SeedSequence(1))  # fmt: skip
    assert kb.t_start < kb2.t_start <= kb.t_start + 20 * NS
    assert (kb2.t_start - kb.t_start) % NS == 0  # once a second
    if kb2.t_start < kb.t_start + 20 * NS:
        assert s2.zone[NR_FREE_CMA_PAGES] * 100 <= pct * 4096


def _rows(**cols):
    base = dict(kernel="5.10", ram="1536M", cma_size="500M", cpus=2, jobs=2, order=4,
                nr_elem=4800, workload="kbuild", strategy="cma_single", trial=0)  # fmt: skip
    return pd.DataFrame([dict(base, **cols)])


def test_guest_build_slowdown_is_the_guests_time_per_object_over_the_models():
    rows = pd.concat([
        _rows(run_id="a", workload_objs=100, guest_uptime_s=1000.0),
        _rows(run_id="a", workload_objs=200, guest_uptime_s=2000.0),
        _rows(run_id="b", workload_objs=50, guest_uptime_s=3000.0),
    ])  # fmt: skip
    per_object = np.median([2 * 2000 / 200, 2 * 3000 / 50])
    expected = per_object / mean_job_life_s(load_kbuild_params())
    assert compare.guest_build_slowdown(rows) == pytest.approx(expected)
    assert compare.guest_build_slowdown(_rows(run_id="c")) is None


def test_sim_spec_runs_the_guests_workload_by_default():
    rows = _rows(run_id="a", workload_objs=100, guest_uptime_s=5000.0,
                 meminfo_Cached_kb=1_200_000, meminfo_MemTotal_kb=1_500_000)  # fmt: skip
    wl = compare.sim_spec(rows, "5.10").workload
    assert {k: wl[k] for k in LAB_PARAM_NAMES} == compare.lab_loops()
    assert wl["pagecache_fill"] == 0.0 and wl["build_slowdown"] > 1
    assert compare.sim_spec(rows, "5.10", page_cache="fill").workload == {
        "jobs": 2, "pagecache_fill": 0.8}
    assert compare.sim_spec(rows, "5.10", page_cache="build").workload == {"jobs": 2}
    assert compare.sim_spec(rows.assign(workload="idle"), "5.10").workload == {"jobs": 0}
    with pytest.raises(ValueError, match="page_cache: 'guest'; allowed: loops, fill, build"):
        compare.sim_spec(rows, "5.10", page_cache="guest")


def test_loop_sensitivity_varies_each_estimate_and_judges_the_warm_state():
    """Each estimate of params/workload-lab.yaml scaled, the others kept: a row per variant,
    the warm state it gives, and whether it stays within 25 % of the guest's."""
    from allockit.params import is_estimate

    guest = dict(warm_free_pages=8000, warm_free_cma_pages=3000, warm_file_pages=9000)
    rows = _rows(run_id="a", workload_objs=1000, guest_uptime_s=600.0,
                 ram="64M", cma_size="16M", nr_elem=64, **guest)  # fmt: skip
    table = compare.loop_sensitivity(rows, "5.10", trials=1, factors=(2.0,))
    estimates = [n for n, e in lab_workload_constants().items() if is_estimate(e)]
    assert list(table["estimate"]) == ["(as recorded)", *estimates]
    assert (table["warm_free_pages_MiB"] > 0).all() and (table["warm_file_pages_MiB"] > 0).all()
    doubled = table.set_index("estimate").loc["reread_filler_pages_per_s"]
    assert doubled["factor"] == 2.0
    close = compare.close_states(rows, compare.warm_states(compare.sim_spec(rows, "5.10"), 1, 1))
    assert list(close.index) == list(compare.CLOSE_COLUMNS)
    expected = (close["simulation_MiB"] / close["kernel_MiB"] - 1).abs() <= compare.STATE_CLOSE
    assert (close["close"] == expected).all()
