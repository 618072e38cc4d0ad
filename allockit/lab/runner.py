"""``allockit lab run``: the strategies a real kernel can run, on a real kernel under QEMU.

One run = one guest boot: calibrate, load the measuring module (``lab/module``), start the
workload, warm up until the CMA area holds the workload's pages, then ``trials`` rounds of every
experiment (rotated, refill gap before each), one Parquet row per result with the fields of
``allockit run --json`` where they are meaningful for a real kernel, the guest's
/proc/meminfo before the trial, the busy-retry counts and the time-distortion factors.
"""

from __future__ import annotations

import datetime as _dt
import gzip
import os
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..mm.constants import ERRNO_NAMES, PAGE_SIZE
from ..units import parse_size_pages
from .guest import build_initramfs, build_static, parse_console
from .kernel import LAB_DIR, REPO, check_kernel, ensure_kernel

DATA_DIR = REPO / "data" / "lab"


@dataclass(frozen=True)
class Experiment:
    """One strategy as the module runs it (``cmd``, formatted with order/nr) and as the
    simulator runs it (``sim``: the strategy entry of a seed-style spec)."""

    cmd: str
    sim: dict[str, Any]
    doc: str


# Labels are the simulator's labels (params/seed.yaml) where the same strategy exists.
EXPERIMENTS: dict[str, Experiment] = {
    "cma_single_a0": Experiment(
        "cma_single {order} {nr} 0",
        {"strategy": "cma_single", "align": 0},
        "one cma_alloc of the whole size, align 0 (the CMA debugfs 'alloc' path)",
    ),
    "cma_single": Experiment(
        "cma_single {order} {nr} 8",
        {"strategy": "cma_single", "align": 8},
        "one cma_alloc of the whole size, align 8 (dma_alloc_contiguous, CMA_ALIGNMENT)",
    ),
    "cma_chunked": Experiment(
        "cma_chunked {order} {nr} 10",
        {"strategy": "cma_chunked", "chunk_order": 10},
        "cma_alloc of 4 MiB chunks, align 10, split (David Hildenbrand's suggestion)",
    ),
    "cma_chunked_o9": Experiment(
        "cma_chunked {order} {nr} 9",
        {"strategy": "cma_chunked", "chunk_order": 9},
        "cma_alloc of 2 MiB chunks, align 9 (the chunk size the Pixel 6 heap shipped)",
    ),
    "cma_many": Experiment(
        "cma_many {order} {nr}",
        {"strategy": "cma_many"},
        "nr separate cma_alloc(2^order, align order) calls",
    ),
    "buddy_compaction": Experiment(
        "buddy {order} {nr} kernel",
        {"strategy": "buddy_compaction", "gfp": "GFP_KERNEL"},
        "nr alloc_pages(GFP_KERNEL, order), stop at the first failure",
    ),
    "buddy_compaction_movable": Experiment(
        "buddy {order} {nr} movable",
        {"strategy": "buddy_compaction", "gfp": "GFP_HIGHUSER_MOVABLE|__GFP_RETRY_MAYFAIL"},
        "nr alloc_pages(GFP_HIGHUSER_MOVABLE|__GFP_RETRY_MAYFAIL, order)",
    ),
}
WORKLOADS = {
    "kbuild": "make -jN vmlinux of a defconfig 5.10 tree in a chroot on the virtio disk, plus a "
    "loop re-reading a file set larger than RAM",
    "synthetic": "re-read loop + a dd writer dirtying 32 MiB files + N anon churn processes "
    "(lab/guest/churn.c), no compiler",
    "idle": "no workload: the CMA area is free",
}
CALIB_FIELDS = ("int_ns", "memcpy_ns", "memset_ns", "fault_ns")
# result-line fields of the busy census that are not busy_*: their column names
CENSUS_RENAMES = {
    "tpi_calls": "test_pages_isolated_calls",
    "sip_calls": "start_isolate_calls",
    "sip_fail": "start_isolate_failures",
}
# The factor that 'latency_ms_corrected' divides by: first-touch page faults run the same class
# of kernel code as migration (page allocator, rmap, LRU, a 4 KiB clear/copy per page).
CORRECTION_FIELD = "fault_ns"


def _mib(value: str | int, field_name: str) -> int:
    pages = parse_size_pages(value, field_name)
    if pages <= 0 or (pages * PAGE_SIZE) % (1 << 20):
        raise ValueError(f"{field_name}: {value!r}; allowed: a whole number of MiB > 0, e.g. 500M")
    return pages * PAGE_SIZE >> 20


