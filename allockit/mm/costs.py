"""The cost model: what each simulated step charges to the virtual clock.

The constants live in ``params/costs.yaml``, each with its source (a row of
reference-numbers.md) or the word "estimate" and why. ``load_costs`` validates the file and
``apply_costs`` writes the values into the machine state, where compiled code reads them as
``s.zone[Z_COST + C_MIGRATE_PAGE]``. Nothing else in the simulator has a time constant.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .config import ConfigError
from .constants import COST_NAMES
from .state import Z_COST, MachineState

DEFAULT_COSTS_FILE = Path(__file__).resolve().parents[2] / "params" / "costs.yaml"


def load_costs(path: str | Path | None = None, **overrides: float) -> dict[str, int]:
    """Read and validate a cost file; ``overrides`` replace single values (sensitivity sweeps).

    Raises ``ConfigError`` naming the file and key for a missing, unknown, negative or
    unsourced constant, or for malformed YAML.
    """
    path = Path(path) if path is not None else DEFAULT_COSTS_FILE
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: malformed YAML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read cost file: {exc.strerror}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of cost names to {{value, source}}")
    unknown = sorted(set(raw) - set(COST_NAMES))
    if unknown:
        raise ConfigError(f"{path}: unknown cost {unknown[0]!r}; allowed: {', '.join(COST_NAMES)}")
    costs: dict[str, int] = {}
    for name in COST_NAMES:
        entry: Any = raw.get(name)
        if entry is None:
            raise ConfigError(f"{path}: cost {name!r} is missing")
        if not isinstance(entry, dict) or "value" not in entry:
            raise ConfigError(f"{path}: {name}: expected {{value: ns, source: text}}")
        if not str(entry.get("source", "")).strip():
            raise ConfigError(
                f"{path}: {name}: a cost needs a source (a reference row or 'estimate')"
            )
        costs[name] = _check_value(entry["value"], f"{path}: {name}.value")
    for name, value in overrides.items():
        if name not in COST_NAMES:
            raise ConfigError(f"costs: unknown cost {name!r}; allowed: {', '.join(COST_NAMES)}")
        costs[name] = _check_value(value, f"costs.{name}")
    return costs


def _check_value(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ConfigError(f"{field}: {value!r} is not a duration; allowed: a number of ns >= 0")
    return int(round(value))


def apply_costs(state: MachineState, costs: dict[str, int]) -> None:
    """Write validated costs into the state."""
    for i, name in enumerate(COST_NAMES):
        state.zone[Z_COST + i] = costs[name]
