"""Parsers of the /proc files that describe a Linux machine's physical memory.

Each parser takes the text of one file (as the kernel printed it) and returns plain
dataclasses and dicts; ``source`` names the file in error messages. Bad input raises
:class:`ProcParseError`, a ``ValueError`` naming the file, the line (or byte offset) and what
was expected.

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

import bz2
import gzip
import lzma
import os
import re
from dataclasses import dataclass, field

import numpy as np

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
    "ZoneInfo",
    "ZoneInfoFile",
    "classify_pages",
    "count_page_kinds",
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
    pb_order = ppb = None
    ppb_line = 0
    nr_orders = None
    hdr_line = 0
    section = None  # None, "free", "blocks", "mixed"
    columns: tuple[str, ...] = ()
    mt_order: list[str] = []
    free: dict[tuple[int, str, str], FreeRow] = {}
    blocks: dict[tuple[int, str], dict[str, int]] = {}
    mixed: dict[tuple[int, str], dict[str, int]] | None = None
    seen_any = False
    for lineno, line in _lines(text):
        if not line:
            continue
        seen_any = True
        if m := _PTI_ORDER_RE.match(line):
            v = int(m.group(1))
            if pb_order is not None and v != pb_order:
                raise ProcParseError(
                    source,
                    f"the same page block order on every node ({pb_order})",
                    lineno=lineno,
                    line=line,
                )
            pb_order, section = v, None
            continue
        if m := _PTI_PPB_RE.match(line):
            v = int(m.group(1))
            if pb_order is None:
                raise ProcParseError(
                    source,
                    "'Page block order: N' before 'Pages per block'",
                    lineno=lineno,
                    line=line,
                )
            if v != 1 << pb_order:
                raise ProcParseError(
                    source,
                    f"pages per block = 2**{pb_order} = {1 << pb_order}",
                    lineno=lineno,
                    line=line,
                )
            if ppb is None:
                ppb_line = lineno
            ppb = v
            continue
        if m := _PTI_FREEHDR_RE.match(line):
            orders = [int(x) for x in m.group(1).split()]
            if orders != list(range(len(orders))):
                raise ProcParseError(
                    source, "orders 0, 1, 2, ... in the header", lineno=lineno, line=line
                )
            if nr_orders is not None and len(orders) != nr_orders:
                raise ProcParseError(
                    source,
                    f"{nr_orders} orders as in the header on line {hdr_line}",
                    lineno=lineno,
                    line=line,
                )
            nr_orders, hdr_line, section = len(orders), lineno, "free"
            continue
        if m := _PTI_FREE_RE.match(line):
            if section != "free" or nr_orders is None:
                raise ProcParseError(
                    source,
                    "free-count rows only after the 'Free pages count "
                    "per migrate type at order' header",
                    lineno=lineno,
                    line=line,
                )
            toks = m.group(4).split()
            if len(toks) != nr_orders:
                raise ProcParseError(
                    source,
                    f"{nr_orders} counts (orders 0-{nr_orders - 1}, per the header on line "
                    f"{hdr_line}), found {len(toks)}",
                    lineno=lineno,
                    line=line,
                )
            key = (int(m.group(1)), m.group(2), m.group(3))
            if key in free:
                raise ProcParseError(
                    source, "each (node, zone, type) once", lineno=lineno, line=line
                )
            capped = tuple(t.startswith(">") for t in toks)
            free[key] = FreeRow(*key, tuple(int(t.lstrip(">")) for t in toks), capped)
            if key[2] not in mt_order:
                mt_order.append(key[2])
            continue
        if m := _PTI_TABLEHDR_RE.match(line):
            columns = tuple(m.group(2).split())
            if m.group(1) == "blocks type":
                section = "blocks"
            else:
                section = "mixed"
                if mixed is None:
                    mixed = {}
            continue
        if m := _PTI_ROW_RE.match(line):
            if section not in ("blocks", "mixed"):
                raise ProcParseError(
                    source,
                    "a block-count row only after a 'Number of blocks "
                    "type' or 'Number of mixed blocks' header",
                    lineno=lineno,
                    line=line,
                )
            vals = [int(x) for x in m.group(3).split()]
            if len(vals) != len(columns):
                raise ProcParseError(
                    source,
                    f"{len(columns)} counts, one per type ({' '.join(columns)})",
                    lineno=lineno,
                    line=line,
                )
            key = (int(m.group(1)), m.group(2))
            table = blocks if section == "blocks" else mixed
            assert table is not None
            if key in table:
                raise ProcParseError(
                    source, "each (node, zone) once per table", lineno=lineno, line=line
                )
            table[key] = dict(zip(columns, vals, strict=True))
            continue
        raise ProcParseError(
            source,
            "a pagetypeinfo line (page block header, free-count header or row "
            "'Node N, zone Z, type T counts...', block table header or row)",
            lineno=lineno,
            line=line,
        )
    if not seen_any:
        raise ProcParseError(source, "a 'Page block order' header (file is empty)", lineno=1)
    if pb_order is None or ppb is None:
        raise ProcParseError(source, "'Page block order' and 'Pages per block' headers")
    if nr_orders is None or not free:
        raise ProcParseError(source, "the free-count table (file truncated?)")
    if not blocks:
        raise ProcParseError(source, "the 'Number of blocks type' table (file truncated?)")
    free_zones = {(n, z) for n, z, _ in free}
    if free_zones != set(blocks):
        missing = sorted(free_zones ^ set(blocks))
        raise ProcParseError(
            source,
            "the same zones in the free table and the block table "
            f"(differ: {missing}; file truncated?)",
        )
    for (n, z, mt), _row in free.items():
        if mt not in blocks[(n, z)]:
            raise ProcParseError(
                source,
                f"type {mt!r} of the free table among the block "
                f"table's types {list(blocks[(n, z)])}",
            )
    if page_size is not None and pageblock_bytes is not None:
        if ppb * page_size != pageblock_bytes:
            raise ProcParseError(
                source,
                f"pages per block × page size = pageblock size: {ppb} × {page_size} = "
                f"{ppb * page_size} bytes, but the pageblock is {pageblock_bytes} bytes (a "
                f"snapshot from a machine with {pageblock_bytes // ppb}-byte pages?)",
                lineno=ppb_line,
            )
    first_cols = next(iter(blocks.values()))
    mts = tuple(first_cols) or tuple(mt_order)
    return PageTypeInfo(
        pageblock_order=pb_order,
        pages_per_block=ppb,
        nr_orders=nr_orders,
        migratetypes=mts,
        free=free,
        blocks=blocks,
        mixed=mixed,
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
    zones: list[ZoneInfo] = []
    node_stats: dict[int, dict[str, int]] = {}
    z: ZoneInfo | None = None
    mode = None  # "node", "zone", "pagesets"
    pcp: Pageset | None = None
    expected = (
        "a zoneinfo line ('Node N, zone NAME', 'per-node stats', 'pages free N', "
        "'NAME VALUE', 'protection: (...)', 'pagesets', 'cpu: N', 'count: N', "
        "'vm stats threshold: N', 'start_pfn: N')"
    )

    def finish(zone: ZoneInfo | None):
        if zone is None:
            return
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

    for lineno, raw in _lines(text):
        line = raw.strip()
        if not line:
            continue
        if m := _ZI_ZONE_RE.match(line):
            finish(z)
            z = ZoneInfo(node=int(m.group(1)), name=m.group(2), lineno=lineno)
            zones.append(z)
            mode, pcp = "zone", None
            continue
        if z is None:
            raise ProcParseError(source, "'Node N, zone NAME' first", lineno=lineno, line=raw)
        if line == "per-node stats":
            mode = "node"
            node_stats.setdefault(z.node, {})
            continue
        if m := _ZI_FREE_RE.match(line):
            z.pages_free = int(m.group(1))
            z.fields["pages free"] = z.pages_free
            mode = "zone"
            continue
        if m := _ZI_PROT_RE.match(line):
            z.protection = tuple(int(x) for x in m.group(1).split(","))
            mode = "zone"
            continue
        if line == "pagesets":
            mode = "pagesets"
            continue
        if m := _ZI_CPU_RE.match(line):
            if mode != "pagesets":
                raise ProcParseError(
                    source, "'cpu: N' only after 'pagesets'", lineno=lineno, line=raw
                )
            pcp = Pageset(cpu=int(m.group(1)))
            z.pagesets.append(pcp)
            continue
        if m := _ZI_PCP_RE.match(line):
            if mode != "pagesets" or pcp is None:
                raise ProcParseError(
                    source,
                    f"'{m.group(1)}:' only inside a pageset ('cpu: N')",
                    lineno=lineno,
                    line=raw,
                )
            setattr(pcp, m.group(1), int(m.group(2)))
            continue
        if m := _ZI_THRESH_RE.match(line):
            if pcp is not None:
                pcp.stat_threshold = int(m.group(1))
            continue
        if m := _ZI_TAIL_RE.match(line):
            key, val = m.group(1), int(m.group(2))
            if key == "start_pfn":
                z.start_pfn = val
            elif key in ("node_unreclaimable", "all_unreclaimable"):
                z.node_unreclaimable = val
            else:
                z.fields[key] = val
            mode = "zone"
            continue
        if m := _ZI_STAT_RE.match(line):
            name, val = m.group(1), int(m.group(2))
            if mode == "node":
                node_stats[z.node][name] = val
                z.node_stats[name] = val
            elif mode == "zone" and name in _ZI_ZONE_FIELDS and "pages free" in z.fields:
                z.fields[name] = val
            elif mode == "zone":
                z.stats[name] = val
            else:
                raise ProcParseError(
                    source, f"a pageset line, not statistic {name!r}", lineno=lineno, line=raw
                )
            continue
        raise ProcParseError(source, expected, lineno=lineno, line=raw)
    if z is None:
        raise ProcParseError(source, "at least one 'Node N, zone NAME' (file is empty)", lineno=1)
    finish(z)
    return ZoneInfoFile(zones=zones, node_stats=node_stats)


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


_XZ_MAGIC = b"\xfd7zXZ\x00"
KPAGE_CHUNK = 8 << 20


def open_maybe_compressed(path: str | os.PathLike):
    """A binary file object for ``path``, decompressing xz/gzip/bzip2 by their magic bytes."""
    with open(path, "rb") as fh:
        magic = fh.read(6)
    if magic.startswith(_XZ_MAGIC):
        return lzma.open(path, "rb")
    if magic.startswith(b"\x1f\x8b"):
        return gzip.open(path, "rb")
    if magic.startswith(b"BZh"):
        return bz2.open(path, "rb")
    return open(path, "rb")  # noqa: SIM115


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
        with open_maybe_compressed(path) as fh:
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
