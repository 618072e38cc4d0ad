"""The steps of ``allockit lab run`` after the guest has run (allockit/lab/runner.py: outcome,
problems_of, run_meta, store), on a console log captured from a real idle lab boot; no build,
no QEMU."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from allockit.lab import runner
from allockit.lab.kernel import KernelBuild
from allockit.lab.spec import LabSpec

FIX = Path(__file__).resolve().parent / "fixtures" / "lab"
IDLE = (FIX / "5.10-idle.console.log").read_text()
HOST = {"int_ns": 105478778, "memcpy_ns": 5031163, "memset_ns": 1364207, "fault_ns": 15787350}
SPEC = LabSpec(workload="idle", trials=1)


@pytest.fixture
def prep(tmp_path, monkeypatch):
    kdir = tmp_path / "kernel"
    kdir.mkdir()
    (kdir / "kernelrelease").write_text("5.10.262-allockit-lab\n")
    kb = KernelBuild("5.10", "5.10.262-1", "5.10.262-1-0123456789ab", kdir)
    # after the boot the host calibrates again: a quieter host, a smaller int figure
    after = dict(HOST, int_ns=HOST["int_ns"] - 1000)
    monkeypatch.setattr(runner, "host_calibration", lambda exe: after)
    return runner.Prepared("tcg", kb, None, tmp_path, tmp_path / "rd", tmp_path / "cal", HOST)


def test_outcome_and_store_of_a_clean_run(prep, tmp_path):
    guest = runner.Guest(returncode=0, timed_out=False, wall_s=12.0, qemu_out="")
    parsed, problems, meta, rows = runner.outcome(SPEC, prep, guest, IDLE, "20260101T000000Z")
    assert problems == [] and len(rows) == 7
    assert meta["run_id"] == "5.10-idle-20260101T000000Z" and meta["run_complete"]
    assert meta["kernel_release"] == "5.10.262-allockit-lab" and meta["accel"] == "tcg"
    assert meta["host_int_ns"] == HOST["int_ns"] - 1000  # the minimum of before and after
    assert meta["guest_fault_ns"] == 135527340 and meta["warm_reached"] is True
    out = tmp_path / "out"
    console, parquet = runner.store(SPEC, out, meta["run_id"], IDLE, rows, bool(parsed.crash))
    assert console == out / "console" / "5.10-idle-20260101T000000Z.log.gz"
    df = pd.read_parquet(parquet)
    assert len(df) == 7 and set(df["run_id"]) == {meta["run_id"]}
    assert df.attrs["spec"]["workload"] == "idle"


def test_problems_name_timeout_first_and_qemu_failures(prep, tmp_path):
    cut = IDLE[: IDLE.index("ALLOCKIT done")]  # the guest never finished
    killed = runner.Guest(returncode=-9, timed_out=True, wall_s=99.0, qemu_out="")
    _, problems, meta, rows = runner.outcome(SPEC, prep, killed, cut, "20260101T000000Z")
    assert problems[0] == f"timeout: guest killed after {SPEC.timeout()} s"
    assert "guest did not finish" in problems[1] and len(problems) == 2
    assert not meta["run_complete"] and meta["run_problems"] == "; ".join(problems)
    assert len(rows) == 7  # the finished trials are kept
    failed = runner.Guest(returncode=1, timed_out=False, wall_s=1.0, qemu_out="qemu: no kvm\n")
    _, problems, _, _ = runner.outcome(SPEC, prep, failed, IDLE, "20260101T000000Z")
    assert problems == ["qemu exited 1: qemu: no kvm"]


def test_a_crashed_guest_writes_its_console_but_no_parquet(prep, tmp_path):
    crashed = IDLE + "[    7.1] Kernel panic - not syncing: Fatal exception\n"
    guest = runner.Guest(returncode=0, timed_out=False, wall_s=8.0, qemu_out="")
    parsed, problems, meta, rows = runner.outcome(SPEC, prep, guest, crashed, "20260101T000000Z")
    assert problems[0].startswith("guest crash: ") and rows
    console, parquet = runner.store(SPEC, tmp_path / "o", meta["run_id"], crashed, rows,
                                    bool(parsed.crash))  # fmt: skip
    assert console.exists() and parquet is None


PROTOCOL = ("warm_pct", "warm_timeout_s", "gap_s", "refill_timeout_s", "write_mbps", "hold_ms")


def test_defaults_are_the_recorded_runs_protocol():
    """A new run with the defaults waits, gaps and refills as every recorded run did."""
    from allockit.lab.spec import DATA_DIR

    d = LabSpec()
    files = sorted(DATA_DIR.glob("*.parquet"))
    assert files
    for f in files:
        spec = pd.read_parquet(f).attrs["spec"]
        assert {k: int(spec[k]) for k in PROTOCOL} == {k: getattr(d, k) for k in PROTOCOL}, f


def test_lab_run_help_shows_the_defaults(capsys):
    from allockit.cli import main

    with pytest.raises(SystemExit):
        main(["lab", "run", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "(default: 40)" in out and "(default: 1536M)" in out and "(default: 5.10)" in out


def test_one_short_progress_line_per_result():
    """lab run prints one line per result (trial, experiment, got, raw latency, busy
    retries), the warm-up's outcome and guest errors; the ~1,900-character lines stay in the
    console log."""
    fix = Path(__file__).resolve().parent / "fixtures" / "lab"
    text = (fix / "5.10-kbuild-j2-short.console.log").read_text()
    shown = [s for s in map(runner.progress_line, text.splitlines()) if s is not None]
    results = [line for line in text.splitlines() if "ALLOCKIT result " in line]
    assert len(shown) == len(results) + 1  # and the warm-up
    assert shown[0] == "  warm-up: reached after 158 s, CmaFree 50700 kB"
    assert shown[1] == "  trial 0 cma_single: 0/4800 in 9,817 ms (TCG), 201 busy retries"
    assert max(map(len, shown)) < 100
    assert runner.progress_line("ALLOCKIT error stage=run trial=1") == (
        "  guest error: stage=run trial=1")
    assert runner.progress_line("[ 12.3] random kernel message") is None


def test_disk_build_output_goes_to_its_log(tmp_path, monkeypatch):
    """debootstrap's and make-disk's output go to disk-kbuild.log beside the image, not to the
    terminal; a failure names the script and the log and quotes its end."""
    import subprocess

    from allockit.lab import disk

    monkeypatch.setattr(disk, "cache_root", lambda: tmp_path / "kernels")
    monkeypatch.setattr(disk, "source_tarball", lambda v: tmp_path / "linux-source.tar.xz")
    calls = []

    def fake_run(cmd, stdout=None, stderr=None, check=False):
        calls.append(cmd)
        stdout.write("I: Retrieving InRelease\n" * 700)
        return subprocess.CompletedProcess(cmd, 1 if cmd[-1].endswith(".img") else 0)

    monkeypatch.setattr(disk.subprocess, "run", fake_run)
    said = []
    with pytest.raises(RuntimeError, match=r"make-disk.sh failed \(exit 1\); log .*disk-kbuild"):
        disk.ensure_disk(log=said.append)
    assert [Path(c[6]).name for c in calls] == ["make-rootfs.sh", "make-disk.sh"]
    assert all(len(s) < 200 for s in said) and len(said) == 2  # two lines, not 1,400
    assert (tmp_path / "disk-kbuild.log").read_text().count("Retrieving") == 1400
