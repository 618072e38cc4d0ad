"""trace_stats pinned: the output of the TraceStats accumulator on fixed input, value for value.

The expected dicts in tests/fixtures/tracestats/pinned.json were produced by ``trace_stats``
as it was before the statistics became the :class:`TraceStats` accumulator (one function with
inline counters), so these tests check that both give the same output: every count, rate,
lifetime percentile and series bin, and the order of the keys. The cases are the reclaim
excerpt of the kbuild capture and a made-up trace (:func:`mixed_trace`) with every event kind
``trace_stats`` reads, both pairings of ``mm_page_free`` and ``mm_page_free_batched``, a failed,
a reused and an out-of-order allocation and three bad lines.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from allockit.ingest.ftrace import FieldError, FtraceParser
from allockit.workload.tracestats import TraceStats, trace_stats

FTRACE = Path(__file__).parent / "fixtures" / "ftrace"
FORMATS = FTRACE / "formats"
PINNED = Path(__file__).parent / "fixtures" / "tracestats" / "pinned.json"


def _line(ts: float, event: str, body: str) -> str:
    """A line laid out as the kernel's trace file prints it."""
    return f"{'cc1':>16}-{100:<7} [000] ..... {ts:12.6f}: {event}: {body}\n"


def _alloc(ts, pfn, mt=1, order=0, gfp="GFP_HIGHUSER_MOVABLE|__GFP_COMP"):
    body = f"page=0000000012345678 pfn={pfn:#x} order={order} migratetype={mt} gfp_flags={gfp}"
    return _line(ts, "mm_page_alloc", body)


def _free(ts, pfn, order=0, event="mm_page_free"):
    return _line(ts, event, f"page=0000000012345678 pfn={pfn:#x} order={order}")


WRITTEN = (
    "bdi 254:0: sb_dev 0:0 nr_pages=9223372036854775807 sync_mode=0 kupdate=1 range_cyclic=1 "
    "background=0 reason=periodic cgroup_ino=1"
)
SHRINK = (
    "nid=0 nr_scanned=4 nr_reclaimed=3 nr_dirty=1 nr_writeback=0 nr_congested=0 nr_immediate=0 "
    "nr_activate_anon=0 nr_activate_file=1 nr_ref_keep=0 nr_unmap_fail=0 priority=12 "
    "flags=RECLAIM_WB_FILE|RECLAIM_WB_ASYNC"
)
MIGRATE = (
    "nr_succeeded=1 nr_failed=0 nr_thp_succeeded=0 nr_thp_failed=0 nr_thp_split=0 nr_split=0 "
    "mode=MIGRATE_ASYNC reason=compaction"
)


def mixed_trace() -> str:
    """Every event kind trace_stats reads over five seconds, with the cases it handles apart."""
    a, b, c, d, e, f, g, h = (0x100000 + 0x10 * i for i in range(8))
    cut = _alloc(13.1, 0x200000)
    lines = [
        "# tracer: nop\n",
        _alloc(10.000001, a),
        _alloc(10.1, b, mt=0, order=2, gfp="GFP_KERNEL|__GFP_COMP"),
        _alloc(10.2, 0, gfp="GFP_ATOMIC|__GFP_NOWARN"),  # failed: pfn 0
        _alloc(10.3, c, mt=2, gfp="GFP_NOFS|__GFP_RECLAIMABLE"),
        _free(10.5, a),  # 6.x: the free, then its batched echo
        _free(10.500001, a, event="mm_page_free_batched"),
        _free(11.0, c, event="mm_page_free_batched"),  # older kernels: batched first
        _free(11.000001, c),
        _free(11.2, d),  # allocated before the capture
        _alloc(11.3, b, mt=0, order=2, gfp="GFP_KERNEL|__GFP_COMP"),  # again, without a free
        _free(11.4, b, order=1),  # freed with another order
        _alloc(10.05, e, mt=4),  # out of order; CMA: kind "other"
        _alloc(11.5, f),  # never freed, first half
        _line(
            11.6, "mm_filemap_add_to_page_cache", "dev 254:0 ino 29a4 pfn=0x100050 ofs=0 order=2"
        ),
        _line(
            11.7,
            "mm_filemap_delete_from_page_cache",
            "dev 254:0 ino 29a4 pfn=0x100050 ofs=0 order=0",
        ),
        _line(11.8, "writeback_dirty_folio", "bdi 254:0: ino=266338304 index=8978580"),
        _line(11.85, "writeback_dirty_page", "bdi 254:0: ino=266338304 index=8978581"),
        _line(12.0, "writeback_written", WRITTEN),
        _line(12.1, "mm_vmscan_lru_shrink_inactive", SHRINK),
        _line(12.2, "mm_vmscan_memcg_reclaim_begin", "order=0 gfp_flags=GFP_HIGHUSER_MOVABLE"),
        _line(12.3, "mm_vmscan_memcg_reclaim_end", "nr_reclaimed=59"),
        _line(12.4, "mm_vmscan_kswapd_wake", "nid=0 order=3"),
        _line(
            12.5, "mm_page_pcpu_drain", "page=0000000012345678 pfn=0x100070 order=0 migratetype=1"
        ),
        _line(
            12.6,
            "mm_compaction_begin",
            "zone_start=0x1000 migrate_pfn=0x1000 free_pfn=0x7fe00 zone_end=0x80000, mode=async",
        ),
        _line(12.7, "mm_migrate_pages", MIGRATE),
        "garbage, not an event line\n",
        _alloc(13.0, 0x200010, gfp="GFP_KERNEL|NOT_A_FLAG"),  # not a flag of the format
        cut[: cut.index("gfp_flags")] + "\n",  # cut short before its last field
        _alloc(13.5, g),  # never freed, second half
        _alloc(14.2, h, mt=2),
        _free(14.9, h),
    ]
    return "".join(lines)


