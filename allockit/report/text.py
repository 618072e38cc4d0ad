"""Plain-text tables for a mailing-list reply, in the layout of mmtests' compare-kernels.

Kernel developers read comparisons as rows per metric and statistic (Min / Amean / Max /
Stddev) and one column per kernel, each value followed by its change against the first
column in parentheses. Here the columns are strategies and the first one is the baseline;
lines stay within 80 columns (columns that do not fit go to another block, which repeats
the baseline), so a table survives any mail client::

                        cma_single         cma_chunked    alloc_pages_bulk
    Success  ok          8/10                8/10               10/10
    Min      lat-ms    121.03 (  0.00%)   98.11 ( 18.94%)   140.21 (-15.85%)

A positive change is always an improvement (lower latency, more blocks), as in mmtests.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from .stats import median_ci, wilson

WIDTH = 80
LABEL = 16  # "Stddev   lat-ms  "
COL = 21  # " 12345.67 (-100.00%)"
# (row name, column, lower is better)
METRICS = (
    ("lat-ms", "latency_ms", True),
    ("got", "got", False),
    ("slowdn-%", "workload_slowdown_pct", True),
)
STATS = ("Min", "Amean", "Max", "Stddev")


def _stat(values: np.ndarray, stat: str) -> float:
    if stat == "Min":
        return float(values.min())
    if stat == "Max":
        return float(values.max())
    if stat == "Amean":
        return float(values.mean())
    return float(values.std(ddof=1)) if len(values) > 1 else 0.0


def _delta(base: float, v: float, lower_better: bool) -> float:
    """Change against the baseline in %, positive = better (mmtests' convention)."""
    if base == v:
        return 0.0
    if base == 0:
        return math.copysign(math.inf, (base - v) if lower_better else (v - base))
    d = (v - base) / abs(base) * 100.0
    return -d if lower_better else d


def _cell(v: float, d: float | None) -> str:
    num = f"{v:.2f}" if abs(v) < 1e6 else f"{v:.3g}"
    if d is None:  # Stddev: no change column, as in mmtests
        return f"{num:>{COL - 11}}" + " " * 11
    ds = "inf" if math.isinf(d) else f"{max(-999.99, min(999.99, d)):.2f}"
    if math.isinf(d):
        ds = ("+" if d > 0 else "-") + ds
    return f"{num:>{COL - 11}} ({ds:>7}%)"


def _split_label(name: str, width: int) -> list[str]:
    """A label in pieces of at most ``width`` characters, broken after underscores."""
    parts, cur = [], ""
    for word in name.replace("_", "_\0").split("\0"):
        while len(word) > width:  # a word longer than a column: hard break
            if cur:
                parts.append(cur)
                cur = ""
            parts.append(word[:width])
            word = word[width:]
        if len(cur) + len(word) > width:
            parts.append(cur)
            cur = ""
        cur += word
    return parts + [cur] if cur else parts


def _header(names: list[str]) -> list[str]:
    """Header lines: long strategy labels wrap after an underscore, bottom-aligned."""
    pieces = [_split_label(n, COL - 1) for n in names]
    depth = max(map(len, pieces))
    pieces = [[""] * (depth - len(p)) + p for p in pieces]
    return [(" " * LABEL + "".join(f"{p[i]:>{COL}}" for p in pieces)).rstrip()
            for i in range(depth)]


def _plain_row(stat: str, label: str, cells: list[str]) -> str:
    """A row whose cells carry no change column (counts, intervals)."""
    return (f"{stat:<8}{label:<{LABEL - 8}}" + "".join(f"{c:>{COL - 5}}" + " " * 5
                                                       for c in cells)).rstrip()


def _block(df: pd.DataFrame, names: list[str], baseline: str,
           metrics: tuple[tuple[str, str, bool], ...] = METRICS) -> list[str]:
    lines = _header(names)
    ok, ok_ci, med, med_ci = [], [], [], []
    for n in names:
        d = df[df.strategy == n]
        k = int(d.success.sum())
        lo, hi = wilson(k, len(d))
        ok.append(f"{k}/{len(d)}")
        ok_ci.append(f"[{lo * 100:.0f}-{hi * 100:.0f}%]")
        lat = d.latency_ms.to_numpy(float)
        mlo, mhi = median_ci(lat)
        med.append(f"{np.median(lat):.2f}" if len(lat) else "-")
        med_ci.append(f"[{mlo:.4g}-{mhi:.4g}]" if len(lat) else "-")
    lines.append(_plain_row("Success", "ok", ok))
    lines.append(_plain_row("CI95", "ok", ok_ci))
    lines.append(_plain_row("Median", "lat-ms", med))
    lines.append(_plain_row("CI95", "lat-ms", med_ci))
    base = df[df.strategy == baseline]
    for label, col, lower in metrics:
        if col not in df:
            continue
        for stat in STATS:
            bvals = base[col].dropna().to_numpy(float)
            bv = _stat(bvals, stat) if len(bvals) else float("nan")
            cells = []
            for n in names:
                vals = df.loc[df.strategy == n, col].to_numpy(float)
                vals = vals[~np.isnan(vals)]  # a column without this metric (a lab run's)
                if not len(vals):
                    cells.append(f"{'-':>{COL - 11}}" + " " * 11)
                    continue
                v = _stat(vals, stat)
                cells.append(_cell(v, None if stat == "Stddev" else _delta(bv, v, lower)))
            lines.append((f"{stat:<8}{label:<{LABEL - 8}}" + "".join(cells)).rstrip())
    return lines


def compare_table(
    df: pd.DataFrame,
    *,
    baseline: str | None = None,
    strategies: list[str] | None = None,
    group_by: str | None = "point",
    group_labels: dict[str, str] | None = None,
    metrics: tuple[tuple[str, str, bool], ...] = METRICS,
) -> str:
    """The mmtests-style comparison of ``df`` (rows of trial results), ≤ 80 columns: one
    column per ``strategy`` value, ``metrics`` (row name, column, lower is better)."""
    known = list(dict.fromkeys(df.strategy))
    names = strategies or known
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"strategy: {unknown[0]!r} is not in these results; allowed: "
                         + ", ".join(known))
    baseline = baseline or names[0]
    if baseline not in names:
        raise ValueError(f"baseline: {baseline!r}; allowed: {', '.join(names)}")
    others = [n for n in names if n != baseline]
    per_block = (WIDTH - LABEL) // COL - 1
    blocks = [[baseline, *others[i : i + per_block]] for i in range(0, max(1, len(others)),
                                                                    per_block)]
    groups = [(None, df)] if not group_by or group_by not in df else list(
        df.groupby(group_by, sort=False))
    out: list[str] = []
    for key, g in groups:
        if key is not None and len(groups) > 1:
            label = (group_labels or {}).get(key, str(key))
            out += [f"== {label} ==", ""]
        for cols in blocks:
            out += _block(g, cols, baseline, metrics) + [""]
    return "\n".join(out).rstrip() + "\n"


