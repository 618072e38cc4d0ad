"""The ftrace text parser and the trace statistics, on real excerpts of a kbuild capture.

The fixtures under tests/fixtures/ftrace/ are verbatim excerpts of
data/raw/kbuild-j2-384M/trace.txt.xz (Linux 6.18) and that capture's event format
files (data/raw/kbuild-j2-384M/formats/); two are marked variants (decimal pfn for pre-5.14
kernels, 4-character irq flags).
"""

from __future__ import annotations

import gzip
import io
import json
import lzma
import shutil
from collections import Counter
from pathlib import Path

import pytest

from allockit.ingest.ftrace import (
    HEX0,
    INT,
    FtraceParser,
    ParseReport,
    TraceParseError,
    iter_events,
    load_formats,
)
from allockit.workload.tracestats import trace_stats

FIX = Path(__file__).parent / "fixtures" / "ftrace"
FORMATS = FIX / "formats"
HEAD = FIX / "kbuild-head.txt"

# lines of kbuild-head.txt (line 1-2 are comments, line 3 is the capture's first line)
ALLOC_LINE = (
    "             cc1-5982    [000] .....  2805.976171: mm_page_alloc: page=00000000c2e692cc "
    "pfn=0x144c58 order=0 migratetype=1 gfp_flags=GFP_HIGHUSER_MOVABLE|__GFP_ZERO|__GFP_COMP\n"
)
FREE_LINE = (
    "            make-5567    [000] .....  2805.976461: mm_page_free: "
    "page=00000000182a14da pfn=0x1269f0 order=0\n"
)


def events(path, formats=FORMATS, **kw):
    return list(iter_events(path, formats, **kw))


def fmt_line(ts, event, body, comm="cc1", pid=100, cpu=0, flags="....."):
    """A line laid out as the kernel's trace file prints it."""
    return f"{comm:>16}-{pid:<7} [{cpu:03d}] {flags} {ts:12.6f}: {event}: {body}\n"


def alloc(ts, pfn, mt=1, order=0, gfp="GFP_HIGHUSER_MOVABLE|__GFP_COMP"):
    body = f"page=0000000012345678 pfn={pfn:#x} order={order} migratetype={mt} gfp_flags={gfp}"
    return fmt_line(ts, "mm_page_alloc", body)


def free(ts, pfn, order=0):
    return fmt_line(ts, "mm_page_free", f"page=0000000012345678 pfn={pfn:#x} order={order}")


def batched(ts, pfn):
    return fmt_line(ts, "mm_page_free_batched", f"page=0000000012345678 pfn={pfn:#x} order=0")


# --------------------------------------------------------------------------------------------
# parsing real lines


@pytest.mark.parametrize("formats", [FORMATS, None], ids=["formats", "builtin"])
def test_head_excerpt_counts(formats):
    rep = ParseReport()
    evs = list(iter_events(HEAD, formats, report=rep))
    assert Counter(e.event for e in evs) == {
        "mm_page_alloc": 219,
        "mm_page_free": 43,
        "mm_page_free_batched": 38,
    }
    assert (rep.lines, rep.comments, rep.events, rep.error_count) == (302, 2, 300, 0)
    assert all(a.ts <= b.ts for a, b in zip(evs, evs[1:], strict=False))


@pytest.mark.parametrize("formats", [FORMATS, None], ids=["formats", "builtin"])
def test_known_line_fields_hex_pfn(formats):
    first, second = events(HEAD, formats)[:2]
    assert first.ts == pytest.approx(2805.976171, abs=1e-9)
    assert (first.cpu, first.comm, first.pid, first.event) == (0, "cc1", 5982, "mm_page_alloc")
    assert first.fields == {
        "page": "00000000c2e692cc",
        "pfn": 0x144C58,
        "order": 0,
        "migratetype": 1,
        "gfp_flags": "GFP_HIGHUSER_MOVABLE|__GFP_ZERO|__GFP_COMP",
    }
    # a task name with a dash in it: the pid is after the last one
    assert (second.comm, second.pid, second.cpu) == ("trace-kbuild.sh", 23770, 1)
    assert second.fields["pfn"] == 0x19E26A
    assert second.fields["gfp_flags"] == "GFP_KERNEL_ACCOUNT|__GFP_ZERO|__GFP_COMP"


