"""What a real workload does to the page allocator, from an ftrace capture, in one pass.

:func:`trace_stats` streams an ftrace text capture (plain or compressed, see
``allockit.ingest.ftrace``) once and returns plain-Python statistics (JSON-serialisable) to fit
and check the synthetic workload against:

* allocation and free rates; a page freed through a batched free emits ``mm_page_free`` *and*
  ``mm_page_free_batched`` (6.x: the batched event comes after the free, both on the same pfn;
  older kernels emitted it just before the free). Each such pair is counted as one free: a
  batched event is a free only if no ``mm_page_free`` of the same pfn since its last
  allocation accounts for it, and an ``mm_page_free`` is not counted again after such a
  batched free;
* order, migratetype and gfp-flag mixes of the (successful) allocations; a failed
  allocation (``pfn`` 0: the tracepoint prints 0 when no page was found) is counted apart;
* page lifetimes by kind (migratetype 0 unmovable, 1 movable, 2 reclaimable, others
  "other"): each allocation is matched with the next free of the same pfn; count, p10,
  median, p90 (ms) of the freed ones, and the fraction never freed before the capture ends
  (censored: also given for the allocations of the first half of the capture only);
* page-cache insertions and deletions, dirtied folios (``writeback_dirty_folio``, or
  ``writeback_dirty_page`` on kernels from before the folio conversion), ``writeback_written``
  events, reclaim counters;
* per-second series of allocations, frees and page-cache insertions.

Memory: one dict entry per live allocated pfn, one set entry per freed pfn whose batched
echo is pending or that was freed alone, and 8 bytes per freed allocation (lifetimes): about
110 MB peak for the 5.8 M-line kbuild capture (1.84 M allocations).
"""

from __future__ import annotations

import os
from array import array
from collections import Counter

import numpy as np

from allockit.ingest.ftrace import AUTO, CONVERTERS, FtraceParser, ParseReport, _Bad

__all__ = ["KINDS", "trace_stats"]

KINDS = ("unmovable", "movable", "reclaimable", "other")
_KIND_OF_MT = {"0": 0, "1": 1, "2": 2}  # raw migratetype string -> index in KINDS
MIGRATETYPE_NAMES = {
    "0": "unmovable",
    "1": "movable",
    "2": "reclaimable",
    "3": "highatomic",
    "4": "cma",
    "5": "isolate",
}
_PAGES_OF_ORDER = {str(o): 1 << o for o in range(16)}


def _get(fields, key: str):
    """A field that older kernels may not print (a regex match or a dict), or None."""
    try:
        return fields[key]
    except (KeyError, IndexError):
        return None


def _rate(n: int | float, duration: float) -> float | None:
    return float(n) / duration if duration > 0 else None


def _mix(counts: Counter, total: int, key=int) -> dict[str, float]:
    if total <= 0:
        return {}
    return {str(k): counts[k] / total for k in sorted(counts, key=key)}


