"""Experiment specs: a YAML file names a machine, a workload, strategies and the sweep axes.

A spec (``params/*.yaml``) holds the keys of a trial (``machine``, ``workload``, ``costs``,
``order``, ``nr_elem``, ``horizon_s``, ``strategies``) and how to vary them::

    name: sweep-order
    base: seed.yaml              # optional: start from another spec (path relative to this file)
    axes:                        # any parameter, by its dotted path
      order: [0, 2, 4, 6, 8]
      workload.jobs: {from: 0, to: 8, step: 2}      # inclusive range
      costs.migrate_page_ns: {times: [0.5, 2]}      # multiples of the base value
      strategies.cma_single.align: [0, 4, 8]
      size:                      # a linked axis: a free name, each value sets several paths
        - {order: 0, nr_elem: 76800}
        - {order: 4, nr_elem: 4800}
    mode: product                # product: the full grid; each: the base, then one axis at a
                                 # time (the others at their base values)
    trials: 10
    seed: 20200814

A *point* is one assignment of the axes; every point runs ``trials`` trials, each of which runs
every strategy on the same warmed-up machine. Trial *i* of every point uses the workload stream
``SeedSequence(seed).spawn(...)[i]`` (common random numbers across points and strategies), so
the difference between two points is the axis' doing, not the workload's.

Everything is validated before any trial runs: unknown keys, wrong types, axes that name no
parameter and points that are impossible (e.g. nr_elem x 2^order larger than the CMA area)
raise :class:`SpecError` naming the file, the key, the value and what is allowed.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import itertools
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..mm.config import ConfigError
from ..mm.constants import KERNEL_VERSIONS
from ..params import cost_constants, kbuild_constants, load_yaml, yaml_problem
from ..paths import PARAMS_DIR, ROOT
from .trial import TrialSpec, check_spec

TRIAL_KEYS = (
    "machine", "workload", "costs", "order", "nr_elem", "horizon_s", "strategies", "ablate",
)
SPEC_KEYS = ("name", "description", "base", "axes", "mode", "trials", "seed", *TRIAL_KEYS)
MODES = ("product", "each")
DEFAULTS: dict[str, Any] = {
    "machine": {},
    "workload": {},
    "costs": {},
    "order": 4,
    "nr_elem": 4800,
    "horizon_s": 10.0,
    "strategies": {},
    "ablate": [],
}


class SpecError(ConfigError):
    """An invalid experiment spec; the message names the file, key, value and what is allowed."""


@dataclass(frozen=True)
class Point:
    """One assignment of the sweep axes (``values``: dotted path -> value)."""

    index: int
    values: tuple[tuple[str, Any], ...]

    @property
    def id(self) -> str:
        """Stable name of the point: a hash of its assignment (not of its position)."""
        blob = json.dumps(list(self.values), sort_keys=True, default=str)
        return "p" + hashlib.sha256(blob.encode()).hexdigest()[:8]

    def as_dict(self) -> dict[str, Any]:
        return dict(self.values)

    def label(self) -> str:
        return ", ".join(
            f"{p}={v}" for k, val in self.values for p, v in axis_assignments(k, val)
        ) or "base"


@dataclass(frozen=True)
class SweepSpec:
    """A validated spec: the base trial keys, the axes and how to expand them."""

    name: str
    base: dict[str, Any]
    axes: dict[str, list[Any]]
    mode: str
    trials: int
    seed: int
    source: str = "<inline>"
    description: str = ""

    # --- expansion -------------------------------------------------------------------------
    def points(self) -> list[Point]:
        """The grid, in a stable order (axes in file order, values in listed order)."""
        names = list(self.axes)
        if not names:
            return [Point(0, ())]
        if self.mode == "product":
            combos = [tuple(zip(names, vals, strict=True)) for vals in itertools.product(
                *(self.axes[n] for n in names))]
        else:  # each: the base, then one axis at a time, the others at their base value
            combos, seen = [()], set()
            for n in names:
                for v in self.axes[n]:
                    key = json.dumps([n, v], default=str)
                    if key not in seen:
                        seen.add(key)
                        combos.append(((n, v),))
        return [Point(i, c) for i, c in enumerate(combos)]

    def trial_spec(self, point: Point) -> TrialSpec:
        """The TrialSpec of one point: the base with the point's values set."""
        raw = copy.deepcopy(self.base)
        for path, value in point.values:
            for p, v in axis_assignments(path, value):
                set_path(raw, p, v, origin=self.source)
        return TrialSpec(**raw)

    def to_dict(self) -> dict[str, Any]:
        """The resolved spec (base inlined, ranges expanded): what ``load`` accepts back."""
        return {
            "name": self.name,
            "description": self.description,
            **copy.deepcopy(self.base),
            "axes": copy.deepcopy(self.axes),
            "mode": self.mode,
            "trials": self.trials,
            "seed": self.seed,
        }

    @property
    def hash(self) -> str:
        """Hash of everything that decides the results (not the name or description): the
        spec, and the model (:func:`model_fingerprint`), so a changed simulator or default
        parameter file never mixes with results it did not produce. The trial count is left
        out: trial *i* is the same whatever the count, so raising it reuses the trials done."""
        d = self.to_dict()
        d.pop("name")
        d.pop("description")
        d.pop("trials")
        blob = json.dumps([d, model_fingerprint()], sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:10]

    def size(self) -> int:
        """How many points the sweep has (without listing them)."""
        if not self.axes:
            return 1
        if self.mode == "product":
            return math.prod(len(v) for v in self.axes.values())
        return 1 + sum(len(v) for v in self.axes.values())

    def validate(self) -> None:
        """Check every point's trial before anything runs. Past ``MAX_CHECKED_POINTS`` (a grid
        that large takes minutes to check), say so, check the base and every axis value alone,
        and leave each combination to its trial, which checks its own spec."""
        n = self.size()
        points = self.points() if n <= MAX_CHECKED_POINTS else [Point(0, ())] + [
            Point(0, ((name, v),)) for name, values in self.axes.items() for v in values]
        if n > MAX_CHECKED_POINTS:
            print(f"{self.source}: {n:,} points x {self.trials} trials; checking the base and "
                  f"each axis value now, every combination when its trial runs",
                  file=sys.stderr, flush=True)
        for p in points:
            try:
                ts = self.trial_spec(p)
                kernel = ts.machine.get("kernel")
                if isinstance(kernel, (int, float)) and not isinstance(kernel, bool):
                    meant = [v for v in KERNEL_VERSIONS if float(v) == kernel] or [str(kernel)]
                    raise SpecError(f"machine.kernel: {kernel!r} is a number (YAML reads an "
                                    f"unquoted 5.10 as 5.1); allowed: a quoted version, e.g. "
                                    f"kernel: \"{meant[0]}\"")
                check_spec(ts)
            except ValueError as exc:
                where = f" at point {p.label()}" if p.values else ""
                raise SpecError(f"{self.source}{where}: {exc}") from None


