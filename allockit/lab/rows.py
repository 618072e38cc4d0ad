"""From the guest's console log to result rows: the time-distortion factors and the row mapping.

The calibration program (``lab/guest/calibrate.c``) runs on the host (:func:`host_calibration`)
and in the guest; :func:`run_factors` turns the two into slowdown factors, one per calibration
figure. :func:`rows_from_log` makes one row per ``result`` line of the console, with the fields
of ``allockit run --json`` where they are meaningful for a real kernel, the guest's
/proc/meminfo before the experiment, the busy census and the factors; :func:`summarize` prints
a run as a table.
"""

from __future__ import annotations

import statistics
import subprocess
from pathlib import Path
from typing import Any

import numpy as np

from ..mm.constants import ERRNO_NAMES
from .guest import parse_console
from .spec import LabSpec

CALIB_FIELDS = ("int_ns", "memcpy_ns", "memset_ns", "fault_ns")
# result-line fields of the busy census that are not busy_*: their column names
CENSUS_RENAMES = {
    "tpi_calls": "test_pages_isolated_calls",
    "sip_calls": "start_isolate_calls",
    "sip_fail": "start_isolate_failures",
}
# The factor that 'latency_ms_corrected' divides by: first-touch page faults run the same class
# of kernel code as migration (page allocator, rmap, LRU, a 4 KiB clear/copy per page).
CORRECTION_FIELD = "fault_ns"


# --- meminfo ------------------------------------------------------------------------------
def lru_state(kbs: dict[str, int]) -> dict[str, int]:
    """The simulator's ``warm_active_file_pages`` / ``warm_inactive_file_pages`` from the
    guest's /proc/meminfo (kB)."""
    return {
        "warm_active_file_pages": kbs.get("Active_file", 0) // 4,
        "warm_inactive_file_pages": kbs.get("Inactive_file", 0) // 4,
    }


def free_shape(m: dict[str, Any]) -> dict[str, Any]:
    """Free blocks per order (``free_blocks_o<k>``, /proc/buddyinfo) and pageblocks per
    migratetype (``pageblocks_<type>``, /proc/pagetypeinfo) of the zone the simulator's one zone
    stands for, from a meminfo line's ``freeblocks_<zone>_o<k>`` and
    ``pageblocks_<zone>_<type>`` fields (guests that print them), and that zone's name
    (``shape_zone``).

    That zone is the guest's largest (most pageblocks): DMA32 up to 4 GiB, Normal above, as
    the machine config's ``zone: auto`` picks it. The small zones below it (the 16 MiB DMA zone)
    are not modelled, so their free blocks are left out rather than added to the big zone's.
    """
    per_zone: dict[str, dict[str, int]] = {}
    for k, v in m.items():
        parts = k.split("_")
        if parts[0] == "freeblocks" and len(parts) == 3:
            per_zone.setdefault(parts[1], {})[f"free_blocks_{parts[2]}"] = int(v)
        elif parts[0] == "pageblocks" and len(parts) == 3:
            per_zone.setdefault(parts[1], {})[f"pageblocks_{parts[2]}"] = int(v)
    if not per_zone:
        return {}

    def pageblocks(zone: str) -> int:
        return sum(v for k, v in per_zone[zone].items() if k.startswith("pageblocks_"))

    zone = max(per_zone, key=pageblocks)
    return {"shape_zone": zone, **per_zone[zone]}


# --- calibration ----------------------------------------------------------------------------
def host_calibration(exe: Path, reps: int = 3) -> dict[str, int]:
    """Run the calibration program on the host ``reps`` times; the minimum of each field."""
    best: dict[str, int] = {}
    for _ in range(reps):
        out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout
        log = parse_console(out)
        for k in CALIB_FIELDS:
            v = int(log.one("calib")[k])
            best[k] = min(best.get(k, v), v)
    return best


def calib_factors(guest: dict, host: dict) -> dict[str, float]:
    """guest/host per calibration field: how many times slower the guest is at that work."""
    out = {}
    for k in CALIB_FIELDS:
        g, h = int(guest[k]), int(host[k])
        if h <= 0 or g <= 0:
            raise ValueError(f"calibration {k}: guest {g} ns, host {h} ns; both must be > 0")
        out[f"slowdown_{k.removesuffix('_ns')}"] = g / h
    return out


def run_factors(calibs: list[dict], host: dict) -> dict[str, float]:
    """The run's slowdown factors. The guest calibrates at boot and, in newer runs, again at
    the end with the workload stopped (host load changes during a run; TCG guests feel it):
    each ``slowdown_*`` is the geometric mean over the guest's calibrations, and
    ``slowdown_fault_boot`` / ``slowdown_fault_end`` keep the two page-fault factors."""
    if not calibs:
        raise ValueError("console log: no 'calib' line; the guest did not calibrate")
    each = [calib_factors(c, host) for c in calibs]
    out = {k: float(np.exp(np.mean([np.log(f[k]) for f in each]))) for k in each[0]}
    out["slowdown_fault_boot"] = each[0]["slowdown_fault"]
    out["slowdown_fault_end"] = each[-1]["slowdown_fault"] if len(each) > 1 else None
    return out


