"""The busy-page census (lab module -> console -> rows -> tables), on console lines captured from
a real 6.1 lab run (tests/fixtures/lab/6.1-kbuild-census-short.console.log: the first three
experiments of trial 0 of the recorded census run, the guest still running)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from allockit.lab.census import CLASSES, census_table, details
from allockit.lab.guest import parse_console, parse_kv
from allockit.lab.rows import rows_from_log
from allockit.lab.spec import LabSpec

FIX = Path(__file__).resolve().parent / "fixtures" / "lab"
CENSUS = (FIX / "6.1-kbuild-census-short.console.log").read_text()
HOST = {"int_ns": 105478778, "memcpy_ns": 5031163, "memset_ns": 1364207, "fault_ns": 15787350}


def test_busy_lines_parse_with_their_page_state():
    log = parse_console(CENSUS)
    assert not log.unknown and not log.crash
    busy = log.events["busy"]
    assert [b["label"] for b in busy].count("cma_single") == 4
    first = busy[0]
    assert first["trial"] == 0 and first["pfn"] == 278306 and first["off"] == 13602
    assert first["class"] == "file_dirty" and first["count"] == 3 and first["extra"] == 1
    # %pGp on 6.1: the raw value, then the names and the fields
    assert first["flags"] == "0x10000000000202a(referenced|dirty|active|private|node=0|zone=1)"
    assert (first["aops"], first["fs"], first["bh_count"], first["bh_jbd"]) == (
        "def_blk_aops", "bdev", 1, 1)  # fmt: skip
    assert first["hits"] == 54 and first["last_class"] == "file_dirty"
    # a page cache page of a file (not a block device): no buffer heads
    data = busy[3]
    assert (data["aops"], data["fs"], data["bh_count"], data["mapping"]) == (
        "ext4_da_aops", "ext4", -1, "file")  # fmt: skip
    free = [b for b in busy if b["class"] == "free_nobuddy"]
    assert len(free) == 1 and free[0]["count"] == 0 and free[0]["aops"] == "0x0"


def test_result_totals_agree_with_the_kretprobe_counts():
    log = parse_console(CENSUS)
    for r in log.events["result"]:
        by_class = sum(r[f"busy_{c}"] for c in CLASSES)
        assert by_class == r["busy_fails"] == r["acr_ebusy"] == r["tp_busy_retry"]
        assert r["tpi_calls"] == r["acr_calls"] and r["sip_fail"] == 0
        assert sum(r[f"busy_distinct_{c}"] for c in CLASSES) == r["busy_distinct"]
        assert r["busy_distinct"] + r["busy_repeat"] == r["busy_fails"]  # nothing raced
        # one busy line per distinct pfn (fewer than 20 here)
        lines = [b for b in log.events["busy"] if b["label"] == r["label"]]
        assert len(lines) == r["busy_distinct"]
        assert sum(b["hits"] for b in lines) == r["busy_fails"]


def test_rows_carry_the_census_columns():
    log = parse_console(CENSUS)
    spec = LabSpec(kernel="6.1", experiments=["cma_single", "cma_single_a0", "cma_chunked"])
    rows = rows_from_log(log, spec, HOST, {"kernel": "6.1"})
    single = rows[0]
    assert single["busy_fails"] == single["sim_cma_alloc_retry"] == 90
    assert single["test_pages_isolated_calls"] == single["sim_alloc_contig_range"]
    assert single["start_isolate_failures"] == 0 and single["start_isolate_calls"] == 91
    assert single["busy_jbd"] == 89 and single["busy_distinct_file_dirty"] == 2
    for c in CLASSES:
        assert f"busy_{c}" in single and f"busy_distinct_{c}" in single
    # rows of runs before the census have no such columns (and no error)
    old = parse_console((FIX / "6.1-idle.console.log").read_text())
    assert not any(k.startswith("busy_") for k in rows_from_log(old, spec, HOST, {})[0])


def test_census_table_shares_and_holders():
    log = parse_console(CENSUS)
    rows = rows_from_log(log, LabSpec(kernel="6.1"), HOST, {"kernel": "6.1"})
    t = census_table(pd.DataFrame(rows))
    single = t[t["strategy"] == "cma_single"].set_index("class")
    assert single.loc["file_dirty", "n"] + single.loc["file_nolru", "n"] == 90
    assert single["share"][~single.index.str.startswith("holder:")].sum() == pytest.approx(1)
    assert single.loc["holder:jbd", "n"] == 89
    chunked = t[t["strategy"] == "cma_chunked"].set_index("class")
    assert set(chunked.index) == {"free_nobuddy", "file_nolru"}
    with pytest.raises(ValueError, match="predates the census"):
        census_table(pd.DataFrame([{"kernel": "6.1", "strategy": "x"}]))


def test_details_reads_a_console_file(tmp_path):
    import gzip

    p = tmp_path / "run.log.gz"
    with gzip.open(p, "wt") as fh:
        fh.write(CENSUS)
    d = details(p)
    assert len(d) == 12 and set(d["label"]) == {"cma_single", "cma_single_a0", "cma_chunked"}
    assert d.loc[d["hits"].idxmax(), "aops"] == "def_blk_aops"


def test_stray_tokens_join_the_value_before_them_in_busy_lines_only():
    assert parse_kv("aops=ext4_da_aops [ext4] fs=ext4", join_stray=True) == {
        "aops": "ext4_da_aops [ext4]", "fs": "ext4"}  # fmt: skip
    with pytest.raises(ValueError):
        parse_kv("aops=ext4_da_aops [ext4] fs=ext4")
    log = parse_console("ALLOCKIT busy trial=0 aops=x [mod] fs=y\nALLOCKIT result a=1 [mod]\n")
    assert log.events["busy"] == [{"trial": 0, "aops": "x [mod]", "fs": "y"}]
    assert len(log.unknown) == 1


def test_markdown_table_one_row_per_experiment():
    from allockit.lab.census import markdown

    rows = rows_from_log(parse_console(CENSUS), LabSpec(kernel="6.1"), HOST, {"kernel": "6.1"})
    md = markdown(census_table(pd.DataFrame(rows))).splitlines()
    assert len(md) == 2 + 3
    assert md[2].startswith("| 6.1 | `cma_single` | 1 | 90 | 4 | file_dirty 74 (82%; 2)")
    assert md[2].endswith("| 99% / 99% / 99% |")


def test_details_takes_a_path_as_str_or_path_and_text(tmp_path):
    """A str naming a console file reads the file (it once parsed the name as console text and
    returned an empty table); console text still parses as text; a missing file is an error."""
    import gzip

    p = tmp_path / "run.log.gz"
    with gzip.open(p, "wt") as fh:
        fh.write(CENSUS)
    plain = tmp_path / "run.log"
    plain.write_text(CENSUS)
    want = details(CENSUS)
    assert len(want) == 12
    for arg in (p, str(p), plain, str(plain)):
        pd.testing.assert_frame_equal(details(arg), want)
    with pytest.raises(FileNotFoundError):
        details(str(tmp_path / "missing.log.gz"))
    assert details("").empty