def test_free_and_batched_fields():
    evs = events(HEAD)
    free_ev = next(e for e in evs if e.event == "mm_page_free")
    b = next(e for e in evs if e.event == "mm_page_free_batched")
    assert free_ev.fields == {"page": "00000000182a14da", "pfn": 0x1269F0, "order": 0}
    assert (b.ts, b.pid, b.fields["pfn"], b.fields["order"]) == (2805.976462, 5567, 0x1269F0, 0)


def test_gfp_flags_with_bars_and_high_order():
    evs = events(FIX / "kbuild-order2.txt")
    o2 = [e for e in evs if e.event == "mm_page_alloc" and e.fields["order"] == 2]
    assert len(o2) == 1
    f = o2[0].fields
    assert f["pfn"] == 0x16A34C and f["migratetype"] == 2
    assert f["gfp_flags"].split("|") == [
        "__GFP_RECLAIMABLE",
        "__GFP_IO",
        "__GFP_NOWARN",
        "__GFP_NORETRY",
        "__GFP_COMP",
        "__GFP_NOMEMALLOC",
    ]
    nofs = [e for e in evs if e.fields.get("gfp_flags", "").startswith("GFP_NOFS")]
    assert nofs and "|__GFP_HARDWALL" in nofs[0].fields["gfp_flags"]


def test_filemap_writeback_vmscan_fields():
    add = next(
        e for e in events(FIX / "kbuild-pagecache-add.txt") if e.event.startswith("mm_filemap")
    )
    # "dev %d:%d ino %lx pfn=0x%lx ofs=%lu order=%u": ino is hex without 0x, ofs decimal
    assert add.fields == {
        "dev": "254:0",
        "ino": 0x5306A,
        "pfn": 0x179DAB,
        "ofs": 6488064,
        "order": 0,
    }
    wb = events(FIX / "kbuild-writeback.txt")
    written = [e for e in wb if e.event == "writeback_written"]
    assert len(written) == 2
    assert written[0].comm == "kworker/u8:0" and written[0].pid == 20702
    assert written[0].fields["bdi"] == "254:0"
    assert written[0].fields["sb_dev"] == "0:0"
    assert (written[0].fields["nr_pages"], written[0].fields["reason"]) == (10813, "periodic")
    dirty = next(e for e in wb if e.event == "writeback_dirty_folio")
    assert dirty.fields == {"bdi": "254:0", "ino": 266338304, "index": 10322116}

    rec = events(FIX / "kbuild-reclaim.txt")
    shrink = [e for e in rec if e.event == "mm_vmscan_lru_shrink_inactive"]
    assert [e.fields["nr_scanned"] for e in shrink] == [4, 8, 16, 32]
    assert shrink[0].fields["flags"] == "RECLAIM_WB_FILE|RECLAIM_WB_ASYNC"
    end = next(e for e in rec if e.event == "mm_vmscan_memcg_reclaim_end")
    assert end.fields == {"nr_reclaimed": 59}
    assert sum(e.event == "mm_filemap_delete_from_page_cache" for e in rec) == 59


def test_pcpu_drain_with_irq_flags_in_the_column():
    drains = [e for e in events(FIX / "kbuild-pcpu-drain.txt") if e.event == "mm_page_pcpu_drain"]
    assert len(drains) == 29
    assert drains[0].fields == {
        "page": "000000000d132d8d",
        "pfn": 0x130A88,
        "order": 0,
        "migratetype": 1,
    }


def test_four_and_five_character_irq_flags_give_the_same_events():
    five = events(HEAD)[29:46]  # lines 30-46 of the capture
    four = events(FIX / "kbuild-irq4.txt")
    assert len(four) == len(five) == 17
    assert four == five


