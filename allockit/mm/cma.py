"""The CMA area: ``cma_alloc`` and ``cma_release`` (Linux v5.9, mm/cma.c).

One area (``Z_CMA_BASE``, ``Z_CMA_COUNT``, ``Z_CMA_ORDER_PER_BIT``) with its bitmap, one byte
per bit in ``MachineState.cma_bitmap``. ``cma_alloc`` searches the bitmap first-fit from bit 0
on every call (it remembers no earlier failure), marks the bits, and runs
``alloc_contig_range(MIGRATE_CMA)`` under the global ``cma_mutex``. On -EBUSY it clears the
bits and tries again one *alignment step* further (so a busy page keeps failing every window
that still contains it); any other error gives up at once.
"""

import numpy as np

from .buddy import pageblock_order
from .constants import C_SCAN_PER_PFN, EBUSY, ENOMEM, MIGRATE_CMA, T_SCAN
from .contig import (
    ACR_ONE_TRY,
    ACR_SKIP_LRU_DRAIN,
    ACR_SKIP_PCP_DRAIN,
    alloc_contig_range,
    free_contig_range,
)
from .drain import drain_all_pages_timed, lru_add_drain_all
from .jit import mm_jit
from .sched import advance
from .state import Z_CMA_BASE, Z_CMA_COUNT, Z_CMA_ORDER_PER_BIT, Z_COST
from .vmstat import CMA_ALLOC_FAIL, CMA_ALLOC_SUCCESS, SIM_CMA_ALLOC_RETRY


@mm_jit
def cma_bitmap_maxno(s):
    return s.zone[Z_CMA_COUNT] >> s.zone[Z_CMA_ORDER_PER_BIT]


@mm_jit
def cma_bitmap_aligned_mask(s, align_order):
    opb = s.zone[Z_CMA_ORDER_PER_BIT]
    if align_order <= opb:
        return np.int64(0)
    return (np.int64(1) << (align_order - opb)) - 1


@mm_jit
def cma_bitmap_aligned_offset(s, align_order):
    return (s.zone[Z_CMA_BASE] & ((np.int64(1) << align_order) - 1)) >> s.zone[Z_CMA_ORDER_PER_BIT]


@mm_jit
def cma_bitmap_pages_to_bits(s, pages):
    opb = s.zone[Z_CMA_ORDER_PER_BIT]
    return (pages + (np.int64(1) << opb) - 1) >> opb


