"""Simulation beside measurement: the logic of ``notebooks/09-simulation-vs-kernel.ipynb``.

``load_lab`` reads ``data/lab/*.parquet`` (rows of ``allockit lab run``); ``sim_spec`` builds the
simulator's TrialSpec for the same machine, kernel-model version, intensity, request and
strategies; ``run_sim`` runs it with :func:`allockit.experiment.trial.run_trial`;
``side_by_side`` puts the two per strategy; ``orderings`` ranks the strategies on each side;
``disagreements`` names every place where they differ and the mechanism or parameter of the
model it points to (:data:`MECHANISMS`).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from ..mm.vmstat import VMSTAT_NAMES
from .experiments import EXPERIMENTS
from .rows import lru_state
from .spec import DATA_DIR

# lab kernel series -> the simulator's kernel model of the same series
SIM_KERNEL = {"5.10": "5.10", "6.1": "6.1"}

# What a disagreement on each strategy points to in the model.
MECHANISMS = {
    "cma_single_a0": "one all-or-nothing 300 MB window (align 0): any page that stays "
    "unmigratable fails the call - ext4 metadata jbd2 holds, short GUP pins, writeback waits "
    "(params/workload-kbuild.yaml metadata_* and pin rates; mm/migrate.py retry passes)",
    "cma_single": "one all-or-nothing 300 MB window (align 8): as cma_single_a0, and the "
    "slide by 2^8 pages after -EBUSY (mm/cma.py)",
    "cma_chunked": "4 MiB windows sliding on -EBUSY: the per-block migration failure rate "
    "and the cost of isolating two pageblocks per call (mm/cma.py, mm/isolation.py)",
    "cma_chunked_o9": "2 MiB windows sliding on -EBUSY: per-pageblock migration failure "
    "rate and per-call isolation/drain cost (mm/cma.py, mm/drain.py)",
    "cma_many": "fixed cost per cma_alloc call: pageblock isolation, drain_all_pages and "
    "lru_add_drain_all IPIs (params/costs.yaml drain costs, mm/drain.py)",
    "buddy_compaction": "GFP_KERNEL order-4 from non-CMA memory: the free memory above the "
    "min watermark, then one reclaim and compaction round (kswapd's balance point: the model "
    "has no ZONE_DMA, whose balance stops the kernel's kswapd; mm/vmscan.py pgdat_balanced)",
    "buddy_compaction_movable": "movable order-4 allocations may take CMA pageblocks "
    "(the CMA balancing rule in __rmqueue, mm/page_alloc.py), compaction and the retry rules "
    "(mm/compaction.py should_compact_retry; the free-memory level and shape they meet)",
}

# Thresholds for calling two sides different (10 trials a side: coarse on purpose).
SUCCESS_GAP = 0.3  # |success rate lab - sim|
LATENCY_FACTOR = 10.0  # corrected lab median vs sim median, either way
GOT_GAP = 0.3  # |median got of the short trials, lab - sim| as a share of the larger


def usable(df: pd.DataFrame) -> pd.Series:
    """Rows to compare: from runs that finished cleanly, or that the runner's timeout cut
    short (their finished trials are whole measurements) - and then only trials in which every
    experiment of the run has a result. Runs with a guest crash or error are never usable."""
    problems = df.get("run_problems", pd.Series("", index=df.index)).fillna("")
    only_timeout = problems.str.split("; ").map(
        lambda ps: all(p.startswith(("timeout", "guest did not finish")) for p in ps if p)
    )
    ok_run = df["run_complete"] | only_timeout
    n_exp = df.groupby("run_id")["strategy"].transform("nunique")
    n_trial = df.groupby(["run_id", "trial"])["strategy"].transform("nunique")
    return ok_run & (n_trial == n_exp)


def load_lab(path: str | Path = DATA_DIR, complete_only: bool = True) -> pd.DataFrame:
    """All ``*.parquet`` under ``path`` in one frame; with ``complete_only`` only the rows
    :func:`usable` keeps. An empty directory is a ValueError."""
    files = sorted(Path(path).glob("*.parquet"))
    if not files:
        raise ValueError(f"lab data: no *.parquet under {path}; run `allockit lab run` first")
    df = pd.concat([_with_lru_state(pd.read_parquet(f)) for f in files], ignore_index=True)
    if complete_only:
        df = df[usable(df)].reset_index(drop=True)
    return df


def _with_lru_state(df: pd.DataFrame) -> pd.DataFrame:
    """A run's rows with the guest's LRU lists (``warm_active_file_pages``, ...): runs
    recorded before the LRU lists were compared get them from their meminfo columns."""
    if "warm_active_file_pages" in df.columns or "meminfo_Active_file_kb" not in df.columns:
        return df
    kbs = {k: df[f"meminfo_{k}_kb"] for k in ("Active_file", "Inactive_file")}
    return df.assign(**lru_state(kbs))


def guest_page_cache_fill(rows: pd.DataFrame) -> float | None:
    """The share of the guest's RAM in the page cache before the experiments (median
    ``Cached`` / ``MemTotal`` of /proc/meminfo), or None when the rows lack meminfo."""
    if not {"meminfo_Cached_kb", "meminfo_MemTotal_kb"} <= set(rows.columns):
        return None
    fill = rows["meminfo_Cached_kb"].median() / rows["meminfo_MemTotal_kb"].median()
    return None if np.isnan(fill) else float(min(fill, 0.95))


# how the simulated guest's page cache comes about (sim_spec's ``page_cache``)
PAGE_CACHE_MODES = {
    "loops": "the guest's workload: its re-read loops and its wait before each experiment "
    "(params/workload-lab.yaml) beside the build at the guest's measured pace "
    "(guest_build_slowdown), from an empty page cache",
    "fill": "the build starts with the guest's measured page-cache level "
    "(workload.pagecache_fill = median Cached / MemTotal), read in at time 0",
    "build": "the synthetic build alone, with its own pagecache_fill estimate",
}


# what makes two lab runs the same experiment (sim_spec compares one setup at a time)
SETUP_COLUMNS = ("kernel", "ram", "cma_size", "cpus", "jobs", "order", "nr_elem", "workload")


def setup_label(rows: pd.DataFrame) -> str:
    """The setup of lab rows in words: kernel, machine, workload and request."""
    r = rows.iloc[0]  # the workload column names the jobs too (LabSpec.workload_label)
    return (f"{r['kernel']}: {r['ram']} RAM, {r['cma_size']} CMA, {int(r['cpus'])} CPUs, "
            f"{r['workload']}, {int(r['nr_elem']):,} order-{int(r['order'])} pages")  # fmt: skip


def setups(lab: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The lab rows by setup (:data:`SETUP_COLUMNS`), each under its :func:`setup_label`: a
    run at a new setup beside the recorded ones is compared on its own."""
    return {setup_label(rows): rows for _, rows in lab.groupby(list(SETUP_COLUMNS), sort=True)}


