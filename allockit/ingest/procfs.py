"""Parsers of the /proc files that describe a Linux machine's physical memory.

Each parser takes the text of one file (as the kernel printed it) and returns plain
dataclasses and dicts; ``source`` names the file in error messages. Bad input raises
:class:`ProcParseError`, a ``ValueError`` naming the file, the line (or byte offset) and what
was expected. A :class:`Snapshot` holds the parsed files of one moment of one machine
(``allockit.ingest.snapshot`` captures and loads them; ``allockit.ingest.rebuild`` turns one
into a simulated zone).

Which kernel code prints what, and what changed between versions:

``/proc/buddyinfo``: ``frag_show_print()`` in mm/vmstat.c, one line per *populated* zone::

    Node 0, zone   Normal   4928   2877   1544 ...    ("Node %d, zone %8s ", "%6lu " per order)

  The number of orders is ``NR_PAGE_ORDERS`` (``MAX_ORDER`` before v6.4; v6.4 made
  ``MAX_ORDER`` inclusive and v6.8 renamed it ``MAX_PAGE_ORDER``, but the number of columns
  stayed the same): 11 on x86 and on most 4 KiB-page configs, other values where the
  architecture lets ``CONFIG_ARCH_FORCE_MAX_ORDER`` choose (arm64 with 16/64 KiB pages,
  powerpc, some arm boards).

``/proc/pagetypeinfo``: ``pagetypeinfo_show()`` in mm/vmstat.c, once per node with memory:
  ``Page block order`` / ``Pages per block``, then ``pagetypeinfo_showfree_print()`` (free
  blocks per zone, migratetype and order), ``pagetypeinfo_showblockcount_print()`` (the
  "Number of blocks type" table) and, with ``CONFIG_PAGE_OWNER`` and ``page_owner=on``,
  ``pagetypeinfo_showmixedcount_print()`` in mm/page_owner.c ("Number of mixed blocks").
  Since v5.4 (commit 93b3a674485f, "mm,vmstat: reduce zone->lock holding time by
  /proc/pagetypeinfo", also in stable kernels) a free list is counted only up to 100000
  entries and a capped count prints as ``>100000``; the file has been mode 0400 since the same
  release. The migratetype names come from ``migratetype_names[]`` and depend on the version
  and the config: since v4.4 ``Unmovable Movable Reclaimable HighAtomic [CMA] [Isolate]``,
  before it ``Unmovable Reclaimable Movable Reserve [CMA] [Isolate]`` (``CMA`` needs
  ``CONFIG_CMA``, ``Isolate`` ``CONFIG_MEMORY_ISOLATION``).

``/proc/zoneinfo``: ``zoneinfo_show_print()`` in mm/vmstat.c, every zone of every node
  (unpopulated zones stop after ``protection:``). ``per-node stats`` (v4.8+) are printed under
  the first populated zone of each node. Lines added over time: ``managed`` (v3.8),
  ``boost`` (v5.0), ``cma`` (v5.x, ``CONFIG_CMA``), ``promo`` (v6.x memory tiering), the
  pageset lines ``high_min``/``high_max`` (v6.7); ``count: %i`` / ``high:  %i`` spacing
  changed too. The parser reads lines by their content, not their column.

``/proc/vmstat``: ``vmstat_show()`` in mm/vmstat.c, ``name value`` per line.

``/proc/meminfo``: ``meminfo_proc_show()`` in fs/proc/meminfo.c, ``Name:  value kB`` (a few
  lines, ``HugePages_*``, have no unit).

``/proc/kpageflags`` and ``/proc/kpagecount``: ``kpageflags_read()`` / ``kpagecount_read()`` in
  fs/proc/page.c, one little-endian u64 per pfn. kpagecount is the page's *map count* (how
  many times it is mapped into user space), not its reference count. The flag bits are
  ``include/uapi/linux/kernel-page-flags.h`` (bits 0-26, the layout of v4.16 to v6.18) and
  the kernel-internal ``include/linux/kernel-page-flags.h`` (bits 32-41). Since v4.x the
  tail pages of a free buddy block carry ``KPF_BUDDY`` too (``is_free_buddy_page()``), and
  since the folio conversion (v6.x) tail pages report their folio's flags.
"""

from __future__ import annotations

import functools
import gzip
import lzma
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from allockit.ingest.compressed import open_compressed

__all__ = [
    "KPF",
    "KPF_LOCKED",
    "KPF_ERROR",
    "KPF_REFERENCED",
    "KPF_UPTODATE",
    "KPF_DIRTY",
    "KPF_LRU",
    "KPF_ACTIVE",
    "KPF_SLAB",
    "KPF_WRITEBACK",
    "KPF_RECLAIM",
    "KPF_BUDDY",
    "KPF_MMAP",
    "KPF_ANON",
    "KPF_SWAPCACHE",
    "KPF_SWAPBACKED",
    "KPF_COMPOUND_HEAD",
    "KPF_COMPOUND_TAIL",
    "KPF_HUGE",
    "KPF_UNEVICTABLE",
    "KPF_HWPOISON",
    "KPF_NOPAGE",
    "KPF_KSM",
    "KPF_THP",
    "KPF_OFFLINE",
    "KPF_ZERO_PAGE",
    "KPF_IDLE",
    "KPF_PGTABLE",
    "KPF_RESERVED",
    "KPF_MLOCKED",
    "KPF_MAPPEDTODISK",
    "KPF_PRIVATE",
    "KPF_PRIVATE_2",
    "KPF_OWNER_PRIVATE",
    "KPF_ARCH",
    "KPF_UNCACHED",
    "KPF_SOFTDIRTY",
    "KPF_ARCH_2",
    "KPF_NAMES",
    "PAGE_KINDS",
    "BuddyInfo",
    "MemInfo",
    "PageKindCounts",
    "PageTypeInfo",
    "Pageset",
    "ProcParseError",
    "Snapshot",
    "ZoneInfo",
    "ZoneInfoFile",
    "classify_pages",
    "count_page_kinds",
    "format_summary",
    "parse_buddyinfo",
    "parse_meminfo",
    "parse_pagetypeinfo",
    "parse_vmstat",
    "parse_zoneinfo",
    "read_kpage_array",
]


