"""The synthetic kernel build: what ``make -jN`` does to memory, as background events.

Every effect goes through the simulated kernel (``allockit.mm.background``): allocations and
frees through ``alloc_pages``/``__free_pages`` on the job's CPU, page-cache pages through the
LRU pagevecs, dirtying, writeback, read locks and pins through page states with release
times. The model (docs/model.md#kbuild):

* ``jobs`` compile jobs (``make -jN``) run back to back on CPU ``slot % nr_cpus``; a job
  lives a lognormal time; at fork it gets a kernel stack, at exit gives it back (see
  ``_stacks``: with ``CONFIG_VMAP_STACK`` a stack is ``fork_stack_pages`` order-0 pages, and
  each CPU caches ``stack_cache_per_cpu`` freed stacks for the next fork);
* while it runs it first-touches anonymous memory (order-0 ``GFP_HIGHUSER_MOVABLE``, mapped
  by its CPU), all freed at exit; it allocates short-lived kernel pages (page tables, slab:
  unmovable and reclaimable); it reads source files into the page cache (new clean file
  pages, locked until the read completes); and at its end writes its object file (dirty file
  pages);
* the flusher wakes every ``flusher_interval_s`` and writes pages dirtied more than
  ``dirty_expire_s`` ago; each write is in flight for the storage latency plus its place in
  the queue at ``storage_mb_per_s``;
* short-term GUP pins hit random pages of running jobs;
* ext4 metadata lives in the block device's page cache (``Buffers:`` in /proc/meminfo); the
  share of it allocated ``__GFP_MOVABLE`` (``sb_getblk``: bitmaps, inode tables, directory and
  extent blocks) may sit in CMA. Metadata the build modifies is journaled: jbd2 holds a
  ``journal_head``, hence ``b_count`` > 0, from the handle's write access through the commit
  and the buffer's writeback until the next commit cleans the checkpoint list; meanwhile
  ``buffer_migrate_page_norefs`` refuses to migrate the page (-EAGAIN on every pass), so an
  ``alloc_contig_range`` over it fails with -EBUSY and ``cma_alloc`` slides.

Beside the build, the lab's guest re-reads file sets forever (``lab/guest/init``): one loop
``cat``s the source tree and the toolchain, another one big filler file. Each loop is a set
of file pages read in order at a rate, wrapping around (``_reread_loops``); every read goes
through the page cache (``EV_READ``: a hit is an access, a miss reads the page in), so which
pages stay cached, which get activated and what reclaim evicts follows from the reads. The
seed's build has no such loop (its set sizes are 0).

The build is taken to have been running already: object files written during the
``dirty_expire_s + flusher_interval_s`` before the warm-up (the *history*) are generated too,
so the trial starts with the dirty and writeback population a long build has. The page cache
of the source tree (``pagecache_fill`` of RAM) is read at time 0.

Timeline: 0 = start of the history (the loops start ``reread_lead_s`` earlier, and the
times are shifted so that they start at 0); the strategy starts at ``history + warmup_s``
(``Kbuild.t_start``); events are generated up to ``t_start + horizon_s``. With a start
condition (``start_cma_free_pct`` > 0, the lab's ``wait_low``) the strategy starts at the
first once-a-second check from ``t_start`` on that finds free CMA at most that share of the
area, at the latest ``start_wait_s`` later (``start_when``), and the events go that much
further.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..mm.background import (
    EV_ACCESS,
    EV_ALLOC,
    EV_DIRTY,
    EV_FREE,
    EV_LOCK,
    EV_PIN,
    EV_READ,
    EV_WRITEBACK,
    PK_ANON,
    PK_FILE,
    PK_KERNEL,
    PK_SLAB,
)
from ..mm.config import ConfigError
from ..mm.constants import (
    GFP_HIGHUSER_MOVABLE,
    GFP_KERNEL,
    GFP_KERNEL_RECLAIMABLE,
    REF_GUP,
    REF_JOURNAL,
)
from ..mm.kcompactd import run_machine
from ..mm.state import EVENT_DTYPE, Z_CMA_COUNT
from ..mm.vmstat import NR_FREE_CMA_PAGES
from ..params import kbuild_constants

PARAM_NAMES = (
    "jobs",
    "job_life_median_s",
    "job_life_sigma",
    "anon_pages_per_s_per_job",
    "kernel_pages_per_s_per_job",
    "kernel_page_life_ms",
    "kernel_reclaimable_fraction",
    "fork_stack_pages",
    "stack_cache_per_cpu",
    "file_read_pages_per_job",
    "read_lock_us",
    "obj_write_pages_per_job",
    "dirty_expire_s",
    "flusher_interval_s",
    "storage_mb_per_s",
    "storage_latency_ms",
    "gup_pins_per_s_per_job",
    "pin_us_median",
    "pagecache_fill",
    "metadata_cache_fraction",
    "metadata_movable_fraction",
    "metadata_reads_per_s_per_job",
    "metadata_journal_per_s_per_job",
    "metadata_journal_new_fraction",
    "commit_interval_s",
    "warmup_s",
    "make_turnaround_s",
    "read_window_fraction",
    "pin_sigma",
    "pagecache_read_ns_per_page",
    "reread_tree_pages",
    "reread_tree_pages_per_s",
    "reread_filler_pages",
    "reread_filler_pages_per_s",
    "reread_lead_s",
    "start_cma_free_pct",
    "start_wait_s",
    "build_slowdown",
    "metadata_hot_fraction",
    "metadata_hot_blocks",
    "metadata_rejournal_s",
)
# the re-read loops: (set size, read rate) parameter pairs, one loop each (lab/guest/init)
REREAD_LOOPS = (
    ("reread_tree_pages", "reread_tree_pages_per_s"),
    ("reread_filler_pages", "reread_filler_pages_per_s"),
)
# what the lab's guest adds to the build (params/workload-lab.yaml): the loops, and its wait
# before each experiment until the CMA area is nearly full (wait_low in lab/guest/init)
LAB_PARAM_NAMES = (*(name for pair in REREAD_LOOPS for name in pair), "reread_lead_s",
                   "start_cma_free_pct", "start_wait_s")  # fmt: skip
START_POLL_S = 1.0  # wait_low polls /proc/meminfo once a second (sleep 1)
# The build's mechanisms an ablation study can switch off: event kind (and reference kind)
# they add, and what they model. Switching one off drops its events after generation, so the
# random stream of everything else stays the same.
MECHANISMS = {
    "journal": "jbd2 holding journaled ext4 metadata (b_count > 0: -EAGAIN on every pass)",
    "journal_created": "journal events on blocks created at that moment, placed where new "
    "movable pages go (off: every journal event picks an existing metadata page)",
    "journal_hot": "the hot core of journaled metadata (bitmaps, inode-table and directory "
    "blocks journaled again every writeback cycle; off: their journal events spread over all "
    "the metadata)",
    "gup_pins": "short-term get_user_pages pins on the jobs' anonymous pages",
    "read_locks": "page locks held while a source file's read is in flight",
    "writeback": "the flusher's writeback (PG_writeback until the device completes)",
}
NS = 1_000_000_000


def load_kbuild_params(path: str | Path | None = None, **overrides: Any) -> dict[str, float]:
    """Read ``params/workload-kbuild.yaml`` (validated); ``overrides`` replace values."""
    raw = kbuild_constants(path)
    params: dict[str, float] = {name: raw[name]["value"] for name in PARAM_NAMES}
    for name, value in overrides.items():
        if name not in PARAM_NAMES:
            raise ConfigError(
                f"workload.{name}: unknown parameter; allowed: {', '.join(PARAM_NAMES)}"
            )
        params[name] = value
    for name, value in params.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ConfigError(f"workload.{name}: {value!r}; allowed: a number >= 0")
    if params["build_slowdown"] < 1:
        raise ConfigError(
            f"workload.build_slowdown: {params['build_slowdown']}; allowed: a number >= 1"
        )
    for name in PARAM_NAMES:
        if name.endswith("_fraction") and params[name] > 1:
            raise ConfigError(f"workload.{name}: {params[name]}; allowed: 0 <= x <= 1")
    if params["start_cma_free_pct"] > 100:
        raise ConfigError(
            f"workload.start_cma_free_pct: {params['start_cma_free_pct']}; allowed: 0 <= x <= 100"
        )
    if params["pagecache_fill"] >= 1:
        raise ConfigError(
            f"workload.pagecache_fill: {params['pagecache_fill']}; allowed: 0 <= x < 1"
        )
    params["jobs"] = int(params["jobs"])
    return params


@dataclass
class Kbuild:
    """Generated background events of one trial, ready for ``install``."""

    events: np.ndarray
    nr_objects: int
    t_start: int  # ns: when the strategy starts (the earliest, with a start condition)
    t_end: int  # ns: end of the generated horizon
    busy_cpus: int
    jobs: int  # compile jobs (make -jN)
    unmapped: dict[str, int] = field(default_factory=dict)  # replay: events it could not map
    start_cma_free_pct: float = 0.0  # start once free CMA is at most this % of the area ...
    start_wait_ns: int = 0  # ... or this long after t_start (0: start at t_start)


class _Builder:
    """Collects events as column chunks, then sorts once (stable by time, then sequence)."""

    def __init__(self, origin_ns: int = 0) -> None:
        self.cols: list[tuple[np.ndarray, ...]] = []
        self.next_obj = 0
        self.origin_ns = origin_ns  # added to every time: where the generator's 0 lies

    def new_objects(self, n: int) -> np.ndarray:
        ids = np.arange(self.next_obj, self.next_obj + n, dtype=np.int64)
        self.next_obj += n
        return ids

    def add(self, time, obj, kind, cpu=0, arg=0, order=0, pkind=0) -> None:
        n = len(obj)
        if n == 0:
            return
        full = lambda v: np.broadcast_to(np.asarray(v), (n,))  # noqa: E731
        self.cols.append(
            (full(time), full(obj), full(arg), full(kind), full(cpu), full(order), full(pkind))
        )

    def build(self) -> np.ndarray:
        if not self.cols:
            return np.zeros(0, dtype=EVENT_DTYPE)
        # sort the time column alone, then fill each field already in order (permuting the
        # packed records instead takes twice as long at millions of events)
        times = np.concatenate([c[0] for c in self.cols])
        order = np.argsort(times, kind="stable")
        ev = np.zeros(len(order), dtype=EVENT_DTYPE)  # zeros: the padding bytes are fixed too
        ev["time"] = times[order] + self.origin_ns
        for i, name in enumerate(("obj", "arg", "kind", "cpu", "order", "pkind"), start=1):
            col = np.concatenate([np.asarray(c[i], dtype=EVENT_DTYPE[name]) for c in self.cols])
            ev[name] = col[order]
        return ev


def generate_kbuild(
    params: dict[str, float],
    ram_pages: int,
    nr_cpus: int,
    horizon_s: float,
    rng: np.random.Generator,
    ablate: frozenset[str] = frozenset(),
) -> Kbuild:
    """Generate the events of one trial (see the module docstring for the model).

    ``ablate``: names of ``MECHANISMS`` switched off (an ablation study)."""
    unknown = sorted(set(ablate) - set(MECHANISMS))
    if unknown:
        raise ConfigError(f"ablate: {unknown[0]!r} is not a mechanism of the build; allowed: "
                          + ", ".join(MECHANISMS))
    p = paced(params)
    if "journal_created" in ablate:
        p["metadata_journal_new_fraction"] = 0.0
    if "journal_hot" in ablate:
        p["metadata_hot_blocks"] = 0.0
        p["metadata_hot_fraction"] = 0.0
    lead = p["reread_lead_s"] if _running_loops(p) else 0.0
    b = _Builder(origin_ns=int(lead * NS))
    history = p["dirty_expire_s"] + p["flusher_interval_s"]
    t_start = history + p["warmup_s"]
    wait_s = p["start_wait_s"] if p["start_cma_free_pct"] > 0 else 0.0
    t_end = t_start + wait_s + horizon_s
    jobs = int(p["jobs"])

    # the source tree's page cache, read before everything else
    n_cache = int(p["pagecache_fill"] * ram_pages)
    cache_objs = b.new_objects(n_cache)
    read_ns = int(p["pagecache_read_ns_per_page"])
    b.add(np.arange(n_cache) * read_ns, cache_objs, EV_ALLOC, arg=GFP_HIGHUSER_MOVABLE,
          pkind=PK_FILE)  # fmt: skip

    dirty_times: list[np.ndarray] = []
    dirty_objs: list[np.ndarray] = []
    stacks: list[tuple[float, float, int]] = []
    mu = np.log(max(p["job_life_median_s"], 1e-6))
    for slot in range(jobs):
        cpu = slot % nr_cpus
        t = rng.uniform(0.0, p["job_life_median_s"])
        while t < t_end:
            life = float(rng.lognormal(mu, p["job_life_sigma"]))
            end = t + life
            active = end > history  # the job overlaps the simulated window
            if active:
                _job_memory(b, p, rng, cpu, t, end, t_end, stacks)
            # the object file: written at the job's end, dirty until the flusher takes it
            if end < t_end:
                n = int(rng.poisson(p["obj_write_pages_per_job"]))
                objs = b.new_objects(n)
                when = int(end * NS)
                b.add(when, objs, EV_ALLOC, cpu=cpu, arg=GFP_HIGHUSER_MOVABLE, pkind=PK_FILE)
                b.add(when + 1, objs, EV_DIRTY, cpu=cpu)
                dirty_times.append(np.full(n, end))
                dirty_objs.append(objs)
            t = end + p["make_turnaround_s"]
    _stacks(b, p, stacks, t_end)
    _reread_loops(b, p, nr_cpus, lead, t_end)
    _metadata(b, p, rng, cache_objs, nr_cpus, t_end, dirty_times, dirty_objs)
    if dirty_objs:
        _flusher(b, p, np.concatenate(dirty_times), np.concatenate(dirty_objs), t_end)
    return Kbuild(
        events=_without(b.build(), ablate),
        nr_objects=b.next_obj,
        t_start=int((lead + t_start) * NS),
        t_end=int((lead + t_end) * NS),
        busy_cpus=min(jobs, nr_cpus),
        jobs=jobs,
        start_cma_free_pct=float(p["start_cma_free_pct"]) if wait_s else 0.0,
        start_wait_ns=int(wait_s * NS),
    )


# the build's CPU-bound times, and its rates per second of a job (build_slowdown scales them)
PACED_TIMES = ("job_life_median_s", "kernel_page_life_ms", "make_turnaround_s", "pin_us_median")
PACED_RATES = (
    "anon_pages_per_s_per_job",
    "kernel_pages_per_s_per_job",
    "gup_pins_per_s_per_job",
    "metadata_journal_per_s_per_job",
)
# ext4 metadata reads: only their share that is not the hot core is paced (see paced); the
# journal stream is the rest of the journaled blocks (the hot core is _hot_metadata's), paced
PACED_METADATA_RATES = ("metadata_reads_per_s_per_job",)


def paced(params: dict[str, float]) -> dict[str, float]:
    """The build's parameters at its pace: with ``build_slowdown`` k, every job lives k times
    longer and does per second 1/k of what the captured build did, so a job touches the same
    memory, reads and writes the same files and holds the same pins, stretched over its life.
    The I/O side (storage, flusher, journal commits, read latencies) keeps its times: a slower
    CPU (a TCG guest) does not slow the disk. The ext4 metadata reads are paced but for their
    ``metadata_hot_fraction``: the capture counts distinct blocks dirtied per writeback cycle
    (``writeback_dirty_folio`` fires on the clean to dirty step), and its hot core, bitmaps,
    group descriptors and directory blocks, is dirtied again every cycle however slowly the
    build creates files; the rest follows the files created. The hot core's own journaling
    (``_hot_metadata``) keeps its times; the journal stream, the rest, is paced in full."""
    p = dict(params)
    k = p["build_slowdown"]
    if k == 1:
        return p  # the captured pace, bit for bit
    for name in PACED_TIMES:
        p[name] = p[name] * k
    for name in PACED_RATES:
        p[name] = p[name] / k
    hot = p["metadata_hot_fraction"]
    for name in PACED_METADATA_RATES:
        p[name] = p[name] * (hot + (1 - hot) / k)
    return p


def mean_job_life_s(params: dict[str, float]) -> float:
    """A job slot's mean time per job at the captured pace: the lognormal life's mean plus
    make's turnaround."""
    mean = params["job_life_median_s"] * float(np.exp(params["job_life_sigma"] ** 2 / 2))
    return mean + params["make_turnaround_s"]