def lab_loops() -> dict[str, float]:
    """The lab guest's re-read loops as build parameters (``params/workload-lab.yaml``)."""
    from ..params import lab_workload_constants

    return {k: v["value"] for k, v in lab_workload_constants().items()}


def guest_build_slowdown(rows: pd.DataFrame) -> float | None:
    """How many times slower the guest's build ran than the captured one: per boot, the
    guest's time per compiled object and job slot (``jobs`` x uptime / ``workload_objs``, the
    objects of its current ``make`` round at the end) over the simulated build's mean time per
    job (:func:`allockit.workload.kbuild.mean_job_life_s`); the median over boots, at least 1.
    None when the rows do not say (runs recorded before the guest counted objects)."""
    from ..workload.kbuild import load_kbuild_params, mean_job_life_s

    if not {"workload_objs", "guest_uptime_s", "run_id"} <= set(rows.columns):
        return None
    runs = rows.groupby("run_id").agg(
        objs=("workload_objs", "max"), up=("guest_uptime_s", "max"), jobs=("jobs", "first")
    )
    runs = runs[runs["objs"] > 0]
    if runs.empty:
        return None
    per_object = (runs["jobs"] * runs["up"] / runs["objs"]).median()
    return max(float(per_object / mean_job_life_s(load_kbuild_params())), 1.0)