MAX_CHECKED_POINTS = 100_000

# Sources and default parameter files whose content decides a trial's result.
MODEL_FILES = ("allockit/mm/*.py", "allockit/strategies/*.py", "allockit/workload/*.py",
               "allockit/params.py",
               "allockit/experiment/trial.py", "params/costs.yaml", "params/workload-kbuild.yaml")


@functools.cache
def model_fingerprint() -> str:
    """A hash of the simulator's sources and default parameter files."""
    h = hashlib.sha256()
    for pattern in MODEL_FILES:
        for f in sorted(ROOT.glob(pattern)):
            h.update(f.relative_to(ROOT).as_posix().encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:12]


# --- dotted paths ---------------------------------------------------------------------------
def _path_error(origin: str, path: str, why: str) -> SpecError:
    return SpecError(f"{origin}: axes/--set key {path!r}: {why}")


def set_path(raw: dict[str, Any], path: str, value: Any, *, origin: str) -> None:
    """Set ``raw[a][b][c] = value`` for ``path = "a.b.c"``; the first part must be a trial key."""
    parts = path.split(".")
    if parts[0] not in TRIAL_KEYS:
        raise _path_error(origin, path, f"allowed first parts: {', '.join(TRIAL_KEYS)}")
    if parts[0] in ("order", "nr_elem", "horizon_s", "ablate"):
        if len(parts) != 1:
            raise _path_error(origin, path, f"{parts[0]} takes no sub-key")
        raw[parts[0]] = value
        return
    if len(parts) < 2:
        raise _path_error(origin, path, f"name a key inside {parts[0]}, e.g. {parts[0]}.NAME")
    node = raw.setdefault(parts[0], {})
    if parts[0] == "strategies":
        if parts[1] not in node:
            raise _path_error(
                origin, path, f"no strategy labelled {parts[1]!r}; known: {', '.join(node)}"
            )
        if len(parts) != 3:
            raise _path_error(origin, path, "expected strategies.LABEL.PARAM")
        node = node[parts[1]]
        parts = parts[1:]
    elif len(parts) != 2:
        raise _path_error(origin, path, f"expected {parts[0]}.NAME")
    node[parts[-1]] = value