def start_when(s, kb: Kbuild) -> int:
    """When the strategy starts on machine ``s``, run up to ``kb.t_start``: at once, or with
    a start condition as the lab's ``wait_low`` waits before each experiment: check free CMA
    against ``start_cma_free_pct`` of the area, and while it is above, let the machine run one
    more poll interval, up to ``start_wait_ns``. Runs the machine (``run_machine``: the
    background, kswapd and kcompactd) up to the time returned."""
    if kb.start_cma_free_pct <= 0:
        return kb.t_start
    cma = int(s.zone[Z_CMA_COUNT])
    step = int(START_POLL_S * NS)
    t = kb.t_start
    while s.zone[NR_FREE_CMA_PAGES] * 100 > kb.start_cma_free_pct * cma and (
        t + step <= kb.t_start + kb.start_wait_ns
    ):
        t += step
        run_machine(s, t)
    return t


def _job_memory(
    b: _Builder, p, rng, cpu: int, t0: float, t1: float, t_end: float, stacks: list
) -> None:
    """Anonymous memory, kernel pages, page-cache reads and pins of one job; its fork and
    exit go to ``stacks`` (the stack cache needs them in time order: ``_stacks``)."""
    life = t1 - t0
    stacks.append((t0, t1, cpu))
    # anonymous memory: first touches spread over the life, all freed at exit (zap)
    n = int(rng.poisson(p["anon_pages_per_s_per_job"] * life))
    anon = b.new_objects(n)
    born = np.sort(rng.uniform(t0, t1, n))
    b.add(
        (born * NS).astype(np.int64),
        anon,
        EV_ALLOC,
        cpu=cpu,
        arg=GFP_HIGHUSER_MOVABLE,
        pkind=PK_ANON,
    )
    if t1 < t_end:
        b.add(int(t1 * NS) + 1, anon, EV_FREE, cpu=cpu)
    # short-lived kernel pages (page tables, slab); lifetimes exponential with the given
    # median (scale = median / ln 2)
    k = int(rng.poisson(p["kernel_pages_per_s_per_job"] * life))
    kern = b.new_objects(k)
    kb = rng.uniform(t0, t1, k)
    scale = p["kernel_page_life_ms"] / 1000.0 / np.log(2)
    kl = np.minimum(kb + rng.exponential(scale, k), t1)
    reclaimable = rng.random(k) < p["kernel_reclaimable_fraction"]
    gfp = np.where(reclaimable, GFP_KERNEL_RECLAIMABLE, GFP_KERNEL)
    pk = np.where(reclaimable, PK_SLAB, PK_KERNEL)
    b.add((kb * NS).astype(np.int64), kern, EV_ALLOC, cpu=cpu, arg=gfp, pkind=pk)
    keep = kl < t_end
    b.add((kl[keep] * NS).astype(np.int64) + 1, kern[keep], EV_FREE, cpu=cpu)
    # source files read into the page cache early in the job, locked while the read runs
    r = int(rng.poisson(p["file_read_pages_per_job"]))
    reads = b.new_objects(r)
    rt = (rng.uniform(t0, t0 + p["read_window_fraction"] * life, r) * NS).astype(np.int64)
    b.add(rt, reads, EV_ALLOC, cpu=cpu, arg=GFP_HIGHUSER_MOVABLE, pkind=PK_FILE)
    b.add(rt + 1, reads, EV_LOCK, cpu=cpu, arg=int(p["read_lock_us"]))
    # short-term GUP pins on the job's anonymous pages
    if n:
        m = int(rng.poisson(p["gup_pins_per_s_per_job"] * life))
        which = rng.integers(0, n, m)
        when = np.maximum(born[which], rng.uniform(t0, t1, m))
        dur = rng.lognormal(np.log(max(p["pin_us_median"], 1.0)), p["pin_sigma"], m)
        dur = dur.astype(np.int64) + 1
        b.add(
            (when * NS).astype(np.int64) + 3, anon[which], EV_PIN, cpu=cpu, arg=dur, order=REF_GUP
        )


