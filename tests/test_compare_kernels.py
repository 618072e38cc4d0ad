"""`allockit compare`: kernel against kernel, from sweeps and lab result files (CLI)."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from allockit.cli import main
from allockit.lab.compare import usable
from allockit.paths import ROOT

SMALL = ["machine.ram=256M", "machine.cma_size=64M", "machine.nr_cpus=2",
         "machine.kernel_reserved=0", "workload.jobs=2", "horizon_s=2.0", "trials=2",
         "nr_elem=64"]
LAB = ROOT / "data/lab/6.1-kbuild-j2-20261127T120310Z.parquet"


@pytest.fixture(scope="module")
def kernels(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweeps")
    args = ["sweep", "params/sweep-kernels.yaml", "--out", str(out), "--workers", "1", "--quiet"]
    for s in SMALL:
        args += ["--set", s]
    assert main(args) == 0
    (d,) = [p for p in out.iterdir() if p.name.startswith("sweep-kernels-")]
    return d


def section(text: str, strategy: str) -> list[str]:
    lines = text.splitlines()
    start = lines.index(f"== {strategy} ==")
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("== ")),
               len(lines))
    return lines[start:end]


def cells(lines: list[str], stat: str, label: str) -> list[str]:
    """A row's values, without their change column (of the last block: more columns than
    fit in 80 go to another block, which repeats the baseline)."""
    row = [x for x in lines if x.split()[:2] == [stat, label]][-1]
    return re.sub(r"\(\s*[^)]*%\)", "", row).split()[2:]


def test_compare_puts_every_kernel_model_and_the_lab_side_by_side(kernels, capsys, tmp_path):
    assert main(["compare", str(kernels), str(LAB), "--figure", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    text, figures = out.split("figure: ", 1)
    assert all(len(line) <= 80 for line in text.splitlines())
    assert "[1] v5.9 model" in out and "[3] v6.1 model" in out and "[4] 6.1 lab" in out
    lab = pd.read_parquet(LAB)
    lab = lab[usable(lab)]
    single = section(out, "cma_single")
    assert "v5.9 model" in single[2] and "6.1 lab" in "\n".join(single)
    assert "Note: the columns ran different requests or machines" in out  # 64 vs 4800
    assert "[1] v5.9 model: 64 order-4, 64M CMA of 256M, -j2, up to 2 trials of 10" in \
        out.replace("\n", " ")
    assert "nan" not in out and cells(single, "Amean", "slowdn-%")[-1] == "-"
    # the lab column: the file's own counts and means
    rows = lab[lab.strategy == "cma_single"]
    assert cells(single, "Success", "ok")[-1] == f"{int(rows.success.sum())}/{len(rows)}"
    assert cells(single, "Amean", "retries")[-1] == f"{rows.sim_cma_alloc_retry.mean():.2f}"
    # a strategy the lab did not run has the model columns only
    bulk = section(out, "alloc_pages_bulk")
    assert "6.1 lab" not in "\n".join(bulk) and "v6.1 model" in "\n".join(bulk)
    assert len(cells(bulk, "Success", "ok")) == 3
    assert {p.suffix for p in tmp_path.glob("compare-kernels-*")} == {".svg", ".png"}


def test_compare_model_columns_are_the_sweeps_trials(kernels, capsys):
    from allockit.experiment.sweep import load_results

    assert main(["compare", str(kernels), "--strategy", "cma_chunked"]) == 0
    out = capsys.readouterr().out
    df = load_results(kernels)
    lines = section(out, "cma_chunked")
    means = cells(lines, "Amean", "lat-ms")
    for i, k in enumerate(["5.9", "5.10", "6.1"]):
        rows = df[(df.kernel == k) & (df.strategy == "cma_chunked")]
        assert means[i] == f"{rows.latency_ms.mean():.2f}"
    assert "== cma_single ==" not in out


@pytest.mark.parametrize("args, msg", [
    (["data/lab/nope.parquet"], "data/lab/nope.parquet: no such lab result file"),
    (["tests"], "tests: not a sweep directory (no manifest.json)"),
    ([str(LAB), "--strategy", "cma_singel"],
     "--strategy: 'cma_singel' is in none of the inputs; allowed: cma_single"),
])
def test_compare_bad_input_gets_one_line(args, msg, capsys):
    assert main(["compare", *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and msg in err and err.startswith("allockit compare: ")


def test_kernels_figure_draws_every_column():
    import vl_convert as vlc

    from allockit.report import theme
    from allockit.report.kernels import kernels_figure, load_columns

    lab5 = ROOT / "data/lab/5.10-kbuild-j2-20261127T110925Z.parquet"
    svg = vlc.vegalite_to_svg(kernels_figure(load_columns([LAB, lab5])).to_dict())
    for colour in theme.PALETTE[:2]:
        assert colour.lower() in svg.lower()
    assert "6.1 lab" in svg and "5.10 lab" in svg and "failed" in svg
