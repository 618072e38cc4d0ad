"""The seed's conclusions as tests on trial rows, and the verdict across sweep points."""

import pandas as pd
import pytest

from allockit.cli import main as cli
from allockit.report.robustness import (
    CONCLUSIONS,
    FLIPS,
    HOLDS,
    UNDECIDED,
    point_verdicts,
    verdict_text,
    verdicts,
)
from allockit.robustness import point_label


def rows(point, ok, lat, n=10):
    """Trial rows of one point: strategy -> successes out of n, strategy -> latencies."""
    out = []
    for s in ok:
        for t in range(n):
            out.append(dict(point=point, trial=t, strategy=s, success=t < ok[s],
                            latency_ms=float(lat[s] + t)))
    return out


SEED_LIKE = dict(
    ok={"cma_single": 0, "cma_chunked": 10, "alloc_pages_bulk": 10, "cma_many": 10,
        "buddy_compaction": 1},
    lat={"cma_single": 2400, "cma_chunked": 200, "alloc_pages_bulk": 180, "cma_many": 2500,
         "buddy_compaction": 1},
)


def verdict_of(point_rows, name):
    pv = point_verdicts(pd.DataFrame(point_rows), {})
    return pv.set_index("conclusion").loc[name, "verdict"]


def test_the_seed_like_point_holds_every_conclusion():
    pv = point_verdicts(pd.DataFrame(rows("p0", **SEED_LIKE)), {"p0": "base"})
    assert (pv.verdict == HOLDS).all(), pv
    assert list(pv.conclusion) == [c.name for c in CONCLUSIONS]


def test_each_conclusion_can_flip_and_be_undecided():
    ok, lat = dict(SEED_LIKE["ok"]), dict(SEED_LIKE["lat"])
    assert verdict_of(rows("p", {**ok, "cma_single": 10}, lat), "S1 fails") == FLIPS
    assert verdict_of(rows("p", {**ok, "cma_single": 5}, lat), "S1 fails") == UNDECIDED
    assert verdict_of(rows("p", {**ok, "cma_chunked": 1}, lat), "chunks succeed") == FLIPS
    slow_bulk = {**lat, "alloc_pages_bulk": 900}
    assert verdict_of(rows("p", ok, slow_bulk), "bulk >= chunks") == FLIPS
    fast_many = {**lat, "cma_many": 150}
    assert verdict_of(rows("p", ok, fast_many), "cma_many slow") == FLIPS
    close = {**lat, "cma_many": 203}  # the intervals overlap: not called slower
    assert verdict_of(rows("p", ok, close), "cma_many slow") == UNDECIDED
    assert verdict_of(rows("p", {**ok, "buddy_compaction": 10}, lat),
                      "GFP_KERNEL fails") == FLIPS


def test_verdict_names_the_points_that_flip():
    df = pd.DataFrame(rows("p0", **SEED_LIKE) + rows(
        "p1", {**SEED_LIKE["ok"], "cma_single": 10}, SEED_LIKE["lat"]))
    table = verdicts(point_verdicts(df, {"p0": "base", "p1": "workload.jobs=1"}))
    s1 = table.set_index("conclusion").loc["S1 fails"]
    assert s1.flips == ["workload.jobs=1"] and s1.holds == 1
    text = verdict_text(table, "2 points")
    assert "S1 fails: holds at 1 of 2 points" in text
    assert "flips under: workload.jobs=1" in text
    assert "chunks succeed: holds at all 2 points" in text
    assert max(len(line) for line in text.splitlines()) <= 80


def test_point_labels():
    assert point_label({}) == "base"
    assert point_label({"ablate": ["journal"]}) == "ablate=journal"
    assert point_label({"workload.jobs": 16}) == "workload.jobs=16"


def test_cli_robustness_without_results_says_how_to_get_them(tmp_path, capsys):
    assert cli(["robustness", "--no-run", "--out", str(tmp_path)]) == 1
    assert "allockit robustness" in capsys.readouterr().out


@pytest.mark.parametrize("bad, match", [
    (["--set", "ablate=[thp]"], "ablate: 'thp': the 5.9 model has no transparent huge pages"),
    (["--set", "trials=0"], "trials"),
])
def test_cli_robustness_bad_input_is_one_line(bad, match, tmp_path, capsys):
    assert cli(["robustness", "--no-run", "--out", str(tmp_path), *bad]) == 2
    err = capsys.readouterr().err
    assert match in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