def wrap(text: str, indent: str = "") -> list[str]:
    """Prose as lines of at most ``WIDTH`` columns."""
    import textwrap

    return textwrap.wrap(text, WIDTH, subsequent_indent=indent, break_on_hyphens=False) or [""]


def summary_table(df: pd.DataFrame, names: list[str], labels: dict[str, str]) -> str:
    """One screen across points: per point (a row) and strategy (a column, numbered below
    the table), the trials that got every block and the median latency in ms."""
    width = max(6, (WIDTH - 24) // max(1, len(names)))
    head = f"{'point':<24}" + "".join(f"{f'[{i + 1}]':>{width}}" for i in range(len(names)))
    lines = ["Trials that got every block, then median latency (ms):", "", head]
    for pid, g in df.groupby("point", sort=False):
        ok, lat = [], []
        for n in names:
            d = g[g.strategy == n]
            ok.append(f"{int(d.success.sum())}/{len(d)}" if len(d) else "-")
            lat.append(f"{np.median(d.latency_ms):.0f}" if len(d) else "-")
        label = labels.get(pid, pid)[:23]
        lines.append(f"{label:<24}" + "".join(f"{c:>{width}}" for c in ok))
        lines.append(f"{'':<24}" + "".join(f"{c:>{width}}" for c in lat))
    lines += [""] + wrap("Strategies: " + ", ".join(f"[{i + 1}] {n}" for i, n in
                                                    enumerate(names)))
    return "\n".join(line.rstrip() for line in lines) + "\n"


def sweep_report(
    d: Path, *, baseline: str | None = None, strategies: list[str] | None = None,
    point: str | None = None, summary: bool = False,
) -> str:
    """The whole reply for a sweep directory: what was run, the tables, how to rerun it.

    The strategies come in the spec's order and the baseline defaults to its first one.
    ``point``: only the point with that label (``machine.cma_size=400M``) or id;
    ``summary``: one screen across every point instead of a table per point."""
    import yaml

    from ..experiment.spec import axis_assignments
    from ..experiment.sweep import load_results, manifest

    m = manifest(d)
    df = load_results(d)
    spec = yaml.safe_load((d / "spec.yaml").read_text())
    labels = {
        p["id"]: ", ".join(f"{k}={v}" for a, val in p["values"].items()
                           for k, v in axis_assignments(a, val)) or "base"
        for p in m["points"]
    }
    order = [s for s in (spec.get("strategies") or {}) if s in set(df.strategy)]
    strategies = strategies or order or None
    if point is not None:
        pick = [pid for pid, lab in labels.items() if point in (pid, lab)]
        if not pick:
            raise ValueError(f"--point: {point!r} is not a point of this sweep; allowed: "
                             + ", ".join(labels.values()))
        df = df[df.point == pick[0]]
    done = df.groupby("point").trial.nunique()
    head = wrap(f"allockit sweep {m['name']} (spec {m['hash']}): {spec.get('description') or ''}")
    head += wrap(
        f"machine {spec['machine']}, workload {spec['workload']}, costs "
        f"{spec['costs'] or 'params/costs.yaml'}; order {spec['order']}, nr_elem "
        f"{spec['nr_elem']}; {int(done.min())}-{int(done.max())} of {m['trials']} trials "
        f"per point; simulated kernel v{df['kernel'].iloc[0]}", "  ")
    head += wrap("Columns: strategies; (%) change against the first column, positive = "
                  "better; slowdn-%: CPU the call took from the build, in % of its CPU time. "
                  "CI95: Wilson 95 % interval of the success count, bootstrap 95 % interval "
                  "of the median latency; two strategies differ only where these do not "
                  "overlap.")
    if summary:
        table = summary_table(df, strategies or list(dict.fromkeys(df.strategy)), labels)
    else:
        table = compare_table(df, baseline=baseline, strategies=strategies,
                              group_labels=labels)
    from ..paths import ROOT

    shown = d.relative_to(ROOT) if d.is_relative_to(ROOT) else d
    report = f"allockit report {shown}" + (f" --baseline {baseline}" if baseline else "")
    report += "".join(f" --strategy {x}" for x in (strategies if strategies != order else []))
    report += (f" --point {point}" if point else "") + (" --summary" if summary else "")
    again = wrap_command(m["command"]) + wrap_command(report)
    return "\n".join(head + [""]) + "\n" + table + "\nTo reproduce:\n" + "\n".join(again) + "\n"


def wrap_command(cmd: str, indent: str = "  ") -> list[str]:
    """A shell command as lines of <= 80 columns joined by backslashes (an option stays
    with its value); a single word longer than a line is left whole."""
    import shlex

    words = shlex.split(cmd)
    units, i = [], 0
    while i < len(words):
        w = shlex.quote(words[i])
        if words[i].startswith("--") and i + 1 < len(words) and not words[i + 1].startswith("--"):
            w += " " + shlex.quote(words[i + 1])
            i += 1
        units.append(w)
        i += 1
    lines, cur = [], indent
    for u in units:
        if cur.strip() and len(cur) + 1 + len(u) + 2 > WIDTH:
            lines.append(cur + " \\")
            cur = indent + "    " + u
        else:
            cur = cur + (" " if cur.strip() else "") + u
    lines.append(cur)
    return lines
