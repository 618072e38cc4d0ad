"""The /proc parsers on the real 6.18 captures in data/raw/ (data/raw/README.md) and on
hand-made fixtures of other kernels (tests/fixtures/procfs/README.md).

The expected numbers were read off the files by hand (and cross-checked between files: the
idle capture was taken at a quiet moment, so its buddyinfo, pagetypeinfo, zoneinfo, vmstat and
kpageflags agree to the page; the kbuild snapshots were taken during a build and differ a little
because the files are read one after another).
"""

from __future__ import annotations

import gzip
import lzma
from pathlib import Path

import numpy as np
import pytest

from allockit.ingest.procfs import (
    KPF_ANON,
    KPF_BUDDY,
    KPF_COMPOUND_TAIL,
    KPF_DIRTY,
    KPF_LRU,
    KPF_NOPAGE,
    KPF_PGTABLE,
    KPF_SLAB,
    KPF_THP,
    KPF_UPTODATE,
    KPF_WRITEBACK,
    PAGE_KINDS,
    ProcParseError,
    classify_pages,
    count_page_kinds,
    parse_buddyinfo,
    parse_meminfo,
    parse_pagetypeinfo,
    parse_vmstat,
    parse_zoneinfo,
    read_kpage_array,
)
from allockit.paths import DATA_DIR

RAW = DATA_DIR / "raw"
FIX = Path(__file__).parent / "fixtures" / "procfs"
IDLE = RAW / "idle-snapshot"
KBUILD = [RAW / "kbuild-j2-384M" / s for s in ("snap-0", "snap-mid", "snap-end")]
REAL = [IDLE, *KBUILD]


def read(d: Path, name: str) -> str:
    return (d / name).read_text()


def real_ids():
    return [p.relative_to(RAW).as_posix() for p in REAL]


@pytest.fixture(scope="module", params=REAL, ids=real_ids())
def real(request):
    d = request.param
    return dict(
        dir=d,
        buddy=parse_buddyinfo(read(d, "buddyinfo"), str(d / "buddyinfo")),
        pti=parse_pagetypeinfo(read(d, "pagetypeinfo"), page_size=4096, pageblock_bytes=2 << 20),
        zi=parse_zoneinfo(read(d, "zoneinfo")),
        vm=parse_vmstat(read(d, "vmstat")),
        mi=parse_meminfo(read(d, "meminfo")),
    )


# ---------------------------------------------------------------------------------------------
# real captures: exact values of the idle capture


def test_idle_buddyinfo_values():
    b = parse_buddyinfo(read(IDLE, "buddyinfo"))
    assert b.nr_orders == 11
    assert list(b.zones) == [(0, "DMA"), (0, "DMA32"), (0, "Normal")]
    assert b.zones[(0, "DMA")] == [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 3]
    assert b.zones[(0, "Normal")][0] == 4928 and b.zones[(0, "Normal")][10] == 359
    # 256 + 512 + 3 * 1024
    assert b.free_pages(0, "DMA") == 3840
    assert b.total_free_pages() == 1628682


def test_idle_pagetypeinfo_values():
    p = parse_pagetypeinfo(read(IDLE, "pagetypeinfo"))
    assert (p.pageblock_order, p.pages_per_block, p.nr_orders) == (9, 512, 11)
    assert p.migratetypes == ("Unmovable", "Movable", "Reclaimable", "HighAtomic", "Isolate")
    assert p.mixed is None and not p.any_capped
    row = p.free[(0, "Normal", "Reclaimable")]
    assert row.counts[:3] == (4928, 1664, 249) and row.capped == (False,) * 11
    assert p.blocks[(0, "Normal")] == {
        "Unmovable": 117,
        "Movable": 1777,
        "Reclaimable": 154,
        "HighAtomic": 0,
        "Isolate": 0,
    }
    assert p.total_blocks(0, "DMA32") == 1528