def trace_stats(
    path: str | os.PathLike,
    formats_dir: str | os.PathLike | None = None,
    *,
    errors: str = "raise",
    top_gfp: int = 10,
    bin_s: float = 1.0,
    report: ParseReport | None = None,
) -> dict:
    """Statistics of an ftrace capture in one streaming pass (see the module docstring).

    ``formats_dir``: the capture's event format files (version-aware parsing). ``errors``:
    ``"raise"`` (default; bad lines raise ``TraceParseError`` naming file and line) or
    ``"count"`` (skip and count them; the counts are in the result's ``"parse"`` entry and in
    ``report`` if one is passed). ``bin_s``: width of the time-series bins.
    """
    if not bin_s > 0:
        raise ValueError(f"bin_s: {bin_s!r} is not allowed (must be > 0)")
    parser = FtraceParser(formats_dir, errors=errors)
    specs = parser.specs

    def pfn_conv(event: str):
        spec = specs.get(event)
        return CONVERTERS[spec.convs.get("pfn", AUTO)] if spec is not None else None

    cv_alloc = pfn_conv("mm_page_alloc")
    cv_free = pfn_conv("mm_page_free")
    cv_batched = pfn_conv("mm_page_free_batched")
    inv_bin = 1.0 / bin_s

    event_counts: Counter = Counter()
    t_first: float | None = None
    t_last = float("-inf")
    backwards = 0

    alive: dict[int, tuple[float, int, str]] = {}  # pfn -> (alloc ts, kind index, raw order)
    pend_free: set[int] = set()  # freed by mm_page_free, its batched echo not seen yet
    pend_batched: set[int] = set()  # freed by mm_page_free_batched first (older kernels)
    lifetimes = [array("d") for _ in KINDS]
    allocs_by_kind = [0] * len(KINDS)
    kind_series: list[list[int]] = [[] for _ in KINDS]

    order_counts: Counter = Counter()
    mt_counts: Counter = Counter()
    gfp_counts: Counter = Counter()
    failed_gfp: Counter = Counter()
    n_alloc = n_failed = alloc_pages = 0
    n_free = free_pages = 0
    n_free_ev = n_batched_ev = batched_paired = free_after_batched = 0
    frees_unmatched = realloc = order_mismatch = 0

    pc_add = pc_del = pc_add_pages = pc_del_pages = 0
    dirty = 0
    wb_events = 0
    wb_reasons: Counter = Counter()
    wb_nr_pages: list[int] = []
    shrink = {"events": 0, "nr_scanned": 0, "nr_reclaimed": 0}
    memcg = {"begin": 0, "end": 0, "nr_reclaimed": 0}
    kswapd_wakes = 0
    other_counts: Counter = Counter()

    s_alloc: list[int] = []
    s_free: list[int] = []
    s_pc: list[int] = []
    nbins = 0

    # the three events of 5.4 M of the kbuild capture's 5.8 M lines, matched inline
    sp_alloc = specs["mm_page_alloc"]
    sp_free = specs["mm_page_free"]
    sp_batched = specs["mm_page_free_batched"]
    rx_alloc, rx_free, rx_batched = (
        sp.body_re.fullmatch if sp.body_re is not None else (lambda _body: None)
        for sp in (sp_alloc, sp_free, sp_batched)
    )
    gfp_ok = sp_alloc._flags_ok
    edge = float("-inf")  # end of the current time bin
    b = 0

    for lineno, line, ts, spec, _m, body in parser.scan(path, report):
        try:
            if ts >= t_last:
                t_last = ts
                if ts >= edge:  # a new time bin
                    if t_first is None:
                        t_first = ts
                    b = int((ts - t_first) * inv_bin)
                    edge = t_first + (b + 1) * bin_s
                    if b >= nbins:
                        grow = b + 1 - nbins
                        for s in (s_alloc, s_free, s_pc, *kind_series):
                            s.extend([0] * grow)
                        nbins = b + 1
                bb = b
            else:  # out of order (never in a merged trace file): its own bin
                backwards += 1
                bb = max(0, int((ts - t_first) * inv_bin))

            if spec is sp_free:
                f = rx_free(body) or sp_free.raw(body)
                pfn = cv_free(f["pfn"])
                n_free_ev += 1
                if pfn in pend_batched:  # its batched free was counted already
                    pend_batched.discard(pfn)
                    free_after_batched += 1
                else:
                    order = f["order"]
                    n_free += 1
                    free_pages += _PAGES_OF_ORDER.get(order) or (1 << int(order))
                    s_free[bb] += 1
                    pend_free.add(pfn)
                    a = alive.pop(pfn, None)
                    if a is None:
                        frees_unmatched += 1
                    else:
                        lifetimes[a[1]].append(ts - a[0])
                        if a[2] != order:
                            order_mismatch += 1
            elif spec is sp_alloc:
                f = rx_alloc(body) or sp_alloc.raw(body)
                gfp = f["gfp_flags"]
                if gfp not in gfp_ok:
                    sp_alloc._check_flags("gfp_flags", gfp)
                pfn = cv_alloc(f["pfn"])
                order = f["order"]
                if pfn == 0:
                    n_failed += 1
                    failed_gfp[gfp] += 1
                else:
                    mt = f["migratetype"]
                    n_alloc += 1
                    order_counts[order] += 1
                    mt_counts[mt] += 1
                    gfp_counts[gfp] += 1
                    alloc_pages += _PAGES_OF_ORDER.get(order) or (1 << int(order))
                    kind = _KIND_OF_MT.get(mt, 3)
                    allocs_by_kind[kind] += 1
                    kind_series[kind][bb] += 1
                    s_alloc[bb] += 1
                    pend_free.discard(pfn)
                    pend_batched.discard(pfn)
                    if pfn in alive:
                        realloc += 1
                    alive[pfn] = (ts, kind, order)
            elif spec is sp_batched:
                f = rx_batched(body) or sp_batched.raw(body)
                pfn = cv_batched(f["pfn"])
                n_batched_ev += 1
                if pfn in pend_free:  # the echo of an mm_page_free already counted
                    pend_free.discard(pfn)
                    batched_paired += 1
                else:  # a free on its own (older kernels: the batched event comes first)
                    n_free += 1
                    free_pages += 1
                    s_free[bb] += 1
                    pend_batched.add(pfn)
                    a = alive.pop(pfn, None)
                    if a is None:
                        frees_unmatched += 1
                    else:
                        lifetimes[a[1]].append(ts - a[0])
            else:
                f = spec.raw(body)
                name = spec.name
                if name == "mm_filemap_add_to_page_cache":
                    pc_add += 1
                    pc_add_pages += _PAGES_OF_ORDER.get(_get(f, "order"), 1)
                    s_pc[bb] += 1
                elif name == "mm_filemap_delete_from_page_cache":
                    pc_del += 1
                    pc_del_pages += _PAGES_OF_ORDER.get(_get(f, "order"), 1)
                elif name in ("writeback_dirty_folio", "writeback_dirty_page"):
                    dirty += 1
                elif name == "writeback_written":
                    wb_events += 1
                    wb_reasons[f["reason"]] += 1
                    wb_nr_pages.append(int(f["nr_pages"]))
                elif name == "mm_vmscan_lru_shrink_inactive":
                    shrink["events"] += 1
                    shrink["nr_scanned"] += int(f["nr_scanned"])
                    shrink["nr_reclaimed"] += int(f["nr_reclaimed"])
                elif name == "mm_vmscan_memcg_reclaim_begin":
                    memcg["begin"] += 1
                elif name == "mm_vmscan_memcg_reclaim_end":
                    memcg["end"] += 1
                    memcg["nr_reclaimed"] += int(f["nr_reclaimed"])
                elif name == "mm_vmscan_kswapd_wake":
                    kswapd_wakes += 1
                elif name != "mm_page_pcpu_drain":
                    other_counts[name] += 1
        except _Bad as exc:
            parser.bad_fields(exc, lineno, line)
            continue
        event_counts[spec.name] += 1
    parser.report.events = sum(event_counts.values())

    duration = (t_last - t_first) if t_first is not None else 0.0
    half = nbins // 2

    # lifetimes by kind
    alive_by_kind = [0] * len(KINDS)
    alive_first_half = [0] * len(KINDS)
    for a_ts, kind, _order in alive.values():
        alive_by_kind[kind] += 1
        if t_first is not None and int((a_ts - t_first) * inv_bin) < half:
            alive_first_half[kind] += 1
    life_out: dict[str, dict] = {}
    all_arrays = []
    for k, kname in enumerate(KINDS):
        arr = np.frombuffer(lifetimes[k], dtype=np.float64) * 1e3 if lifetimes[k] else None
        if arr is not None:
            all_arrays.append(arr)
        first_half_allocs = sum(kind_series[k][:half])
        life_out[kname] = _lifetime_summary(
            arr, allocs_by_kind[k], alive_by_kind[k], first_half_allocs, alive_first_half[k]
        )
    life_out["all"] = _lifetime_summary(
        np.concatenate(all_arrays) if all_arrays else None,
        n_alloc,
        sum(alive_by_kind),
        sum(sum(s[:half]) for s in kind_series),
        sum(alive_first_half),
    )

    top = gfp_counts.most_common(top_gfp)
    result = {
        "source": os.fspath(path),
        "formats_dir": None if formats_dir is None else os.fspath(formats_dir),
        "t_start": t_first,
        "t_end": t_last if t_first is not None else None,
        "duration_s": duration,
        "event_counts": dict(sorted(event_counts.items())),
        "timestamps_out_of_order": backwards,
        "allocs": n_alloc,
        "failed_allocs": n_failed,
        "failed_alloc_gfp": dict(failed_gfp.most_common(top_gfp)),
        "alloc_pages": alloc_pages,
        "frees": n_free,
        "free_pages": free_pages,
        "allocs_per_s": _rate(n_alloc, duration),
        "frees_per_s": _rate(n_free, duration),
        "alloc_pages_per_s": _rate(alloc_pages, duration),
        "free_pages_per_s": _rate(free_pages, duration),
        "free_accounting": {
            "mm_page_free_events": n_free_ev,
            "mm_page_free_batched_events": n_batched_ev,
            "batched_after_free": batched_paired,
            "batched_alone": n_batched_ev - batched_paired,
            "free_after_batched": free_after_batched,
            "frees_of_pages_allocated_before_capture": frees_unmatched,
            "realloc_without_free": realloc,
            "free_order_differs_from_alloc": order_mismatch,
        },
        "order_counts": {str(k): order_counts[k] for k in sorted(order_counts, key=int)},
        "order_mix": _mix(order_counts, n_alloc),
        "migratetype_counts": {str(k): mt_counts[k] for k in sorted(mt_counts, key=int)},
        "migratetype_mix": _mix(mt_counts, n_alloc),
        "migratetype_names": {k: MIGRATETYPE_NAMES.get(k, "?") for k in sorted(mt_counts)},
        "gfp_distinct": len(gfp_counts),
        "gfp_top": [
            {"gfp_flags": g, "count": c, "fraction": c / n_alloc if n_alloc else 0.0}
            for g, c in top
        ],
        "gfp_other_fraction": (1.0 - sum(c for _, c in top) / n_alloc if n_alloc else 0.0),
        "lifetime_ms": life_out,
        "pagecache": {
            "adds": pc_add,
            "deletes": pc_del,
            "add_pages": pc_add_pages,
            "delete_pages": pc_del_pages,
            "adds_per_s": _rate(pc_add, duration),
            "deletes_per_s": _rate(pc_del, duration),
        },
        "dirtied_folios": dirty,
        "dirtied_folios_per_s": _rate(dirty, duration),
        "writeback_written": {
            "events": wb_events,
            "by_reason": dict(wb_reasons),
            # nr_pages is the work item's remaining page budget when the event fires
            "nr_pages": wb_nr_pages,
        },
        "reclaim": {
            "lru_shrink_inactive": shrink,
            "memcg_reclaim": memcg,
            "kswapd_wakes": kswapd_wakes,
        },
        "other_event_counts": dict(other_counts),
        "series": {
            "bin_s": bin_s,
            "t0": t_first,
            "allocs": s_alloc,
            "frees": s_free,
            "pagecache_adds": s_pc,
        },
        "parse": parser.report.to_dict(),
    }
    return result


def _lifetime_summary(arr, allocs: int, alive: int, first_half: int, alive_first_half: int):
    out = {
        "allocs": allocs,
        "freed": 0 if arr is None else int(arr.size),
        "p10_ms": None,
        "median_ms": None,
        "p90_ms": None,
        "mean_ms": None,
        "never_freed": alive,
        "never_freed_fraction": alive / allocs if allocs else None,
        "never_freed_fraction_first_half": (alive_first_half / first_half if first_half else None),
    }
    if arr is not None and arr.size:
        p10, p50, p90 = np.percentile(arr, [10, 50, 90])
        # timestamps have 1 us resolution: 4 decimals of a millisecond keep all of it
        out.update(
            p10_ms=round(float(p10), 4),
            median_ms=round(float(p50), 4),
            p90_ms=round(float(p90), 4),
            mean_ms=round(float(arr.mean()), 4),
        )
    return out
