"""Every figure the kit draws, rendered through vl-convert and read back.

For each figure: its data is not empty, every series it declares (a strategy, a verdict)
draws at least one mark in the rendered SVG, failed calls are encoded apart from
successes, and no field name is a dotted path (Vega-Lite would read it as a nested field
and draw nothing).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import vl_convert as vlc

from allockit.report import theme
from allockit.report.figures import sweep_figures, trial_figures
from allockit.report.robustness import point_verdicts, verdict_chart


def trial_rows(n=6):
    rng = np.random.default_rng(0)
    rows = []
    for s, p, lat in [("cma_single", 0.0, 2400), ("cma_chunked", 1.0, 200),
                      ("alloc_pages_bulk", 0.8, 180), ("buddy_compaction", 0.2, 1)]:
        for t in range(n):
            ok = rng.random() < p
            rows.append(dict(strategy=s, trial=t, point="p0", success=ok,
                             latency_ms=float(lat * rng.lognormal(0, 0.3)),
                             got=4800 if ok else 100, workload_slowdown_pct=1.0))
    return pd.DataFrame(rows)


def svg_of(chart) -> str:
    return vlc.vegalite_to_svg(chart.to_dict())


def mark_colours(svg: str) -> set[str]:
    """Colours of the drawn marks (fills and strokes inside role-mark groups)."""
    out = set()
    for group in re.findall(r'<g class="mark-[a-z]+ role-mark[^"]*"[^>]*>(.*?)</g>', svg, re.S):
        out |= {c.lower() for c in re.findall(r'(?:fill|stroke)="(#[0-9a-fA-F]{6})"', group)}
    return out


def test_trial_figures_draw_every_strategy_and_mark_failures():
    df = trial_rows()
    charts = trial_figures(df, "t", "4,800 order-4 blocks")
    scale = theme.strategy_scale(list(df.strategy))
    colours = dict(zip(scale.domain, scale.range, strict=True))
    for name, chart in charts.items():
        spec = chart.to_dict()
        assert spec["data"] if "data" in spec else spec["datasets"], name
        drawn = mark_colours(svg_of(chart))
        for s in df.strategy.unique():
            assert colours[s].lower() in drawn, f"{name}: {s} draws no mark"
    lat = charts["latency"].to_dict()
    # failed calls: their own shape and a legend entry, and hollow
    assert lat["encoding"]["shape"]["field"] == "outcome"
    assert lat["encoding"]["shape"]["scale"]["domain"] == ["got every block", "failed"]
    assert "condition" in lat["encoding"]["fill"]
    svg = svg_of(charts["latency"])
    assert "failed" in svg and "got every block" in svg  # the legend says which is which


def test_sweep_figures_with_a_dotted_axis_draw_lines_and_intervals():
    df = pd.concat([trial_rows().assign(**{"machine.cma_size": v}) for v in (320, 500)])
    charts = sweep_figures(df, "machine.cma_size", "t", "cma sizes")
    for name, chart in charts.items():
        spec = chart.to_dict()
        fields = re.findall(r'"field": "([^"]+)"', str(spec).replace("'", '"'))
        assert not [f for f in fields if "." in f], f"{name}: dotted field names {fields}"
        drawn = mark_colours(svg_of(chart))
        scale = theme.strategy_scale(list(df.strategy))
        colours = dict(zip(scale.domain, scale.range, strict=True))
        # every strategy with a success has a latency line; every strategy a success point
        for s in df.strategy.unique():
            if name == "latency" and not df[df.strategy == s].success.any():
                continue
            assert colours[s].lower() in drawn, f"{name}: {s} draws no mark"
    assert "Wilson" in str(charts["success"].to_dict())


def test_sweep_latency_leaves_failed_calls_out():
    from allockit.report.figures import aggregate

    df = trial_rows()
    agg = aggregate(df, ["strategy"]).set_index("strategy")
    assert np.isnan(agg.loc["cma_single", "latency_median_ms"])  # it never succeeded
    ok = df[(df.strategy == "alloc_pages_bulk") & df.success].latency_ms
    assert agg.loc["alloc_pages_bulk", "latency_median_ms"] == pytest.approx(ok.median())
    assert agg.loc["cma_single", "success_hi_pct"] < 50  # 0/6: Wilson upper bound 39 %


def test_verdict_chart_draws_every_verdict_with_a_legend():
    rows = trial_rows(10)
    rows2 = rows.assign(point="p1")
    rows2.loc[rows2.strategy == "cma_single", "success"] = True
    pv = point_verdicts(pd.concat([rows, rows2]), {"p0": "base", "p1": "ablate=journal"})
    svg = svg_of(verdict_chart(pv, "t"))
    assert "holds" in svg and "flips" in svg and "ablate=journal" in svg


def test_notebook_charts_carry_vega_lite_and_a_png():
    import base64

    import altair as alt

    theme.use(notebook=True)
    bundle = alt.Chart(trial_rows()).mark_point().encode(x="latency_ms:Q")._repr_mimebundle_()
    bundle = bundle[0] if isinstance(bundle, tuple) else bundle
    assert any(k.startswith("application/vnd.vegalite") for k in bundle)
    assert base64.b64decode(bundle["image/png"])[:8] == b"\x89PNG\r\n\x1a\n"


def test_titles_describe_what_ran():
    from allockit.experiment import spec as specs
    from allockit.report.figures import run_description

    small = specs.load("params/seed.yaml", {"machine.ram": "256M", "machine.cma_size": "64M",
                                            "nr_elem": 64, "trials": 2})
    assert run_description(small.base, small.trials) == \
        "64 order-4 blocks, 64M CMA of 256M, -j4, 2 trials"
    sweep = specs.load("params/sweep-cma-size.yaml")
    text = run_description(sweep.base, sweep.trials, tuple(sweep.axes))
    assert "varying CMA" in text and "500M" not in text


def with_breakdown(df: pd.DataFrame) -> pd.DataFrame:
    """Trial rows with a time breakdown: migration and a pcp drain share each call's time."""
    out = df.assign(nr_elem=4800, t_migrate_ms=df.latency_ms * 0.7,
                    t_drain_pcp_ms=df.latency_ms * 0.3)
    for c in ("isolate", "scan", "mutex"):
        out[f"t_{c}_ms"] = 0.0
    return out


