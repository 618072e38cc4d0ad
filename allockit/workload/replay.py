"""Replay a real trace: its allocations and frees re-issued against the simulated machine.

Semantic replay: each ``mm_page_alloc`` of the capture becomes an allocation of the same
order and gfp mask on the same CPU (modulo the simulated CPUs) at the same time after the
capture's start, and the ``mm_page_free`` of that pfn frees it. The simulated allocator
places pages itself (pfn-exact replay would need the real machine's layout too); a page the
capture inserts into the page cache (``mm_filemap_add_to_page_cache`` of the pfn) is a file
page, other movable pages are anonymous, reclaimable ones slab and unmovable ones kernel
pages.

Nothing is dropped silently: :class:`ReplayReport` counts what could not be mapped (a free
of a page allocated before the capture started, a dirtying traced by inode, not by pfn, an
event the replay has no operation for), and the trial reports it.

Parsing a multi-GB capture takes a while (about 30 s for the 36 s kbuild capture), so the
event array is cached on disk (``~/.cache/allockit/replay``), keyed by the file's path,
size and mtime, the formats directory and the replay parameters.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..ingest.ftrace import iter_events
from ..mm.background import EV_ALLOC, EV_FREE, PK_ANON, PK_FILE, PK_KERNEL, PK_SLAB
from ..mm.config import ConfigError
from ..mm.constants import GFP_FLAG_NAMES, GFP_MOVABLE_MASK, GFP_MOVABLE_SHIFT
from ..mm.state import EVENT_DTYPE
from .kbuild import NS, Kbuild

CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "allockit" / "replay"
PREFIX = "replay:"


@dataclass
class ReplayReport:
    """What the replay made of a capture."""

    source: str
    duration_s: float = 0.0
    allocs: int = 0
    frees: int = 0
    file_pages: int = 0
    unmapped: dict[str, int] = field(default_factory=dict)  # reason -> events


def parse_gfp_text(text: str) -> int:
    """``gfp_flags=GFP_HIGHUSER_MOVABLE|__GFP_COMP`` -> mask; unknown names are ignored
    (they do not change the migratetype or the reclaim behaviour the simulator models)."""
    mask = 0
    for name in text.split("|"):
        if name.startswith("0x"):
            mask |= int(name, 16)
        else:
            mask |= GFP_FLAG_NAMES.get(name, 0)
    return mask


def _pkind(gfp: int, file: bool) -> int:
    mt = (gfp & GFP_MOVABLE_MASK) >> GFP_MOVABLE_SHIFT
    if file:
        return PK_FILE
    return (PK_KERNEL, PK_ANON, PK_SLAB)[mt] if mt < 3 else PK_KERNEL


def trace_to_events(path: str | Path, formats_dir: str | Path | None, nr_cpus: int):
    """The capture as an EVENT_DTYPE array (times from 0), objects, and the report."""
    rep = ReplayReport(source=str(path))
    rows: list[tuple[int, int, int, int, int, int, int]] = []
    live: dict[int, tuple[int, int]] = {}  # pfn -> (object, row index of its allocation)
    freed_batched: set[int] = set()
    unmapped: Counter = Counter()
    t0 = None
    nobj = 0
    for ev in iter_events(path, formats_dir):
        if t0 is None:
            t0 = ev.ts
        t = int(round((ev.ts - t0) * NS))
        cpu = ev.cpu % nr_cpus
        name = ev.event
        if name == "mm_page_alloc":
            pfn = ev.fields["pfn"]
            if not pfn:  # pfn 0: the allocation failed on the real machine
                unmapped["failed allocation"] += 1
                continue
            gfp = parse_gfp_text(str(ev.fields["gfp_flags"]))
            live[pfn] = (nobj, len(rows))
            freed_batched.discard(pfn)
            rows.append((t, nobj, gfp, EV_ALLOC, cpu, int(ev.fields["order"]), _pkind(gfp, False)))
            nobj += 1
            rep.allocs += 1
        elif name in ("mm_page_free", "mm_page_free_batched"):
            pfn = ev.fields["pfn"]
            hit = live.pop(pfn, None)
            if hit is None:
                if pfn in freed_batched:  # the other half of a free + batched pair
                    freed_batched.discard(pfn)
                else:
                    unmapped["free of a page allocated before the capture"] += 1
                continue
            freed_batched.add(pfn)
            rows.append((t, hit[0], 0, EV_FREE, cpu, 0, 0))
            rep.frees += 1
        elif name == "mm_filemap_add_to_page_cache":
            hit = live.get(ev.fields["pfn"])
            if hit is None:
                unmapped["page-cache insertion of an unknown page"] += 1
                continue
            r = rows[hit[1]]
            rows[hit[1]] = r[:6] + (PK_FILE,)
            rep.file_pages += 1
        else:
            unmapped[f"{name} (no replay operation)"] += 1
    ev_arr = np.zeros(len(rows), dtype=EVENT_DTYPE)
    if rows:
        cols = list(zip(*rows, strict=True))
        for i, name in enumerate(("time", "obj", "arg", "kind", "cpu", "order", "pkind")):
            ev_arr[name] = cols[i]
    rep.duration_s = rows[-1][0] / NS if rows else 0.0
    rep.unmapped = dict(unmapped)
    return ev_arr, nobj, rep


def _cache_key(path: Path, formats_dir, nr_cpus: int) -> str:
    st = path.stat()
    blob = json.dumps([str(path.resolve()), st.st_size, st.st_mtime_ns,
                       str(formats_dir or ""), nr_cpus, 1])
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def load_replay(
    path: str | Path, formats_dir: str | Path | None, nr_cpus: int, cache: bool = True
):
    """``trace_to_events`` through the on-disk cache."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"workload.replay: {str(path)!r} is not a file; allowed: an ftrace "
                          "text capture (plain, .xz, .gz, .bz2)")
    key = _cache_key(path, formats_dir, nr_cpus)
    f = CACHE / f"{key}.npz"
    if cache and f.exists():
        z = np.load(f, allow_pickle=False)
        rep = ReplayReport(**json.loads(str(z["report"])))
        return z["events"], int(z["nobj"]), rep
    ev, nobj, rep = trace_to_events(path, formats_dir, nr_cpus)
    if cache:
        CACHE.mkdir(parents=True, exist_ok=True)
        tmp = f.with_name(f".{f.name}.{os.getpid()}.npz")
        np.savez(tmp, events=ev, nobj=nobj, report=json.dumps(asdict(rep)))
        os.replace(tmp, f)
    return ev, nobj, rep


