"""The real-kernel lab end to end: build (cached), boot under QEMU, measure, parse, Parquet.

Opt-in: marked ``lab`` and skipped unless ``ALLOCKIT_LAB=1`` and a cached lab kernel exists
(``allockit lab run`` builds it the first time, about 15 minutes). Run it with
``ALLOCKIT_LAB=1 python -m pytest tests/test_lab_run.py -m lab``. The marker is registered here
(pyproject's marker list belongs to the main project): ``pytest.mark`` checks names against the
ini ``markers`` list, so the line is added before ``pytest.mark.lab`` is first used.
"""

from __future__ import annotations

import os
import shutil

import pytest

_cfg = getattr(pytest.mark, "_config", None)
if _cfg is not None:
    _cfg.addinivalue_line("markers", "lab: boots a real kernel under QEMU (opt-in: ALLOCKIT_LAB=1)")


def _cached_kernel():
    from allockit.lab.kernel import kernel_build

    for k in ("5.10", "6.1"):
        try:
            kb = kernel_build(k)
        except (RuntimeError, ValueError):
            continue
        if kb.ready:
            return k
    return None


KERNEL = _cached_kernel() if os.environ.get("ALLOCKIT_LAB") == "1" else None

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(
        os.environ.get("ALLOCKIT_LAB") != "1"
        or KERNEL is None
        or not shutil.which("qemu-system-x86_64"),
        reason="lab run: needs ALLOCKIT_LAB=1, a cached lab kernel and qemu-system-x86_64",
    ),
]


def test_idle_guest_runs_every_cma_shape(tmp_path):
    """An idle guest: the CMA area is free, so every CMA experiment gets all 4,800 pieces
    without a busy retry; the run completes and its Parquet has one row per result."""
    import pandas as pd

    from allockit.lab.runner import run_lab
    from allockit.lab.spec import LabSpec

    spec = LabSpec(
        kernel=KERNEL,
        workload="idle",
        trials=2,
        experiments=["cma_single_a0", "cma_chunked", "buddy_compaction_movable"],
        timeout_s=600,
    )
    res = run_lab(spec, out_dir=tmp_path)
    assert res.problems == []
    df = pd.read_parquet(res.parquet)
    assert len(df) == 6 and set(df["trial"]) == {0, 1}
    cma = df[df["strategy"].str.startswith("cma")]
    assert cma["success"].all() and (cma["sim_cma_alloc_retry"] == 0).all()
    assert (df.loc[df["strategy"] == "cma_chunked", "calls"] == 75).all()
    assert (df["latency_ms_corrected"] < df["latency_ms"]).all()  # TCG is slower than the host
    assert df["kernel_release"].str.contains("allockit-lab").all()


def test_timeout_kills_the_guest_and_says_so(tmp_path):
    """1000 idle rounds of 4,800 cma_alloc calls take minutes; the 30 s limit must cut them."""
    from allockit.lab.runner import run_lab
    from allockit.lab.spec import LabSpec

    spec = LabSpec(kernel=KERNEL, workload="idle", trials=1000, experiments=["cma_many"],
                   timeout_s=30)  # fmt: skip
    res = run_lab(spec, out_dir=tmp_path)
    assert res.problems and res.problems[0].startswith("timeout")
    assert res.wall_s < 60