def _running_loops(p) -> list[tuple[int, int, float]]:
    """The re-read loops that read anything: (index in REREAD_LOOPS, pages, pages/s)."""
    loops = [(k, int(p[size]), float(p[rate])) for k, (size, rate) in enumerate(REREAD_LOOPS)]
    return [loop for loop in loops if loop[1] > 0 and loop[2] > 0]


def _reread_loops(b: _Builder, p, nr_cpus: int, lead: float, t_end: float) -> None:
    """The re-read loops (``while :; do cat FILES; done``), from ``lead`` seconds before the
    build's time 0 to the end: loop k reads its ``pages`` file pages one after another at
    ``rate`` pages/s, on CPU ``k % nr_cpus``; a read that misses is in flight ``read_lock_us``.
    Each page is read once per pass (``generic_file_buffered_read`` marks a page accessed
    once per sequential read of it)."""
    for k, pages, rate in _running_loops(p):
        objs = b.new_objects(pages)
        i = np.arange(int((lead + t_end) * rate))
        when = (i * (NS / rate)).astype(np.int64) - int(lead * NS)
        b.add(when, objs[i % pages], EV_READ, cpu=k % nr_cpus,
              arg=int(p["read_lock_us"]), pkind=PK_FILE)  # fmt: skip


def _stacks(b: _Builder, p, jobs: list[tuple[float, float, int]], t_end: float) -> None:
    """Kernel stacks as v5.9/v5.10 ``alloc_thread_stack_node`` / ``free_thread_stack`` with
    ``CONFIG_VMAP_STACK`` (kernel/fork.c) give and take them: a fork first takes a stack from
    its CPU's cache of ``stack_cache_per_cpu`` (``NR_CACHED_STACKS``), else vmallocs
    ``fork_stack_pages`` order-0 pages (``THREADINFO_GFP``: GFP_KERNEL, unmovable); an exit
    puts its stack in a free cache slot, else vfrees its pages. Fork and exit are taken on
    the job's CPU; every cache starts empty."""
    per = int(p["fork_stack_pages"])
    slots = int(p["stack_cache_per_cpu"])
    steps = sorted([(t0, 1, k, cpu) for k, (t0, _, cpu) in enumerate(jobs)]
                   + [(t1, 0, k, cpu) for k, (_, t1, cpu) in enumerate(jobs) if t1 < t_end])
    cache: dict[int, list[np.ndarray]] = {}
    held: dict[int, np.ndarray] = {}
    for t, is_fork, k, cpu in steps:  # exits sort before forks at the same time
        mine = cache.setdefault(cpu, [])
        if is_fork:
            if mine:
                held[k] = mine.pop()
                continue
            held[k] = objs = b.new_objects(per)
            b.add(int(t * NS), objs, EV_ALLOC, cpu=cpu, arg=GFP_KERNEL, pkind=PK_KERNEL)
        else:
            objs = held.pop(k)
            if len(mine) < slots:
                mine.append(objs)
            else:
                b.add(int(t * NS) + 2, objs, EV_FREE, cpu=cpu)