class ProcParseError(ValueError):
    """A /proc file that cannot be read: names the file, the line or byte offset, and what
    was expected."""

    def __init__(
        self,
        source: str,
        expected: str,
        *,
        lineno: int | None = None,
        line: str | None = None,
        offset: int | None = None,
    ):
        self.source = source
        self.expected = expected
        self.lineno = lineno
        self.line = line
        self.offset = offset
        where = source
        if lineno is not None:
            where += f":{lineno}"
        if offset is not None:
            where += f": byte offset {offset}"
        got = "" if line is None else f"; got {line.rstrip(chr(10))[:200]!r}"
        super().__init__(f"{where}: expected {expected}{got}")


def _lines(text: str):
    """(line number, line without its end) for every line."""
    for i, line in enumerate(text.splitlines(), 1):
        yield i, line.rstrip()


# ---------------------------------------------------------------------------------------------
# buddyinfo

_BUDDY_RE = re.compile(r"^Node\s+(\d+),\s+zone\s+(\S+)((?:\s+\d+)+)$")


@dataclass
class BuddyInfo:
    """``/proc/buddyinfo``: free blocks per order of each populated zone.

    ``zones[(node, zone)]`` lists, per order 0..nr_orders-1, how many free blocks of that
    order the zone's buddy lists hold (pages on per-cpu lists are not in it).
    """

    zones: dict[tuple[int, str], list[int]]
    nr_orders: int

    def free_pages(self, node: int, zone: str) -> int:
        """Free pages in the zone's buddy lists: sum of count << order."""
        return sum(c << o for o, c in enumerate(self.zones[(node, zone)]))

    def total_free_pages(self) -> int:
        return sum(self.free_pages(n, z) for n, z in self.zones)


def parse_buddyinfo(text: str, source: str = "buddyinfo") -> BuddyInfo:
    """Parse ``/proc/buddyinfo`` (mm/vmstat.c ``frag_show_print``).

    Every line must have the same number of orders (the file has no header, so the first line
    sets it).
    """
    zones: dict[tuple[int, str], list[int]] = {}
    nr_orders = None
    first_line = 0
    for lineno, line in _lines(text):
        if not line:
            continue
        m = _BUDDY_RE.match(line)
        if not m:
            raise ProcParseError(
                source,
                "'Node N, zone NAME' followed by one free-block count per order",
                lineno=lineno,
                line=line,
            )
        counts = [int(x) for x in m.group(3).split()]
        if nr_orders is None:
            nr_orders, first_line = len(counts), lineno
        elif len(counts) != nr_orders:
            raise ProcParseError(
                source,
                f"{nr_orders} counts (orders 0-{nr_orders - 1}, as on line {first_line}), "
                f"found {len(counts)}",
                lineno=lineno,
                line=line,
            )
        key = (int(m.group(1)), m.group(2))
        if key in zones:
            raise ProcParseError(
                source,
                f"one line per zone, node {key[0]} zone {key[1]} appears twice",
                lineno=lineno,
                line=line,
            )
        zones[key] = counts
    if nr_orders is None:
        raise ProcParseError(
            source, "at least one 'Node N, zone NAME ...' line (file is empty)", lineno=1
        )
    return BuddyInfo(zones=zones, nr_orders=nr_orders)


# ---------------------------------------------------------------------------------------------
# pagetypeinfo

_PTI_ORDER_RE = re.compile(r"^Page block order:\s*(\d+)$")
_PTI_PPB_RE = re.compile(r"^Pages per block:\s*(\d+)$")
_PTI_FREEHDR_RE = re.compile(r"^Free pages count per migrate type at order((?:\s+\d+)+)$")
_PTI_FREE_RE = re.compile(r"^Node\s+(\d+),\s+zone\s+(\S+),\s+type\s+(\S+)((?:\s+>?\d+)+)$")
_PTI_TABLEHDR_RE = re.compile(r"^Number of (blocks type|mixed blocks)((?:\s+\S+)+)$")
_PTI_ROW_RE = re.compile(r"^Node\s+(\d+),\s+zone\s+(\S+)((?:\s+\d+)+)$")

PCP_CAP = 100_000  # the cap of pagetypeinfo_showfree_print (v5.4+)


@dataclass(frozen=True)
class FreeRow:
    """One line of the free table: free blocks per order of one zone and migratetype.

    ``capped[o]`` is True where the kernel stopped counting (printed ``>100000``); the
    count is then a lower bound.
    """

    node: int
    zone: str
    migratetype: str
    counts: tuple[int, ...]
    capped: tuple[bool, ...]

    @property
    def any_capped(self) -> bool:
        return any(self.capped)

    @property
    def pages(self) -> int:
        """Free pages (a lower bound when any count is capped)."""
        return sum(c << o for o, c in enumerate(self.counts))


@dataclass
class PageTypeInfo:
    """``/proc/pagetypeinfo``.

    * ``free[(node, zone, migratetype)]``: a :class:`FreeRow`;
    * ``blocks[(node, zone)][migratetype]``: pageblocks of that migratetype;
    * ``mixed[(node, zone)][migratetype]``: the page_owner "mixed blocks" table, or ``None``;
    * ``migratetypes``: the names, in the kernel's order (this config's ``migratetype_names``).
    """

    pageblock_order: int
    pages_per_block: int
    nr_orders: int
    migratetypes: tuple[str, ...]
    free: dict[tuple[int, str, str], FreeRow]
    blocks: dict[tuple[int, str], dict[str, int]]
    mixed: dict[tuple[int, str], dict[str, int]] | None = None

    @property
    def zones(self) -> list[tuple[int, str]]:
        return list(self.blocks)

    @property
    def any_capped(self) -> bool:
        return any(r.any_capped for r in self.free.values())

    def free_pages(self, node: int, zone: str, migratetype: str | None = None) -> int:
        """Free pages of a zone (one migratetype or all); a lower bound if a count is capped."""
        return sum(
            r.pages
            for (n, z, mt), r in self.free.items()
            if n == node and z == zone and (migratetype is None or mt == migratetype)
        )

    def free_counts(self, node: int, zone: str) -> list[int]:
        """Free blocks per order, summed over migratetypes (buddyinfo's line for the zone)."""
        out = [0] * self.nr_orders
        for (n, z, _), r in self.free.items():
            if n == node and z == zone:
                for o, c in enumerate(r.counts):
                    out[o] += c
        return out

    def total_blocks(self, node: int, zone: str) -> int:
        return sum(self.blocks[(node, zone)].values())


