"""Kernel against kernel, as mmtests' compare-kernels compares them: one column per kernel
(a simulated kernel model from a sweep, or a real kernel from the lab), one table per
strategy, each value with its change against the first column.

A column is a sweep's point (a sweep over ``machine.kernel`` gives one column per model;
``params/sweep-kernels.yaml`` runs the seed on every model) or one kernel's rows of a lab
result file. Strategies are matched by label; a strategy one column lacks shows ``-`` there.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .figures import LAT_FLOOR_MS
from .text import METRICS, compare_table, wrap

# the busy retries of a CMA strategy (cma_alloc's slides over -EBUSY windows), in both the
# simulator's rows and the lab's
KERNEL_METRICS = (*METRICS, ("retries", "sim_cma_alloc_retry", True))
Columns = list[tuple[str, pd.DataFrame]]  # (label, trial rows) per column


def sweep_columns(d: Path) -> Columns:
    """A sweep's points as columns, each labelled by its kernel model (``v5.9 model``) and,
    when the points differ in more than the kernel, by the point's other values."""
    from ..experiment.spec import axis_assignments
    from ..experiment.sweep import load_results, manifest

    m = manifest(d)
    df = load_results(d)
    out = []
    for p in m["points"]:
        rows = df[df.point == p["id"]]
        if rows.empty:
            continue
        rest = [f"{k}={v}" for a, val in p["values"].items() for k, v in axis_assignments(a, val)
                if k != "machine.kernel"]
        label = f"v{rows['kernel'].iloc[0]} model" + (f" {', '.join(rest)}" if rest else "")
        out.append((label, rows))
    return out


def lab_columns(path: Path) -> Columns:
    """A lab result file (or a directory of them) as one column per kernel (``6.1 lab``),
    complete trials only."""
    from ..lab.compare import load_lab, usable

    if path.is_dir():
        df = load_lab(path)
    else:
        df = pd.read_parquet(path)
        df = df[usable(df)]
    return [(f"{k} lab", rows) for k, rows in df.groupby("kernel", sort=False)]


def load_columns(paths: list[str | Path]) -> Columns:
    """The columns of every input, in order: sweep directories (or the spec files that made
    them), lab result files (``*.parquet``) or directories of them. Labels are made unique
    with the input's position (``#2``)."""
    from ..experiment.sweep import resolve

    if not paths:
        raise ValueError("inputs: none; allowed: sweep directories, spec files or lab files")
    cols: Columns = []
    for i, raw in enumerate(paths):
        p = Path(raw)
        if p.suffix == ".parquet" or (p.is_dir() and any(p.glob("*.parquet"))
                                      and not (p / "manifest.json").exists()):
            if not p.exists():
                raise ValueError(f"{p}: no such lab result file")
            new = lab_columns(p)
        else:
            new = sweep_columns(resolve(p))
        taken = {label for label, _ in cols}
        cols += [(label if label not in taken else f"{label} #{i + 1}", rows)
                 for label, rows in new]
    return cols


def setup(rows: pd.DataFrame) -> str:
    """``4800 order-4, 500M CMA of 1536M, -j2``: what a column's trials asked for and on
    what machine, from a simulator's rows (pages) or a lab's (sizes as given)."""
    from ..mm.units import PAGE_SIZE

    r = rows.iloc[0]
    if "ram_pages" in rows:
        ram, cma = (f"{int(n) * PAGE_SIZE >> 20}M" for n in (r.ram_pages, r.cma_pages))
    else:
        ram, cma = str(r.ram), str(r.cma_size)
    return f"{int(r.nr_elem)} order-{int(r.order)}, {cma} CMA of {ram}, -j{int(r.jobs)}"


