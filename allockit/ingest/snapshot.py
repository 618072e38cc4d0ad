"""Capture and load /proc snapshots of a machine's physical memory state.

A snapshot directory holds the files as the kernel printed them::

    buddyinfo pagetypeinfo zoneinfo vmstat meminfo    copies of /proc/<name>
    kernel-release page-size captured-at               one line each
    kpageflags.gz kpagecount.gz                        (root only) one u64 per pfn, compressed
    meta.json                                          what was captured, when, how long it took

:func:`capture_snapshot` writes one, :func:`load_snapshot` reads one (also the captures in
``../shared/data/``, which have no ``meta.json`` and ``.xz`` kpage files) into a
:class:`Snapshot` of parsed objects; the kpage arrays are read on first use. Rebuilding a
simulated machine from a snapshot is not done here.

The kpage files cover pfns ``[pfn_start, pfn_end)``: ``pfn_end`` is the end of the highest
zone in zoneinfo, ``pfn_start`` the lowest zone start rounded down to a max-order block
(0 on x86). They are read from /proc in chunks (8 MiB, one million pfns) with ``pread`` and
written through gzip level 1 by default (xz preset 0 on request). Measured on the 24 GB
(6.55 M pfn, 52 MB per file) 2-CPU VM this was written on, x86-64, Linux 6.18: the kernel
takes 0.5-1.0 s to produce one file (more when the machine is busy); gzip -1 adds 0.1-0.2 s
per file, xz -0 0.3-0.55 s but writes 2-13x smaller files. A whole capture took 1.5-2.3 s
with gzip -1 (0.8-1.1 MB of kpageflags.gz, 0.3-0.4 MB of kpagecount.gz) and 2.9 s with xz -0
(0.5 MB + 0.1 MB).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import functools
import gzip
import json
import lzma
import os
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from allockit.ingest.procfs import (
    KPAGE_CHUNK,
    BuddyInfo,
    MemInfo,
    PageKindCounts,
    PageTypeInfo,
    ProcParseError,
    ZoneInfoFile,
    count_page_kinds,
    parse_buddyinfo,
    parse_meminfo,
    parse_pagetypeinfo,
    parse_vmstat,
    parse_zoneinfo,
    read_kpage_array,
)

__all__ = [
    "PROC_FILES",
    "Snapshot",
    "capture_snapshot",
    "load_snapshot",
    "register",
]

FORMAT = "allockit-snapshot/1"
PROC_FILES = ("buddyinfo", "pagetypeinfo", "zoneinfo", "vmstat", "meminfo")
REQUIRED = ("buddyinfo", "zoneinfo", "vmstat", "meminfo")  # pagetypeinfo is 0400 since v5.4
KPAGE_FILES = ("kpageflags", "kpagecount")
_SUFFIX = {"gzip": ".gz", "xz": ".xz", "none": ""}


def _open_compressed(path: Path, compression: str):
    if compression == "gzip":
        return gzip.open(path, "wb", compresslevel=1)
    if compression == "xz":
        return lzma.open(path, "wb", preset=0)
    if compression == "none":
        return open(path, "wb")  # noqa: SIM115
    raise ValueError(f"snapshot: compression {compression!r}: expected gzip, xz or none")


def _copy_kpage(
    src: Path, dst: Path, start: int, end: int, compression: str, chunk_bytes: int
) -> dict:
    """Copy entries [start, end) of a /proc kpage file; returns sizes and timings."""
    t0 = time.perf_counter()
    read_s = 0.0
    done = 0
    want = (end - start) * 8
    fd = os.open(src, os.O_RDONLY)
    try:
        with _open_compressed(dst, compression) as out:
            while done < want:
                t = time.perf_counter()
                piece = os.pread(fd, min(chunk_bytes, want - done), start * 8 + done)
                read_s += time.perf_counter() - t
                if not piece:
                    break
                out.write(piece)
                done += len(piece)
    finally:
        os.close(fd)
    return {
        "file": dst.name,
        "raw_bytes": done,
        "compressed_bytes": dst.stat().st_size,
        "read_s": round(read_s, 4),
        "total_s": round(time.perf_counter() - t0, 4),
    }


def capture_snapshot(
    dest_dir: str | os.PathLike,
    *,
    proc: str | os.PathLike = "/proc",
    with_kpage: bool | None = None,
    compression: str = "gzip",
    max_pfns: int | None = None,
    chunk_bytes: int = KPAGE_CHUNK,
) -> dict:
    """Copy the memory-state files of ``proc`` into ``dest_dir``; returns the meta dict.

    ``with_kpage``: None captures /proc/kpageflags and /proc/kpagecount when readable (root),
    True requires them, False skips them. ``max_pfns`` limits how many pfns they cover (for
    tests). The kpage range is the pfn range zoneinfo spans (see the module docstring).
    """
    t_start = time.perf_counter()
    proc = Path(proc)
    dest = Path(dest_dir)
    if (dest / "buddyinfo").exists() or (dest / "meta.json").exists():
        raise ValueError(f"snapshot: {dest} already holds a snapshot; choose an empty directory")
    if compression not in _SUFFIX:
        raise ValueError(f"snapshot: compression {compression!r}: expected gzip, xz or none")
    dest.mkdir(parents=True, exist_ok=True)
    now = _dt.datetime.now(_dt.UTC)
    meta: dict = {
        "format": FORMAT,
        "captured_at": now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "captured_at_unix": now.timestamp(),
        "proc": str(proc),
        "arch": platform.machine(),
        "files": {},
        "missing": {},
    }
    texts: dict[str, bytes] = {}
    for name in PROC_FILES:
        t = time.perf_counter()
        try:
            data = (proc / name).read_bytes()
        except (FileNotFoundError, PermissionError) as exc:
            if name in REQUIRED:
                raise ValueError(f"snapshot: cannot read {proc / name}: {exc.strerror}") from exc
            meta["missing"][name] = exc.strerror
            continue
        (dest / name).write_bytes(data)
        texts[name] = data
        meta["files"][name] = {"bytes": len(data), "read_s": round(time.perf_counter() - t, 5)}

    try:
        release = (proc / "sys" / "kernel" / "osrelease").read_text().strip()
        meta["kernel_release_source"] = "sys/kernel/osrelease"
    except OSError:
        release = os.uname().release
        meta["kernel_release_source"] = "uname"
    page_size = os.sysconf("SC_PAGE_SIZE")
    meta["kernel_release"] = release
    meta["page_size"] = page_size
    (dest / "kernel-release").write_text(release + "\n")
    (dest / "page-size").write_text(f"{page_size}\n")
    (dest / "captured-at").write_text(now.strftime("%Y-%m-%dT%H:%M:%SZ") + "\n")

    zi = parse_zoneinfo(texts["zoneinfo"].decode(), str(proc / "zoneinfo"))
    bi = parse_buddyinfo(texts["buddyinfo"].decode(), str(proc / "buddyinfo"))
    align = 1 << (bi.nr_orders - 1)
    pfn_start = zi.pfn_start // align * align
    pfn_end = zi.pfn_end
    if max_pfns is not None:
        pfn_end = min(pfn_end, pfn_start + max_pfns)
    kpage: dict = {"captured": False}
    readable = all(os.access(proc / n, os.R_OK) for n in KPAGE_FILES)
    if with_kpage is False:
        kpage["reason"] = "not requested"
    elif not readable:
        if with_kpage:
            raise ValueError(
                f"snapshot: {proc}/kpageflags and kpagecount are not readable (they need root)"
            )
        kpage["reason"] = "not readable (needs root)"
    else:
        t = time.perf_counter()
        files = {}
        for name in KPAGE_FILES:
            dst = dest / f"{name}{_SUFFIX[compression]}"
            files[name] = _copy_kpage(
                proc / name, dst, pfn_start, pfn_end, compression, chunk_bytes
            )
        got = {f["raw_bytes"] // 8 for f in files.values()}
        nr = min(got)
        kpage = {
            "captured": True,
            "pfn_start": pfn_start,
            "pfn_end": pfn_start + nr,
            "nr_pfns": nr,
            "zoneinfo_pfn_end": zi.pfn_end,
            "max_pfns": max_pfns,
            "compression": compression,
            "compression_level": {"gzip": 1, "xz": 0, "none": None}[compression],
            "chunk_bytes": chunk_bytes,
            "files": files,
            "total_s": round(time.perf_counter() - t, 4),
        }
        if nr != pfn_end - pfn_start or len(got) != 1:
            kpage["short_read"] = f"asked for {pfn_end - pfn_start} pfns, got {sorted(got)}"
    meta["kpage"] = kpage
    meta["duration_s"] = round(time.perf_counter() - t_start, 4)
    (dest / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta


# ---------------------------------------------------------------------------------------------
# loading


def _find_kpage(path: Path, name: str) -> Path | None:
    for suffix in (".xz", ".gz", ".bz2", ""):
        p = path / f"{name}{suffix}"
        if p.exists():
            return p
    return None


@dataclass
class Snapshot:
    """A loaded snapshot: every parsed file; ``kpageflags``/``kpagecount`` read on first use.

    The kpage arrays hold pfns ``[pfn_start, pfn_end)``: entry ``i`` is pfn ``pfn_start + i``.
    """

    path: Path
    meta: dict
    kernel_release: str | None
    page_size: int
    page_size_source: str  # "meta.json", "page-size", "inferred" (meminfo) or "assumed"
    buddyinfo: BuddyInfo
    pagetypeinfo: PageTypeInfo | None
    zoneinfo: ZoneInfoFile
    vmstat: dict[str, int]
    meminfo: MemInfo
    pfn_start: int
    pfn_end: int
    kpageflags_path: Path | None = None
    kpagecount_path: Path | None = None
    _kinds: dict = field(default_factory=dict, repr=False)

    @property
    def has_kpage(self) -> bool:
        return self.kpageflags_path is not None

    def _read(self, p: Path | None) -> np.ndarray | None:
        if p is None:
            return None
        return read_kpage_array(p, expected_len=self.pfn_end - self.pfn_start)

    @functools.cached_property
    def kpageflags(self) -> np.ndarray | None:
        return self._read(self.kpageflags_path)

    @functools.cached_property
    def kpagecount(self) -> np.ndarray | None:
        return self._read(self.kpagecount_path)

    def pfn_slice(self, node: int, zone: str) -> slice:
        """Index range of a zone in the kpage arrays."""
        z = self.zoneinfo.zone(node, zone)
        if z.end_pfn is None:
            return slice(0, 0)
        lo = max(z.start_pfn - self.pfn_start, 0)
        hi = min(z.end_pfn - self.pfn_start, self.pfn_end - self.pfn_start)
        return slice(lo, max(lo, hi))

    def page_kinds(self, zone: tuple[int, str] | None = None) -> PageKindCounts | None:
        """Page-kind counts over the whole range or one zone; None without kpageflags."""
        if not self.has_kpage:
            return None
        if zone not in self._kinds:
            sl = self.pfn_slice(*zone) if zone else slice(None)
            flags = self.kpageflags[sl]
            counts = self.kpagecount[sl] if self.kpagecount_path else None
            self._kinds[zone] = count_page_kinds(flags, counts)
        return self._kinds[zone]

    def consistency(self) -> dict[tuple[int, str], dict[str, int]]:
        """Per zone: free pages as buddyinfo, zoneinfo, pagetypeinfo (and kpageflags) see them.

        The files are read one after another, so on a busy machine they differ a little.
        """
        out = {}
        for key in self.buddyinfo.zones:
            row = {
                "buddyinfo": self.buddyinfo.free_pages(*key),
                "zoneinfo": self.zoneinfo.zone(*key).pages_free,
            }
            if self.pagetypeinfo is not None:
                row["pagetypeinfo"] = self.pagetypeinfo.free_pages(*key)
            kinds = self.page_kinds(key)
            if kinds is not None:
                row["kpageflags"] = kinds.kinds["free_buddy"]
            out[key] = row
        return out

    def summary(self) -> str:
        return format_summary(self)


def load_snapshot(path: str | os.PathLike, *, page_size: int | None = 4096) -> Snapshot:
    """Read a snapshot directory into a :class:`Snapshot`.

    ``page_size`` is the page size the caller expects (allockit simulates 4 KiB pages); a
    snapshot of a machine with another one raises :class:`ProcParseError`. ``None`` accepts any.
    Without ``meta.json`` or ``page-size`` (the captures in ``../shared/data/``) the page size is
    inferred as meminfo's ``Hugepagesize`` / pagetypeinfo's pages per block when that gives 4,
    16 or 64 KiB (the pageblock is the PMD huge page by default), and checked: with
    ``page_size`` given, ``pages per block × page_size`` must equal ``Hugepagesize``. Otherwise
    4096 is assumed. (Kernels built with a ``CONFIG_PAGE_BLOCK_ORDER`` other than the huge page
    order break that inference; snapshots taken by :func:`capture_snapshot` record the page
    size and are not affected.)
    """
    path = Path(path)
    if not path.is_dir():
        raise ValueError(f"snapshot: {path} is not a directory")
    meta: dict = {}
    if (path / "meta.json").exists():
        try:
            meta = json.loads((path / "meta.json").read_text())
        except json.JSONDecodeError as exc:
            raise ProcParseError(
                str(path / "meta.json"), f"JSON ({exc.msg})", lineno=exc.lineno
            ) from exc
    for name in REQUIRED:
        if not (path / name).exists():
            raise ValueError(f"snapshot: {path} has no {name} (not a snapshot directory?)")

    def text(name: str) -> str:
        return (path / name).read_text()

    if "page_size" in meta:
        psize, psource = int(meta["page_size"]), "meta.json"
    elif (path / "page-size").exists():
        psize, psource = int(text("page-size").strip()), "page-size"
    else:
        psize, psource = 4096, "assumed"
    meminfo = parse_meminfo(text("meminfo"), str(path / "meminfo"))
    zoneinfo = parse_zoneinfo(text("zoneinfo"), str(path / "zoneinfo"))
    buddy = parse_buddyinfo(text("buddyinfo"), str(path / "buddyinfo"))
    vmstat = parse_vmstat(text("vmstat"), str(path / "vmstat"))
    pti = None
    if (path / "pagetypeinfo").exists():
        pti_text = text("pagetypeinfo")
        pti = parse_pagetypeinfo(pti_text, str(path / "pagetypeinfo"))
        hp = meminfo.values.get("Hugepagesize")
        if psource == "assumed" and hp:
            # No recorded page size: infer it from the pageblock (normally the huge page).
            inferred = hp * 1024 // pti.pages_per_block
            if inferred in (4096, 16384, 65536) and inferred * pti.pages_per_block == hp * 1024:
                psize, psource = inferred, "inferred"
            if page_size is not None:
                # the pageblock must be page_size × pages per block (raises if not)
                parse_pagetypeinfo(
                    pti_text,
                    str(path / "pagetypeinfo"),
                    page_size=page_size,
                    pageblock_bytes=hp * 1024,
                )
        if pti.nr_orders != buddy.nr_orders:
            raise ProcParseError(
                str(path / "pagetypeinfo"),
                f"{buddy.nr_orders} orders as in buddyinfo, found {pti.nr_orders}",
            )
    if page_size is not None and psize != page_size:
        where = path / ("page-size" if psource == "page-size" else "meta.json")
        raise ProcParseError(
            str(where),
            f"page size {page_size} (the page size allockit simulates); this snapshot was "
            f"taken on a machine with {psize}-byte pages",
        )
    zone_keys = {(z.node, z.name) for z in zoneinfo.zones}
    for key in buddy.zones:
        if key not in zone_keys:
            raise ProcParseError(
                str(path / "buddyinfo"),
                f"zones that zoneinfo lists; node {key[0]} zone {key[1]} is not in it",
            )
    kp = meta.get("kpage", {})
    if kp.get("captured"):
        pfn_start, pfn_end = int(kp["pfn_start"]), int(kp["pfn_end"])
    else:
        pfn_start, pfn_end = 0, zoneinfo.pfn_end
    release = None
    if (path / "kernel-release").exists():
        release = text("kernel-release").strip()
    return Snapshot(
        path=path,
        meta=meta,
        kernel_release=release or meta.get("kernel_release"),
        page_size=psize,
        page_size_source=psource,
        buddyinfo=buddy,
        pagetypeinfo=pti,
        zoneinfo=zoneinfo,
        vmstat=vmstat,
        meminfo=meminfo,
        pfn_start=pfn_start,
        pfn_end=pfn_end,
        kpageflags_path=_find_kpage(path, "kpageflags"),
        kpagecount_path=_find_kpage(path, "kpagecount"),
    )


# ---------------------------------------------------------------------------------------------
# summary and command


def _pct(n: int, total: int) -> str:
    return f"{100.0 * n / total:5.1f}%" if total else "    -"


def format_summary(s: Snapshot) -> str:
    """A one-screen summary: zones, free blocks per order, blocks per migratetype, page kinds."""
    out = []
    when = s.meta.get("captured_at")
    if when is None and (s.path / "captured-at").exists():
        when = (s.path / "captured-at").read_text().strip()
    out.append(
        f"snapshot {s.path}: kernel {s.kernel_release or '?'}, {s.meta.get('arch', '?')}, "
        f"{s.page_size}-byte pages ({s.page_size_source}), captured {when or '?'}"
    )
    pti = s.pagetypeinfo
    if pti is not None:
        out.append(
            f"pageblock order {pti.pageblock_order} ({pti.pages_per_block} pages), "
            f"{pti.nr_orders} orders"
            + (" (some pagetypeinfo counts capped)" if pti.any_capped else "")
        )
    out.append("")
    out.append(
        f"{'zone':<12}{'start_pfn':>10}{'spanned':>10}{'present':>10}{'managed':>10}"
        f"{'free':>10}{'pcp':>8}  min/low/high"
    )
    for z in s.zoneinfo.zones:
        if not z.spanned:
            continue
        out.append(
            f"{z.node} {z.name:<10}{z.start_pfn or 0:>10}{z.spanned:>10}{z.present:>10}"
            f"{z.managed if z.managed is not None else '-':>10}{z.pages_free:>10}"
            f"{z.pcp_count:>8}  {z.min}/{z.low}/{z.high}"
        )
    out.append("")
    n = s.buddyinfo.nr_orders
    out.append("free blocks per order (buddyinfo)")
    out.append(f"{'zone':<12}" + "".join(f"{o:>7}" for o in range(n)) + f"{'pages':>10}")
    for (node, zone), counts in s.buddyinfo.zones.items():
        out.append(
            f"{node} {zone:<10}"
            + "".join(f"{c:>7}" for c in counts)
            + f"{s.buddyinfo.free_pages(node, zone):>10}"
        )
    if pti is not None:
        out.append("")
        out.append("pageblocks per migratetype (pagetypeinfo)")
        mts = pti.migratetypes
        out.append(f"{'zone':<12}" + "".join(f"{m:>12}" for m in mts))
        for (node, zone), row in pti.blocks.items():
            out.append(f"{node} {zone:<10}" + "".join(f"{row.get(m, 0):>12}" for m in mts))
    kinds = s.page_kinds()
    out.append("")
    if kinds is None:
        out.append("page kinds: no kpageflags in this snapshot")
    else:
        out.append(
            f"page kinds (kpageflags, pfns {s.pfn_start}-{s.pfn_end - 1}, {kinds.total} pages)"
        )
        items = [(k, v) for k, v in kinds.kinds.items() if v]
        for i in range(0, len(items), 3):
            out.append(
                "  ".join(f"{k:<16}{v:>9} {_pct(v, kinds.total)}" for k, v in items[i : i + 3])
            )
        attrs = (
            "LRU",
            "MMAP",
            "COMPOUND_HEAD",
            "COMPOUND_TAIL",
            "THP",
            "UNEVICTABLE",
            "MLOCKED",
            "DIRTY",
            "WRITEBACK",
        )
        out.append("flags: " + ", ".join(f"{a.lower()} {kinds.flags[a]}" for a in attrs))
    return "\n".join(out)


def _cmd_snapshot(args: argparse.Namespace) -> int:
    if not args.load:
        with_kpage = False if args.no_kpage else None
        meta = capture_snapshot(
            args.dir,
            proc=args.proc,
            with_kpage=with_kpage,
            compression=args.compression,
            max_pfns=args.max_pfns,
        )
        kp = meta["kpage"]
        took = f"captured in {meta['duration_s']:.2f} s"
        if kp["captured"]:
            took += f" (kpage files {kp['total_s']:.2f} s, {kp['nr_pfns']} pfns)"
        else:
            took += f" (kpage files not captured: {kp['reason']})"
        print(took)
    snap = load_snapshot(args.dir, page_size=None)
    print(snap.summary())
    if args.rebuild is None:
        return 0
    from .rebuild import check_passes, check_text, rebuild_zone, self_check

    r = rebuild_zone(snap, args.rebuild or None, args.node)
    check = self_check(snap, r)
    print(check_text(check, r))
    return 0 if check_passes(check) else 1


def register(subparsers) -> argparse.ArgumentParser:
    """Add ``allockit snapshot DIR [--no-kpage] [--proc PATH]`` to an argparse subparsers."""
    p = subparsers.add_parser(
        "snapshot",
        help="capture /proc memory state (buddyinfo, pagetypeinfo, zoneinfo, vmstat, meminfo, "
        "kpageflags) into DIR and summarise it",
    )
    p.add_argument("dir", metavar="DIR", help="an empty or new directory")
    p.add_argument("--no-kpage", action="store_true", help="skip kpageflags/kpagecount")
    p.add_argument("--proc", default="/proc", metavar="PATH", help="procfs mount (/proc)")
    p.add_argument(
        "--compression",
        choices=["gzip", "xz", "none"],
        default="gzip",
        help="of the kpage files: gzip -1 (default, fastest) or xz -0 (smaller)",
    )
    p.add_argument("--max-pfns", type=int, help="capture at most this many pfns of kpage data")
    p.add_argument(
        "--load", action="store_true", help="only summarise the existing snapshot in DIR"
    )
    p.add_argument("--rebuild", nargs="?", const="", metavar="ZONE",
                   help="rebuild a simulated zone (default: the largest) and self-check it "
                   "against the captured buddyinfo/pagetypeinfo; exit 1 if it disagrees")
    p.add_argument("--node", type=int, default=0, help="NUMA node of --rebuild's zone")
    p.set_defaults(func=_cmd_snapshot)
    return p
