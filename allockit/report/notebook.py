"""What the notebooks call: a sweep's results (running the sweep first when trials are
missing), its tables and its figures, so each notebook stays a few lines."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ..experiment.spec import SweepSpec, load
from ..experiment.sweep import load_results, manifest, rerun_call, run_sweep, sweep_command
from ..paths import DATA_DIR
from .figures import (
    aggregate,
    call_breakdown_chart,
    median_call,
    run_description,
    save,
    sweep_figures,
    trial_figures,
    x_column,
)
from .memmap import memory_map_chart, pageblock_frame
from .text import sweep_report

FIGURES_DIR = DATA_DIR / "figures"


@dataclass
class SweepView:
    """A finished sweep: spec, directory, trial rows and manifest."""

    spec: SweepSpec
    dir: Path
    df: pd.DataFrame
    manifest: dict[str, Any]

    @classmethod
    def run(
        cls,
        spec_file: str | Path,
        overrides: dict[str, Any] | None = None,
        *,
        workers: int | None = None,
        out: str | Path | None = None,
        progress: bool = True,
    ) -> SweepView:
        """Load the spec (with ``overrides``), run the trials not on disk yet, read them all."""
        spec = load(spec_file, overrides)
        run = run_sweep(spec, out=out, workers=workers, progress=progress,
                        command=sweep_command(spec_file, overrides))
        return cls(spec, run.dir, load_results(run.dir), manifest(run.dir))

    @property
    def x(self) -> str | None:
        """The column a figure puts on its x axis."""
        return x_column(self.manifest)

    @property
    def what(self) -> str:
        """What ran, from the resolved spec (overrides included), for titles and captions."""
        return run_description(self.spec.base, self.spec.trials, tuple(self.spec.axes))

    def summary(self) -> pd.DataFrame:
        """Per point and strategy: success rate, blocks got, latency median and spread."""
        by = [self.x, "strategy"] if self.x else ["strategy"]
        return aggregate(self.df, by)

    def table(self, baseline: str | None = None, strategies: list[str] | None = None) -> str:
        """The mmtests-style text, ready for a reply."""
        return sweep_report(self.dir, baseline=baseline, strategies=strategies)

    def charts(self) -> dict[str, object]:
        if self.x is None:
            return trial_figures(self.df, self.spec.hash, self.what)
        return sweep_figures(self.df, self.x, self.spec.hash, self.what)

    def save_figures(self, outdir: str | Path | None = None) -> list[Path]:
        """Every chart as SVG and PNG, the spec hash in the file names."""
        paths = []
        for name, chart in self.charts().items():
            paths += save(chart, outdir or FIGURES_DIR, f"{self.spec.name}-{name}",
                          self.spec.hash)
        return paths

    def drilldown(self, strategy: str | None = None, trial: int | None = None, point: int = 0,
                  by: str = "blocker"):
        """One call of the sweep (by default the one the breakdown figure shows first),
        re-run from its parameters and seed: where its time went
        (from its row) above the machine's memory map before the call and after it (its
        blocks still held), coloured ``by`` "blocker" or "migratetype".

        A trial is a pure function of its parameters and seed, so the re-run must get what
        the stored row got in the same time; if it does not (results from another version of
        the model), this raises instead of drawing another machine."""
        import altair as alt

        df = self.df
        if strategy is None or trial is None:
            first, median = median_call(df[df.point_index == point])
            strategy = first if strategy is None else strategy
            trial = median if trial is None else trial
        row = df[(df.strategy == strategy) & (df.trial == trial) & (df.point_index == point)]
        if row.empty:
            raise ValueError(
                f"drilldown: no trial {trial} of strategy {strategy!r} at point {point}; "
                f"strategies: {', '.join(sorted(df.strategy.unique()))}; trials "
                f"0..{df.trial.max()}; points 0..{df.point_index.max()}")
        before, after, result = rerun_call(self.spec, point, strategy, trial)
        stored = row.iloc[0]
        if result.got != stored.got or abs(result.latency_ns / 1e6 - stored.latency_ms) > 1e-6:
            raise RuntimeError(
                f"drilldown: the re-run of {strategy} trial {trial} got {result.got} blocks in "
                f"{result.latency_ns / 1e6:.3f} ms, the stored row {stored.got} in "
                f"{stored.latency_ms:.3f} ms: the results in {self.dir} come from another "
                "version of the model; re-run the sweep")
        frames = {"before": pageblock_frame(before),
                  f"after {strategy} ({result.got:,}/{result.nr_elem:,})":
                      pageblock_frame(after)}
        return alt.vconcat(call_breakdown_chart(row),
                           memory_map_chart(frames, self.spec.hash, by=by),
                           spacing=24).resolve_scale(color="independent")
