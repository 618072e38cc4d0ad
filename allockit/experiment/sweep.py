"""The sweep runner: every (point, trial) of a spec, one Parquet file per finished trial.

Layout of a sweep directory (``data/sweeps/<name>-<spec hash>/``)::

    spec.yaml        the resolved spec (base merged, ranges expanded): enough to rerun it
    manifest.json    the points (id, axis values) and the command that made the sweep
    trials/pXXXXXXXX-t0003.parquet   one per finished trial: a row per strategy
    timings.jsonl    wall times per trial (kept out of the results, which must be identical
                     bytes whoever computes them)

A trial's file is written atomically (temporary name, then ``os.replace``) by the process
that coordinates the sweep, as soon as its result arrives. A sweep that is killed keeps
every finished trial; run again, it skips the files already there, so nothing is lost or
run twice. The results do not depend on who computes them: a local process pool (the
default), one process, or a Dask cluster (``scheduler``) produce the same bytes, because a
trial is a pure function of its TrialSpec and seed and carries no wall time.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from ..paths import DATA_DIR, ROOT
from .spec import Point, SpecError, SweepSpec, axis_assignments, is_linked, load
from .trial import TrialSpec, run_trial, trial_seed, warm_key, warm_machine

SWEEPS_DIR = DATA_DIR / "sweeps"
FORMAT_VERSION = 1


# --- files ----------------------------------------------------------------------------------
def sweep_dir(spec: SweepSpec, root: str | Path | None = None) -> Path:
    return Path(root or SWEEPS_DIR) / f"{spec.name}-{spec.hash}"


def trial_path(d: Path, point: Point, trial: int) -> Path:
    return d / "trials" / f"{point.id}-t{trial:04d}.parquet"


def trial_done(path: Path) -> bool:
    """Whether a trial's result file is whole: Parquet starts and ends with ``PAR1``. A file
    cut short (a full disk, a copy interrupted) or left empty is run again."""
    try:
        size = path.stat().st_size
        if size < 12:
            return False
        with open(path, "rb") as fh:
            head = fh.read(4)
            fh.seek(-4, os.SEEK_END)
            return head == b"PAR1" and fh.read(4) == b"PAR1"
    except OSError:
        return False


def missing_trials(spec: SweepSpec, d: Path) -> list[tuple[Point, int]]:
    """The (point, trial) pairs of ``spec`` without a whole result file in ``d``."""
    return [(p, t) for p in spec.points() for t in range(spec.trials)
            if not trial_done(trial_path(d, p, t))]


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` so that ``path`` either does not exist or holds all of it."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def git_revision() -> str:
    """The checkout's commit (with ``-dirty`` when it has changes), or "" outside git."""
    try:
        rev = subprocess.run(
            ["git", "-C", str(ROOT), "describe", "--always", "--dirty", "--abbrev=12"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""
    return rev


def provenance() -> dict[str, str]:
    """Versions of what decides a trial's bytes; stored in every result file."""
    import numba
    import numpy
    import pyarrow

    from .. import __version__

    return {
        "allockit": __version__,
        "git": git_revision(),
        "numba": numba.__version__,
        "numpy": numpy.__version__,
        "pandas": pd.__version__,
        "pyarrow": pyarrow.__version__,
        "python": sys.version.split()[0],
        "format": str(FORMAT_VERSION),
    }


# --- one trial (runs in a worker) -----------------------------------------------------------
@dataclass(frozen=True)
class Task:
    """What a worker needs for one trial; picklable, and self-contained for remote workers."""

    sweep: str
    point_id: str
    point_values: tuple[tuple[str, Any], ...]
    trial_spec: TrialSpec
    seed: int
    trial: int
    trials: int
    provenance: tuple[tuple[str, str], ...]


_FIRST_IN_PROCESS = True


def _trial_bytes(task: Task, rows: list[dict[str, Any]]) -> bytes:
    """A trial's rows as Parquet, with the point's axis columns and provenance."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    df = pd.DataFrame(rows)
    df.insert(0, "sweep", task.sweep)
    df.insert(1, "point", task.point_id)
    for axis, value in task.point_values:
        if is_linked(axis):  # the axis' label, then a column per path it sets
            df[axis] = ", ".join(f"{p}={v}" for p, v in value.items())
        for path, v in axis_assignments(axis, value):
            df[path] = [v] * len(df)  # an axis column, named by its dotted path
    table = pa.Table.from_pandas(df, preserve_index=False)
    meta = {
        "point": dict(task.point_values),
        "seed": task.seed,
        "trial": task.trial,
        "trial_spec": task.trial_spec.__dict__,
        "provenance": dict(task.provenance),
    }
    table = table.replace_schema_metadata(
        {**(table.schema.metadata or {}),
         b"allockit": json.dumps(meta, sort_keys=True, default=str).encode()}
    )
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd")
    return buf.getvalue()


# In a pool worker: where each finished trial goes at once (see _init_worker), so that the
# coordinator's progress moves per trial and a sweep stopped mid-group keeps what it finished.
_SINK: tuple[Path, Any] | None = None


def iter_tasks(tasks: list[Task]) -> Iterator[tuple[Task, bytes, dict[str, Any]]]:
    """Run trials that share a warm-up (same ``warm_key``, seed and trial: see ``plan``),
    yielding each one's Parquet bytes and wall times as soon as it is done."""
    global _FIRST_IN_PROCESS
    warmed = None
    for task in tasks:
        first, _FIRST_IN_PROCESS = _FIRST_IN_PROCESS, False
        t0 = time.perf_counter()
        ts = task.trial_spec
        warms = warmed is None
        if warms:
            warmed = warm_machine(ts, trial_seed(task.seed, task.trial, task.trials))
        warm_s = time.perf_counter() - t0
        timing: dict[str, Any] = {}
        rows = run_trial(ts, task.seed, task.trial, task.trials, timing, warmed)
        data = _trial_bytes(task, rows)
        timing.update(warm_s=warm_s, total_s=time.perf_counter() - t0, pid=os.getpid(),
                      first_in_process=first, warmed_up=warms, shared_warmup=len(tasks))
        yield task, data, timing


def run_tasks(tasks: list[Task]) -> list[tuple[Task, bytes, dict[str, Any]]]:
    """:func:`iter_tasks` as a list (what a remote worker sends back). In a local pool worker
    each trial is written to the sweep's directory and reported on the pool's queue as soon as
    it is done (``_SINK``) instead, and nothing is sent back."""
    if _SINK is None:
        return list(iter_tasks(tasks))
    d, queue = _SINK
    for task, data, timing in iter_tasks(tasks):
        write_atomic(trial_path(d, Point(0, task.point_values), task.trial), data)
        queue.put((task, timing))
    return []


# --- executors ------------------------------------------------------------------------------
# Each yields finished trials: (task, Parquet bytes, timing), bytes None when already written.
Results = Iterator[list[tuple[Task, bytes | None, dict]]]


def _serial(groups: list[list[Task]], workers: int, d: Path) -> Results:
    for g in groups:
        for done in iter_tasks(g):
            yield [done]


def _init_worker(parent: int, d: Path, queue) -> None:
    """Pool worker initializer: finished trials go to ``d`` and are reported on ``queue``
    (``_SINK``); and the worker ends when the coordinator dies (Linux ``PR_SET_PDEATHSIG``),
    so that a killed sweep leaves no workers computing for nobody."""
    global _SINK
    _SINK = (d, queue)
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:  # the coordinator died before the call above
        os._exit(1)


def _process_pool(groups: list[list[Task]], workers: int, d: Path) -> Results:
    """Groups on a local process pool; each trial arrives as its worker finishes it."""
    import multiprocessing
    import queue as queue_mod

    q = multiprocessing.get_context().Queue()
    pool = ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(os.getpid(), d, q))
    expected, received = sum(len(g) for g in groups), 0
    try:
        pending = {pool.submit(run_tasks, g) for g in groups}
        while received < expected:
            done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            for f in done:
                f.result()  # a worker's exception ends the sweep here
            while received < expected:
                try:  # once every group is done, its last reports may still be in flight
                    task, timing = q.get(timeout=0.01 if pending else 10.0)
                except queue_mod.Empty:
                    break
                received += 1
                yield [(task, None, timing)]
            if not pending and received < expected:
                raise RuntimeError(f"sweep: {expected - received} trial reports were lost")
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _dask(address: str) -> Callable[[list[list[Task]], int, Path], Results]:
    def run(groups: list[list[Task]], workers: int, d: Path) -> Results:
        try:
            from distributed import Client, LocalCluster
            from distributed import as_completed as dask_completed
        except ImportError:
            raise SpecError(
                "--scheduler: needs dask.distributed; install it with pip install -e '.[dask]'"
            ) from None
        cluster = None
        if address == "local":
            cluster = LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
            )
            client = Client(cluster)
        else:
            try:  # an unreachable scheduler: one line within seconds, not a long hang
                client = Client(address, timeout=5)
            except OSError as exc:
                raise SpecError(f"--scheduler: {address!r} cannot be reached ({exc}); "
                                "allowed: a running Dask scheduler's address, or 'local'"
                                ) from None
        try:
            futures = client.map(run_tasks, groups, pure=False)
            for f in dask_completed(futures):
                yield f.result()
        finally:
            client.close()
            if cluster is not None:
                cluster.close()

    return run


