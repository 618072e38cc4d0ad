"""Pure-Python reference model of one zone of the Linux v5.9 page allocator.

Written from ``docs/buddy-model.md`` only (independently of ``allockit/mm``), to be compared
with the compiled model by a differential test. Lists are Python lists, index 0 = head.
Each method names the kernel function it stands for in its docstring.
"""

import copy
import importlib.util
import os

# constants.py is loaded by path so that this file does not execute the allockit package's
# __init__ modules (numba); constants.py itself is plain Python.
_spec = importlib.util.spec_from_file_location(
    "_refbuddy_constants",
    os.path.join(os.path.dirname(__file__), os.pardir, "allockit", "mm", "constants.py"),
)
C = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(C)

MAX_ORDER = C.MAX_ORDER
UNMOVABLE, MOVABLE, RECLAIMABLE = C.MIGRATE_UNMOVABLE, C.MIGRATE_MOVABLE, C.MIGRATE_RECLAIMABLE
HIGHATOMIC, CMA, ISOLATE = C.MIGRATE_HIGHATOMIC, C.MIGRATE_CMA, C.MIGRATE_ISOLATE
PCPTYPES, NTYPES = C.MIGRATE_PCPTYPES, C.MIGRATE_TYPES
# gfp bits (module-level names: a "___GFP" attribute inside a class body would be mangled)
GFP_MOVABLE, GFP_RECLAIMABLE, GFP_HIGH = C.___GFP_MOVABLE, C.___GFP_RECLAIMABLE, C.___GFP_HIGH
GFP_ATOMIC, GFP_NOMEMALLOC = C.___GFP_ATOMIC, C.___GFP_NOMEMALLOC
GFP_KSWAPD_RECLAIM = C.___GFP_KSWAPD_RECLAIM
GFP_DIRECT_RECLAIM = C.___GFP_DIRECT_RECLAIM
FALLBACKS = {
    UNMOVABLE: (RECLAIMABLE, MOVABLE),
    MOVABLE: (RECLAIMABLE, UNMOVABLE),
    RECLAIMABLE: (UNMOVABLE, MOVABLE),
}

_SCALARS = (
    "nr_pages",
    "pageblock_order",
    "nr_cpus",
    "pcp_batch",
    "pcp_high",
    "watermark_boost",
    "watermark_boost_factor",
    "managed",
    "nr_reserved_highatomic",
    "nr_isolate_pageblock",
    "boosted",
    "alloc_nofragment",
    "nr_free_pages",
    "nr_free_cma_pages",
)


