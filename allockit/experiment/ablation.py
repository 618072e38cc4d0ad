"""Ablations: switch one mechanism off and see which conclusions still hold.

A spec's ``ablate`` lists mechanisms to switch off for every trial of a point: the synthetic
build's (``workload.kbuild.MECHANISMS``: journaled metadata, created metadata blocks, the
hot core of journaled metadata, GUP pins, read locks, writeback), whose events are dropped
after generation so the rest of the random stream is unchanged (the two metadata switches
change how journal events are placed instead), and the simulated kernel's
(``MM_MECHANISMS``: LRU-add pagevecs, kswapd, direct compaction), set as bits of the state.
``params/sweep-mechanisms.yaml`` runs the seed with each switched off in turn.
"""

from __future__ import annotations

from typing import Any

from ..mm.config import ConfigError
from ..mm.constants import ABLATE_COMPACTION, ABLATE_KSWAPD, ABLATE_PAGEVEC
from ..workload.kbuild import MECHANISMS as WORKLOAD_MECHANISMS

MM_MECHANISMS = {
    "pagevec": (ABLATE_PAGEVEC, "LRU-add pagevecs: a new page off the LRU, with an extra "
                "reference, until its pagevec is drained"),
    "kswapd": (ABLATE_KSWAPD, "kswapd's reclaim between the low and high watermarks"),
    "compaction": (ABLATE_COMPACTION, "direct compaction in the order-k slow path"),
}
# Mechanisms a reader may ask about that no kernel model of the kit has yet.
NOT_MODELLED = {
    "thp": "transparent huge pages",
    "kcompactd": "kcompactd (background compaction)",
    "proactive_compaction": "proactive compaction (vm.compaction_proactiveness)",
    "fork_refs": "extra references while fork copies or exit zaps page tables",
}
MECHANISMS = (*WORKLOAD_MECHANISMS, *MM_MECHANISMS)


def check_ablate(ablate: Any, kernel: str, synthetic_workload: bool) -> frozenset[str]:
    """The validated set of mechanisms to switch off; ``ConfigError`` naming the value and
    what is allowed otherwise."""
    if not isinstance(ablate, (list, tuple)) or not all(isinstance(a, str) for a in ablate):
        raise ConfigError(f"ablate: {ablate!r}; allowed: a list of mechanism names "
                          f"({', '.join(MECHANISMS)})")
    for name in ablate:
        if name in NOT_MODELLED:
            raise ConfigError(
                f"ablate: {name!r}: the {kernel} model has no {NOT_MODELLED[name]} to switch "
                f"off; allowed: {', '.join(MECHANISMS)}")
        if name not in MECHANISMS:
            raise ConfigError(f"ablate: {name!r} is not a mechanism; allowed: "
                              + ", ".join(MECHANISMS))
        if name in WORKLOAD_MECHANISMS and not synthetic_workload:
            raise ConfigError(f"ablate: {name!r} is a mechanism of the synthetic build; a "
                              "replayed trace has no such events; allowed: "
                              + ", ".join(MM_MECHANISMS))
    return frozenset(ablate)


def workload_part(ablate: frozenset[str]) -> frozenset[str]:
    """The mechanisms the workload generator drops."""
    return frozenset(a for a in ablate if a in WORKLOAD_MECHANISMS)


def zone_mask(ablate: frozenset[str]) -> int:
    """The ``Z_ABLATE`` bits of the simulated kernel's mechanisms switched off."""
    mask = 0
    for a in ablate:
        if a in MM_MECHANISMS:
            mask |= MM_MECHANISMS[a][0]
    return mask