def _metadata(
    b: _Builder,
    p,
    rng,
    cache_objs: np.ndarray,
    nr_cpus: int,
    t_end: float,
    dirty_times: list[np.ndarray],
    dirty_objs: list[np.ndarray],
) -> None:
    """Movable ext4 metadata pages and their jbd2 journaling (see the module docstring).

    Only the movable share is generated (the unmovable metadata never sits in CMA or in a
    movable pageblock's way). The stock is part of the page cache read at time 0; new metadata
    pages are read at a rate per job. A share ``metadata_journal_new_fraction`` of the journal
    events is on a block created at that moment (``sb_getblk`` of a new bitmap, inode-table or
    directory block, modified at once): a new page, allocated where new movable allocations
    go; those pages count against the read rate. The other journal events pick a metadata
    page alive at the time (the journaled share of movable and unmovable metadata taken to be
    the same), looked up through the buffer cache first (``mark_page_accessed``: the second
    lookup of a page activates it on the LRU). A journaled page holds an extra reference
    (``REF_JOURNAL``) from the write access until the flusher has written it back plus a wait
    for the next commit; it is dirty from its commit on and goes through the flusher like any
    dirty page (the release time ignores the page's place in the flusher's queue, milliseconds
    against tens of seconds).
    """
    jobs = p["jobs"]
    share = p["metadata_movable_fraction"]
    commit_s = p["commit_interval_s"]
    n_stock = int(round(len(cache_objs) * p["metadata_cache_fraction"] * share))
    stock = rng.choice(cache_objs, n_stock, replace=False) if n_stock else cache_objs[:0]
    # the hot core's share of the journaled blocks is journaled by _hot_metadata
    journal_rate = p["metadata_journal_per_s_per_job"] * jobs * share * (
        1.0 - p["metadata_hot_fraction"])
    created_rate = journal_rate * p["metadata_journal_new_fraction"]
    read_rate = max(p["metadata_reads_per_s_per_job"] * jobs * share - created_rate, 0.0)
    n_new = int(rng.poisson(read_rate * t_end))
    new = b.new_objects(n_new)
    born = np.sort(rng.uniform(0.0, t_end, n_new))
    cpus = rng.integers(0, nr_cpus, n_new)
    b.add((born * NS).astype(np.int64), new, EV_ALLOC, cpu=cpus, arg=GFP_HIGHUSER_MOVABLE,
          pkind=PK_FILE)  # fmt: skip
    m = int(rng.poisson(journal_rate * t_end))
    # not before the stock exists (the page cache is read at time 0, a page at a time)
    stock_ready = len(cache_objs) * int(p["pagecache_read_ns_per_page"]) / NS
    when = np.maximum(np.sort(rng.uniform(0.0, t_end, m)), stock_ready)
    alive = n_stock + np.searchsorted(born, when, side="right")
    pick = (rng.random(m) * alive).astype(np.int64)
    created = rng.random(m) < p["metadata_journal_new_fraction"]
    commit = when + rng.uniform(0.0, commit_s, m)
    release = _checkpointed(p, commit, rng.uniform(0.0, commit_s, m))
    # a created block: a new page, allocated (on a random CPU) just before its write access
    fresh = b.new_objects(int(created.sum()))
    b.add((when[created] * NS).astype(np.int64), fresh, EV_ALLOC,
          cpu=rng.integers(0, nr_cpus, len(fresh)), arg=GFP_HIGHUSER_MOVABLE,
          pkind=PK_FILE)  # fmt: skip
    has = created | (alive > 0)
    objs = np.full(m, -1, dtype=np.int64)
    objs[created] = fresh
    existing = ~created & (alive > 0)
    objs[existing] = np.concatenate([stock, new])[pick[existing]]
    _journal(b, objs[has], when[has], commit[has], release[has], ~created[has],
             dirty_times, dirty_objs)
    # the hot core is what the build's file creations modify: none without a build
    n_hot = min(int(p["metadata_hot_blocks"]), n_stock + n_new) if jobs > 0 else 0
    if n_hot:
        pool = np.concatenate([rng.permutation(stock), new])[:n_hot]
        birth = np.concatenate([np.full(n_stock, stock_ready), born])[:n_hot]
        _hot_metadata(b, p, rng, pool, birth, t_end, dirty_times, dirty_objs)