def is_linked(path: str) -> bool:
    """A linked axis has a free name (not a parameter path); each value sets several paths."""
    return path.split(".")[0] not in TRIAL_KEYS


def axis_assignments(path: str, value: Any) -> list[tuple[str, Any]]:
    """The (path, value) pairs an axis value sets: one, or several for a linked axis."""
    if is_linked(path):
        return list(value.items())
    return [(path, value)]


def get_path(raw: dict[str, Any], path: str) -> Any:
    node: Any = raw
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _base_value(base: dict[str, Any], path: str) -> Any:
    """A parameter's value at the base: the spec's, else the default file's (costs, build)."""
    v = get_path(base, path)
    if v is None and path.startswith(("costs.", "workload.")):
        layer, name = path.split(".", 1)
        entries = cost_constants() if layer == "costs" else kbuild_constants()
        entry = entries.get(name)
        v = entry.get("value") if isinstance(entry, dict) else None
    return v


def _expand_axis(origin: str, path: str, spec: Any, base: dict[str, Any]) -> list[Any]:
    """An axis' values: a list, ``{from, to, step}`` (inclusive) or ``{times: [...]}``."""
    where = f"{origin}: axes.{path}"
    if is_linked(path):
        if not isinstance(spec, list) or not spec or not all(
            isinstance(v, dict) and v for v in spec
        ):
            raise SpecError(
                f"{where}: {spec!r}; {path!r} is no parameter path (allowed first parts: "
                f"{', '.join(TRIAL_KEYS)}), so it must be a linked axis: a list of mappings "
                "PATH: VALUE, e.g. [{order: 0, nr_elem: 76800}, {order: 4, nr_elem: 4800}]"
            )
        for v in spec:
            for p, x in v.items():
                if is_linked(str(p)):
                    raise _path_error(origin, f"{path}.{p}", "a linked axis sets parameter paths")
                set_path(copy.deepcopy(base), str(p), x, origin=origin)
        return spec
    if isinstance(spec, list):
        values = spec
    elif isinstance(spec, dict) and set(spec) <= {"from", "to", "step"} and {"from", "to"} <= set(
        spec
    ):
        start, stop, step = spec["from"], spec["to"], spec.get("step", 1)
        if not all(isinstance(x, (int, float)) and not isinstance(x, bool)
                   for x in (start, stop, step)) or step <= 0 or stop < start:
            raise SpecError(
                f"{where}: {spec!r}; allowed: numbers with from <= to and step > 0"
            )
        n = int((stop - start) / step + 1e-9) + 1
        values = [start + i * step for i in range(n)]
        if all(isinstance(x, int) for x in (start, step)):
            values = [int(v) for v in values]
    elif isinstance(spec, dict) and set(spec) == {"times"}:
        b = _base_value(base, path)
        factors = spec["times"]
        if not isinstance(b, (int, float)) or isinstance(b, bool):
            raise SpecError(f"{where}: 'times' needs a numeric base value; the base has {b!r}")
        if not isinstance(factors, list) or not all(
            isinstance(f, (int, float)) and not isinstance(f, bool) and f >= 0 for f in factors
        ):
            raise SpecError(f"{where}: times: {factors!r}; allowed: a list of numbers >= 0")
        values = [type(b)(round(b * f)) if isinstance(b, int) else b * f for f in factors]
    else:
        raise SpecError(
            f"{where}: {spec!r}; allowed: a list of values, {{from, to, step}} or {{times: [...]}}"
        )
    if not values:
        raise SpecError(f"{where}: no values; allowed: a non-empty list")
    # the axis must name a parameter: setting it on a copy of the base checks the path
    set_path(copy.deepcopy(base), path, values[0], origin=origin)
    return values


