"""Does each of the seed's conclusions survive the model's guesses?

The seed thread's conclusions, stated as tests on one sweep point's trial rows:

* **S1 fails**: one ``cma_alloc`` of the whole size fails in most trials;
* **chunks succeed**: MAX_ORDER-1 chunks (``cma_chunked``) get every block in most trials;
* **bulk at least as fast as chunks**: ``alloc_pages_bulk``'s median latency is not above the
  chunks';
* **cma_many slow**: 4,800 separate ``cma_alloc`` calls take longer than the chunks;
* **GFP_KERNEL fails**: ``alloc_pages(GFP_KERNEL, order)`` does not get every block in most
  trials.

Each test answers with intervals, never with point values: a success share "most trials" holds
when its Wilson 95 % interval lies above one half, is refuted when it lies below, and is
undecided when it straddles; latencies compare their bootstrap intervals of the median
(``stats.differ``). Over the points of the mechanism-ablation and workload-estimate sweeps, a
conclusion holds everywhere, or the table names the points where it flips or cannot be told.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from .stats import differ, median_ci, wilson
from .text import WIDTH

HOLDS, FLIPS, UNDECIDED, MISSING = "holds", "flips", "undecided", "n/a"


def _share(d: pd.DataFrame, strategy: str, want_success: bool) -> str:
    rows = d[d.strategy == strategy]
    if rows.empty:
        return MISSING
    k = int(rows.success.sum()) if want_success else int((~rows.success.astype(bool)).sum())
    lo, hi = wilson(k, len(rows))
    return HOLDS if lo > 0.5 else FLIPS if hi < 0.5 else UNDECIDED


def _median_intervals(d: pd.DataFrame, a: str, b: str):
    """The bootstrap 95 % intervals of two strategies' median latency (None if one is absent)."""
    la, lb = d[d.strategy == a].latency_ms, d[d.strategy == b].latency_ms
    return None if la.empty or lb.empty else (median_ci(la), median_ci(lb))


def _not_slower(d: pd.DataFrame, fast: str, slow: str) -> str:
    """``fast`` is at least as fast as ``slow``: flips when the intervals say it is slower;
    holds when they say it is faster, or overlap with ``fast``'s upper bound not above
    ``slow``'s; undecided otherwise."""
    ci = _median_intervals(d, fast, slow)
    if ci is None:
        return MISSING
    ia, ib = ci
    if differ(ia, ib):
        return FLIPS if ia[0] > ib[1] else HOLDS
    return HOLDS if ia[1] <= ib[1] else UNDECIDED


def _slower(d: pd.DataFrame, slow: str, fast: str) -> str:
    """``slow`` takes longer than ``fast``: only when the intervals say so."""
    ci = _median_intervals(d, slow, fast)
    if ci is None:
        return MISSING
    ia, ib = ci
    if differ(ia, ib):
        return HOLDS if ia[0] > ib[1] else FLIPS
    return UNDECIDED


@dataclass(frozen=True)
class Conclusion:
    name: str
    text: str
    test: Callable[[pd.DataFrame], str]


CONCLUSIONS = (
    Conclusion("S1 fails", "one cma_alloc of the whole size fails in most trials",
               lambda d: _share(d, "cma_single", want_success=False)),
    Conclusion("chunks succeed", "MAX_ORDER-1 chunks get every block in most trials",
               lambda d: _share(d, "cma_chunked", want_success=True)),
    Conclusion("bulk >= chunks", "alloc_pages_bulk is at least as fast as the chunks",
               lambda d: _not_slower(d, "alloc_pages_bulk", "cma_chunked")),
    Conclusion("cma_many slow", "separate cma_alloc calls take longer than the chunks",
               lambda d: _slower(d, "cma_many", "cma_chunked")),
    Conclusion("GFP_KERNEL fails", "alloc_pages(GFP_KERNEL) misses blocks in most trials",
               lambda d: _share(d, "buddy_compaction", want_success=False)),
)