def _checkpointed(p, commit: np.ndarray, wait: np.ndarray) -> np.ndarray:
    """When jbd2 lets go of a buffer committed at ``commit``: the flusher writes it back
    (the first run after its dirty expiry, plus the device's latency), and the next commit,
    ``wait`` later, cleans it off the checkpoint list (``__jbd2_journal_clean_checkpoint_list``
    drops the ``journal_head`` and its reference)."""
    return _flusher_tick(p, commit) + p["storage_latency_ms"] / 1000.0 + wait


def _journal(b: _Builder, objs: np.ndarray, when: np.ndarray, commit: np.ndarray,
             release: np.ndarray, looked_up: np.ndarray, dirty_times: list[np.ndarray],
             dirty_objs: list[np.ndarray]) -> None:
    """Journal metadata pages ``objs`` at times ``when`` (s): jbd2's write access
    (``do_get_write_access`` attaches a ``journal_head``: an extra reference, ``REF_JOURNAL``)
    until ``release``; dirty from the transaction's ``commit`` on. A block that existed
    (``looked_up``) is looked up first (``__getblk`` -> ``touch_buffer`` ->
    ``mark_page_accessed``): a block journaled twice is activated, as hot bitmaps are."""
    hold_us = np.minimum((release - when) * 1e6, 2**31 - 1).astype(np.int64) + 1
    # after the allocation of a page born at the same nanosecond
    b.add((when * NS).astype(np.int64) + 4, objs, EV_PIN, arg=hold_us, order=REF_JOURNAL)
    b.add((when[looked_up] * NS).astype(np.int64) + 3, objs[looked_up], EV_ACCESS)
    b.add((commit * NS).astype(np.int64) + 4, objs, EV_DIRTY)
    dirty_times.append(commit)
    dirty_objs.append(objs)


