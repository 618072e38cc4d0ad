"""allockit: a page-granular simulation of the Linux page allocator (v5.9, with a 6.1 variant)
running while a kernel build runs, to compare ways of getting many high-order pages out of a
CMA area (one cma_alloc, MAX_ORDER-1 chunks, the 2020 bulk API, ...). Start with
`allockit reproduce`; `allockit COMMAND --help` for each command."""

from __future__ import annotations

import argparse
import sys


def _cmd_bench(args: argparse.Namespace) -> int:
    from .bench import main

    main(as_json=args.json, ops=args.ops, quick=args.quick)
    return 0


def _cmd_reproduce(args: argparse.Namespace) -> int:
    from .reproduce import SEED_FILE, main

    return main(args.spec or SEED_FILE, trials=args.trials)


def _cmd_robustness(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .experiment.spec import parse_overrides
    from .robustness import main

    _check_out_and_workers(args)
    return main(run=not args.no_run, overrides=parse_overrides(args.set),
                workers=args.workers, out=Path(args.out) if args.out else None)


def _check_out_and_workers(args: argparse.Namespace) -> None:
    """``--out`` must be a directory (or not exist yet), ``--workers`` at least 1."""
    from pathlib import Path

    if args.out and Path(args.out).exists() and not Path(args.out).is_dir():
        raise ValueError(f"--out: {args.out} is a file; allowed: a directory (made if missing)")
    if args.workers is not None and args.workers < 1:
        raise ValueError(f"--workers: {args.workers}; allowed: an integer >= 1")


def _cmd_sweep(args: argparse.Namespace) -> int:
    from .experiment.spec import load, parse_overrides
    from .experiment.sweep import dry_run, run_sweep, sweep_command, sweep_dir

    overrides = parse_overrides(args.set)
    _check_out_and_workers(args)
    spec = load(args.spec, overrides)  # every point validated: no work yet
    if args.dry_run:
        print(dry_run(spec, args.out, args.workers), end="")
        return 0
    try:
        run = run_sweep(spec, out=args.out, workers=args.workers, scheduler=args.scheduler,
                        progress=not args.quiet, command=sweep_command(args.spec, overrides))
    except KeyboardInterrupt:  # Ctrl-C: every finished trial is on disk already
        d = sweep_dir(spec, args.out)
        kept = len(list((d / "trials").glob("*.parquet")))
        print(f"\nallockit sweep: interrupted; {kept} of {len(spec.points()) * spec.trials} "
              f"trials kept in {d}; the same command resumes", file=sys.stderr)
        return 130
    print(f"{run.dir}: {run.total} trials ({run.ran} run now in {run.wall_s:.1f} s, "
          f"{run.rate:.2f} trials/s; worker start-up ~{run.startup_s:.1f} s)")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from .experiment.spec import parse_overrides
    from .experiment.sweep import resolve
    from .report.text import sweep_report

    d = resolve(args.sweep, args.out, parse_overrides(args.set))
    print(sweep_report(d, baseline=args.baseline, strategies=args.strategy, point=args.point,
                       summary=args.summary), end="")
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    import hashlib
    from pathlib import Path

    from .report.figures import save
    from .report.kernels import compare_kernels, kernels_figure, load_columns

    cols = load_columns(args.inputs)  # read once, for the table and the figure
    print(compare_kernels(cols, strategies=args.strategy), end="")
    if args.figure:
        tag = hashlib.sha256("\0".join(str(Path(p).resolve()) for p in args.inputs)
                             .encode()).hexdigest()[:10]
        for f in save(kernels_figure(cols, args.strategy), args.figure,
                      "compare-kernels", tag):
            print(f"figure: {f}")
    return 0


def _cmd_notebooks(args: argparse.Namespace) -> int:
    from .notebooks import run_notebooks

    return run_notebooks(params_file=args.params, only=args.only, out=args.out)


def _cmd_trace_stats(args: argparse.Namespace) -> int:
    import json

    from .workload.tracestats import trace_stats

    r = trace_stats(args.trace, args.formats, errors="count" if args.skip_bad else "raise")
    if not r["event_counts"]:
        raise ValueError(f"{args.trace}: no trace events in it; allowed: an ftrace text capture "
                         "(the output of /sys/kernel/tracing/trace), plain or compressed")
    if args.json:
        print(json.dumps(r, default=str))
        return 0
    print(f"{r['source']}: {r['duration_s']:.2f} s, {r['allocs']:,} allocations "
          f"({r['allocs_per_s']:,.0f}/s), {r['frees']:,} frees ({r['frees_per_s']:,.0f}/s), "
          f"{r['failed_allocs']} failed")
    print("orders: " + ", ".join(f"{o}: {v:.4f}" for o, v in r["order_mix"].items()))
    print("migratetypes: " + ", ".join(f"{r['migratetype_names'].get(m, m)}: {v:.3f}"
                                       for m, v in r["migratetype_mix"].items()))
    for kind, lt in r["lifetime_ms"].items():
        if lt["allocs"]:
            print(f"lifetime {kind:<12} median {lt['median_ms']} ms, p90 {lt['p90_ms']} ms, "
                  f"never freed {lt['never_freed_fraction']:.3f} of {lt['allocs']:,}")
    print(f"page cache: {r['pagecache']['adds_per_s']:,.0f} insertions/s; dirtied folios "
          f"{r['dirtied_folios_per_s']:,.0f}/s; parse errors {sum(r['parse']['errors'].values())}")
    return 0


def _parse_value(text: str):
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def _cmd_run(args: argparse.Namespace) -> int:
    import json

    from .experiment.trial import TrialSpec, check_spec, run_trial
    from .workload.replay import parse_workload_arg

    params = {}
    for item in args.param or []:
        if "=" not in item:
            raise SystemExit(f"allockit run: --param {item!r}: expected KEY=VALUE")
        k, v = item.split("=", 1)
        params[k] = _parse_value(v)
    params["strategy"] = args.strategy
    if args.trials < 1:
        raise ValueError(f"--trials: {args.trials}; allowed: an integer >= 1")
    if args.seed < 0:
        raise ValueError(f"--seed: {args.seed}; allowed: an integer >= 0")
    workload = parse_workload_arg(args.workload) or dict(jobs=args.intensity)
    for item in args.workload_param or []:
        k, eq, v = item.partition("=")
        if not eq or not k:
            raise ValueError(f"--workload-param: {item!r}; allowed: KEY=VALUE")
        if "replay" in workload:
            raise ValueError(f"--workload-param: {item!r}; allowed only with the kbuild workload")
        workload[k] = _parse_value(v)
    spec = TrialSpec(
        machine=dict(ram=args.ram, cma_size=args.cma_size, nr_cpus=args.cpus, kernel=args.kernel),
        workload=workload,
        order=args.order,
        nr_elem=args.nr_elem,
        strategies={args.strategy: params},
        horizon_s=args.horizon,
    )
    check_spec(spec)
    for trial in range(args.trials):
        for row in run_trial(spec, args.seed, trial, args.trials):
            if args.json:
                print(json.dumps(row, default=str), flush=True)
            else:
                print(
                    f"trial {trial}: {row['strategy']} got {row['got']}/{row['nr_elem']} "
                    f"{row['errno']} in {row['latency_ms']:.1f} ms (mostly {row['dominant']})",
                    flush=True,
                )
    return 0


def _seed_defaults() -> dict:
    """The seed spec's root seed and horizon: `allockit run` defaults to them."""
    import yaml

    from .paths import PARAMS_DIR

    raw = yaml.safe_load((PARAMS_DIR / "seed.yaml").read_text())
    return {"seed": int(raw["seed"]), "horizon_s": float(raw["horizon_s"])}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="allockit", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    b = sub.add_parser("bench", help="benchmark the simulated allocator")
    b.add_argument("--json", action="store_true", help="print one JSON object")
    b.add_argument("--ops", type=int, default=2_000_000, help="churn operations to time")
    b.add_argument("--quick", action="store_true",
                   help="only what takes seconds: churn, seed trial, 1.5G and 24G scale")
    b.set_defaults(func=_cmd_bench)
    r = sub.add_parser("reproduce", help="the seed experiment (Minchan Kim, linux-mm, Aug 2020)")
    r.add_argument("--spec", help="a seed-style spec file (default params/seed.yaml)")
    r.add_argument("--trials", type=int, help="override the number of trials")
    r.set_defaults(func=_cmd_reproduce)
    from .mm.constants import KERNEL_VERSIONS
    from .strategies import STRATEGIES

    seed = _seed_defaults()
    u = sub.add_parser(
        "run", help="one configuration, one line per trial",
        description="One strategy on one machine under the workload, one line (or JSON object) "
        "per trial. The defaults are the seed's (params/seed.yaml): trial i here is trial i of "
        "`allockit reproduce`. Strategies: " + ", ".join(STRATEGIES) + ". Sizes: a page count "
        "or a number with K/M/G (binary units), e.g. 1536M.")
    u.add_argument("--strategy", required=True, help="one of: " + ", ".join(STRATEGIES))
    u.add_argument("--ram", default="1536M", help="size (default %(default)s)")
    u.add_argument("--cma-size", default="500M", help="size (default %(default)s)")
    u.add_argument("--cpus", "--nr-cpus", dest="cpus", type=int, default=4,
                   help="CPUs (default %(default)s)")
    u.add_argument("--order", type=int, default=4, help="block order (default %(default)s)")
    u.add_argument("--nr-elem", type=int, default=4800, help="blocks (default %(default)s)")
    u.add_argument("--intensity", "--jobs", dest="intensity", type=int, default=4,
                   help="compile jobs (make -jN); 0 = idle (default %(default)s)")
    u.add_argument("--workload", default="kbuild",
                   help="kbuild (synthetic, --jobs jobs) or replay:PATH (an ftrace capture)")
    u.add_argument("--trials", type=int, default=1, help="(default %(default)s)")
    u.add_argument("--seed", type=int, default=seed["seed"],
                   help="root seed (default %(default)s, the seed spec's)")
    u.add_argument("--kernel", default="5.9", choices=list(KERNEL_VERSIONS))
    u.add_argument(
        "--horizon", "--horizon-s", dest="horizon", type=float, default=seed["horizon_s"],
        help="seconds of workload after the start (default %(default)s, the seed spec's)"
    )
    u.add_argument("--param", action="append", help="strategy parameter KEY=VALUE (repeatable)")
    u.add_argument("--workload-param", action="append", metavar="KEY=VALUE",
                   help="a parameter of params/workload-kbuild.yaml for this run "
                   "(repeatable), e.g. pagecache_fill=0.8: 80 %% of RAM in the page cache")
    u.add_argument("--json", action="store_true", help="JSON lines")
    u.set_defaults(func=_cmd_run)
    w = sub.add_parser("sweep", help="run every trial of an experiment spec (resumes)")
    w.add_argument("spec", help="a spec file, e.g. params/sweep-order.yaml")
    w.add_argument("--set", action="append", metavar="PATH=VALUE",
                   help="override a spec value (YAML), e.g. machine.ram=256M or axes.order=[2,4]")
    w.add_argument("--workers", type=int, help="processes (default: one per core)")
    w.add_argument("--scheduler", help="Dask scheduler ADDRESS, or 'local' for a LocalCluster")
    w.add_argument("--out", help="sweeps directory (default data/sweeps)")
    w.add_argument("--quiet", action="store_true", help="no progress line")
    w.add_argument("--dry-run", action="store_true",
                   help="list the points and the trials still to run; run nothing")
    w.set_defaults(func=_cmd_sweep)
    o = sub.add_parser("robustness",
                       help="the seed's conclusions under every ablation and workload estimate")
    o.add_argument("--no-run", action="store_true",
                   help="only read the sweeps' results (fail if a trial is missing)")
    o.add_argument("--set", action="append", metavar="PATH=VALUE",
                   help="override a value of both sweeps, e.g. trials=3")
    o.add_argument("--workers", type=int, help="processes (default: one per core)")
    o.add_argument("--out", help="data directory (default data/)")
    o.set_defaults(func=_cmd_robustness)
    t = sub.add_parser("report", help="mailing-list text (<= 80 columns) for a sweep")
    t.add_argument("sweep", help="a sweep directory, or the spec file that made it")
    t.add_argument("--baseline",
                   help="strategy label of the first column (default: the spec's first)")
    t.add_argument("--point", help="only this point, by its label (e.g. workload.jobs=8) or id")
    t.add_argument("--summary", action="store_true",
                   help="one screen across every point: successes and median latency")
    t.add_argument("--strategy", action="append",
                   help="a strategy label to show (repeatable; default: all)")
    t.add_argument("--out", help="sweeps directory (default data/sweeps), for a spec file")
    t.add_argument("--set", action="append", metavar="PATH=VALUE",
                   help="the overrides the sweep ran with (as given to `allockit sweep`)")
    t.set_defaults(func=_cmd_report)
    c = sub.add_parser("compare", help="kernel against kernel: sweeps and lab runs, "
                       "mmtests' Min/Amean/Max per strategy (<= 80 columns)")
    c.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="a sweep directory or the spec file that made it (one column per "
                   "point, e.g. params/sweep-kernels.yaml), or a lab result file "
                   "(data/lab/*.parquet) or directory (one column per kernel)")
    c.add_argument("--strategy", action="append",
                   help="a strategy label to show (repeatable; default: all)")
    c.add_argument("--figure", metavar="DIR",
                   help="also write the comparison figure (SVG and PNG) into DIR")
    c.set_defaults(func=_cmd_compare)
    x = sub.add_parser("trace-stats", help="statistics of an ftrace capture (streaming)")
    x.add_argument("trace", help="ftrace text (plain, .xz, .gz or .bz2)")
    x.add_argument("--formats", help="the capture's events/*/format files (version-aware)")
    x.add_argument("--json", action="store_true", help="one JSON object")
    x.add_argument("--skip-bad", action="store_true",
                   help="skip and count unreadable lines instead of stopping at the first")
    x.set_defaults(func=_cmd_trace_stats)
    from .ingest.snapshot import register as register_snapshot
    from .lab.cli import register as register_lab

    register_snapshot(sub)
    register_lab(sub)
    n = sub.add_parser("notebooks", help="execute the notebooks with papermill, one at a time")
    n.add_argument("--params", help="YAML of papermill parameters (all, or per notebook name)")
    n.add_argument("--only", action="append", help="a notebook name or number (repeatable)")
    n.add_argument("--out", help="where executed notebooks go (default data/notebooks)")
    n.set_defaults(func=_cmd_notebooks)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ValueError as exc:  # every invalid parameter: one clear line, no traceback
        print(f"allockit {args.command}: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a missing file, a directory where a file was meant, ...
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"allockit {args.command}: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