class RefZone:
    def __init__(self, snapshot):
        for k in _SCALARS:
            setattr(self, k, snapshot[k])
        self.boosted = bool(self.boosted)
        self.alloc_nofragment = bool(self.alloc_nofragment)
        self.watermark = list(snapshot["watermark"])
        self.pbo = self.pageblock_order
        self.pbn = 1 << self.pbo
        self.pageblock_mt = list(snapshot["pageblock_mt"])
        fl = snapshot["free_lists"]
        self.free = {
            (mt, o): list(fl.get((mt, o), ())) for mt in range(NTYPES) for o in range(MAX_ORDER)
        }
        self.buddy = {}  # first pfn of a free block -> (list mt, buddy order)  (PageBuddy)
        for (mt, o), lst in self.free.items():
            for pfn in lst:
                self.buddy[pfn] = (mt, o)
        pl = snapshot["pcp_lists"]
        self.pcp = {
            (cpu, t): list(pl.get((cpu, t), ()))
            for cpu in range(self.nr_cpus)
            for t in range(PCPTYPES)
        }
        self.pcppage_mt = dict(snapshot["pcppage_mt"])  # "page->index"
        self.lru = set(snapshot["lru"])
        self.kswapd_wakes = 0

    # ---------------------------------------------------------------- state helpers
    def snapshot(self):
        on_pcp = {pfn for lst in self.pcp.values() for pfn in lst}
        snap = {k: getattr(self, k) for k in _SCALARS}
        snap.update(
            watermark=list(self.watermark),
            pageblock_mt=list(self.pageblock_mt),
            free_lists={k: list(v) for k, v in self.free.items()},
            pcp_lists={k: list(v) for k, v in self.pcp.items()},
            pcppage_mt={p: mt for p, mt in self.pcppage_mt.items() if p in on_pcp},
            lru=set(self.lru),
        )
        return copy.deepcopy(snap)

    def _in_zone(self, pfn):
        return 0 <= pfn < self.nr_pages

    def _pb_mt(self, pfn):
        return self.pageblock_mt[pfn >> self.pbo]

    def _is_buddy(self, pfn, order):
        """page_is_buddy: inside the zone, PageBuddy, buddy order == order."""
        return self._in_zone(pfn) and pfn in self.buddy and self.buddy[pfn][1] == order

    def _nr_free(self, order):
        return sum(len(self.free[(mt, order)]) for mt in range(NTYPES))

    def _account(self, n, mt):
        """__mod_zone_freepage_state"""
        self.nr_free_pages += n
        if mt == CMA:
            self.nr_free_cma_pages += n

    def _add(self, pfn, order, mt, tail=False):
        """add_to_free_list / add_to_free_list_tail (+ set_page_order)"""
        lst = self.free[(mt, order)]
        if tail:
            lst.append(pfn)
        else:
            lst.insert(0, pfn)
        self.buddy[pfn] = (mt, order)

    def _del(self, pfn):
        """del_page_from_free_list (clears PageBuddy)"""
        mt, order = self.buddy.pop(pfn)
        self.free[(mt, order)].remove(pfn)
        return order

    def _move(self, pfn, mt):
        """move_to_free_list: list_move to the head of free_list[mt][order]"""
        order = self._del(pfn)
        self._add(pfn, order, mt)

    def _pcp_count(self, cpu):
        return sum(len(self.pcp[(cpu, t)]) for t in range(PCPTYPES))

    # ---------------------------------------------------------------- buddy core
    def free_one_page_(self, pfn, order, mt):
        """__free_one_page(pfn, order, mt)"""
        if mt != ISOLATE:
            self._account(1 << order, mt)
        max_order = min(MAX_ORDER - 1, self.pbo)
        while True:
            done = False
            while order < max_order:
                buddy = pfn ^ (1 << order)
                if not self._is_buddy(buddy, order):
                    done = True
                    break
                self._del(buddy)
                pfn &= buddy
                order += 1
            if done or order >= MAX_ORDER - 1:
                break
            if self.nr_isolate_pageblock > 0:
                buddy = pfn ^ (1 << order)
                if not self._in_zone(buddy):
                    break
                bmt = self._pb_mt(buddy)
                if bmt != mt and (mt == ISOLATE or bmt == ISOLATE):
                    break
            max_order = order + 1
        # buddy_merge_likely; the buddy that stopped the merge is pfn ^ 2^order.
        to_tail = False
        if order < MAX_ORDER - 2:
            combined = (pfn ^ (1 << order)) & pfn
            to_tail = self._is_buddy(combined ^ (1 << (order + 1)), order + 1)
        self._add(pfn, order, mt, tail=to_tail)

    def expand(self, pfn, low, high, mt):
        """expand(): upper halves to the head of free_list[mt][high]; no accounting."""
        while high > low:
            high -= 1
            self._add(pfn + (1 << high), high, mt)

    def rmqueue_smallest_(self, order, mt):
        """__rmqueue_smallest(order, mt)"""
        for o in range(order, MAX_ORDER):
            lst = self.free[(mt, o)]
            if lst:
                pfn = lst[0]
                self._del(pfn)
                self.expand(pfn, order, o, mt)
                self.pcppage_mt[pfn] = mt
                return pfn
        return -1

    # ---------------------------------------------------------------- fallback
    def can_steal_fallback(self, order, start_mt):
        """can_steal_fallback(order, start_mt)"""
        return order >= self.pbo or order >= self.pbo // 2 or start_mt in (RECLAIMABLE, UNMOVABLE)

    def find_suitable_fallback(self, order, start_mt):
        """find_suitable_fallback(area, order, start_mt, only_stealable=false).

        Returns (fallback mt or -1, can_steal).
        """
        if self._nr_free(order) == 0:
            return -1, False
        for mt in FALLBACKS[start_mt]:
            if self.free[(mt, order)]:
                return mt, self.can_steal_fallback(order, start_mt)
        return -1, False

    def boost_watermark(self):
        """boost_watermark()"""
        if self.watermark_boost_factor == 0 or 4 * self.pbn > self.managed:
            return False
        max_boost = self.watermark[C.WMARK_HIGH] * self.watermark_boost_factor // 10000
        if max_boost == 0:
            return False
        max_boost = max(self.pbn, max_boost)
        self.watermark_boost = min(self.watermark_boost + self.pbn, max_boost)
        return True

    def move_freepages_block(self, pfn, mt):
        """move_freepages_block() / move_freepages(): returns (free_pages, movable_pages)."""
        start = pfn & ~(self.pbn - 1)
        end = start + self.pbn - 1
        if not self._in_zone(end):  # "do not cross zone boundaries" (kernel)
            return 0, 0
        free = movable = 0
        p = start
        while p <= end:
            if p in self.buddy:
                order = self.buddy[p][1]
                self._move(p, mt)
                free += 1 << order
                p += 1 << order
            else:
                if p in self.lru:
                    movable += 1
                p += 1
        return free, movable

    def steal_suitable_fallback(self, pfn, alloc_flags, start_mt, whole_block):
        """steal_suitable_fallback(page, alloc_flags, start_mt, whole_block)"""
        cur = self.buddy[pfn][1]
        old = self._pb_mt(pfn)
        if old == HIGHATOMIC:
            self._move(pfn, start_mt)
            return
        if cur >= self.pbo:
            first = pfn >> self.pbo
            for b in range(first, first + (1 << (cur - self.pbo))):
                self.pageblock_mt[b] = start_mt
            self._move(pfn, start_mt)
            return
        if self.boost_watermark() and alloc_flags & C.ALLOC_KSWAPD:
            self.boosted = True
        if not whole_block:
            self._move(pfn, start_mt)
            return
        free, movable = self.move_freepages_block(pfn, start_mt)
        if start_mt == MOVABLE:
            alike = movable
        elif old == MOVABLE:
            alike = self.pbn - (free + movable)
        else:
            alike = 0
        if free == 0:
            self._move(pfn, start_mt)
            return
        if free + alike >= self.pbn // 2:
            self.pageblock_mt[pfn >> self.pbo] = start_mt

    def rmqueue_fallback_(self, order, start_mt, alloc_flags):
        """__rmqueue_fallback(order, start_mt, alloc_flags) -> bool"""
        min_order = self.pbo if alloc_flags & C.ALLOC_NOFRAGMENT else order
        for o in range(MAX_ORDER - 1, min_order - 1, -1):
            fmt, can_steal = self.find_suitable_fallback(o, start_mt)
            if fmt < 0:
                continue
            if not can_steal and start_mt == MOVABLE and o > order:
                for o in range(order, MAX_ORDER):  # find_smallest
                    fmt, can_steal = self.find_suitable_fallback(o, start_mt)
                    if fmt >= 0:
                        break
            pfn = self.free[(fmt, o)][0]
            self.steal_suitable_fallback(pfn, alloc_flags, start_mt, can_steal)
            return True
        return False

    def rmqueue_(self, order, mt, alloc_flags):
        """__rmqueue(order, mt, alloc_flags)"""
        if alloc_flags & C.ALLOC_CMA and self.nr_free_cma_pages > self.nr_free_pages // 2:
            pfn = self.rmqueue_smallest_(order, CMA)
            if pfn >= 0:
                return pfn
        while True:
            pfn = self.rmqueue_smallest_(order, mt)
            if pfn >= 0:
                return pfn
            if alloc_flags & C.ALLOC_CMA:
                pfn = self.rmqueue_smallest_(order, CMA)
                if pfn >= 0:
                    return pfn
            if not self.rmqueue_fallback_(order, mt, alloc_flags):
                return -1

    # ---------------------------------------------------------------- per-CPU lists
    def rmqueue_bulk(self, cpu, count, mt, alloc_flags):
        """rmqueue_bulk(): NR_FREE_CMA_PAGES drops per page inside the loop, NR_FREE_PAGES
        by i after it (as in v5.9), so the CMA-half rule sees a stale NR_FREE_PAGES."""
        i = 0
        while i < count:
            pfn = self.rmqueue_(0, mt, alloc_flags)
            if pfn < 0:
                break
            self.pcp[(cpu, mt)].append(pfn)
            if self.pcppage_mt[pfn] == CMA:
                self.nr_free_cma_pages -= 1
            i += 1
        self.nr_free_pages -= i
        return i

    def rmqueue_pcplist_(self, cpu, mt, alloc_flags):
        """__rmqueue_pcplist(cpu, mt)"""
        lst = self.pcp[(cpu, mt)]
        if not lst:
            self.rmqueue_bulk(cpu, self.pcp_batch, mt, alloc_flags)
            if not lst:
                return -1
        return lst.pop(0)

    def free_unref_page(self, cpu, pfn):
        """free_unref_page() (order 0)"""
        mt = self._pb_mt(pfn)
        self.pcppage_mt[pfn] = mt
        if mt == ISOLATE:
            self.free_one_page_(pfn, 0, ISOLATE)
            return
        t = MOVABLE if mt >= PCPTYPES else mt
        self.pcp[(cpu, t)].insert(0, pfn)
        if self._pcp_count(cpu) >= self.pcp_high:
            self.free_pcppages_bulk(cpu, self.pcp_batch)

    def free_pcppages_bulk(self, cpu, count):
        """free_pcppages_bulk(cpu, count)"""
        count = min(count, self._pcp_count(cpu))
        index = batch_free = 0
        queue = []
        while count > 0:
            while True:
                batch_free += 1
                index = (index + 1) % PCPTYPES
                if self.pcp[(cpu, index)]:
                    break
            lst = self.pcp[(cpu, index)]
            if batch_free == PCPTYPES:
                batch_free = count
            while True:  # do { ... } while (--count && --batch_free && !list_empty)
                queue.append(lst.pop())
                count -= 1
                if count == 0:
                    break
                batch_free -= 1
                if batch_free == 0 or not lst:
                    break
        isolated = self.nr_isolate_pageblock > 0
        for pfn in queue:
            mt = self._pb_mt(pfn) if isolated else self.pcppage_mt[pfn]
            self.free_one_page_(pfn, 0, mt)

    def drain_all_pages(self):
        """drain_all_pages() for this zone"""
        for cpu in range(self.nr_cpus):
            n = self._pcp_count(cpu)
            if n > 0:
                self.free_pcppages_bulk(cpu, n)

    # ---------------------------------------------------------------- allocation
    def rmqueue(self, cpu, order, mt, alloc_flags):
        """rmqueue(cpu, order, mt, alloc_flags)"""
        if order == 0 and (alloc_flags & C.ALLOC_CMA or mt != MOVABLE):
            pfn = self.rmqueue_pcplist_(cpu, mt, alloc_flags)
        else:
            pfn = -1
            if order > 0 and alloc_flags & C.ALLOC_HARDER:
                pfn = self.rmqueue_smallest_(order, HIGHATOMIC)
            if pfn < 0:
                pfn = self.rmqueue_(order, mt, alloc_flags)
            if pfn < 0:
                return -1  # failure in the buddy path skips the boost check
            self._account(-(1 << order), self.pcppage_mt[pfn])
        if self.boosted:
            self.boosted = False
            self.kswapd_wakes += 1
        return pfn

    def wmark_pages(self, i):
        """wmark_pages(zone, i)"""
        return self.watermark[i] + self.watermark_boost

    def zone_watermark_ok_(self, order, mark, alloc_flags, free):
        """__zone_watermark_ok(order, mark, alloc_flags, free)"""
        harder = alloc_flags & (C.ALLOC_HARDER | C.ALLOC_OOM)
        free -= (1 << order) - 1
        if alloc_flags & C.ALLOC_HIGH:
            mark -= mark // 2
        if not harder:
            free -= self.nr_reserved_highatomic
        elif alloc_flags & C.ALLOC_OOM:
            mark -= mark // 2
        else:
            mark -= mark // 4
        if not alloc_flags & C.ALLOC_CMA:
            free -= self.nr_free_cma_pages
        if free <= mark:
            return False
        if order == 0:
            return True
        for o in range(order, MAX_ORDER):
            if any(self.free[(mt, o)] for mt in range(PCPTYPES)):
                return True
            if alloc_flags & C.ALLOC_CMA and self.free[(CMA, o)]:
                return True
            if harder and self.free[(HIGHATOMIC, o)]:
                return True
        return False

    def zone_watermark_fast(self, gfp, order, mark, alloc_flags):
        """zone_watermark_fast(): an order-0 miss falls through to __zone_watermark_ok."""
        unusable = 0
        if not alloc_flags & (C.ALLOC_HARDER | C.ALLOC_OOM):
            unusable += self.nr_reserved_highatomic
        if not alloc_flags & C.ALLOC_CMA:
            unusable += self.nr_free_cma_pages
        if order == 0 and self.nr_free_pages - unusable > mark:
            return True
        if self.zone_watermark_ok_(order, mark, alloc_flags, self.nr_free_pages):
            return True
        if (
            order == 0
            and gfp & GFP_ATOMIC
            and self.watermark_boost
            and (alloc_flags & C.ALLOC_WMARK_MASK) == C.ALLOC_WMARK_MIN
        ):
            return self.zone_watermark_ok_(
                order, self.watermark[0], alloc_flags, self.nr_free_pages
            )
        return False

    def reserve_highatomic_pageblock(self, pfn):
        """reserve_highatomic_pageblock(page)"""
        if self.nr_reserved_highatomic >= self.managed // 100 + self.pbn:
            return
        if self._pb_mt(pfn) not in (HIGHATOMIC, ISOLATE, CMA):
            self.nr_reserved_highatomic += self.pbn
            self.pageblock_mt[pfn >> self.pbo] = HIGHATOMIC
            self.move_freepages_block(pfn, HIGHATOMIC)

    def get_page_from_freelist(self, cpu, gfp, order, mt, alloc_flags):
        """get_page_from_freelist() for the one zone"""
        while True:
            if alloc_flags & C.ALLOC_NO_WATERMARKS or self.zone_watermark_fast(
                gfp, order, self.wmark_pages(alloc_flags & C.ALLOC_WMARK_MASK), alloc_flags
            ):
                pfn = self.rmqueue(cpu, order, mt, alloc_flags)
                if pfn >= 0:
                    if order > 0 and alloc_flags & C.ALLOC_HARDER:
                        self.reserve_highatomic_pageblock(pfn)
                    return pfn
            if not alloc_flags & C.ALLOC_NOFRAGMENT:
                return -1
            alloc_flags &= ~C.ALLOC_NOFRAGMENT

    def alloc_pages(self, cpu, gfp, order):
        """__alloc_pages_nodemask(): fast path, then the modelled part of the slow path."""
        if order >= MAX_ORDER:  # not in the doc; the kernel returns NULL
            return -1
        if gfp & GFP_MOVABLE:
            mt = MOVABLE
        elif gfp & GFP_RECLAIMABLE:
            mt = RECLAIMABLE
        else:
            mt = UNMOVABLE
        cma = C.ALLOC_CMA if mt == MOVABLE else 0
        flags = C.ALLOC_WMARK_LOW | cma
        if gfp & GFP_KSWAPD_RECLAIM:
            flags |= C.ALLOC_KSWAPD
        if self.alloc_nofragment:
            flags |= C.ALLOC_NOFRAGMENT
        pfn = self.get_page_from_freelist(cpu, gfp, order, mt, flags)
        if pfn >= 0:
            return pfn
        # __alloc_pages_slowpath: no atomic reserves for callers that can sleep
        if gfp & GFP_ATOMIC and gfp & GFP_DIRECT_RECLAIM:
            gfp &= ~GFP_ATOMIC
        # gfp_to_alloc_flags (__GFP_HIGH == ALLOC_HIGH and
        # __GFP_KSWAPD_RECLAIM == ALLOC_KSWAPD bit for bit)
        flags = C.ALLOC_WMARK_MIN | C.ALLOC_CPUSET | cma
        flags |= gfp & (GFP_HIGH | GFP_KSWAPD_RECLAIM)
        if gfp & GFP_ATOMIC:
            if not gfp & GFP_NOMEMALLOC:
                flags |= C.ALLOC_HARDER
            flags &= ~C.ALLOC_CPUSET
        if flags & C.ALLOC_KSWAPD:
            self.kswapd_wakes += 1  # wake_all_kswapds
        return self.get_page_from_freelist(cpu, gfp, order, mt, flags)

    # ---------------------------------------------------------------- freeing, misc
    def free_pages(self, cpu, pfn, order):
        """__free_pages(page, order): clears LRU/movable, then frees."""
        for p in range(pfn, pfn + (1 << order)):
            self.lru.discard(p)
        if order == 0:
            self.free_unref_page(cpu, pfn)
        else:
            self.free_one_page_(pfn, order, self._pb_mt(pfn))

    def set_lru(self, pfn, nr):
        """SetPageLRU on pfn .. pfn+nr-1"""
        self.lru.update(range(pfn, pfn + nr))
