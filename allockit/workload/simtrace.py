"""A simulated workload as the kernel would trace it, and the fit against a real capture.

:func:`write_ftrace` prints the synthetic workload's operations in the kernel's own ftrace
text format (the layout of the v6.x events ``kmem:mm_page_alloc``, ``mm_page_free``,
``filemap:mm_filemap_add_to_page_cache`` and ``writeback:writeback_dirty_folio``), so the
very same :func:`allockit.workload.tracestats.trace_stats` reads a real capture and a
simulated run: one code path, no second definition of any statistic. The simulated trace
carries object numbers + 1 where a real one has pfns (``pfn=`` matches an allocation with its
free, which is all the statistics need); an operation the simulated kernel refused (a
failed background allocation) is not in it.

:func:`fit_table` puts the statistics of both side by side, with their ratio.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..mm.background import EV_ALLOC, EV_DIRTY, EV_FREE, PK_FILE, PK_FILE_NOMIGRATE
from ..mm.constants import GFP_FLAG_NAMES, GFP_MOVABLE_MASK, GFP_MOVABLE_SHIFT
from .kbuild import Kbuild, generate_kbuild, load_kbuild_params

# include/trace/events/mmflags.h: __def_gfpflag_names, composites first (as show_gfp_flags)
_GFP_ORDER = (
    "GFP_TRANSHUGE_LIGHT", "GFP_HIGHUSER_MOVABLE", "GFP_HIGHUSER", "GFP_USER",
    "GFP_KERNEL_ACCOUNT", "GFP_KERNEL", "GFP_NOFS", "GFP_ATOMIC", "GFP_NOIO", "GFP_NOWAIT",
)


def format_gfp(mask: int) -> str:
    """``gfp_flags=`` as the kernel prints it: composite names first, then single flags."""
    names, rest = [], int(mask)
    for name in _GFP_ORDER + tuple(k for k in GFP_FLAG_NAMES if k.startswith("__")):
        v = GFP_FLAG_NAMES[name]
        if v and rest & v == v:
            names.append(name)
            rest &= ~v
    if rest:
        names.append(f"{rest:#x}")
    return "|".join(names) or "0"


def write_ftrace(kb: Kbuild, out, comm: str = "cc1") -> int:
    """Print ``kb``'s allocations, frees, page-cache insertions and dirtyings as ftrace text
    to the text stream ``out``; returns the number of event lines."""
    ev = kb.events
    order_of: dict[int, int] = {}
    gfp_text: dict[int, str] = {}
    n = 0
    out.write("# tracer: nop\n#\n")
    for e in ev:
        kind, obj, cpu = int(e["kind"]), int(e["obj"]), int(e["cpu"])
        head = f"{comm}-{1000 + cpu:<5d} [{cpu:03d}] .....  {int(e['time']) / 1e9:.6f}: "
        pfn = obj + 1  # a pseudo-pfn: the tracepoint prints pfn 0 for a failed allocation
        if kind == EV_ALLOC:
            gfp, order = int(e["arg"]), int(e["order"])
            order_of[obj] = order
            text = gfp_text.get(gfp) or gfp_text.setdefault(gfp, format_gfp(gfp))
            mt = (gfp & GFP_MOVABLE_MASK) >> GFP_MOVABLE_SHIFT
            out.write(f"{head}mm_page_alloc: page=0000000000000000 pfn={pfn:#x} "
                      f"order={order} migratetype={mt} gfp_flags={text}\n")
            n += 1
            if int(e["pkind"]) in (PK_FILE, PK_FILE_NOMIGRATE):
                out.write(f"{head}mm_filemap_add_to_page_cache: dev 254:1 ino {obj:x} "
                          f"pfn={pfn:#x} ofs=0 order={order}\n")
                n += 1
        elif kind == EV_FREE and obj in order_of:
            out.write(f"{head}mm_page_free: page=0000000000000000 pfn={pfn:#x} "
                      f"order={order_of.pop(obj)}\n")
            n += 1
        elif kind == EV_DIRTY:
            out.write(f"{head}writeback_dirty_folio: bdi 254:0: ino={obj} index=0\n")
            n += 1
    return n


def simulated_trace(
    path: str | Path, *, jobs: int = 2, ram: int = 98304, nr_cpus: int = 2,
    seconds: float = 30.0, seed: int = 0, **overrides: Any,
) -> Path:
    """Generate the synthetic build (``params/workload-kbuild.yaml`` + ``overrides``) and
    write ``seconds`` of it after warm-up as ftrace text to ``path``."""
    p = load_kbuild_params(jobs=jobs, **overrides)
    kb = generate_kbuild(p, ram, nr_cpus, seconds, np.random.default_rng(seed))
    window = replace(kb, events=kb.events[kb.events["time"] >= kb.t_start])
    path = Path(path)
    with open(path, "w") as f:
        write_ftrace(window, f)
    return path


# --- side by side ---------------------------------------------------------------------------
def _row(name: str, real: float | None, sim: float | None, unit: str) -> dict[str, Any]:
    ratio = sim / real if real and sim is not None else None
    return {"statistic": name, "real": real, "simulated": sim, "sim/real": ratio, "unit": unit}


def fit_table(real: dict, sim: dict) -> pd.DataFrame:
    """The statistics of a real capture and of a simulated run (``trace_stats`` results)."""
    rows = [
        _row("allocations", real["allocs_per_s"], sim["allocs_per_s"], "/s"),
        _row("frees", real["frees_per_s"], sim["frees_per_s"], "/s"),
        _row("pages allocated", real["alloc_pages_per_s"], sim["alloc_pages_per_s"], "pages/s"),
        _row("page-cache insertions", real["pagecache"]["adds_per_s"],
             sim["pagecache"]["adds_per_s"], "/s"),
        _row("dirtied folios", real["dirtied_folios_per_s"], sim["dirtied_folios_per_s"], "/s"),
    ]
    for o in ("0", "1", "2", "3"):
        rows.append(_row(f"order {o} share", real["order_mix"].get(o, 0.0),
                         sim["order_mix"].get(o, 0.0), "fraction"))
    for mt, name in (("0", "unmovable"), ("1", "movable"), ("2", "reclaimable")):
        rows.append(_row(f"{name} share", real["migratetype_mix"].get(mt, 0.0),
                         sim["migratetype_mix"].get(mt, 0.0), "fraction"))
    for kind in ("unmovable", "movable", "reclaimable", "all"):
        r, s = real["lifetime_ms"][kind], sim["lifetime_ms"][kind]
        rows.append(_row(f"{kind} lifetime median", r["median_ms"], s["median_ms"], "ms"))
        rows.append(_row(f"{kind} never freed", r["never_freed_fraction"],
                         s["never_freed_fraction"], "fraction"))
    return pd.DataFrame(rows)
