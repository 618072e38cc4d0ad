"""Altair figures of trial results, pre-aggregated so their files stay small.

Every figure carries the hash of the spec that produced its data in its file name
(``<name>-<hash>.svg``) and in its caption, so a figure pasted into a reply can be traced
back to the exact parameters. Files are written offline through vl-convert.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from . import theme

LAT_FLOOR_MS = 0.01  # a call served by the fast path takes no simulated time: floor it for log


def caption(tag: str, extra: str = "") -> list[str]:
    """The subtitle lines every figure carries."""
    lines = [f"allockit, simulated kernel; spec {tag}"]
    if extra:
        lines.insert(0, extra)
    return lines


def save(chart, outdir: str | Path, name: str, tag: str, formats=("svg", "png")) -> list[Path]:
    """Write ``chart`` as ``outdir/<name>-<tag>.<fmt>`` for each format."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    paths = []
    for ext in formats:
        p = outdir / f"{name}-{tag}.{ext}"
        chart.save(str(p), scale_factor=2) if ext == "png" else chart.save(str(p))
        paths.append(p)
    return paths


def x_column(manifest: dict) -> str | None:
    """The result column for a sweep figure's x axis: the first axis, or for a linked axis
    the first parameter it sets that varies (``order`` in ``{order: 4, nr_elem: 4800}``)."""
    from ..experiment.spec import is_linked

    for axis in manifest["axes"]:
        values = [p["values"][axis] for p in manifest["points"] if axis in p["values"]]
        if not is_linked(axis):
            return axis
        for path in values[0]:
            if len({repr(v.get(path)) for v in values}) > 1:
                return path
    return None


def aggregate(df: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Per group: trials, success rate, pages got, latency median and p10/p90."""
    g = df.groupby(by, sort=False, dropna=False)
    out = g.agg(
        trials=("success", "size"),
        success_pct=("success", lambda s: 100.0 * s.mean()),
        got_median=("got", "median"),
        got_min=("got", "min"),
        latency_median_ms=("latency_ms", "median"),
        latency_p10_ms=("latency_ms", lambda s: float(np.percentile(s, 10))),
        latency_p90_ms=("latency_ms", lambda s: float(np.percentile(s, 90))),
        slowdown_median_pct=("workload_slowdown_pct", "median"),
    ).reset_index()
    for c in ("latency_median_ms", "latency_p10_ms", "latency_p90_ms"):
        out[c] = out[c].clip(lower=LAT_FLOOR_MS)
    return out


def trial_figures(df: pd.DataFrame, tag: str, what: str) -> dict[str, object]:
    """Per-trial figures of one configuration: latency per strategy (log) and pages got."""
    import altair as alt

    theme.use()
    data = df[["strategy", "trial", "latency_ms", "got", "success"]].copy()
    data["latency_ms"] = data["latency_ms"].clip(lower=LAT_FLOOR_MS)
    colour = theme.strategy_scale(list(data.strategy))
    lat = (
        alt.Chart(data, title=alt.Title(f"Latency: {what}", subtitle=caption(tag)))
        .mark_circle(size=60, opacity=0.75)
        .encode(
            x=alt.X("latency_ms:Q", scale=alt.Scale(type="log"), title="latency (ms, simulated)"),
            y=alt.Y("strategy:N", title=None, sort=list(colour.domain)),
            color=alt.Color("strategy:N", scale=colour, legend=None),
            shape=alt.Shape("success:N", title="got all"),
        )
        .properties(width=520, height=22 * data.strategy.nunique())
    )
    got = (
        alt.Chart(data, title=alt.Title(f"Blocks obtained: {what}", subtitle=caption(tag)))
        .mark_tick(thickness=2, size=14)
        .encode(
            x=alt.X("got:Q", title="blocks obtained"),
            y=alt.Y("strategy:N", title=None, sort=list(colour.domain)),
            color=alt.Color("strategy:N", scale=colour, legend=None),
        )
        .properties(width=520, height=22 * data.strategy.nunique())
    )
    return {"latency": lat, "got": got}


def sweep_figures(df: pd.DataFrame, x: str, tag: str, what: str) -> dict[str, object]:
    """Sweep figures over axis ``x``: success rate, and median latency with its p10-p90 band."""
    import altair as alt

    theme.use()
    agg = aggregate(df, [x, "strategy"])
    colour = theme.strategy_scale(list(agg.strategy))
    xtype = "Q" if pd.api.types.is_numeric_dtype(agg[x]) else "O"
    integer = pd.api.types.is_integer_dtype(agg[x])
    enc_x = alt.X(f"{x}:{xtype}", title=x, axis=alt.Axis(tickMinStep=1) if integer else {})
    col = alt.Color("strategy:N", scale=colour, title="strategy")
    ok = (
        alt.Chart(agg, title=alt.Title(f"Trials that got every block: {what}",
                                       subtitle=caption(tag)))
        .mark_line(point=True)
        .encode(x=enc_x, y=alt.Y("success_pct:Q", title="success (% of trials)",
                                 scale=alt.Scale(domain=[0, 100])), color=col,
                tooltip=["strategy", x, "success_pct", "trials"])
    )
    base = alt.Chart(agg, title=alt.Title(f"Latency (median, p10-p90): {what}",
                                          subtitle=caption(tag)))
    band = base.mark_area(opacity=0.15).encode(
        x=enc_x, y=alt.Y("latency_p10_ms:Q", scale=alt.Scale(type="log"),
                         title="latency (ms, simulated)"),
        y2="latency_p90_ms:Q", color=col)
    line = base.mark_line(point=True).encode(
        x=enc_x, y=alt.Y("latency_median_ms:Q", scale=alt.Scale(type="log")), color=col,
        tooltip=["strategy", x, "latency_median_ms", "latency_p90_ms"])
    return {"success": ok, "latency": band + line}