# name -> (source, formats_dir, keyword arguments of trace_stats)
CASES = {
    "mixed-formats": ("mixed", FORMATS, {"errors": "count"}),
    "mixed-builtin-half-second-bins": (
        "mixed",
        None,
        {"errors": "count", "bin_s": 0.5, "top_gfp": 2},
    ),
    "kbuild-reclaim": (FTRACE / "kbuild-reclaim.txt", FORMATS, {}),
    "kbuild-head-millisecond-bins": (FTRACE / "kbuild-head.txt", FORMATS, {"bin_s": 0.001}),
}


def _source(name: str, tmp: Path) -> Path:
    src = CASES[name][0]
    if src != "mixed":
        return src
    p = tmp / "mixed.txt"
    p.write_text(mixed_trace())
    return p


def _without_paths(result: dict, source: Path) -> dict:
    """The result without the entries that name files (they differ between checkouts)."""
    out = json.loads(json.dumps(result))
    del out["source"], out["formats_dir"], out["parse"]["source"]
    examples = out["parse"]["error_examples"]
    examples[:] = [x.replace(str(source), "TRACE") for x in examples]
    return out


def run_case(name: str, tmp: Path) -> dict:
    _, formats, kw = CASES[name]
    src = _source(name, tmp)
    return _without_paths(trace_stats(src, formats, **kw), src)


@pytest.fixture(scope="module")
def pinned() -> dict:
    return json.loads(PINNED.read_text())


@pytest.mark.parametrize("name", list(CASES))
def test_output_as_pinned(name, pinned, tmp_path):
    got = run_case(name, tmp_path)
    want = pinned[name]
    assert list(got) == list(want)  # the same keys, in the same order
    for key in want:
        assert got[key] == want[key], key


def test_the_mixed_trace_reaches_every_branch(pinned):
    """The made-up trace does what its comments say (so the pinned case covers them)."""
    m = pinned["mixed-formats"]
    acc = m["free_accounting"]
    assert (acc["batched_after_free"], acc["free_after_batched"]) == (1, 1)
    assert acc["frees_of_pages_allocated_before_capture"] == 1
    assert (acc["realloc_without_free"], acc["free_order_differs_from_alloc"]) == (1, 1)
    assert (m["failed_allocs"], m["timestamps_out_of_order"]) == (1, 1)
    assert m["other_event_counts"] == {"mm_compaction_begin": 1, "mm_migrate_pages": 1}
    assert m["parse"]["errors"] == {
        "garbage": 1,
        "truncated": 1,
        "unknown_event": 0,
        "bad_value": 1,
    }
    assert m["migratetype_names"] == {
        "0": "unmovable",
        "1": "movable",
        "2": "reclaimable",
        "4": "cma",
    }


def test_accumulator_fed_by_hand_gives_trace_stats_output(tmp_path):
    """TraceStats used directly on a parser's scan gives what trace_stats returns."""
    src = _source("mixed-formats", tmp_path)
    parser = FtraceParser(FORMATS, errors="count")
    stats = TraceStats(parser.specs)
    for lineno, line, ts, spec, _header, body in parser.scan(src):
        try:
            stats.add(ts, spec, body)
        except FieldError as exc:
            parser.bad_fields(exc, lineno, line)
    parser.report.events = stats.events
    assert stats.result(src, FORMATS, parser.report) == trace_stats(src, FORMATS, errors="count")


def test_bin_width_must_be_positive():
    with pytest.raises(ValueError, match=r"bin_s: 0 is not allowed \(must be > 0\)"):
        TraceStats(FtraceParser().specs, bin_s=0)
