"""Trace replay, the simulated trace and the workload fit table."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from allockit.experiment.trial import TrialSpec, check_spec, run_trial
from allockit.mm.background import EV_ALLOC, EV_FREE, PK_ANON, PK_FILE, PK_KERNEL
from allockit.mm.config import ConfigError
from allockit.mm.constants import GFP_HIGHUSER_MOVABLE, GFP_KERNEL
from allockit.workload.replay import parse_gfp_text, parse_workload_arg, trace_to_events
from allockit.workload.simtrace import fit_table, format_gfp, write_ftrace
from allockit.workload.tracestats import trace_stats

FIX = Path(__file__).parent / "fixtures" / "ftrace"
HEAD = FIX / "kbuild-head.txt"


def line(t: float, event: str, fields: str, cpu: int = 0) -> str:
    return f"  cc1-1234    [{cpu:03d}] .....  {t:.6f}: {event}: {fields}\n"


def alloc(t, pfn, gfp="GFP_HIGHUSER_MOVABLE|__GFP_COMP", mt=1, order=0, cpu=0):
    return line(t, "mm_page_alloc", f"page=0000000000000000 pfn={pfn:#x} order={order} "
                f"migratetype={mt} gfp_flags={gfp}", cpu)


def free(t, pfn, event="mm_page_free"):
    f = f"page=0000000000000000 pfn={pfn:#x} order=0"
    return line(t, event, f)


def test_gfp_text_round_trip():
    for mask in (GFP_KERNEL, GFP_HIGHUSER_MOVABLE, GFP_HIGHUSER_MOVABLE | 0x40000):
        assert parse_gfp_text(format_gfp(mask)) == mask
    assert format_gfp(GFP_HIGHUSER_MOVABLE) == "GFP_HIGHUSER_MOVABLE"


def test_trace_to_events_maps_pairs_kinds_and_counts_the_rest(tmp_path):
    p = tmp_path / "t.txt"
    p.write_text(
        alloc(1.0, 0x100)                                      # anon, freed (free + batched)
        + alloc(1.1, 0x200, gfp="GFP_KERNEL", mt=0, cpu=3)     # kernel, never freed
        + alloc(1.2, 0x300)                                    # becomes a file page
        + line(1.2, "mm_filemap_add_to_page_cache",
               "dev 254:1 ino 2a pfn=0x300 ofs=0 order=0")
        + free(1.3, 0x100) + free(1.3, 0x100, "mm_page_free_batched")
        + free(1.4, 0x999)                                     # allocated before the capture
        + alloc(1.5, 0)                                        # failed on the real machine
        + line(1.6, "writeback_dirty_folio", "bdi 254:0: ino=42 index=0")
    )
    ev, nobj, rep = trace_to_events(p, None, nr_cpus=2)
    assert nobj == 3 and rep.allocs == 3 and rep.frees == 1 and rep.file_pages == 1
    assert list(ev["kind"]) == [EV_ALLOC, EV_ALLOC, EV_ALLOC, EV_FREE]
    assert list(ev["pkind"][:3]) == [PK_ANON, PK_KERNEL, PK_FILE]
    assert ev["cpu"][1] == 1  # CPU 3 of the capture on a 2-CPU machine
    assert ev["obj"][3] == 0 and ev["time"][3] == 300_000_000
    assert rep.unmapped == {
        "free of a page allocated before the capture": 1,
        "failed allocation": 1,
        "writeback_dirty_folio (no replay operation)": 1,
    }


def test_replay_trial_runs_and_reports(tmp_path):
    spec = TrialSpec(
        machine=dict(ram="256M", cma_size="64M", nr_cpus=2, kernel_reserved=0),
        workload={"replay": str(HEAD)},
        order=4, nr_elem=32, strategies={"cma_single": {}}, horizon_s=1.0,
    )
    rows = run_trial(spec, 0, 0, 1)
    assert rows[0]["workload"] == "replay:kbuild-head.txt"
    assert rows[0]["got"] == 32
    # the fixture starts mid-build: frees of pages allocated before it cannot be mapped
    assert rows[0]["workload_unmapped"] > 0


@pytest.mark.parametrize(
    "workload, pattern",
    [
        ({"replay": "/no/such/file"}, r"workload.replay: '/no/such/file' is not a file"),
        ({"replay": str(HEAD), "jobs": 2}, r"workload.jobs: not a replay parameter"),
        ({"replay": str(HEAD), "formats": "/nope"}, r"workload.formats: '/nope' is not a dir"),
        ({"replay": str(HEAD), "start_s": -1}, r"workload.start_s: -1; allowed: seconds >= 0"),
    ],
)
def test_bad_replay_workload(workload, pattern):
    spec = TrialSpec(workload=workload, strategies={"cma_single": {}})
    with pytest.raises(ConfigError, match=pattern):
        check_spec(spec)


def test_workload_argument():
    assert parse_workload_arg("kbuild") == {}
    assert parse_workload_arg("replay:x.txt") == {"replay": "x.txt"}
    with pytest.raises(ConfigError, match=r"--workload: 'replay:'; allowed: kbuild"):
        parse_workload_arg("replay:")


def test_simulated_trace_reads_back_with_the_same_statistics(tmp_path):
    from allockit.workload.kbuild import generate_kbuild, load_kbuild_params

    kb = generate_kbuild(load_kbuild_params(jobs=1), 65536, 2, 0.5, np.random.default_rng(1))
    buf = io.StringIO()
    n = write_ftrace(kb, buf)
    p = tmp_path / "sim.txt"
    p.write_text(buf.getvalue())
    s = trace_stats(p)
    n_alloc = int((kb.events["kind"] == EV_ALLOC).sum())
    assert s["allocs"] == n_alloc and s["parse"]["events"] == n
    assert s["frees"] == int((kb.events["kind"] == EV_FREE).sum())
    orders = np.bincount(kb.events["order"][kb.events["kind"] == EV_ALLOC])
    assert s["order_counts"]["0"] == orders[0]
    real = trace_stats(HEAD, FIX / "formats")
    t = fit_table(real, s).set_index("statistic")
    assert t.loc["allocations", "real"] == pytest.approx(real["allocs_per_s"])
    assert t.loc["allocations", "sim/real"] == pytest.approx(
        s["allocs_per_s"] / real["allocs_per_s"])


def test_an_empty_capture_is_refused(tmp_path):
    from allockit.mm.config import ConfigError
    from allockit.workload.replay import check_replay

    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(ConfigError, match="workload.replay: .*empty.txt' is empty"):
        check_replay({"replay": str(empty)})
