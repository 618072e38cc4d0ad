"""The cost model: what each simulated step charges to the virtual clock.

The constants are ``params/costs.yaml`` (each with its source: a row of
``docs/model.md#cost-rows`` or "estimate" and why), read by ``allockit.params.load_costs`` (the
simulated kernel reads no files); ``apply_costs`` writes the validated values into the
machine state, where compiled code reads them as ``s.zone[Z_COST + C_MIGRATE_PAGE]``. The
workload's own time constants (job lifetimes, I/O, pins) are workload parameters, in
``params/workload-kbuild.yaml``.
"""

from __future__ import annotations

from typing import Any

from .config import ConfigError
from .constants import COST_NAMES
from .state import Z_COST, MachineState


def check_cost(value: Any, field: str) -> int:
    """A cost in ns (an int >= 0); ``ConfigError`` naming ``field`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ConfigError(f"{field}: {value!r} is not a duration; allowed: a number of ns >= 0")
    return int(round(value))


def apply_costs(state: MachineState, costs: dict[str, int]) -> None:
    """Write validated costs (every name of ``COST_NAMES``) into the state."""
    missing = [n for n in COST_NAMES if n not in costs]
    if missing:
        raise ConfigError(f"costs: {missing[0]!r} is missing; allowed: {', '.join(COST_NAMES)}")
    for i, name in enumerate(COST_NAMES):
        state.zone[Z_COST + i] = check_cost(costs[name], f"costs.{name}")