def selected_heading(chart, strategy: str, trial: int) -> str:
    """The drill-down figure rendered with (strategy, trial) selected, as a click selects it."""
    spec = chart.to_dict()
    for p in spec["params"]:
        if "select" in p:
            p["value"] = [{"strategy": strategy, "trial": trial}]
    return vlc.vegalite_to_svg(spec)


def test_breakdown_figure_shows_the_selected_call_and_only_it():
    from allockit.report.figures import median_call

    df = with_breakdown(trial_rows())
    chart = trial_figures(df, "t", "4,800 order-4 blocks")["breakdown"]
    spec = chart.to_dict()
    # a click selects a call by strategy and trial; the static rendering shows the median
    # call of the first strategy
    (pick,) = [p for p in spec["params"] if "select" in p]
    assert pick["select"]["fields"] == ["strategy", "trial"] and pick["select"]["on"] == "click"
    first = df[df.strategy == "cma_single"].sort_values("latency_ms")
    median = int(first.trial.iloc[(len(first) - 1) // 2])
    assert median_call(df) == ("cma_single", median)
    assert pick["value"] == [{"strategy": "cma_single", "trial": median}]
    # the detail filters on the selection: another click shows another call and its times
    for strategy, trial in [("cma_single", median), ("cma_chunked", 4)]:
        row = df[(df.strategy == strategy) & (df.trial == trial)].iloc[0]
        svg = selected_heading(chart, strategy, trial)
        assert f"{strategy}, trial {trial}: {row.got:,}/4,800 blocks" in svg
        assert f"{row.t_migrate_ms:,.2f}" in svg and f"{row.t_drain_pcp_ms:,.2f}" in svg
        others = df[(df.strategy != strategy)]
        assert not [s for s in others.strategy.unique() if f"{s}, trial" in svg]
    # running and sleeping time are told apart, with a legend
    drawn = mark_colours(svg)
    assert {"#0072b2", "#999999"} <= drawn and "sleeps" in svg and "runs" in svg


def test_breakdown_figure_needs_the_time_columns():
    assert "breakdown" not in trial_figures(trial_rows(), "t", "x")
    assert "breakdown" in trial_figures(with_breakdown(trial_rows()), "t", "x")
