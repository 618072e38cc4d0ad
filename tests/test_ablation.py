"""Ablation switches: each provably removes its mechanism, and nothing else.

Every test below also runs the same thing with the switch off and sees the mechanism at work,
so it fails if the switch were ignored.
"""

import numpy as np
import pytest
from conftest import populated

from allockit.experiment.ablation import MECHANISMS, check_ablate, zone_mask
from allockit.experiment.trial import TrialSpec, check_spec, warm_machine
from allockit.mm import api
from allockit.mm.background import EV_ALLOC, EV_LOCK, EV_PIN, EV_WRITEBACK
from allockit.mm.config import ConfigError
from allockit.mm.constants import (
    ___GFP_RETRY_MAYFAIL,
    GFP_HIGHUSER_MOVABLE,
    REF_GUP,
    REF_JOURNAL,
    PG_lru,
    PG_pagevec,
)
from allockit.mm.pagestate import lru_cache_add
from allockit.mm.state import Z_ABLATE, Z_KSWAPD_ACTIVE
from allockit.mm.vmscan import wakeup_kswapd_reclaim
from allockit.workload.kbuild import generate_kbuild, load_kbuild_params

WORK = dict(jobs=2, anon_pages_per_s_per_job=2000, kernel_pages_per_s_per_job=200,
            metadata_journal_per_s_per_job=50.0)


def build(ablate=frozenset(), seed=3):
    p = load_kbuild_params(**WORK)
    return generate_kbuild(p, 16384, 2, 40.0, np.random.default_rng(seed), frozenset(ablate))


def _count(ev, kind, order=None):
    sel = ev["kind"] == kind
    if order is not None:
        sel &= ev["order"] == order
    return int(sel.sum())


@pytest.mark.parametrize(
    "name, kind, order",
    [("journal", EV_PIN, REF_JOURNAL), ("gup_pins", EV_PIN, REF_GUP),
     ("read_locks", EV_LOCK, None), ("writeback", EV_WRITEBACK, None)],
)
def test_a_workload_switch_drops_its_events_and_only_them(name, kind, order):
    full, cut = build().events, build({name}).events
    assert _count(full, kind, order) > 0
    assert _count(cut, kind, order) == 0
    # everything else is the same stream, event for event
    keep = ~((full["kind"] == kind) & ((full["order"] == order) if order is not None else True))
    assert (full[keep] == cut).all()


def test_journal_created_switch_picks_existing_pages_only():
    def created(ev):
        allocs = ev[ev["kind"] == EV_ALLOC]
        born = dict(zip(allocs["obj"].tolist(), allocs["time"].tolist(), strict=True))
        pins = ev[(ev["kind"] == EV_PIN) & (ev["order"] == REF_JOURNAL)]
        return sum(born.get(o) == t - 4 for o, t in zip(pins["obj"].tolist(),
                                                        pins["time"].tolist(), strict=True))

    assert created(build().events) > 0
    cut = build({"journal_created"}).events
    assert created(cut) == 0 and _count(cut, EV_PIN, REF_JOURNAL) > 0


def test_journal_hot_switch_gives_the_hot_core_back_to_the_journal_stream():
    p = load_kbuild_params(**WORK)

    def journal(ablate, **over):
        q = dict(p, **over)
        ev = generate_kbuild(q, 65536, 2, 40.0, np.random.default_rng(3), frozenset(ablate)).events
        return ev[(ev["kind"] == EV_PIN) & (ev["order"] == REF_JOURNAL)]

    # the hot core alone (no journal stream): its blocks, and nothing once switched off
    assert len(np.unique(journal((), metadata_journal_per_s_per_job=0.0)["obj"])) == 28
    assert len(journal({"journal_hot"}, metadata_journal_per_s_per_job=0.0)) == 0
    # an idle machine (no build) modifies no metadata: nothing is journaled at all
    assert len(journal((), jobs=0)) == 0
    # switched off, the stream journals at the full rate, as a model without a hot core did
    full = journal((), metadata_hot_blocks=0, metadata_hot_fraction=0.0)
    assert (journal({"journal_hot"}) == full).all()


