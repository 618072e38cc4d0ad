"""Intervals for what the tables and figures show: success counts and medians.

A success count out of 10 trials says little without its interval: 10/10 and 8/10 are not
different at 95 %. ``wilson`` gives the Wilson score interval of a binomial proportion (it
behaves at 0/n and n/n, where the normal approximation collapses); ``median_ci`` a percentile
bootstrap interval of a median, seeded so that a table prints the same bytes every time.
``differ`` calls two quantities different only when their intervals do not overlap.
"""

from __future__ import annotations

import math

import numpy as np

Z95 = 1.959963984540054  # the standard normal's 97.5 % quantile
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 20200814  # any fixed seed: intervals must not change between runs


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of ``k`` successes in ``n`` trials (95 % by default).

    Returns ``(lo, hi)`` as proportions; ``(0.0, 1.0)`` when ``n`` is 0.
    """
    if n < 0 or not 0 <= k <= n:
        raise ValueError(f"wilson: k={k}, n={n}; allowed: 0 <= k <= n")
    if n == 0:
        return 0.0, 1.0
    p = k / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    lo, hi = max(0.0, centre - half), min(1.0, centre + half)
    # at 0/n and n/n the bound is exact; floating point must not leave 1e-17 behind
    return (0.0 if k == 0 else lo), (1.0 if k == n else hi)


def median_ci(
    values, level: float = 0.95, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED
) -> tuple[float, float]:
    """Percentile bootstrap interval of the median of ``values`` (NaN, NaN when empty)."""
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    if len(x) == 0:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(x), size=(resamples, len(x)))
    medians = np.median(x[idx], axis=1)
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(medians, [tail, 100 - tail])
    return float(lo), float(hi)


def differ(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """Whether two intervals say the quantities differ: they do not overlap."""
    return a[1] < b[0] or b[1] < a[0]


def format_count(k: int, n: int) -> str:
    """``"8/10 [49-94%]"``: a success count with its Wilson 95 % interval in percent."""
    lo, hi = wilson(k, n)
    return f"{k}/{n} [{lo * 100:.0f}-{hi * 100:.0f}%]"
