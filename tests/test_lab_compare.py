"""The comparison logic of notebook 09 (allockit/lab/compare.py): on crafted frames where the
right answer is known, and on the lab data recorded in data/lab/."""

from __future__ import annotations

import statistics

import numpy as np
import pandas as pd
import pytest

from allockit.lab import compare
from allockit.lab.experiments import EXPERIMENTS


def _frame(spec: dict[str, list[tuple[int, float, int]]], extra: dict | None = None):
    """strategy -> [(got, latency_ms, busy retries), ...] as rows of both sides' columns."""
    rows = []
    for s, trials in spec.items():
        for t, (got, lat, busy) in enumerate(trials):
            rows.append({
                "strategy": s, "trial": t, "got": got, "nr_elem": 4800,
                "success": got >= 4800, "latency_ms": lat, "latency_ms_corrected": lat,
                "sim_cma_alloc_retry": busy, **(extra or {}),
            })  # fmt: skip
    return pd.DataFrame(rows)


def test_identical_sides_do_not_disagree():
    data = {"cma_single": [(4800, 100.0, 0)] * 3, "cma_many": [(4800, 900.0, 5)] * 3}
    t = compare.side_by_side(_frame(data), _frame(data))
    assert compare.disagreements(t) == []
    o = compare.orderings(t)
    assert list(o["lab_rank"]) == list(o["sim_rank"]) == ["cma_single", "cma_many"]


def test_each_kind_of_disagreement_is_named_with_its_mechanism():
    lab = _frame({
        "cma_single": [(0, 5000.0, 200)] * 4,            # fails, slides
        "cma_chunked": [(4800, 300.0, 3)] * 4,            # slides; model does not
        "cma_many": [(4800, 50000.0, 0)] * 4,             # 50x slower than model
        "buddy_compaction": [(200, 10.0, 0)] * 4,         # both short, far apart
        "buddy_compaction_movable": [(4800, 200.0, 0)] * 4,
    })  # fmt: skip
    sim = _frame({
        "cma_single": [(4800, 180.0, 0)] * 4,
        "cma_chunked": [(4800, 250.0, 0)] * 4,
        "cma_many": [(4800, 1000.0, 0)] * 4,
        "buddy_compaction": [(1900, 7.0, 0)] * 4,
        "buddy_compaction_movable": [(4800, 0.0, 0)] * 4,  # fast path: no simulated time
    })  # fmt: skip
    found = compare.disagreements(compare.side_by_side(lab, sim))
    text = "\n".join(found)
    assert "cma_single: success 0/4 on the kernel vs 4/4 simulated" in text
    assert "all-or-nothing" in text
    assert "cma_single: median busy retries 200 on the kernel vs 0" in text
    assert "cma_chunked: median busy retries 3" in text
    assert "cma_many: median latency 5e+04 ms" in text and "(50x)" in text
    assert "buddy_compaction: median pages obtained when falling short 200 on the kernel" in text
    assert "vs 1900 simulated" in text
    assert "buddy_compaction_movable: median latency 200 ms" in text and "no time" in text
    # the simulation has cma_single faster than cma_chunked; the kernel the other way round
    assert any(
        d.startswith("order cma_single vs cma_chunked: the kernel has cma_chunked") for d in found
    )
    assert not any(d.startswith("cma_chunked: success") for d in found)  # both 4/4


def test_sim_spec_mirrors_the_lab_machine():
    lab = _frame(
        {"cma_single": [(4800, 1.0, 0)], "cma_chunked_o9": [(4800, 1.0, 0)]},
        dict(
            kernel="5.10",
            ram="1536M",
            cma_size="500M",
            cpus=2,
            jobs=2,
            order=4,
            workload="kbuild-j2",
        ),  # fmt: skip
    )
    spec = compare.sim_spec(lab, "5.10")
    assert spec.machine == dict(ram="1536M", cma_size="500M", nr_cpus=2, kernel="5.10")
    assert spec.workload == dict(compare.lab_loops(), jobs=2, pagecache_fill=0.0)
    assert spec.nr_elem == 4800 and spec.order == 4
    assert spec.strategies == {
        "cma_single": EXPERIMENTS["cma_single"].sim,
        "cma_chunked_o9": EXPERIMENTS["cma_chunked_o9"].sim,
    }
    idle = lab.assign(workload="idle")
    assert compare.sim_spec(idle, "5.10").workload == {"jobs": 0}
    with pytest.raises(ValueError, match="kernel"):
        compare.sim_spec(lab, "4.19")
    with pytest.raises(ValueError, match="no rows"):
        compare.sim_spec(lab, "6.1")
    # on request, the guest's page-cache level instead of its loops
    with_mem = lab.assign(meminfo_Cached_kb=[1_200_000, 1_100_000], meminfo_MemTotal_kb=1_500_000)
    fill = compare.sim_spec(with_mem, "5.10", page_cache="fill").workload
    assert fill == {"jobs": 2, "pagecache_fill": 0.767}
    assert compare.sim_spec(with_mem, "5.10", page_cache="build").workload == {"jobs": 2}
    mixed = pd.concat([lab, lab.assign(cma_size="256M")])
    with pytest.raises(ValueError, match="cma_size"):
        compare.sim_spec(mixed, "5.10")
    with pytest.raises(ValueError, match="trials"):
        compare.run_sim(spec, 0, 1)