# --- loading --------------------------------------------------------------------------------
def read_yaml_mapping(path: str | Path, what: str, keys: str) -> dict[str, Any]:
    """A YAML file (a ``what``) that must hold a mapping of ``keys``."""
    try:
        raw = load_yaml(Path(path).read_text())
    except OSError as exc:
        raise SpecError(f"{path}: cannot read {what}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise SpecError(f"{path}: malformed YAML: {yaml_problem(exc)}") from None
    if not isinstance(raw, dict):
        raise SpecError(f"{path}: expected a mapping of {keys}")
    return raw


def _merged_raw(path: Path, depth: int = 0) -> dict[str, Any]:
    raw = read_yaml_mapping(path, "spec", f"spec keys ({', '.join(SPEC_KEYS)})")
    unknown = sorted(set(raw) - set(SPEC_KEYS))
    if unknown:
        raise SpecError(f"{path}: unknown key {unknown[0]!r}; allowed: {', '.join(SPEC_KEYS)}")
    if "base" not in raw:
        return raw
    if depth > 8:
        raise SpecError(f"{path}: base: chain of more than 8 specs (a cycle?)")
    base_ref = raw.pop("base")
    if not isinstance(base_ref, str):
        raise SpecError(f"{path}: base: {base_ref!r}; allowed: a path to another spec file")
    parent = _merged_raw((path.parent / base_ref).resolve(), depth + 1)
    for k in ("name", "description", "axes", "mode"):
        parent.pop(k, None)  # a base lends its trial keys, trials and seed, not its sweep
    for k, v in raw.items():
        if k in ("machine", "workload", "costs") and isinstance(v, dict):
            parent[k] = {**(parent.get(k) or {}), **v}
        else:
            parent[k] = v
    return parent


def _int_field(raw: dict[str, Any], key: str, default: int, lo: int, origin: str) -> int:
    v = raw.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int) or v < lo:
        raise SpecError(f"{origin}: {key}: {v!r}; allowed: an integer >= {lo}")
    return v


