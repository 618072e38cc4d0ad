"""``allockit bench``: what it prints, and the numba yardstick it measures against."""

import json

import numpy as np

from allockit import minbuddy
from allockit.cli import main as cli


def _free_blocks(nxt, order):
    head = minbuddy.NR_PAGES + order
    e, n = nxt[head], 0
    while e != head:
        n, e = n + 1, nxt[e]
    return n


def test_minimal_buddy_accounts_for_every_page():
    m, arrays, target = minbuddy.zone()
    nxt, prv, ord_, isfree, live_pfn, live_ord = arrays
    minbuddy.churn(m, *arrays, 50_000, target)
    free = sum(_free_blocks(nxt, o) << o for o in range(minbuddy.MAX_ORDER))
    nlive = int(m[1])
    assert free == m[0]
    assert free + int(np.sum(1 << live_ord[:nlive])) == minbuddy.NR_PAGES
    assert not isfree[live_pfn[:nlive]].any()
    assert abs(free - target) < 1 << minbuddy.MAX_ORDER  # held at the C program's occupancy


def test_cli_bench_quick_prints_every_figure(capsys):
    assert cli(["bench", "--quick", "--json", "--ops", "20000"]) == 0
    r = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for key in ("buddy_ns_per_op", "numba_min_buddy_ns_per_op", "ratio_to_numba",
                "seed_trial_s", "seed_warm_s", "bytes_per_page"):
        assert r[key] > 0, key
    assert r["seed_warm_s"] < r["seed_trial_s"]
    assert set(r["seed_trial_parts_s"]) >= {"warm", "cma_single", "cma_chunked"}
    assert 0.7 < r["occupancy_end"] < 0.8
    # a 16x larger machine holds more: the probe ran at the size it names
    assert r["scale_24G_rss_mb"] > r["scale_1.5G_rss_mb"] > 0
    assert r["scale_24G_s"] > 0 and r["scale_1.5G_s"] > 0
    assert "cold_start_s" not in r and "compile_s" not in r  # --quick leaves them out