def test_decimal_pfn_fixture_builtin_reads_decimal():
    dec = events(FIX / "kbuild-decimal-pfn.txt", None)
    hexa = events(FIX / "kbuild-irq4.txt", None)
    assert [e.fields["pfn"] for e in dec[:17]] == [e.fields["pfn"] for e in hexa]
    assert dec[0].fields["pfn"] == 1150702 == 0x118EEE
    add = dec[-1]
    assert add.event == "mm_filemap_add_to_page_cache"
    assert add.fields["pfn"] == 1195702 == 0x123EB6
    assert add.fields["ino"] == 0x29A4B0  # %lx on every kernel


def test_decimal_pfn_rejected_by_the_6_18_formats():
    with pytest.raises(TraceParseError) as ei:
        events(FIX / "kbuild-decimal-pfn.txt", FORMATS)
    e = ei.value
    assert (e.kind, e.lineno) == ("bad_value", 4)
    assert f"{FIX / 'kbuild-decimal-pfn.txt'}:4:" in str(e)
    assert "0x-prefixed" in str(e) and "'1150702'" in str(e)


def _formats_with(tmp_path, old, new):
    dst = tmp_path / "formats"
    shutil.copytree(FORMATS, dst)
    for p in dst.rglob("*"):
        if p.is_file():
            p.write_text(p.read_text().replace(old, new))
    return dst


def test_version_aware_pfn_from_format_files(tmp_path):
    pre514 = _formats_with(tmp_path, "pfn=0x%lx", "pfn=%lu")
    specs = load_formats(pre514)
    assert specs["mm_page_alloc"].convs["pfn"] == INT
    dec = events(FIX / "kbuild-decimal-pfn.txt", pre514)
    assert dec[0].fields["pfn"] == 0x118EEE
    # the same old formats reject a hex pfn
    with pytest.raises(TraceParseError, match=r"kbuild-head.txt:3: bad_value: .*decimal"):
        events(HEAD, pre514)


def test_hex_pfn_without_prefix(tmp_path):
    fmts = _formats_with(tmp_path, "pfn=0x%lx", "pfn=%lx")
    p = tmp_path / "t.txt"
    p.write_text(ALLOC_LINE.replace("pfn=0x144c58", "pfn=144c58"))
    (ev,) = events(p, fmts)
    assert ev.fields["pfn"] == 0x144C58


def test_load_formats():
    specs = load_formats(FORMATS)
    assert len(specs) == 17
    alloc_spec = specs["mm_page_alloc"]
    assert (alloc_spec.system, alloc_spec.convs["pfn"]) == ("kmem", HEX0)
    assert {"GFP_HIGHUSER_MOVABLE", "__GFP_COMP", "__GFP_ZERO"} <= alloc_spec.flag_names
    assert specs["mm_page_free_batched"].constants == {"order": "0"}
    assert specs["writeback_written"].required[:3] == ("bdi", "sb_dev", "nr_pages")


def test_load_formats_rejects_empty_dir(tmp_path):
    with pytest.raises(ValueError, match="no event format files"):
        load_formats(tmp_path)
    with pytest.raises(ValueError, match="is not a directory"):
        load_formats(tmp_path / "missing")


def test_other_envelopes_tgid_trace_cmd_perf():
    p = FtraceParser(FORMATS)
    ref = p.parse_line(ALLOC_LINE)
    variants = {
        "tgid": ALLOC_LINE.replace("cc1-5982    [000]", "cc1-5982    (   5982) [000]"),
        "trace-cmd": ALLOC_LINE.replace(" .....  2805", "  2805"),
        "perf": ALLOC_LINE.replace("cc1-5982", "cc1  5982").replace(
            " mm_page_alloc:", " kmem:mm_page_alloc:"
        ),
    }
    for name, line in variants.items():
        assert p.parse_line(line) == ref, name