def sim_spec(lab: pd.DataFrame, kernel: str, horizon_s: float = 12.0, page_cache: str = "loops"):
    """The simulator's TrialSpec for the lab rows of one kernel: the same RAM, CMA size, CPUs,
    compile jobs (0 when the lab was idle), request and strategies, and the guest's page cache
    as ``page_cache`` says (:data:`PAGE_CACHE_MODES`). By default the guest's re-read loops run
    in the simulation too, from an empty cache, so the page cache the strategies meet is the
    one the loops, the build and reclaim make of it, not a level taken from the guest."""
    from ..experiment.trial import TrialSpec

    if kernel not in SIM_KERNEL:
        raise ValueError(f"kernel: {kernel!r}; allowed: {', '.join(SIM_KERNEL)}")
    if page_cache not in PAGE_CACHE_MODES:
        raise ValueError(f"page_cache: {page_cache!r}; allowed: {', '.join(PAGE_CACHE_MODES)}")
    rows = lab[lab["kernel"] == kernel]
    if rows.empty:
        raise ValueError(f"lab data: no rows for kernel {kernel!r}")
    first = rows.iloc[0]
    for col in SETUP_COLUMNS[1:]:  # one kernel's rows: the rest of the setup must agree
        if rows[col].nunique() != 1:
            raise ValueError(f"lab data for {kernel}: several values of {col}; compare one setup")
    idle = first["workload"] == "idle"
    workload: dict = {"jobs": 0 if idle else int(first["jobs"])}
    if not idle and page_cache == "loops":
        workload.update(lab_loops(), pagecache_fill=0.0)
        slowdown = guest_build_slowdown(rows)
        if slowdown is not None:
            workload["build_slowdown"] = round(slowdown, 1)
    fill = guest_page_cache_fill(rows) if page_cache == "fill" else None
    if fill is not None:
        workload["pagecache_fill"] = round(fill, 3)
    strategies = {s: dict(EXPERIMENTS[s].sim) for s in rows["strategy"].unique()}
    return TrialSpec(
        machine=dict(
            ram=first["ram"],
            cma_size=first["cma_size"],
            nr_cpus=int(first["cpus"]),
            kernel=SIM_KERNEL[kernel],
        ),  # fmt: skip
        workload=workload,
        order=int(first["order"]),
        nr_elem=int(first["nr_elem"]),
        strategies=strategies,
        horizon_s=horizon_s,
    )


def run_sim(spec, trials: int, seed: int) -> pd.DataFrame:
    """``trials`` paired simulator trials (one row per strategy and trial)."""
    from ..experiment.trial import run_trial

    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise ValueError(f"trials: {trials!r}; allowed: an integer >= 1")
    rows = []
    for t in range(trials):
        rows += run_trial(spec, seed, t, trials)
    return pd.DataFrame(rows)


def _summary(df: pd.DataFrame, latency: str, busy: str) -> pd.DataFrame:
    g = df.groupby("strategy", sort=False)
    return pd.DataFrame({
        "n": g.size(),
        "ok": g["success"].sum().astype(int),
        "got_med": g["got"].median(),
        # over the trials that fell short only: an all-or-nothing call's 0s and 4,800s would
        # otherwise give a median of 2,400 that no trial had
        "got_short_med": df[~df["success"].astype(bool)]
        .groupby("strategy")["got"].median().reindex(g.size().index),
        "lat_med_ms": g[latency].median(),
        "lat_p90_ms": g[latency].quantile(0.9),
        "busy_med": g[busy].median(),
    })  # fmt: skip


def side_by_side(lab: pd.DataFrame, sim: pd.DataFrame) -> pd.DataFrame:
    """Per strategy: lab (corrected latency) and sim, success counts, got, latency, busy
    retries; plus the lab's raw latency median."""
    a = _summary(lab, "latency_ms_corrected", "sim_cma_alloc_retry").add_prefix("lab_")
    a["lab_lat_med_raw_ms"] = lab.groupby("strategy", sort=False)["latency_ms"].median()
    b = _summary(sim, "latency_ms", "sim_cma_alloc_retry").add_prefix("sim_")
    return a.join(b, how="inner")


