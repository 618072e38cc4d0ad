"""``allockit lab run``: the command-line entry of the real-kernel lab.

``register(subparsers)`` adds the ``lab`` command (with its one subcommand, ``run``) to the
``allockit`` parser; ``allockit/cli.py`` calls it. Invalid parameters raise ValueError, which
``allockit.cli.main`` prints as one line.
"""

from __future__ import annotations

import argparse


def _cmd_lab_run(args: argparse.Namespace) -> int:
    from .experiments import EXPERIMENTS
    from .rows import summarize
    from .runner import run_lab
    from .spec import LabSpec

    exps = list(EXPERIMENTS) if args.experiments in (None, "all") else args.experiments.split(",")
    spec = LabSpec(
        kernel=args.kernel,
        ram=args.ram,
        cma_size=args.cma_size,
        cpus=args.cpus,
        jobs=args.jobs,
        trials=args.trials,
        order=args.order,
        nr_elem=args.nr_elem,
        experiments=[e.strip() for e in exps if e.strip()],
        workload=args.workload,
        seed=args.seed,
        warm_pct=args.warm_pct,
        warm_timeout_s=args.warm_timeout,
        gap_s=args.gap,
        refill_timeout_s=args.refill_timeout,
        timeout_s=args.timeout,
        accel=args.accel,
    )
    spec.check()
    res = run_lab(spec)
    print(summarize(res.rows) if res.rows else "no results")
    print(f"console log: {res.console}")
    if res.parquet:
        print(f"results: {res.parquet} ({len(res.rows)} rows, {res.wall_s:.0f} s)")
    for p in res.problems:
        print(f"PROBLEM: {p}")
    return 1 if res.problems else 0


def register(subparsers) -> None:
    """Add ``lab run`` to an ``argparse`` subparsers object."""
    from .experiments import EXPERIMENTS
    from .kernel import KERNELS
    from .spec import WORKLOADS, LabSpec

    d = LabSpec()
    lab = subparsers.add_parser("lab", help="the same experiments on a real kernel under QEMU")
    lsub = lab.add_subparsers(dest="lab_command", required=True)
    r = lsub.add_parser("run", help="boot a CMA kernel, run the experiments, write Parquet",
                        formatter_class=argparse.ArgumentDefaultsHelpFormatter)  # fmt: skip
    r.add_argument("--kernel", default=d.kernel, help=f"one of {', '.join(KERNELS)}")
    r.add_argument("--ram", default=d.ram, help="guest RAM, whole MiB (1536M)")
    r.add_argument("--cma-size", default=d.cma_size, help="cma= on the guest command line")
    r.add_argument("--cpus", type=int, default=d.cpus, help="guest vCPUs")
    r.add_argument("--jobs", type=int, default=d.jobs, help="workload jobs (make -jN)")
    r.add_argument("--trials", type=int, default=d.trials)
    r.add_argument("--order", type=int, default=d.order)
    r.add_argument("--nr-elem", type=int, default=d.nr_elem)
    r.add_argument(
        "--experiments", default="all", help="comma-separated: " + ", ".join(EXPERIMENTS)
    )
    r.add_argument("--workload", default=d.workload, help=", ".join(WORKLOADS))
    r.add_argument("--seed", type=int, default=d.seed)
    r.add_argument("--warm-pct", type=int, default=d.warm_pct,
                   help="warm when CmaFree <= this %% of CmaTotal")  # fmt: skip
    r.add_argument("--warm-timeout", type=int, default=d.warm_timeout_s, help="seconds")
    r.add_argument("--gap", type=int, default=d.gap_s, help="seconds before each experiment")
    r.add_argument("--refill-timeout", type=int, default=d.refill_timeout_s, help="seconds")
    r.add_argument("--timeout", type=int, default=None, help="kill the guest after (s)")
    r.add_argument("--accel", default=d.accel, help="auto (KVM only with vmx/svm), tcg, kvm")
    r.set_defaults(func=_cmd_lab_run)