def test_comments_blank_lines_and_lost_events(tmp_path):
    p = tmp_path / "t.txt"
    p.write_text(
        "# tracer: nop\n#\n"
        + ALLOC_LINE
        + "\n"
        + "CPU:1 [LOST 12 EVENTS]\n"
        + "   # an indented comment\n"
        + FREE_LINE
    )
    rep = ParseReport()
    evs = list(iter_events(p, FORMATS, report=rep))
    assert [e.event for e in evs] == ["mm_page_alloc", "mm_page_free"]
    assert (rep.lines, rep.comments, rep.blank, rep.lost_events) == (7, 4, 1, 12)


@pytest.mark.parametrize("suffix, opener", [(".xz", lzma.open), (".gz", gzip.open)])
def test_compressed_captures(tmp_path, suffix, opener):
    p = tmp_path / ("head.trace" + suffix)
    with opener(p, "wb") as fh:
        fh.write(HEAD.read_bytes())
    assert events(p) == events(HEAD)
    # binary file objects too
    with open(p, "rb") as fh:
        assert len(list(iter_events(fh, FORMATS))) == 300
    assert len(list(iter_events(io.StringIO(HEAD.read_text()), FORMATS))) == 300


# --------------------------------------------------------------------------------------------
# bad input

# case: (line, kind of error, whether only detectable with the format files)
BAD_LINES = {
    "truncated_fields": (ALLOC_LINE[:110] + "\n", "truncated", False),
    "truncated_header": ("             cc1-5982    [000] .....  2805.97\n", "truncated", False),
    "garbage": ("this is not a trace line at all\n", "garbage", False),
    "binary": ("\x00\x01\ufffd\ufffdPK\x03\x04 junk\n", "garbage", False),
    "unknown_event": (
        "          <idle>-0       [001] d..2.  2805.976500: sched_switch: prev_comm=swapper/1\n",
        "unknown_event",
        False,
    ),
    "bad_pfn": (ALLOC_LINE.replace("pfn=0x144c58", "pfn=0xZZ4c58"), "bad_value", False),
    # a flag name cut short is only detectable with the format files (they list the names)
    "gfp_cut": (ALLOC_LINE.replace("__GFP_ZERO|__GFP_COMP", "__GFP_ZE"), "bad_value", True),
    "event_without_fields": (ALLOC_LINE.split(" page=")[0] + "\n", "truncated", False),
}


@pytest.mark.parametrize(
    "case, formats",
    [(c, f) for c in sorted(BAD_LINES) for f in (FORMATS, None) if f or not BAD_LINES[c][2]],
    ids=lambda v: "formats" if v == FORMATS else "builtin" if v is None else v,
)
def test_bad_line_raises_with_file_and_line(tmp_path, case, formats):
    bad, kind, _ = BAD_LINES[case]
    p = tmp_path / "bad.txt"
    p.write_text("# header\n" + ALLOC_LINE + bad + FREE_LINE)
    with pytest.raises(TraceParseError) as ei:
        events(p, formats)
    e = ei.value
    assert isinstance(e, ValueError)
    assert (e.kind, e.lineno, e.source) == (kind, 3, str(p))
    assert str(e).startswith(f"{p}:3: {kind}: expected ")


def test_file_ending_mid_line_is_truncated(tmp_path):
    p = tmp_path / "cut.txt"
    p.write_text(ALLOC_LINE + FREE_LINE + ALLOC_LINE[:120])  # no final newline
    with pytest.raises(TraceParseError, match=r"cut.txt:3: truncated: .*ends in the middle"):
        events(p, None)
    # a final comment without a newline is fine
    p.write_text(ALLOC_LINE + "# end")
    assert len(events(p)) == 1
    # a file that is one line without any line end (shorter or longer than a read chunk)
    for text in ("hello", "x" * (3 << 20)):
        p.write_text(text)
        with pytest.raises(TraceParseError, match=r"cut.txt:1: truncated: "):
            events(p, None)


