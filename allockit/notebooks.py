"""``allockit notebooks``: execute the notebooks with papermill, one after another.

Executed copies go to ``data/notebooks/`` (figures are written by the notebooks themselves
under ``data/figures/``). Only one kernel runs at a time: a notebook's sweep already uses
every core. A failure names the notebook, the cell and the error, and the next notebook
still runs; the exit status is 1 if any failed.

``--params FILE`` is a YAML mapping of papermill parameters: either flat (given to every
notebook that declares the parameter) or keyed by notebook name or number
(``02-sweep-order`` or ``"02"``), with ``"*"`` for all.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from .experiment.spec import SpecError, read_yaml_mapping
from .paths import DATA_DIR, NOTEBOOKS_DIR

OUT_DIR = DATA_DIR / "notebooks"


def notebooks(only: list[str] | None = None) -> list[Path]:
    """The notebooks to run, by name or number prefix; unknown names are an error."""
    all_nb = sorted(NOTEBOOKS_DIR.glob("[0-9]*.ipynb"))
    if not only:
        return all_nb
    picked = []
    for o in only:
        hits = [p for p in all_nb if p.stem == o or p.stem.split("-", 1)[0] == o]
        if not hits:
            raise SpecError(f"--only {o!r}: no such notebook; allowed: "
                            + ", ".join(p.stem for p in all_nb))
        picked += [h for h in hits if h not in picked]
    return picked


def _keyed(params: dict[str, Any]) -> bool:
    """Whether ``params`` is keyed by notebook (name, number or ``*``) rather than flat."""
    return any(k == "*" or any(k in (p.stem, p.stem.split("-", 1)[0])
                               for p in NOTEBOOKS_DIR.glob("*.ipynb")) for k in params)


def _params_for(nb: Path, params: dict[str, Any], declared: set[str]) -> dict[str, Any]:
    if _keyed(params):
        out = dict(params.get("*") or {})
        out.update(params.get(nb.stem.split("-", 1)[0]) or {})
        out.update(params.get(nb.stem) or {})
    else:
        out = dict(params)
    return {k: v for k, v in out.items() if k in declared}


def check_params(params: dict[str, Any], chosen: list[Path], declared: dict[Path, set[str]]):
    """Refuse a parameter no chosen notebook declares (papermill would drop it silently and
    the notebook would run at its defaults)."""
    if _keyed(params):
        for key, values in params.items():
            targets = [p for p in chosen if key in ("*", p.stem, p.stem.split("-", 1)[0])]
            for name in values or {}:
                if targets and not any(name in declared[p] for p in targets):
                    allowed = sorted(set().union(*(declared[p] for p in targets)))
                    raise SpecError(f"--params {key}: {name!r} is not a parameter of "
                                    f"{', '.join(p.stem for p in targets)}; allowed: "
                                    + ", ".join(allowed))
    else:
        every = set().union(*declared.values()) if declared else set()
        unknown = sorted(set(params) - every)
        if unknown:
            raise SpecError(f"--params: {unknown[0]!r} is not a parameter of any chosen "
                            f"notebook; allowed: {', '.join(sorted(every))}")


def load_params(path: str | Path | None) -> dict[str, Any]:
    return {} if path is None else read_yaml_mapping(path, "parameters", "papermill parameters")


def run_notebooks(
    params_file: str | Path | None = None, only: list[str] | None = None,
    out: str | Path | None = None, stream=None,
) -> int:
    """Execute the notebooks one at a time; 0 if all ran, 1 if any failed."""
    import papermill as pm

    stream = stream or sys.stdout
    params = load_params(params_file)
    chosen = notebooks(only)
    declared = {nb: set(pm.inspect_notebook(str(nb))) for nb in chosen}
    check_params(params, chosen, declared)
    out = Path(out or OUT_DIR)
    out.mkdir(parents=True, exist_ok=True)
    failed = 0
    for nb in chosen:
        p = _params_for(nb, params, declared[nb])
        t0 = time.perf_counter()
        try:
            pm.execute_notebook(str(nb), str(out / nb.name), parameters=p,
                                kernel_name="python3", progress_bar=False, cwd=str(nb.parent))
        except pm.PapermillExecutionError as exc:
            failed += 1
            print(f"FAILED {nb.name}: cell In [{exc.exec_count}] of {out / nb.name}: "
                  f"{exc.ename}: {exc.evalue}", file=stream)
            continue
        print(f"ok     {nb.name} ({time.perf_counter() - t0:.1f} s) -> {out / nb.name}",
              file=stream)
    return 1 if failed else 0