# --- the runner -----------------------------------------------------------------------------
@dataclass
class SweepRun:
    """What a call of :func:`run_sweep` did."""

    dir: Path
    total: int  # trials in the sweep
    ran: int  # trials run by this call (the rest were on disk)
    wall_s: float
    startup_s: float  # a worker's first trial minus the median one: imports, numba cache

    @property
    def rate(self) -> float:
        return self.ran / self.wall_s if self.wall_s > 0 else 0.0


def _in_notebook() -> bool:
    """Whether this process is a Jupyter kernel (a notebook shows a widget bar, not stderr)."""
    shell = sys.modules.get("IPython") and getattr(sys.modules["IPython"], "get_ipython", None)
    return bool(shell) and type(shell()).__name__ == "ZMQInteractiveShell"


class Progress:
    """Trials done, rate, ETA: one line on stderr (redrawn in place on a terminal), or a
    ``tqdm.auto`` bar in a notebook (stderr lines show there as red text)."""

    def __init__(self, name: str, total: int, done: int, stream=None, enabled: bool = True):
        self.name, self.total, self.done0 = name, total, done
        self.done = done
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.t0 = time.perf_counter()
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.last = 0.0
        self.bar = None
        if enabled and stream is None and _in_notebook():
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, initial=done, desc=name, unit="trial")

    def step(self) -> None:
        self.done += 1
        now = time.perf_counter()
        if self.bar is not None:
            self.bar.update(1)
            return
        if self.enabled and (self.tty or now - self.last > 5 or self.done == self.total):
            self.last = now
            self._draw(now)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

    def _draw(self, now: float) -> None:
        ran, el = self.done - self.done0, now - self.t0
        rate = ran / el if el > 0 else 0.0
        eta = (self.total - self.done) / rate if rate > 0 else float("nan")
        line = (f"[{self.name}] {self.done}/{self.total} trials, {rate:.2f} trials/s, "
                f"ETA {eta:.0f} s")
        end = "\r" if self.tty and self.done < self.total else "\n"
        print(line, end=end, file=self.stream, flush=True)


