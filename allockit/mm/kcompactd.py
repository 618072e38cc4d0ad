"""kcompactd's proactive compaction (Linux v5.9 mm/compaction.c ``kcompactd``), and the run of
the machine between the calling task's steps.

kcompactd sleeps ``HPAGE_FRAG_CHECK_INTERVAL_MSEC`` (500 ms) at a time. At each timeout
(``should_proactive_compact_node``), if ``vm.compaction_proactiveness`` is set, kswapd is not
running and the fragmentation score (the share of free memory in blocks below
``COMPACTION_HPAGE_ORDER``) is above its high watermark, it compacts the whole zone at
``MIGRATE_SYNC_LIGHT`` (``proactive_compact_node``) until the score falls to its low
watermark, kswapd wakes or the scanners meet. A run that did not lower the score defers the
next ``1 << COMPACT_MAX_DEFER_SHIFT`` timeouts that would compact.

How it runs here: ``run_machine`` advances the machine to a time, running the background
(workload operations and kswapd, ``run_background``) up to each of kcompactd's timeouts and
kcompactd's work at it. kcompactd works on a CPU of its own: its work costs no task's clock
and happens at the timeout, the background catching up afterwards. Not modelled
(docs/model.md#not-yet-modelled): kcompactd during a measured call (the simulator's call
graph has no recursion, and compaction's own yield points run the background, so kcompactd
runs only between the calling task's steps: warm-up and the start condition); kcompactd woken
for an order (``wakeup_kcompactd`` after kswapd balanced for an order > 0: the workloads
allocate order-0 pages only); kcompactd sleeping on a page lock (it migrates as direct
compaction does, without waiting).
"""

import numpy as np

from .background import run_background
from .compaction import (
    CC_PROACTIVE,
    COMPACT_MAX_DEFER_SHIFT,
    compact_zone,
    fragmentation_score_wmark,
    fragmentation_score_zone,
)
from .constants import GFP_KERNEL, HPAGE_FRAG_CHECK_INTERVAL_NS, MIGRATE_SYNC_LIGHT
from .jit import mm_jit
from .state import (
    Z_COMPACTION_PROACTIVENESS,
    Z_IN_BG,
    Z_KCOMPACTD_NEXT,
    Z_KSWAPD_ACTIVE,
    Z_PROACTIVE_DEFER,
)
from .vmstat import SIM_PROACTIVE_COMPACT

KCOMPACTD_CPU = 0  # the CPU whose pcp lists take the pages kcompactd frees


@mm_jit
def should_proactive_compact_node(s):
    """``should_proactive_compact_node`` (v5.9)."""
    if s.zone[Z_COMPACTION_PROACTIVENESS] == 0 or s.zone[Z_KSWAPD_ACTIVE] != 0:
        return False
    return fragmentation_score_zone(s) > fragmentation_score_wmark(s, False)


@mm_jit
def proactive_compact_node(s):
    """``proactive_compact_node`` (v5.9): order -1, ``MIGRATE_SYNC_LIGHT``, whole zone,
    skip bits ignored, ``GFP_KERNEL``."""
    s.zone[SIM_PROACTIVE_COMPACT] += 1
    compact_zone(s, KCOMPACTD_CPU, -1, GFP_KERNEL, MIGRATE_SYNC_LIGHT, 0, CC_PROACTIVE)


@mm_jit
def kcompactd_timeout(s):
    """kcompactd's loop body after its wait timed out (v5.9 ``kcompactd``)."""
    if not should_proactive_compact_node(s):
        return
    if s.zone[Z_PROACTIVE_DEFER] > 0:
        s.zone[Z_PROACTIVE_DEFER] -= 1
        return
    prev_score = fragmentation_score_zone(s)
    s.zone[Z_IN_BG] = 1  # another CPU's work: it charges no task's clock
    proactive_compact_node(s)
    s.zone[Z_IN_BG] = 0
    score = fragmentation_score_zone(s)
    s.zone[Z_PROACTIVE_DEFER] = 0 if score < prev_score else np.int64(1) << COMPACT_MAX_DEFER_SHIFT


@mm_jit
def run_machine(s, t):
    """Let the machine run up to ``t`` (ns): the background up to each of kcompactd's
    timeouts, kcompactd's work at it, then the background up to ``t``."""
    while s.zone[Z_KCOMPACTD_NEXT] <= t:
        tick = s.zone[Z_KCOMPACTD_NEXT]
        run_background(s, tick)
        kcompactd_timeout(s)
        s.zone[Z_KCOMPACTD_NEXT] = tick + HPAGE_FRAG_CHECK_INTERVAL_NS
    run_background(s, t)