# --- rows -----------------------------------------------------------------------------------
def rows_from_log(log, spec: LabSpec, host_calib: dict, meta: dict) -> list[dict[str, Any]]:
    """One row per result line, joined with the meminfo line printed just before it."""
    factors = run_factors(log.events["calib"], host_calib)
    corr = factors["slowdown_" + CORRECTION_FIELD.removesuffix("_ns")]
    mem = {(m["trial"], m["label"]): m for m in log.events["meminfo"]}
    rows = []
    for r in log.events["result"]:
        m = mem.get((r["trial"], r["label"]))
        if m is None:
            raise ValueError(f"console log: result {r['label']} trial {r['trial']} has no meminfo")
        is_cma = str(r["exp"]).startswith("cma")
        lat_ms = r["latency_ns"] / 1e6
        row: dict[str, Any] = {
            "strategy": r["label"],
            "trial": r["trial"],
            "seed": spec.seed,
            "got": r["got"],
            "nr_elem": r["nr"],
            "success": r["got"] >= r["nr"],
            "errno": ERRNO_NAMES.get(r["ret"], str(r["ret"])),
            "latency_ms": lat_ms,
            "latency_ms_corrected": lat_ms / corr,
            "max_call_ms": r["max_call_ns"] / 1e6,
            "calls": r["acr_calls"] if is_cma else r["calls"],
            "alloc_calls": r["calls"],
            "sim_alloc_contig_range": r["acr_calls"],
            "sim_alloc_contig_ebusy": r["acr_ebusy"],
            "sim_cma_alloc_retry": r["acr_ebusy"] if is_cma else 0,
            "acr_other_errors": r["acr_other"],
            "kretprobe_missed": r["acr_missed"],
            "tp_busy_retry": r["tp_busy_retry"] if r["tp_busy_retry"] >= 0 else None,
            "position": r["pos"],
            "order": r["order"],
            "refill_reached": bool(m["reached"]),
            "refill_waited_s": m["waited_s"],
            "guest_uptime_s": m["t"],
            "workload_cc1": m.get("cc1"),  # compiler processes running (kbuild workload)
        }
        # the busy-page census (guests from the census module on): what blocked
        # alloc_contig_range, by class, as failures and as distinct pfns (allockit/lab/census.py)
        for key, col in CENSUS_RENAMES.items():
            if key in r:
                row[col] = r[key]
        row.update({k: v for k, v in r.items() if k.startswith("busy_")})
        row.update(free_shape(m))
        kbs = {k[:-3]: int(v) for k, v in m.items() if k.endswith("_kb")}
        row.update({f"meminfo_{k}_kb": v for k, v in kbs.items()})
        # the simulator's warm_* summary (pages), from /proc/meminfo
        row.update({
            "warm_free_pages": kbs.get("MemFree", 0) // 4,
            "warm_free_cma_pages": kbs.get("CmaFree", 0) // 4,
            "warm_anon_pages": kbs.get("AnonPages", 0) // 4,
            "warm_file_pages": (kbs.get("Active_file", 0) + kbs.get("Inactive_file", 0)) // 4,
            "warm_dirty_pages": kbs.get("Dirty", 0) // 4,
            "warm_writeback_pages": kbs.get("Writeback", 0) // 4,
            "warm_cma_in_use_pages": (kbs.get("CmaTotal", 0) - kbs.get("CmaFree", 0)) // 4,
            **lru_state(kbs),
        })  # fmt: skip
        row.update(factors)
        row.update(meta)
        rows.append(row)
    return rows


def summarize(rows: list[dict[str, Any]]) -> str:
    """A table of the run: per experiment, successes, got and raw/corrected median latency."""
    by: dict[str, list[dict]] = {}
    for r in rows:
        by.setdefault(r["strategy"], []).append(r)
    lines = [f"{'experiment':26s} {'ok':>6s} {'got med':>8s} {'lat ms med raw':>15s} "
             f"{'corrected':>10s} {'busy med':>9s}"]  # fmt: skip
    for name, rs in by.items():
        n = len(rs)
        ok = sum(r["success"] for r in rs)

        def med(key, rs=rs):
            return statistics.median(r[key] for r in rs)

        lines.append(
            f"{name:26s} {ok:>3d}/{n:<2d} {med('got'):8.0f} {med('latency_ms'):15.1f} "
            f"{med('latency_ms_corrected'):10.2f} {med('sim_cma_alloc_retry'):9.0f}"
        )
    return "\n".join(lines)
