"""The lab's experiment table (allockit/lab/experiments.py): its simulator side is
params/seed.yaml and its module commands follow seed.yaml's parameters."""

from __future__ import annotations

import pytest
import yaml

from allockit.experiment.spec import load
from allockit.lab import experiments as X
from allockit.lab.experiments import EXPERIMENTS
from allockit.paths import LAB_DIR, PARAMS_DIR

# seed.yaml read through the experiment-spec loader (not the lab's own reader)
SEED = load(PARAMS_DIR / "seed.yaml").base["strategies"]
# the module's argument for each simulator parameter, written out here from allockit_lab.c
GFP_WORD = {"GFP_KERNEL": "kernel", "GFP_HIGHUSER_MOVABLE|__GFP_RETRY_MAYFAIL": "movable"}


def _named(label: str, params: dict) -> dict:
    return {"strategy": params.get("strategy", label), **params}


def _expected_args(sim: dict) -> list[str]:
    name = sim["strategy"]
    if name == "cma_single":
        return [str(sim["align"])]
    if name == "cma_chunked":
        return [str(sim["chunk_order"])]
    if name == "buddy_compaction":
        return [GFP_WORD[sim["gfp"]]]
    return []


def test_sim_side_is_seed_yaml():
    runnable = {"cma_single", "cma_chunked", "cma_many", "buddy_compaction"}
    seed_labels = [k for k, v in SEED.items() if _named(k, v)["strategy"] in runnable]
    assert [k for k in EXPERIMENTS if k in SEED] == seed_labels  # all of them, seed's order
    for label, e in EXPERIMENTS.items():
        if label in SEED:
            assert e.sim == _named(label, SEED[label]), label
        else:  # a lab-only variant: its base's parameters with its changes
            v = X.VARIANTS[label]
            assert e.sim == {**_named(v.base, SEED[v.base]), **v.changes}, label
    assert EXPERIMENTS["cma_single_a0"].sim["align"] == 0
    # the variant runs just before its base, as the guest's experiment order always had it
    labels = list(EXPERIMENTS)
    assert labels.index("cma_single_a0") + 1 == labels.index("cma_single")


def test_module_command_is_made_of_the_seed_parameters():
    module = (LAB_DIR / "module" / "allockit_lab.c").read_text()
    for label, e in EXPERIMENTS.items():
        word, order, nr, *args = e.cmd.split()
        assert (order, nr) == ("{order}", "{nr}"), label
        assert f'"{word}"' in module, label  # a command the module parses
        assert args == _expected_args(e.sim), label
    for w in GFP_WORD.values():
        assert f'"{w}"' in module


def test_module_command_follows_a_changed_seed_yaml(tmp_path):
    """Change every parameter the module takes in a copy of seed.yaml: every command follows
    (a table that restated the commands would keep the old values)."""
    raw = yaml.safe_load((PARAMS_DIR / "seed.yaml").read_text())
    st = raw["strategies"]
    st["cma_single"]["align"] = 6
    st["cma_chunked"]["chunk_order"] = 8
    st["cma_chunked_o9"]["chunk_order"] = 7
    st["buddy_compaction"]["gfp"] = "GFP_HIGHUSER_MOVABLE|__GFP_RETRY_MAYFAIL"
    st["buddy_compaction_movable"]["gfp"] = "GFP_KERNEL"
    path = tmp_path / "seed.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    exps = X.load_experiments(path)
    assert {k: e.cmd for k, e in exps.items()} == {
        "cma_single_a0": "cma_single {order} {nr} 0",  # the variant's own change stays
        "cma_single": "cma_single {order} {nr} 6",
        "cma_chunked": "cma_chunked {order} {nr} 8",
        "cma_chunked_o9": "cma_chunked {order} {nr} 7",
        "cma_many": "cma_many {order} {nr}",
        "buddy_compaction": "buddy {order} {nr} movable",
        "buddy_compaction_movable": "buddy {order} {nr} kernel",
    }
    assert exps["cma_single"].sim == {"strategy": "cma_single", "align": 6}
    assert "align 6" in exps["cma_single"].doc and "1 MiB chunks" in exps["cma_chunked"].doc


def test_parameters_the_module_cannot_take_are_refused():
    def table(**cma_single):
        return X.experiments_from({"cma_single": {"strategy": "cma_single", **cma_single}})

    assert table(align=8)["cma_single"].cmd == "cma_single {order} {nr} 8"
    with pytest.raises(ValueError, match="cma_single: max_tries: the lab module has no such"):
        table(align=8, max_tries=3)
    # a parameter left out takes the strategy's declared default, on both sides
    from allockit.strategies import cma_single

    assert table()["cma_single"].sim == {"strategy": "cma_single", "align": 8}
    default = cma_single.PARAMS["align"][0]
    assert table()["cma_single"].cmd == f"cma_single {{order}} {{nr}} {default}"
    with pytest.raises(ValueError, match="gfp: 'GFP_ATOMIC'"):
        X.experiments_from({"b": {"strategy": "buddy_compaction", "gfp": "GFP_ATOMIC"}})
    with pytest.raises(ValueError, match="lab variant cma_single_a0: base 'cma_single'"):
        X.experiments_from({"cma_many": {"strategy": "cma_many"}})
    # strategies the stock kernels lack are not lab experiments
    assert X.experiments_from({"alloc_pages_bulk": {"strategy": "alloc_pages_bulk"}},
                              variants={}) == {}  # fmt: skip


def test_every_experiment_maps_to_a_simulator_strategy():
    from allockit.strategies import STRATEGIES, check

    for label, e in EXPERIMENTS.items():
        params = dict(e.sim)
        name = params.pop("strategy")
        assert name in STRATEGIES, label
        check(name, 4, 4800, params, 128000)  # the seed's request on a 500 MiB area


def test_recorded_guest_ran_the_commands_the_table_makes():
    """The 5.10 idle test boot (tests/fixtures/lab/) ran every experiment; each result line
    echoes the command the module ran, which must be the one the table makes today."""
    from pathlib import Path

    from allockit.lab.guest import parse_console

    fix = Path(__file__).resolve().parent / "fixtures" / "lab" / "5.10-idle.console.log"
    results = parse_console(fix.read_text()).events["result"]
    assert {r["label"] for r in results} == set(EXPERIMENTS)
    for r in results:
        ran = " ".join(str(x) for x in (r["exp"], r["order"], r["nr"], r["param"]) if x != "-")
        assert ran == EXPERIMENTS[r["label"]].cmd.format(order=r["order"], nr=r["nr"]), r["label"]
