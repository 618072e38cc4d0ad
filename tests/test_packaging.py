"""environment.yml must list the same packages as pyproject.toml (dependencies + extras)."""

import re
import tomllib
from pathlib import Path

import yaml

from allockit.mm import vmstat

ROOT = Path(__file__).resolve().parent.parent
# conda-forge names that differ from PyPI names
CONDA_ALIASES = {"dask[distributed]": {"dask", "distributed"}}


def _name(req: str) -> str:
    return re.split(r"[<>=!~ ;]", req.strip(), maxsplit=1)[0].lower()


def test_environment_yml_matches_pyproject():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = set()
    for req in pyproject["dependencies"] + [
        r for extra in pyproject["optional-dependencies"].values() for r in extra
    ]:
        name = _name(req)
        wanted |= CONDA_ALIASES.get(name, {name})
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    listed = {_name(d) for d in env["dependencies"] if isinstance(d, str)} - {"python", "pip"}
    assert listed == wanted


def test_vmstat_names_and_indices_agree():
    consts = {
        k: v
        for k, v in vars(vmstat).items()
        if k.isupper() and isinstance(v, int) and k not in ("NR_VMSTAT_ITEMS", "VMSTAT_BASE")
    }
    offsets = sorted(v - vmstat.VMSTAT_BASE for v in consts.values())
    assert offsets == list(range(len(vmstat.VMSTAT_NAMES)))
    assert consts["NR_FREE_PAGES"] - vmstat.VMSTAT_BASE == vmstat.VMSTAT_NAMES.index(
        "nr_free_pages"
    )
    assert consts["SIM_KSWAPD_WAKE"] - vmstat.VMSTAT_BASE == vmstat.VMSTAT_NAMES.index(
        "sim_kswapd_wake"
    )
