"""The one-axis sweep notebooks (02-05) from one template.

The four notebooks differ only in their spec, their prose and the small axis their tests run
(``small_overrides``; the defaults run the spec at full size, as papermill's convention has
it); everything else (the parameters cell's shape, the cells that run the sweep, print the
table and draw the figures) is this template. ``write`` renders them into ``notebooks/``;
``stale`` lists those whose file no longer matches the template (a test keeps them in step).
Edit the table or the template here, never the four notebooks by hand.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from ..paths import NOTEBOOKS_DIR


@dataclass(frozen=True)
class SweepNotebook:
    """One notebook: file stem, title, the introduction, the spec file, the axis a small run
    (the tests) sweeps instead of the spec's, and the section heading above the summary."""

    stem: str
    title: str
    intro: str
    spec: str
    small_axis: tuple[str, list]
    section: str


SWEEP_NOTEBOOKS = (
    SweepNotebook(
        "02-sweep-order",
        "The seed's request at other orders",
        "The same amount of memory asked for in blocks of order 0 to 9 (`params/{spec}`: "
        "300 MB on the seed's machine). Which strategies depend on the block size, and where "
        "does MAX_ORDER-1 chunking stop paying off?",
        "sweep-order.yaml",
        ("size", [{"order": 0, "nr_elem": 1024}, {"order": 4, "nr_elem": 64},
                  {"order": 8, "nr_elem": 4}]),
        "Per order and strategy: trials that got every block, blocks got, latency median and "
        "p10/p90; then the figures (success rate and latency against the order).",
    ),
    SweepNotebook(
        "03-sweep-nr-elem",
        "How the strategies scale with the request",
        "From a small request to most of the CMA area (`params/{spec}`: 600 to 7,200 order-4 "
        "blocks of a 500 MB area). A strategy that is fine at 10 % of the area may fail at "
        "90 %.",
        "sweep-nr-elem.yaml",
        ("nr_elem", [64, 256, 768]),
        "Per request size and strategy, then the figures.",
    ),
    SweepNotebook(
        "04-sweep-cma-size",
        "How much CMA slack each strategy needs",
        "The seed's 300 MB from CMA areas of 320 MB to 1 GB (`params/{spec}`). With little "
        "slack, every busy page in the area matters.",
        "sweep-cma-size.yaml",
        ("machine.cma_size", ["32M", "64M", "96M"]),
        "Per CMA size and strategy, then the figures.",
    ),
    SweepNotebook(
        "05-sweep-intensity",
        "Idle machine versus a kernel build",
        "The seed's request on an idle machine and under `make -j1` to `-j8` (`params/{spec}`)."
        " The seed's failures happened under load; idle, every strategy should succeed.",
        "sweep-intensity.yaml",
        ("workload.jobs", [0, 1, 2]),
        "Per build intensity (jobs) and strategy, then the figures.",
    ),
)

# A small machine and 2 trials: what the tests run instead of the full-size defaults.
SMALL_BASE = {
    "machine.ram": "256M", "machine.cma_size": "64M", "machine.nr_cpus": 2,
    "machine.kernel_reserved": 0, "workload.jobs": 2, "horizon_s": 2.0, "trials": 2,
    "nr_elem": 64,
}


def small_overrides(nb: SweepNotebook) -> dict:
    """The ``overrides`` parameter of a small run of ``nb`` (seconds instead of minutes)."""
    path, values = nb.small_axis
    return {**SMALL_BASE, f"axes.{path}": values}


_PARAMETERS = '''\
# parameters (papermill overrides these; the defaults run the sweep at full size,
# reusing finished trials in data/sweeps; the tests pass small ones)
spec_file = "params/{spec}"
# --set style overrides of the spec (e.g. {{"trials": 3}}); {{}} runs it as written
overrides = {{}}
workers = None  # processes (None: one per core)
baseline = "cma_single"  # the first column of the text table
out_dir = None  # None: data/ (sweeps go to data/sweeps, figures to data/figures)'''

_RUN = '''\
from pathlib import Path

from allockit.paths import DATA_DIR
from allockit.report import theme
from allockit.report.notebook import SweepView

theme.use(notebook=True)  # Vega-Lite plus a PNG copy (vl-convert): no network needed
root = Path(out_dir) if out_dir else DATA_DIR
view = SweepView.run(spec_file, overrides, workers=workers, out=root / "sweeps")
print(view.table(baseline=baseline))'''

_CELLS_AFTER = (
    ("code", "view.summary()"),
    ("code", "charts = view.charts()\ncharts[list(charts)[0]]"),
    ("code", "charts[list(charts)[1]]"),
    ("code", 'view.save_figures(root / "figures")'),
)

_METADATA = {
    "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
    "language_info": {"name": "python"},
}


def _cell(kind: str, source: str, stem: str, index: int, tags: list[str] | None = None):
    cell_id = hashlib.sha256(f"{stem}:{index}".encode()).hexdigest()[:8]
    cell = {"cell_type": kind, "id": cell_id, "metadata": {"tags": tags} if tags else {},
            "source": source.splitlines(keepends=True)}
    if kind == "code":
        cell.update(execution_count=None, outputs=[])
        cell = {k: cell[k] for k in
                ("cell_type", "execution_count", "id", "metadata", "outputs", "source")}
    return cell


def render(nb: SweepNotebook) -> str:
    """The notebook's file content (nbformat 4.5 JSON, as Jupyter writes it)."""
    number = nb.stem.split("-", 1)[0]
    intro = (f"# {number} — {nb.title}\n\n{nb.intro.format(spec=nb.spec)} The sweep runs first "
             "if its trials are not on disk yet; a killed run resumes.")
    cells = [
        ("markdown", intro, None),
        ("code", _PARAMETERS.format(spec=nb.spec), ["parameters"]),
        ("code", _RUN, None),
        ("markdown", f"## {nb.section}", None),
        *((kind, src, None) for kind, src in _CELLS_AFTER),
    ]
    doc = {
        "cells": [_cell(k, s, nb.stem, i, t) for i, (k, s, t) in enumerate(cells)],
        "metadata": _METADATA,
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return json.dumps(doc, indent=1, ensure_ascii=False) + "\n"


def path_of(nb: SweepNotebook, directory: Path = NOTEBOOKS_DIR) -> Path:
    return directory / f"{nb.stem}.ipynb"


def stale(directory: Path = NOTEBOOKS_DIR) -> list[Path]:
    """The sweep notebooks whose file differs from the template's rendering."""
    return [path_of(nb, directory) for nb in SWEEP_NOTEBOOKS
            if not path_of(nb, directory).exists()
            or path_of(nb, directory).read_text() != render(nb)]


def write(directory: Path = NOTEBOOKS_DIR) -> list[Path]:
    """Render every sweep notebook into ``directory``; returns the files written."""
    out = []
    for nb in SWEEP_NOTEBOOKS:
        path_of(nb, directory).write_text(render(nb))
        out.append(path_of(nb, directory))
    return out


if __name__ == "__main__":
    for p in write():
        print(p)
