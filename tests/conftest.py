"""Shared fixtures: small machines that boot in microseconds once numba's cache is warm."""

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from allockit.mm import build_machine, machine_config  # noqa: E402


def small_config(**overrides):
    """16 MiB, 4 MiB CMA at the top, 2 CPUs, pageblock order 9, nothing reserved but memmap."""
    params = dict(ram="16M", cma_size="4M", nr_cpus=2, kernel_reserved=0)
    params.update(overrides)
    return machine_config(**params)


@pytest.fixture
def small():
    return build_machine(small_config())


@pytest.fixture
def small_nocma():
    return build_machine(small_config(cma_size=0))


def bare_state(nr_pages=4096, pageblock_order=9, nr_cpus=2, mt=None):
    """A zone with no free memory at all (every page allocated), all pageblocks MOVABLE.

    Unit tests free hand-picked blocks into it with the compiled functions under test.
    """
    from allockit.mm.constants import MIGRATE_CMA, MIGRATE_MOVABLE
    from allockit.mm.state import (
        Z_CMA_COUNT,
        Z_MANAGED,
        Z_PCP_BATCH,
        Z_PCP_HIGH,
        allocate_state,
    )

    s = allocate_state(nr_pages, pageblock_order, nr_cpus, 1)
    s.pb_mt[:] = MIGRATE_MOVABLE if mt is None else mt
    s.zone[Z_MANAGED] = nr_pages
    s.zone[Z_PCP_BATCH] = 4
    s.zone[Z_PCP_HIGH] = 8
    if mt == MIGRATE_CMA:
        s.zone[Z_CMA_COUNT] = nr_pages  # the whole zone is the CMA area
    return s