def test_truncated_xz_stream(tmp_path):
    data = lzma.compress(HEAD.read_bytes())
    p = tmp_path / "cut.txt.xz"
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(TraceParseError) as ei:
        events(p)
    assert ei.value.kind == "truncated"
    assert ei.value.lineno > 1
    assert f"{p}:{ei.value.lineno}: truncated: expected more data" in str(ei.value)


def test_errors_count_skips_and_counts(tmp_path):
    p = tmp_path / "mixed.txt"
    lines = [ALLOC_LINE, FREE_LINE] + [BAD_LINES[c][0] for c in sorted(BAD_LINES)] + [FREE_LINE]
    p.write_text("".join(lines))
    rep = ParseReport()
    evs = list(iter_events(p, FORMATS, errors="count", report=rep))
    assert [e.event for e in evs] == ["mm_page_alloc", "mm_page_free", "mm_page_free"]
    assert dict(rep.errors) == {"truncated": 3, "garbage": 2, "unknown_event": 1, "bad_value": 2}
    assert rep.error_count == 8 and rep.events == 3 and rep.lines == 11
    assert len(rep.examples) == 8 and rep.examples[0].startswith(f"{p}:3: ")
    # the same through trace_stats, and the parser-class attribute
    stats = trace_stats(p, FORMATS, errors="count")
    assert stats["parse"]["errors"] == {
        "garbage": 2,
        "truncated": 3,
        "unknown_event": 1,
        "bad_value": 2,
    }
    assert (stats["allocs"], stats["frees"]) == (1, 2)
    parser = FtraceParser(FORMATS, errors="count")
    assert sum(1 for _ in parser.iter_events(p)) == 3
    assert parser.report.error_count == 8
    with pytest.raises(TraceParseError):
        trace_stats(p, FORMATS)  # errors="raise" is the default


def test_errors_option_is_checked():
    with pytest.raises(ValueError, match=r"errors: 'ignore' is not allowed"):
        FtraceParser(errors="ignore")


# --------------------------------------------------------------------------------------------
# trace_stats


def test_batched_free_is_counted_once_on_real_excerpt():
    s = trace_stats(HEAD, FORMATS)
    fa = s["free_accounting"]
    assert (fa["mm_page_free_events"], fa["mm_page_free_batched_events"]) == (43, 38)
    assert fa["batched_after_free"] == 38 and fa["batched_alone"] == 0
    assert s["frees"] == 43  # not 81
    assert s["allocs"] == 219
    assert s["frees_per_s"] == pytest.approx(43 / s["duration_s"])
    assert s["duration_s"] == pytest.approx(2805.979300 - 2805.976171, abs=1e-9)
    json.dumps(s)  # plain Python types only


def test_batched_before_free_older_kernels_counted_once(tmp_path):
    p = tmp_path / "old.txt"
    p.write_text(alloc(1.0, 0x10) + batched(1.002, 0x10) + free(1.002, 0x10) + free(1.004, 0x20))
    s = trace_stats(p)
    assert s["frees"] == 2
    fa = s["free_accounting"]
    assert (fa["batched_alone"], fa["free_after_batched"]) == (1, 1)
    assert s["lifetime_ms"]["movable"]["median_ms"] == pytest.approx(2.0)