def busy_spread(lab: pd.DataFrame, sim: pd.DataFrame) -> pd.DataFrame:
    """Busy retries (slides) per strategy on each side, as distributions: min / median / mean
    / max and the share of trials that never slid. A side whose trials slide either not at all
    or some tens of times (one pinned page in the window's way) has a median that one trial
    moves from 0 to tens; the mean and the zero share say more."""
    out = {}
    for side, df in (("kernel", lab), ("simulation", sim)):
        g = df.groupby("strategy", sort=False)["sim_cma_alloc_retry"]
        out |= {
            f"{side}_min": g.min(),
            f"{side}_median": g.median(),
            f"{side}_mean": g.mean().round(1),
            f"{side}_max": g.max(),
            f"{side}_zero_share": g.apply(lambda x: float((x == 0).mean())).round(2),
        }
    return pd.DataFrame(out).dropna()


def orderings(table: pd.DataFrame) -> pd.DataFrame:
    """Rank strategies on each side: higher success rate first, then lower median latency."""
    out = {}
    for side in ("lab", "sim"):
        rate = table[f"{side}_ok"] / table[f"{side}_n"]
        key = pd.DataFrame({"rate": -rate, "lat": table[f"{side}_lat_med_ms"]})
        out[f"{side}_rank"] = key.sort_values(["rate", "lat"]).index.to_list()
    n = max(len(v) for v in out.values())
    return pd.DataFrame({k: v + [""] * (n - len(v)) for k, v in out.items()})


def disagreements(table: pd.DataFrame) -> list[str]:
    """Every disagreement between the lab and the simulation, with what it points to.

    Checked per strategy: success rate (gap > SUCCESS_GAP), pages obtained when both fall short
    (gap > GOT_GAP), busy retries (one side slides, the other does not), corrected median
    latency (off by more than LATENCY_FACTOR either way, or zero in the simulation);
    and across strategies: pairs the two sides order differently by median latency.
    """
    out = []
    for s, r in table.iterrows():
        hint = MECHANISMS.get(s, "no mechanism on record for this strategy")
        lab_rate, sim_rate = r["lab_ok"] / r["lab_n"], r["sim_ok"] / r["sim_n"]
        if abs(lab_rate - sim_rate) > SUCCESS_GAP:
            out.append(
                f"{s}: success {r['lab_ok']:.0f}/{r['lab_n']:.0f} on the kernel vs "
                f"{r['sim_ok']:.0f}/{r['sim_n']:.0f} simulated -> {hint}"
            )
        lg, sg = r["lab_got_short_med"], r["sim_got_short_med"]
        nr = max(lg, sg, 1)
        if lab_rate < 1 and sim_rate < 1 and abs(lg - sg) > GOT_GAP * nr:
            out.append(
                f"{s}: median pages obtained when falling short {lg:g} on the kernel vs {sg:g} "
                f"simulated -> {hint}"
            )
        lb, sb = r["lab_busy_med"], r["sim_busy_med"]
        if (lb > 0) != (sb > 0):
            out.append(
                f"{s}: median busy retries {lb:g} on the kernel vs {sb:g} simulated -> "
                "the -EBUSY rate of alloc_contig_range (test_pages_isolated after migration; "
                "mm/contig.py; journaled metadata and pin rates in params/workload-kbuild.yaml)"
            )
        ll, sl = r["lab_lat_med_ms"], r["sim_lat_med_ms"]
        if sl == 0 and ll >= 1.0:
            out.append(
                f"{s}: median latency {ll:.3g} ms on the kernel (TCG-corrected) vs 0 simulated "
                "-> the simulation charges no time on this path (allocator fast path: "
                "params/costs.yaml has no per-allocation cost for it)"
            )
        elif ll > 0 and sl > 0 and max(ll / sl, sl / ll) > LATENCY_FACTOR:
            out.append(
                f"{s}: median latency {ll:.3g} ms on the kernel (TCG-corrected) vs {sl:.3g} ms "
                f"simulated ({max(ll / sl, sl / ll):.0f}x) -> cost model (params/costs.yaml) "
                f"for {hint.split(':')[0]}"
            )
    names = list(table.index)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            dl = np.sign(table.at[a, "lab_lat_med_ms"] - table.at[b, "lab_lat_med_ms"])
            ds = np.sign(table.at[a, "sim_lat_med_ms"] - table.at[b, "sim_lat_med_ms"])
            if dl != 0 and ds != 0 and dl != ds:
                faster_lab, faster_sim = (a, b) if dl < 0 else (b, a), (a, b) if ds < 0 else (b, a)
                out.append(
                    f"order {a} vs {b}: the kernel has {faster_lab[0]} faster, the simulation "
                    f"{faster_sim[0]} -> the relative costs of their mechanisms "
                    f"({MECHANISMS.get(a, a).split(':')[0]} / {MECHANISMS.get(b, b).split(':')[0]})"
                )
    return out


