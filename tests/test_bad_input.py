"""Every invalid machine parameter or API argument fails before any work, naming the field."""

import pytest
from conftest import COSTS, small_config

from allockit.mm import ConfigError, api, build_machine, machine_config
from allockit.mm.units import parse_size_pages


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        (dict(ram="1000K"), r"machine.ram: .*not a whole number of pageblocks.*multiple of 512"),
        (dict(ram=0), r"machine.ram"),
        (dict(ram="3G", cma_size="4G"), r"machine.cma_size: .*larger than machine.ram"),
        (dict(cma_size="6M"), r"machine.cma_size: .*not a multiple of 1024 pages"),
        (dict(cma_base=1536), r"machine.cma_base: 1536 is not aligned"),
        (dict(ram="64M", cma_size="8M", cma_base=16384), r"machine.cma_base: .*outside"),
        (dict(nr_cpus=0), r"machine.nr_cpus: 0 .*allowed: 1..1024"),
        (dict(pageblock_order=8), r"machine.pageblock_order"),
        (dict(kernel="4.19"), r"machine.kernel"),
        (dict(ram="12Q"), r"machine.ram: '12Q' is not a size"),
        (dict(ram="1.5"), r"page count must be a whole number"),
        (dict(ram="1.0001M"), r"not a whole number of 4096-byte pages"),
        (dict(cma_order_per_bit=11), r"machine.cma_order_per_bit: 11"),
        (dict(min_free_kbytes=5), r"machine.min_free_kbytes: 5"),
        (dict(compaction_proactiveness=101),
         r"machine.compaction_proactiveness: 101; allowed: 0..100"),
        (dict(ram="16M", kernel_reserved="16M"), r"machine.kernel_reserved"),
        (dict(bogus=1), r"machine.bogus: unknown key"),
    ],
)
def test_bad_machine_config(kwargs, pattern):
    with pytest.raises(ConfigError, match=pattern):
        machine_config(**kwargs)


def test_config_error_is_a_value_error():
    with pytest.raises(ValueError):
        machine_config(ram=-1)


def test_sizes_parse():
    assert parse_size_pages("1536M", "x") == 393216
    assert parse_size_pages("1.5G", "x") == 393216
    assert parse_size_pages("500MiB", "x") == 128000
    assert parse_size_pages("393216", "x") == 393216
    assert parse_size_pages(512, "x") == 512
    assert machine_config(ram="1.5G").ram == 393216


@pytest.fixture(scope="module")
def m():
    return build_machine(small_config(), COSTS)


@pytest.mark.parametrize("order", [-1, 11, 3.0, "4", True])
def test_bad_order(m, order):
    with pytest.raises(ValueError, match=r"order: .* allowed: 0..10"):
        api.alloc_pages(m, "GFP_KERNEL", order)


def test_bad_migratetype():
    with pytest.raises(ValueError, match=r"migratetype: 'Bogus' is not a migratetype; allowed: 0"):
        api.parse_migratetype("Bogus")
    with pytest.raises(ValueError, match=r"migratetype: 6 is not a migratetype"):
        api.parse_migratetype(6)
    assert api.parse_migratetype("MIGRATE_CMA") == 4
    assert api.parse_migratetype("movable") == 1


def test_bad_gfp(m):
    with pytest.raises(ValueError, match=r"gfp: '__GFP_BOGUS' is not a gfp flag"):
        api.alloc_pages(m, "GFP_KERNEL|__GFP_BOGUS", 0)
    assert api.parse_gfp("GFP_HIGHUSER_MOVABLE") & 0x08


def test_bad_cpu(m):
    with pytest.raises(ValueError, match=r"cpu: 2 is out of range; allowed: 0..1"):
        api.alloc_pages(m, "GFP_KERNEL", 0, cpu=2)


def test_bad_free(m):
    pfn = api.alloc_pages(m, "GFP_KERNEL", 2)
    with pytest.raises(ValueError, match=r"pfn: .* not aligned to order 3"):
        api.free_pages(m, pfn + 4 if (pfn + 4) % 8 else pfn + 12, 3)
    with pytest.raises(ValueError, match=r"pfn: 99999 is outside the zone"):
        api.free_pages(m, 99999, 0)
    with pytest.raises(ValueError, match=r"boot-reserved"):
        api.free_pages(m, 0, 0)
    api.free_pages(m, pfn, 2)
    with pytest.raises(ValueError, match=r"double free"):
        api.free_pages(m, pfn, 2)


# --- the command line: every bad input is one line naming what is wrong ------------------------
@pytest.mark.parametrize("argv, expected", [
    (["trace-stats", "/nonexistent/trace.txt"],
     "trace-stats: /nonexistent/trace.txt: No such file or directory"),
    (["trace-stats", "{tmp}"], "trace-stats: {tmp}: Is a directory"),
    (["trace-stats", "{tmp}/empty.txt"], "no trace events in it; allowed: an ftrace text"),
    (["sweep", "params/seed.yaml", "--out", "{tmp}/empty.txt"],
     "sweep: --out: {tmp}/empty.txt is a file; allowed: a directory"),
    (["sweep", "params/seed.yaml", "--workers", "0"], "--workers: 0; allowed: an integer >= 1"),
    (["robustness", "--workers", "-2"], "--workers: -2; allowed: an integer >= 1"),
    (["run", "--strategy", "cma_chunked", "--param", "gfp=GFP_KERNEL"],
     "strategy parameter 'gfp' is unknown for cma_chunked; allowed: chunk_order"),
    # more than this machine could hold: refused at once instead of running out of memory
    (["run", "--strategy", "cma_single", "--ram", "64T", "--cma-size", "500M"],
     "machine.ram: 64T: the simulation would need about 1024 GiB"),
    (["run", "--strategy", "cma_single", "--intensity", "100000"],
     "workload.jobs: 100000: the simulation would need about"),
])
def test_cli_bad_input_is_one_line(argv, expected, tmp_path, capsys):
    from allockit.cli import main

    (tmp_path / "empty.txt").write_text("")
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert expected.replace("{tmp}", str(tmp_path)) in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
