"""Capture and load /proc snapshots of a machine's physical memory state.

A snapshot directory holds the files as the kernel printed them::

    buddyinfo pagetypeinfo zoneinfo vmstat meminfo    copies of /proc/<name>
    kernel-release page-size captured-at               one line each
    kpageflags.gz kpagecount.gz                        (root only) one u64 per pfn, compressed
    meta.json                                          what was captured, when, how long it took

:func:`capture_snapshot` writes one, :func:`load_snapshot` reads one into a
:class:`~allockit.ingest.procfs.Snapshot` of parsed objects; the kpage arrays are read on first
use. It also reads directories that hold only copies of the /proc files (no ``meta.json``,
no one-line files), with kpage files compressed by xz, gzip or bzip2 or not at all.
Rebuilding a simulated zone from a snapshot is ``allockit.ingest.rebuild``'s job (``allockit
snapshot --rebuild`` runs it).

The kpage files cover pfns ``[pfn_start, pfn_end)``: ``pfn_end`` is the end of the highest
zone in zoneinfo, ``pfn_start`` the lowest zone start rounded down to a max-order block
(0 on x86). They are read from /proc in chunks (8 MiB, one million pfns) with ``pread`` and
written through gzip level 1 by default (xz preset 0 on request). Measured on a 24 GB
(6.55 M pfns, 52 MB per file) 2-CPU x86-64 virtual machine with Linux 6.18: the kernel
takes 0.5-1.0 s to produce one file (more when the machine is busy); gzip -1 adds 0.1-0.2 s
per file, xz -0 0.3-0.55 s but writes 2-13x smaller files. A whole capture took 1.5-2.3 s
with gzip -1 (0.8-1.1 MB of kpageflags.gz, 0.3-0.4 MB of kpagecount.gz) and 2.9 s with xz -0
(0.5 MB + 0.1 MB).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import gzip
import json
import lzma
import os
import platform
import time
from pathlib import Path
from typing import NamedTuple, NoReturn

from allockit.ingest.procfs import (
    KPAGE_CHUNK,
    BuddyInfo,
    MemInfo,
    PageTypeInfo,
    ProcParseError,
    Snapshot,
    ZoneInfoFile,
    parse_buddyinfo,
    parse_meminfo,
    parse_pagetypeinfo,
    parse_vmstat,
    parse_zoneinfo,
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


def _create_compressed(path: Path, compression: str):
    """A binary file object writing ``path`` through gzip -1, xz -0 or no compression."""
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
        with _create_compressed(dst, compression) as out:
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
    _check_destination(dest, compression)
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
    texts = _copy_proc_files(proc, dest, meta)
    _record_kernel(proc, dest, meta, now)
    span = _kpage_range(proc, texts, max_pfns)
    readable = all(os.access(proc / n, os.R_OK) for n in KPAGE_FILES)
    if with_kpage is False:
        kpage: dict = {"captured": False, "reason": "not requested"}
    elif not readable:
        if with_kpage:
            raise ValueError(
                f"snapshot: {proc}/kpageflags and kpagecount are not readable (they need root)"
            )
        kpage = {"captured": False, "reason": "not readable (needs root)"}
    else:
        kpage = _capture_kpage(proc, dest, span, compression, chunk_bytes)
    meta["kpage"] = kpage
    meta["duration_s"] = round(time.perf_counter() - t_start, 4)
    (dest / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def _check_destination(dest: Path, compression: str) -> None:
    """Refuse to write over a snapshot, or with a compression there is no writer for."""
    if (dest / "buddyinfo").exists() or (dest / "meta.json").exists():
        raise ValueError(f"snapshot: {dest} already holds a snapshot; choose an empty directory")
    if compression not in _SUFFIX:
        raise ValueError(f"snapshot: compression {compression!r}: expected gzip, xz or none")


def _copy_proc_files(proc: Path, dest: Path, meta: dict) -> dict[str, bytes]:
    """Copy :data:`PROC_FILES` byte for byte; an optional one that cannot be read is noted in
    ``meta["missing"]`` (pagetypeinfo: mode 0400 since v5.4), a required one raises."""
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
    return texts


def _record_kernel(proc: Path, dest: Path, meta: dict, now: _dt.datetime) -> None:
    """The kernel release, page size and time, in ``meta`` and as one-line files."""
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


class _KpageSpan(NamedTuple):
    """The pfns to copy, ``[start, end)``, and where they come from."""

    start: int
    end: int
    zoneinfo_end: int  # one past the highest pfn zoneinfo spans
    max_pfns: int | None  # the caller's limit, if any


def _kpage_range(proc: Path, texts: dict[str, bytes], max_pfns: int | None) -> _KpageSpan:
    """The pfn range of the kpage copy (see the module docstring)."""
    zi = parse_zoneinfo(texts["zoneinfo"].decode(), str(proc / "zoneinfo"))
    bi = parse_buddyinfo(texts["buddyinfo"].decode(), str(proc / "buddyinfo"))
    align = 1 << (bi.nr_orders - 1)
    pfn_start = zi.pfn_start // align * align
    pfn_end = zi.pfn_end
    if max_pfns is not None:
        pfn_end = min(pfn_end, pfn_start + max_pfns)
    return _KpageSpan(pfn_start, pfn_end, zi.pfn_end, max_pfns)


def _capture_kpage(
    proc: Path, dest: Path, span: _KpageSpan, compression: str, chunk_bytes: int
) -> dict:
    """Copy kpageflags and kpagecount for the pfns of ``span``; the ``kpage`` meta entry.

    Both files are read to the end of the range; if either stops early (a pfn range the
    kernel will not read) the shorter length counts and ``short_read`` says so.
    """
    t = time.perf_counter()
    files = {}
    for name in KPAGE_FILES:
        dst = dest / f"{name}{_SUFFIX[compression]}"
        files[name] = _copy_kpage(proc / name, dst, span.start, span.end, compression, chunk_bytes)
    got = {f["raw_bytes"] // 8 for f in files.values()}
    nr = min(got)
    kpage = {
        "captured": True,
        "pfn_start": span.start,
        "pfn_end": span.start + nr,
        "nr_pfns": nr,
        "zoneinfo_pfn_end": span.zoneinfo_end,
        "max_pfns": span.max_pfns,
        "compression": compression,
        "compression_level": {"gzip": 1, "xz": 0, "none": None}[compression],
        "chunk_bytes": chunk_bytes,
        "files": files,
        "total_s": round(time.perf_counter() - t, 4),
    }
    want = span.end - span.start
    if nr != want or len(got) != 1:
        kpage["short_read"] = f"asked for {want} pfns, got {sorted(got)}"
    return kpage


# ---------------------------------------------------------------------------------------------
# loading


def _find_kpage(path: Path, name: str) -> Path | None:
    for suffix in (".xz", ".gz", ".bz2", ""):
        p = path / f"{name}{suffix}"
        if p.exists():
            return p
    return None


def load_snapshot(path: str | os.PathLike, *, page_size: int | None = 4096) -> Snapshot:
    """Read a snapshot directory into a :class:`Snapshot`.

    ``page_size`` is the page size the caller expects (allockit simulates 4 KiB pages); a
    snapshot of a machine with another one raises :class:`ProcParseError`. ``None`` accepts any.
    Without ``meta.json`` or ``page-size`` (a plain copy of the /proc files) the page size is
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
    meta = _read_meta(path)
    for name in REQUIRED:
        if not (path / name).exists():
            raise ValueError(f"snapshot: {path} has no {name} (not a snapshot directory?)")
    psize, psource = _recorded_page_size(path, meta)
    meminfo = parse_meminfo(_text(path, "meminfo"), str(path / "meminfo"))
    zoneinfo = parse_zoneinfo(_text(path, "zoneinfo"), str(path / "zoneinfo"))
    buddy = parse_buddyinfo(_text(path, "buddyinfo"), str(path / "buddyinfo"))
    vmstat = parse_vmstat(_text(path, "vmstat"), str(path / "vmstat"))
    pti = None
    if (path / "pagetypeinfo").exists():
        pti, psize, psource = _load_pagetypeinfo(path, meminfo, buddy, page_size, psize, psource)
    if page_size is not None and psize != page_size:
        _wrong_page_size(path, page_size, psize, psource)
    _check_buddyinfo_zones(path, buddy, zoneinfo)
    pfn_start, pfn_end = _kpage_pfns(meta, zoneinfo)
    release = None
    if (path / "kernel-release").exists():
        release = _text(path, "kernel-release").strip()
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


