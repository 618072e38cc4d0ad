"""Mailing-list text, figures, cost sensitivity and memory maps."""

from __future__ import annotations

import shlex

import numpy as np
import pandas as pd
import pytest

from allockit.report.sensitivity import ranking, sensitivity, sensitivity_text
from allockit.report.text import COL, LABEL, WIDTH, _delta, compare_table, wrap_command


def frame(spec: dict[str, list[tuple[bool, int, float]]], point: str = "p0") -> pd.DataFrame:
    """Rows from {strategy: [(success, got, latency_ms), ...]}."""
    rows = []
    for s, trials in spec.items():
        for i, (ok, got, lat) in enumerate(trials):
            rows.append(dict(strategy=s, trial=i, success=ok, got=got, latency_ms=lat,
                             workload_slowdown_pct=1.0, point=point))
    return pd.DataFrame(rows)


def test_delta_sign_means_better():
    assert _delta(100, 50, lower_better=True) == 50.0  # half the latency: +50 %
    assert _delta(100, 150, lower_better=True) == -50.0
    assert _delta(100, 150, lower_better=False) == 50.0  # more blocks: better
    assert _delta(0, 0, lower_better=True) == 0.0
    assert _delta(0, 5, lower_better=True) == -np.inf


def test_compare_table_values_and_width():
    df = frame({
        "cma_single": [(False, 10, 100.0), (True, 20, 300.0)],
        "alloc_pages_bulk_with_a_very_long_label": [(True, 20, 50.0), (True, 20, 150.0)],
        "cma_chunked": [(True, 20, 400.0), (True, 20, 400.0)],
        "cma_many": [(False, 0, 9000.0), (False, 1, 9000.0)],
    })
    t = compare_table(df, baseline="cma_single")
    lines = t.splitlines()
    assert max(map(len, lines)) <= WIDTH
    amean = next(x for x in lines if x.startswith("Amean") and "lat-ms" in x)
    # baseline 200 ms; the long label's 100 ms is 50 % better, cma_chunked 100 % worse
    assert "200.00 (   0.00%)" in amean and "100.00 (  50.00%)" in amean
    assert "400.00 (-100.00%)" in amean
    assert "1/2" in next(x for x in lines if x.startswith("Success"))
    # four strategies do not fit in one 80-column block: a second block repeats the baseline
    headers = [x for x in lines if "cma_single" in x and not x.startswith(("Min", "Amean"))]
    assert len(headers) == 2
    # a long label wraps after underscores over header lines, nothing cut
    block = lines[: lines.index(next(x for x in lines if x.startswith("Success")))]
    col = [x[LABEL + COL : LABEL + 2 * COL].strip() for x in block[-3:]]
    assert col == ["alloc_pages_bulk_", "with_a_very_long_", "label"]


def test_compare_table_bad_baseline():
    with pytest.raises(ValueError, match=r"baseline: 'nope'; allowed: a, b"):
        compare_table(frame({"a": [(True, 1, 1.0)], "b": [(True, 1, 1.0)]}), baseline="nope")
    with pytest.raises(ValueError, match=r"strategy: 'zz' is not in these results"):
        compare_table(frame({"a": [(True, 1, 1.0)]}), strategies=["zz"])


def test_wrap_command_keeps_options_with_values():
    cmd = ("allockit sweep params/seed.yaml " + " ".join(
        f"--set machine.x{i}=value{i}" for i in range(12)))
    lines = wrap_command(cmd)
    assert len(lines) > 1 and max(map(len, lines)) <= WIDTH
    assert all(x.endswith(" \\") for x in lines[:-1])
    joined = " ".join(x.rstrip("\\") for x in lines)
    assert shlex.split(joined) == shlex.split(cmd)
    assert not any(x.rstrip(" \\").endswith("--set") for x in lines)