def plan(spec: SweepSpec, d: Path) -> tuple[list[list[Task]], int]:
    """The trials still to run (those without a result file), grouped so that the trials of
    one group share a warm-up (same trial index, same ``warm_key``), and the sweep's total.
    Groups are listed trial by trial, so the first results cover every point."""
    prov = tuple(sorted(provenance().items()))
    groups: dict[tuple[int, str], list[Task]] = {}
    specs: dict[str, tuple[TrialSpec, str]] = {}
    for p, t in missing_trials(spec, d):
        if p.id not in specs:
            ts = spec.trial_spec(p)
            specs[p.id] = (ts, warm_key(ts))
        ts, key = specs[p.id]
        task = Task(spec.name, p.id, p.values, ts, spec.seed, t, spec.trials, prov)
        groups.setdefault((t, key), []).append(task)
    total = len(spec.points()) * spec.trials
    return [groups[k] for k in sorted(groups, key=lambda k: k[0])], total


def _write_header(spec: SweepSpec, d: Path, command: str | None) -> None:
    (d / "trials").mkdir(parents=True, exist_ok=True)
    for stale in (d / "trials").glob(".*.tmp*"):  # a write cut short by a kill
        stale.unlink()
    write_atomic(d / "spec.yaml", yaml.safe_dump(spec.to_dict(), sort_keys=False).encode())
    manifest = {
        "name": spec.name,
        "hash": spec.hash,
        "source": spec.source,
        "axes": list(spec.axes),
        "mode": spec.mode,
        "trials": spec.trials,
        "points": [{"id": p.id, "index": p.index, "values": p.as_dict()} for p in spec.points()],
        "command": command or f"allockit sweep {spec.source}",
    }
    write_atomic(d / "manifest.json", json.dumps(manifest, indent=1, default=str).encode())


