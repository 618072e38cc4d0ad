"""The drill-down from one call of a sweep to its time and its machine (``SweepView``)."""

import pytest
import vl_convert as vlc

from allockit.report.notebook import SweepView

SMALL = {"machine.ram": "256M", "machine.cma_size": "64M", "machine.nr_cpus": 2,
         "machine.kernel_reserved": 0, "workload.jobs": 2, "horizon_s": 2.0, "trials": 2,
         "nr_elem": 64}


@pytest.fixture(scope="module")
def view(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweeps")
    return SweepView.run("params/seed.yaml", SMALL, workers=1, out=out, progress=False)


def test_drilldown_reruns_the_call_and_draws_its_time_and_machine(view):
    row = view.df[(view.df.strategy == "cma_chunked") & (view.df.trial == 1)].iloc[0]
    svg = vlc.vegalite_to_svg(view.drilldown("cma_chunked", 1).to_dict())
    assert f"cma_chunked, trial 1: {row.got:,}/64 blocks in {row.latency_ms:,.1f} ms" in svg
    assert "before" in svg and f"after cma_chunked ({row.got:,}/64)" in svg
    assert "journaled metadata" in svg and "the calling task" in svg  # both legends


def test_drilldown_defaults_to_the_call_the_breakdown_figure_shows(view):
    svg = vlc.vegalite_to_svg(view.drilldown().to_dict())
    first = view.df[view.df.strategy == "cma_single"].sort_values(["latency_ms", "trial"])
    assert f"cma_single, trial {int(first.trial.iloc[0])}:" in svg


def test_drilldown_refuses_results_the_model_does_not_reproduce(view):
    tampered = SweepView(view.spec, view.dir, view.df.copy(), view.manifest)
    tampered.df.loc[tampered.df.strategy == "cma_chunked", "latency_ms"] += 1.0
    with pytest.raises(RuntimeError, match="from another version of the model"):
        tampered.drilldown("cma_chunked", 0)


def test_drilldown_names_what_there_is(view):
    with pytest.raises(ValueError) as e:
        view.drilldown("cma_chunkd", 0)
    assert str(e.value).count("\n") == 0
    assert "strategy 'cma_chunkd'" in str(e.value) and "cma_chunked, cma_chunked_o9" in str(e.value)
