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


def calls_frame(df: pd.DataFrame) -> pd.DataFrame:
    """One row per call: latency floored for a log axis, and its outcome (a failed call is
    not a fast success: its own shape, hollow, and a legend entry)."""
    data = df[["strategy", "trial", "latency_ms", "got", "success"]].copy()
    data["latency_ms"] = data["latency_ms"].clip(lower=LAT_FLOOR_MS)
    data["outcome"] = np.where(data.success, "got every block", "failed")
    return data


def latency_strip(data: pd.DataFrame, title, **encoding):
    """Every call's latency per strategy on a log axis, failed calls hollow crosses;
    ``encoding`` adds or overrides channels."""
    import altair as alt

    colour = theme.strategy_scale(list(data.strategy))
    return (
        alt.Chart(data, title=title)
        .mark_point(size=70, opacity=0.85, strokeWidth=1.5)
        .encode(**{
            "x": alt.X("latency_ms:Q", scale=alt.Scale(type="log"),
                       title="latency (ms, simulated)"),
            "y": alt.Y("strategy:N", title=None, sort=list(colour.domain)),
            "color": alt.Color("strategy:N", scale=colour, legend=None),
            "shape": alt.Shape("outcome:N", title="call", scale=alt.Scale(
                domain=["got every block", "failed"], range=["circle", "cross"])),
            "fill": alt.condition(alt.datum.success, alt.Color("strategy:N", scale=colour,
                                                               legend=None),
                                  alt.value("transparent")),
            "tooltip": ["strategy", "trial", "latency_ms", "got", "outcome"],
            **encoding,
        })
        .properties(width=520, height=22 * data.strategy.nunique())
    )


def trial_figures(df: pd.DataFrame, tag: str, what: str) -> dict[str, object]:
    """Per-trial figures of one configuration: latency per strategy (log) and pages got."""
    import altair as alt

    theme.use()
    data = calls_frame(df)
    colour = theme.strategy_scale(list(data.strategy))
    lat = latency_strip(data, alt.Title(f"Latency: {what}", subtitle=caption(tag)))
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
    charts = {"latency": lat, "got": got}
    if breakdown_columns(df):
        charts["breakdown"] = breakdown_figure(df, tag, what)
    return charts


def breakdown_columns(df: pd.DataFrame) -> list[str]:
    """The time-category columns (``t_<category>_ms``) of trial rows, in the simulator's
    category order."""
    from ..mm.constants import TIME_CATEGORY_NAMES

    return [f"t_{c}_ms" for c in TIME_CATEGORY_NAMES if f"t_{c}_ms" in df]


def breakdown_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Trial rows in long form: one row per (strategy, trial, time category) with the call's
    simulated time in that category and whether the calling task runs or sleeps in it."""
    from ..mm.constants import SLEEP_CATEGORIES

    cols = breakdown_columns(df)
    long = df[["strategy", "trial", *cols]].melt(
        id_vars=["strategy", "trial"], value_vars=cols, var_name="category", value_name="ms")
    long["category"] = long.category.str.slice(2, -3)
    long["task"] = np.where(long.category.isin(SLEEP_CATEGORIES), "sleeps", "runs")
    return long


def median_call(df: pd.DataFrame) -> tuple[str, int]:
    """The call a drill-down shows first: the median-latency trial of the first strategy (in
    the order every figure lists them)."""
    first = theme.strategy_scale(list(df.strategy)).domain[0]
    calls = df[df.strategy == first].sort_values(["latency_ms", "trial"])
    return str(first), int(calls.trial.iloc[(len(calls) - 1) // 2])


def breakdown_figure(df: pd.DataFrame, tag: str, what: str):
    """A drill-down from a call to where its time went: the per-trial latency strip (click a
    call to select it) above the selected call's simulated time per category. The static
    rendering (PNG, SVG, an untrusted notebook) shows the first strategy's median call."""
    import altair as alt

    theme.use()
    strategy, trial = median_call(df)
    pick = alt.selection_point(fields=["strategy", "trial"], on="click", clear=False,
                               empty=False, value=[{"strategy": strategy, "trial": trial}])
    title = alt.Title(f"Where a call's time goes: {what}",
                      subtitle=caption(tag, "click a call to see its time"))
    strip = latency_strip(calls_frame(df), title,
                          opacity=alt.condition(pick, alt.value(1.0), alt.value(0.35)),
                          size=alt.condition(pick, alt.value(220), alt.value(70))
                          ).add_params(pick)
    detail = call_breakdown_chart(df, pick)
    return alt.vconcat(strip, detail, spacing=28).resolve_scale(color="independent")


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


def call_breakdown_chart(df: pd.DataFrame, pick=None):
    """The simulated time per category of the calls in ``df`` (trial rows), headed by what
    the call got and how long it took; with ``pick`` (a selection on strategy and trial) only
    the selected call's."""
    import altair as alt

    calls = df[["strategy", "trial", "latency_ms", "got", "nr_elem"]]
    long = breakdown_frame(df).merge(calls, on=["strategy", "trial"])
    long["label"] = (long.strategy + ", trial " + long.trial.astype(str) + ": "
                     + long.got.map("{:,}".format) + "/" + long.nr_elem.map("{:,}".format)
                     + " blocks in " + long.latency_ms.map("{:,.1f}".format) + " ms")
    order = [c[2:-3] for c in breakdown_columns(df)]
    base = alt.Chart(long) if pick is None else alt.Chart(long).transform_filter(pick)
    bars = base.mark_bar().encode(
        x=alt.X("ms:Q", title="simulated time in the call (ms)", axis=alt.Axis(tickCount=6)),
        y=alt.Y("category:N", title=None, sort=order),
        color=alt.Color("task:N", title="the calling task", legend=alt.Legend(orient="bottom"),
                        scale=alt.Scale(domain=["runs", "sleeps"],
                                        range=["#0072B2", "#999999"])),
        tooltip=["strategy", "trial", "category", alt.Tooltip("ms:Q", format=",.3f")],
    )
    values = base.mark_text(align="left", dx=3, fontSize=10).encode(
        x="ms:Q", y=alt.Y("category:N", sort=order), text=alt.Text("ms:Q", format=",.2f"))
    heading = (
        base.transform_aggregate(label="min(label)")
        .mark_text(align="left", fontSize=12, fontWeight="bold")
        .encode(text="label:N", x=alt.value(0), y=alt.value(-8))
    )
    return (bars + values + heading).properties(width=520, height=16 * len(order))
