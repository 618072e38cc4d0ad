"""Experiment specs and the sweep runner: expansion, validation, resume, determinism."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml

from allockit.experiment import spec as specs
from allockit.experiment.spec import SpecError, from_mapping, load
from allockit.experiment.sweep import load_results, manifest, plan, run_sweep, sweep_command
from allockit.experiment.trial import workload_slowdown_pct
from allockit.params import cost_constants, estimated_costs, estimated_workload, kbuild_constants

ROOT = Path(__file__).resolve().parents[1]

# A tiny experiment: two strategies, 2 points x 2 trials, a fraction of a second per trial.
TINY = {
    "name": "tiny",
    "machine": {"ram": "256M", "cma_size": "64M", "nr_cpus": 2, "kernel_reserved": 0},
    "workload": {"jobs": 1},
    "order": 4,
    "nr_elem": 32,
    "horizon_s": 1.0,
    "strategies": {"cma_single": {"align": 4}, "alloc_pages_bulk": {}},
    "axes": {"nr_elem": [16, 32]},
    "trials": 2,
    "seed": 7,
}


def tiny(**changes):
    raw = {**TINY, **changes}
    return from_mapping(raw, origin="tiny.yaml")


def write_spec(tmp_path: Path, **changes) -> Path:
    p = tmp_path / "tiny.yaml"
    p.write_text(yaml.safe_dump({**TINY, **changes}, sort_keys=False))
    return p


def files(d: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((d / "trials").glob("*.parquet"))}


@pytest.fixture(scope="module")
def serial_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("serial")
    return run_sweep(tiny(), out=out, workers=1, progress=False)


# --- expansion --------------------------------------------------------------------------------
def test_product_grid_and_point_ids():
    s = tiny(axes={"nr_elem": [16, 32], "workload.jobs": [0, 1, 2]})
    pts = s.points()
    assert len(pts) == 6
    assert [p.as_dict() for p in pts[:2]] == [
        {"nr_elem": 16, "workload.jobs": 0},
        {"nr_elem": 16, "workload.jobs": 1},
    ]
    assert len({p.id for p in pts}) == 6
    # a point's id names its values, not its place in the grid
    s2 = tiny(axes={"nr_elem": [32], "workload.jobs": [2]})
    assert s2.points()[0].id == pts[-1].id
    ts = s.trial_spec(pts[-1])
    assert ts.nr_elem == 32 and ts.workload == {"jobs": 2}


def test_each_mode_starts_from_the_base():
    s = tiny(axes={"nr_elem": [16, 24], "workload.jobs": [0]}, mode="each")
    assert [p.as_dict() for p in s.points()] == [{}, {"nr_elem": 16}, {"nr_elem": 24},
                                                 {"workload.jobs": 0}]
    assert s.trial_spec(s.points()[0]).nr_elem == 32


def test_ranges_times_and_linked_axes():
    s = tiny(axes={
        "workload.jobs": {"from": 0, "to": 4, "step": 2},
        "costs.unmap_page_ns": {"times": [0.5, 2]},
        "size": [{"order": 2, "nr_elem": 64}, {"order": 4, "nr_elem": 16}],
    })
    assert s.axes["workload.jobs"] == [0, 2, 4]
    base = cost_constants()["unmap_page_ns"]["value"]
    assert s.axes["costs.unmap_page_ns"] == [base // 2, base * 2]
    last = s.trial_spec(s.points()[-1])
    assert (last.order, last.nr_elem, last.costs["unmap_page_ns"]) == (4, 16, base * 2)


def test_overrides_replace_values_and_axes():
    s = tiny()
    t = from_mapping({**TINY}, origin="t", overrides={"nr_elem": 8, "trials": 3})
    assert "nr_elem" not in t.axes and t.base["nr_elem"] == 8 and t.trials == 3
    u = from_mapping({**TINY}, origin="t", overrides={"axes": {"workload.jobs": [0, 1]}})
    assert list(u.axes) == ["workload.jobs"]
    assert s.hash != t.hash != u.hash


def test_hash_ignores_name_and_description():
    assert tiny().hash == tiny(name="other", description="x").hash
    assert tiny().hash != tiny(seed=8).hash


def test_hash_follows_the_model(monkeypatch):
    """Results of another simulator version (or default cost file) are never resumed into."""
    before = tiny().hash
    monkeypatch.setattr(specs, "model_fingerprint", lambda: "other-model")
    assert tiny().hash != before


def test_base_inheritance(tmp_path):
    (tmp_path / "parent.yaml").write_text(yaml.safe_dump({**TINY, "axes": {"order": [2]}}))
    (tmp_path / "child.yaml").write_text(yaml.safe_dump({
        "base": "parent.yaml", "machine": {"nr_cpus": 1}, "axes": {"workload.jobs": [0]}}))
    s = load(tmp_path / "child.yaml")
    assert s.base["machine"] == {**TINY["machine"], "nr_cpus": 1}  # merged, not replaced
    assert list(s.axes) == ["workload.jobs"]  # the base lends values, not its sweep
    assert s.name == "child"


@pytest.mark.parametrize("path", sorted((ROOT / "params").glob("sweep-*.yaml")),
                         ids=lambda p: p.name)
def test_shipped_specs_are_valid(path):
    s = load(path)
    assert s.points() and s.trials >= 1


def test_cost_sweep_varies_exactly_the_estimates():
    s = load(ROOT / "params" / "sweep-costs.yaml")
    assert sorted(a.split(".", 1)[1] for a in s.axes) == sorted(estimated_costs())
    assert s.mode == "each"


def seed_estimates() -> set[str]:
    """The dotted paths of params/seed.yaml whose comment says "estimate"."""
    out, stack = set(), []
    for line in (ROOT / "params" / "seed.yaml").read_text().splitlines():
        m = re.match(r"^( *)([A-Za-z_]+):", line)
        if not m:
            continue
        depth = len(m.group(1)) // 2
        stack = [*stack[:depth], m.group(2)]
        if re.search(r"#\s*estimate", line):
            out.add(".".join(stack))
    return out


def test_workload_sweep_varies_exactly_the_estimates():
    """Every estimate of the build's parameter file and of the seed (its CPUs, its jobs) is an
    axis, and nothing else."""
    s = load(ROOT / "params" / "sweep-workload.yaml")
    expected = {f"workload.{k}" for k in estimated_workload()} | seed_estimates()
    assert {"machine.nr_cpus", "workload.jobs"} <= seed_estimates()
    assert set(s.axes) == expected
    assert s.mode == "each"
    for path, values in s.axes.items():  # below and above the base value, where it has one
        base = s.base["workload"].get(path.split(".", 1)[1]) if path.startswith("workload.") \
            else None
        if base is None and path.startswith("workload."):
            base = kbuild_constants()[path.split(".", 1)[1]]["value"]
        elif base is None:
            base = s.base["machine"][path.split(".", 1)[1]]
        assert min(values) < base < max(values), path


def test_mechanism_sweep_switches_off_every_mechanism_once():
    from allockit.experiment.ablation import MECHANISMS

    s = load(ROOT / "params" / "sweep-mechanisms.yaml")
    assert s.mode == "each" and list(s.axes) == ["ablate"]
    assert sorted(v[0] for v in s.axes["ablate"]) == sorted(MECHANISMS)


# --- bad specs --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "changes, pattern",
    [
        ({"colour": 1}, r"unknown key 'colour'; allowed: name, "),
        ({"trials": 0}, r"trials: 0; allowed: an integer >= 1"),
        ({"seed": "x"}, r"seed: 'x'; allowed: an integer >= 0"),
        ({"mode": "zip"}, r"mode: 'zip'; allowed: product, each"),
        ({"order": "4"}, r"order: '4'; allowed: an integer"),
        ({"axes": {"machine.ram": []}}, r"axes.machine.ram: no values"),
        ({"axes": {"speed": [1]}}, r"'speed' is no parameter path .* linked axis"),
        ({"axes": {"order.x": [1]}}, r"'order.x': order takes no sub-key"),
        ({"axes": {"strategies.nope.align": [1]}}, r"no strategy labelled 'nope'"),
        ({"axes": {"workload.jobs": {"from": 4, "to": 0}}}, r"from <= to"),
        ({"axes": {"machine.ram": {"times": [2]}}}, r"'times' needs a numeric base value"),
        ({"axes": {"nr_elem": [16, 4000]}}, r"at point nr_elem=4000: nr_elem: 4000 x 2\^4"),
        ({"axes": {"order": [11]}}, r"at point order=11: order: 11"),
        ({"strategies": {"x": {"strategy": "nope"}}},
         r"strategy: 'nope' is unknown; allowed: cma_single"),
        ({"axes": {"machine.bogus": [1]}}, r"machine.bogus"),
        ({"name": "a b"}, r"name: 'a b'; allowed: letters, digits"),
    ],
)
def test_bad_spec_is_refused_before_any_work(changes, pattern, tmp_path):
    with pytest.raises(SpecError, match=pattern):
        run_sweep(tiny(**changes), out=tmp_path, workers=1, progress=False)
    assert not any(tmp_path.iterdir())  # nothing was written


def test_malformed_yaml_and_missing_base(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("axes: [1, 2\n")
    with pytest.raises(SpecError, match=r"bad.yaml: malformed YAML"):
        load(p)
    p.write_text("base: nowhere.yaml\n")
    with pytest.raises(SpecError, match=r"nowhere.yaml: cannot read spec"):
        load(p)
    p.write_text("- 1\n")
    with pytest.raises(SpecError, match=r"expected a mapping"):
        load(p)


def test_bad_set_syntax():
    with pytest.raises(SpecError, match=r"--set 'ram': expected PATH=VALUE"):
        specs.parse_overrides(["ram"])
    assert specs.parse_overrides(["axes.order=[2, 4]", "machine.ram=256M"]) == {
        "axes.order": [2, 4], "machine.ram": "256M"}


def test_cli_sweep_bad_input_exit_2(tmp_path, capsys):
    from allockit.cli import main

    rc = main(["sweep", str(write_spec(tmp_path)), "--set", "axes.nr_elem=[99999]",
               "--out", str(tmp_path / "o")])
    assert rc == 2
    err = capsys.readouterr().err
    assert "at point nr_elem=99999" in err and "allowed" in err
    assert not (tmp_path / "o").exists()


# --- running ----------------------------------------------------------------------------------
def test_sweep_writes_one_file_per_trial(serial_run):
    d = serial_run.dir
    assert serial_run.total == serial_run.ran == 4
    assert len(files(d)) == 4
    df = load_results(d)
    assert len(df) == 4 * 2  # a row per strategy per trial
    assert set(df.nr_elem) == {16, 32}
    assert set(df.strategy) == {"cma_single", "alloc_pages_bulk"}
    assert {"point", "sweep", "latency_ms", "got", "workload_slowdown_pct"} <= set(df.columns)
    assert not any(c.endswith("wall_s") for c in df.columns)  # wall times stay out
    assert (d / "spec.yaml").exists() and (d / "timings.jsonl").exists()
    m = manifest(d)
    assert [p["values"] for p in m["points"]] == [{"nr_elem": 16}, {"nr_elem": 32}]


def test_result_files_carry_provenance(serial_run):
    import json

    import pyarrow.parquet as pq

    f = sorted((serial_run.dir / "trials").glob("*.parquet"))[0]
    meta = json.loads(pq.read_schema(f).metadata[b"allockit"])
    assert meta["seed"] == 7 and meta["trial"] in (0, 1)
    assert meta["trial_spec"]["machine"]["ram"] == "256M"
    assert {"allockit", "numba", "numpy", "git"} <= set(meta["provenance"])


def test_rerun_skips_finished_trials(serial_run):
    spec = tiny()
    tasks, total = plan(spec, serial_run.dir)
    assert tasks == [] and total == 4
    before = files(serial_run.dir)
    again = run_sweep(spec, out=serial_run.dir.parent, workers=1, progress=False)
    assert again.ran == 0 and files(serial_run.dir) == before


def _sigint_default() -> None:
    """SIGINT at its default in the child, as for a terminal's foreground job: a shell that
    runs the tests in the background passes SIGINT on ignored, and Python then never raises
    KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _sweep_until_a_trial(spec_file: Path, out: Path, workers: int, trials_dir: Path):
    """Start ``allockit sweep`` on ``spec_file`` in a session of its own (stderr piped, text)
    and return its process once its first trial file is on disk."""
    cmd = [sys.executable, "-m", "allockit.cli", "sweep", str(spec_file), "--out", str(out),
           "--workers", str(workers), "--quiet"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, preexec_fn=_sigint_default)  # fmt: skip
    deadline = time.time() + 240
    while time.time() < deadline and len(list(trials_dir.glob("*.parquet"))) < 1:
        time.sleep(0.05)
    return proc