def test_load_lab_needs_data(tmp_path):
    with pytest.raises(ValueError, match="no \\*.parquet"):
        compare.load_lab(tmp_path)


# --- the recorded data ---------------------------------------------------------------------

RECORDED = sorted(compare.DATA_DIR.glob("*.parquet"))


@pytest.mark.skipif(not RECORDED, reason="no lab data recorded in data/lab/")
def test_recorded_data_is_the_seed_setup_with_ten_trials():
    lab = compare.load_lab()
    for kernel, rows in lab.groupby("kernel"):
        assert set(rows["ram"]) == {"1536M"} and set(rows["cma_size"]) == {"500M"}
        assert set(rows["nr_elem"]) == {4800} and set(rows["order"]) == {4}
        counts = rows.groupby("strategy")["trial"].nunique()
        assert (counts >= 10).all(), (kernel, counts.to_dict())
        assert rows["workload"].str.startswith("kbuild").all()
        # every loaded trial has the guest's memory state before it, its LRU lists included
        assert rows["meminfo_CmaFree_kb"].notna().all()
        lru = rows["warm_active_file_pages"] + rows["warm_inactive_file_pages"]
        assert (abs(lru - rows["warm_file_pages"]) <= 1).all()
        assert (rows["slowdown_fault"] > 1).all()  # TCG: the guest is slower than the host


def _read_recorded() -> pd.DataFrame:
    """Every recorded row, read with plain pandas (not ``compare.load_lab``)."""
    return pd.concat([pd.read_parquet(f) for f in RECORDED], ignore_index=True)


def _expected_summary(g: pd.DataFrame) -> dict[str, float]:
    """One strategy's side-by-side figures computed here, with ``statistics`` and numpy."""
    short = g.loc[~g["success"].astype(bool), "got"].tolist()
    return {
        "n": len(g),
        "ok": int(sum(bool(x) for x in g["success"])),
        "got_med": statistics.median(g["got"]),
        "got_short_med": statistics.median(short) if short else float("nan"),
        "lat_med_ms": statistics.median(g["latency_ms_corrected"]),
        "lat_p90_ms": float(np.percentile(g["latency_ms_corrected"].to_numpy(), 90)),
        "busy_med": statistics.median(g["sim_cma_alloc_retry"]),
        "lat_med_raw_ms": statistics.median(g["latency_ms"]),
    }


# Figures of the recorded runs as docs/lab-results.md states them (by hand from its tables):
# (kernel, experiment) -> (trials, successes, median busy retries).
RESULTS_PAGE = {
    ("5.10", "cma_single"): (20, 10, 186),
    ("5.10", "cma_single_a0"): (10, 10, 2324.5),
    ("5.10", "cma_chunked"): (10, 10, 98.5),
    ("5.10", "cma_many"): (10, 10, 5089),
    ("6.1", "cma_single"): (20, 10, 187.5),
    ("6.1", "cma_chunked"): (20, 20, 9),
    ("6.1", "cma_many"): (20, 20, 3158),
    ("6.1", "buddy_compaction_movable"): (20, 6, 0),
}
RESULTS_RUNS = {
    "5.10-kbuild-j2-20261127T110925Z", "5.10-kbuild-j2-20261127T135701Z",
    "6.1-kbuild-j2-20261127T120310Z", "6.1-kbuild-j2-20261127T131502Z",
}  # fmt: skip


