"""Checked Python entry points to the compiled allocator.

The compiled functions trust their arguments, as kernel code does. These wrappers are for
Python callers (tests, notebooks, strategies driven from Python): they reject an invalid
order, migratetype, CPU, gfp or pfn with a ``ValueError`` naming the argument, the value and
what is allowed, before the state is touched.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import cma, compaction, contig, page_alloc
from .constants import (
    EINVAL,
    ENOMEM,
    ERRNO_NAMES,
    GFP_FLAG_NAMES,
    MAX_ORDER,
    MIGRATE_CMA,
    MIGRATE_ISOLATE,
    MIGRATE_TYPES,
    MIGRATETYPE_NAMES,
    NO_PAGE,
    TIME_CATEGORY_NAMES,
    PG_buddy,
    PG_pcp,
    PG_reserved,
)
from .owners import OWNER_CONTIG
from .state import Z_CMA_BASE, Z_CMA_COUNT, Z_NR_CPUS, Z_NR_PAGES, Z_PAGEBLOCK_ORDER, MachineState
from .vmstat import VMSTAT_NAMES


def check_order(order: int, field: str = "order") -> int:
    if isinstance(order, bool) or not isinstance(order, int) or not 0 <= order < MAX_ORDER:
        raise ValueError(f"{field}: {order!r} is out of range; allowed: 0..{MAX_ORDER - 1}")
    return order


def parse_migratetype(mt: int | str, field: str = "migratetype") -> int:
    """A migratetype as an index or a name (``"Movable"``, ``"MIGRATE_CMA"``, ``"cma"``)."""
    if isinstance(mt, str):
        key = mt.upper().removeprefix("MIGRATE_")
        names = [n.upper() for n in MIGRATETYPE_NAMES]
        if key in names:
            return names.index(key)
    elif isinstance(mt, int) and not isinstance(mt, bool) and 0 <= mt < MIGRATE_TYPES:
        return mt
    raise ValueError(
        f"{field}: {mt!r} is not a migratetype; allowed: "
        + ", ".join(f"{i} ({n})" for i, n in enumerate(MIGRATETYPE_NAMES))
    )


def parse_gfp(gfp: int | str, field: str = "gfp") -> int:
    """A gfp mask as an int or as kernel names joined by ``|`` (``"GFP_KERNEL|__GFP_NOWARN"``)."""
    if isinstance(gfp, int) and not isinstance(gfp, bool) and gfp >= 0:
        return gfp
    if isinstance(gfp, str):
        mask = 0
        for part in gfp.split("|"):
            name = part.strip()
            if name not in GFP_FLAG_NAMES:
                raise ValueError(
                    f"{field}: {name!r} is not a gfp flag; allowed: "
                    + ", ".join(sorted(GFP_FLAG_NAMES))
                )
            mask |= GFP_FLAG_NAMES[name]
        return mask
    raise ValueError(f"{field}: {gfp!r} is not a gfp mask; allowed: an int ≥ 0 or flag names")


def check_cpu(state: MachineState, cpu: int) -> int:
    n = int(state.zone[Z_NR_CPUS])
    if isinstance(cpu, bool) or not isinstance(cpu, int) or not 0 <= cpu < n:
        raise ValueError(f"cpu: {cpu!r} is out of range; allowed: 0..{n - 1}")
    return cpu


def alloc_pages(state: MachineState, gfp: int | str, order: int, cpu: int = 0) -> int | None:
    """``alloc_pages(gfp, order)`` on ``cpu``; the first pfn, or None when it fails."""
    gfp = parse_gfp(gfp)
    check_order(order)
    check_cpu(state, cpu)
    pfn = int(page_alloc.alloc_pages(state, cpu, gfp, order))
    return None if pfn == NO_PAGE else pfn


def free_pages(state: MachineState, pfn: int, order: int, cpu: int = 0) -> None:
    """``__free_pages(page, order)`` on ``cpu``. Refuses free, pcp, reserved or foreign pages."""
    check_order(order)
    check_cpu(state, cpu)
    nr_pages = int(state.zone[Z_NR_PAGES])
    if isinstance(pfn, bool) or not isinstance(pfn, int) or not 0 <= pfn < nr_pages:
        raise ValueError(f"pfn: {pfn!r} is outside the zone; allowed: 0..{nr_pages - 1}")
    if pfn % (1 << order) or pfn + (1 << order) > nr_pages:
        raise ValueError(f"pfn: {pfn} is not aligned to order {order} (2^{order} pages)")
    f = int(state.flags[pfn])
    if f & (PG_buddy | PG_pcp):
        raise ValueError(f"pfn: {pfn} is already free (double free)")
    if f & PG_reserved:
        raise ValueError(f"pfn: {pfn} is boot-reserved memory, never allocated")
    page_alloc.free_pages(state, cpu, pfn, order)


# --- time-consuming calls: result with latency, breakdown and counters --------------------
@dataclass
class CallResult:
    """What one simulated kernel call did.

    ``ret`` is 0 or a negative errno (``errno`` gives its name); ``pfn`` the first pfn
    obtained (None if none); ``latency_ns`` the calling task's time from entry to return,
    which ``breakdown_ns`` splits by category (the categories sum to the latency);
    ``counters`` the vmstat-named counters the call changed; ``extra`` call-specific values.
    """

    ret: int
    pfn: int | None
    latency_ns: int
    breakdown_ns: dict[str, int]
    counters: dict[str, int]
    extra: dict[str, int] = field(default_factory=dict)

    @property
    def errno(self) -> str:
        return ERRNO_NAMES.get(self.ret, str(self.ret))


class Timed:
    """What a call into the simulated kernel cost: the clock, the time categories and the
    vmstat counters are snapshotted when it is made, ``result`` gives the differences.

    Strategies open one around their whole sequence of kernel calls.
    """

    def __init__(self, state: MachineState):
        self.state = state
        self.clock = state.clock
        self.time = state.time_ns.copy()
        self.vm = state.vmstat.copy()

    def result(self, ret: int, pfn: int | None, **extra: int) -> CallResult:
        s = self.state
        dt = s.time_ns - self.time
        dv = s.vmstat - self.vm
        return CallResult(
            ret=int(ret),
            pfn=pfn,
            latency_ns=s.clock - self.clock,
            breakdown_ns={n: int(v) for n, v in zip(TIME_CATEGORY_NAMES, dt, strict=True) if v},
            counters={n: int(v) for n, v in zip(VMSTAT_NAMES, dv, strict=True) if v},
            extra=extra,
        )


def _check_count(count: int, field_name: str) -> int:
    if isinstance(count, bool) or not isinstance(count, int) or count <= 0:
        raise ValueError(f"{field_name}: {count!r} is not a page count; allowed: an integer > 0")
    return count


def cma_alloc(
    state: MachineState, count: int, align: int = 0, cpu: int = 0, flags: int = 0
) -> CallResult:
    """``cma_alloc(cma, count, align)`` (v5.9). ``extra['tries']``: alloc_contig_range calls.

    A count larger than the area returns no pages (ret -ENOMEM, no work), as the kernel does.
    """
    _check_count(count, "count")
    check_order(align, "align")
    check_cpu(state, cpu)
    if int(state.zone[Z_CMA_COUNT]) == 0:
        raise ValueError("cma_alloc: this machine has no CMA area (machine.cma_size is 0)")
    t = Timed(state)
    pfn, ret, tries = cma.cma_alloc(state, cpu, count, align, flags)
    return t.result(int(ret), None if pfn < 0 else int(pfn), tries=int(tries))


def cma_release(state: MachineState, pfn: int, count: int, cpu: int = 0) -> CallResult:
    """``cma_release``: pages that ``cma_alloc`` returned go back through the pcp lists."""
    _check_count(count, "count")
    check_cpu(state, cpu)
    base, size = int(state.zone[Z_CMA_BASE]), int(state.zone[Z_CMA_COUNT])
    if not (base <= pfn and pfn + count <= base + size):
        raise ValueError(
            f"pfn: {pfn}..{pfn + count - 1} is not inside the CMA area {base}..{base + size - 1}"
        )
    owners = state.owner[pfn : pfn + count]
    if (owners != OWNER_CONTIG).any():
        bad = pfn + int(np.flatnonzero(owners != OWNER_CONTIG)[0])
        raise ValueError(f"pfn: {bad} was not allocated by cma_alloc (double release?)")
    t = Timed(state)
    cma.cma_release(state, cpu, pfn, count)
    return t.result(0, pfn)


def alloc_contig_range(
    state: MachineState,
    start: int,
    end: int,
    migratetype: int | str = "CMA",
    cpu: int = 0,
    flags: int = 0,
) -> CallResult:
    """``alloc_contig_range(start, end, migratetype, GFP_KERNEL)`` (v5.9).

    Returns -EINVAL, before any work, for an empty range, a range outside the zone, or a
    range whose pageblocks are not all of the requested kind (CMA pageblocks for MIGRATE_CMA,
    no CMA pageblock otherwise). ``extra['busy_pfn']`` is the page that made it fail.
    """
    mt = parse_migratetype(migratetype)
    check_cpu(state, cpu)
    t = Timed(state)
    n = state.nr_pages
    if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= n):
        return t.result(-EINVAL, None, busy_pfn=-1)
    pbo = int(state.zone[Z_PAGEBLOCK_ORDER])
    blocks = state.pb_mt[start >> pbo : ((end - 1) >> pbo) + 1]
    is_cma = (blocks == MIGRATE_CMA) | (blocks == MIGRATE_ISOLATE) & (mt == MIGRATE_CMA)
    if (mt == MIGRATE_CMA and not is_cma.all()) or (
        mt != MIGRATE_CMA and (blocks == MIGRATE_CMA).any()
    ):
        return t.result(-EINVAL, None, busy_pfn=-1)
    ret, busy = contig.alloc_contig_range(state, cpu, start, end, mt, flags)
    return t.result(int(ret), start if ret == 0 else None, busy_pfn=int(busy))


def alloc_pages_timed(state: MachineState, gfp: int | str, order: int, cpu: int = 0) -> CallResult:
    """``alloc_pages(gfp, order)`` through the whole v5.9 slow path, direct compaction
    included, as the calling task; ``pfn`` is None when it fails."""
    gfp = parse_gfp(gfp)
    check_order(order)
    check_cpu(state, cpu)
    t = Timed(state)
    pfn = int(compaction.alloc_pages_compact(state, cpu, gfp, order))
    return t.result(0 if pfn >= 0 else -ENOMEM, None if pfn < 0 else pfn)