@dataclass
class LabSpec:
    """Everything a lab run depends on; ``check()`` validates it before any build or boot."""

    kernel: str = "5.10"
    ram: str = "1536M"
    cma_size: str = "500M"
    cpus: int = 2
    jobs: int = 2
    trials: int = 10
    order: int = 4
    nr_elem: int = 4800
    experiments: list[str] = field(default_factory=lambda: list(EXPERIMENTS))
    workload: str = "kbuild"
    seed: int = 20200814
    warm_pct: int = 10  # warm/refilled when CmaFree <= warm_pct % of CmaTotal
    warm_timeout_s: int = 900
    gap_s: int = 8
    refill_timeout_s: int = 120
    churn_mb: int = 128
    hold_ms: int = 3000
    write_mbps: int = 64  # throttle on the virtio disk: pages stay in writeback for real times
    timeout_s: int | None = None  # None: derived from the above
    accel: str = "auto"

    def check(self) -> None:
        check_kernel(self.kernel)
        ram, cma = _mib(self.ram, "ram"), _mib(self.cma_size, "cma_size")
        if cma >= ram:
            raise ValueError(f"cma_size: {self.cma_size} is not smaller than ram {self.ram}")
        for name in ("cpus", "jobs", "trials", "nr_elem", "gap_s", "refill_timeout_s",
                     "warm_timeout_s", "churn_mb", "hold_ms", "write_mbps"):  # fmt: skip
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < (0 if name == "gap_s" else 1):
                raise ValueError(f"{name}: {v!r}; allowed: an integer >= 1")
        if not 0 <= self.order <= 10:
            raise ValueError(f"order: {self.order}; allowed: 0..10")
        if (self.nr_elem << self.order) * PAGE_SIZE > cma << 20:
            raise ValueError(
                f"nr_elem: {self.nr_elem} x 2^{self.order} pages is larger than the CMA area "
                f"({self.cma_size}); allowed: nr_elem <= {(cma << 20) // PAGE_SIZE >> self.order}"
            )
        if not self.experiments:
            raise ValueError("experiments: none given; allowed: " + ", ".join(EXPERIMENTS))
        for e in self.experiments:
            if e not in EXPERIMENTS:
                raise ValueError(
                    f"experiments: {e!r} is unknown; allowed: {', '.join(EXPERIMENTS)}"
                )
        if self.workload not in WORKLOADS:
            raise ValueError(f"workload: {self.workload!r}; allowed: {', '.join(WORKLOADS)}")
        if not 1 <= self.warm_pct <= 100:
            raise ValueError(f"warm_pct: {self.warm_pct}; allowed: 1..100")
        if self.accel not in ("auto", "tcg", "kvm"):
            raise ValueError(f"accel: {self.accel!r}; allowed: auto, tcg, kvm")
        if self.timeout_s is not None and self.timeout_s < 30:
            raise ValueError(f"timeout_s: {self.timeout_s}; allowed: >= 30 seconds")
        if not (LAB_DIR / "guest" / "init").is_file():
            raise ValueError(
                f"lab files: {LAB_DIR} is missing; allowed: a source checkout installed with "
                "`make setup` or `pip install -e .` (the lab builds from lab/ beside allockit/)"
            )

    def timeout(self) -> int:
        """Wall-clock limit for the whole guest run: boot + warm-up + every trial's worst case
        (gap, refill wait, 10 min per experiment under TCG)."""
        if self.timeout_s is not None:
            return self.timeout_s
        per = self.gap_s + self.refill_timeout_s + 600
        return 300 + self.warm_timeout_s + self.trials * len(self.experiments) * per

    def workload_label(self) -> str:
        if self.workload == "idle":
            return "idle"
        return f"{self.workload}-j{self.jobs}"


def host_has_kvm() -> bool:
    """Real hardware virtualisation: vmx/svm in /proc/cpuinfo and a usable /dev/kvm. (On this
    machine class /dev/kvm is a software nested device without vmx/svm; guests hang there.)"""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    has_flag = any(
        line.startswith("flags") and ({"vmx", "svm"} & set(line.split()))
        for line in flags.splitlines()
    )
    return has_flag and os.access("/dev/kvm", os.R_OK | os.W_OK)


def pick_accel(accel: str) -> str:
    if accel == "auto":
        return "kvm" if host_has_kvm() else "tcg"
    if accel == "kvm" and not host_has_kvm():
        raise ValueError("accel: 'kvm' but the host has no vmx/svm CPU flag; allowed: tcg, auto")
    return accel


