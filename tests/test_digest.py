"""Stored digests of fixed trials: a change that alters the model's results shows up here.

Each case runs one trial of a spec at a fixed seed (every strategy of it) and hashes the rows
(canonical JSON: sorted keys, floats as Python prints them). The digests live in
``tests/fixtures/digests.json``. A refactoring must leave them unchanged; a change to the
model changes them on purpose, and the commit that does so updates the file and says which
rows moved and why::

    ALLOCKIT_UPDATE_DIGESTS=1 python -m pytest tests/test_digest.py

The cases are small (seconds each once numba's cache is warm) but cover both kernel models,
every strategy, the journaled-metadata workload, reclaim under pressure and a trace replay.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from allockit.experiment import spec as specs
from allockit.experiment.trial import run_trial

DIGESTS = Path(__file__).parent / "fixtures" / "digests.json"
UPDATE = os.environ.get("ALLOCKIT_UPDATE_DIGESTS") == "1"

# name -> (spec file, overrides, trial)
CASES = {
    # the seed itself: 1.5 GB, 500 MB CMA, -j4, every strategy, trial 0 of 10
    "seed-5.9": ("seed.yaml", {}, 0),
    # the seed without the hot core of journaled metadata (its journal events back in the
    # stream): when it landed, this digest was the previous model's, byte for byte
    "seed-5.9-journal-hot-off": ("seed.yaml", {"ablate": ["journal_hot"]}, 0),
    # the 6.1 model (one drain per call, pageblock-granular isolation) on a smaller machine
    "seed-6.1-small": (
        "seed.yaml",
        {"machine.kernel": "6.1", "machine.ram": "512M", "machine.cma_size": "160M",
         "nr_elem": 1200, "horizon_s": 8},
        1,
    ),
    # memory pressure: a small machine under -j8, where reclaim and compaction run
    "pressure-j8": (
        "seed.yaml",
        {"machine.ram": "384M", "machine.cma_size": "96M", "workload.jobs": 8,
         "nr_elem": 600, "horizon_s": 8},
        2,
    ),
}


def rows_digest(rows: list[dict]) -> str:
    """SHA-256 of the rows as canonical JSON (the bytes a result file's data come from)."""
    blob = json.dumps(rows, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


def case_rows(name: str) -> list[dict]:
    spec_file, overrides, trial = CASES[name]
    spec = specs.load(specs.PARAMS_DIR / spec_file, overrides)
    point = spec.points()[0]
    return run_trial(spec.trial_spec(point), spec.seed, trial, spec.trials)


def _stored() -> dict[str, str]:
    return json.loads(DIGESTS.read_text()) if DIGESTS.exists() else {}


@pytest.mark.parametrize("name", sorted(CASES))
def test_trial_rows_match_stored_digest(name):
    digest = rows_digest(case_rows(name))
    if UPDATE:
        stored = _stored()
        stored[name] = digest
        DIGESTS.write_text(json.dumps(stored, indent=2, sort_keys=True) + "\n")
        return
    stored = _stored()
    assert name in stored, f"no stored digest for {name}: run with ALLOCKIT_UPDATE_DIGESTS=1"
    assert digest == stored[name], (
        f"{name}: trial rows changed. If the model changed on purpose, update "
        "tests/fixtures/digests.json (ALLOCKIT_UPDATE_DIGESTS=1) and say why in the commit."
    )


def test_digest_sees_a_one_ulp_change():
    """The digest is sensitive to any change of any value in any row."""
    rows = [{"strategy": "x", "latency_ms": 1.0, "got": 3}]
    changed = [{"strategy": "x", "latency_ms": 1.0000000000000002, "got": 3}]
    assert rows_digest(rows) != rows_digest(changed)
    assert rows_digest(rows) == rows_digest([dict(reversed(list(rows[0].items())))])


def test_every_case_is_stored_and_nothing_else():
    assert UPDATE or set(_stored()) == set(CASES)
