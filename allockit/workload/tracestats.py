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
from collections.abc import Callable, Mapping

import numpy as np

from allockit.ingest.ftrace import EventSpec, FieldError, FtraceParser, ParseReport
from allockit.mm.constants import (
    MIGRATE_MOVABLE,
    MIGRATE_RECLAIMABLE,
    MIGRATE_UNMOVABLE,
    MIGRATETYPE_NAMES,
)

__all__ = ["KINDS", "TraceStats", "trace_stats"]

KINDS = ("unmovable", "movable", "reclaimable", "other")
# raw migratetype string -> index in KINDS
_KIND_OF_MT = {str(MIGRATE_UNMOVABLE): 0, str(MIGRATE_MOVABLE): 1, str(MIGRATE_RECLAIMABLE): 2}
# migratetype= prints the kernel's enum migratetype, numbered as the simulator numbers it;
# the names are the simulator's (and /proc/pagetypeinfo's), lower-cased
_MT_NAME_OF = {str(i): name.lower() for i, name in enumerate(MIGRATETYPE_NAMES)}
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


def _check_bin_s(bin_s: float) -> None:
    if not bin_s > 0:
        raise ValueError(f"bin_s: {bin_s!r} is not allowed (must be > 0)")


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
    _check_bin_s(bin_s)
    parser = FtraceParser(formats_dir, errors=errors)
    stats = TraceStats(parser.specs, top_gfp=top_gfp, bin_s=bin_s)
    add = stats.add
    for lineno, line, ts, spec, _m, body in parser.scan(path, report):
        try:
            add(ts, spec, body)
        except FieldError as exc:
            parser.bad_fields(exc, lineno, line)
    parser.report.events = stats.events
    return stats.result(path, formats_dir, parser.report)


