"""Intervals: Wilson score intervals and bootstrap intervals of medians, against known values."""

import math

import numpy as np
import pytest

from allockit.report.stats import differ, format_count, median_ci, wilson


@pytest.mark.parametrize(
    "k, n, lo, hi",
    [
        # Wilson 95 % intervals as tabulated (e.g. Newcombe 1998, method 3; R's prop.test
        # without continuity correction): 0/10, 1/10, 5/10, 7/10, 8/10, 10/10, 81/263
        (0, 10, 0.0, 0.2775),
        (1, 10, 0.0179, 0.4042),
        (5, 10, 0.2366, 0.7634),
        (7, 10, 0.3968, 0.8922),
        (8, 10, 0.4902, 0.9433),
        (10, 10, 0.7225, 1.0),
        (81, 263, 0.2553, 0.3662),
    ],
)
def test_wilson_known_values(k, n, lo, hi):
    a, b = wilson(k, n)
    assert a == pytest.approx(lo, abs=5e-5) and b == pytest.approx(hi, abs=5e-5)


def test_wilson_edges_and_bad_input():
    assert wilson(0, 0) == (0.0, 1.0)
    assert wilson(0, 5)[0] == 0.0 and wilson(5, 5)[1] == 1.0
    with pytest.raises(ValueError, match="wilson: k=11, n=10"):
        wilson(11, 10)
    assert format_count(8, 10) == "8/10 [49-94%]"


def test_counts_called_different_only_when_intervals_separate():
    assert not differ(wilson(10, 10), wilson(8, 10))  # 10/10 and 8/10 overlap
    assert differ(wilson(10, 10), wilson(0, 10))
    assert differ((1.0, 2.0), (2.5, 3.0)) and differ((2.5, 3.0), (1.0, 2.0))
    assert not differ((1.0, 2.0), (2.0, 3.0))


def test_median_ci_covers_the_median_and_is_deterministic():
    x = np.array([57, 90, 120, 150, 181, 200, 230, 260, 283, 374], dtype=float)
    lo, hi = median_ci(x)
    assert lo <= np.median(x) <= hi
    assert lo >= x.min() and hi <= x.max()
    assert median_ci(x) == (lo, hi)  # the same bytes every time
    assert median_ci([5.0] * 7) == (5.0, 5.0)
    assert all(math.isnan(v) for v in median_ci([]))
    # NaN entries (failed calls without a latency) are left out, not propagated
    assert median_ci([*x, math.nan]) == median_ci(x)


def test_median_ci_narrows_with_more_data():
    rng = np.random.default_rng(0)
    small = rng.lognormal(5, 0.5, 10)
    big = rng.lognormal(5, 0.5, 1000)
    w_small = np.subtract(*median_ci(small)[::-1])
    w_big = np.subtract(*median_ci(big)[::-1])
    assert w_big < w_small / 3



def test_median_ci_covers_the_true_median_about_95_percent_of_the_time():
    rng = np.random.default_rng(1)
    true = math.exp(5)  # the median of lognormal(5, 0.5)
    hits = 0
    for _ in range(200):
        lo, hi = median_ci(rng.lognormal(5, 0.5, 30), resamples=500)
        hits += lo <= true <= hi
    assert 0.88 <= hits / 200 <= 0.99
