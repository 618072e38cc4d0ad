"""``allockit robustness``: the seed's conclusions against every ablation and estimate.

Runs (or, with ``--no-run``, only reads) the two sensitivity sweeps of the workload and the
kernel model: ``params/sweep-mechanisms.yaml`` (the seed with one mechanism switched off at a
time) and ``params/sweep-workload.yaml`` (every workload estimate at 1/4 and 4x, or over its
range). For each of the seed's conclusions (``report.robustness.CONCLUSIONS``) it prints
whether it holds at every point, with the points where it flips or the intervals cannot tell.
The sweeps resume like any other: a killed run keeps its finished trials.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from .experiment import spec as specs
from .experiment.sweep import load_results, manifest, missing_trials, run_sweep, sweep_dir
from .paths import DATA_DIR, PARAMS_DIR
from .report.robustness import point_verdicts, verdict_text, verdicts

SWEEPS = ("sweep-mechanisms.yaml", "sweep-workload.yaml")


def point_label(values: dict[str, Any]) -> str:
    """``base``, ``ablate=journal``, ``workload.jobs=16``: what a point changed."""
    if not values:
        return "base"
    return ", ".join(
        f"{k}={'+'.join(v) if isinstance(v, list) else v}" for k, v in values.items()
    )


def collect(
    run: bool = True, overrides: dict[str, Any] | None = None, workers: int | None = None,
    out: Path | None = None,
) -> pd.DataFrame | None:
    """The per-point verdicts of both sweeps (None when ``run`` is False and a sweep is
    incomplete)."""
    frames = []
    for name in SWEEPS:
        spec = specs.load(PARAMS_DIR / name, overrides)
        root = (out or DATA_DIR) / "sweeps"
        if run:
            d = run_sweep(spec, out=root, workers=workers,
                          command=f"allockit robustness  # {name}").dir
        else:
            d = sweep_dir(spec, root)
            if missing_trials(spec, d):
                return None
        labels = {p["id"]: point_label(p["values"]) for p in manifest(d)["points"]}
        pv = point_verdicts(load_results(d), labels)
        pv["sweep"] = spec.name
        pv["spec"] = spec.hash
        frames.append(pv)
    points = pd.concat(frames, ignore_index=True)
    # the base point of both sweeps is the seed itself: show it once
    base = points.label == "base"
    return pd.concat([points[base & (points.sweep == points.sweep.iloc[0])], points[~base]],
                     ignore_index=True)


def tag(points: pd.DataFrame) -> str:
    """The figure tag: the two sweeps' spec hashes."""
    return "-".join(dict.fromkeys(points.spec))


def summary(points: pd.DataFrame) -> str:
    trials = int(points.trials.max())
    n = points.point.nunique()
    return verdict_text(verdicts(points), f"{n} points ({trials} trials each): every "
                        "mechanism switched off, every workload estimate at 1/4 and 4x")


def main(run: bool = True, overrides: dict[str, Any] | None = None,
         workers: int | None = None, out: Path | None = None) -> int:
    points = collect(run, overrides, workers, out)
    if points is None:
        print("robustness: the sweeps are not complete; run `allockit robustness` "
              f"({', '.join('params/' + s for s in SWEEPS)})")
        return 1
    print(summary(points), end="")
    return 0
