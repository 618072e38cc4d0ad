"""``allockit reproduce``: the seed experiment (Minchan Kim, linux-mm, 14 Aug 2020).

Runs ``params/seed.yaml`` (10 paired trials of every strategy on the seed's machine under
the synthetic kernel build) through the sweep runner (so a killed run resumes), prints a
plain-text table beside the seed's own numbers, and writes the figures (SVG, PNG) under
``data/figures`` and the trial data (Parquet) under ``data/sweeps/seed-<hash>/``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import robustness
from .experiment import spec as specs
from .experiment.sweep import load_results, run_sweep
from .paths import DATA_DIR, PARAMS_DIR, ROOT
from .report.figures import run_description, save, trial_figures
from .report.stats import format_count, median_ci, wilson

SEED_FILE = PARAMS_DIR / "seed.yaml"

SEED_OUTCOMES = {
    "cma_single": "S1: 0/10 ok, up to secs",
    "alloc_pages_bulk": "S2: 7/10 all, >=4789, <300ms",
    "cma_chunked": "S5: never measured",
    "cma_many": "S4: 'too slow'",
    "buddy_compaction": "S4: 'easily fails'",
}

def summary_table(df: pd.DataFrame, strategies: list[str]) -> str:
    """Plain text, ≤ 100 columns: one row per strategy, with the Wilson 95 % interval of its
    success count and the bootstrap 95 % interval of its median latency."""
    head = (f"{'strategy':24s} {'ok':>5s} {'[95% CI]':>10s} {'got min/med':>11s} "
            f"{'lat ms med [95% CI]':>21s} {'p90/max':>13s}  dominant")
    lines = [head]
    for name in strategies:
        d = df[df.strategy == name]
        ok = int(d.success.sum())
        lo, hi = wilson(ok, len(d))
        got = d.got.to_numpy()
        lat = d.latency_ms.to_numpy()
        mlo, mhi = median_ci(lat)
        dom = d.dominant.mode().iloc[0] if len(d) else "-"
        flag = "*" if d.beyond_horizon.any() else " "
        lines.append(
            f"{name:24s} {ok:>2d}/{len(d):<2d} [{lo * 100:>3.0f}-{hi * 100:>3.0f}%] "
            f"{got.min():>5d}/{int(np.median(got)):>5d} "
            f"{np.median(lat):>6.0f} [{mlo:>5.0f}-{mhi:>5.0f}] "
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
            f"{name:18s} {seed:32s} {format_count(ok, len(d))} ok, got >= {int(d.got.min())}, "
            f"median {np.median(d.latency_ms):.0f} ms, max {d.latency_ms.max():.0f} ms"
        )
    return "\n".join(lines)


def write_figures(df: pd.DataFrame, outdir: Path, tag: str, what: str) -> list[Path]:
    """The seed figures: latency per strategy (log scale) and blocks obtained, SVG and PNG."""
    paths = []
    for name, chart in trial_figures(df, tag, what).items():
        paths += save(chart, outdir, f"seed-{name}", tag)
    return paths


def _rel(p: Path) -> Path:
    return p.relative_to(ROOT) if p.is_relative_to(ROOT) else p


def main(
    spec_path: Path = SEED_FILE,
    out: Path | None = None,
    trials: int | None = None,
    overrides: dict[str, Any] | None = None,
    workers: int | None = None,
) -> int:
    t0 = time.perf_counter()
    ov = dict(overrides or {})
    if trials is not None:
        ov["trials"] = trials
    spec = specs.load(spec_path, ov)
    out = out or DATA_DIR
    run = run_sweep(spec, out=out / "sweeps", workers=workers,
                    command=f"allockit reproduce --spec {_rel(Path(spec_path))}")
    df = load_results(run.dir)
    what = run_description(spec.base, spec.trials)
    figs = write_figures(df, out / "figures", spec.hash, what)
    print(
        f"Seed experiment: {what} (paired), machine {spec.base['machine']}, "
        f"workload {spec.base['workload']} (spec {spec.hash})\n"
    )
    print(summary_table(df, list(spec.base["strategies"])))
    if df.beyond_horizon.any():
        print("  * some trial ran past the generated workload horizon (the machine went quiet)")
    print()
    print(seed_table(df))
    print(f"\ntrial data: {_rel(run.dir)} ({run.ran} trials run now, {run.total - run.ran} "
          f"already on disk)")
    for p in figs:
        print(f"figure: {_rel(p)}")
    rate = f", {run.rate:.2f} trials/s" if run.ran else ""
    print(f"wall time {time.perf_counter() - t0:.1f} s{rate}")
    print()
    if spec_path == SEED_FILE and not overrides and trials is None:
        points = robustness.collect(run=False, out=out)
        print(robustness.summary(points) if points is not None else
              "Robustness of these conclusions: `allockit robustness` runs the ablation and "
              "workload-estimate sweeps\n(params/sweep-mechanisms.yaml, params/sweep-workload.yaml)"
              " and names what flips each one.")
    return 0
