"""``allockit reproduce``: the seed experiment (Minchan Kim, linux-mm, 14 Aug 2020).

Runs ``params/seed.yaml`` (10 paired trials of every strategy on the seed's machine under
the synthetic kernel build), prints a plain-text table beside the seed's own numbers, and
writes the trial data (Parquet) and figures (SVG, PNG) under ``data/``.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from .experiment.trial import TrialSpec, check_spec, run_trial
from .mm.config import ConfigError

ROOT = Path(__file__).resolve().parents[1]
SEED_FILE = ROOT / "params" / "seed.yaml"

SEED_OUTCOMES = {
    "cma_single": "S1: 0/10 ok, up to secs",
    "alloc_pages_bulk": "S2: 7/10 all, >=4789, <300ms",
    "cma_chunked": "S5: never measured",
    "cma_many": "S4: 'too slow'",
    "buddy_compaction": "S4: 'easily fails'",
}
SPEC_KEYS = {
    "machine",
    "workload",
    "costs",
    "order",
    "nr_elem",
    "trials",
    "seed",
    "horizon_s",
    "strategies",
}


def load_spec(path: Path) -> tuple[TrialSpec, int, int]:
    """Read a seed-style spec: (TrialSpec, trials, root seed)."""
    try:
        raw = yaml.safe_load(Path(path).read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: malformed YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping")
    unknown = sorted(set(raw) - SPEC_KEYS)
    if unknown:
        raise ConfigError(
            f"{path}: unknown key {unknown[0]!r}; allowed: {', '.join(sorted(SPEC_KEYS))}"
        )
    spec = TrialSpec(
        machine=raw.get("machine") or {},
        workload=raw.get("workload") or {},
        costs=raw.get("costs") or {},
        order=int(raw.get("order", 4)),
        nr_elem=int(raw.get("nr_elem", 4800)),
        strategies=raw.get("strategies") or {},
        horizon_s=float(raw.get("horizon_s", 10.0)),
    )
    return spec, int(raw.get("trials", 10)), int(raw.get("seed", 0))


def spec_hash(spec: TrialSpec, trials: int, seed: int) -> str:
    blob = json.dumps([spec.__dict__, trials, seed], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:10]


def _one(args: tuple[TrialSpec, int, int, int]) -> list[dict[str, Any]]:
    return run_trial(*args)


def run_spec(spec: TrialSpec, trials: int, seed: int, workers: int | None = None) -> pd.DataFrame:
    """All trials of a spec (process pool), as one DataFrame sorted by strategy and trial."""
    workers = workers or min(trials, os.cpu_count() or 1)
    jobs = [(spec, seed, i, trials) for i in range(trials)]
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            parts = list(pool.map(_one, jobs))
    else:
        parts = [_one(j) for j in jobs]
    df = pd.DataFrame([row for part in parts for row in part])
    return df.sort_values(["strategy", "trial"], kind="stable").reset_index(drop=True)


def summary_table(df: pd.DataFrame, strategies: list[str]) -> str:
    """Plain text, ≤ 100 columns: one row per strategy, beside the seed's outcome."""
    head = f"{'strategy':26s} {'ok':>5s} {'got min/med/max':>17s}"
    lines = [head + f" {'latency ms min/med/p90/max':>28s}  dominant"]
    for name in strategies:
        d = df[df.strategy == name]
        ok = int(d.success.sum())
        got = d.got.to_numpy()
        lat = d.latency_ms.to_numpy()
        dom = d.dominant.mode().iloc[0] if len(d) else "-"
        flag = "*" if d.beyond_horizon.any() else " "
        lines.append(
            f"{name:26s} {ok:>2d}/{len(d):<2d} "
            f"{got.min():>5d}/{int(np.median(got)):>5d}/{got.max():>5d} "
            f"{lat.min():>6.0f}/{np.median(lat):>6.0f}/"
            f"{np.percentile(lat, 90):>6.0f}/{lat.max():>6.0f}{flag} {dom}"
        )
    return "\n".join(lines)


def seed_table(df: pd.DataFrame) -> str:
    lines = [f"{'seed row':18s} {'seed (linux-mm, Aug 2020)':32s} allockit"]
    for name, seed in SEED_OUTCOMES.items():
        d = df[df.strategy == name]
        if d.empty:
            continue
        ok = int(d.success.sum())
        lines.append(
            f"{name:18s} {seed:32s} {ok}/{len(d)} ok, got >= {int(d.got.min())}, "
            f"median {np.median(d.latency_ms):.0f} ms, max {d.latency_ms.max():.0f} ms"
        )
    return "\n".join(lines)


def write_figures(df: pd.DataFrame, outdir: Path, tag: str) -> list[Path]:
    """Latency per strategy (log scale) and pages obtained, as SVG and PNG."""
    import altair as alt

    outdir.mkdir(parents=True, exist_ok=True)
    data = df[["strategy", "trial", "latency_ms", "got", "success"]].copy()
    # a call served by the fast path takes no simulated time: floor it for the log scale
    data["latency_ms"] = data["latency_ms"].clip(lower=0.01)
    lat = (
        alt.Chart(data, title=f"Latency of 4,800 order-4 pages under a kernel build [{tag}]")
        .mark_circle(size=60, opacity=0.7)
        .encode(
            x=alt.X("latency_ms:Q", scale=alt.Scale(type="log"), title="latency (ms, simulated)"),
            y=alt.Y("strategy:N", title=None),
            color=alt.Color("success:N", title="got all"),
        )
        .properties(width=520, height=260)
    )
    got = (
        alt.Chart(data, title=f"Order-4 pages obtained (of 4,800) [{tag}]")
        .mark_tick(thickness=2, size=14)
        .encode(x=alt.X("got:Q", title="pages obtained"), y=alt.Y("strategy:N", title=None))
        .properties(width=520, height=260)
    )
    paths = []
    for name, chart in (("latency", lat), ("got", got)):
        for ext in ("svg", "png"):
            p = outdir / f"seed-{name}-{tag}.{ext}"
            chart.save(str(p))
            paths.append(p)
    return paths


def main(spec_path: Path = SEED_FILE, out: Path | None = None, trials: int | None = None) -> int:
    t0 = time.perf_counter()
    spec, ntrials, seed = load_spec(spec_path)
    if trials is not None:
        ntrials = trials
    check_spec(spec)
    tag = spec_hash(spec, ntrials, seed)
    out = out or ROOT / "data"
    df = run_spec(spec, ntrials, seed)
    (out / "results").mkdir(parents=True, exist_ok=True)
    pq = out / "results" / f"seed-{tag}.parquet"
    df.to_parquet(pq, index=False)
    figs = write_figures(df, out / "figures", tag)
    print(
        f"Seed experiment: {spec.nr_elem} order-{spec.order} pages, {ntrials} paired trials, "
        f"machine {spec.machine}, workload {spec.workload} (spec {tag})\n"
    )
    print(summary_table(df, list(spec.strategies)))
    print("  * some trial ran past the generated workload horizon (the machine went quiet)\n")
    print(seed_table(df))
    print(f"\ntrial data: {pq.relative_to(ROOT) if pq.is_relative_to(ROOT) else pq}")
    for p in figs:
        print(f"figure: {p.relative_to(ROOT) if p.is_relative_to(ROOT) else p}")
    print(f"wall time {time.perf_counter() - t0:.1f} s")
    return 0
