"""How the guest is started: the accelerator, the QEMU command line and the guest's settings.

``pick_accel`` chooses TCG or KVM (KVM only with real hardware virtualisation);
``qemu_command`` is the command line of one boot; ``guest_conf`` is what the guest's init
script reads (``/lab.conf``: the workload's settings; ``/lab.exps``: the module command of each
experiment, in order; ``allockit.lab.guest.write_conf`` writes both into the initramfs).
"""

from __future__ import annotations

import os
from pathlib import Path

from .experiments import EXPERIMENTS
from .spec import LabSpec, mib


def host_has_kvm() -> bool:
    """Real hardware virtualisation: vmx/svm in /proc/cpuinfo and a usable /dev/kvm. (A host
    without vmx/svm may still have a /dev/kvm, e.g. a software nested-virtualisation device;
    a normal guest kernel hangs at "Decompressing Linux..." there, so it is not used.)"""
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
    ram, cma = mib(spec.ram, "ram"), mib(spec.cma_size, "cma_size")
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
    """The guest's settings (``LAB_*`` variables) and (label, module command) per experiment."""
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
