"""Capturing /proc snapshots (of this machine and of a fake procfs) and loading them back."""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from allockit.ingest.procfs import KPF_BUDDY, ProcParseError
from allockit.ingest.snapshot import capture_snapshot, load_snapshot, register
from allockit.paths import DATA_DIR

IDLE = DATA_DIR / "raw" / "idle-snapshot"
FIX = Path(__file__).parent / "fixtures" / "procfs"
V59 = FIX / "v5.9-2node"

live = pytest.mark.skipif(
    not Path("/proc/buddyinfo").exists(), reason="no /proc/buddyinfo (not Linux)"
)
root = pytest.mark.skipif(
    not (hasattr(os, "geteuid") and os.geteuid() == 0), reason="kpageflags needs root"
)


@pytest.fixture
def fake_proc(tmp_path):
    """A procfs-like directory holding the v5.9 two-node fixture (no kpage files)."""
    proc = tmp_path / "proc"
    proc.mkdir()
    for name in ("buddyinfo", "pagetypeinfo", "zoneinfo", "vmstat", "meminfo"):
        shutil.copy(V59 / name, proc / name)
    (proc / "sys" / "kernel").mkdir(parents=True)
    (proc / "sys" / "kernel" / "osrelease").write_text("5.9.16-1-default\n")
    return proc


def cli(argv):
    p = argparse.ArgumentParser(prog="allockit")
    sub = p.add_subparsers(dest="command", required=True)
    register(sub)
    args = p.parse_args(argv)
    return args.func(args)


# ---------------------------------------------------------------------------------------------
# the live machine


@live
@root
def test_capture_live_machine_and_reload(tmp_path):
    dest = tmp_path / "snap"
    meta = capture_snapshot(dest, max_pfns=1 << 16)
    assert meta["page_size"] == os.sysconf("SC_PAGE_SIZE")
    assert meta["kernel_release"] == os.uname().release
    assert meta["kernel_release_source"] == "sys/kernel/osrelease"
    assert set(meta["files"]) == {"buddyinfo", "pagetypeinfo", "zoneinfo", "vmstat", "meminfo"}
    kp = meta["kpage"]
    assert kp["captured"] and kp["compression"] == "gzip" and kp["compression_level"] == 1
    assert (kp["pfn_start"], kp["pfn_end"], kp["nr_pfns"]) == (0, 1 << 16, 1 << 16)
    assert kp["files"]["kpageflags"]["raw_bytes"] == 8 << 16
    assert json.loads((dest / "meta.json").read_text()) == meta
    with gzip.open(dest / "kpageflags.gz") as f:
        assert len(f.read()) == 8 << 16

    s = load_snapshot(dest)
    assert s.page_size_source == "meta.json" and s.kernel_release == meta["kernel_release"]
    assert "kpageflags" not in s.__dict__  # not read yet
    assert s.zoneinfo.pfn_end > s.pfn_end == 1 << 16
    flags = s.kpageflags
    assert flags.dtype == np.uint64 and len(flags) == len(s.kpagecount) == 1 << 16
    # the DMA zone (pfns 1-4095 on x86) is untouched by a running system: its buddy pages in
    # kpageflags are zoneinfo's free pages
    dma = s.zoneinfo.zone(0, "DMA")
    buddy = int(np.count_nonzero(flags[s.pfn_slice(0, "DMA")] & np.uint64(1 << KPF_BUDDY)))
    assert buddy == dma.pages_free == s.buddyinfo.free_pages(0, "DMA")
    kinds = s.page_kinds()
    assert kinds.total == 1 << 16 and kinds.kinds["free_buddy"] >= buddy
    assert s.buddyinfo.nr_orders == s.pagetypeinfo.nr_orders
    text = s.summary()
    assert "free blocks per order" in text and "page kinds (kpageflags, pfns 0-65535" in text


@live
@root
def test_capture_live_xz_chunked(tmp_path):
    meta = capture_snapshot(tmp_path / "s", compression="xz", max_pfns=5000, chunk_bytes=4096)
    assert meta["kpage"]["files"]["kpagecount"]["file"] == "kpagecount.xz"
    s = load_snapshot(tmp_path / "s")
    assert len(s.kpageflags) == 5000 and s.kpagecount_path.suffix == ".xz"


@live
def test_capture_live_without_kpage(tmp_path):
    meta = capture_snapshot(tmp_path / "s", with_kpage=False)
    assert meta["kpage"] == {"captured": False, "reason": "not requested"}
    assert not list((tmp_path / "s").glob("kpage*"))
    s = load_snapshot(tmp_path / "s")
    assert not s.has_kpage and s.kpageflags is None and s.page_kinds() is None
    assert "no kpageflags" in s.summary()


# ---------------------------------------------------------------------------------------------
# a fake procfs


def test_capture_fake_proc_copies_the_files(fake_proc, tmp_path):
    meta = capture_snapshot(tmp_path / "s", proc=fake_proc)
    for name in ("buddyinfo", "pagetypeinfo", "zoneinfo", "vmstat", "meminfo"):
        assert (tmp_path / "s" / name).read_bytes() == (V59 / name).read_bytes()
    assert meta["kernel_release"] == "5.9.16-1-default"
    assert meta["kpage"]["captured"] is False and "root" in meta["kpage"]["reason"]
    s = load_snapshot(tmp_path / "s")
    assert s.kernel_release == "5.9.16-1-default"
    assert list(s.buddyinfo.zones)[-1] == (1, "Movable")
    assert s.zoneinfo.zone(1, "Movable").managed == 1048576
    for row in s.consistency().values():
        assert row["buddyinfo"] == row["zoneinfo"] == row["pagetypeinfo"]