def parse_pagetypeinfo(
    text: str,
    source: str = "pagetypeinfo",
    *,
    page_size: int | None = None,
    pageblock_bytes: int | None = None,
) -> PageTypeInfo:
    """Parse ``/proc/pagetypeinfo`` (mm/vmstat.c ``pagetypeinfo_show`` and helpers).

    Multi-node files repeat the ``Page block order`` header per node; every node must give the
    same values. ``Pages per block`` must be ``2**order``. With ``page_size`` and
    ``pageblock_bytes`` (e.g. meminfo's ``Hugepagesize``, which equals the pageblock size when
    ``pageblock_order == HUGETLB_PAGE_ORDER``, the default), ``pages per block × page size`` must
    equal ``pageblock_bytes``: a mismatch means the snapshot came from a machine with another
    page size than the one assumed.
    """
    reader = _PageTypeInfoReader(source)
    seen_any = False
    for lineno, line in _lines(text):
        if line:
            seen_any = True
            reader.read_line(lineno, line)
    if not seen_any:
        raise ProcParseError(source, "a 'Page block order' header (file is empty)", lineno=1)
    reader.check_complete()
    if page_size is not None and pageblock_bytes is not None:
        reader.check_pageblock_bytes(page_size, pageblock_bytes)
    return reader.result()


