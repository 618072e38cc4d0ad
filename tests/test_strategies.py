"""Strategies, the synthetic kernel build, paired trials and the CLI, on a small machine."""

import json

import numpy as np
import pytest

from allockit.cli import main as cli
from allockit.experiment.trial import TrialSpec, check_spec, run_trial, warm_machine
from allockit.mm.background import EV_ACCESS, EV_ALLOC, EV_DIRTY, EV_PIN, PK_KERNEL
from allockit.mm.config import ConfigError
from allockit.mm.constants import REF_JOURNAL
from allockit.mm.introspect import free_mask
from allockit.mm.invariants import check_invariants
from allockit.mm.owners import OWNER_CONTIG
from allockit.strategies import STRATEGIES, Request, get, release
from allockit.workload.kbuild import generate_kbuild, load_kbuild_params

SMALL = dict(ram="64M", cma_size="16M", nr_cpus=2, kernel_reserved=0)
WORK = dict(jobs=2, anon_pages_per_s_per_job=2000, kernel_pages_per_s_per_job=200)


def spec(**strategies):
    return TrialSpec(
        machine=SMALL, workload=WORK, order=4, nr_elem=64, strategies=strategies, horizon_s=2.0
    )


def test_kbuild_events_are_sorted_and_reference_known_objects():
    p = load_kbuild_params(**WORK)
    kb = generate_kbuild(p, 16384, 2, 1.0, np.random.default_rng(0))
    t = kb.events["time"]
    assert (np.diff(t) >= 0).all()
    assert kb.events["obj"].max() < kb.nr_objects
    assert kb.t_start < kb.t_end and kb.busy_cpus == 2
    # the same seed gives the same events, another seed others
    kb2 = generate_kbuild(p, 16384, 2, 1.0, np.random.default_rng(0))
    assert (kb.events == kb2.events).all()
    kb3 = generate_kbuild(p, 16384, 2, 1.0, np.random.default_rng(1))
    assert len(kb3.events) != len(kb.events) or (kb3.events != kb.events).any()


def test_journaled_metadata_is_held_until_written_back_and_committed():
    """jbd2's journal_head keeps b_count up from the write access until the flusher wrote the
    page back (dirty expiry, flusher tick, device latency) plus at most one commit interval."""
    # the journal stream alone (the hot core has its own test)
    p = load_kbuild_params(**WORK, metadata_journal_per_s_per_job=50.0, metadata_hot_blocks=0,
                           metadata_hot_fraction=0.0)
    kb = generate_kbuild(p, 16384, 2, 40.0, np.random.default_rng(3))
    ev = kb.events
    pins = ev[(ev["kind"] == EV_PIN) & (ev["order"] == REF_JOURNAL)]
    t_end_s = kb.t_end / 1e9
    share = p["metadata_movable_fraction"]
    expected = p["metadata_journal_per_s_per_job"] * p["jobs"] * share * t_end_s
    assert abs(len(pins) - expected) < 5 * np.sqrt(expected)
    hold_s = pins["arg"] / 1e6
    lo = p["dirty_expire_s"]
    hi = lo + p["flusher_interval_s"] + 2 * p["commit_interval_s"] + p["storage_latency_ms"] / 1e3
    assert hold_s.min() >= lo and hold_s.max() <= hi + 1e-6
    # a journaled page is an allocated metadata page, and it becomes dirty at its commit
    allocs = ev[ev["kind"] == EV_ALLOC]
    born = dict(zip(allocs["obj"].tolist(), allocs["time"].tolist(), strict=True))
    pinned_at = zip(pins["obj"].tolist(), pins["time"].tolist(), strict=True)
    assert all(born[o] < t for o, t in pinned_at)
    assert set(pins["obj"].tolist()) <= set(ev[ev["kind"] == EV_DIRTY]["obj"].tolist())
    # a third of the journal events create their block: a page allocated just before
    pinned_at = zip(pins["obj"].tolist(), pins["time"].tolist(), strict=True)
    created = sum(born[o] == t - 4 for o, t in pinned_at)
    share = p["metadata_journal_new_fraction"]
    assert abs(created / len(pins) - share) < 5 * np.sqrt(share * (1 - share) / len(pins))
    # without movable metadata nothing is journaled where it could block
    none = generate_kbuild(
        load_kbuild_params(**WORK, metadata_movable_fraction=0.0), 16384, 2, 40.0,
        np.random.default_rng(3))  # fmt: skip
    assert not (none.events["kind"] == EV_PIN)[none.events["order"] == REF_JOURNAL].any()