def from_mapping(
    raw: dict[str, Any], *, origin: str = "<inline>", overrides: dict[str, Any] | None = None
) -> SweepSpec:
    """Validate a spec mapping (``base`` already merged); ``overrides`` are ``--set`` pairs."""
    raw = copy.deepcopy(raw)
    unknown = sorted(set(raw) - set(SPEC_KEYS) - {"base"})
    if unknown:
        raise SpecError(f"{origin}: unknown key {unknown[0]!r}; allowed: {', '.join(SPEC_KEYS)}")
    axes_raw = raw.get("axes") or {}
    if not isinstance(axes_raw, dict):
        raise SpecError(f"{origin}: axes: {axes_raw!r}; allowed: a mapping of path -> values")
    for key, value in (overrides or {}).items():
        if key in ("trials", "seed", "mode", "name", "description"):
            raw[key] = value
        elif key == "axes":  # replaces the whole set of axes
            if not isinstance(value, dict):
                raise SpecError(f"{origin} (--set): axes: {value!r}; allowed: a mapping")
            axes_raw = dict(value)
        elif key.startswith("axes."):
            axes_raw[key[5:]] = value
        else:
            set_path(raw, key, value, origin=f"{origin} (--set)")
            axes_raw.pop(key, None)  # a value set on the command line wins over its axis
    base = {k: copy.deepcopy(raw.get(k, DEFAULTS[k])) for k in TRIAL_KEYS}
    for k in ("machine", "workload", "costs", "strategies"):
        if not isinstance(base[k], dict):
            raise SpecError(f"{origin}: {k}: {base[k]!r}; allowed: a mapping")
    for label, params in list(base["strategies"].items()):
        if params is None:
            base["strategies"][label] = {}
        elif not isinstance(params, dict):
            raise SpecError(
                f"{origin}: strategies.{label}: {params!r}; allowed: a mapping of parameters"
            )
    for k in ("order", "nr_elem"):
        if isinstance(base[k], bool) or not isinstance(base[k], int):
            raise SpecError(f"{origin}: {k}: {base[k]!r}; allowed: an integer")
    if isinstance(base["horizon_s"], bool) or not isinstance(base["horizon_s"], (int, float)):
        raise SpecError(f"{origin}: horizon_s: {base['horizon_s']!r}; allowed: seconds (number)")
    base["horizon_s"] = float(base["horizon_s"])
    mode = raw.get("mode", "product")
    if mode not in MODES:
        raise SpecError(f"{origin}: mode: {mode!r}; allowed: {', '.join(MODES)}")
    axes = {str(k): _expand_axis(origin, str(k), v, base) for k, v in axes_raw.items()}
    name = raw.get("name") or (Path(origin).stem if origin != "<inline>" else "sweep")
    if not isinstance(name, str) or not name.replace("-", "").replace("_", "").isalnum():
        raise SpecError(f"{origin}: name: {name!r}; allowed: letters, digits, '-' and '_'")
    spec = SweepSpec(
        name=name,
        base=base,
        axes=axes,
        mode=mode,
        trials=_int_field(raw, "trials", 10, 1, origin),
        seed=_int_field(raw, "seed", 0, 0, origin),
        source=origin,
        description=str(raw.get("description") or ""),
    )
    spec.validate()
    return spec


def load(path: str | Path, overrides: dict[str, Any] | None = None) -> SweepSpec:
    """Read, merge (``base``) and validate a spec file."""
    path = Path(path)
    if not path.exists():
        # relative to the repository or to params/, never only to the working directory
        # (a notebook's kernel runs in notebooks/)
        path = next((p for p in (ROOT / path, PARAMS_DIR / path) if p.exists()), path)
    raw = _merged_raw(path.resolve())
    origin = str(path)
    raw.setdefault("name", path.stem)
    return from_mapping(raw, origin=origin, overrides=overrides)


def parse_overrides(items: list[str] | None) -> dict[str, Any]:
    """``["machine.ram=256M", "axes.order=[2,4]"]`` -> a mapping; values are read as YAML."""
    out: dict[str, Any] = {}
    for item in items or []:
        if "=" not in item:
            raise SpecError(f"--set {item!r}: expected PATH=VALUE, e.g. machine.ram=256M")
        k, v = item.split("=", 1)
        try:
            out[k.strip()] = yaml.safe_load(v)
        except yaml.YAMLError as exc:
            raise SpecError(f"--set {item!r}: value is not valid YAML: {exc}") from None
    return out
