"""Every notebook executes under papermill at its small default parameters (SMALL below for
the ones whose defaults are a full real run)."""

import shutil
import tempfile
from pathlib import Path

import nbformat
import papermill as pm
import pytest

from allockit.paths import ROOT
from allockit.report import sweepnb

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
# The notebooks' defaults are the real study (minutes on a cold machine); the tests run small
# ones: a 256 MB machine, 2 trials, small axes; notebook 10 the capture's first 3 ms (an
# absolute path: the kernel runs in notebooks/) and 2 s of simulated build.
_MACHINE = {"machine.ram": "256M", "machine.cma_size": "64M", "machine.nr_cpus": 2,
            "machine.kernel_reserved": 0, "workload.jobs": 2, "horizon_s": 2.0}
SMALL = {
    "01-seed-reproduction": {"overrides": {**_MACHINE, "trials": 2, "nr_elem": 64}},
    "06-cost-sensitivity": {"overrides": {
        **_MACHINE, "trials": 2, "nr_elem": 64,
        "axes": {"costs.drain_busy_cpu_wait_ns": {"times": [0.25, 4]},
                 "costs.unmap_page_ns": {"times": [0.25, 4]}}}},
    "07-memory-map": {"overrides": {**_MACHINE, "nr_elem": 256}},
    "08-lkml-reply": {"overrides": {**_MACHINE, "trials": 2, "nr_elem": 64}},
    # the seed's own machine: its sweeps vary jobs and CPUs, which on a 256 MB machine thrash
    # in reclaim for seconds of wall time per trial
    "11-robustness": {"overrides": {"horizon_s": 2.0, "trials": 2, "nr_elem": 64}},
    "09-simulation-vs-kernel": {"sim_trials": 1, "horizon_s": 2.0, "sensitivity_trials": 0},
    "10-workload-fit": {"trace": str(ROOT / "tests/fixtures/ftrace/kbuild-head.txt"),
                        "seconds": 2.0},
    **{nb.stem: {"overrides": sweepnb.small_overrides(nb)} for nb in sweepnb.SWEEP_NOTEBOOKS},
}


def test_there_are_notebooks():
    assert NOTEBOOKS, "notebooks/ holds no notebook"


def test_every_small_parameter_is_one_the_notebook_declares():
    for path in NOTEBOOKS:
        declared = set(pm.inspect_notebook(str(path)))
        assert set(SMALL.get(path.stem, {})) <= declared, path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_at_defaults(path, tmp_path):
    out = tmp_path / path.name
    # keep the checkout's data/ untouched; a short path, as the reply quotes it in commands
    data = Path(tempfile.mkdtemp(prefix="nb", dir="/tmp")) / "data"
    try:
        params = {"out_dir": str(data), **SMALL.get(path.stem, {})}
        # the kernel runs in the notebook's own folder, as JupyterLab runs it
        pm.execute_notebook(str(path), str(out), parameters=params,
                            kernel_name="python3", progress_bar=False, cwd=str(path.parent))
        assert out.exists() and out.stat().st_size > path.stat().st_size  # outputs written
        pngs = list((data / "figures").glob("*.png"))
        assert pngs, "the notebook wrote no figure"
        for png in pngs:  # a real image, not an empty or failed export
            assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 2000
        outputs = [o for c in nbformat.read(str(out), as_version=4).cells
                   if c.cell_type == "code" for o in c.get("outputs", [])]
        assert not [o for o in outputs if o.output_type == "error"]
        shown = {m for o in outputs for m in o.get("data", {})}
        assert shown & {"image/svg+xml", "image/png"}, "no figure shown in the notebook"
    finally:
        shutil.rmtree(data.parent)


def test_sweep_notebooks_match_their_template():
    """02-05 are rendered from one template (allockit/report/sweepnb.py): a hand edit of one
    of them, or a template change not rendered, fails here."""
    from allockit.report import sweepnb

    assert sweepnb.stale() == []
    for nb in sweepnb.SWEEP_NOTEBOOKS:  # each is one of the notebooks the suite runs
        assert sweepnb.path_of(nb) in NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_has_a_parameters_cell(path):
    nb = nbformat.read(str(path), as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and "out_dir = None" in tagged[0].source


def test_batch_runner_names_the_failing_notebook_and_cell(tmp_path, monkeypatch):
    import nbformat

    from allockit import notebooks as nbrun

    bad = nbformat.v4.new_notebook()
    p = nbformat.v4.new_code_cell("x = 1")
    p.metadata["tags"] = ["parameters"]
    bad.cells += [p, nbformat.v4.new_code_cell("raise RuntimeError('boom ' + str(x))")]
    bad.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                  "language": "python"}
    (tmp_path / "nb").mkdir()
    nbformat.write(bad, str(tmp_path / "nb" / "99-bad.ipynb"))
    monkeypatch.setattr(nbrun, "NOTEBOOKS_DIR", tmp_path / "nb")
    (tmp_path / "params.yaml").write_text("'99': {x: 5}\n")
    import io

    log = io.StringIO()
    rc = nbrun.run_notebooks(tmp_path / "params.yaml", out=tmp_path / "out", stream=log)
    assert rc == 1
    # In [3]: papermill's injected-parameters cell runs second, as the executed copy shows
    assert "FAILED 99-bad.ipynb: cell In [3] of " in log.getvalue()
    assert "RuntimeError: boom 5" in log.getvalue()


def test_batch_runner_refuses_unknown_names_and_bad_params(tmp_path):
    from allockit.experiment.spec import SpecError
    from allockit.notebooks import load_params, notebooks

    with pytest.raises(SpecError, match=r"--only 'nope': no such notebook; allowed: 01-"):
        notebooks(["nope"])
    assert [p.stem for p in notebooks(["02", "01-seed-reproduction"])] == [
        "02-sweep-order", "01-seed-reproduction"]
    (tmp_path / "p.yaml").write_text("[1, 2")
    with pytest.raises(SpecError, match=r"malformed YAML"):
        load_params(tmp_path / "p.yaml")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_without_outputs(path):
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None


def test_batch_runner_refuses_a_parameter_no_notebook_declares(tmp_path, capsys):
    """papermill would drop an unknown parameter and run the notebook at its defaults."""
    from allockit.cli import main

    (tmp_path / "keyed.yaml").write_text("'01': {trails: 3}\n")
    assert main(["notebooks", "--only", "01", "--params", str(tmp_path / "keyed.yaml"),
                 "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "'trails' is not a parameter of 01-seed-reproduction; allowed: drill, out_dir" in err
    (tmp_path / "flat.yaml").write_text("colour: red\n")
    assert main(["notebooks", "--only", "02", "--params", str(tmp_path / "flat.yaml"),
                 "--out", str(tmp_path / "out")]) == 2
    assert "'colour' is not a parameter of any chosen notebook" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # refused before any work