def _text(path: Path, name: str) -> str:
    return (path / name).read_text()


def _read_meta(path: Path) -> dict:
    """``meta.json`` of a snapshot taken by :func:`capture_snapshot`; {} if there is none."""
    if not (path / "meta.json").exists():
        return {}
    try:
        return json.loads((path / "meta.json").read_text())
    except json.JSONDecodeError as exc:
        raise ProcParseError(
            str(path / "meta.json"), f"JSON ({exc.msg})", lineno=exc.lineno
        ) from exc


def _recorded_page_size(path: Path, meta: dict) -> tuple[int, str]:
    """(page size, where it comes from): meta.json, the page-size file, else 4096 assumed."""
    if "page_size" in meta:
        return int(meta["page_size"]), "meta.json"
    if (path / "page-size").exists():
        return int(_text(path, "page-size").strip()), "page-size"
    return 4096, "assumed"


def _load_pagetypeinfo(
    path: Path,
    meminfo: MemInfo,
    buddy: BuddyInfo,
    page_size: int | None,
    psize: int,
    psource: str,
) -> tuple[PageTypeInfo, int, str]:
    """Parse pagetypeinfo; with no recorded page size, infer it from the pageblock.

    Returns the parsed file and the page size with its source (``"inferred"`` when the
    pageblock gave it, else ``psize`` and ``psource`` unchanged). pagetypeinfo must have as
    many orders as buddyinfo.
    """
    source = str(path / "pagetypeinfo")
    pti_text = _text(path, "pagetypeinfo")
    pti = parse_pagetypeinfo(pti_text, source)
    hp = meminfo.values.get("Hugepagesize")
    if psource == "assumed" and hp:
        # No recorded page size: infer it from the pageblock (normally the huge page).
        inferred = hp * 1024 // pti.pages_per_block
        if inferred in (4096, 16384, 65536) and inferred * pti.pages_per_block == hp * 1024:
            psize, psource = inferred, "inferred"
        if page_size is not None:
            # the pageblock must be page_size × pages per block (raises if not)
            parse_pagetypeinfo(pti_text, source, page_size=page_size, pageblock_bytes=hp * 1024)
    if pti.nr_orders != buddy.nr_orders:
        raise ProcParseError(
            source, f"{buddy.nr_orders} orders as in buddyinfo, found {pti.nr_orders}"
        )
    return pti, psize, psource


