"""The sourced parameter files of ``params/``: every constant as ``{value, source}``.

``params/costs.yaml`` (the cost model) and ``params/workload-kbuild.yaml`` (the synthetic
build) hold one entry per constant, each with the value and where it comes from: a row of
``docs/model.md#reference-numbers``, a measurement of the real capture in ``data/raw/``, or the
word "estimate" and why. This module is the one place that reads them; the simulated kernel
(``mm/``) reads no files and receives the validated values.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import yaml

from .mm.config import ConfigError
from .mm.constants import COST_NAMES
from .mm.costs import check_cost
from .paths import PARAMS_DIR

COSTS_FILE = PARAMS_DIR / "costs.yaml"
KBUILD_FILE = PARAMS_DIR / "workload-kbuild.yaml"
LAB_WORKLOAD_FILE = PARAMS_DIR / "workload-lab.yaml"


class UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one mapping (the plain loader keeps
    the last one silently: a file would say something other than what it seems to say)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} appears twice in one mapping", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


def load_yaml(text: str) -> Any:
    """Parse YAML the way every file of the kit is read: safe, and no key twice."""
    return yaml.load(text, Loader=UniqueKeyLoader)  # noqa: S506 (a SafeLoader subclass)


def yaml_problem(exc: yaml.YAMLError) -> str:
    """A YAML error in one line: the problem and where (PyYAML's own text spans lines)."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return f"{problem} (line {mark.line + 1}, column {mark.column + 1})" if mark else problem


@functools.lru_cache(maxsize=16)
def _parsed(path: str, mtime_ns: int, size: int) -> Any:
    """A file's YAML, parsed once per version of the file: validating a sweep checks every
    point, and each check reads the same parameter files."""
    return load_yaml(Path(path).read_text())


def read_sourced(path: str | Path, names: tuple[str, ...], what: str) -> dict[str, dict]:
    """Read a ``{name: {value, source}}`` file and check its shape.

    Every name of ``names`` must be present, nothing else may be, and each entry needs a
    ``value`` and a non-empty ``source``. Raises ``ConfigError`` naming the file and the key.
    Returns name -> entry (the values are not checked here: their meaning is the caller's).
    """
    path = Path(path)
    try:
        st = path.stat()
        raw = copy.deepcopy(_parsed(str(path.resolve()), st.st_mtime_ns, st.st_size))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: malformed YAML: {yaml_problem(exc)}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read {what} file: {exc.strerror}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of {what} names to {{value, source}}")
    unknown = sorted(set(raw) - set(names))
    if unknown:
        raise ConfigError(f"{path}: unknown {what} {unknown[0]!r}; allowed: {', '.join(names)}")
    for name in names:
        entry: Any = raw.get(name)
        if entry is None:
            raise ConfigError(f"{path}: {what} {name!r} is missing")
        if not isinstance(entry, dict) or "value" not in entry:
            raise ConfigError(f"{path}: {name}: expected {{value: number, source: text}}")
        if not str(entry.get("source", "")).strip():
            raise ConfigError(
                f"{path}: {name}: a {what} needs a source (a reference row or 'estimate')"
            )
    return raw


def is_estimate(entry: dict) -> bool:
    """Whether a ``{value, source}`` entry is a guess (its source starts with "estimate")."""
    return str(entry.get("source", "")).strip().lower().startswith("estimate")


def cost_constants(path: str | Path | None = None) -> dict[str, dict[str, Any]]:
    """The cost file's entries, validated: name -> {value, source}."""
    return read_sourced(path or COSTS_FILE, COST_NAMES, "cost")


def kbuild_constants(path: str | Path | None = None) -> dict[str, dict[str, Any]]:
    """The synthetic build's entries, validated: name -> {value, source}."""
    from .workload.kbuild import PARAM_NAMES

    return read_sourced(path or KBUILD_FILE, PARAM_NAMES, "workload parameter")


def lab_workload_constants(path: str | Path | None = None) -> dict[str, dict[str, Any]]:
    """What the lab's guest adds to the build, as build parameters (``params/workload-lab.yaml``):
    name -> {value, source}."""
    from .workload.kbuild import LAB_PARAM_NAMES

    return read_sourced(path or LAB_WORKLOAD_FILE, LAB_PARAM_NAMES, "lab workload parameter")


def estimated_workload(path: str | Path | None = None) -> list[str]:
    """Build parameters whose source is "estimate" (what the workload sweep varies)."""
    return [k for k, v in kbuild_constants(path).items() if is_estimate(v)]


def estimated_costs(path: str | Path | None = None) -> list[str]:
    """Cost constants whose source is "estimate" (what the cost-sensitivity sweep varies)."""
    return [k for k, v in cost_constants(path).items() if is_estimate(v)]


def load_costs(path: str | Path | None = None, **overrides: float) -> dict[str, int]:
    """Read and validate a cost file; ``overrides`` replace single values (sensitivity sweeps).

    Raises ``ConfigError`` naming the file and key for a missing, unknown, negative or
    unsourced constant, or for malformed YAML.
    """
    path = Path(path) if path is not None else COSTS_FILE
    raw = cost_constants(path)
    costs = {name: check_cost(raw[name]["value"], f"{path}: {name}.value") for name in COST_NAMES}
    for name, value in overrides.items():
        if name not in COST_NAMES:
            raise ConfigError(f"costs: unknown cost {name!r}; allowed: {', '.join(COST_NAMES)}")
        costs[name] = check_cost(value, f"costs.{name}")
    return costs