def test_hot_metadata_is_journaled_again_every_writeback_cycle():
    """The hot core (bitmaps, inode-table and directory blocks): the same few pages, each
    journaled again a gap after the flusher wrote it back, so each holds a journal_head
    almost all the time; the journal stream carries the rest of the journaled blocks."""
    p = load_kbuild_params(**WORK, metadata_journal_per_s_per_job=0.0)
    kb = generate_kbuild(p, 65536, 2, 300.0, np.random.default_rng(4))
    ev = kb.events
    pins = ev[(ev["kind"] == EV_PIN) & (ev["order"] == REF_JOURNAL)]
    hot = np.unique(pins["obj"])
    assert len(hot) == p["metadata_hot_blocks"] == 28
    t_end = kb.t_end / 1e9
    gaps, held = [], []
    dirty = ev[ev["kind"] == EV_DIRTY]
    for obj in hot:
        mine = pins[pins["obj"] == obj]
        start = mine["time"] / 1e9
        end = start + mine["arg"] / 1e6
        commits = np.sort(dirty[dirty["obj"] == obj]["time"] / 1e9)
        assert len(commits) == len(mine) and (commits > start).all()
        # the next write access comes after the flusher wrote the last commit back
        written = np.ceil((commits[:-1] + p["dirty_expire_s"]) / p["flusher_interval_s"]) \
            * p["flusher_interval_s"]
        assert (start[1:] >= written - 1e-6).all()
        gaps += list(start[1:] - written)
        covered = np.minimum(end, t_end) - start
        held.append(covered.sum() / (t_end - start[0]))
    assert 2.5 < np.median(gaps) < 6.0  # metadata_rejournal_s, 4 s
    assert np.median(held) > 0.8  # held almost all the time
    # every write access looks the block up first (mark_page_accessed)
    access = ev[ev["kind"] == EV_ACCESS]
    looked_up = set(zip(access["obj"].tolist(), (access["time"] + 1).tolist(), strict=True))
    assert all((o, t) in looked_up for o, t in zip(pins["obj"].tolist(), pins["time"].tolist(),
                                                   strict=True))
    # the hot core's share of the journaled blocks leaves the journal stream
    stream = load_kbuild_params(**WORK, metadata_journal_per_s_per_job=50.0, metadata_hot_blocks=0)
    flat = dict(stream, metadata_hot_fraction=0.0)

    def stream_pins(q):
        e = generate_kbuild(q, 65536, 2, 300.0, np.random.default_rng(4)).events
        return ((e["kind"] == EV_PIN) & (e["order"] == REF_JOURNAL)).sum()

    ratio = stream_pins(stream) / stream_pins(flat)
    assert abs(ratio - (1 - p["metadata_hot_fraction"])) < 0.05


def test_journaled_metadata_in_cma_makes_cma_alloc_slide():
    """A machine whose CMA area holds journaled metadata: every window over such a page fails
    with -EBUSY (the page returns -EAGAIN on all 5 x 10 passes) and cma_alloc moves on."""
    sp = spec(cma_chunked={"chunk_order": 9})
    sp.workload = dict(WORK, metadata_movable_fraction=1.0, metadata_journal_per_s_per_job=400.0)
    cfg, s, _ = warm_machine(sp, np.random.SeedSequence(5))
    now = int(s.clock) // 1000
    cma = slice(cfg.cma_base_pfn, cfg.cma_base_pfn + cfg.cma_size)
    held = (s.page["t_ref"][cma].astype(np.int64) > now) & (s.page["refkind"][cma] == REF_JOURNAL)
    assert held.any()
    r = get("cma_chunked")(s, Request(order=4, nr_elem=64, params={"chunk_order": 9}))
    assert r.counters["sim_cma_alloc_retry"] > 0
    assert r.counters["sim_migrate_eagain"] >= 50
    check_invariants(s)