def check_replay(workload: dict) -> None:
    """The keys a replay workload accepts; an error names the bad one."""
    allowed = {"replay", "formats", "start_s"}
    unknown = sorted(set(workload) - allowed)
    if unknown:
        raise ConfigError(f"workload.{unknown[0]}: not a replay parameter; allowed: "
                          + ", ".join(sorted(allowed)))
    src = workload["replay"]
    if not isinstance(src, str) or not Path(src).is_file():
        raise ConfigError(f"workload.replay: {src!r} is not a file; allowed: an ftrace capture")
    if Path(src).stat().st_size == 0:  # replayed, it would be an idle machine, silently
        raise ConfigError(f"workload.replay: {src!r} is empty; allowed: an ftrace capture "
                          "with events")
    fmt = workload.get("formats")
    if fmt is not None and not Path(fmt).is_dir():
        raise ConfigError(f"workload.formats: {fmt!r} is not a directory of event formats")
    start = workload.get("start_s")
    if start is not None and (isinstance(start, bool) or not isinstance(start, (int, float))
                              or start < 0):
        raise ConfigError(f"workload.start_s: {start!r}; allowed: seconds >= 0")


def replay_workload(workload: dict, nr_cpus: int) -> tuple[Kbuild, ReplayReport]:
    """The background events of a replay trial: the strategy starts at ``start_s`` (default:
    the middle of the capture, so the machine has the capture's first half behind it)."""
    check_replay(workload)
    ev, nobj, rep = load_replay(workload["replay"], workload.get("formats"), nr_cpus)
    end = int(ev["time"][-1]) if len(ev) else 0
    start = workload.get("start_s")
    t_start = end // 2 if start is None else int(start * NS)
    if t_start > end:
        raise ConfigError(f"workload.start_s: {start}; allowed: <= the capture's "
                          f"{end / NS:.1f} s")
    busy = len(np.unique(ev["cpu"])) if len(ev) else 0
    return Kbuild(ev, nobj, t_start, end, min(busy, nr_cpus), busy, rep.unmapped), rep


def parse_workload_arg(text: str) -> dict:
    """``--workload kbuild`` or ``--workload replay:PATH`` -> the spec's workload mapping."""
    if text == "kbuild":
        return {}
    if text.startswith(PREFIX) and len(text) > len(PREFIX):
        return {"replay": text[len(PREFIX):]}
    raise ConfigError(f"--workload: {text!r}; allowed: kbuild, replay:PATH")
