"""Cost sensitivity: how far each "estimate" cost constant moves the conclusions.

A sensitivity sweep (``params/sweep-costs.yaml``, mode ``each``) runs the base point and then
each estimated constant scaled by a factor, one at a time. A conclusion is what a reader of
the seed table takes away: how many trials each strategy wins, its median latency, and the
order of the strategies (most successes first, then lower median latency). For every scaled
constant this module reports how much those change against the base point.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .text import WIDTH


def ranking(df: pd.DataFrame) -> list[str]:
    """Strategies, best first: more trials that got everything, then lower median latency."""
    g = df.groupby("strategy").agg(ok=("success", "sum"), lat=("latency_ms", "median"))
    return list(g.sort_values(["ok", "lat"], ascending=[False, True], kind="stable").index)


def _swaps(a: list[str], b: list[str]) -> int:
    """Pairs of strategies whose order differs (Kendall distance)."""
    pos = {s: i for i, s in enumerate(b)}
    return sum(1 for i in range(len(a)) for j in range(i + 1, len(a)) if pos[a[i]] > pos[a[j]])


def sensitivity(df: pd.DataFrame, manifest: dict) -> pd.DataFrame:
    """One row per (scaled constant, value): the changes against the base point."""
    points = {p["id"]: p["values"] for p in manifest["points"]}
    base_ids = [pid for pid, v in points.items() if not v]
    if not base_ids:
        raise ValueError("sensitivity needs the base point: run the sweep with mode: each")
    base = df[df.point == base_ids[0]]
    b_ok = base.groupby("strategy").success.sum()
    b_lat = base.groupby("strategy").latency_ms.median()
    b_rank = ranking(base)
    rows = []
    for pid, values in points.items():
        if not values:
            continue
        d = df[df.point == pid]
        if d.empty:
            continue
        (axis, value), = values.items()
        ok = d.groupby("strategy").success.sum()
        lat = d.groupby("strategy").latency_ms.median()
        ratio = (lat / b_lat.clip(lower=1e-3)).replace([np.inf], np.nan)
        r = ranking(d)
        moved = [s for s in r if r.index(s) != b_rank.index(s)]
        rows.append({
            "constant": axis.split(".", 1)[1] if axis.startswith("costs.") else axis,
            "value": value,
            "trials": int(d.trial.nunique()),
            "max_success_change": int((ok - b_ok).abs().max()),
            "max_latency_ratio": float(np.nanmax(np.maximum(ratio, 1 / ratio.clip(lower=1e-9)))),
            "rank_swaps": _swaps(b_rank, r),
            "best": r[0],
            "moved": ", ".join(moved),
        })
    return pd.DataFrame(rows)


def sensitivity_text(sens: pd.DataFrame, base_best: str) -> str:
    """≤ 80 columns: per scaled constant, the largest changes against the base point."""
    lines = [
        f"{'constant':<28}{'value':>9}{'d-ok':>6}{'lat x':>8}{'swaps':>6}  best",
        "-" * 66,
    ]
    for r in sens.itertuples():
        best = r.best if r.best != base_best else "="
        lines.append(
            f"{r.constant[:28]:<28}{r.value:>9}{r.max_success_change:>6}"
            f"{r.max_latency_ratio:>8.2f}{r.rank_swaps:>6}  {best}"[:WIDTH]
        )
    lines += [
        "",
        f"best at the base point: {base_best}"[:WIDTH],
        "d-ok: largest change in a strategy's successful trials; lat x: largest factor by",
        "which a strategy's median latency moved; swaps: pairs of strategies whose order",
        "changed; best: the new best strategy (= unchanged).",
    ]
    return "\n".join(lines) + "\n"
