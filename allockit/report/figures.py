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
from .stats import wilson

LAT_FLOOR_MS = 0.01  # a call served by the fast path takes no simulated time: floor it for log


def run_description(base: dict, trials: int, varied: tuple[str, ...] = ()) -> str:
    """``4,800 order-4 blocks, 500M CMA of 1536M, -j4, 10 trials``: what a run asked for, read
    from the resolved spec (so a small run is never titled as the full-size study); a
    parameter the sweep varies (``varied``: dotted paths) is named as varying instead."""
    m, w = base.get("machine", {}), base.get("workload", {})
    if "replay" in w:
        load = f"replay of {w['replay']}"
    elif "workload.jobs" in varied:
        load = "make -jN"
    else:
        load = "idle" if w.get("jobs", 4) == 0 else f"-j{w.get('jobs', 4)}"
    ram = "RAM varies" if "machine.ram" in varied else m.get("ram", "1536M")
    cma = "varying" if "machine.cma_size" in varied else m.get("cma_size", "500M")
    size = "various" if {"order", "nr_elem", "size"} & set(varied) else (
        f"{base.get('nr_elem', 0):,} order-{base.get('order', 0)}")
    return f"{size} blocks, {cma} CMA of {ram}, {load}, {trials} trials"


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
    """Per group: trials, success rate (with its Wilson interval), pages got, and the latency
    median and p10/p90 of the calls that got every block (a failed call's latency is not a
    success's: NaN where no call succeeded)."""
    df = df.assign(ok_latency_ms=df.latency_ms.where(df.success.astype(bool)))
    g = df.groupby(by, sort=False, dropna=False)
    out = g.agg(
        trials=("success", "size"),
        successes=("success", "sum"),
        success_pct=("success", lambda s: 100.0 * s.mean()),
        got_median=("got", "median"),
        got_min=("got", "min"),
        latency_median_ms=("ok_latency_ms", "median"),
        latency_p10_ms=("ok_latency_ms", lambda s: s.quantile(0.1)),
        latency_p90_ms=("ok_latency_ms", lambda s: s.quantile(0.9)),
        slowdown_median_pct=("workload_slowdown_pct", "median"),
    ).reset_index()
    ci = [wilson(int(k), int(n)) for k, n in zip(out.successes, out.trials, strict=True)]
    out["success_lo_pct"] = [100.0 * lo for lo, _ in ci]  # Wilson 95 % interval
    out["success_hi_pct"] = [100.0 * hi for _, hi in ci]
    for c in ("latency_median_ms", "latency_p10_ms", "latency_p90_ms"):
        out[c] = out[c].clip(lower=LAT_FLOOR_MS)
    return out


def trial_figures(df: pd.DataFrame, tag: str, what: str) -> dict[str, object]:
    """Per-trial figures of one configuration: latency per strategy (log) and pages got."""
    import altair as alt

    theme.use()
    data = df[["strategy", "trial", "latency_ms", "got", "success"]].copy()
    data["latency_ms"] = data["latency_ms"].clip(lower=LAT_FLOOR_MS)
    # a failed call is not a fast success: its own shape, hollow, and a legend entry
    data["outcome"] = np.where(data.success, "got every block", "failed")
    colour = theme.strategy_scale(list(data.strategy))
    outcomes = ["got every block", "failed"]
    lat = (
        alt.Chart(data, title=alt.Title(f"Latency: {what}", subtitle=caption(tag)))
        .mark_point(size=70, opacity=0.85, strokeWidth=1.5)
        .encode(
            x=alt.X("latency_ms:Q", scale=alt.Scale(type="log"), title="latency (ms, simulated)"),
            y=alt.Y("strategy:N", title=None, sort=list(colour.domain)),
            color=alt.Color("strategy:N", scale=colour, legend=None),
            shape=alt.Shape("outcome:N", title="call", scale=alt.Scale(
                domain=outcomes, range=["circle", "cross"])),
            fill=alt.condition(alt.datum.success, alt.Color("strategy:N", scale=colour,
                                                            legend=None),
                               alt.value("transparent")),
            tooltip=["strategy", "trial", "latency_ms", "got", "outcome"],
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
    # a dotted column name (machine.cma_size) would be read by Vega-Lite as a nested field
    field = x.replace(".", "_")
    agg = agg.rename(columns={x: field})
    colour = theme.strategy_scale(list(agg.strategy))
    xtype = "Q" if pd.api.types.is_numeric_dtype(agg[field]) else "O"
    integer = pd.api.types.is_integer_dtype(agg[field])
    # sizes such as "320M" and "1G" in the sweep's own order, not alphabetically
    order = list(dict.fromkeys(agg[field])) if xtype == "O" else None
    enc_x = alt.X(f"{field}:{xtype}", title=x, sort=order,
                  axis=alt.Axis(tickMinStep=1) if integer else {})
    x = field
    col = alt.Color("strategy:N", scale=colour, title="strategy")
    # one small panel per strategy: success rates of several strategies often coincide (all
    # at 100 %), and lines drawn on top of each other would hide all but the last
    okbase = alt.Chart().properties(width=150, height=110)
    ok = (okbase.mark_line(point=True).encode(
        x=enc_x, y=alt.Y("success_pct:Q", title="success (% of trials)",
                         scale=alt.Scale(domain=[0, 100])), color=alt.Color(
            "strategy:N", scale=colour, legend=None),
        tooltip=["strategy", x, "success_pct", "success_lo_pct", "success_hi_pct", "trials"],
    ) + okbase.mark_rule(opacity=0.6).encode(
        x=enc_x, y="success_lo_pct:Q", y2="success_hi_pct:Q",
        color=alt.Color("strategy:N", scale=colour, legend=None))).facet(
        data=agg, facet=alt.Facet("strategy:N", sort=list(colour.domain), title=None),
        columns=5, title=alt.Title(
            f"Trials that got every block (Wilson 95 % interval): {what}",
            subtitle=caption(tag)))
    base = alt.Chart(agg, width=480, title=alt.Title(f"Latency of the calls that got every "
                                                     f"block (median, p10-p90): {what}",
                                          subtitle=caption(tag)))
    band = base.mark_area(opacity=0.15).encode(
        x=enc_x, y=alt.Y("latency_p10_ms:Q", scale=alt.Scale(type="log"),
                         title="latency (ms, simulated)"),
        y2="latency_p90_ms:Q", color=col)
    # click a strategy in the legend to bring its line forward
    pick = alt.selection_point(fields=["strategy"], bind="legend")
    line = base.mark_line(point=True).add_params(pick).encode(
        opacity=alt.condition(pick, alt.value(1.0), alt.value(0.15)),
        x=enc_x, y=alt.Y("latency_median_ms:Q", scale=alt.Scale(type="log")), color=col,
        tooltip=["strategy", x, "latency_median_ms", "latency_p90_ms"])
    return {"success": ok, "latency": band + line}
