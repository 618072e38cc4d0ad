"""The lab's kernel config and cache-key logic (allockit/lab/kernel.py), its run spec checks
(allockit/lab/spec.py), QEMU command line (allockit/lab/qemu.py) and experiment table
(allockit/lab/experiments.py): no kernel build, no QEMU."""

from __future__ import annotations

import pytest

from allockit.lab import kernel as K
from allockit.lab.experiments import EXPERIMENTS
from allockit.lab.qemu import guest_conf, qemu_command
from allockit.lab.spec import LabSpec

FRAG = K.FRAGMENT.read_text()
SCRIPT = K.BUILD_SCRIPT.read_text()


def test_fragment_has_every_option_docs_lab_md_lists():
    opts = K.parse_fragment(FRAG)
    for name in ("CMA", "DMA_CMA", "CMA_DEBUGFS", "CMA_SYSFS", "DEBUG_FS", "COMPACTION",
                 "MIGRATION", "TRANSPARENT_HUGEPAGE", "PAGE_OWNER", "MEMORY_HOTPLUG",
                 "VIRTIO_PCI", "VIRTIO_BLK", "EXT4_FS", "DEVTMPFS", "DEVTMPFS_MOUNT",
                 "BLK_DEV_INITRD", "SERIAL_8250_CONSOLE", "FTRACE", "KPROBE_EVENTS",
                 "MODULES", "IKCONFIG_PROC", "KALLSYMS_ALL"):  # fmt: skip
        assert opts.get(name) == "y", name
    assert opts["CMA_AREAS"] == "8"
    assert opts["LOCALVERSION"].strip('"')
    assert opts["DRM"] == "n" and opts["SOUND"] == "n"


def test_cma_sysfs_dropped_for_5_10_kept_for_6_1():
    f510 = K.effective_fragment(FRAG, "5.10")
    f61 = K.effective_fragment(FRAG, "6.1")
    assert "CONFIG_CMA_SYSFS=y" not in f510
    assert "CONFIG_CMA_SYSFS=y" in f61
    assert set(f61.splitlines()) - set(f510.splitlines()) == {"CONFIG_CMA_SYSFS=y"}


def test_effective_fragment_is_canonical():
    noisy = "# a comment\n\nCONFIG_CMA=y\n   \n# CONFIG_DRM is not set\nCONFIG_CMA_AREAS=8\n"
    assert K.effective_fragment(noisy, "6.1") == "CONFIG_CMA=y\nCONFIG_DRM=n\nCONFIG_CMA_AREAS=8\n"
    # comments and blank lines do not change the cache key
    plain = "CONFIG_CMA=y\n# CONFIG_DRM is not set\nCONFIG_CMA_AREAS=8\n"
    assert K.effective_fragment(plain, "6.1") == K.effective_fragment(noisy, "6.1")


def test_fragment_rejects_garbage_lines():
    with pytest.raises(ValueError, match="line 2"):
        K.parse_fragment("CONFIG_CMA=y\nCMA_AREAS=8\n")
    with pytest.raises(ValueError, match="no CONFIG_"):
        K.parse_fragment("# only a comment\n")


def test_unknown_kernel_names_the_choices():
    with pytest.raises(ValueError, match=r"kernel: '4\.19' is unknown; allowed: 5\.10, 6\.1"):
        K.effective_fragment(FRAG, "4.19")
    with pytest.raises(ValueError, match="kernel"):
        K.kernel_build("5.9", version="5.9.0-1")


def test_cache_key_moves_with_version_fragment_and_script():
    f = K.effective_fragment(FRAG, "5.10")
    k = K.cache_key("5.10.262-1", f, SCRIPT)
    assert k.startswith("5.10.262-1-") and len(k.split("-")[-1]) == 12
    assert K.cache_key("5.10.262-1", f, SCRIPT) == k  # deterministic
    assert K.cache_key("5.10.263-1", f, SCRIPT) != k  # a security update is a new build
    assert K.cache_key("5.10.262-1", f + "CONFIG_X=y\n", SCRIPT) != k
    assert K.cache_key("5.10.262-1", f, SCRIPT + "\n# changed\n") != k
    # the two series never share a key even at one version string
    f61 = K.effective_fragment(FRAG, "6.1")
    assert K.cache_key("1", f61, SCRIPT) != K.cache_key("1", f, SCRIPT)