def test_ranking_and_sensitivity():
    base = frame({"a": [(True, 1, 10.0)] * 2, "b": [(True, 1, 20.0)] * 2,
                  "c": [(False, 0, 5.0)] * 2}, point="base")
    # scaling a constant makes b faster than a and c succeed once
    moved = frame({"a": [(True, 1, 10.0)] * 2, "b": [(True, 1, 5.0)] * 2,
                   "c": [(True, 1, 5.0), (False, 0, 5.0)]}, point="x4")
    same = frame({"a": [(True, 1, 11.0)] * 2, "b": [(True, 1, 22.0)] * 2,
                  "c": [(False, 0, 5.0)] * 2}, point="x025")
    df = pd.concat([base, moved, same])
    manifest = {"points": [{"id": "base", "values": {}},
                           {"id": "x4", "values": {"costs.k_ns": 40}},
                           {"id": "x025", "values": {"costs.k_ns": 2}}]}
    assert ranking(base) == ["a", "b", "c"]
    s = sensitivity(df, manifest).set_index("value")
    assert s.loc[40, "best"] == "b" and s.loc[40, "rank_swaps"] == 1
    assert s.loc[40, "max_success_change"] == 1
    assert s.loc[40, "max_latency_ratio"] == pytest.approx(4.0)
    assert s.loc[2, "rank_swaps"] == 0 and s.loc[2, "max_latency_ratio"] == pytest.approx(1.1)
    text = sensitivity_text(s.reset_index(), "buddy_compaction_movable_with_a_long_label")
    assert max(map(len, text.splitlines())) <= WIDTH and "k_ns" in text
    with pytest.raises(ValueError, match="needs the base point"):
        sensitivity(moved, {"points": [{"id": "x4", "values": {"costs.k_ns": 40}}]})


def test_memory_map_classifies_pages():
    from conftest import populated

    from allockit.mm.constants import REF_GUP, REF_JOURNAL, PG_dirty, PG_slab
    from allockit.mm.introspect import BLOCKERS, free_mask, memory_map, page_blockers
    from allockit.report.memmap import pageblock_frame

    s = populated(n=1500, seed=3)
    free = free_mask(s)
    # every free page, tails of buddy blocks included; pcp pages are not in NR_FREE_PAGES
    assert free.sum() == int(s.vmstat[0]) + int(s.pcp_count.sum())
    cat = page_blockers(s)
    assert (cat[free] == BLOCKERS.index("free")).all()
    used = np.flatnonzero(~free & (s.owner >= 0))
    p = used[0]
    s.page[p]["flags"] |= PG_dirty
    assert page_blockers(s)[p] == BLOCKERS.index("dirty")
    s.page[p]["flags"] |= PG_slab
    assert page_blockers(s)[p] == BLOCKERS.index("unmovable")
    q = used[2]  # a reference held past now: a GUP pin, or jbd2's on a metadata buffer
    s.page[q]["t_ref"] = int(s.clock) // 1000 + 10**6
    s.page[q]["refkind"] = REF_GUP
    assert page_blockers(s)[q] == BLOCKERS.index("pinned")
    s.page[q]["refkind"] = REF_JOURNAL
    assert page_blockers(s)[q] == BLOCKERS.index("journaled metadata")
    taken = page_blockers(s, pieces=[("cma", int(used[1]), 1)])
    assert taken[used[1]] == BLOCKERS.index("taken")
    f = pageblock_frame(memory_map(s, 0, 0))
    assert len(f) == len(s.pb_mt) and set(f.blocker) <= set(BLOCKERS)
    pb = f.set_index("pageblock")
    assert pb.loc[p >> 9, "blocker"] == "unmovable"  # a block takes its hardest page


def test_report_table_shows_intervals():
    """The success count carries its Wilson interval, the median latency its bootstrap one."""
    from allockit.report.stats import median_ci
    from allockit.report.text import compare_table

    lat = [100.0, 120.0, 130.0, 150.0, 400.0]
    rows = [dict(strategy="a", trial=t, success=t < 4, latency_ms=lat[t], got=1,
                 workload_slowdown_pct=0.0) for t in range(5)]
    text = compare_table(pd.DataFrame(rows), group_by=None)
    lines = {" ".join(line.split()[:2]): line for line in text.splitlines()
             if len(line.split()) > 2}
    assert lines["Success ok"].split()[-1] == "4/5"
    assert lines["CI95 ok"].split()[-1] == "[38-96%]"  # Wilson 95 % of 4/5: 0.376-0.964
    lo, hi = median_ci(lat)
    assert lines["CI95 lat-ms"].split()[-1] == f"[{lo:.4g}-{hi:.4g}]"
    assert lines["Median lat-ms"].split()[-1] == "130.00"