# The simulator's classes of the first busy page (mm/pagestate.busy_page_class): its
# sim_busy_<class> counters.
SIM_BUSY = tuple(n.removeprefix("sim_busy_") for n in VMSTAT_NAMES if n.startswith("sim_busy_"))
BUSY_SHARE_GAP = 0.3  # |share of failures on journaled metadata, lab - sim|


def busy_shares(lab: pd.DataFrame, sim: pd.DataFrame) -> pd.DataFrame:
    """What the busy pages were, per strategy: the -EBUSY failures on each side and the share
    of them whose first busy page was ext4 metadata that jbd2 holds (the lab module's
    ``busy_jbd`` against the model's ``sim_busy_journal``), then the model's other classes.
    Lab columns are NaN for runs recorded before the census."""
    g = sim.groupby("strategy", sort=False)
    fails = g[[f"sim_busy_{c}" for c in SIM_BUSY]].sum()
    total = fails.sum(axis=1)
    out = pd.DataFrame({"sim_fails": total})
    for c in SIM_BUSY:
        out[f"sim_{c}_share"] = fails[f"sim_busy_{c}"] / total.where(total > 0)
    if "busy_fails" in lab.columns:
        d = lab[lab["busy_fails"].notna()]
        lg = d.groupby("strategy", sort=False)
        lab_fails = lg["busy_fails"].sum()
        jbd = lg["busy_jbd"].sum() if "busy_jbd" in d.columns else lab_fails * np.nan
        lab_part = pd.DataFrame({
            "lab_fails": lab_fails, "lab_journal_share": jbd / lab_fails.where(lab_fails > 0),
        })  # fmt: skip
    else:
        lab_part = pd.DataFrame(columns=["lab_fails", "lab_journal_share"], dtype=float)
    return lab_part.join(out, how="outer")


def busy_disagreements(shares: pd.DataFrame) -> list[str]:
    """Strategies whose failures the two sides blame on journaled metadata in clearly
    different shares (by more than BUSY_SHARE_GAP), with what that points to."""
    out = []
    for s, r in shares.iterrows():
        a, b = r.get("lab_journal_share"), r.get("sim_journal_share")
        if pd.notna(a) and pd.notna(b) and abs(a - b) > BUSY_SHARE_GAP:
            out.append(
                f"{s}: {a:.0%} of the kernel's busy pages were ext4 metadata held by jbd2 vs "
                f"{b:.0%} simulated -> the other blockers: pages off the LRU or with extra "
                "references (params/workload-kbuild.yaml pin and read-lock rates; reclaim "
                "isolating pages concurrently is not modelled)"
                if a < b else
                f"{s}: {a:.0%} of the kernel's busy pages were ext4 metadata held by jbd2 vs "
                f"{b:.0%} simulated -> the journaled-metadata rates (params/workload-kbuild.yaml "
                "metadata_*)"
            )  # fmt: skip
    return out


def distortion(lab: pd.DataFrame) -> pd.DataFrame:
    """Per run: the guest's slowdown against the host for each calibration figure (TCG makes
    integer work ~1-2x, page faults ~5-20x, bulk memory 20-150x slower; I/O is not slowed)."""
    cols = [c for c in lab.columns if c.startswith("slowdown_")]
    return lab.groupby(["kernel", "run_id", "accel"])[cols].first().round(1)