def test_idle_zoneinfo_values():
    zi = parse_zoneinfo(read(IDLE, "zoneinfo"))
    assert [(z.node, z.name) for z in zi.zones] == [
        (0, "DMA"),
        (0, "DMA32"),
        (0, "Normal"),
        (0, "Movable"),
        (0, "Device"),
    ]
    dma = zi.zone(0, "DMA")
    assert (dma.pages_free, dma.min, dma.low, dma.high, dma.promo, dma.boost) == (
        3840,
        35,
        43,
        51,
        59,
        0,
    )
    assert (dma.spanned, dma.present, dma.managed, dma.cma, dma.start_pfn) == (
        4095,
        3998,
        3840,
        0,
        1,
    )
    assert dma.protection == (0, 3019, 7115, 7115, 7115)
    # per-node stats are printed under the node's first populated zone
    assert dma.node_stats["nr_dirty"] == 5965 and zi.node_stats[0]["nr_anon_pages"] == 17210
    assert "nr_dirty" not in dma.stats and dma.stats["nr_free_pages"] == 3840
    normal = zi.zone(0, "Normal")
    assert normal.node_stats == {}
    assert normal.stats["nr_zone_write_pending"] == 5965
    assert [
        (p.cpu, p.count, p.high, p.batch, p.high_min, p.high_max, p.stat_threshold)
        for p in normal.pagesets
    ] == [
        (0, 6403, 8337, 63, 6066, 65536, 28),
        (1, 16409, 21607, 63, 6066, 65536, 28),
    ]
    assert normal.pcp_count == 22812
    assert (normal.start_pfn, normal.end_pfn, normal.node_unreclaimable) == (
        1048576,
        6553600,
        0,
    )
    movable = zi.zone(0, "Movable")
    assert not movable.populated and movable.start_pfn is None and movable.pagesets == []
    assert (zi.pfn_start, zi.pfn_end) == (1, 6553600)


def test_idle_vmstat_meminfo_values():
    vm = parse_vmstat(read(IDLE, "vmstat"))
    assert vm["nr_free_pages"] == 1628682 and vm["nr_dirty"] == 5965
    assert len(vm) == 192
    mi = parse_meminfo(read(IDLE, "meminfo"))
    assert mi["MemTotal"] == 24684096 and mi.units["MemTotal"] == "kB"
    assert mi.bytes("Hugepagesize") == 2 << 20
    assert mi["HugePages_Total"] == 0 and mi.units["HugePages_Total"] is None
    assert mi["Active(anon)"] == 3572
    with pytest.raises(ValueError, match="count"):
        mi.bytes("HugePages_Free")


# ---------------------------------------------------------------------------------------------
# real captures: cross-file consistency


def _tol(d: Path) -> float:
    """Relative tolerance between files of one snapshot: 0 for the idle capture."""
    return 0.0 if d == IDLE else 0.001


def test_buddyinfo_matches_zoneinfo_and_pagetypeinfo(real):
    b, zi, p, tol = real["buddy"], real["zi"], real["pti"], _tol(real["dir"])
    assert b.nr_orders == p.nr_orders == 11
    for node, zone in b.zones:
        z = zi.zone(node, zone)
        free = b.free_pages(node, zone)
        # zoneinfo's NR_FREE_PAGES counts the buddy lists, not the per-cpu lists
        assert abs(free - z.pages_free) <= tol * z.pages_free, (zone, free, z.pages_free)
        # pagetypeinfo and buddyinfo walk the same lists (read a few ms apart)
        assert abs(p.free_pages(node, zone) - free) <= tol * free
        if tol == 0:
            assert p.free_counts(node, zone) == b.zones[(node, zone)]
    assert abs(real["vm"]["nr_free_pages"] - zi.total("pages_free")) <= tol * zi.total("pages_free")


