"""Benchmark of the simulated buddy allocator: prints ns/op, compile and load times.

Run: python benchmarks/bench_buddy.py [--json]   (the same as `allockit bench`)
"""

import sys

from allockit.bench import main

if __name__ == "__main__":
    main(as_json="--json" in sys.argv)