def test_capture_requires_kpage_when_asked(fake_proc, tmp_path):
    with pytest.raises(ValueError, match=r"kpageflags and kpagecount are not readable"):
        capture_snapshot(tmp_path / "s", proc=fake_proc, with_kpage=True)


def test_capture_without_pagetypeinfo(fake_proc, tmp_path):
    (fake_proc / "pagetypeinfo").unlink()  # mode 0400 since v5.4: unreadable for non-root
    meta = capture_snapshot(tmp_path / "s", proc=fake_proc)
    assert meta["missing"] == {"pagetypeinfo": "No such file or directory"}
    assert load_snapshot(tmp_path / "s").pagetypeinfo is None


def test_capture_errors(fake_proc, tmp_path):
    capture_snapshot(tmp_path / "s", proc=fake_proc)
    with pytest.raises(ValueError, match=r"already holds a snapshot"):
        capture_snapshot(tmp_path / "s", proc=fake_proc)
    (fake_proc / "zoneinfo").unlink()
    with pytest.raises(ValueError, match=r"cannot read .*proc/zoneinfo"):
        capture_snapshot(tmp_path / "t", proc=fake_proc)
    with pytest.raises(ValueError, match=r"compression 'zstd'"):
        capture_snapshot(tmp_path / "u", proc=fake_proc, compression="zstd")


# ---------------------------------------------------------------------------------------------
# loading


def test_load_real_capture_lazily():
    s = load_snapshot(IDLE)
    assert (s.page_size, s.page_size_source) == (4096, "inferred")
    assert s.kernel_release == "6.18.44-fc-v595" and s.meta == {}
    assert (s.pfn_start, s.pfn_end) == (0, 6553600)
    assert "kpageflags" not in s.__dict__
    rows = s.consistency()
    assert rows[(0, "Normal")] == {
        "buddyinfo": 852050,
        "zoneinfo": 852050,
        "pagetypeinfo": 852050,
        "kpageflags": 852050,
    }
    assert "kpageflags" in s.__dict__
    assert s.page_kinds((0, "DMA")).kinds["free_buddy"] == 3840


def test_load_other_page_size_is_refused(tmp_path):
    with pytest.raises(ProcParseError, match=r"arm64-64k/pagetypeinfo:2: .*8192 × 4096"):
        load_snapshot(FIX / "arm64-64k")
    s = load_snapshot(FIX / "arm64-64k", page_size=None)
    assert (s.page_size, s.page_size_source) == (65536, "inferred")
    with pytest.raises(
        ProcParseError,
        match=r"v5.9-2node/pagetypeinfo:2: .*512 × 65536 .*"
        r"4096-byte pages",
    ):
        load_snapshot(V59, page_size=65536)
    d = tmp_path / "s"
    shutil.copytree(V59, d)
    (d / "meta.json").write_text(json.dumps({"page_size": 16384}))
    with pytest.raises(ProcParseError, match=r"meta.json: expected page size 4096 .*16384-byte"):
        load_snapshot(d)
    (d / "meta.json").write_text("{not json")
    with pytest.raises(ProcParseError, match=r"meta.json:1: expected JSON"):
        load_snapshot(d)


def test_load_kpage_length_mismatch(tmp_path):
    d = tmp_path / "s"
    shutil.copytree(V59, d)
    # 7340032 pfns span the zones; a kpageflags of 1000 entries does not fit them
    with gzip.open(d / "kpageflags.gz", "wb") as f:
        f.write(np.zeros(1000, dtype="<u8").tobytes())
    s = load_snapshot(d)
    assert s.has_kpage and s.pfn_end == 7340032
    with pytest.raises(
        ProcParseError,
        match=r"kpageflags.gz: byte offset 8000: expected "
        r"7340032 entries",
    ):
        _ = s.kpageflags


def test_load_rejects_inconsistent_files(tmp_path):
    d = tmp_path / "s"
    shutil.copytree(V59, d)
    text = (d / "buddyinfo").read_text().replace("zone  Movable", "zone  HighMem")
    (d / "buddyinfo").write_text(text)
    with pytest.raises(
        ProcParseError,
        match=r"buddyinfo: expected zones that zoneinfo lists; "
        r"node 1 zone HighMem",
    ):
        load_snapshot(d)
    shutil.copy(FIX / "arm64-64k" / "buddyinfo", d / "buddyinfo")
    with pytest.raises(ProcParseError, match=r"pagetypeinfo: expected 14 orders as in buddyinfo"):
        load_snapshot(d)
    (d / "vmstat").unlink()
    with pytest.raises(ValueError, match=r"has no vmstat"):
        load_snapshot(d)


# ---------------------------------------------------------------------------------------------
# the command


def test_cli_snapshot_fake_proc(fake_proc, tmp_path, capsys):
    assert cli(["snapshot", str(tmp_path / "s"), "--proc", str(fake_proc), "--no-kpage"]) == 0
    out = capsys.readouterr().out
    assert "kpage files not captured: not requested" in out
    assert "kernel 5.9.16-1-default" in out
    assert "1 Movable      6291456   1048576" in out
    assert "1 Movable      1533   1021    502" in out  # free blocks per order
    assert "0 Normal             402        5378         362           2" in out  # blocks


def test_cli_snapshot_load_only(capsys):
    assert cli(["snapshot", str(IDLE), "--load"]) == 0
    out = capsys.readouterr().out
    assert "free_buddy        1628682" in out and "file_dirty           5962" in out
    assert len(out.splitlines()) <= 40  # one screen
