"""What blocks ``alloc_contig_range`` on the real kernel: the lab module's busy-page census.

Every -EBUSY of ``alloc_contig_range`` (a ``cma_alloc`` slide) in 5.10 and 6.1 comes from
``test_pages_isolated`` finding, after migration, a pfn in the range that is not a free buddy
page. The module (``lab/module/allockit_lab.c``) repeats that walk in a kretprobe, classifies the
first busy page (:data:`CLASSES`) and reports, per experiment run, failures and distinct pfns per
class on the ``result`` line (Parquet columns ``busy_<class>``, ``busy_distinct_<class>``) and the
first 20 distinct busy pages in full as ``busy`` lines of the console log. This module turns
those into tables: :func:`census_table` (per kernel and experiment, class -> failures, share,
distinct pfns) and :func:`details` (the busy lines of one console log).
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd

from .guest import parse_console

# The module's classes (bc_names in allockit_lab.c), in its order of precedence.
CLASSES = (
    "free_nobuddy", "slab", "pagetable", "typed", "anon_lru", "anon_nolru", "movable_nonlru",
    "file_writeback", "file_locked", "file_dirty", "file_nolru", "file_buffers",
    "file_lru_clean", "lru_nomapping", "compound_kernel", "kernel", "raced",
)  # fmt: skip
# Failures by what held the page, across classes (counted in the module on the same pages).
HOLDERS = ("bdev", "bh_held", "jbd")


def census_table(df: pd.DataFrame, by: tuple[str, ...] = ("kernel", "strategy")) -> pd.DataFrame:
    """Class -> failures, share of the failures, distinct pfns, per ``by`` group.

    Only rows that carry the census (``busy_fails`` not null) count; ``runs`` is their number,
    ``fails`` the group's -EBUSY total, ``distinct`` the sum over runs of the distinct busy
    pfns of each run (a pfn busy in two runs counts twice). Classes with no failure are left
    out; a pfn counts as distinct in the class of its first failure in the run. The rows
    ``holder:<name>`` are the failures whose page was a block-device page
    (``bdev``), had a referenced buffer head (``bh_held``), or one with a jbd2 journal_head
    (``jbd``) -- overlapping the classes, shares of the same total.
    """
    if "busy_fails" not in df:
        raise ValueError("census_table: no busy_fails column; the run predates the census")
    d = df[df["busy_fails"].notna()]
    out = []
    for key, g in d.groupby(list(by), sort=False):
        key = key if isinstance(key, tuple) else (key,)
        base = dict(zip(by, key, strict=True))
        fails = int(g["busy_fails"].sum())
        for cls in CLASSES:
            n = int(g[f"busy_{cls}"].sum())
            if n:
                out.append({
                    **base, "class": cls, "runs": len(g), "fails": fails, "n": n,
                    "share": n / fails, "distinct": int(g[f"busy_distinct_{cls}"].sum()),
                })  # fmt: skip
        for h in HOLDERS:
            col = f"busy_{h}"
            n = int(g[col].sum()) if col in g else 0
            if n:
                out.append({**base, "class": f"holder:{h}", "runs": len(g), "fails": fails,
                            "n": n, "share": n / fails, "distinct": None})  # fmt: skip
    return pd.DataFrame(out)


def details(console: str | Path) -> pd.DataFrame:
    """The ``busy`` lines of a console log (text, or a path to a ``.log`` / ``.log.gz`` as a
    ``Path`` or a ``str``), one row per distinct busy pfn of an experiment run (the first 20 of
    each run). A ``str`` is a path when it is one line without ``ALLOCKIT``: console text is
    ``ALLOCKIT`` lines; a path that does not exist is an error, never an empty table."""
    if isinstance(console, str) and console and "\n" not in console and "ALLOCKIT" not in console:
        console = Path(console)
    if isinstance(console, Path):
        opener = gzip.open if console.suffix == ".gz" else open
        with opener(console, "rt", errors="replace") as fh:
            console = fh.read()
    return pd.DataFrame(parse_console(console).events["busy"])


def _pct(share: float) -> str:
    return "<1%" if 0 < share < 0.005 else f"{share:.0%}"


def markdown(t: pd.DataFrame) -> str:
    """:func:`census_table` as a Markdown table, one row per kernel and experiment: runs,
    failures, distinct pfns (summed over runs), classes by failures (share, distinct pfns) and
    the holder shares."""
    lines = [
        "| kernel | experiment | runs | failures | distinct pfns | classes: failures (share; "
        "distinct pfns) | bdev / bh held / jbd2 |",
        "|---|---|---|---|---|---|---|",
    ]
    for (kernel, strategy), g in t.groupby(["kernel", "strategy"], sort=False):
        cls = g[~g["class"].str.startswith("holder:")].sort_values("n", ascending=False)
        hold = g[g["class"].str.startswith("holder:")].set_index("class")
        cells = "; ".join(
            f"{r['class']} {r['n']:,} ({_pct(r['share'])}; {int(r['distinct']):,})"
            for _, r in cls.iterrows()
        )
        hs = " / ".join(
            _pct(hold.loc[f"holder:{h}", "share"]) if f"holder:{h}" in hold.index else "0%"
            for h in HOLDERS
        )
        fails, runs = int(g["fails"].iloc[0]), int(g["runs"].iloc[0])
        lines.append(
            f"| {kernel} | `{strategy}` | {runs} | {fails:,} | {int(cls['distinct'].sum()):,} "
            f"| {cells or '–'} | {hs if fails else '–'} |"
        )
    return "\n".join(lines)