def test_warm_machine_has_the_workload_population():
    cfg, s, kb = warm_machine(spec(cma_single={}), np.random.SeedSequence(0))
    check_invariants(s)
    assert s.clock == kb.t_start
    f = s.flags
    assert np.count_nonzero(f & 0x40) > 0  # anonymous pages of running jobs
    assert np.count_nonzero(s.owner[cfg.cma_base_pfn : cfg.cma_base_pfn + cfg.cma_size] >= 0) > 0


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_every_strategy_runs_and_releases(name):
    """What a strategy returns is what it holds: disjoint, aligned pieces covering exactly the
    blocks it got, allocated to it (in the CMA area for the CMA strategies), and no longer its
    own after ``release`` (freed: the workload, running on, may take them again)."""
    cfg, s, kb = warm_machine(spec(**{name: {}}), np.random.SeedSequence(1))
    r = get(name)(s, Request(order=4, nr_elem=64))
    assert 0 <= r.got <= 64
    assert r.latency_ns > 0
    assert sum(r.breakdown_ns.values()) == r.latency_ns
    assert r.success == (r.got == 64)
    assert (r.errno == "0") == r.success, r.errno  # a shortfall names its errno
    held = np.zeros(len(s.owner), dtype=bool)
    for kind, pfn, npages in r.pieces:
        assert kind in ("cma", "contig", "buddy") and pfn % 16 == 0 and npages % 16 == 0
        assert not held[pfn : pfn + npages].any(), "pieces overlap"
        held[pfn : pfn + npages] = True
    assert held.sum() == r.got * 16
    cma = slice(cfg.cma_base_pfn, cfg.cma_base_pfn + cfg.cma_size)
    assert not free_mask(s)[held].any(), "a page the strategy holds is on a free list"
    if STRATEGIES[name].NEEDS_CMA:
        assert held[cma].sum() == held.sum(), "a CMA strategy's pages lie outside the area"
        assert (s.owner[held] == OWNER_CONTIG).all()
    check_invariants(s)
    release(s, r)
    assert not (s.owner[held] == OWNER_CONTIG).any()
    check_invariants(s)


def test_paired_trials_are_deterministic_and_share_the_warm_machine():
    sp = spec(cma_chunked={}, alloc_pages_bulk={})
    a = run_trial(sp, 7, 0, 2)
    b = run_trial(sp, 7, 0, 2)
    strip = lambda rows: [{k: v for k, v in r.items() if "wall" not in k} for r in rows]  # noqa: E731
    assert strip(a) == strip(b)
    # both strategies started from the same machine
    assert a[0]["warm_free_pages"] == a[1]["warm_free_pages"]
    c = run_trial(sp, 7, 1, 2)
    assert strip(c) != strip(a)


@pytest.mark.parametrize(
    "strategies, match",
    [
        ({"bogus": {}}, "strategy: 'bogus' is unknown; allowed: cma_single"),
        (
            {"cma_chunked": {"chunk_order": 3}},
            "chunk_order: 3 is smaller than the requested order 4",
        ),
        ({"cma_single": {"align": 11}}, "align: 11"),
        ({"buddy_compaction": {"gfp": "GFP_NOPE"}}, "gfp: 'GFP_NOPE' is not a gfp flag"),
        ({"cma_single": {"colour": 1}}, "strategy parameter 'colour' is unknown"),
    ],
)
def test_bad_strategy_specs_fail_before_work(strategies, match):
    with pytest.raises(ValueError, match=match):
        check_spec(spec(**strategies))


def test_request_larger_than_cma_fails_before_work():
    sp = spec(cma_single={})
    sp.nr_elem = 10_000
    with pytest.raises(
        ValueError, match=r"nr_elem: 10000 x 2\^4 = 160000 pages is larger than the CMA"
    ):
        check_spec(sp)


def test_bad_workload_parameter():
    with pytest.raises(ConfigError, match="workload.jobs: -1"):
        load_kbuild_params(jobs=-1)
    with pytest.raises(ConfigError, match="workload.metadata_journal_new_fraction: 1.5; allowed"):
        load_kbuild_params(metadata_journal_new_fraction=1.5)
    with pytest.raises(ConfigError, match="workload.bogus: unknown parameter"):
        load_kbuild_params(bogus=1)


def test_cli_run_json_lines(capsys):
    argv = [
        "run", "--strategy", "cma_chunked", "--ram", "64M", "--cma-size", "16M", "--cpus", "2",
        "--order", "4", "--nr-elem", "32", "--intensity", "1", "--trials", "2", "--horizon", "1",
        "--json",
    ]
    rc = cli(argv)
    assert rc == 0
    out = capsys.readouterr().out
    rows = [json.loads(x) for x in out.strip().splitlines()]
    assert [r["trial"] for r in rows] == [0, 1]
    assert all(r["strategy"] == "cma_chunked" and 0 <= r["got"] <= 32 for r in rows)
    assert all(r["latency_ms"] > 0 and r["ram_pages"] == 16384 for r in rows)
    assert rows[0] != rows[1]  # two trials, two workload streams
    # the same command prints the same bytes; another seed other trials
    assert cli(argv) == 0 and capsys.readouterr().out == out
    assert cli([*argv, "--seed", "2"]) == 0 and capsys.readouterr().out != out


