"""The ``allockit`` command."""

from __future__ import annotations

import argparse
import sys


def _cmd_bench(args: argparse.Namespace) -> int:
    from .bench import main

    main(as_json=args.json, ops=args.ops, compile=not args.no_compile)
    return 0


def _cmd_reproduce(args: argparse.Namespace) -> int:
    from .reproduce import SEED_FILE, main

    return main(args.spec or SEED_FILE, trials=args.trials)


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

    params = {}
    for item in args.param or []:
        if "=" not in item:
            raise SystemExit(f"allockit run: --param {item!r}: expected KEY=VALUE")
        k, v = item.split("=", 1)
        params[k] = _parse_value(v)
    params["strategy"] = args.strategy
    spec = TrialSpec(
        machine=dict(ram=args.ram, cma_size=args.cma_size, nr_cpus=args.cpus, kernel=args.kernel),
        workload=dict(jobs=args.intensity),
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


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="allockit", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    b = sub.add_parser("bench", help="benchmark the simulated allocator")
    b.add_argument("--json", action="store_true", help="print one JSON object")
    b.add_argument("--ops", type=int, default=2_000_000, help="churn operations to time")
    b.add_argument("--no-compile", action="store_true", help="skip the cold/warm compile probe")
    b.set_defaults(func=_cmd_bench)
    r = sub.add_parser("reproduce", help="the seed experiment (Minchan Kim, linux-mm, Aug 2020)")
    r.add_argument("--spec", help="a seed-style spec file (default params/seed.yaml)")
    r.add_argument("--trials", type=int, help="override the number of trials")
    r.set_defaults(func=_cmd_reproduce)
    u = sub.add_parser("run", help="one configuration, one line per trial")
    u.add_argument("--strategy", required=True)
    u.add_argument("--ram", default="1536M", help="size: 1536M, 1.5G or a page count")
    u.add_argument("--cma-size", default="500M")
    u.add_argument("--cpus", type=int, default=4)
    u.add_argument("--order", type=int, default=4)
    u.add_argument("--nr-elem", type=int, default=4800)
    u.add_argument("--intensity", type=int, default=4, help="compile jobs (make -jN); 0 = idle")
    u.add_argument("--trials", type=int, default=1)
    u.add_argument("--seed", type=int, default=0)
    u.add_argument("--kernel", default="5.9", choices=["5.9", "6.1"])
    u.add_argument(
        "--horizon", type=float, default=12.0, help="seconds of workload after the start"
    )
    u.add_argument("--param", action="append", help="strategy parameter KEY=VALUE (repeatable)")
    u.add_argument("--json", action="store_true", help="JSON lines")
    u.set_defaults(func=_cmd_run)
    from .lab.cli import register as register_lab

    register_lab(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ValueError as exc:  # every invalid parameter: one clear line, no traceback
        print(f"allockit {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
