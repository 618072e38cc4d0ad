"""Machine configuration: validated before any array is built.

Every field is something a kernel developer sets on a real machine (RAM, ``cma=``, CPUs,
``CONFIG_HUGETLB_PAGE`` through pageblock_order, THP, sysctls). Invalid values raise
``ConfigError`` (a ``ValueError``) naming the field, the value and what is allowed.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from .constants import KERNEL_VERSIONS, MAX_ORDER, MAX_ORDER_NR_PAGES
from .units import format_pages, parse_size_pages


class ConfigError(ValueError):
    """A parameter is invalid; the message names the field, the value and what is allowed."""


def raise_config_error(exc: ValidationError, prefix: str) -> None:
    """Turn pydantic's error list into one ``ConfigError`` with ``prefix.field: message``."""
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        field = f"{prefix}.{loc}" if loc else prefix
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        if msg.startswith(f"{prefix}."):  # our own validators already name field and value
            lines.append(msg)
        else:
            lines.append(f"{field}: {msg} (got {err.get('input')!r})")
    raise ConfigError("; ".join(lines)) from None


class MachineConfig(BaseModel):
    """One simulated machine (one zone).

    Sizes accept page counts or strings such as ``"1536M"``; after validation they are page
    counts. Defaults are the seed's machine where the seed says, else marked estimates.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    ram: int = 393216  # 1.5 GiB (seed S1)
    cma_size: int = 128000  # 500 MiB (seed S1)
    # "top": highest 4 MiB-aligned place (memblock allocates top-down, as x86 cma= does);
    # "bottom": right above the boot-reserved pages; or an explicit, 4 MiB-aligned pfn.
    cma_base: Literal["top", "bottom"] | int = "top"
    cma_order_per_bit: int = 0
    nr_cpus: int = 4  # estimate: the seed does not say
    pageblock_order: Literal[9, 10] = 9  # 9 with CONFIG_HUGETLB_PAGE, 10 without
    kernel: Literal["5.9", "5.10", "6.1"] = "5.9"
    # Boot-reserved memory besides the memmap (kernel image, initrd, page tables, ...).
    kernel_reserved: int = 8192  # 32 MiB: estimate
    # The memmap (struct page array) takes 64 bytes per page, reserved at boot.
    memmap_bytes_per_page: int = 64
    # Zone the modelled memory stands for; "auto": DMA32 up to 4 GiB, Normal above (x86-64).
    zone: Literal["auto", "DMA32", "Normal"] = "auto"
    transparent_hugepage: bool = True  # estimate: x86-64 defconfig enables THP
    swap: bool = False  # estimate (seed silent): without swap, reclaim takes file pages only
    watermark_scale_factor: int = 10
    watermark_boost_factor: int = 15000
    min_free_kbytes: int | None = None  # None: computed as the kernel does at boot
    # sysctl vm.compaction_proactiveness: the kernel's default (mm/compaction.c, v5.9+)
    compaction_proactiveness: int = 20

    @field_validator("ram", "cma_size", "kernel_reserved", mode="before")
    @classmethod
    def _size(cls, v: Any, info: Any) -> int:
        return parse_size_pages(v, f"machine.{info.field_name}")

    @field_validator("nr_cpus")
    @classmethod
    def _cpus(cls, v: int) -> int:
        if not 1 <= v <= 1024:
            raise ValueError(f"machine.nr_cpus: {v} is out of range; allowed: 1..1024")
        return v

    @field_validator("cma_order_per_bit")
    @classmethod
    def _opb(cls, v: int) -> int:
        if not 0 <= v < MAX_ORDER:
            raise ValueError(
                f"machine.cma_order_per_bit: {v} is out of range; allowed: 0..{MAX_ORDER - 1}"
            )
        return v

    @field_validator("watermark_scale_factor")
    @classmethod
    def _wsf(cls, v: int) -> int:
        if not 1 <= v <= 1000:  # sysctl vm.watermark_scale_factor range (v5.9)
            raise ValueError(f"machine.watermark_scale_factor: {v}; allowed: 1..1000")
        return v

    @field_validator("compaction_proactiveness")
    @classmethod
    def _proactiveness(cls, v: int) -> int:
        if not 0 <= v <= 100:  # sysctl vm.compaction_proactiveness range (v5.9)
            raise ValueError(f"machine.compaction_proactiveness: {v}; allowed: 0..100")
        return v

    @field_validator("watermark_boost_factor", "memmap_bytes_per_page")
    @classmethod
    def _nonneg(cls, v: int, info: Any) -> int:
        if v < 0:
            raise ValueError(f"machine.{info.field_name}: {v} is negative; allowed: ≥ 0")
        return v

    @field_validator("min_free_kbytes")
    @classmethod
    def _mfk(cls, v: int | None) -> int | None:
        if v is not None and v < 128:
            raise ValueError(f"machine.min_free_kbytes: {v}; allowed: ≥ 128 (or null: computed)")
        return v

    @model_validator(mode="after")
    def _layout(self) -> MachineConfig:
        pbn = 1 << self.pageblock_order
        if self.ram <= 0 or self.ram % pbn:
            raise ValueError(
                f"machine.ram: {format_pages(self.ram)} is not a whole number of pageblocks; "
                f"allowed: a positive multiple of {pbn} pages ({pbn * 4} KiB)"
            )
        cma_unit = max(MAX_ORDER_NR_PAGES, pbn)
        if self.cma_size % cma_unit:
            raise ValueError(
                f"machine.cma_size: {format_pages(self.cma_size)} is not a multiple of "
                f"{cma_unit} pages (4 MiB, the CMA alignment max(MAX_ORDER_NR_PAGES, pageblock))"
            )
        reserved = self.boot_reserved_pages
        if reserved >= self.ram:
            raise ValueError(
                f"machine.kernel_reserved: boot-reserved memory ({format_pages(reserved)}) "
                f"does not fit in machine.ram ({format_pages(self.ram)})"
            )
        if self.cma_size > self.ram - reserved:
            raise ValueError(
                f"machine.cma_size: {format_pages(self.cma_size)} is larger than machine.ram "
                f"({format_pages(self.ram)}) less the boot-reserved memory "
                f"({format_pages(reserved)}); allowed: at most {format_pages(self.ram - reserved)}"
            )
        if self.cma_size:
            base = self.cma_base_pfn
            if base % cma_unit:
                raise ValueError(
                    f"machine.cma_base: {base} is not aligned; allowed: a multiple of "
                    f"{cma_unit} pages, 'top' or 'bottom'"
                )
            if base < reserved or base + self.cma_size > self.ram:
                raise ValueError(
                    f"machine.cma_base: pfns {base}..{base + self.cma_size - 1} are outside "
                    f"the free part of the zone; allowed: within {reserved}..{self.ram - 1}"
                )
        return self

    # --- derived layout ---------------------------------------------------------------------
    @property
    def boot_reserved_pages(self) -> int:
        """Pages never freed at boot: kernel_reserved + the memmap, rounded up to a pageblock."""
        memmap = -(-self.ram * self.memmap_bytes_per_page // 4096)
        pbn = 1 << self.pageblock_order
        return -(-(self.kernel_reserved + memmap) // pbn) * pbn

    @property
    def cma_base_pfn(self) -> int:
        """First pfn of the CMA area (4 MiB aligned)."""
        unit = max(MAX_ORDER_NR_PAGES, 1 << self.pageblock_order)
        if self.cma_base == "top":
            return (self.ram - self.cma_size) // unit * unit
        if self.cma_base == "bottom":
            return -(-self.boot_reserved_pages // unit) * unit
        return int(self.cma_base)

    @property
    def zone_name(self) -> str:
        if self.zone != "auto":
            return self.zone
        return "DMA32" if self.ram <= (4 << 30) // 4096 else "Normal"

    @property
    def kernel_code(self) -> int:
        return KERNEL_VERSIONS[self.kernel]


def machine_config(**kwargs: Any) -> MachineConfig:
    """Build a ``MachineConfig``; any invalid field raises ``ConfigError``."""
    try:
        return MachineConfig(**kwargs)
    except ValidationError as exc:
        raise_config_error(exc, "machine")
        raise  # unreachable