def run_sweep(
    spec: SweepSpec,
    *,
    out: str | Path | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: bool = True,
    command: str | None = None,
    stream=None,
) -> SweepRun:
    """Run every trial of ``spec`` not yet on disk; return where the results are."""
    d = sweep_dir(spec, out)
    _write_header(spec, d, command)
    groups, total = plan(spec, d)
    todo = sum(len(g) for g in groups)
    workers = max(1, workers or os.cpu_count() or 1)
    if scheduler:
        execute: Callable[[list[list[Task]], int, Path], Iterable] = _dask(scheduler)
    elif workers == 1 or len(groups) <= 1:
        execute = _serial
    else:
        execute = _process_pool
        compile_once(groups[0][0].trial_spec, (stream or sys.stderr) if progress else None)
    bar = Progress(f"{spec.name}-{spec.hash}", total, total - todo, stream, progress)
    t0 = time.perf_counter()
    firsts, others = [], []
    with open(d / "timings.jsonl", "a") as log:
        for results in execute(groups, min(workers, max(1, len(groups))), d):
            for task, data, timing in results:
                if data is not None:  # not yet written by a pool worker
                    write_atomic(trial_path(d, Point(0, task.point_values), task.trial), data)
                log.write(json.dumps({"point": task.point_id, "trial": task.trial, **timing})
                          + "\n")
                log.flush()
                if timing["warmed_up"]:  # compare like with like: trials that warmed up
                    (firsts if timing["first_in_process"] else others).append(timing["total_s"])
                bar.step()
    bar.close()
    wall = time.perf_counter() - t0
    startup = 0.0
    if firsts and others:
        startup = max(0.0, float(pd.Series(firsts).mean() - pd.Series(others).median()))
    return SweepRun(d, total, todo, wall, startup)


def numba_cache_is_cold() -> bool:
    """Whether the simulator has no compiled code on disk yet (numba's cache of ``mm/``)."""
    import numba

    cache = Path(numba.config.CACHE_DIR)
    return not cache.is_dir() or not any(cache.rglob("*.nbi"))


def compile_once(ts: TrialSpec, stream=None) -> float:
    """Compile the simulator in this process before the pool starts, on a cold cache: the
    workers then load the compiled code instead of each compiling the same code at once (on
    2 cores, twice the wall time). A tiny machine with the sweep's strategies and kernel
    compiles the same code as the real one (numba specialises on types, not sizes).
    Returns the seconds spent (0 on a warm cache)."""
    if not numba_cache_is_cold():
        return 0.0
    if stream is not None:
        print("compiling the simulator once, before the workers start (minutes on a new "
              "machine; numba caches it, later runs load it in seconds)", file=stream, flush=True)
    t0 = time.perf_counter()
    small = TrialSpec(
        machine={**ts.machine, "ram": "64M", "cma_size": "16M", "kernel_reserved": 0},
        workload={} if "replay" in ts.workload else {"jobs": 1},
        costs=ts.costs, order=ts.order, nr_elem=max(1, min(8, 2048 >> ts.order)),
        strategies=ts.strategies, horizon_s=0.5,
    )
    try:
        run_trial(small, 0, 0, 1)
    except ValueError:  # a setup the small machine cannot hold: the workers compile instead
        return 0.0
    spent = time.perf_counter() - t0
    if stream is not None:
        print(f"compiled in {spent:.0f} s", file=stream, flush=True)
    return spent


