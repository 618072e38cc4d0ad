"""What a lab run depends on: :class:`LabSpec`, its validation, the workloads, where runs go.

``LabSpec.check()`` validates every field before any build or boot and raises a ValueError
naming the field, the value and what is allowed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..mm.constants import PAGE_SIZE
from ..mm.units import parse_size_pages
from ..paths import DATA_DIR as _DATA_ROOT
from ..paths import LAB_DIR
from .experiments import EXPERIMENTS
from .kernel import check_kernel

# where `allockit lab run` records its runs (one Parquet per boot, console logs beside them)
DATA_DIR = _DATA_ROOT / "lab"

WORKLOADS = {
    "kbuild": "make -jN vmlinux of a defconfig 5.10 tree in a chroot on the virtio disk, plus a "
    "loop re-reading a file set larger than RAM",
    "synthetic": "re-read loop + a dd writer dirtying 32 MiB files + N anon churn processes "
    "(lab/guest/churn.c), no compiler",
    "idle": "no workload: the CMA area is free",
}


def mib(value: str | int, field_name: str) -> int:
    """A size (``500M``, pages as an int) in whole MiB; a ValueError naming ``field_name``."""
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
    # the protocol of the recorded runs in data/lab (each file's attrs["spec"])
    warm_pct: int = 10  # warm/refilled when CmaFree <= warm_pct % of CmaTotal
    warm_timeout_s: int = 300
    gap_s: int = 3
    refill_timeout_s: int = 40
    churn_mb: int = 128
    hold_ms: int = 3000
    write_mbps: int = 64  # throttle on the virtio disk: pages stay in writeback for real times
    timeout_s: int | None = None  # None: derived from the above
    accel: str = "auto"

    def check(self) -> None:
        check_kernel(self.kernel)
        ram, cma = mib(self.ram, "ram"), mib(self.cma_size, "cma_size")
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