def _hot_metadata(b: _Builder, p, rng, objs: np.ndarray, birth: np.ndarray, t_end: float,
                  dirty_times: list[np.ndarray], dirty_objs: list[np.ndarray]) -> None:
    """The hot core of the journaled metadata: the block and inode bitmaps of the groups the
    build allocates from, the inode-table blocks it fills and the directory and extent blocks
    it adds entries to. Every file the build creates modifies them, so each is journaled again
    ``metadata_rejournal_s`` (median; exponential) after the flusher wrote it back, from the
    moment it is cached (``birth``) to the end: the same few pages hold a ``journal_head``
    almost all the time, where the journal stream's pages hold one once. They are the
    movable metadata (``sb_getblk``): the oldest of it, the first ``metadata_hot_blocks``
    pages to be cached, in random order."""
    scale = p["metadata_rejournal_s"] / np.log(2.0)
    commit_s = p["commit_interval_s"]
    rows: list[tuple[float, int, float, float]] = []  # (write access, page, commit, release)
    for obj, t0 in zip(objs, birth, strict=True):
        t = t0 + rng.exponential(scale)
        while t < t_end:
            commit = t + rng.uniform(0.0, commit_s)
            release = float(_checkpointed(p, np.array([commit]), rng.uniform(0.0, commit_s))[0])
            rows.append((t, int(obj), commit, release))
            # the next write access comes a gap after the flusher wrote this one back
            t = float(_flusher_tick(p, np.array([commit]))[0]) + rng.exponential(scale)
    if rows:
        when, pages, commit, release = (np.array(c) for c in zip(*rows, strict=True))
        _journal(b, pages.astype(np.int64), when, commit, release,
                 np.ones(len(when), dtype=bool), dirty_times, dirty_objs)