def compare_kernels(cols: Columns, strategies: list[str] | None = None) -> str:
    """The mailing-list text: what each column is, then per strategy the mmtests table
    (Success, CI95, Median, then Min/Amean/Max/Stddev of latency, blocks, slowdown and busy
    retries) across the columns (``load_columns``), the first column the baseline."""
    known = list(dict.fromkeys(s for _, rows in cols for s in rows.strategy))
    names = strategies or known
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"--strategy: {unknown[0]!r} is in none of the inputs; allowed: "
                         + ", ".join(known))
    labels = [label for label, _ in cols]
    setups = [setup(rows) for _, rows in cols]
    lines = wrap("allockit compare: " + "; ".join(
        f"[{i + 1}] {label}: {setups[i]}, up to {rows.groupby('strategy').size().max()} "
        f"trials of {rows.strategy.nunique()} strategies" for i, (label, rows) in
        enumerate(cols)))
    if len(set(setups)) > 1:
        lines += wrap("Note: the columns ran different requests or machines; a difference "
                      "between them is not the kernel's alone.")
    lines += wrap("Columns: kernels, (%) change against the first, positive = better; "
                  "retries: cma_alloc's slides past busy windows. Lab latencies are a TCG "
                  "guest's: compare successes, retries and orderings, not milliseconds.")
    for s in names:
        rows = pd.concat([r[r.strategy == s].assign(strategy=label) for label, r in cols],
                         ignore_index=True)
        present = [label for label in labels if (rows.strategy == label).any()]
        lines += ["", f"== {s} ==", ""]
        lines.append(compare_table(rows, strategies=present, group_by=None,
                                   metrics=KERNEL_METRICS).rstrip("\n"))
    return "\n".join(lines) + "\n"


def kernels_figure(cols: Columns, strategies: list[str] | None = None):
    """Every call's latency per strategy, one colour per kernel (failed calls hollow
    crosses), beside the trials that got every block, with their Wilson interval."""
    import altair as alt

    from . import theme
    from .stats import wilson

    theme.use()
    labels = [label for label, _ in cols]
    data = pd.concat([r.assign(column=label) for label, r in cols], ignore_index=True)
    if strategies:
        data = data[data.strategy.isin(strategies)]
    data = data[["column", "strategy", "trial", "latency_ms", "got", "success"]].copy()
    data["latency_ms"] = data["latency_ms"].clip(lower=LAT_FLOOR_MS)
    data["outcome"] = np.where(data.success, "got every block", "failed")
    order = list(dict.fromkeys(data.strategy))
    colour = alt.Scale(domain=labels, range=list(theme.PALETTE[: len(labels)]))
    lat = (
        alt.Chart(data, title=alt.Title("Latency per kernel", subtitle=[
            "models (simulated) and lab runs (a TCG guest: compare orderings, not ms)",
            "allockit compare " + ", ".join(labels)])).mark_point(
            size=50, opacity=0.8, strokeWidth=1.5)
        .encode(
            x=alt.X("latency_ms:Q", scale=alt.Scale(type="log"), title="latency (ms)"),
            y=alt.Y("strategy:N", sort=order, title=None),
            yOffset=alt.YOffset("column:N", sort=labels),
            color=alt.Color("column:N", scale=colour, title="kernel"),
            shape=alt.Shape("outcome:N", title="call", scale=alt.Scale(
                domain=["got every block", "failed"], range=["circle", "cross"])),
            fill=alt.condition(alt.datum.success, alt.Color("column:N", scale=colour),
                               alt.value("transparent")),
            tooltip=["column", "strategy", "trial", "latency_ms", "got", "outcome"],
        ).properties(width=420, height=26 * len(order) * max(1, len(labels)) // 2)
    )
    ok = data.groupby(["column", "strategy"], sort=False).success.agg(["sum", "count"])
    ok = ok.reset_index()
    ok["rate"] = ok["sum"] / ok["count"]
    bounds = [wilson(int(k), int(n)) for k, n in zip(ok["sum"], ok["count"], strict=True)]
    ok["lo"], ok["hi"] = [b[0] for b in bounds], [b[1] for b in bounds]
    base = alt.Chart(ok, title="Trials that got every block").encode(
        y=alt.Y("strategy:N", sort=order, title=None, axis=None),
        yOffset=alt.YOffset("column:N", sort=labels),
        color=alt.Color("column:N", scale=colour, title="kernel"),
    )
    rate = base.mark_point(filled=True, size=50).encode(
        x=alt.X("rate:Q", title="share of trials (95 % interval)", axis=alt.Axis(format="%"),
                scale=alt.Scale(domain=[0, 1])),
        tooltip=["column", "strategy", "sum", "count"])
    bars = base.mark_rule().encode(x="lo:Q", x2="hi:Q")
    succ = (bars + rate).properties(width=200, height=lat.height)
    return alt.hconcat(lat, succ, spacing=8)