@dataclass
class _PageTypeInfoReader:
    """One pass over pagetypeinfo: a method per kind of line, each checking its place.

    The file is a header (``Page block order``, ``Pages per block``), the free table (its
    header, then one row per node, zone and migratetype) and one or two block tables (a
    header naming the migratetypes, then one row per node and zone), repeated per node.
    """

    source: str
    pb_order: int | None = None
    ppb: int | None = None
    ppb_line: int = 0
    nr_orders: int | None = None
    hdr_line: int = 0
    section: str | None = None  # None, "free", "blocks", "mixed"
    columns: tuple[str, ...] = ()
    mt_order: list[str] = field(default_factory=list)
    free: dict[tuple[int, str, str], FreeRow] = field(default_factory=dict)
    blocks: dict[tuple[int, str], dict[str, int]] = field(default_factory=dict)
    mixed: dict[tuple[int, str], dict[str, int]] | None = None

    def read_line(self, lineno: int, line: str) -> None:
        """Hand a non-empty line to the step its pattern names; raise if none matches."""
        for rx, step in (
            (_PTI_ORDER_RE, self.block_order),
            (_PTI_PPB_RE, self.pages_per_block),
            (_PTI_FREEHDR_RE, self.free_header),
            (_PTI_FREE_RE, self.free_row),
            (_PTI_TABLEHDR_RE, self.table_header),
            (_PTI_ROW_RE, self.table_row),
        ):
            if m := rx.match(line):
                step(m, lineno, line)
                return
        raise self._error(
            "a pagetypeinfo line (page block header, free-count header or row "
            "'Node N, zone Z, type T counts...', block table header or row)",
            lineno,
            line,
        )

    def _error(self, expected: str, lineno: int, line: str) -> ProcParseError:
        return ProcParseError(self.source, expected, lineno=lineno, line=line)

    def block_order(self, m: re.Match, lineno: int, line: str) -> None:
        """``Page block order: N``: the same on every node; starts a node's part."""
        v = int(m.group(1))
        if self.pb_order is not None and v != self.pb_order:
            raise self._error(
                f"the same page block order on every node ({self.pb_order})", lineno, line
            )
        self.pb_order, self.section = v, None

    def pages_per_block(self, m: re.Match, lineno: int, line: str) -> None:
        """``Pages per block: N``: after the order, and ``2**order``."""
        v = int(m.group(1))
        if self.pb_order is None:
            raise self._error("'Page block order: N' before 'Pages per block'", lineno, line)
        if v != 1 << self.pb_order:
            raise self._error(
                f"pages per block = 2**{self.pb_order} = {1 << self.pb_order}", lineno, line
            )
        if self.ppb is None:
            self.ppb_line = lineno
        self.ppb = v

    def free_header(self, m: re.Match, lineno: int, line: str) -> None:
        """``Free pages count per migrate type at order 0 1 ...``: the number of orders."""
        orders = [int(x) for x in m.group(1).split()]
        if orders != list(range(len(orders))):
            raise self._error("orders 0, 1, 2, ... in the header", lineno, line)
        if self.nr_orders is not None and len(orders) != self.nr_orders:
            raise self._error(
                f"{self.nr_orders} orders as in the header on line {self.hdr_line}", lineno, line
            )
        self.nr_orders, self.hdr_line, self.section = len(orders), lineno, "free"

    def free_row(self, m: re.Match, lineno: int, line: str) -> None:
        """``Node N, zone Z, type T c0 c1 ...``: free blocks per order (``>100000``: capped)."""
        nr_orders = self.nr_orders
        if self.section != "free" or nr_orders is None:
            raise self._error(
                "free-count rows only after the 'Free pages count "
                "per migrate type at order' header",
                lineno,
                line,
            )
        toks = m.group(4).split()
        if len(toks) != nr_orders:
            raise self._error(
                f"{nr_orders} counts (orders 0-{nr_orders - 1}, per the header on line "
                f"{self.hdr_line}), found {len(toks)}",
                lineno,
                line,
            )
        key = (int(m.group(1)), m.group(2), m.group(3))
        if key in self.free:
            raise self._error("each (node, zone, type) once", lineno, line)
        capped = tuple(t.startswith(">") for t in toks)
        self.free[key] = FreeRow(*key, tuple(int(t.lstrip(">")) for t in toks), capped)
        if key[2] not in self.mt_order:
            self.mt_order.append(key[2])

    def table_header(self, m: re.Match, lineno: int, line: str) -> None:
        """``Number of blocks type`` or ``Number of mixed blocks``, then the type names."""
        self.columns = tuple(m.group(2).split())
        if m.group(1) == "blocks type":
            self.section = "blocks"
        else:
            self.section = "mixed"
            if self.mixed is None:
                self.mixed = {}

    def table_row(self, m: re.Match, lineno: int, line: str) -> None:
        """``Node N, zone Z c...``: one count per type of the table header."""
        if self.section not in ("blocks", "mixed"):
            raise self._error(
                "a block-count row only after a 'Number of blocks "
                "type' or 'Number of mixed blocks' header",
                lineno,
                line,
            )
        vals = [int(x) for x in m.group(3).split()]
        columns = self.columns
        if len(vals) != len(columns):
            raise self._error(
                f"{len(columns)} counts, one per type ({' '.join(columns)})", lineno, line
            )
        key = (int(m.group(1)), m.group(2))
        table = self.blocks if self.section == "blocks" else self.mixed
        assert table is not None
        if key in table:
            raise self._error("each (node, zone) once per table", lineno, line)
        table[key] = dict(zip(columns, vals, strict=True))

    def check_complete(self) -> None:
        """Every part was there, and the free and block tables cover the same zones and types."""
        source = self.source
        if self.pb_order is None or self.ppb is None:
            raise ProcParseError(source, "'Page block order' and 'Pages per block' headers")
        if self.nr_orders is None or not self.free:
            raise ProcParseError(source, "the free-count table (file truncated?)")
        blocks = self.blocks
        if not blocks:
            raise ProcParseError(source, "the 'Number of blocks type' table (file truncated?)")
        free_zones = {(n, z) for n, z, _ in self.free}
        if free_zones != set(blocks):
            missing = sorted(free_zones ^ set(blocks))
            raise ProcParseError(
                source,
                "the same zones in the free table and the block table "
                f"(differ: {missing}; file truncated?)",
            )
        for n, z, mt in self.free:
            if mt not in blocks[(n, z)]:
                raise ProcParseError(
                    source,
                    f"type {mt!r} of the free table among the block "
                    f"table's types {list(blocks[(n, z)])}",
                )

    def check_pageblock_bytes(self, page_size: int, pageblock_bytes: int) -> None:
        """``pages per block × page_size`` is the pageblock size the caller knows."""
        ppb = self.ppb
        assert ppb is not None
        if ppb * page_size != pageblock_bytes:
            raise ProcParseError(
                self.source,
                f"pages per block × page size = pageblock size: {ppb} × {page_size} = "
                f"{ppb * page_size} bytes, but the pageblock is {pageblock_bytes} bytes (a "
                f"snapshot from a machine with {pageblock_bytes // ppb}-byte pages?)",
                lineno=self.ppb_line,
            )

    def result(self) -> PageTypeInfo:
        assert self.pb_order is not None and self.ppb is not None and self.nr_orders is not None
        first_cols = next(iter(self.blocks.values()))
        mts = tuple(first_cols) or tuple(self.mt_order)
        return PageTypeInfo(
            pageblock_order=self.pb_order,
            pages_per_block=self.ppb,
            nr_orders=self.nr_orders,
            migratetypes=mts,
            free=self.free,
            blocks=self.blocks,
            mixed=self.mixed,
        )


# ---------------------------------------------------------------------------------------------
# zoneinfo

_ZI_ZONE_RE = re.compile(r"^Node (\d+), zone\s+(\S+)$")
_ZI_FREE_RE = re.compile(r"^pages free\s+(\d+)$")
_ZI_PROT_RE = re.compile(r"^protection: \((-?\d+(?:,\s*-?\d+)*)\)$")
_ZI_CPU_RE = re.compile(r"^cpu: (\d+)$")
_ZI_PCP_RE = re.compile(r"^(count|high|batch|high_min|high_max):\s+(-?\d+)$")
_ZI_THRESH_RE = re.compile(r"^vm stats threshold: (-?\d+)$")
_ZI_TAIL_RE = re.compile(
    r"^(node_unreclaimable|all_unreclaimable|start_pfn|inactive_ratio):\s+(\d+)$"
)
_ZI_STAT_RE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\s+(-?\d+)$")
# the "pages free" block: watermarks and sizes (8-space indented in the kernel's output)
_ZI_ZONE_FIELDS = frozenset(
    {"min", "low", "high", "boost", "promo", "scanned", "spanned", "present", "managed", "cma"}
)


@dataclass
class Pageset:
    """One CPU's per-cpu page list of a zone (``high_min``/``high_max``: v6.7+)."""

    cpu: int
    count: int | None = None
    high: int | None = None
    batch: int | None = None
    high_min: int | None = None
    high_max: int | None = None
    stat_threshold: int | None = None


