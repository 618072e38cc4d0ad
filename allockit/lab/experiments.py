"""The lab's experiment table: the simulator strategies the measuring module can run, and how.

The simulator side of an experiment (``sim``) is the strategy entry of ``params/seed.yaml`` under
the same label, read from that file, not restated here. The module side (``cmd``, the command
written to ``lab/module/allockit_lab.c``) is generated from the same parameters through
:data:`MODULE_COMMANDS`, so the two cannot disagree: change ``align`` of ``cma_single`` in
seed.yaml and the module is asked for that alignment too.

Every seed strategy whose strategy the module implements is an experiment, in seed.yaml's
order (strategies the stock 5.10 and 6.1 kernels lack, such as ``alloc_pages_bulk``, are left
out). A lab-only variant (:data:`VARIANTS`) names the seed label it starts from and the
parameters it changes, and comes just before that label.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..mm.constants import PAGE_SIZE
from ..paths import PARAMS_DIR
from ..strategies import module as strategy_module

SEED_FILE = PARAMS_DIR / "seed.yaml"


@dataclass(frozen=True)
class Experiment:
    """One strategy as the module runs it (``cmd``, a format string with ``{order}`` and
    ``{nr}``) and as the simulator runs it (``sim``: the strategy entry of a seed-style spec,
    with its ``strategy`` named)."""

    cmd: str
    sim: dict[str, Any]
    doc: str


@dataclass(frozen=True)
class Variant:
    """A lab-only experiment: the seed label it starts from, the parameters it changes."""

    base: str
    changes: dict[str, Any]
    note: str


# Simulator strategy -> the module's command word and the strategy parameters its arguments
# take, in order (after ORDER and NR; see the command list at the top of allockit_lab.c).
MODULE_COMMANDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "cma_single": ("cma_single", ("align",)),
    "cma_chunked": ("cma_chunked", ("chunk_order",)),
    "cma_many": ("cma_many", ()),
    "buddy_compaction": ("buddy", ("gfp",)),
}
# The gfp masks the module's ``buddy`` command knows, and the word that names each.
MODULE_GFP = {"GFP_KERNEL": "kernel", "GFP_HIGHUSER_MOVABLE|__GFP_RETRY_MAYFAIL": "movable"}

VARIANTS: dict[str, Variant] = {
    "cma_single_a0": Variant("cma_single", {"align": 0}, "the CMA debugfs 'alloc' path"),
}
# Where a seed strategy's parameters come from in the kernel (for ``doc`` only).
NOTES = {
    "cma_single": "dma_alloc_contiguous, CMA_ALIGNMENT",
    "cma_chunked": "David Hildenbrand's suggestion",
    "cma_chunked_o9": "the chunk size the Pixel 6 heap shipped",
}


def _size(pages: int) -> str:
    nbytes = pages * PAGE_SIZE
    return f"{nbytes >> 20} MiB" if nbytes >= 1 << 20 else f"{nbytes >> 10} KiB"


def module_command(where: str, sim: dict[str, Any]) -> str:
    """The module's command for the simulator strategy entry ``sim`` (``strategy`` named), as a
    format string with ``{order}`` and ``{nr}``; a ValueError starting with ``where`` when the
    module cannot run it as the simulator would (a parameter it has no argument for, or one it
    needs that the strategy does not declare). A parameter ``sim`` leaves out takes the default
    the strategy declares (its ``PARAMS``), as the simulator's run does."""
    word, args = MODULE_COMMANDS[sim["strategy"]]
    declared = strategy_module(sim["strategy"]).PARAMS
    extra = sorted(set(sim) - {"strategy"} - set(args))
    if extra:
        raise ValueError(
            f"{where}: {extra[0]}: the lab module has no such argument; allowed for "
            f"{sim['strategy']}: {', '.join(args) or 'no parameters'}"
        )
    values = []
    for a in args:
        if a not in sim and a not in declared:
            raise ValueError(f"{where}: {a} is not given and {sim['strategy']} has no default")
        v = sim[a] if a in sim else declared[a][0]
        if a == "gfp":
            if v not in MODULE_GFP:
                raise ValueError(
                    f"{where}: gfp: {v!r}; the lab module knows: {', '.join(MODULE_GFP)}"
                )
            values.append(MODULE_GFP[v])
        else:
            if isinstance(v, bool) or not isinstance(v, int):
                raise ValueError(f"{where}: {a}: {v!r}; allowed: an integer")
            values.append(str(v))
    return " ".join([word, "{order}", "{nr}", *values])


def _with_defaults(sim: dict[str, Any]) -> dict[str, Any]:
    """``sim`` with the module's arguments it leaves out set to the strategy's declared
    defaults (what the simulator runs with), so that both sides name the same values."""
    declared = strategy_module(sim["strategy"]).PARAMS
    args = MODULE_COMMANDS[sim["strategy"]][1]
    return {**{a: declared[a][0] for a in args if a in declared and a not in sim}, **sim}


def _doc(sim: dict[str, Any], note: str | None) -> str:
    name = sim["strategy"]
    if name == "cma_single":
        text = f"one cma_alloc of the whole size, align {sim['align']}"
    elif name == "cma_chunked":
        c = sim["chunk_order"]
        text = f"cma_alloc of {_size(1 << c)} chunks, align {c}, split"
    elif name == "cma_many":
        text = "nr separate cma_alloc(2^order, align order) calls"
    else:
        text = f"nr alloc_pages({sim['gfp']}, order), stop at the first failure"
    return f"{text} ({note})" if note else text


def seed_strategies(path: Path = SEED_FILE) -> dict[str, dict[str, Any]]:
    """The ``strategies`` of a seed-style spec, label -> parameters with ``strategy`` named
    (the label, where the entry does not name another)."""
    raw = yaml.safe_load(Path(path).read_text())
    strategies = raw.get("strategies") if isinstance(raw, dict) else None
    if not isinstance(strategies, dict):
        raise ValueError(f"{path}: strategies: missing; allowed: a mapping label -> parameters")
    out = {}
    for label, params in strategies.items():
        params = dict(params or {})
        out[str(label)] = {"strategy": params.pop("strategy", label), **params}
    return out


def experiments_from(
    strategies: dict[str, dict[str, Any]], variants: dict[str, Variant] = VARIANTS
) -> dict[str, Experiment]:
    """The experiment table for seed-style ``strategies`` (as :func:`seed_strategies` returns)."""
    out: dict[str, Experiment] = {}
    for label, sim in strategies.items():
        if sim["strategy"] not in MODULE_COMMANDS:
            continue
        sim = _with_defaults(sim)
        where = f"{SEED_FILE.name} strategies.{label}"
        base = Experiment(module_command(where, sim), sim, _doc(sim, NOTES.get(label)))
        for name, v in variants.items():
            if v.base == label:
                vsim = {**sim, **v.changes}
                vwhere = f"lab variant {name} ({where} with {v.changes})"
                out[name] = Experiment(module_command(vwhere, vsim), vsim, _doc(vsim, v.note))
        out[label] = base
    for name, v in variants.items():
        if name not in out:
            raise ValueError(
                f"lab variant {name}: base {v.base!r} is not a strategy the lab module runs in "
                f"{SEED_FILE.name}; allowed: {', '.join(k for k in out if k not in variants)}"
            )
    return out


def load_experiments(path: Path = SEED_FILE) -> dict[str, Experiment]:
    """The experiment table of the seed spec at ``path``."""
    return experiments_from(seed_strategies(path))


EXPERIMENTS: dict[str, Experiment] = load_experiments()