def test_pagevec_switch_puts_pages_straight_on_the_lru(small):
    def add(s, pfn):
        s.page[pfn]["flags"] = 0
        lru_cache_add(s, 0, pfn)
        return int(s.page[pfn]["flags"])

    assert add(small, 100) & PG_pagevec and not add(small, 101) & PG_lru
    small.zone[Z_ABLATE] = zone_mask(frozenset({"pagevec"}))
    f = add(small, 102)
    assert f & PG_lru and not f & PG_pagevec


def test_kswapd_switch_keeps_kswapd_asleep(small):
    wakeup_kswapd_reclaim(small)
    assert small.zone[Z_KSWAPD_ACTIVE] != 0
    small.zone[Z_KSWAPD_ACTIVE] = 0
    small.zone[Z_ABLATE] = zone_mask(frozenset({"kswapd"}))
    wakeup_kswapd_reclaim(small)
    assert small.zone[Z_KSWAPD_ACTIVE] == 0


def test_compaction_switch_skips_direct_compaction():
    from test_compaction import fragmented

    gfp = GFP_HIGHUSER_MOVABLE | ___GFP_RETRY_MAYFAIL
    r = api.alloc_pages_timed(fragmented(every=2), gfp, 9)
    assert r.counters["compact_stall"] >= 1
    s = fragmented(every=2)
    s.zone[Z_ABLATE] = zone_mask(frozenset({"compaction"}))
    r = api.alloc_pages_timed(s, gfp, 9)
    assert r.counters.get("compact_stall", 0) == 0 and "compact" not in r.breakdown_ns


def test_trial_ablation_reaches_the_machine():
    """End to end: a spec's ``ablate`` removes the journal holds from the warm machine and
    sets the kernel switches."""
    sp = TrialSpec(machine=dict(ram="64M", cma_size="16M", nr_cpus=2, kernel_reserved=0),
                   workload=dict(WORK, metadata_movable_fraction=1.0,
                                 metadata_journal_per_s_per_job=400.0),
                   order=4, nr_elem=64, strategies={"cma_chunked": {}}, horizon_s=2.0)

    def journal_held(spec):
        _, s, _ = warm_machine(spec, np.random.SeedSequence(5))
        now = int(s.clock) // 1000
        held = (s.page["t_ref"].astype(np.int64) > now) & (s.page["refkind"] == REF_JOURNAL)
        return int(held.sum()), int(s.zone[Z_ABLATE])

    assert journal_held(sp)[0] > 0
    sp.ablate = ["journal", "kswapd"]
    check_spec(sp)
    held, mask = journal_held(sp)
    assert held == 0 and mask == zone_mask(frozenset({"kswapd"}))


@pytest.mark.parametrize(
    "ablate, match",
    [
        (["bogus"], "ablate: 'bogus' is not a mechanism; allowed: journal, journal_created"),
        (["thp"], "ablate: 'thp': the 5.9 model has no transparent huge pages to switch off"),
        ("journal", "ablate: 'journal'; allowed: a list of mechanism names"),
    ],
)
def test_bad_ablations(ablate, match):
    with pytest.raises(ConfigError, match=match):
        check_ablate(ablate, "5.9", True)


def test_workload_switches_need_the_synthetic_build():
    with pytest.raises(ConfigError, match="'gup_pins' is a mechanism of the synthetic build"):
        check_ablate(["gup_pins"], "5.9", False)
    assert check_ablate(["kswapd"], "5.9", False) == {"kswapd"}
    assert set(MECHANISMS) >= {"journal", "pagevec", "kswapd", "compaction"}


def test_a_populated_machine_is_unaffected_by_default():
    assert int(populated().zone[Z_ABLATE]) == 0
