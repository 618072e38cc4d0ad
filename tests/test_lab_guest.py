"""Parsing the guest's console (allockit/lab/guest.py) and turning it into result rows
(allockit/lab/rows.py), on console logs captured from real lab runs (tests/fixtures/lab/)."""

from __future__ import annotations

from pathlib import Path

import pytest

from allockit.lab.guest import parse_console, parse_kv, write_conf
from allockit.lab.rows import calib_factors, rows_from_log
from allockit.lab.spec import LabSpec

FIX = Path(__file__).resolve().parent / "fixtures" / "lab"
IDLE = (FIX / "5.10-idle.console.log").read_text()
KBUILD = (FIX / "5.10-kbuild-j2-short.console.log").read_text()
# what host_calibration measured on the host for the idle run (min of 3)
HOST = {"int_ns": 105478778, "memcpy_ns": 5031163, "memset_ns": 1364207, "fault_ns": 15787350}


def test_idle_run_parses_completely():
    log = parse_console(IDLE)
    assert log.done and not log.problems() and not log.unknown and not log.crash
    assert log.one("boot")["kernel"] == "5.10.262-allockit-lab"
    assert log.one("cma") == {"cma": "reserved", "base_pfn": 264192, "count": 128000, "t": 5.58}
    res = log.events["result"]
    assert [r["label"] for r in res] == [
        "cma_single_a0", "cma_single", "cma_chunked", "cma_chunked_o9",
        "buddy_compaction", "buddy_compaction_movable", "cma_many",
    ]  # fmt: skip
    assert all(r["got"] == 4800 and r["ret"] == 0 for r in res)
    assert res[0]["latency_ns"] == 15036160 and res[0]["param"] == 0
    assert res[2]["calls"] == 75 and res[3]["calls"] == 150  # 4 MiB / 2 MiB chunks
    assert res[6]["acr_calls"] == 4800  # cma_many: one alloc_contig_range per call
    assert res[5]["param"] == "movable" and res[6]["param"] == "-"
    assert len(log.events["meminfo"]) == 7
    assert log.events["meminfo"][0]["CmaTotal_kb"] == 512000


def test_loaded_run_has_busy_retries_and_a_failure():
    log = parse_console(KBUILD)
    assert log.done and not log.problems()
    warm = log.one("warm")
    assert warm["reached"] == 1 and warm["CmaFree_kb"] <= 512000 // 10
    single, chunked, buddy = log.events["result"]
    assert (single["got"], single["ret"], single["acr_ebusy"]) == (0, -12, 201)
    assert chunked["got"] == 4800 and chunked["acr_calls"] == 111 and chunked["acr_ebusy"] == 36
    assert (buddy["got"], buddy["calls"]) == (634, 635)  # stops at the first failure


def test_rows_carry_the_run_json_fields_and_corrected_latency():
    log = parse_console(KBUILD)
    spec = LabSpec(experiments=["cma_single", "cma_chunked", "buddy_compaction"], trials=1)
    rows = rows_from_log(log, spec, HOST, {"kernel": "5.10"})
    assert len(rows) == 3
    single, chunked, buddy = rows
    for key in ("strategy", "trial", "seed", "got", "nr_elem", "success", "errno", "latency_ms",
                "calls", "sim_cma_alloc_retry", "warm_free_cma_pages"):  # fmt: skip
        assert key in single
    assert single["errno"] == "-ENOMEM" and not single["success"]
    assert single["latency_ms"] == pytest.approx(9816.65891)
    f = calib_factors(log.one("calib"), HOST)["slowdown_fault"]
    assert f > 1
    assert single["latency_ms_corrected"] == pytest.approx(single["latency_ms"] / f)
    assert single["calls"] == 201 and single["sim_cma_alloc_retry"] == 201
    assert chunked["success"] and chunked["errno"] == "0" and chunked["calls"] == 111
    assert buddy["calls"] == 635 and buddy["sim_cma_alloc_retry"] == 0
    # meminfo before the trial, in pages as the simulator's warm_* summary
    m = log.events["meminfo"][0]
    assert single["warm_free_cma_pages"] == m["CmaFree_kb"] // 4
    assert single["meminfo_CmaFree_kb"] == m["CmaFree_kb"]
    assert single["refill_reached"] is True


def test_crash_and_truncation_are_reported_not_hidden():
    cut = IDLE[: IDLE.index("ALLOCKIT result trial=0 label=cma_chunked ")]
    panic = cut + "[   12.3] Kernel panic - not syncing: Fatal exception\n"
    log = parse_console(panic)
    probs = log.problems()
    assert any("crash" in p and "Kernel panic" in p for p in probs)
    assert any("did not finish" in p for p in probs)
    assert len(log.events["result"]) == 2  # what came before the crash is still there


def test_guest_errors_soft_lockups_and_garbled_lines():
    text = IDLE.replace(
        "ALLOCKIT done", "ALLOCKIT error stage=run trial=0 label=x cmd=buddy,4,1,kernel t=7\n"
        "[   30.1] watchdog: BUG: soft lockup - CPU#1 stuck for 22s!\nALLOCKIT done"
    ) + "ALLOCKIT resu[  1.0] interleaved\nALLOCKIT bogus a=1\n"  # fmt: skip
    log = parse_console(text)
    assert any("guest error" in p and "stage" in p for p in log.problems())
    assert log.warnings and not log.crash  # a soft lockup is kept, not a crash
    assert len(log.unknown) == 2


