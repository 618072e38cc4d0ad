"""The ``allockit`` command."""

from __future__ import annotations

import argparse
import sys


def _cmd_bench(args: argparse.Namespace) -> int:
    from .bench import main

    main(as_json=args.json, ops=args.ops, compile=not args.no_compile)
    return 0


def _cmd_reproduce(args: argparse.Namespace) -> int:
    from .reproduce import main

    return main()


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="allockit", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    b = sub.add_parser("bench", help="benchmark the simulated allocator")
    b.add_argument("--json", action="store_true", help="print one JSON object")
    b.add_argument("--ops", type=int, default=2_000_000, help="churn operations to time")
    b.add_argument("--no-compile", action="store_true", help="skip the cold/warm compile probe")
    b.set_defaults(func=_cmd_bench)
    r = sub.add_parser("reproduce", help="the seed experiment (Minchan Kim, linux-mm, Aug 2020)")
    r.set_defaults(func=_cmd_reproduce)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
