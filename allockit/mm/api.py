"""Checked Python entry points to the compiled allocator.

The compiled functions trust their arguments, as kernel code does. These wrappers are for
Python callers (tests, notebooks, strategies driven from Python): they reject an invalid
order, migratetype, CPU, gfp or pfn with a ``ValueError`` naming the argument, the value and
what is allowed, before the state is touched.
"""

from __future__ import annotations

from . import page_alloc
from .constants import (
    GFP_FLAG_NAMES,
    MAX_ORDER,
    MIGRATE_TYPES,
    MIGRATETYPE_NAMES,
    NO_PAGE,
    PG_buddy,
    PG_pcp,
    PG_reserved,
)
from .state import Z_NR_CPUS, Z_NR_PAGES, MachineState


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