@dataclass
class ZoneInfo:
    """One zone of ``/proc/zoneinfo``. Sizes and watermarks are in pages.

    ``fields`` holds every line of the ``pages free`` block by name (``min``, ``low``, ``high``,
    ``boost``, ``promo``, ``spanned``, ``present``, ``managed``, ``cma``, ...); ``stats`` the
    zone's ``nr_*``/``numa_*`` counters; ``node_stats`` the node's counters when the kernel
    printed them under this zone (the node's first populated zone).
    """

    node: int
    name: str
    pages_free: int = 0
    fields: dict[str, int] = field(default_factory=dict)
    protection: tuple[int, ...] = ()
    stats: dict[str, int] = field(default_factory=dict)
    node_stats: dict[str, int] = field(default_factory=dict)
    pagesets: list[Pageset] = field(default_factory=list)
    node_unreclaimable: int | None = None
    start_pfn: int | None = None
    lineno: int = 0

    def _f(self, name: str) -> int | None:
        return self.fields.get(name)

    min = property(lambda self: self._f("min"))
    low = property(lambda self: self._f("low"))
    high = property(lambda self: self._f("high"))
    boost = property(lambda self: self._f("boost"))
    promo = property(lambda self: self._f("promo"))
    spanned = property(lambda self: self._f("spanned"))
    present = property(lambda self: self._f("present"))
    managed = property(lambda self: self._f("managed"))
    cma = property(lambda self: self._f("cma"))

    @property
    def populated(self) -> bool:
        return bool(self.present)

    @property
    def end_pfn(self) -> int | None:
        """One past the zone's last pfn (``start_pfn + spanned``), None if unpopulated."""
        if self.start_pfn is None or not self.spanned:
            return None
        return self.start_pfn + self.spanned

    @property
    def pcp_count(self) -> int:
        """Pages on the zone's per-cpu lists (free, but not in the buddy lists)."""
        return sum(p.count or 0 for p in self.pagesets)


@dataclass
class ZoneInfoFile:
    """``/proc/zoneinfo``: every zone, in the file's order, and each node's counters."""

    zones: list[ZoneInfo]
    node_stats: dict[int, dict[str, int]]

    def zone(self, node: int, name: str) -> ZoneInfo:
        for z in self.zones:
            if z.node == node and z.name == name:
                return z
        raise KeyError((node, name))

    @property
    def populated(self) -> list[ZoneInfo]:
        return [z for z in self.zones if z.populated]

    @property
    def pfn_start(self) -> int:
        """Lowest start_pfn of a populated zone."""
        return min(z.start_pfn for z in self.populated if z.start_pfn is not None)

    @property
    def pfn_end(self) -> int:
        """One past the highest pfn any zone spans."""
        return max(e for z in self.zones if (e := z.end_pfn) is not None)

    def total(self, name: str) -> int:
        """Sum of a ``fields`` entry (or ``pages_free``) over all zones."""
        if name == "pages_free":
            return sum(z.pages_free for z in self.zones)
        return sum(z.fields.get(name, 0) for z in self.zones)


def parse_zoneinfo(text: str, source: str = "zoneinfo") -> ZoneInfoFile:
    """Parse ``/proc/zoneinfo`` (mm/vmstat.c ``zoneinfo_show_print``).

    Every zone must have ``pages free``, ``spanned``, ``present`` and ``protection``; a
    populated zone (present > 0) must have ``start_pfn``.
    """
    reader = _ZoneInfoReader(source)
    for lineno, raw in _lines(text):
        line = raw.strip()
        if line:
            reader.read_line(lineno, line, raw)
    return reader.result()


_ZI_EXPECTED = (
    "a zoneinfo line ('Node N, zone NAME', 'per-node stats', 'pages free N', "
    "'NAME VALUE', 'protection: (...)', 'pagesets', 'cpu: N', 'count: N', "
    "'vm stats threshold: N', 'start_pfn: N')"
)
_ZI_NODE_STATS_RE = re.compile(r"per-node stats\Z")
_ZI_PAGESETS_RE = re.compile(r"pagesets\Z")