class TraceStats:
    """The statistics of :func:`trace_stats`, accumulated one event at a time.

    :meth:`add` takes each event as :meth:`FtraceParser.scan` yields it, puts it in its time
    bin and hands it to the ``on_<event>`` method of its kind; :meth:`result` gives the
    statistics. The page events (``mm_page_alloc``, ``mm_page_free``,
    ``mm_page_free_batched``: 5.4 M of the kbuild capture's 5.8 M lines) get the field text
    and match it with their format's regular expression themselves; the other events get the
    fields :meth:`EventSpec.raw` returns. An event of no other kind is counted in
    ``other_event_counts``.

    Parameters
    ----------
    specs : Mapping[str, EventSpec]
        The event formats of the capture (:attr:`FtraceParser.specs`); the three page events
        must be among them.
    top_gfp : int
        How many of the most frequent gfp masks :meth:`result` lists.
    bin_s : float
        Width of the time-series bins, seconds (> 0).

    Raises
    ------
    ValueError
        For ``bin_s`` <= 0.
    """

    def __init__(self, specs: Mapping[str, EventSpec], *, top_gfp: int = 10, bin_s: float = 1.0):
        _check_bin_s(bin_s)
        self.top_gfp = top_gfp
        self.bin_s = bin_s
        self._inv_bin = 1.0 / bin_s
        self._page_events = self._page_event_handlers(specs)
        self._field_events: dict[str, Callable[[int, Mapping[str, str]], None]] = {
            "mm_filemap_add_to_page_cache": self.on_mm_filemap_add_to_page_cache,
            "mm_filemap_delete_from_page_cache": self.on_mm_filemap_delete_from_page_cache,
            "writeback_dirty_folio": self.on_writeback_dirty_folio,
            "writeback_dirty_page": self.on_writeback_dirty_folio,
            "writeback_written": self.on_writeback_written,
            "mm_vmscan_lru_shrink_inactive": self.on_mm_vmscan_lru_shrink_inactive,
            "mm_vmscan_memcg_reclaim_begin": self.on_mm_vmscan_memcg_reclaim_begin,
            "mm_vmscan_memcg_reclaim_end": self.on_mm_vmscan_memcg_reclaim_end,
            "mm_vmscan_kswapd_wake": self.on_mm_vmscan_kswapd_wake,
            "mm_page_pcpu_drain": self.on_mm_page_pcpu_drain,
        }
        # time: first and latest timestamp, the current bin [edge - bin_s, edge)
        self.event_counts: Counter = Counter()
        self.t_first: float | None = None
        self.t_last = float("-inf")
        self.backwards = 0
        self._edge = float("-inf")
        self._bin = 0
        self.nbins = 0
        self.s_alloc: list[int] = []
        self.s_free: list[int] = []
        self.s_pc: list[int] = []
        self.kind_series: list[list[int]] = [[] for _ in KINDS]
        # page lifetimes
        self.alive: dict[int, tuple[float, int, str]] = {}  # pfn -> (alloc ts, kind, order)
        self.pend_free: set[int] = set()  # freed by mm_page_free, its batched echo not seen yet
        self.pend_batched: set[int] = set()  # freed by mm_page_free_batched first (older)
        self.lifetimes = [array("d") for _ in KINDS]
        self.allocs_by_kind = [0] * len(KINDS)
        # allocations and frees
        self.order_counts: Counter = Counter()
        self.mt_counts: Counter = Counter()
        self.gfp_counts: Counter = Counter()
        self.failed_gfp: Counter = Counter()
        self.n_alloc = self.n_failed = self.alloc_pages = 0
        self.n_free = self.free_pages = 0
        self.n_free_ev = self.n_batched_ev = self.batched_paired = self.free_after_batched = 0
        self.frees_unmatched = self.realloc = self.order_mismatch = 0
        # page cache, writeback, reclaim
        self.pc_add = self.pc_del = self.pc_add_pages = self.pc_del_pages = 0
        self.dirty = 0
        self.wb_events = 0
        self.wb_reasons: Counter = Counter()
        self.wb_nr_pages: list[int] = []
        self.shrink = {"events": 0, "nr_scanned": 0, "nr_reclaimed": 0}
        self.memcg = {"begin": 0, "end": 0, "nr_reclaimed": 0}
        self.kswapd_wakes = 0
        self.other_counts: Counter = Counter()

    def _page_event_handlers(self, specs: Mapping[str, EventSpec]) -> dict:
        """{spec: handler} of the page events, and what their handlers match fields with."""
        sp_alloc = specs["mm_page_alloc"]
        sp_free = specs["mm_page_free"]
        sp_batched = specs["mm_page_free_batched"]
        self._sp_alloc, self._sp_free, self._sp_batched = sp_alloc, sp_free, sp_batched
        self._rx_alloc, self._rx_free, self._rx_batched = (
            sp.body_re.fullmatch if sp.body_re is not None else (lambda _body: None)
            for sp in (sp_alloc, sp_free, sp_batched)
        )
        self._pfn_alloc = sp_alloc.converter("pfn")
        self._pfn_free = sp_free.converter("pfn")
        self._pfn_batched = sp_batched.converter("pfn")
        # gfp masks already checked: a fullmatch does not check flag names, raw() does
        self._gfp_checked = sp_alloc.checked_flags
        return {
            sp_free: self.on_mm_page_free,
            sp_alloc: self.on_mm_page_alloc,
            sp_batched: self.on_mm_page_free_batched,
        }

    @property
    def events(self) -> int:
        """Events counted so far (lines whose fields were read without error)."""
        return sum(self.event_counts.values())

    # -- one event -------------------------------------------------------------------------------

    def add(self, ts: float, spec: EventSpec, body: str) -> None:
        """Count one event: trace-clock time ``ts``, its format and its field text.

        Raises
        ------
        FieldError
            When the fields do not have the form of the format. The event is not counted
            (its timestamp is: it still moves the time bins).
        """
        b = self._time_bin(ts)
        handler = self._page_events.get(spec)
        if handler is not None:
            handler(ts, b, body)
        else:
            fields = spec.raw(body)
            field_handler = self._field_events.get(spec.name)
            if field_handler is not None:
                field_handler(b, fields)
            else:
                self.other_counts[spec.name] += 1
        self.event_counts[spec.name] += 1

    def _time_bin(self, ts: float) -> int:
        """The series bin of ``ts``; a timestamp before the latest one gets its own bin."""
        if ts >= self.t_last:
            self.t_last = ts
            if ts >= self._edge:
                self._new_bin(ts)
            return self._bin
        # out of order (never in a merged trace file)
        self.backwards += 1
        return max(0, int((ts - self.t_first) * self._inv_bin))

    def _new_bin(self, ts: float) -> None:
        if self.t_first is None:
            self.t_first = ts
        b = int((ts - self.t_first) * self._inv_bin)
        self._edge = self.t_first + (b + 1) * self.bin_s
        if b >= self.nbins:
            grow = b + 1 - self.nbins
            for s in (self.s_alloc, self.s_free, self.s_pc, *self.kind_series):
                s.extend([0] * grow)
            self.nbins = b + 1
        self._bin = b

    # -- page events: (ts, bin, field text) ------------------------------------------------------

    def on_mm_page_alloc(self, ts: float, b: int, body: str) -> None:
        """An allocation (pfn 0: a failed one, counted apart); starts the page's lifetime."""
        f = self._rx_alloc(body) or self._sp_alloc.raw(body)
        gfp = f["gfp_flags"]
        if gfp not in self._gfp_checked:
            self._sp_alloc.check_flags("gfp_flags", gfp)
        pfn = self._pfn_alloc(f["pfn"])
        order = f["order"]
        if pfn == 0:  # the tracepoint prints pfn 0 when no page was found
            self.n_failed += 1
            self.failed_gfp[gfp] += 1
            return
        mt = f["migratetype"]
        self.n_alloc += 1
        self.order_counts[order] += 1
        self.mt_counts[mt] += 1
        self.gfp_counts[gfp] += 1
        self.alloc_pages += _PAGES_OF_ORDER.get(order) or (1 << int(order))
        kind = _KIND_OF_MT.get(mt, 3)
        self.allocs_by_kind[kind] += 1
        self.kind_series[kind][b] += 1
        self.s_alloc[b] += 1
        self.pend_free.discard(pfn)
        self.pend_batched.discard(pfn)
        if pfn in self.alive:
            self.realloc += 1
        self.alive[pfn] = (ts, kind, order)

    def on_mm_page_free(self, ts: float, b: int, body: str) -> None:
        """A free, unless the page's ``mm_page_free_batched`` already counted it."""
        f = self._rx_free(body) or self._sp_free.raw(body)
        pfn = self._pfn_free(f["pfn"])
        self.n_free_ev += 1
        if pfn in self.pend_batched:  # its batched free was counted already
            self.pend_batched.discard(pfn)
            self.free_after_batched += 1
            return
        order = f["order"]
        self.pend_free.add(pfn)
        a = self._count_free(ts, b, pfn, _PAGES_OF_ORDER.get(order) or (1 << int(order)))
        if a is not None and a[2] != order:
            self.order_mismatch += 1

    def on_mm_page_free_batched(self, ts: float, b: int, body: str) -> None:
        """The echo of an ``mm_page_free`` of the same pfn, or a free of one page on its own."""
        f = self._rx_batched(body) or self._sp_batched.raw(body)
        pfn = self._pfn_batched(f["pfn"])
        self.n_batched_ev += 1
        if pfn in self.pend_free:  # the echo of an mm_page_free already counted
            self.pend_free.discard(pfn)
            self.batched_paired += 1
        else:  # a free on its own (older kernels: the batched event comes first)
            self.pend_batched.add(pfn)
            self._count_free(ts, b, pfn, 1)

    def _count_free(self, ts: float, b: int, pfn: int, pages: int) -> tuple | None:
        """Count a free of ``pages`` pages at ``pfn`` and end the lifetime of its allocation.

        Returns the allocation ``(ts, kind, order)``, or None for a page allocated before
        the capture started.
        """
        self.n_free += 1
        self.free_pages += pages
        self.s_free[b] += 1
        a = self.alive.pop(pfn, None)
        if a is None:
            self.frees_unmatched += 1
        else:
            self.lifetimes[a[1]].append(ts - a[0])
        return a

    # -- other events: (bin, fields as printed) --------------------------------------------------

    def on_mm_filemap_add_to_page_cache(self, b: int, f: Mapping[str, str]) -> None:
        """A folio inserted into the page cache (``order=`` since folios, else one page)."""
        self.pc_add += 1
        self.pc_add_pages += _PAGES_OF_ORDER.get(_get(f, "order"), 1)
        self.s_pc[b] += 1

    def on_mm_filemap_delete_from_page_cache(self, b: int, f: Mapping[str, str]) -> None:
        """A folio removed from the page cache."""
        self.pc_del += 1
        self.pc_del_pages += _PAGES_OF_ORDER.get(_get(f, "order"), 1)

    def on_writeback_dirty_folio(self, b: int, f: Mapping[str, str]) -> None:
        """A folio dirtied (also ``writeback_dirty_page``, its name before folios)."""
        self.dirty += 1

    def on_writeback_written(self, b: int, f: Mapping[str, str]) -> None:
        """A writeback work item done: its reason and remaining page budget."""
        self.wb_events += 1
        self.wb_reasons[f["reason"]] += 1
        self.wb_nr_pages.append(int(f["nr_pages"]))

    def on_mm_vmscan_lru_shrink_inactive(self, b: int, f: Mapping[str, str]) -> None:
        """One shrink of an inactive LRU list: pages scanned and reclaimed."""
        self.shrink["events"] += 1
        self.shrink["nr_scanned"] += int(f["nr_scanned"])
        self.shrink["nr_reclaimed"] += int(f["nr_reclaimed"])

    def on_mm_vmscan_memcg_reclaim_begin(self, b: int, f: Mapping[str, str]) -> None:
        """A memory cgroup's direct reclaim starts."""
        self.memcg["begin"] += 1

    def on_mm_vmscan_memcg_reclaim_end(self, b: int, f: Mapping[str, str]) -> None:
        """A memory cgroup's direct reclaim ends: pages it reclaimed."""
        self.memcg["end"] += 1
        self.memcg["nr_reclaimed"] += int(f["nr_reclaimed"])

    def on_mm_vmscan_kswapd_wake(self, b: int, f: Mapping[str, str]) -> None:
        """kswapd woken."""
        self.kswapd_wakes += 1

    def on_mm_page_pcpu_drain(self, b: int, f: Mapping[str, str]) -> None:
        """Pages moved from a per-cpu list to the buddy lists: neither an allocation nor a
        free, and not an unexpected event either, so it is not counted anywhere."""

    # -- the statistics --------------------------------------------------------------------------

    @property
    def duration_s(self) -> float:
        """Time from the first to the latest event, seconds (0 before any event)."""
        return (self.t_last - self.t_first) if self.t_first is not None else 0.0

    def result(
        self,
        source: str | os.PathLike,
        formats_dir: str | os.PathLike | None,
        report: ParseReport,
    ) -> dict:
        """The statistics as plain Python values (JSON-serialisable).

        Parameters
        ----------
        source : str or os.PathLike
            The capture, for the ``"source"`` entry.
        formats_dir : str, os.PathLike or None
            Its event format files, for the ``"formats_dir"`` entry.
        report : ParseReport
            What the parser saw, for the ``"parse"`` entry.

        Returns
        -------
        dict
            See the module docstring; :func:`trace_stats` returns it.
        """
        duration = self.duration_s
        return {
            "source": os.fspath(source),
            "formats_dir": None if formats_dir is None else os.fspath(formats_dir),
            "t_start": self.t_first,
            "t_end": self.t_last if self.t_first is not None else None,
            "duration_s": duration,
            "event_counts": dict(sorted(self.event_counts.items())),
            "timestamps_out_of_order": self.backwards,
            **self._volumes(duration),
            "free_accounting": self._free_accounting(),
            **self._allocation_mix(),
            "lifetime_ms": self._lifetimes(),
            "pagecache": {
                "adds": self.pc_add,
                "deletes": self.pc_del,
                "add_pages": self.pc_add_pages,
                "delete_pages": self.pc_del_pages,
                "adds_per_s": _rate(self.pc_add, duration),
                "deletes_per_s": _rate(self.pc_del, duration),
            },
            "dirtied_folios": self.dirty,
            "dirtied_folios_per_s": _rate(self.dirty, duration),
            "writeback_written": {
                "events": self.wb_events,
                "by_reason": dict(self.wb_reasons),
                # nr_pages is the work item's remaining page budget when the event fires
                "nr_pages": self.wb_nr_pages,
            },
            "reclaim": {
                "lru_shrink_inactive": self.shrink,
                "memcg_reclaim": self.memcg,
                "kswapd_wakes": self.kswapd_wakes,
            },
            "other_event_counts": dict(self.other_counts),
            "series": {
                "bin_s": self.bin_s,
                "t0": self.t_first,
                "allocs": self.s_alloc,
                "frees": self.s_free,
                "pagecache_adds": self.s_pc,
            },
            "parse": report.to_dict(),
        }

    def _volumes(self, duration: float) -> dict:
        """Allocations, failed allocations and frees: counts, pages and rates."""
        return {
            "allocs": self.n_alloc,
            "failed_allocs": self.n_failed,
            "failed_alloc_gfp": dict(self.failed_gfp.most_common(self.top_gfp)),
            "alloc_pages": self.alloc_pages,
            "frees": self.n_free,
            "free_pages": self.free_pages,
            "allocs_per_s": _rate(self.n_alloc, duration),
            "frees_per_s": _rate(self.n_free, duration),
            "alloc_pages_per_s": _rate(self.alloc_pages, duration),
            "free_pages_per_s": _rate(self.free_pages, duration),
        }

    def _free_accounting(self) -> dict:
        """How the free events were paired up (see the module docstring)."""
        return {
            "mm_page_free_events": self.n_free_ev,
            "mm_page_free_batched_events": self.n_batched_ev,
            "batched_after_free": self.batched_paired,
            "batched_alone": self.n_batched_ev - self.batched_paired,
            "free_after_batched": self.free_after_batched,
            "frees_of_pages_allocated_before_capture": self.frees_unmatched,
            "realloc_without_free": self.realloc,
            "free_order_differs_from_alloc": self.order_mismatch,
        }

    def _allocation_mix(self) -> dict:
        """Order, migratetype and gfp-mask mixes of the successful allocations."""
        n_alloc = self.n_alloc
        order_counts, mt_counts, gfp_counts = self.order_counts, self.mt_counts, self.gfp_counts
        top = gfp_counts.most_common(self.top_gfp)
        return {
            "order_counts": {str(k): order_counts[k] for k in sorted(order_counts, key=int)},
            "order_mix": _mix(order_counts, n_alloc),
            "migratetype_counts": {str(k): mt_counts[k] for k in sorted(mt_counts, key=int)},
            "migratetype_mix": _mix(mt_counts, n_alloc),
            "migratetype_names": {k: _MT_NAME_OF.get(k, "?") for k in sorted(mt_counts)},
            "gfp_distinct": len(gfp_counts),
            "gfp_top": [
                {"gfp_flags": g, "count": c, "fraction": c / n_alloc if n_alloc else 0.0}
                for g, c in top
            ],
            "gfp_other_fraction": (1.0 - sum(c for _, c in top) / n_alloc if n_alloc else 0.0),
        }

    def _lifetimes(self) -> dict[str, dict]:
        """Lifetime summaries per kind and over all allocations (see the module docstring)."""
        half = self.nbins // 2
        alive_by_kind, alive_first_half = self._never_freed(half)
        life_out: dict[str, dict] = {}
        all_arrays = []
        for k, kname in enumerate(KINDS):
            lt = self.lifetimes[k]
            arr = np.frombuffer(lt, dtype=np.float64) * 1e3 if lt else None
            if arr is not None:
                all_arrays.append(arr)
            first_half_allocs = sum(self.kind_series[k][:half])
            life_out[kname] = _lifetime_summary(
                arr,
                self.allocs_by_kind[k],
                alive_by_kind[k],
                first_half_allocs,
                alive_first_half[k],
            )
        life_out["all"] = _lifetime_summary(
            np.concatenate(all_arrays) if all_arrays else None,
            self.n_alloc,
            sum(alive_by_kind),
            sum(sum(s[:half]) for s in self.kind_series),
            sum(alive_first_half),
        )
        return life_out

    def _never_freed(self, half: int) -> tuple[list[int], list[int]]:
        """Pages still allocated at the end, per kind: all, and those of the first ``half``
        bins."""
        alive_by_kind = [0] * len(KINDS)
        alive_first_half = [0] * len(KINDS)
        for a_ts, kind, _order in self.alive.values():
            alive_by_kind[kind] += 1
            if self.t_first is not None and int((a_ts - self.t_first) * self._inv_bin) < half:
                alive_first_half[kind] += 1
        return alive_by_kind, alive_first_half


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