def long_form(lab: pd.DataFrame, sim: pd.DataFrame) -> pd.DataFrame:
    """Both sides in one frame (strategy, side, latency_ms, got, success) for plotting: the
    lab's latency TCG-corrected, and its raw latency as a third side."""
    parts = []
    for side, df, col in (
        ("kernel (corrected)", lab, "latency_ms_corrected"),
        ("kernel (raw TCG)", lab, "latency_ms"),
        ("simulation", sim, "latency_ms"),
    ):
        d = df[["strategy", "got", "success"]].copy()
        d["latency_ms"] = df[col].clip(lower=0.01)  # fast-path zero times: floor for a log axis
        d["side"] = side
        parts.append(d)
    return pd.concat(parts, ignore_index=True)


def latency_chart(lab: pd.DataFrame, sim: pd.DataFrame, title: str):
    """Latency distributions per strategy, kernel (raw and corrected) beside simulation."""
    import altair as alt

    data = long_form(lab, sim)
    return (
        alt.Chart(data, title=title)
        .mark_tick(thickness=2, size=12, opacity=0.8)
        .encode(
            x=alt.X("latency_ms:Q", scale=alt.Scale(type="log"), title="latency (ms)"),
            y=alt.Y("side:N", title=None),
            # labels above each panel: rotated at the side they ran into the axis labels
            row=alt.Row("strategy:N", title=None,
                        header=alt.Header(labelAngle=0, labelAlign="left", labelOrient="top")),
            color=alt.Color("success:N", title="got all"),
        )
        .properties(width=480, height=60)
    )


STATE_COLUMNS = {
    "warm_free_pages": "free memory",
    "warm_free_cma_pages": "free CMA pages",
    "warm_cma_in_use_pages": "CMA pages in use",
    "warm_file_pages": "file LRU pages",
    "warm_active_file_pages": "active file LRU pages",
    "warm_inactive_file_pages": "inactive file LRU pages",
    "warm_anon_pages": "anon pages",
    "warm_dirty_pages": "dirty pages",
    "warm_writeback_pages": "pages under writeback",
}
STATE_FACTOR = 2.0  # medians differing by more than this factor (either way) disagree
STATE_CLOSE = 0.25  # the warm machine's free memory, free CMA and page cache: this close
CLOSE_COLUMNS = ("warm_free_pages", "warm_free_cma_pages", "warm_file_pages")


def warm_states(spec, trials: int, seed: int) -> pd.DataFrame:
    """The machine each of ``trials`` simulated trials starts its strategies from (the
    ``warm_*`` columns of a trial row), without running any strategy."""
    from ..experiment.trial import trial_seed, warm_machine
    from ..mm.introspect import machine_summary

    rows = []
    for t in range(trials):
        cfg, s, _ = warm_machine(spec, trial_seed(seed, t, trials))
        summary = machine_summary(s, cfg.cma_base_pfn, cfg.cma_size)
        rows.append({f"warm_{k}": v for k, v in summary.items()} | free_shape(s))
    return pd.DataFrame(rows)


def free_shape(s) -> dict[str, int]:
    """The simulated machine's /proc/buddyinfo and pageblock counts, named as the lab's rows
    name the guest's (``free_blocks_o<k>``, ``pageblocks_<type>``)."""
    from ..mm.constants import MIGRATETYPE_NAMES

    out = {f"free_blocks_o{k}": int(n) for k, n in enumerate(s.nr_free)}
    types = np.bincount(s.pb_mt.astype(np.int64), minlength=len(MIGRATETYPE_NAMES))
    out |= {f"pageblocks_{name}": int(n) for name, n in zip(MIGRATETYPE_NAMES, types, strict=True)}
    return out


SHAPE_FACTOR = 2.0  # free blocks of an order, or pageblocks of a type: this close ...
SHAPE_MIN = 10  # ... where the guest has at least this many


