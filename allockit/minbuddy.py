"""A minimal array-based buddy allocator in numba: ``benchmarks/c_buddy.c`` line for line.

The yardstick that tells what numba itself costs on this churn, as against what the
simulated kernel's bookkeeping costs (``allockit bench``: ``numba_min_buddy_ns_per_op``
beside ``buddy_ns_per_op`` and the C build's ``c_buddy_ns_per_op``). One free list per
order, no migratetypes, per-CPU lists or watermarks; the same zone (393,216 pages), the same
xorshift draws and the same 75 % occupancy as the C program. The helpers are inlined and
compiled without numba's reference counting, as the C compiler inlines its static
functions and the simulator's kernels run without the runtime (``mm/jit.py``).
"""

from __future__ import annotations

import time

import numpy as np
from numba import njit

MAX_ORDER = 11
NR_PAGES = 393216
_SEED = np.uint64(88172645463325252)


@njit(cache=True, _nrt=False, inline="always")
def _list_add(nxt, prv, e, h):
    n = nxt[h]
    nxt[h] = e
    prv[e] = h
    nxt[e] = n
    prv[n] = e


@njit(cache=True, _nrt=False, inline="always")
def _list_del(nxt, prv, e):
    n = nxt[e]
    p = prv[e]
    nxt[p] = n
    prv[n] = p


@njit(cache=True, _nrt=False, inline="always")
def _free_block(nxt, prv, ord_, isfree, pfn, order):
    while order < MAX_ORDER - 1:
        buddy = pfn ^ (1 << order)
        if buddy >= NR_PAGES or not isfree[buddy] or ord_[buddy] != order:
            break
        _list_del(nxt, prv, buddy)
        isfree[buddy] = 0
        pfn &= buddy
        order += 1
    isfree[pfn] = 1
    ord_[pfn] = order
    _list_add(nxt, prv, pfn, NR_PAGES + order)


@njit(cache=True, _nrt=False, inline="always")
def _alloc_block(nxt, prv, ord_, isfree, order):
    for o in range(order, MAX_ORDER):
        h = NR_PAGES + o
        if nxt[h] == h:
            continue
        pfn = np.int64(nxt[h])
        _list_del(nxt, prv, pfn)
        isfree[pfn] = 0
        while o > order:
            o -= 1
            half = pfn + (1 << o)
            isfree[half] = 1
            ord_[half] = o
            _list_add(nxt, prv, half, NR_PAGES + o)
        return pfn
    return np.int64(-1)


@njit(cache=True, _nrt=False, inline="always")
def _xorshift(r):
    r ^= r << np.uint64(13)
    r ^= r >> np.uint64(7)
    r ^= r << np.uint64(17)
    return r


@njit(cache=True, _nrt=False, inline="always")
def _draw_order(r):
    u = (r >> np.uint64(11)) * (1.0 / 9007199254740992.0)
    if u < 0.90:
        return 0
    if u < 0.94:
        return 1
    if u < 0.97:
        return 2
    if u < 0.99:
        return 3
    return 4


@njit(cache=True, _nrt=False)
def churn(m, nxt, prv, ord_, isfree, live_pfn, live_ord, ops, target):
    """``m``: [free pages, live blocks, xorshift state], read at entry, written at exit."""
    nr_free, nlive, r = m[0], m[1], np.uint64(m[2])
    for _ in range(ops):
        if nlive == 0 or nr_free > target:
            r = _xorshift(r)
            o = _draw_order(r)
            pfn = _alloc_block(nxt, prv, ord_, isfree, o)
            if pfn >= 0:
                nr_free -= 1 << o
                live_pfn[nlive] = pfn
                live_ord[nlive] = o
                nlive += 1
        else:
            r = _xorshift(r)
            v = np.int64(r % np.uint64(nlive))
            nr_free += 1 << live_ord[v]
            _free_block(nxt, prv, ord_, isfree, live_pfn[v], live_ord[v])
            nlive -= 1
            live_pfn[v] = live_pfn[nlive]
            live_ord[v] = live_ord[nlive]
    m[0], m[1], m[2] = nr_free, nlive, np.int64(r)


def zone():
    """The C program's zone after its fill to 75 %: ``(m, arrays, target)``, as
    :func:`ns_per_op` takes it."""
    nxt = np.arange(NR_PAGES + MAX_ORDER, dtype=np.int32)
    prv = nxt.copy()
    ord_ = np.zeros(NR_PAGES, dtype=np.int8)
    isfree = np.zeros(NR_PAGES, dtype=np.uint8)
    live_pfn = np.zeros(NR_PAGES, dtype=np.int64)
    live_ord = np.zeros(NR_PAGES, dtype=np.int64)
    m = np.array([0, 0, np.int64(_SEED)], dtype=np.int64)
    for pfn in range(0, NR_PAGES, 1 << (MAX_ORDER - 1)):
        _free_block(nxt, prv, ord_, isfree, pfn, MAX_ORDER - 1)
    m[0] = NR_PAGES
    arrays = (nxt, prv, ord_, isfree, live_pfn, live_ord)
    target = NR_PAGES // 4
    churn(m, *arrays, NR_PAGES, target)
    return m, arrays, target


def ns_per_op(state, ops: int) -> float:
    """Run ``ops`` churn operations on ``state`` (from :func:`zone`); ns per operation."""
    m, arrays, target = state
    t0 = time.perf_counter()
    churn(m, *arrays, ops, target)
    return (time.perf_counter() - t0) * 1e9 / ops
