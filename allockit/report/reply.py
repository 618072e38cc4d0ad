"""A draft reply for linux-mm: the seed's question, the tables, the figures, how to rerun.

Assembled from finished sweeps; everything in it comes from their result files. Plain text,
≤ 80 columns, bottom-posting friendly: the tables are the mmtests-style ones of
``allockit report``, the figures are listed by file name (they carry the spec hash).
"""

from __future__ import annotations

from pathlib import Path

from ..experiment.sweep import load_results, manifest
from .sensitivity import ranking
from .text import sweep_report, wrap


def headline(d: Path) -> str:
    """One paragraph: per strategy, successes and median latency at the sweep's first point."""
    df = load_results(d)
    first = df[df.point == df.point.iloc[0]]
    parts = []
    for s in ranking(first):
        x = first[first.strategy == s]
        parts.append(f"{s} {int(x.success.sum())}/{len(x)} "
                     f"({x.latency_ms.median():.0f} ms median)")
    return "\n".join(wrap("Simulated, best first (trials that got every block, median latency): "
                 + "; ".join(parts) + "."))


def lkml_reply(
    sweep_dirs: list[Path], figures: list[Path] | None = None, *, baseline: str | None = None,
    strategies: list[str] | None = None,
) -> str:
    """The reply text for ``sweep_dirs`` (the first one gives the headline)."""
    if not sweep_dirs:
        raise ValueError("sweep_dirs: empty; allowed: one or more sweep directories")
    intro = "\n".join(wrap(
        "On the question of how MAX_ORDER-1 chunking compares with a single cma_alloc and "
        "alloc_pages_bulk() under a kernel build: I ran it through allockit, a page-granular "
        "simulation of the v5.9 page allocator (buddy, pcp, CMA, isolation, migration, "
        "compaction, reclaim, writeback) with a synthetic kernel build fitted to a real "
        "trace. Simulated numbers, not device measurements; the model and its cost "
        "constants are in the repository."
    ))
    out = [intro, "", headline(sweep_dirs[0]), ""]
    for d in sweep_dirs:
        m = manifest(d)
        out += [f"--- {m['name']} ---", sweep_report(d, baseline=baseline,
                                                     strategies=strategies)]
    if figures:
        out += ["Figures (file names carry the spec hash):"]
        out += [f"  {Path(f).name}" for f in figures]
    return "\n".join(out).rstrip() + "\n"