def test_cli_bad_input_is_one_clear_line(capsys):
    rc = cli(["run", "--strategy", "nope", "--ram", "64M", "--cma-size", "16M"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "strategy: 'nope' is unknown" in err and "Traceback" not in err
    rc = cli(["run", "--strategy", "cma_single", "--ram", "64M", "--cma-size", "128M"])
    assert rc == 2
    assert "machine.cma_size" in capsys.readouterr().err


def test_cli_run_defaults_are_the_seed_trial(capsys):
    """`allockit run --strategy X` is trial 0 of the seed experiment for X: same numbers."""
    from allockit.experiment import spec as specs

    assert cli(["run", "--strategy", "cma_chunked", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    seed = specs.load(specs.PARAMS_DIR / "seed.yaml")
    ts = seed.trial_spec(seed.points()[0])
    ts.strategies = {"cma_chunked": ts.strategies["cma_chunked"]}
    want = run_trial(ts, seed.seed, 0, seed.trials)[0]
    assert row["latency_ms"] == want["latency_ms"] and row["got"] == want["got"]
    assert row["seed"] == seed.seed


@pytest.mark.parametrize("argv, match", [
    (["--trials", "0"], "--trials: 0; allowed: an integer >= 1"),
    (["--seed", "-1"], "--seed: -1; allowed: an integer >= 0"),
])
def test_cli_run_bad_counts(argv, match, capsys):
    assert cli(["run", "--strategy", "cma_single", *argv]) == 2
    err = capsys.readouterr().err
    assert match in err and len(err.strip().splitlines()) == 1


def stack_allocations(kb, pages):
    """Forks that allocated a stack: ``pages`` order-0 GFP_KERNEL pages at one instant."""
    ev = kb.events
    kern = ev[(ev["kind"] == EV_ALLOC) & (ev["pkind"] == PK_KERNEL)]
    assert (kern["order"] == 0).all()  # no order-2 stacks
    _, counts = np.unique(kern["time"], return_counts=True)
    return int((counts == pages).sum())


def test_kernel_stacks_are_order0_vmalloc_pages_reused_through_the_per_cpu_cache():
    """CONFIG_VMAP_STACK: a stack is 4 order-0 unmovable pages; each CPU keeps two freed
    stacks for its next forks, so after the first fork on each CPU a build's jobs (run back
    to back) allocate no stack."""
    p = load_kbuild_params(**WORK)
    cached = generate_kbuild(p, 16384, 2, 20.0, np.random.default_rng(4))
    assert 1 <= stack_allocations(cached, 4) <= 2
    uncached = generate_kbuild(load_kbuild_params(**WORK, stack_cache_per_cpu=0), 16384, 2,
                               20.0, np.random.default_rng(4))  # fmt: skip
    assert stack_allocations(uncached, 4) > 20  # every fork allocates


def test_existing_journaled_blocks_are_looked_up_first():
    """__getblk -> touch_buffer -> mark_page_accessed before the write access."""
    p = load_kbuild_params(**WORK, metadata_journal_per_s_per_job=50.0)
    ev = generate_kbuild(p, 16384, 2, 40.0, np.random.default_rng(3)).events
    pins = ev[(ev["kind"] == EV_PIN) & (ev["order"] == REF_JOURNAL)]
    looks = ev[ev["kind"] == EV_ACCESS]
    allocs = ev[ev["kind"] == EV_ALLOC]
    born = dict(zip(allocs["obj"].tolist(), allocs["time"].tolist(), strict=True))
    existing = [(o, t) for o, t in zip(pins["obj"].tolist(), pins["time"].tolist(), strict=True)
                if born[o] != t - 4]  # fmt: skip
    assert sorted((o, t - 1) for o, t in existing) == sorted(
        zip(looks["obj"].tolist(), looks["time"].tolist(), strict=True))


def test_cli_run_takes_workload_parameters(capsys):
    """--workload-param sets a build parameter for the run, e.g. the page-cache level it
    starts from; a bad one is one line naming it."""
    # an idle machine (no jobs): the page cache is what the run starts from
    small = ["run", "--strategy", "cma_single", "--ram", "64M", "--cma-size", "16M",
             "--nr-elem", "16", "--horizon", "1", "--jobs", "0", "--json"]  # fmt: skip
    assert cli([*small, "--workload-param", "pagecache_fill=0.05"]) == 0
    low = json.loads(capsys.readouterr().out)
    assert cli([*small, "--workload-param", "pagecache_fill=0.5"]) == 0
    high = json.loads(capsys.readouterr().out)
    assert abs(low["warm_file_pages"] - 0.05 * 16384) < 50
    assert high["warm_file_pages"] > low["warm_file_pages"] + 4000
    for bad, match in (("pagecache_fill=2", "workload.pagecache_fill: 2"),
                       ("bogus=1", "workload.bogus: unknown parameter"),
                       ("pagecache_fill", "--workload-param: 'pagecache_fill'; allowed")):
        assert cli([*small, "--workload-param", bad]) == 2
        err = capsys.readouterr().err
        assert match in err and len(err.strip().splitlines()) == 1, err