def test_crlf_console_lines():
    log = parse_console(IDLE.replace("\n", "\r\n"))
    assert log.done and len(log.events["result"]) == 7 and log.events["result"][0]["t"] == 5.82


def test_parse_kv_types_and_errors():
    assert parse_kv("a=1 b=-12 c=1.5 d=x e=") == {"a": 1, "b": -12, "c": 1.5, "d": "x", "e": ""}
    with pytest.raises(ValueError, match="not key=value"):
        parse_kv("a=1 lonely")
    with pytest.raises(ValueError, match="0 'calib' lines"):
        parse_console("").one("calib")


def test_write_conf_refuses_shell_unsafe_values():
    conf, exps = write_conf({"LAB_JOBS": 2}, [("cma_many", "cma_many 4 4800")])
    assert conf == "LAB_JOBS=2\n" and exps == "cma_many cma_many 4 4800\n"
    with pytest.raises(ValueError, match="LAB_JOBS"):
        write_conf({"LAB_JOBS": "2; reboot"}, [])
    with pytest.raises(ValueError, match="experiment"):
        write_conf({}, [("x", "cma_many 4 4800; reboot")])


def test_6_1_counts_busy_retries_with_the_tracepoint_too():
    """6.1 has the cma_alloc_busy_retry tracepoint (5.10 does not: -1 there, None in rows)."""
    log61 = parse_console((FIX / "6.1-idle.console.log").read_text())
    assert log61.done and not log61.problems()
    assert log61.one("boot")["kernel"] == "6.1.192-allockit-lab"
    assert log61.one("workload")["tracepoint"] == 1
    assert all(r["tp_busy_retry"] == 0 for r in log61.events["result"])
    rows61 = rows_from_log(log61, LabSpec(kernel="6.1", trials=1), HOST, {})
    assert all(r["tp_busy_retry"] == 0 for r in rows61)
    rows510 = rows_from_log(parse_console(IDLE), LabSpec(trials=1), HOST, {})
    assert all(r["tp_busy_retry"] is None for r in rows510)
    # the guest shell's own complaints are neither results nor crashes
    assert "pgrep: not found" in (FIX / "6.1-idle.console.log").read_text()
    assert not log61.crash and not log61.unknown


def test_second_calibration_at_the_end_enters_the_factors():
    """Newer guests calibrate again at the end (workload stopped); the factors are the
    geometric mean of both, and both page-fault factors are kept."""
    from allockit.lab.rows import run_factors

    log = parse_console((FIX / "6.1-idle-endcalib.console.log").read_text())
    assert log.done and not log.problems() and len(log.events["calib"]) == 2
    boot, end = (calib_factors(c, HOST)["slowdown_fault"] for c in log.events["calib"])
    f = run_factors(log.events["calib"], HOST)
    assert f["slowdown_fault_boot"] == boot and f["slowdown_fault_end"] == end
    assert f["slowdown_fault"] == pytest.approx((boot * end) ** 0.5)
    assert min(boot, end) < f["slowdown_fault"] < max(boot, end)
    (row,) = rows_from_log(
        log, LabSpec(kernel="6.1", trials=1, experiments=["cma_single"]), HOST, {}
    )
    assert row["latency_ms_corrected"] == pytest.approx(row["latency_ms"] / f["slowdown_fault"])
    assert run_factors(parse_console(IDLE).events["calib"], HOST)["slowdown_fault_end"] is None
    with pytest.raises(ValueError, match="calib"):
        run_factors([], HOST)


RAW = FIX.parents[1].parent / "data" / "raw" / "idle-snapshot"


def _guest_function(name: str, *args: str) -> str:
    """Run one shell function of lab/guest/init (with its arguments) under sh."""
    import re
    import subprocess

    init = (FIX.parents[1].parent / "lab" / "guest" / "init").read_text()
    body = re.search(rf"^{name}\(\) {{.*?^}}$", init, re.S | re.M).group(0)
    out = subprocess.run(["sh", "-c", f'{body}\n{name} "$@"', "sh", *args],
                         capture_output=True, text=True, check=True)  # fmt: skip
    return out.stdout


def test_guest_prints_buddyinfo_and_pageblocks_as_the_parsers_read_them():
    """The meminfo line's freeblocks_/pageblocks_ fields, from a real /proc snapshot, agree with
    allockit.ingest.procfs's parsers, and the rows keep the largest zone's."""
    from allockit.ingest.procfs import parse_buddyinfo, parse_pagetypeinfo
    from allockit.lab.rows import free_shape

    text = _guest_function("freeblocks", str(RAW / "buddyinfo"))
    text += _guest_function("pageblocks", str(RAW / "pagetypeinfo"))
    fields = parse_kv(text.strip())
    buddy = parse_buddyinfo((RAW / "buddyinfo").read_text())
    for (_, zone), counts in buddy.zones.items():
        assert [fields[f"freeblocks_{zone}_o{k}"] for k in range(len(counts))] == counts
    ptype = parse_pagetypeinfo((RAW / "pagetypeinfo").read_text())
    for (_, zone), blocks in ptype.blocks.items():
        for mt, n in blocks.items():
            assert fields[f"pageblocks_{zone}_{mt}"] == n
    # the rows keep the zone the simulator's one zone stands for: the largest (Normal here),
    # not a sum with the small zones below it
    shape = free_shape(fields)
    assert shape["shape_zone"] == "Normal"
    assert shape["free_blocks_o10"] == buddy.zones[(0, "Normal")][10] == 359
    assert shape["pageblocks_Movable"] == 1777
    assert not any(k.startswith("free_blocks_") and k[-1].isalpha() for k in shape)