def test_pageblocks_cover_the_zone(real):
    """Blocks × pages per block lie between managed and spanned (rounded to a block).

    pagetypeinfo_showblockcount_print skips pfns without an online memmap: here the holes of
    DMA32 (DMA32 has exactly ceil(present / 512) blocks) and, on this deferred_init=lazy kernel,
    the not yet initialised part of Normal (blocks × 512 = 1048576, not spanned 5505024).
    """
    p, zi = real["pti"], real["zi"]
    for node, zone in p.zones:
        z = zi.zone(node, zone)
        pages = p.total_blocks(node, zone) * p.pages_per_block
        assert z.managed <= pages <= z.spanned + p.pages_per_block - 1, zone
    assert p.total_blocks(0, "DMA32") == -(-zi.zone(0, "DMA32").present // 512) == 1528
    assert p.total_blocks(0, "DMA") == 8
    assert p.total_blocks(0, "Normal") * 512 == 1048576


def test_kbuild_snapshots_differ_from_idle():
    """The three build snapshots are three different moments (a parser returning stale or
    constant data would fail this)."""
    frees = [parse_buddyinfo(read(d, "buddyinfo")).free_pages(0, "Normal") for d in KBUILD]
    assert frees == [817530, 810464, 808956]
    blocks = [parse_pagetypeinfo(read(d, "pagetypeinfo")).blocks[(0, "Normal")] for d in KBUILD]
    assert blocks[1]["Unmovable"] == 272 and blocks[1]["Movable"] == 1625


# ---------------------------------------------------------------------------------------------
# kpageflags / kpagecount of the real captures


@pytest.fixture(scope="module")
def idle_kpage():
    zi = parse_zoneinfo(read(IDLE, "zoneinfo"))
    flags = read_kpage_array(IDLE / "kpageflags.xz", expected_len=zi.pfn_end)
    counts = read_kpage_array(IDLE / "kpagecount.xz", expected_len=zi.pfn_end)
    return zi, flags, counts


def test_kpage_arrays_shape(idle_kpage):
    zi, flags, counts = idle_kpage
    assert flags.dtype == np.uint64 and len(flags) == len(counts) == 6553600 == zi.pfn_end
    assert not (flags & np.uint64(1 << KPF_NOPAGE)).any()
    assert int(counts.max()) > 1


def test_kpageflags_agrees_with_the_text_files(idle_kpage):
    zi, flags, counts = idle_kpage
    mi = parse_meminfo(read(IDLE, "meminfo"))
    k = count_page_kinds(flags, counts)
    assert k.total == 6553600 and sum(k.kinds.values()) == k.total
    # every page of every free buddy block carries KPF_BUDDY: exactly zoneinfo's free pages
    assert k.kinds["free_buddy"] == k.flags["BUDDY"] == zi.total("pages_free") == 1628682
    for z in zi.populated:
        seg = flags[z.start_pfn : z.end_pfn]
        assert int(np.count_nonzero(seg & np.uint64(1 << KPF_BUDDY))) == z.pages_free
    # page cache: file kinds + shmem == Cached + Buffers (73790 pages), dirty == Dirty
    file_pages = k.kinds["file_clean"] + k.kinds["file_dirty"] + k.kinds["file_writeback"]
    cache = mi.pages("Cached") + mi.pages("Buffers")
    assert abs(file_pages + k.kinds["shmem"] - cache) <= 0.001 * cache
    assert k.kinds["shmem"] == mi.pages("Shmem") == 2197
    assert abs(k.kinds["file_dirty"] - mi.pages("Dirty")) <= 10
    assert abs(k.kinds["slab"] - mi.pages("Slab")) <= 0.05 * mi.pages("Slab")
    assert abs(k.kinds["anon"] - mi.pages("AnonPages")) <= 0.3 * mi.pages("AnonPages")
    assert k.kinds["reserved"] == 9674 and k.kinds["pgtable"] == 445
    assert k.mapped == int(np.count_nonzero(counts))


@pytest.mark.parametrize("snap", KBUILD, ids=lambda p: p.name)
def test_kbuild_kpageflags_free_and_cache(snap):
    zi = parse_zoneinfo(read(snap, "zoneinfo"))
    mi = parse_meminfo(read(snap, "meminfo"))
    flags = read_kpage_array(snap / "kpageflags.xz", expected_len=zi.pfn_end)
    k = count_page_kinds(flags)
    assert k.mapped is None
    # read ~0.5 s after zoneinfo, during a build: within 1 %
    assert abs(k.kinds["free_buddy"] - zi.total("pages_free")) <= 0.01 * zi.total("pages_free")
    file_pages = k.kinds["file_clean"] + k.kinds["file_dirty"] + k.kinds["file_writeback"]
    cache = mi.pages("Cached") + mi.pages("Buffers")
    assert abs(file_pages + k.kinds["shmem"] - cache) <= 0.02 * cache


def test_classify_pages_priorities():
    def f(*bits):
        return sum(1 << b for b in bits)

    flags = np.array(
        [
            0,
            f(KPF_BUDDY),
            f(KPF_SLAB, KPF_ANON),  # a slab's fields overlay mapping: slab wins
            f(KPF_ANON, KPF_LRU, 14),
            f(KPF_UPTODATE, KPF_LRU, KPF_DIRTY),
            f(KPF_UPTODATE, KPF_LRU, KPF_WRITEBACK, KPF_DIRTY),
            f(KPF_UPTODATE, KPF_LRU),
            f(KPF_COMPOUND_TAIL),
            f(KPF_PGTABLE),
            f(KPF_COMPOUND_TAIL, KPF_THP, KPF_UPTODATE, KPF_LRU),
            f(14, KPF_LRU, KPF_UPTODATE),  # swapbacked, not anon: shmem
            f(KPF_NOPAGE),
            f(2),  # referenced only
        ],
        dtype=np.uint64,
    )
    kinds = [PAGE_KINDS[c] for c in classify_pages(flags)]
    assert kinds == [
        "no_flags",
        "free_buddy",
        "slab",
        "anon",
        "file_dirty",
        "file_writeback",
        "file_clean",
        "kernel_compound",
        "pgtable",
        "file_clean",
        "shmem",
        "nopage",
        "other",
    ]


def test_read_kpage_array_raw_gz_xz_and_chunks(tmp_path):
    arr = np.arange(1000, dtype="<u8") * np.uint64(0x1_0000_0001)
    (tmp_path / "raw").write_bytes(arr.tobytes())
    with gzip.open(tmp_path / "a.gz", "wb") as f:
        f.write(arr.tobytes())
    with lzma.open(tmp_path / "a.xz", "wb") as f:
        f.write(arr.tobytes())
    for name in ("raw", "a.gz", "a.xz"):
        got = read_kpage_array(tmp_path / name, chunk_bytes=24, expected_len=1000)
        assert np.array_equal(got, arr), name


# ---------------------------------------------------------------------------------------------
# other kernels (hand-made fixtures)


def test_v59_two_nodes_and_movable_zone():
    d = FIX / "v5.9-2node"
    b = parse_buddyinfo(read(d, "buddyinfo"))
    p = parse_pagetypeinfo(read(d, "pagetypeinfo"))
    zi = parse_zoneinfo(read(d, "zoneinfo"))
    assert list(b.zones) == [(0, "DMA"), (0, "DMA32"), (0, "Normal"), (1, "Normal"), (1, "Movable")]
    assert p.migratetypes == ("Unmovable", "Movable", "Reclaimable", "HighAtomic", "Isolate")
    assert "CMA" not in p.migratetypes and not p.any_capped
    assert p.zones == list(b.zones)
    assert p.blocks[(1, "Movable")] == {
        "Unmovable": 0,
        "Movable": 2048,
        "Reclaimable": 0,
        "HighAtomic": 0,
        "Isolate": 0,
    }
    assert p.free[(0, "Normal", "HighAtomic")].counts[9] == 1
    assert len(zi.zones) == 8
    for key, counts in b.zones.items():
        assert p.free_counts(*key) == counts
        assert zi.zone(*key).pages_free == b.free_pages(*key)
    # node 1's stats are printed under its first populated zone, Normal
    assert zi.zone(1, "Normal").node_stats["nr_kernel_stack"] == 9088
    assert zi.node_stats[1]["nr_dirty"] == 108 and zi.node_stats[0]["nr_dirty"] == 301
    z = zi.zone(1, "DMA32")
    assert not z.populated and z.protection == (0, 0, 0, 0) and z.stats == {}
    mv = zi.zone(1, "Movable")
    assert (mv.start_pfn, mv.end_pfn, mv.managed, mv.promo) == (6291456, 7340032, 1048576, None)
    assert [(c.cpu, c.count, c.high, c.batch, c.high_min) for c in mv.pagesets][1] == (
        1,
        16,
        378,
        63,
        None,
    )
    assert zi.pfn_end == 7340032
    assert parse_vmstat(read(d, "vmstat"))["nr_free_pages"] == zi.total("pages_free")
    mi = parse_meminfo(read(d, "meminfo"))
    assert mi.pages("MemTotal") == zi.total("managed")


def test_v43_reserve_type_names():
    p = parse_pagetypeinfo(read(FIX, "pagetypeinfo-v4.3-reserve"))
    assert p.migratetypes == ("Unmovable", "Reclaimable", "Movable", "Reserve", "Isolate")
    assert p.blocks[(0, "DMA32")]["Reserve"] == 2 and p.total_blocks(0, "DMA32") == 1014
    b = parse_buddyinfo(read(FIX, "buddyinfo-v4.3"))
    for key, counts in b.zones.items():
        assert p.free_counts(*key) == counts


def test_v66_capped_counts_and_cma():
    p = parse_pagetypeinfo(read(FIX, "pagetypeinfo-v6.6-capped-cma"))
    b = parse_buddyinfo(read(FIX, "buddyinfo-v6.6-capped-cma"))
    assert p.migratetypes[-2:] == ("CMA", "Isolate") and p.any_capped
    mov = p.free[(0, "Normal", "Movable")]
    assert mov.counts[:2] == (100000, 100000) and mov.capped[:3] == (True, True, False)
    assert not p.free[(0, "Normal", "CMA")].any_capped
    assert p.blocks[(0, "Normal")]["CMA"] == 512
    # a capped count is a lower bound: buddyinfo has the true totals
    ptc, bc = p.free_counts(0, "Normal"), b.zones[(0, "Normal")]
    assert ptc[0] < bc[0] == 412331 and ptc[1] < bc[1] == 250117
    assert ptc[2:] == bc[2:]
    assert p.free_pages(0, "DMA32") == b.free_pages(0, "DMA32")


def test_arm64_64k_fourteen_orders():
    d = FIX / "arm64-64k"
    b = parse_buddyinfo(read(d, "buddyinfo"))
    p = parse_pagetypeinfo(read(d, "pagetypeinfo"), page_size=65536, pageblock_bytes=512 << 20)
    assert b.nr_orders == p.nr_orders == 14
    assert (p.pageblock_order, p.pages_per_block) == (13, 8192)
    zi = parse_zoneinfo(read(d, "zoneinfo"))
    assert zi.zone(0, "DMA").protection == (0, 14044, 14044)
    for key in b.zones:
        assert p.free_counts(*key) == b.zones[key]
        assert zi.zone(*key).pages_free == b.free_pages(*key)
    with pytest.raises(ProcParseError, match=r"pagetypeinfo:2: .*8192 × 4096 .*65536-byte pages"):
        parse_pagetypeinfo(read(d, "pagetypeinfo"), page_size=4096, pageblock_bytes=512 << 20)


# ---------------------------------------------------------------------------------------------
# bad input


def _mutate(text: str, lineno: int, new: str | None) -> str:
    lines = text.splitlines(keepends=True)
    if new is None:
        del lines[lineno - 1]
    else:
        lines[lineno - 1] = new
    return "".join(lines)


BUDDY = "Node 0, zone      DMA      0      1      2 \nNode 0, zone   Normal      3      4      5 \n"


@pytest.mark.parametrize(
    "text, pattern",
    [
        (BUDDY.replace("4", "x"), r"buddyinfo:2: expected 'Node N, zone NAME' .*got"),
        (BUDDY.replace("5 \n", "\n"), r"buddyinfo:2: expected 3 counts \(orders 0-2, as on line 1"),
        (BUDDY + BUDDY.splitlines(True)[0], r"buddyinfo:3: .*appears twice"),
        ("", r"buddyinfo:1: .*empty"),
    ],
)
def test_buddyinfo_bad_input(text, pattern):
    with pytest.raises(ProcParseError, match=pattern):
        parse_buddyinfo(text)


@pytest.fixture(scope="module")
def pti_text():
    return read(FIX / "v5.9-2node", "pagetypeinfo")


def test_pagetypeinfo_bad_input(pti_text):
    lines = pti_text.splitlines(keepends=True)
    # line 6: "Node    0, zone      DMA, type      Movable ..." -> one count fewer than the header
    short = lines[5].rstrip().rsplit(" ", 1)[0] + " \n"
    with pytest.raises(
        ProcParseError,
        match=r"pagetypeinfo:6: expected 11 counts .*header on "
        r"line 4\), found 10",
    ):
        parse_pagetypeinfo(_mutate(pti_text, 6, short))
    with pytest.raises(ProcParseError, match=r":2: expected pages per block = 2\*\*9 = 512"):
        parse_pagetypeinfo(_mutate(pti_text, 2, "Pages per block:  1024\n"))
    with pytest.raises(ProcParseError, match=r":23: expected the same page block order"):
        parse_pagetypeinfo(_mutate(pti_text, 23, "Page block order: 10\n"))
    # line 10: "Node    0, zone    DMA32, type    Unmovable     40 ..." with a garbled count
    with pytest.raises(
        ProcParseError,
        match=r":10: expected a pagetypeinfo line.*got 'Node    0, "
        r"zone    DMA32, type    Unmovable     4o",
    ):
        parse_pagetypeinfo(_mutate(pti_text, 10, lines[9].replace(" 40 ", " 4o ")))
    with pytest.raises(ProcParseError, match=r":22: expected 5 counts, one per type"):
        parse_pagetypeinfo(_mutate(pti_text, 22, "Node 0, zone      DMA            1 \n"))
    # truncated before node 1's block table / before any block table
    with pytest.raises(ProcParseError, match=r"the same zones in the free table and the block"):
        parse_pagetypeinfo("".join(lines[:37]))
    with pytest.raises(ProcParseError, match=r"'Number of blocks type' table"):
        parse_pagetypeinfo("".join(lines[:17]))


def test_pagetypeinfo_page_size_mismatch(pti_text):
    with pytest.raises(
        ProcParseError,
        match=r"pagetypeinfo:2: expected pages per block × page "
        r"size = pageblock size: 512 × 65536 .*2097152 bytes.*4096-byte pages",
    ):
        parse_pagetypeinfo(pti_text, page_size=65536, pageblock_bytes=2 << 20)


@pytest.fixture(scope="module")
def zi_text():
    return read(FIX / "v5.9-2node", "zoneinfo")


def test_zoneinfo_bad_input(zi_text):
    lines = zi_text.splitlines(keepends=True)
    n_free = next(i for i, l in enumerate(lines, 1) if l.startswith("  pages free"))
    with pytest.raises(ProcParseError, match=rf"zoneinfo:{n_free}: expected a zoneinfo line"):
        parse_zoneinfo(_mutate(zi_text, n_free, "  pages free     12x\n"))
    # a cut-off file: the last zone has no start_pfn
    with pytest.raises(ProcParseError, match=r"'start_pfn:' for populated node 1 zone Movable"):
        parse_zoneinfo("".join(lines[:-2]))
    with pytest.raises(ProcParseError, match=r"zoneinfo:1: expected 'Node N, zone NAME' first"):
        parse_zoneinfo("  pages free 3\n")
    n_cpu = next(i for i, l in enumerate(lines, 1) if l.strip() == "cpu: 0")
    with pytest.raises(
        ProcParseError,
        match=rf":{n_cpu + 1}: expected a pageset line, not "
        r"statistic 'nr_bogus'",
    ):
        parse_zoneinfo(_mutate(zi_text, n_cpu + 1, "              nr_bogus 3\n"))
    n_prot = next(i for i, l in enumerate(lines, 1) if "protection" in l)
    with pytest.raises(ProcParseError, match=r"'protection: \(...\)' for node 0 zone DMA"):
        parse_zoneinfo(_mutate(zi_text, n_prot, None))
    with pytest.raises(ProcParseError, match=r"empty"):
        parse_zoneinfo("\n")


def test_vmstat_meminfo_bad_input():
    with pytest.raises(ProcParseError, match=r"vmstat:2: expected 'name value'.*'nr_dirty 1 2'"):
        parse_vmstat("nr_free_pages 3\nnr_dirty 1 2\n")
    with pytest.raises(ProcParseError, match=r"vmstat:2: expected each counter once"):
        parse_vmstat("nr_free_pages 3\nnr_free_pages 3\n")
    with pytest.raises(ProcParseError, match=r"meminfo:2: expected 'Name:  value \[kB\]'"):
        parse_meminfo("MemTotal: 1 kB\nMemFree 3 kB\n")
    with pytest.raises(ProcParseError, match=r"meminfo: expected a 'MemTotal:' line"):
        parse_meminfo("MemFree: 3 kB\n")


def test_kpage_bad_input(tmp_path):
    (tmp_path / "odd").write_bytes(b"\0" * 8 * 10 + b"\1\2\3")
    with pytest.raises(
        ProcParseError,
        match=r"odd: byte offset 80: expected a length that is a "
        r"multiple of 8.*83 bytes leaves 3",
    ):
        read_kpage_array(tmp_path / "odd")
    (tmp_path / "short").write_bytes(b"\0" * 8 * 10)
    with pytest.raises(
        ProcParseError,
        match=r"short: byte offset 80: expected 12 entries "
        r"\(96 bytes.*zoneinfo spans\), found 10",
    ):
        read_kpage_array(tmp_path / "short", expected_len=12)
    with pytest.raises(ProcParseError, match=r"expected 5 entries .* found 10"):
        read_kpage_array(tmp_path / "short", expected_len=5)
    data = lzma.compress(b"\0" * 8 * 1000)
    (tmp_path / "cut.xz").write_bytes(data[: len(data) // 2])
    with pytest.raises(
        ProcParseError,
        match=r"cut.xz: byte offset \d+: expected a complete "
        r"compressed stream",
    ):
        read_kpage_array(tmp_path / "cut.xz")


def test_real_kpageflags_against_another_zoneinfo():
    """The real kpageflags (6553600 pfns) does not fit the v5.9 fixture's zones (7340032)."""
    zi = parse_zoneinfo(read(FIX / "v5.9-2node", "zoneinfo"))
    with pytest.raises(
        ProcParseError,
        match=r"kpageflags.xz: byte offset 52428800: expected "
        r"7340032 entries",
    ):
        read_kpage_array(IDLE / "kpageflags.xz", expected_len=zi.pfn_end)
