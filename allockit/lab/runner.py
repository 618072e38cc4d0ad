"""``allockit lab run``: the strategies a real kernel can run, on a real kernel under QEMU.

One run = one guest boot: calibrate, load the measuring module (``lab/module``), start the
workload, warm up until the CMA area holds the workload's pages, then ``trials`` rounds of every
experiment (rotated, refill gap before each), one Parquet row per result with the fields of
``allockit run --json`` where they are meaningful for a real kernel, the guest's
/proc/meminfo before the trial, the busy-retry counts and the time-distortion factors.

This module is the orchestration; :func:`run_lab` runs its steps in order: :func:`prepare`
(kernel, disk, initramfs, host calibration), :func:`boot` (QEMU, watched until it ends or
times out), :func:`outcome` (the console parsed, the run's problems and its metadata) and
:func:`store` (console log, Parquet). The parts live beside it: ``spec`` (:class:`LabSpec`),
``experiments`` (the table, from ``params/seed.yaml``), ``qemu`` (command line, guest
settings), ``rows`` (calibration factors, result rows), ``kernel`` and ``disk`` (the cached
builds), ``guest`` (initramfs, console parsing).
"""

from __future__ import annotations

import datetime as _dt
import gzip
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .disk import ensure_disk
from .guest import ConsoleLog, build_initramfs, build_static, parse_console
from .kernel import KernelBuild, ensure_kernel
from .qemu import guest_conf, pick_accel, qemu_command
from .rows import CALIB_FIELDS, host_calibration, rows_from_log
from .spec import DATA_DIR, LabSpec


@dataclass
class RunResult:
    rows: list[dict[str, Any]]
    problems: list[str]
    console: Path
    parquet: Path | None
    boot_s: float | None
    wall_s: float


@dataclass
class Prepared:
    """What a boot needs, built or found in the cache (the first step of a run)."""

    accel: str
    kb: KernelBuild
    disk: Path | None
    work: Path  # a fresh temporary directory, removed at the end of the run
    initrd: Path
    calibrate: Path  # the calibration program, built static for host and guest
    host_cal: dict[str, int]  # host calibration before the boot


@dataclass
class Guest:
    """How the QEMU process ended."""

    returncode: int | None
    timed_out: bool
    wall_s: float
    qemu_out: str


def prepare(spec: LabSpec, log=print) -> Prepared:
    """Check the spec, pick the accelerator, build (or find) kernel, disk and initramfs, and
    calibrate the host."""
    spec.check()
    accel = pick_accel(spec.accel)
    kb = ensure_kernel(spec.kernel, jobs=2, log=log)
    disk = ensure_disk(log) if spec.workload != "idle" else None
    work = Path(tempfile.mkdtemp(prefix="allockit-lab-"))
    conf, exps = guest_conf(spec)
    initrd = build_initramfs(kb, work, conf, exps)
    calibrate = build_static("calibrate", work)
    return Prepared(accel, kb, disk, work, initrd, calibrate, host_calibration(calibrate))


def progress_line(line: str) -> str | None:
    """One short line for the terminal from a console line, or None: per result the trial,
    the experiment, what it got, its raw latency and its busy retries; the warm-up's outcome;
    a guest error as it is. The full lines stay in the console log."""
    events = parse_console(line).events
    if events["error"]:
        return "  guest error: " + " ".join(f"{k}={v}" for k, v in events["error"][0].items())
    if events["warm"]:
        f = events["warm"][0]
        return (f"  warm-up: {'reached' if f.get('reached') else 'NOT reached'} after "
                f"{f.get('waited_s')} s, CmaFree {f.get('CmaFree_kb', '?')} kB")  # fmt: skip
    f = events["result"][0] if events["result"] else {}
    if not {"trial", "label", "got", "nr", "latency_ns", "acr_ebusy"} <= set(f):
        return None
    return (f"  trial {f['trial']} {f['label']}: {f['got']}/{f['nr']} in "
            f"{f['latency_ns'] / 1e6:,.0f} ms (TCG), {f['acr_ebusy']} busy retries")