def test_lifetime_matching_on_a_hand_made_trace(tmp_path):
    p = tmp_path / "life.txt"
    p.write_text(
        alloc(1.000, 0x100, mt=1)
        + alloc(1.001, 0x200, mt=1)
        + alloc(1.002, 0x300, mt=0, gfp="GFP_KERNEL_ACCOUNT|__GFP_ZERO")
        + alloc(1.003, 0x400, mt=2, order=1, gfp="GFP_KERNEL|__GFP_RECLAIMABLE")
        + free(1.004, 0x100)
        + batched(1.004, 0x100)  # the echo of the free just above: not a second free
        + free(1.010, 0x200)
        + free(1.012, 0x300)
        + alloc(1.020, 0x100, mt=1)  # the same pfn again: a new allocation
        + free(1.050, 0x100)
        + free(1.060, 0x999)  # allocated before the capture started
        + fmt_line(1.100, "mm_page_pcpu_drain", "page=0 pfn=0x5 order=0 migratetype=1")
    )
    s = trace_stats(p)
    assert (s["allocs"], s["frees"], s["alloc_pages"]) == (5, 5, 6)
    assert s["duration_s"] == pytest.approx(0.1)
    assert s["allocs_per_s"] == pytest.approx(50.0)
    lt = s["lifetime_ms"]
    mov = lt["movable"]
    # lifetimes 4, 9 and 30 ms; numpy's linear percentiles
    assert (mov["allocs"], mov["freed"], mov["never_freed"]) == (3, 3, 0)
    assert mov["median_ms"] == pytest.approx(9.0)
    assert mov["p10_ms"] == pytest.approx(5.0)
    assert mov["p90_ms"] == pytest.approx(25.8)
    assert mov["never_freed_fraction"] == 0.0
    unm = lt["unmovable"]
    assert (unm["freed"], unm["median_ms"]) == (1, pytest.approx(10.0))
    rec = lt["reclaimable"]
    assert (rec["allocs"], rec["freed"], rec["median_ms"]) == (1, 0, None)
    assert rec["never_freed_fraction"] == 1.0
    assert lt["all"]["never_freed_fraction"] == pytest.approx(1 / 5)
    assert s["free_accounting"]["frees_of_pages_allocated_before_capture"] == 1
    assert s["order_mix"] == {"0": 0.8, "1": 0.2}
    assert s["migratetype_mix"] == {"0": 0.2, "1": 0.6, "2": 0.2}
    assert s["gfp_top"][0] == {
        "gfp_flags": "GFP_HIGHUSER_MOVABLE|__GFP_COMP",
        "count": 3,
        "fraction": 0.6,
    }
    json.dumps(s)


def test_series_pagecache_and_dirtying(tmp_path):
    add = "dev 254:0 ino 5306a pfn={:#x} ofs=0 order=0"
    p = tmp_path / "pc.txt"
    p.write_text(
        alloc(10.0, 0x1)
        + fmt_line(10.1, "mm_filemap_add_to_page_cache", add.format(0x1))
        + alloc(11.5, 0x2)
        + fmt_line(11.6, "mm_filemap_add_to_page_cache", add.format(0x2))
        + fmt_line(11.7, "writeback_dirty_folio", "bdi 254:0: ino=12 index=0")
        + free(12.2, 0x1)
        + fmt_line(12.2, "mm_filemap_delete_from_page_cache", add.format(0x1))
        + free(14.0, 0x2)
    )
    s = trace_stats(p)
    assert s["series"]["allocs"] == [1, 1, 0, 0, 0]
    assert s["series"]["frees"] == [0, 0, 1, 0, 1]
    assert s["series"]["pagecache_adds"] == [1, 1, 0, 0, 0]
    pc = s["pagecache"]
    assert (pc["adds"], pc["deletes"]) == (2, 1)
    assert pc["adds_per_s"] == pytest.approx(0.5)
    assert s["dirtied_folios"] == 1 and s["dirtied_folios_per_s"] == pytest.approx(0.25)


def test_trace_stats_on_reclaim_and_writeback_excerpts():
    rec = trace_stats(FIX / "kbuild-reclaim.txt", FORMATS)
    assert rec["pagecache"]["deletes"] == 59
    assert rec["reclaim"]["memcg_reclaim"] == {"begin": 1, "end": 1, "nr_reclaimed": 59}
    assert rec["reclaim"]["lru_shrink_inactive"]["nr_scanned"] == 4 + 8 + 16 + 32
    assert rec["dirtied_folios"] == 1
    wb = trace_stats(FIX / "kbuild-writeback.txt", FORMATS)
    assert wb["writeback_written"]["events"] == 2
    assert wb["writeback_written"]["by_reason"] == {"periodic": 2}
    assert wb["writeback_written"]["nr_pages"] == [10813, 10813]