@pytest.mark.skipif(not RECORDED, reason="no lab data recorded in data/lab/")
def test_recorded_data_side_by_side_against_an_independent_count():
    """side_by_side and disagreements on the recorded rows, against figures computed here from
    the Parquet files; the 'simulation' is the lab itself with one planted difference (every
    cma_single call fails), so exactly that one disagreement must be named."""
    raw = _read_recorded()
    assert raw["run_complete"].all()  # data/lab/ keeps clean runs only: every row is usable
    assert len(compare.load_lab()) == len(raw)
    for kernel, rows in raw.groupby("kernel"):
        sim = rows.assign(latency_ms=rows["latency_ms_corrected"])
        single = sim["strategy"] == "cma_single"
        sim.loc[single, "got"] = 0
        sim.loc[single, "success"] = False
        t = compare.side_by_side(rows, sim)
        assert sorted(t.index) == sorted(set(rows["strategy"]))
        for s, g in rows.groupby("strategy"):
            want_lab = _expected_summary(g)
            # the simulated side's latency is its latency_ms, set to the corrected one above
            want_sim = _expected_summary(sim[sim["strategy"] == s])
            for k, v in want_lab.items():
                assert t.loc[s, f"lab_{k}"] == pytest.approx(v, nan_ok=True), (kernel, s, k)
            for k, v in want_sim.items():
                if k != "lat_med_raw_ms":
                    assert t.loc[s, f"sim_{k}"] == pytest.approx(v, nan_ok=True), (kernel, s, k)
        g1 = rows[rows["strategy"] == "cma_single"]
        n, ok = len(g1), int(g1["success"].sum())
        assert 0.3 * n < ok  # the plant is a gap larger than SUCCESS_GAP
        assert compare.disagreements(t) == [
            f"cma_single: success {ok}/{n} on the kernel vs 0/{n} simulated -> "
            + compare.MECHANISMS["cma_single"]
        ]
        # alloc_contig_range slid (-EBUSY) at least once in some cma_many trial under load
        many = rows[rows["strategy"] == "cma_many"]
        assert (many["sim_cma_alloc_retry"] > 0).any()
        assert (many["calls"] >= many["got"]).all()  # one alloc_contig_range per piece + slides


@pytest.mark.skipif(
    not RESULTS_RUNS <= {f.stem for f in RECORDED}, reason="the recorded runs are not in data/lab/"
)
def test_recorded_runs_give_the_results_page_figures():
    raw = _read_recorded()
    lab = raw[raw["run_id"].isin(RESULTS_RUNS)]
    for (kernel, s), (n, ok, busy) in RESULTS_PAGE.items():
        rows = lab[lab["kernel"] == kernel]
        t = compare.side_by_side(rows, rows)
        got = (t.loc[s, "lab_n"], t.loc[s, "lab_ok"], t.loc[s, "lab_busy_med"])
        assert got == (n, ok, busy), (kernel, s)


def test_usable_rows_keep_whole_trials_of_cut_runs_and_drop_crashes():
    base = _frame({"cma_single": [(4800, 1.0, 0)] * 3, "cma_many": [(4800, 9.0, 0)] * 3})
    clean = base.assign(run_id="a", run_complete=True, run_problems="")
    cut = base.assign(run_id="b", run_complete=False,
                      run_problems="timeout: guest killed after 60 s; "
                      "guest did not finish (no 'ALLOCKIT done' line)")  # fmt: skip
    cut = cut.drop(cut.index[-1])  # the last trial lost its cma_many result
    crashed = base.assign(run_id="c", run_complete=False, run_problems="guest crash: Oops")
    keep = compare.usable(pd.concat([clean, cut, crashed], ignore_index=True))
    assert keep.tolist() == [True] * 6 + [True, True, False, True, True] + [False] * 6


def test_state_differences_point_to_the_workload():
    cols = dict(warm_free_cma_pages=12000, warm_file_pages=300000, warm_dirty_pages=0)
    lab = _frame({"cma_single": [(4800, 1.0, 0)] * 3}, cols)
    sim = _frame({"cma_single": [(4800, 1.0, 0)] * 3}, dict(cols, warm_free_cma_pages=55000))
    t = compare.state_table(lab, sim)
    assert t.loc["warm_free_cma_pages", "kernel_MiB"] == pytest.approx(46.9, abs=0.05)
    found = compare.state_disagreements(lab, sim)
    assert len(found) == 1 and found[0].startswith("state free CMA pages: 46.9 MiB in the guest")
    assert compare.state_disagreements(lab, lab) == []  # 0 dirty pages on both: no finding


def test_busy_shares_put_the_census_beside_the_model():
    lab = _frame({"cma_chunked": [(4800, 100.0, 4)] * 2, "cma_many": [(4800, 900.0, 10)] * 2})
    lab["busy_fails"] = [4, 4, 10, 10]
    lab["busy_jbd"] = [4, 2, 1, 1]
    sim = _frame({"cma_chunked": [(4800, 100.0, 3)] * 2, "cma_many": [(4800, 900.0, 8)] * 2})
    for c in compare.SIM_BUSY:
        sim[f"sim_busy_{c}"] = 0
    sim["sim_busy_journal"] = [3, 3, 8, 8]
    t = compare.busy_shares(lab, sim)
    assert t.loc["cma_chunked", "lab_journal_share"] == 0.75
    assert t.loc["cma_many", "lab_journal_share"] == 0.1
    assert t.loc["cma_many", "sim_journal_share"] == 1.0 and t.loc["cma_many", "sim_fails"] == 16
    found = compare.busy_disagreements(t)
    assert len(found) == 1 and found[0].startswith("cma_many: 10% of the kernel's busy pages")
    # runs from before the census: the lab side is empty, nothing to disagree about
    old = compare.busy_shares(lab.drop(columns=["busy_fails", "busy_jbd"]), sim)
    assert old["lab_journal_share"].isna().all() and compare.busy_disagreements(old) == []