@dataclass
class _ZoneInfoReader:
    """One pass over zoneinfo: a method per kind of line, each checking its place.

    A zone is ``Node N, zone NAME``, optionally the node's ``per-node stats``, the ``pages
    free`` block (watermarks, sizes), the zone's counters, ``protection: (...)``, then
    ``pagesets`` with one ``cpu: N`` block per CPU, then ``node_unreclaimable``,
    ``start_pfn``. ``mode`` says which of these the following ``NAME VALUE`` lines belong to.
    """

    source: str
    zones: list[ZoneInfo] = field(default_factory=list)
    node_stats: dict[int, dict[str, int]] = field(default_factory=dict)
    zone: ZoneInfo | None = None
    mode: str | None = None  # "node", "zone", "pagesets"
    pcp: Pageset | None = None

    def read_line(self, lineno: int, line: str, raw: str) -> None:
        """Hand a stripped non-empty ``line`` to its step; errors quote ``raw``."""
        if m := _ZI_ZONE_RE.match(line):
            self.zone_header(m, lineno)
            return
        z = self.zone
        if z is None:
            raise ProcParseError(self.source, "'Node N, zone NAME' first", lineno=lineno, line=raw)
        for rx, step in (
            (_ZI_NODE_STATS_RE, self.per_node_stats),
            (_ZI_FREE_RE, self.pages_free),
            (_ZI_PROT_RE, self.protection),
            (_ZI_PAGESETS_RE, self.pagesets),
            (_ZI_CPU_RE, self.pageset_cpu),
            (_ZI_PCP_RE, self.pageset_field),
            (_ZI_THRESH_RE, self.stat_threshold),
            (_ZI_TAIL_RE, self.tail_field),
            (_ZI_STAT_RE, self.counter),
        ):
            if m := rx.match(line):
                step(z, m, lineno, raw)
                return
        raise ProcParseError(self.source, _ZI_EXPECTED, lineno=lineno, line=raw)

    def zone_header(self, m: re.Match, lineno: int) -> None:
        """``Node N, zone NAME``: check the zone before it and start a new one."""
        if self.zone is not None:
            _check_zone(self.zone, self.source)
        self.zone = ZoneInfo(node=int(m.group(1)), name=m.group(2), lineno=lineno)
        self.zones.append(self.zone)
        self.mode, self.pcp = "zone", None

    def per_node_stats(self, z: ZoneInfo, m: re.Match, lineno: int, raw: str) -> None:
        """``per-node stats``: the node's counters follow (under its first populated zone)."""
        self.mode = "node"
        self.node_stats.setdefault(z.node, {})

    def pages_free(self, z: ZoneInfo, m: re.Match, lineno: int, raw: str) -> None:
        """``pages free N``: starts the zone's watermark and size block."""
        z.pages_free = int(m.group(1))
        z.fields["pages free"] = z.pages_free
        self.mode = "zone"

    def protection(self, z: ZoneInfo, m: re.Match, lineno: int, raw: str) -> None:
        """``protection: (a, b, ...)``: lowmem_reserve per higher zone."""
        z.protection = tuple(int(x) for x in m.group(1).split(","))
        self.mode = "zone"

    def pagesets(self, z: ZoneInfo, m: re.Match, lineno: int, raw: str) -> None:
        """``pagesets``: the per-cpu lists follow."""
        self.mode = "pagesets"

    def pageset_cpu(self, z: ZoneInfo, m: re.Match, lineno: int, raw: str) -> None:
        """``cpu: N``: one CPU's per-cpu list, inside ``pagesets``."""
        if self.mode != "pagesets":
            raise ProcParseError(
                self.source, "'cpu: N' only after 'pagesets'", lineno=lineno, line=raw
            )
        self.pcp = Pageset(cpu=int(m.group(1)))
        z.pagesets.append(self.pcp)

    def pageset_field(self, z: ZoneInfo, m: re.Match, lineno: int, raw: str) -> None:
        """``count``, ``high``, ``batch``, ``high_min``, ``high_max`` of the current CPU."""
        if self.mode != "pagesets" or self.pcp is None:
            raise ProcParseError(
                self.source,
                f"'{m.group(1)}:' only inside a pageset ('cpu: N')",
                lineno=lineno,
                line=raw,
            )
        setattr(self.pcp, m.group(1), int(m.group(2)))

    def stat_threshold(self, z: ZoneInfo, m: re.Match, lineno: int, raw: str) -> None:
        """``vm stats threshold: N`` of the current CPU (ignored outside a pageset)."""
        if self.pcp is not None:
            self.pcp.stat_threshold = int(m.group(1))

    def tail_field(self, z: ZoneInfo, m: re.Match, lineno: int, raw: str) -> None:
        """``node_unreclaimable``, ``start_pfn``, ``inactive_ratio``: after the pagesets."""
        key, val = m.group(1), int(m.group(2))
        if key == "start_pfn":
            z.start_pfn = val
        elif key in ("node_unreclaimable", "all_unreclaimable"):
            z.node_unreclaimable = val
        else:
            z.fields[key] = val
        self.mode = "zone"

    def counter(self, z: ZoneInfo, m: re.Match, lineno: int, raw: str) -> None:
        """``NAME VALUE``: a node counter, a watermark or size, or a zone counter, by mode."""
        name, val = m.group(1), int(m.group(2))
        if self.mode == "node":
            self.node_stats[z.node][name] = val
            z.node_stats[name] = val
        elif self.mode == "zone" and name in _ZI_ZONE_FIELDS and "pages free" in z.fields:
            z.fields[name] = val
        elif self.mode == "zone":
            z.stats[name] = val
        else:
            raise ProcParseError(
                self.source, f"a pageset line, not statistic {name!r}", lineno=lineno, line=raw
            )

    def result(self) -> ZoneInfoFile:
        if self.zone is None:
            raise ProcParseError(
                self.source, "at least one 'Node N, zone NAME' (file is empty)", lineno=1
            )
        _check_zone(self.zone, self.source)
        return ZoneInfoFile(zones=self.zones, node_stats=self.node_stats)


def _check_zone(zone: ZoneInfo, source: str) -> None:
    """A zone has every line the kernel always prints; drops the ``pages free`` marker."""
    if "pages free" not in zone.fields:
        raise ProcParseError(
            source,
            f"'pages free' for node {zone.node} zone {zone.name} (file truncated?)",
            lineno=zone.lineno,
        )
    del zone.fields["pages free"]
    for need in ("spanned", "present"):
        if need not in zone.fields:
            raise ProcParseError(
                source, f"'{need}' for node {zone.node} zone {zone.name}", lineno=zone.lineno
            )
    if not zone.protection:
        raise ProcParseError(
            source,
            f"'protection: (...)' for node {zone.node} zone {zone.name} (file truncated?)",
            lineno=zone.lineno,
        )
    if zone.present and zone.start_pfn is None:
        raise ProcParseError(
            source,
            f"'start_pfn:' for populated node {zone.node} zone {zone.name} (file truncated?)",
            lineno=zone.lineno,
        )


# ---------------------------------------------------------------------------------------------
# vmstat, meminfo

_VMSTAT_RE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*) (-?\d+)$")
_MEMINFO_RE = re.compile(r"^([A-Za-z0-9_]+(?:\([A-Za-z0-9_]+\))?):\s+(\d+)(?:\s+(kB))?$")


def parse_vmstat(text: str, source: str = "vmstat") -> dict[str, int]:
    """Parse ``/proc/vmstat`` (mm/vmstat.c ``vmstat_show``): ``name value`` per line."""
    out: dict[str, int] = {}
    for lineno, line in _lines(text):
        if not line:
            continue
        m = _VMSTAT_RE.match(line)
        if not m:
            raise ProcParseError(
                source, "'name value' (an identifier and an integer)", lineno=lineno, line=line
            )
        if m.group(1) in out:
            raise ProcParseError(
                source, f"each counter once ({m.group(1)!r} repeats)", lineno=lineno, line=line
            )
        out[m.group(1)] = int(m.group(2))
    if not out:
        raise ProcParseError(source, "at least one counter (file is empty)", lineno=1)
    return out