def _wrong_page_size(path: Path, page_size: int, psize: int, psource: str) -> NoReturn:
    """Raise: the snapshot's machine had ``psize``-byte pages, not ``page_size``."""
    where = path / ("page-size" if psource == "page-size" else "meta.json")
    raise ProcParseError(
        str(where),
        f"page size {page_size} (the page size allockit simulates); this snapshot was "
        f"taken on a machine with {psize}-byte pages",
    )


def _kpage_pfns(meta: dict, zoneinfo: ZoneInfoFile) -> tuple[int, int]:
    """The pfns the kpage files cover: as captured, else from 0 to zoneinfo's end."""
    kp = meta.get("kpage", {})
    if kp.get("captured"):
        return int(kp["pfn_start"]), int(kp["pfn_end"])
    return 0, zoneinfo.pfn_end


def _check_buddyinfo_zones(path: Path, buddy: BuddyInfo, zoneinfo: ZoneInfoFile) -> None:
    """Every zone of buddyinfo is one zoneinfo lists (the files come from one machine)."""
    zone_keys = {(z.node, z.name) for z in zoneinfo.zones}
    for key in buddy.zones:
        if key not in zone_keys:
            raise ProcParseError(
                str(path / "buddyinfo"),
                f"zones that zoneinfo lists; node {key[0]} zone {key[1]} is not in it",
            )


# ---------------------------------------------------------------------------------------------
# command


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
    # imported here: the rebuild needs the simulator (numba, pandas), a capture does not
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