def boot(spec: LabSpec, prep: Prepared, console: Path, log=print) -> Guest:
    """Run the guest under ``nice -n 19`` until it powers off, printing one short line per
    result, the warm-up and guest errors (:func:`progress_line`); kill it (by its pid) when
    ``spec.timeout()`` passes."""
    cmd = qemu_command(spec, prep.accel, prep.kb.bzimage, prep.initrd, prep.disk, console)
    log(f"lab: booting {prep.kb.release} ({prep.accel}), timeout {spec.timeout()} s; "
        f"console {console}")  # fmt: skip
    t0 = time.monotonic()
    proc = subprocess.Popen(["nice", "-n", "19", *cmd], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    timed_out = False
    seen = 0
    while proc.poll() is None:
        if time.monotonic() - t0 > spec.timeout():
            os.kill(proc.pid, signal.SIGKILL)  # this QEMU, by its pid
            proc.wait()
            timed_out = True
            break
        time.sleep(2)
        if console.exists():
            text = console.read_text(errors="replace")
            for line in text.splitlines()[seen:]:
                short = progress_line(line)
                if short is not None:
                    log(short)
            seen = len(text.splitlines())
    wall = time.monotonic() - t0
    qemu_out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
    return Guest(proc.returncode, timed_out, wall, qemu_out)


def problems_of(parsed: ConsoleLog, guest: Guest, spec: LabSpec) -> list[str]:
    """The guest's own problems (crash, error, no 'done' line), a timeout first, then a QEMU
    failure."""
    problems = parsed.problems()
    if guest.timed_out:
        problems.insert(0, f"timeout: guest killed after {spec.timeout()} s")
    if guest.returncode not in (0, None) and not guest.timed_out:
        problems.append(f"qemu exited {guest.returncode}: {guest.qemu_out.strip()[-500:]}")
    return problems


def run_meta(spec: LabSpec, prep: Prepared, parsed: ConsoleLog, problems: list[str],
             host_cal: dict[str, int], stamp: str) -> dict[str, Any]:  # fmt: skip
    """The columns every row of the run shares: setup, kernel, run id and outcome, warm-up,
    calibration figures."""
    boot_ev, warm = parsed.events["boot"], parsed.events["warm"]
    meta = {
        "kernel": spec.kernel,
        "kernel_release": boot_ev[0]["kernel"] if boot_ev else prep.kb.release,
        "source_version": prep.kb.source_version,
        "kernel_key": prep.kb.key,
        "workload": spec.workload_label(),
        "jobs": spec.jobs,
        "ram": spec.ram,
        "cma_size": spec.cma_size,
        "cpus": spec.cpus,
        "accel": prep.accel,
        "run_id": f"{spec.kernel}-{spec.workload_label()}-{stamp}",
        "run_complete": not problems,
        "run_problems": "; ".join(problems),
        "warm_reached": bool(warm[0]["reached"]) if warm else False,
        "warm_waited_s": warm[0]["waited_s"] if warm else None,
    }
    meta["workload_objs"] = parsed.events["done"][0].get("objs") if parsed.done else None
    meta.update({f"host_{k}": v for k, v in host_cal.items()})
    if parsed.events["calib"]:
        meta.update({f"guest_{k}": int(parsed.events["calib"][0][k]) for k in CALIB_FIELDS})
    return meta


def outcome(spec: LabSpec, prep: Prepared, guest: Guest, text: str, stamp: str
            ) -> tuple[ConsoleLog, list[str], dict[str, Any], list[dict[str, Any]]]:  # fmt: skip
    """Parse the console; the run's problems, metadata and rows. The host is calibrated again
    (it may have been busier or quieter by now); each figure is the minimum of both."""
    after = host_calibration(prep.calibrate)
    host_cal = {k: min(v, after[k]) for k, v in prep.host_cal.items()}
    parsed = parse_console(text)
    problems = problems_of(parsed, guest, spec)
    meta = run_meta(spec, prep, parsed, problems, host_cal, stamp)
    rows = rows_from_log(parsed, spec, host_cal, meta) if parsed.events["calib"] else []
    return parsed, problems, meta, rows


def store(spec: LabSpec, out_dir: Path, run_id: str, text: str, rows: list[dict[str, Any]],
          crashed: bool) -> tuple[Path, Path | None]:  # fmt: skip
    """Write ``out_dir/console/<run_id>.log.gz`` always and ``out_dir/<run_id>.parquet`` when
    there are rows and the guest did not crash; return both paths (the Parquet's or None)."""
    import pandas as pd

    out_dir.mkdir(parents=True, exist_ok=True)
    logs = out_dir / "console"
    logs.mkdir(exist_ok=True)
    console_gz = logs / f"{run_id}.log.gz"
    with gzip.open(console_gz, "wt") as fh:
        fh.write(text)
    parquet = None
    if rows and not crashed:
        parquet = out_dir / f"{run_id}.parquet"
        df = pd.DataFrame(rows)
        df.attrs["spec"] = {k: str(v) for k, v in asdict(spec).items()}
        df.to_parquet(parquet, index=False)
    return console_gz, parquet


def run_lab(spec: LabSpec, out_dir: Path = DATA_DIR, log=print, keep_dir: Path | None = None
            ) -> RunResult:  # fmt: skip
    """Build (if needed) and boot; parse; write ``out_dir/<kernel>-<workload>-<stamp>.parquet``.

    The guest is killed by its pid when ``spec.timeout()`` passes. A crash, a guest error or a
    missing 'done' line is returned in ``problems`` (and rows of a crashed run are not written).
    """
    prep = prepare(spec, log)
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    console = prep.work / "console.log"
    guest = boot(spec, prep, console, log)
    text = console.read_text(errors="replace") if console.exists() else ""
    parsed, problems, meta, rows = outcome(spec, prep, guest, text, stamp)
    console_gz, parquet = store(spec, out_dir, meta["run_id"], text, rows, bool(parsed.crash))
    if keep_dir is not None:
        keep_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy2(console, keep_dir / f"{meta['run_id']}.console.log")
    shutil.rmtree(prep.work, ignore_errors=True)
    boot_ev = parsed.events["boot"]
    boot_s = float(boot_ev[0]["t"]) if boot_ev else None
    return RunResult(rows, problems, console_gz, parquet, boot_s, guest.wall_s)