def shape_table(lab: pd.DataFrame, sim: pd.DataFrame) -> pd.DataFrame:
    """The free memory's shape before the experiments: free blocks per order and pageblocks
    per migratetype, medians of the guest (rows of guests that record them) against the
    simulated machine (:func:`warm_states`), and whether they are within SHAPE_FACTOR where
    the guest has at least SHAPE_MIN. Empty when the lab rows have no such columns."""
    cols = [c for c in lab.columns
            if c.startswith(("free_blocks_o", "pageblocks_")) and c in sim.columns]  # fmt: skip
    kernel = lab[cols].median()
    model = sim[cols].median()
    lo, hi = np.minimum(kernel, model), np.maximum(kernel, model)
    close = (kernel < SHAPE_MIN) | ((lo > 0) & (hi / lo.where(lo > 0, 1) <= SHAPE_FACTOR))
    return pd.DataFrame({"kernel": kernel, "simulation": model, "close": close}, index=cols)


def close_states(lab: pd.DataFrame, sim: pd.DataFrame) -> pd.DataFrame:
    """The guest's free memory, free CMA and page cache before the experiments against the
    simulation's: medians, the relative difference, and whether it is within STATE_CLOSE."""
    table = state_table(lab, sim).loc[[c for c in CLOSE_COLUMNS if c in sim.columns]]
    diff = table["simulation_MiB"] / table["kernel_MiB"] - 1
    return table.assign(difference=diff.round(3), close=diff.abs() <= STATE_CLOSE)


def loop_sensitivity(lab: pd.DataFrame, kernel: str, trials: int = 3, seed: int = 20200814,
                     factors: tuple[float, ...] = (0.5, 2.0)) -> pd.DataFrame:
    """How the simulated guest's warm machine moves when each estimate of
    ``params/workload-lab.yaml`` is scaled by each factor (the others at their values): one row
    per estimate and factor (and one for the values as they are) with the median warm state in
    MiB and whether free memory, free CMA and page cache stay within STATE_CLOSE of the guest's."""
    from ..params import is_estimate, lab_workload_constants

    base = sim_spec(lab, kernel)
    rows = lab[lab["kernel"] == kernel]
    variants = [("(as recorded)", 1.0)] + [
        (name, f) for name, entry in lab_workload_constants().items() if is_estimate(entry)
        for f in factors
    ]
    out = []
    for name, f in variants:
        workload = dict(base.workload)
        if name in workload:
            workload[name] = workload[name] * f
        spec = replace(base, workload=workload, strategies={})
        close = close_states(rows, warm_states(spec, trials, seed))
        out.append({"estimate": name, "factor": f,
                    **{f"{c}_MiB": v for c, v in close["simulation_MiB"].items()},
                    "all_close": bool(close["close"].all())})  # fmt: skip
    return pd.DataFrame(out)


def state_table(lab: pd.DataFrame, sim: pd.DataFrame) -> pd.DataFrame:
    """The machine each strategy started from, in MiB: median of the guest's /proc/meminfo
    before each experiment vs the simulator's warmed-up machine (``warm_*``)."""
    cols = [c for c in STATE_COLUMNS if c in lab.columns and c in sim.columns]
    mib = 4096 / 2**20
    return pd.DataFrame({
        "what": [STATE_COLUMNS[c] for c in cols],
        "kernel_MiB": [lab[c].median() * mib for c in cols],
        "simulation_MiB": [sim[c].median() * mib for c in cols],
    }, index=cols).round(1)  # fmt: skip


def state_disagreements(lab: pd.DataFrame, sim: pd.DataFrame) -> list[str]:
    """Where the two machines differ before the strategies run (a difference here is about the
    workload, not the allocator): medians apart by more than STATE_FACTOR."""
    out = []
    for _, r in state_table(lab, sim).iterrows():
        k, s = r["kernel_MiB"], r["simulation_MiB"]
        lo, hi = min(k, s), max(k, s)
        if hi >= 4 and (lo == 0 or hi / lo > STATE_FACTOR):
            out.append(
                f"state {r['what']}: {k:g} MiB in the guest vs {s:g} MiB simulated before the "
                "strategies run -> the workload (params/workload-kbuild.yaml page-cache/anon "
                "footprint and dirtying rate; the lab's re-read loops and throttled disk)"
            )
    return out