@mm_jit
def charge_bitmap_scan(s, bits):
    """Bitmap searches go a word (64 bits) at a time."""
    advance(s, (bits + 63) // 64 * s.zone[Z_COST + C_SCAN_PER_PFN], T_SCAN)


@mm_jit
def bitmap_find_next_zero_area_off(s, size, start, nr, align_mask, align_offset):
    """``bitmap_find_next_zero_area_off`` (lib/bitmap.c) over the CMA bitmap."""
    scanned = 0
    while True:
        index = start
        while index < size and s.cma_bitmap[index] != 0:  # find_next_zero_bit
            index += 1
        scanned += index - start + 1
        index = ((index + align_offset + align_mask) & ~align_mask) - align_offset  # __ALIGN_MASK
        end = index + nr
        if end > size:
            charge_bitmap_scan(s, scanned)
            return end
        i = index
        while i < end and s.cma_bitmap[i] == 0:  # find_next_bit
            i += 1
        scanned += i - index
        if i < end:
            start = i + 1
            continue
        charge_bitmap_scan(s, scanned)
        return index


@mm_jit
def cma_set_bits(s, bitmap_no, nbits, value):
    for i in range(bitmap_no, bitmap_no + nbits):
        s.cma_bitmap[i] = value


@mm_jit
def cma_alloc(s, cpu, count, align, acr_flags):
    """``cma_alloc(cma, count, align, no_warn)`` (v5.9); ``acr_flags`` (contig.ACR_*) model
    the fail-fast ``__GFP_NORETRY`` variants proposed in 2021 (0 for v5.9).

    Returns ``(pfn, ret, tries)``: the first pfn of ``count`` contiguous pages (pfn -1 on
    failure), the last ``alloc_contig_range`` result (-ENOMEM if no window was free, 0 on
    success) and the number of ``alloc_contig_range`` calls made. Zero pages, or more than
    the area holds, give (-1, -ENOMEM, 0) without trying (the kernel returns NULL).
    """
    if s.zone[Z_CMA_COUNT] == 0 or count <= 0:
        return np.int64(-1), np.int64(-ENOMEM), np.int64(0)
    mask = cma_bitmap_aligned_mask(s, align)
    offset = cma_bitmap_aligned_offset(s, align)
    maxno = cma_bitmap_maxno(s)
    nbits = cma_bitmap_pages_to_bits(s, count)
    if nbits > maxno:
        return np.int64(-1), np.int64(-ENOMEM), np.int64(0)
    start = np.int64(0)
    ret = np.int64(-ENOMEM)
    tries = np.int64(0)
    while True:
        bitmap_no = bitmap_find_next_zero_area_off(s, maxno, start, nbits, mask, offset)
        if bitmap_no >= maxno:
            break
        cma_set_bits(s, bitmap_no, nbits, 1)
        pfn = s.zone[Z_CMA_BASE] + (bitmap_no << s.zone[Z_CMA_ORDER_PER_BIT])
        tries += 1
        r, _ = alloc_contig_range(s, cpu, pfn, pfn + count, MIGRATE_CMA, acr_flags)
        ret = r
        if r == 0:
            s.zone[CMA_ALLOC_SUCCESS] += count
            return pfn, np.int64(0), tries
        cma_set_bits(s, bitmap_no, nbits, 0)  # cma_clear_bitmap
        if r != -EBUSY:
            break
        s.zone[SIM_CMA_ALLOC_RETRY] += 1
        start = bitmap_no + mask + 1  # "try again with a bit different memory target"
    s.zone[CMA_ALLOC_FAIL] += count
    return np.int64(-1), ret, tries


@mm_jit
def cma_release(s, cpu, pfn, count):
    """``cma_release``: free the pages through the pcp lists, then clear the bitmap."""
    base = s.zone[Z_CMA_BASE]
    if pfn < base or pfn + count > base + s.zone[Z_CMA_COUNT] or count <= 0:
        return False
    free_contig_range(s, cpu, pfn, count)
    opb = s.zone[Z_CMA_ORDER_PER_BIT]
    cma_set_bits(s, (pfn - base) >> opb, cma_bitmap_pages_to_bits(s, count), 0)
    return True


@mm_jit
def cma_alloc_bulk(s, cpu, align, order, nr_requests, fast, out):
    """``cma_alloc_bulk`` (Minchan Kim, v1 17 Nov / v2 1 Dec 2020, never merged), as posted
    (v1 ``20201117181935.3613581-2-minchan@kernel.org``, v2
    ``20201201175144.3996569-3-minchan@kernel.org``).

    One ``lru_add_drain_all`` + ``drain_all_pages`` up front; then chunks of
    2^max(order, pageblock_order) pages, first fit from ``start`` with the caller's alignment
    (``cma_bitmap_aligned_mask(cma, align)``: the posted chunk heap passes its page order);
    each chunk is one ``alloc_contig_range`` (in ``fast`` mode: no pcp drain, one migrate_pages
    round, no post-migration LRU drain; migration stays MIGRATE_SYNC); on -EBUSY the search
    moves past the failed chunk (not one alignment step), other errors stop; a successful
    chunk is cut into order-``order`` pages written to ``out`` (first pfns).

    Returns ``(nr_allocated, ret)``: ret 0 only if all were allocated, else the last error
    (-EBUSY when it simply ran out of chunks).
    """
    lru_add_drain_all(s)
    drain_all_pages_timed(s)
    chunk_order = max(order, pageblock_order(s))
    chunk = np.int64(1) << chunk_order
    per_chunk = chunk >> order
    mask = cma_bitmap_aligned_mask(s, align)
    offset = cma_bitmap_aligned_offset(s, align)
    maxno = cma_bitmap_maxno(s)
    flags = ACR_SKIP_PCP_DRAIN | ACR_ONE_TRY | ACR_SKIP_LRU_DRAIN if fast else 0
    got = 0
    start = np.int64(0)
    ret = np.int64(-EBUSY)
    while got < nr_requests:
        want_pages = min(chunk, (nr_requests - got) << order)
        nbits = cma_bitmap_pages_to_bits(s, want_pages)
        bitmap_no = bitmap_find_next_zero_area_off(s, maxno, start, nbits, mask, offset)
        if bitmap_no >= maxno:
            ret = -EBUSY
            break
        cma_set_bits(s, bitmap_no, nbits, 1)
        pfn = s.zone[Z_CMA_BASE] + (bitmap_no << s.zone[Z_CMA_ORDER_PER_BIT])
        r, _ = alloc_contig_range(s, cpu, pfn, pfn + want_pages, MIGRATE_CMA, flags)
        if r != 0:
            cma_set_bits(s, bitmap_no, nbits, 0)
            ret = r
            if r != -EBUSY:
                break
            start = bitmap_no + nbits  # skip the whole failed chunk
            continue
        for i in range(min(per_chunk, want_pages >> order)):
            out[got] = pfn + (i << order)
            got += 1
        s.zone[CMA_ALLOC_SUCCESS] += want_pages
        start = bitmap_no + nbits
    if got == nr_requests:
        ret = 0
    return got, ret