def dry_run(spec: SweepSpec, out: str | Path | None = None, workers: int | None = None) -> str:
    """What ``run_sweep`` would do: each point with its trials still to run, the total, and a
    time estimate from this sweep's own earlier trials (``timings.jsonl``) when there are any."""
    d = sweep_dir(spec, out)
    lines = [f"{d}: {len(spec.points())} points x {spec.trials} trials"]
    missing = Counter(p.id for p, _ in missing_trials(spec, d))
    todo = sum(missing.values())
    for p in spec.points():
        lines.append(f"  {p.label() or 'base'}: {missing[p.id]} of {spec.trials} to run")
    lines.append(f"{todo} trials to run, {len(spec.points()) * spec.trials - todo} on disk")
    log = d / "timings.jsonl"
    if todo and log.exists():
        per = [json.loads(x)["total_s"] for x in log.read_text().splitlines() if x.strip()]
        if per:
            cores = max(1, workers or os.cpu_count() or 1)
            median = float(pd.Series(per).median())
            lines.append(f"estimate: {median * todo / cores:.0f} s on {cores} processes "
                         f"(median {median:.2f} s a trial so far)")
    return "\n".join(lines) + "\n"


def sweep_command(spec_file: str | Path, overrides: dict[str, Any] | None = None) -> str:
    """The ``allockit sweep`` command line that runs ``spec_file`` with ``overrides``."""
    import shlex

    words = ["allockit", "sweep", shlex.quote(str(spec_file))]
    for k, v in (overrides or {}).items():
        text = v if isinstance(v, str) else json.dumps(v, default=str)  # JSON is YAML
        words += ["--set", shlex.quote(f"{k}={text}")]
    return " ".join(words)


# --- reading results ------------------------------------------------------------------------
def resolve(
    target: str | Path, out: str | Path | None = None, overrides: dict[str, Any] | None = None
) -> Path:
    """A sweep directory, given the directory itself or the spec file (with the ``--set``
    overrides) that made it; a one-line error when that sweep has not run."""
    p = Path(target)
    if p.is_dir() and (p / "manifest.json").exists():
        return p
    if p.is_dir():
        raise SpecError(f"{p}: not a sweep directory (no manifest.json)")
    spec = load(p, overrides)
    d = sweep_dir(spec, out)
    if not (d / "manifest.json").exists():
        raise SpecError(f"{target}: no results for this spec (hash {spec.hash}, {d}); allowed: "
                        f"a sweep that has run: `{sweep_command(str(target), overrides)}`")
    return d


def load_results(d: str | Path) -> pd.DataFrame:
    """Every finished trial of a sweep, as one DataFrame (point order, then trial)."""
    d = Path(d)
    manifest = json.loads((d / "manifest.json").read_text())
    # the trials of the last run's count (a run with more trials left more files)
    files = sorted(f for f in (d / "trials").glob("p*-t*.parquet")
                   if int(f.stem.rsplit("-t", 1)[1]) < manifest["trials"])
    if not files:
        raise SpecError(f"{d}: no finished trials (run `allockit sweep` first)")
    df = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    order = {p["id"]: p["index"] for p in manifest["points"]}
    df["point_index"] = df["point"].map(order)
    return df.sort_values(["point_index", "trial", "strategy"], kind="stable").reset_index(
        drop=True
    )


def rerun_call(spec: SweepSpec, point: int, strategy: str, trial: int):
    """One call of a sweep run again from its parameters and seed (a trial is a pure function
    of them): the memory map of the warmed-up machine, the map after ``strategy``'s call (its
    blocks still held) and the call's ``StrategyResult``."""
    from .trial import trial_memory_maps

    ts = spec.trial_spec(spec.points()[point])
    ts.strategies = {strategy: ts.strategies[strategy]}
    maps = trial_memory_maps(ts, spec.seed, trial, spec.trials)
    after, result = maps[strategy]
    return maps["before"][0], after, result


def manifest(d: str | Path) -> dict[str, Any]:
    return json.loads((Path(d) / "manifest.json").read_text())