def test_killed_sweep_resumes_without_loss_or_duplicates(serial_run, tmp_path):
    spec_file = write_spec(tmp_path)
    out = tmp_path / "out"
    trials_dir = out / f"tiny-{tiny().hash}" / "trials"
    proc = _sweep_until_a_trial(spec_file, out, 1, trials_dir)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()
    d = trials_dir.parent
    kept = files(d)
    assert 1 <= len(kept) < 4, "the kill came too late to test a resume"
    run = run_sweep(load(spec_file), out=out, workers=1, progress=False)
    assert run.ran == 4 - len(kept)
    final = files(d)
    assert {k: final[k] for k in kept} == kept  # finished trials untouched
    assert final == files(serial_run.dir)  # nothing lost, nothing twice, same bytes
    assert not list((d / "trials").glob(".*tmp*"))


def test_same_bytes_from_a_process_pool(serial_run, tmp_path):
    run = run_sweep(tiny(), out=tmp_path, workers=2, progress=False)
    assert run.ran == 4
    assert files(run.dir) == files(serial_run.dir)


def test_same_bytes_from_dask(serial_run, tmp_path):
    pytest.importorskip("distributed")
    run = run_sweep(tiny(), out=tmp_path, workers=2, scheduler="local", progress=False)
    assert run.ran == 4
    assert files(run.dir) == files(serial_run.dir)