@dataclass
class MemInfo:
    """``/proc/meminfo``: ``values[name]`` as printed (kB for most lines) and
    ``units[name]`` (``"kB"`` or ``None`` for counts such as ``HugePages_Total``)."""

    values: dict[str, int]
    units: dict[str, str | None]

    def __getitem__(self, name: str) -> int:
        return self.values[name]

    def __contains__(self, name: str) -> bool:
        return name in self.values

    def bytes(self, name: str) -> int:
        """The value in bytes (kB lines × 1024); a unitless count raises ValueError."""
        if self.units[name] != "kB":
            raise ValueError(f"meminfo {name} is a count, not a size")
        return self.values[name] * 1024

    def pages(self, name: str, page_size: int = 4096) -> int:
        return self.bytes(name) // page_size


def parse_meminfo(text: str, source: str = "meminfo") -> MemInfo:
    """Parse ``/proc/meminfo`` (fs/proc/meminfo.c ``meminfo_proc_show``)."""
    values: dict[str, int] = {}
    units: dict[str, str | None] = {}
    for lineno, line in _lines(text):
        if not line:
            continue
        m = _MEMINFO_RE.match(line)
        if not m:
            raise ProcParseError(source, "'Name:  value [kB]'", lineno=lineno, line=line)
        if m.group(1) in values:
            raise ProcParseError(
                source, f"each field once ({m.group(1)!r} repeats)", lineno=lineno, line=line
            )
        values[m.group(1)] = int(m.group(2))
        units[m.group(1)] = m.group(3)
    if "MemTotal" not in values:
        raise ProcParseError(source, "a 'MemTotal:' line")
    return MemInfo(values=values, units=units)


# ---------------------------------------------------------------------------------------------
# kpageflags / kpagecount

# include/uapi/linux/kernel-page-flags.h (stable ABI; bits 0-26 as in v4.16 .. v6.18)
KPF_LOCKED = 0
KPF_ERROR = 1  # never set since PG_error was removed (v6.12)
KPF_REFERENCED = 2
KPF_UPTODATE = 3
KPF_DIRTY = 4
KPF_LRU = 5
KPF_ACTIVE = 6
KPF_SLAB = 7
KPF_WRITEBACK = 8
KPF_RECLAIM = 9
KPF_BUDDY = 10
KPF_MMAP = 11
KPF_ANON = 12
KPF_SWAPCACHE = 13
KPF_SWAPBACKED = 14
KPF_COMPOUND_HEAD = 15
KPF_COMPOUND_TAIL = 16
KPF_HUGE = 17
KPF_UNEVICTABLE = 18
KPF_HWPOISON = 19
KPF_NOPAGE = 20
KPF_KSM = 21
KPF_THP = 22
KPF_OFFLINE = 23  # v4.20
KPF_ZERO_PAGE = 24  # v4.0
KPF_IDLE = 25  # v4.3
KPF_PGTABLE = 26  # v4.16
# include/linux/kernel-page-flags.h ("kernel hacking assistances", not stable ABI)
KPF_RESERVED = 32
KPF_MLOCKED = 33
KPF_MAPPEDTODISK = 34
KPF_PRIVATE = 35
KPF_PRIVATE_2 = 36
KPF_OWNER_PRIVATE = 37
KPF_ARCH = 38
KPF_UNCACHED = 39
KPF_SOFTDIRTY = 40
KPF_ARCH_2 = 41

KPF = {
    "LOCKED": KPF_LOCKED,
    "ERROR": KPF_ERROR,
    "REFERENCED": KPF_REFERENCED,
    "UPTODATE": KPF_UPTODATE,
    "DIRTY": KPF_DIRTY,
    "LRU": KPF_LRU,
    "ACTIVE": KPF_ACTIVE,
    "SLAB": KPF_SLAB,
    "WRITEBACK": KPF_WRITEBACK,
    "RECLAIM": KPF_RECLAIM,
    "BUDDY": KPF_BUDDY,
    "MMAP": KPF_MMAP,
    "ANON": KPF_ANON,
    "SWAPCACHE": KPF_SWAPCACHE,
    "SWAPBACKED": KPF_SWAPBACKED,
    "COMPOUND_HEAD": KPF_COMPOUND_HEAD,
    "COMPOUND_TAIL": KPF_COMPOUND_TAIL,
    "HUGE": KPF_HUGE,
    "UNEVICTABLE": KPF_UNEVICTABLE,
    "HWPOISON": KPF_HWPOISON,
    "NOPAGE": KPF_NOPAGE,
    "KSM": KPF_KSM,
    "THP": KPF_THP,
    "OFFLINE": KPF_OFFLINE,
    "ZERO_PAGE": KPF_ZERO_PAGE,
    "IDLE": KPF_IDLE,
    "PGTABLE": KPF_PGTABLE,
    "RESERVED": KPF_RESERVED,
    "MLOCKED": KPF_MLOCKED,
    "MAPPEDTODISK": KPF_MAPPEDTODISK,
    "PRIVATE": KPF_PRIVATE,
    "PRIVATE_2": KPF_PRIVATE_2,
    "OWNER_PRIVATE": KPF_OWNER_PRIVATE,
    "ARCH": KPF_ARCH,
    "UNCACHED": KPF_UNCACHED,
    "SOFTDIRTY": KPF_SOFTDIRTY,
    "ARCH_2": KPF_ARCH_2,
}
KPF_NAMES = {bit: name for name, bit in KPF.items()}

# Exclusive page kinds, in the priority order classify_pages applies (first match wins).
PAGE_KINDS = (
    "nopage",  # KPF_NOPAGE: no struct page (a hole)
    "hwpoison",
    "offline",  # KPF_OFFLINE: ballooned / logically offline
    "free_buddy",  # KPF_BUDDY: in the buddy allocator's free lists (head and tail pages)
    "reserved",  # PG_reserved: memblock reservations, kernel image, nosave regions
    "slab",
    "pgtable",
    "hugetlb",  # KPF_HUGE without KPF_THP
    "zero_page",
    "anon",  # anonymous (including swap cache and KSM)
    "shmem",  # swap-backed but not anonymous: shmem/tmpfs
    "file_writeback",
    "file_dirty",
    "file_clean",  # page cache: on an LRU, or uptodate / mapped-to-disk
    "kernel_compound",  # only COMPOUND_HEAD/TAIL: a compound kernel allocation
    "other",  # some other flag combination
    "no_flags",  # flags 0: per-cpu free lists, flagless kernel allocations, uninitialised
)
_KIND_CODE = {k: i for i, k in enumerate(PAGE_KINDS)}