def qemu_command(spec: LabSpec, accel: str, bzimage: Path, initrd: Path, disk: Path | None,
                 console: Path) -> list[str]:  # fmt: skip
    """The QEMU command line (TCG multi-threaded with -cpu max, or KVM with -cpu host)."""
    ram, cma = _mib(spec.ram, "ram"), _mib(spec.cma_size, "cma_size")
    cmd = ["qemu-system-x86_64", "-nodefaults", "-display", "none", "-no-reboot"]
    if accel == "kvm":
        cmd += ["-accel", "kvm", "-cpu", "host"]
    else:
        cmd += ["-accel", "tcg,thread=multi", "-cpu", "max"]
    cmd += [
        "-smp",
        str(spec.cpus),
        "-m",
        f"{ram}M",
        "-kernel",
        str(bzimage),
        "-initrd",
        str(initrd),
    ]
    cmd += ["-append", f"console=ttyS0 cma={cma}M loglevel=4 panic=-1 oops=panic"]
    cmd += ["-serial", f"file:{console}", "-monitor", "none"]
    if disk is not None:
        bps = spec.write_mbps << 20
        cmd += ["-drive", f"if=none,id=d0,file={disk},format=raw,snapshot=on,"
                f"throttling.bps-write={bps}", "-device", "virtio-blk-pci,drive=d0"]  # fmt: skip
    return cmd


def guest_conf(spec: LabSpec) -> tuple[dict[str, str | int], list[tuple[str, str]]]:
    conf = {
        "LAB_WORKLOAD": spec.workload,
        "LAB_JOBS": spec.jobs,
        "LAB_TRIALS": spec.trials,
        "LAB_WARM_PCT": spec.warm_pct,
        "LAB_WARM_TIMEOUT": spec.warm_timeout_s,
        "LAB_GAP": spec.gap_s,
        "LAB_REFILL_TIMEOUT": spec.refill_timeout_s,
        "LAB_SEED": spec.seed,
        "LAB_CHURN_MB": spec.churn_mb,
        "LAB_HOLD_MS": spec.hold_ms,
    }
    exps = [
        (e, EXPERIMENTS[e].cmd.format(order=spec.order, nr=spec.nr_elem)) for e in spec.experiments
    ]
    return conf, exps


def host_calibration(exe: Path, reps: int = 3) -> dict[str, int]:
    """Run the calibration program on the host ``reps`` times; the minimum of each field."""
    best: dict[str, int] = {}
    for _ in range(reps):
        out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout
        log = parse_console(out)
        for k in CALIB_FIELDS:
            v = int(log.one("calib")[k])
            best[k] = min(best.get(k, v), v)
    return best


def calib_factors(guest: dict, host: dict) -> dict[str, float]:
    """guest/host per calibration field: how many times slower the guest is at that work."""
    out = {}
    for k in CALIB_FIELDS:
        g, h = int(guest[k]), int(host[k])
        if h <= 0 or g <= 0:
            raise ValueError(f"calibration {k}: guest {g} ns, host {h} ns; both must be > 0")
        out[f"slowdown_{k.removesuffix('_ns')}"] = g / h
    return out


def run_factors(calibs: list[dict], host: dict) -> dict[str, float]:
    """The run's slowdown factors. The guest calibrates at boot and, in newer runs, again at
    the end with the workload stopped (host load changes during a run; TCG guests feel it):
    each ``slowdown_*`` is the geometric mean over the guest's calibrations, and
    ``slowdown_fault_boot`` / ``slowdown_fault_end`` keep the two page-fault factors."""
    if not calibs:
        raise ValueError("console log: no 'calib' line; the guest did not calibrate")
    each = [calib_factors(c, host) for c in calibs]
    out = {k: float(np.exp(np.mean([np.log(f[k]) for f in each]))) for k in each[0]}
    out["slowdown_fault_boot"] = each[0]["slowdown_fault"]
    out["slowdown_fault_end"] = each[-1]["slowdown_fault"] if len(each) > 1 else None
    return out