def test_all_or_nothing_calls_compare_their_short_trials():
    """Half the kernel's single calls got 4,800 and half 0; every simulated one 0: the pages
    obtained when falling short agree (0 = 0), whatever the pooled median says."""
    lab = _frame({"cma_single": [(4800, 100.0, 0)] * 2 + [(0, 900.0, 201)] * 2})
    sim = _frame({"cma_single": [(0, 800.0, 201)] * 4})
    t = compare.side_by_side(lab, sim)
    assert t.loc["cma_single", "lab_got_med"] == 2400
    assert t.loc["cma_single", "lab_got_short_med"] == 0 == t.loc["cma_single", "sim_got_short_med"]
    assert not any("pages obtained" in d for d in compare.disagreements(t))


def test_each_setup_is_compared_on_its_own():
    """A run at a new setup beside the recorded ones: grouped by setup, each labelled from its
    rows, and each one a valid sim_spec (which refuses mixed setups)."""
    base = dict(kernel="5.10", cpus=2, jobs=2, order=4, nr_elem=4800, workload="kbuild-j2",
                strategy="cma_single", trial=0, cma_size="500M")  # fmt: skip
    lab = pd.DataFrame([dict(base, ram="1536M"), dict(base, ram="1536M", trial=1),
                        dict(base, ram="3G", nr_elem=1200)])  # fmt: skip
    groups = compare.setups(lab)
    assert list(groups) == [
        "5.10: 1536M RAM, 500M CMA, 2 CPUs, kbuild-j2, 4,800 order-4 pages",
        "5.10: 3G RAM, 500M CMA, 2 CPUs, kbuild-j2, 1,200 order-4 pages",
    ]
    assert [len(g) for g in groups.values()] == [2, 1]
    specs = [compare.sim_spec(g, "5.10", page_cache="build") for g in groups.values()]
    assert [s.machine["ram"] for s in specs] == ["1536M", "3G"]
    assert [s.nr_elem for s in specs] == [4800, 1200]
    with pytest.raises(ValueError, match="several values of ram"):
        compare.sim_spec(lab, "5.10")


def test_shape_table_compares_free_blocks_and_pageblocks_where_the_guest_has_enough():
    from conftest import COSTS, small_config

    from allockit.mm.boot import build_machine

    s = build_machine(small_config(), COSTS)
    shape = compare.free_shape(s)
    assert sum(shape[f"free_blocks_o{k}"] << k for k in range(11)) == s.vmstat[0]  # free pages
    assert sum(v for k, v in shape.items() if k.startswith("pageblocks_")) == len(s.pb_mt)
    assert shape["pageblocks_CMA"] == 2  # the 4 MiB area: two pageblocks
    lab = pd.DataFrame({"free_blocks_o0": [100, 120], "free_blocks_o9": [4, 6],
                        "pageblocks_Movable": [700, 700], "meminfo_MemFree_kb": [1, 1]})
    sim = pd.DataFrame({"free_blocks_o0": [300], "free_blocks_o9": [50],
                        "pageblocks_Movable": [650]})  # fmt: skip
    table = compare.shape_table(lab, sim)
    assert list(table.index) == ["free_blocks_o0", "free_blocks_o9", "pageblocks_Movable"]
    assert table.loc["free_blocks_o0", "kernel"] == 110
    assert table["close"].tolist() == [False, True, True]  # 300 vs 110; o9: the guest has < 10
    assert compare.shape_table(lab.drop(columns=list(sim.columns)), sim).empty


def test_busy_spread_gives_each_side_its_distribution():
    """busy_spread: min / median / mean / max and the share of trials that never slid, per
    strategy and side; a strategy missing on one side is left out."""
    lab = pd.DataFrame({"strategy": ["a"] * 4 + ["b"] * 2,
                        "sim_cma_alloc_retry": [0, 0, 50, 90, 7, 9]})
    sim = pd.DataFrame({"strategy": ["a"] * 5, "sim_cma_alloc_retry": [0, 0, 0, 50, 100]})
    t = compare.busy_spread(lab, sim)
    assert list(t.index) == ["a"]
    row = t.loc["a"]
    assert (row["kernel_min"], row["kernel_median"], row["kernel_mean"], row["kernel_max"]) == (
        0, 25, 35, 90)  # fmt: skip
    assert row["kernel_zero_share"] == 0.5 and row["simulation_zero_share"] == 0.6
    assert (row["simulation_median"], row["simulation_mean"]) == (0, 30)