def _without(events: np.ndarray, ablate: frozenset[str]) -> np.ndarray:
    """The events minus those of the ablated mechanisms."""
    drop = np.zeros(len(events), dtype=bool)
    pin = events["kind"] == EV_PIN
    if "journal" in ablate:
        drop |= pin & (events["order"] == REF_JOURNAL)
    if "gup_pins" in ablate:
        drop |= pin & (events["order"] == REF_GUP)
    if "read_locks" in ablate:
        drop |= events["kind"] == EV_LOCK
    if "writeback" in ablate:
        drop |= events["kind"] == EV_WRITEBACK
    return events[~drop] if drop.any() else events


def _flusher_tick(p, dirtied: np.ndarray) -> np.ndarray:
    """The first flusher run (every ``flusher_interval_s``) after a page's dirty expiry."""
    interval = p["flusher_interval_s"]
    return np.ceil((dirtied + p["dirty_expire_s"]) / interval) * interval


def _flusher(b: _Builder, p, dirtied: np.ndarray, objs: np.ndarray, t_end: float) -> None:
    """Periodic writeback of expired dirty pages through a bandwidth-limited device."""
    tick = _flusher_tick(p, dirtied)
    keep = tick < t_end
    tick, objs = tick[keep], objs[keep]
    order = np.lexsort((objs, tick))
    tick, objs = tick[order], objs[order]
    # within a flusher run, pages complete one after another at the device's bandwidth
    per_page_s = 4096 / (p["storage_mb_per_s"] * 1e6) if p["storage_mb_per_s"] > 0 else 0.0
    _, first = np.unique(tick, return_index=True)
    rank = np.arange(len(tick)) - np.repeat(first, np.diff(np.append(first, len(tick))))
    done_us = (p["storage_latency_ms"] * 1000.0 + rank * per_page_s * 1e6).astype(np.int64) + 1
    b.add((tick * NS).astype(np.int64), objs, EV_WRITEBACK, arg=np.minimum(done_us, 2**31 - 1))