def rows_from_log(log, spec: LabSpec, host_calib: dict, meta: dict) -> list[dict[str, Any]]:
    """One row per result line, joined with the meminfo line printed just before it."""
    factors = run_factors(log.events["calib"], host_calib)
    corr = factors["slowdown_" + CORRECTION_FIELD.removesuffix("_ns")]
    mem = {(m["trial"], m["label"]): m for m in log.events["meminfo"]}
    rows = []
    for r in log.events["result"]:
        m = mem.get((r["trial"], r["label"]))
        if m is None:
            raise ValueError(f"console log: result {r['label']} trial {r['trial']} has no meminfo")
        is_cma = str(r["exp"]).startswith("cma")
        lat_ms = r["latency_ns"] / 1e6
        row: dict[str, Any] = {
            "strategy": r["label"],
            "trial": r["trial"],
            "seed": spec.seed,
            "got": r["got"],
            "nr_elem": r["nr"],
            "success": r["got"] >= r["nr"],
            "errno": ERRNO_NAMES.get(r["ret"], str(r["ret"])),
            "latency_ms": lat_ms,
            "latency_ms_corrected": lat_ms / corr,
            "max_call_ms": r["max_call_ns"] / 1e6,
            "calls": r["acr_calls"] if is_cma else r["calls"],
            "alloc_calls": r["calls"],
            "sim_alloc_contig_range": r["acr_calls"],
            "sim_alloc_contig_ebusy": r["acr_ebusy"],
            "sim_cma_alloc_retry": r["acr_ebusy"] if is_cma else 0,
            "acr_other_errors": r["acr_other"],
            "kretprobe_missed": r["acr_missed"],
            "tp_busy_retry": r["tp_busy_retry"] if r["tp_busy_retry"] >= 0 else None,
            "position": r["pos"],
            "order": r["order"],
            "refill_reached": bool(m["reached"]),
            "refill_waited_s": m["waited_s"],
            "guest_uptime_s": m["t"],
            "workload_cc1": m.get("cc1"),  # compiler processes running (kbuild workload)
        }
        # the busy-page census (guests from the census module on): what blocked
        # alloc_contig_range, by class, as failures and as distinct pfns (allockit/lab/census.py)
        for key, col in CENSUS_RENAMES.items():
            if key in r:
                row[col] = r[key]
        row.update({k: v for k, v in r.items() if k.startswith("busy_")})
        kbs = {k[:-3]: int(v) for k, v in m.items() if k.endswith("_kb")}
        row.update({f"meminfo_{k}_kb": v for k, v in kbs.items()})
        # the simulator's warm_* summary (pages), from /proc/meminfo
        row.update({
            "warm_free_pages": kbs.get("MemFree", 0) // 4,
            "warm_free_cma_pages": kbs.get("CmaFree", 0) // 4,
            "warm_anon_pages": kbs.get("AnonPages", 0) // 4,
            "warm_file_pages": (kbs.get("Active_file", 0) + kbs.get("Inactive_file", 0)) // 4,
            "warm_dirty_pages": kbs.get("Dirty", 0) // 4,
            "warm_writeback_pages": kbs.get("Writeback", 0) // 4,
            "warm_cma_in_use_pages": (kbs.get("CmaTotal", 0) - kbs.get("CmaFree", 0)) // 4,
        })  # fmt: skip
        row.update(factors)
        row.update(meta)
        rows.append(row)
    return rows


def ensure_disk(log=print) -> Path:
    """The workload disk (``lab/guest/make-rootfs.sh`` + ``make-disk.sh``), built once."""
    from .kernel import cache_root, source_tarball

    base = cache_root().parent
    disk = base / "disk-kbuild.img"
    if disk.exists():
        return disk
    rootfs = base / "rootfs"
    guest = REPO / "lab" / "guest"
    nice = ["nice", "-n", "19", "ionice", "-c3", "sh"]
    if not (rootfs / "root" / ".allockit-rootfs-done").exists():
        log("lab: debootstrap of the guest's build root (about 2 min) ...")
        subprocess.run(nice + [str(guest / "make-rootfs.sh"), str(rootfs)], check=True)
    log("lab: making the workload disk (about 1 min) ...")
    subprocess.run(
        nice
        + [
            str(guest / "make-disk.sh"),
            str(rootfs / "root"),
            str(source_tarball("5.10")),
            "1024",
            str(disk),
        ],  # fmt: skip
        check=True,
    )
    return disk


@dataclass
class RunResult:
    rows: list[dict[str, Any]]
    problems: list[str]
    console: Path
    parquet: Path | None
    boot_s: float | None
    wall_s: float


