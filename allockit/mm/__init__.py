"""The simulated kernel: machine state and the page allocator's functions (Linux v5.9 model).

Public entry points are re-exported here; the kernel-named steps live in their modules
(``buddy``, ``pcp``, ``page_alloc``, ``boot``, ``invariants``).
"""

from .boot import build_machine
from .config import ConfigError, MachineConfig, machine_config
from .state import MachineState, bytes_per_page, copy_state

__all__ = [
    "ConfigError",
    "MachineConfig",
    "MachineState",
    "build_machine",
    "bytes_per_page",
    "copy_state",
    "machine_config",
]