def _bit(name: str) -> np.uint64:
    return np.uint64(1 << KPF[name])


def classify_pages(flags: np.ndarray) -> np.ndarray:
    """One kind code (index into :data:`PAGE_KINDS`) per page, as uint8.

    Slab pages are tested before anonymous ones because a slab's fields overlay
    ``page->mapping`` and make KPF_ANON/KPF_KSM show on them.
    """
    f = np.asarray(flags, dtype=np.uint64)
    has = {name: (f & _bit(name)) != 0 for name in KPF}
    filelike = has["LRU"] | has["UPTODATE"] | has["MAPPEDTODISK"] | has["DIRTY"] | has["WRITEBACK"]
    compound = _bit("COMPOUND_HEAD") | _bit("COMPOUND_TAIL")
    conds = [
        ("nopage", has["NOPAGE"]),
        ("hwpoison", has["HWPOISON"]),
        ("offline", has["OFFLINE"]),
        ("free_buddy", has["BUDDY"]),
        ("reserved", has["RESERVED"]),
        ("slab", has["SLAB"]),
        ("pgtable", has["PGTABLE"]),
        ("hugetlb", has["HUGE"] & ~has["THP"]),
        ("zero_page", has["ZERO_PAGE"]),
        ("anon", has["ANON"]),
        ("shmem", has["SWAPBACKED"]),
        ("file_writeback", has["WRITEBACK"]),
        ("file_dirty", has["DIRTY"] & filelike),
        ("file_clean", filelike),
        ("kernel_compound", ((f & compound) != 0) & ((f & ~compound) == 0)),
        ("no_flags", f == 0),
    ]
    out = np.full(f.shape, _KIND_CODE["other"], dtype=np.uint8)
    for name, cond in reversed(conds):
        out[cond] = _KIND_CODE[name]
    return out


@dataclass
class PageKindCounts:
    """Pages per exclusive kind (:data:`PAGE_KINDS`) and per KPF flag (pages with it set).

    ``mapped`` counts pages with kpagecount > 0 when the counts were given.
    """

    total: int
    kinds: dict[str, int]
    flags: dict[str, int]
    mapped: int | None = None


def count_page_kinds(
    flags: np.ndarray, counts: np.ndarray | None = None, chunk: int = 1 << 20
) -> PageKindCounts:
    """Counts of :func:`classify_pages` kinds and of every KPF flag, in chunks of pages."""
    flags = np.asarray(flags, dtype=np.uint64)
    kinds = np.zeros(len(PAGE_KINDS), dtype=np.int64)
    bits = np.zeros(64, dtype=np.int64)
    mapped = 0
    for s in range(0, len(flags), chunk):
        f = flags[s : s + chunk]
        kinds += np.bincount(classify_pages(f), minlength=len(PAGE_KINDS))
        for b in KPF.values():
            bits[b] += int(np.count_nonzero(f & np.uint64(1 << b)))
        if counts is not None:
            mapped += int(np.count_nonzero(counts[s : s + chunk]))
    return PageKindCounts(
        total=int(len(flags)),
        kinds={k: int(kinds[i]) for i, k in enumerate(PAGE_KINDS)},
        flags={name: int(bits[b]) for name, b in KPF.items()},
        mapped=mapped if counts is not None else None,
    )


KPAGE_CHUNK = 8 << 20


def read_kpage_array(
    path: str | os.PathLike,
    *,
    expected_len: int | None = None,
    chunk_bytes: int = KPAGE_CHUNK,
    source: str | None = None,
) -> np.ndarray:
    """The u64 array (one entry per pfn, little-endian) of a kpageflags/kpagecount capture.

    Raw, ``.xz``, ``.gz`` or ``.bz2`` (recognised by magic bytes), read in chunks of
    ``chunk_bytes``. A length that is not a multiple of 8, a compressed stream that ends
    early, or (with ``expected_len``) a number of entries other than ``expected_len`` raises
    :class:`ProcParseError` with the byte offset.
    """
    name = source or os.fspath(path)
    buf = bytearray()
    try:
        with open_compressed(path) as fh:
            while True:
                piece = fh.read(chunk_bytes)
                if not piece:
                    break
                buf += piece
    except (EOFError, lzma.LZMAError, OSError, gzip.BadGzipFile) as exc:
        if isinstance(exc, FileNotFoundError | PermissionError):
            raise
        raise ProcParseError(
            name, f"a complete compressed stream ({exc})", offset=len(buf)
        ) from exc
    if len(buf) % 8:
        raise ProcParseError(
            name,
            f"a length that is a multiple of 8 (one u64 per pfn); {len(buf)} bytes leaves "
            f"{len(buf) % 8} over",
            offset=len(buf) - len(buf) % 8,
        )
    arr = np.frombuffer(buf, dtype="<u8").astype(np.uint64, copy=False)
    if expected_len is not None and len(arr) != expected_len:
        raise ProcParseError(
            name,
            f"{expected_len} entries ({expected_len * 8} bytes: one per pfn of the range "
            f"zoneinfo spans), found {len(arr)}",
            offset=min(len(buf), expected_len * 8),
        )
    return arr


# ---------------------------------------------------------------------------------------------
# a snapshot: the files above, parsed, from one moment of one machine


@dataclass
class Snapshot:
    """A loaded snapshot: every parsed file; ``kpageflags``/``kpagecount`` read on first use.

    :func:`allockit.ingest.snapshot.load_snapshot` makes one from a snapshot directory. The
    kpage arrays hold pfns ``[pfn_start, pfn_end)``: entry ``i`` is pfn ``pfn_start + i``.
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