def run_lab(spec: LabSpec, out_dir: Path = DATA_DIR, log=print, keep_dir: Path | None = None
            ) -> RunResult:  # fmt: skip
    """Build (if needed) and boot; parse; write ``out_dir/<kernel>-<workload>-<stamp>.parquet``.

    The guest is killed by its pid when ``spec.timeout()`` passes. A crash, a guest error or a
    missing 'done' line is returned in ``problems`` (and rows of a crashed run are not written).
    """
    import pandas as pd

    spec.check()
    accel = pick_accel(spec.accel)
    kb = ensure_kernel(spec.kernel, jobs=2, log=log)
    disk = ensure_disk(log) if spec.workload != "idle" else None
    work = Path(tempfile.mkdtemp(prefix="allockit-lab-"))
    conf, exps = guest_conf(spec)
    initrd = build_initramfs(kb, work, conf, exps)
    calibrate = build_static("calibrate", work)
    host_cal = host_calibration(calibrate)
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    console = work / "console.log"
    cmd = qemu_command(spec, accel, kb.bzimage, initrd, disk, console)
    log(f"lab: booting {kb.release} ({accel}), timeout {spec.timeout()} s; console {console}")
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
                if "ALLOCKIT " in line and ("result" in line or "warm" in line or "error" in line):
                    log("  " + line[line.find("ALLOCKIT ") :].strip())
            seen = len(text.splitlines())
    wall = time.monotonic() - t0
    after = host_calibration(calibrate)  # the host may have been busier or quieter by now
    host_cal = {k: min(v, after[k]) for k, v in host_cal.items()}
    qemu_out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
    text = console.read_text(errors="replace") if console.exists() else ""
    parsed = parse_console(text)
    problems = parsed.problems()
    if timed_out:
        problems.insert(0, f"timeout: guest killed after {spec.timeout()} s")
    if proc.returncode not in (0, None) and not timed_out:
        problems.append(f"qemu exited {proc.returncode}: {qemu_out.strip()[-500:]}")
    boot = parsed.events["boot"]
    meta = {
        "kernel": spec.kernel,
        "kernel_release": boot[0]["kernel"] if boot else kb.release,
        "source_version": kb.source_version,
        "kernel_key": kb.key,
        "workload": spec.workload_label(),
        "jobs": spec.jobs,
        "ram": spec.ram,
        "cma_size": spec.cma_size,
        "cpus": spec.cpus,
        "accel": accel,
        "run_id": f"{spec.kernel}-{spec.workload_label()}-{stamp}",
        "run_complete": not problems,
        "run_problems": "; ".join(problems),
        "warm_reached": bool(parsed.events["warm"][0]["reached"])
        if parsed.events["warm"]
        else False,
        "warm_waited_s": parsed.events["warm"][0]["waited_s"] if parsed.events["warm"] else None,
    }
    meta["workload_objs"] = parsed.events["done"][0].get("objs") if parsed.done else None
    meta.update({f"host_{k}": v for k, v in host_cal.items()})
    if parsed.events["calib"]:
        meta.update({f"guest_{k}": int(parsed.events["calib"][0][k]) for k in CALIB_FIELDS})
    rows = rows_from_log(parsed, spec, host_cal, meta) if parsed.events["calib"] else []
    out_dir.mkdir(parents=True, exist_ok=True)
    logs = out_dir / "console"
    logs.mkdir(exist_ok=True)
    with gzip.open(logs / f"{meta['run_id']}.log.gz", "wt") as fh:
        fh.write(text)
    parquet = None
    if rows and not parsed.crash:
        parquet = out_dir / f"{meta['run_id']}.parquet"
        df = pd.DataFrame(rows)
        df.attrs["spec"] = {k: str(v) for k, v in asdict(spec).items()}
        df.to_parquet(parquet, index=False)
    if keep_dir is not None:
        keep_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy2(console, keep_dir / f"{meta['run_id']}.console.log")
    shutil.rmtree(work, ignore_errors=True)
    boot_s = float(boot[0]["t"]) if boot else None
    return RunResult(rows, problems, logs / f"{meta['run_id']}.log.gz", parquet, boot_s, wall)


def summarize(rows: list[dict[str, Any]]) -> str:
    """A table of the run: per experiment, successes, got and raw/corrected median latency."""
    by: dict[str, list[dict]] = {}
    for r in rows:
        by.setdefault(r["strategy"], []).append(r)
    lines = [f"{'experiment':26s} {'ok':>6s} {'got med':>8s} {'lat ms med raw':>15s} "
             f"{'corrected':>10s} {'busy med':>9s}"]  # fmt: skip
    for name, rs in by.items():
        n = len(rs)
        ok = sum(r["success"] for r in rs)

        def med(key, rs=rs):
            return statistics.median(r[key] for r in rs)

        lines.append(
            f"{name:26s} {ok:>3d}/{n:<2d} {med('got'):8.0f} {med('latency_ms'):15.1f} "
            f"{med('latency_ms_corrected'):10.2f} {med('sim_cma_alloc_retry'):9.0f}"
        )
    return "\n".join(lines)