def point_verdicts(df: pd.DataFrame, labels: dict[str, str]) -> pd.DataFrame:
    """One row per (point, conclusion): the verdict at that point. ``labels``: point id ->
    what the point changed (e.g. ``ablate=journal``, ``workload.jobs=16``)."""
    rows = []
    for pid, d in df.groupby("point", sort=False):
        for c in CONCLUSIONS:
            rows.append({"point": pid, "label": labels.get(pid, pid), "conclusion": c.name,
                         "verdict": c.test(d), "trials": int(d.trial.nunique())})
    return pd.DataFrame(rows)


def verdicts(points: pd.DataFrame) -> pd.DataFrame:
    """Per conclusion: its verdict at the base point(s) and the points where it flips or is
    undecided (``points`` from :func:`point_verdicts`)."""
    out = []
    for c in CONCLUSIONS:
        p = points[points.conclusion == c.name]
        flips = p[p.verdict == FLIPS].label.tolist()
        undecided = p[p.verdict == UNDECIDED].label.tolist()
        out.append({"conclusion": c.name, "text": c.text, "points": len(p),
                    "holds": int((p.verdict == HOLDS).sum()), "flips": flips,
                    "undecided": undecided})
    return pd.DataFrame(out)


def verdict_text(table: pd.DataFrame, what: str) -> str:
    """≤ 80 columns: one paragraph per conclusion, naming what flips it."""
    lines = [*_wrapped(f"Robustness of the seed's conclusions across {what}:", ""), ""]
    for r in table.itertuples():
        if not r.flips and not r.undecided:
            head = f"{r.conclusion}: holds at all {r.points} points"
        else:
            head = f"{r.conclusion}: holds at {r.holds} of {r.points} points"
        lines.append(head[:WIDTH])
        for tag, names in (("flips", r.flips), ("undecided", r.undecided)):
            if names:
                lines += _wrapped(f"{tag} under: " + ", ".join(names), "    ", first="  ")
    return "\n".join(lines) + "\n"


def _wrapped(text: str, indent: str = "    ", first: str = "") -> list[str]:
    """``text`` in lines of at most ``WIDTH`` columns: the first line starts with ``first``,
    the others with ``indent``."""
    import textwrap

    return textwrap.wrap(text, WIDTH, initial_indent=first, subsequent_indent=indent,
                         break_on_hyphens=False, break_long_words=False)


VERDICT_COLOURS = {HOLDS: "#009E73", FLIPS: "#D55E00", UNDECIDED: "#E69F00", MISSING: "#999999"}
VERDICT_SHAPES = {HOLDS: "circle", FLIPS: "cross", UNDECIDED: "diamond", MISSING: "square"}


def verdict_chart(points: pd.DataFrame, tag: str):
    """One row per conclusion, one column per sweep point: the verdict at that point, coloured
    and shaped (a reader without colour still tells a flip from a hold)."""
    import altair as alt

    from .figures import caption

    order = list(dict.fromkeys(points.label))
    shown = [v for v in (HOLDS, FLIPS, UNDECIDED, MISSING) if v in set(points.verdict)]
    return (
        alt.Chart(points, title=alt.Title(
            "Which of the seed's conclusions hold under each ablation and estimate",
            subtitle=caption(tag, f"{points.point.nunique()} points, "
                                  f"{int(points.trials.max())} trials each; intervals at 95 %")))
        .mark_point(filled=True, size=90, opacity=1)
        .encode(
            x=alt.X("label:N", sort=order, title=None, axis=alt.Axis(labelAngle=-60,
                                                                      labelLimit=220)),
            y=alt.Y("conclusion:N", sort=[c.name for c in CONCLUSIONS], title=None),
            color=alt.Color("verdict:N", title="verdict",
                            scale=alt.Scale(domain=shown,
                                            range=[VERDICT_COLOURS[v] for v in shown])),
            shape=alt.Shape("verdict:N", title="verdict", scale=alt.Scale(
                domain=shown, range=[VERDICT_SHAPES[v] for v in shown])),
            tooltip=["label", "conclusion", "verdict", "trials"],
        )
        .properties(width=max(300, 16 * len(order)), height=150)
    )