def test_sweep_command_round_trips():
    ov = {"machine.ram": "256M", "axes.size": [{"order": 0, "nr_elem": 8}], "trials": 2}
    cmd = sweep_command("params/seed.yaml", ov)
    import shlex

    words = shlex.split(cmd)
    sets = [w for i, w in enumerate(words) if i and words[i - 1] == "--set"]
    assert specs.parse_overrides(sets) == ov


# --- workload slowdown ------------------------------------------------------------------------
def test_workload_slowdown():
    bd = {"migrate": 600, "wait_writeback": 400}
    assert workload_slowdown_pct(bd, 1000, busy=4, ncpu=4) == pytest.approx(15.0)
    assert workload_slowdown_pct(bd, 1000, busy=2, ncpu=4) == 0.0  # an idle CPU runs the call
    assert workload_slowdown_pct(bd, 0, busy=4, ncpu=4) == 0.0
    assert workload_slowdown_pct({"drain_pcp": 1000}, 1000, busy=4, ncpu=4) == 0.0


def test_cli_report_fits_80_columns(serial_run, capsys):
    from allockit.cli import main

    assert main(["report", str(serial_run.dir), "--baseline", "alloc_pages_bulk"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert max(map(len, lines)) <= 80
    assert "== nr_elem=16 ==" in out and "== nr_elem=32 ==" in out
    tail = out[out.index("To reproduce:"):]
    assert "allockit sweep" in tail and "allockit report" in tail
    assert "--baseline alloc_pages_bulk" in out
    assert main(["report", str(serial_run.dir), "--baseline", "nope"]) == 2


def test_cli_report_of_a_spec_with_overrides(tmp_path, capsys):
    """`sweep SPEC --set ...` then `report SPEC --set ...` finds the same results; without
    the overrides the report says, in one line, that this spec has not run."""
    from allockit.cli import main

    sets = ["--set", "machine.ram=64M", "--set", "machine.cma_size=16M",
            "--set", "machine.nr_cpus=2", "--set", "machine.kernel_reserved=0",
            "--set", "workload.jobs=1", "--set", "horizon_s=1", "--set", "trials=1",
            "--set", "nr_elem=16", "--set", "axes.nr_elem=[16]"]
    out = ["--out", str(tmp_path)]
    assert main(["sweep", "params/sweep-nr-elem.yaml", "--quiet", *sets, *out]) == 0
    capsys.readouterr()
    assert main(["report", "params/sweep-nr-elem.yaml", *sets, *out]) == 0
    assert "cma_chunked" in capsys.readouterr().out
    assert main(["report", "params/sweep-nr-elem.yaml", *out]) == 2
    err = capsys.readouterr().err
    assert "no results for this spec" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_a_key_given_twice_is_refused(tmp_path):
    p = tmp_path / "dup.yaml"
    p.write_text(f"name: a\nbase: {ROOT / 'params' / 'seed.yaml'}\ntrials: 2\ntrials: 3\n")
    with pytest.raises(SpecError, match=r"key 'trials' appears twice in one mapping \(line 4"):
        load(p)


@pytest.mark.parametrize(("number", "meant"), [(6.1, "6.1"), (5.1, "5.10")])
def test_an_unquoted_kernel_version_says_so(number, meant):
    want = rf'machine.kernel: {number} is a number .*kernel: "{meant}"'
    with pytest.raises(SpecError, match=want):
        load(ROOT / "params" / "seed.yaml", {"machine.kernel": number})


def test_an_empty_or_truncated_trial_file_is_run_again(serial_run, tmp_path):
    """A result file cut short (or left empty) does not count as done: the next run redoes
    that trial and gives the same bytes as before."""
    import shutil

    d = tmp_path / serial_run.dir.name
    shutil.copytree(serial_run.dir, d)
    first, second = sorted((d / "trials").glob("p*-t*.parquet"))[:2]
    whole = first.read_bytes()
    first.write_bytes(whole[: len(whole) // 2])
    second.write_bytes(b"")
    tasks, _ = plan(tiny(), d)
    assert sum(len(g) for g in tasks) == 2
    run = run_sweep(tiny(), out=tmp_path, workers=1, progress=False)
    assert run.ran == 2
    assert files(d) == files(serial_run.dir)


def test_dry_run_lists_what_would_run_and_runs_nothing(serial_run, tmp_path, capsys):
    from allockit.cli import main

    spec_file = write_spec(tmp_path)
    out = tmp_path / "out"
    assert main(["sweep", str(spec_file), "--out", str(out), "--dry-run"]) == 0
    text = capsys.readouterr().out
    assert "2 points x 2 trials" in text and "4 trials to run, 0 on disk" in text
    assert not out.exists()
    # on the finished sweep: nothing to run
    assert main(["sweep", str(spec_file), "--out", str(serial_run.dir.parent), "--dry-run"]) == 0
    assert "0 trials to run, 4 on disk" in capsys.readouterr().out


def test_more_trials_reuse_the_trials_done(serial_run, tmp_path):
    """The trial count is not part of a trial's identity: raising it runs only the new
    trials, and the results then hold exactly the count asked for."""
    import shutil

    d = tmp_path / serial_run.dir.name
    shutil.copytree(serial_run.dir, d)
    more = from_mapping({**yaml.safe_load((d / "spec.yaml").read_text()), "trials": 3},
                        origin="more")
    assert more.hash == tiny().hash
    run = run_sweep(more, out=tmp_path, workers=1, progress=False)
    assert run.ran == 2 and run.total == 6  # one new trial per point
    assert {k: v for k, v in files(d).items() if k in files(serial_run.dir)} == \
        files(serial_run.dir)
    assert len(load_results(d).groupby(["point", "trial"])) == 6
    fewer = run_sweep(tiny(), out=tmp_path, workers=1, progress=False)
    assert fewer.ran == 0 and len(load_results(d).groupby(["point", "trial"])) == 4


def test_cli_report_summary_point_and_default_baseline(serial_run, capsys):
    from allockit.cli import main

    spec_order = list(yaml.safe_load((serial_run.dir / "spec.yaml").read_text())["strategies"])
    assert main(["report", str(serial_run.dir)]) == 0
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if spec_order[0] in line)
    assert header.split()[0] == spec_order[0]  # the spec's first strategy is the baseline
    assert main(["report", str(serial_run.dir), "--summary"]) == 0
    out = capsys.readouterr().out
    assert "nr_elem=16" in out and "nr_elem=32" in out and "[1] " + spec_order[0] in out
    assert max(map(len, out.splitlines())) <= 80
    assert main(["report", str(serial_run.dir), "--point", "nr_elem=32"]) == 0
    out = capsys.readouterr().out
    assert "nr_elem=16" not in out.split("To reproduce:")[0]
    assert main(["report", str(serial_run.dir), "--point", "nr_elem=99"]) == 2
    assert "--point: 'nr_elem=99' is not a point of this sweep" in capsys.readouterr().err


def test_compile_once_only_on_a_cold_cache(serial_run, tmp_path, monkeypatch):
    """On a warm cache nothing is compiled up front; a cache directory without compiled code
    counts as cold."""
    import numba

    from allockit.experiment import sweep

    assert not sweep.numba_cache_is_cold()  # serial_run has compiled and cached the code
    assert sweep.compile_once(tiny().trial_spec(tiny().points()[0])) == 0.0
    monkeypatch.setattr(numba.config, "CACHE_DIR", str(tmp_path / "empty"))
    assert sweep.numba_cache_is_cold()


def test_unreachable_scheduler_is_one_line_within_seconds(tmp_path, capsys):
    pytest.importorskip("distributed")
    from allockit.cli import main

    spec_file = write_spec(tmp_path)
    t0 = time.monotonic()
    rc = main(["sweep", str(spec_file), "--out", str(tmp_path / "out"), "--quiet",
               "--scheduler", "tcp://127.0.0.1:9"])
    assert rc == 2 and time.monotonic() - t0 < 30
    err = capsys.readouterr().err
    assert "--scheduler: 'tcp://127.0.0.1:9' cannot be reached" in err
    assert len(err.strip().splitlines()) == 1


def test_a_huge_grid_says_its_size_and_checks_each_value(capsys):
    """120,400 points: the load says how many, checks the base and each axis value, and does
    not spend minutes checking every combination first."""
    big = tiny(axes={"nr_elem": {"from": 1, "to": 400, "step": 1},
                     "workload.jobs": {"from": 0, "to": 300, "step": 1}})
    assert big.size() == 120_400
    assert "120,400 points x 2 trials; checking the base and each axis value now" in \
        capsys.readouterr().err
    with pytest.raises(SpecError, match="at point nr_elem=4801: nr_elem: 4801 x 2"):
        tiny(axes={"nr_elem": {"from": 4801, "to": 5000, "step": 1},
                   "workload.jobs": {"from": 0, "to": 600, "step": 1}})


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (from /proc)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc to find the workers")
def test_killing_the_coordinator_leaves_no_workers(tmp_path):
    """SIGKILL to the coordinating process alone: its pool workers end with it (they would
    otherwise go on computing trials nobody will write)."""
    spec_file = write_spec(tmp_path, trials=6)
    cmd = [sys.executable, "-m", "allockit.cli", "sweep", str(spec_file), "--out",
           str(tmp_path / "out"), "--workers", "2", "--quiet"]
    proc = subprocess.Popen(cmd, cwd=ROOT, start_new_session=True)
    deadline = time.time() + 120
    workers: list[int] = []
    while time.time() < deadline and len(workers) < 2:
        workers = [c for c in _children(proc.pid) if c != proc.pid]
        time.sleep(0.1)
    assert len(workers) >= 2, "the pool did not start"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 30
    alive = workers
    while time.time() < deadline and alive:
        alive = [w for w in workers if Path(f"/proc/{w}").exists()
                 and "Z" not in Path(f"/proc/{w}/stat").read_text().rsplit(")", 1)[1][:3]]
        time.sleep(0.2)
    if alive:  # do not leave them behind either way
        for w in alive:
            os.kill(w, signal.SIGKILL)
    assert not alive, f"workers {alive} outlived the coordinator"


def test_a_pool_reports_each_trial_when_it_is_done(tmp_path, monkeypatch):
    """The process pool hands the coordinator each trial as its worker finishes it (so the
    progress line moves per trial and an interrupted group keeps its finished trials), not
    the whole group at its end. Workers are forked, so they run the stand-in below: a group of
    three trials, one a second."""
    from allockit.experiment import sweep

    def slow_trials(tasks):
        for task in tasks:
            time.sleep(1.0)
            yield task, b"PAR1", {"total_s": 1.0}

    monkeypatch.setattr(sweep, "iter_tasks", slow_trials)
    spec = tiny(axes={"nr_elem": [16, 24, 32]}, trials=1)
    d = sweep.sweep_dir(spec, tmp_path)
    (d / "trials").mkdir(parents=True)
    groups, _ = plan(spec, d)
    assert [len(g) for g in groups] == [3]
    t0 = time.perf_counter()
    arrivals = []
    for results in sweep._process_pool(groups, 1, d):
        arrivals += [time.perf_counter() - t0] * len(results)
        assert all(data is None for _, data, _ in results)  # written by the worker
    assert len(arrivals) == 3 and len(list((d / "trials").glob("*.parquet"))) == 3
    assert arrivals[0] < arrivals[2] - 1.5, arrivals  # the first came two trials early


def test_ctrl_c_keeps_the_finished_trials_and_says_so(serial_run, tmp_path):
    """SIGINT (Ctrl-C) to a running sweep: one line naming what was kept, exit 130; every
    finished trial is on disk, none half-written, and the same command finishes the rest."""
    spec_file = write_spec(tmp_path)
    out = tmp_path / "out"
    trials_dir = out / f"tiny-{tiny().hash}" / "trials"
    proc = _sweep_until_a_trial(spec_file, out, 1, trials_dir)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    kept = files(trials_dir.parent)
    assert proc.returncode == 130, err
    assert 1 <= len(kept) < 4, "the interrupt came too late to test"
    last = err.strip().splitlines()[-1]
    assert re.fullmatch(rf"allockit sweep: interrupted; {len(kept)} of 4 trials kept in \S+; "
                        "the same command resumes", last), last  # fmt: skip
    assert not list(trials_dir.glob(".*tmp*"))
    run = run_sweep(load(spec_file), out=out, workers=1, progress=False)
    assert run.ran == 4 - len(kept)
    assert files(trials_dir.parent) == files(serial_run.dir)


def test_sigint_to_the_coordinator_keeps_the_running_groups(tmp_path):
    """SIGINT to the coordinating process alone (its pool workers go on): the groups already
    handed to the workers finish and are written before it exits; the rest are not started."""
    changes = dict(axes={"nr_elem": [16, 24, 32]}, trials=8)
    spec_file = write_spec(tmp_path, **changes)
    out = tmp_path / "out"
    trials_dir = out / f"tiny-{tiny(**changes).hash}" / "trials"
    proc = _sweep_until_a_trial(spec_file, out, 2, trials_dir)
    os.kill(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=240)
    assert proc.returncode == 130, err
    kept = sorted(p.name for p in trials_dir.glob("*.parquet"))
    per_trial = Counter(re.search(r"-t(\d{4})\.parquet$", n).group(1) for n in kept)
    assert set(per_trial.values()) == {3}, kept  # whole groups: each running one finished
    assert 1 <= len(per_trial) < 8, kept  # those already running when the signal came
    assert not list(trials_dir.glob(".*tmp*"))