def test_cache_key_rejects_bad_versions():
    for bad in ("", "5.10 262", "../../etc"):
        with pytest.raises(ValueError, match="source_version"):
            K.cache_key(bad, "CONFIG_CMA=y\n", SCRIPT)
    assert ":" not in K.cache_key("1:5.10.262-1", "CONFIG_CMA=y\n", SCRIPT)  # epochs: path-safe


def test_cache_dir_under_xdg_cache_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    kb = K.kernel_build("6.1", version="6.1.192-2")
    assert kb.dir.parent == tmp_path / "allockit" / "lab" / "kernels"
    assert kb.dir.name.startswith("6.1.192-2-")
    assert not kb.ready and kb.bzimage == kb.dir / "bzImage"


def test_build_script_exports_what_the_module_calls():
    module = (K.LAB_DIR / "module" / "allockit_lab.c").read_text()
    for sym in ("cma_alloc", "cma_release", "cma_for_each_area", "cma_get_name", "cma_get_size"):
        assert f"{sym}(" in module
        assert f"EXPORT_SYMBOL_GPL({sym});" in SCRIPT


def test_lab_spec_checks_name_the_field():
    LabSpec().check()
    cases = [
        (dict(kernel="5.9"), "kernel"),
        (dict(ram="1.5X"), "ram"),
        (dict(cma_size="1536M"), "cma_size"),
        (dict(cma_size="100K"), "cma_size"),
        (dict(nr_elem=10000), "nr_elem"),
        (dict(experiments=["cma_bulk"]), "experiments"),
        (dict(workload="stress"), "workload"),
        (dict(trials=0), "trials"),
        (dict(accel="hvf"), "accel"),
    ]
    for kw, name in cases:
        with pytest.raises(ValueError, match=name):
            LabSpec(**kw).check()


def test_lab_spec_needs_the_checkout(tmp_path, monkeypatch):
    """A wheel install has no lab/ beside the package: say so before any work."""
    from allockit.lab import spec

    monkeypatch.setattr(spec, "LAB_DIR", tmp_path / "lab")
    with pytest.raises(ValueError, match="lab files: .* is missing; allowed: a source checkout"):
        LabSpec().check()


def test_guest_conf_and_qemu_command(tmp_path):
    spec = LabSpec(experiments=["cma_single", "cma_chunked_o9", "buddy_compaction_movable"])
    conf, exps = guest_conf(spec)
    assert conf["LAB_TRIALS"] == 10 and conf["LAB_WORKLOAD"] == "kbuild"
    sim = {k: EXPERIMENTS[k].sim for k in spec.experiments}  # params/seed.yaml's values
    assert exps == [
        ("cma_single", f"cma_single 4 4800 {sim['cma_single']['align']}"),
        ("cma_chunked_o9", f"cma_chunked 4 4800 {sim['cma_chunked_o9']['chunk_order']}"),
        ("buddy_compaction_movable", "buddy 4 4800 movable"),
    ]
    cmd = qemu_command(spec, "tcg", tmp_path / "bz", tmp_path / "rd", tmp_path / "d.img",
                       tmp_path / "c.log")  # fmt: skip
    line = " ".join(cmd)
    assert "-accel tcg,thread=multi -cpu max" in line and "-m 1536M" in line
    assert "cma=500M" in line and "snapshot=on" in line and "throttling.bps-write=67108864" in line
    assert "-enable-kvm" not in line and "-cpu host" not in line
    assert "-cpu host" in " ".join(qemu_command(spec, "kvm", tmp_path, tmp_path, None, tmp_path))
