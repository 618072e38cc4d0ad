"""The lab's guest kernels: which source package, which config, where the build is cached.

A lab kernel is Debian's ``linux-source-<v>`` tarball (``/usr/src/linux-source-<v>.tar.xz``)
configured with ``make defconfig`` + ``make kvm_guest.config`` + ``lab/kernel/cma.config`` and
built by ``lab/kernel/build-kernel.sh`` (which also exports the CMA symbols the measuring module
calls). It is cached under ``~/.cache/allockit/lab/kernels/<package version>-<hash>/`` where the
hash covers the *effective* fragment (the options this kernel version has) and the build script;
the archive's package version moves with security updates, so a new version is a new build.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from ..paths import LAB_DIR

FRAGMENT = LAB_DIR / "kernel" / "cma.config"
BUILD_SCRIPT = LAB_DIR / "kernel" / "build-kernel.sh"

# kernel series -> Debian source package (bookworm has 6.1, bullseye-security has 5.10)
KERNELS = {"5.10": "linux-source-5.10", "6.1": "linux-source-6.1"}

# Options of the fragment that do not exist in every series: option -> first version with it.
# CONFIG_CMA_SYSFS came with v5.13 ("mm: cma: add the CMA instance name to sysfs", 2021).
OPTION_SINCE = {"CMA_SYSFS": (5, 13)}

_OPT_RE = re.compile(r"^(?:#\s*)?CONFIG_([A-Za-z0-9_]+)(?:=(.*)|\s+is not set)\s*$")


def check_kernel(kernel: str) -> str:
    """Return ``kernel`` if it is a lab kernel series, else a ValueError naming the choices."""
    if kernel not in KERNELS:
        raise ValueError(f"kernel: {kernel!r} is unknown; allowed: {', '.join(KERNELS)}")
    return kernel


def _version_tuple(kernel: str) -> tuple[int, ...]:
    return tuple(int(x) for x in kernel.split("."))


def parse_fragment(text: str) -> dict[str, str]:
    """``CONFIG_X=v`` / ``# CONFIG_X is not set`` lines -> {X: v} (``n`` for "is not set").

    Comments and blank lines are skipped; any other line is a ValueError naming it, so a typo
    in the fragment cannot silently vanish from the build.
    """
    opts: dict[str, str] = {}
    for no, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        m = _OPT_RE.match(line)
        if m is None:
            if line.startswith("#"):
                continue
            raise ValueError(
                f"config fragment line {no}: {raw!r}; allowed: CONFIG_NAME=value, "
                "'# CONFIG_NAME is not set', comments"
            )
        name, value = m.group(1), m.group(2)
        opts[name] = "n" if value is None else value
    if not opts:
        raise ValueError("config fragment: no CONFIG_ options; allowed: a Kconfig fragment")
    return opts


def effective_fragment(text: str, kernel: str) -> str:
    """The fragment for one kernel series: options that series lacks dropped, canonical text.

    Canonical (one ``CONFIG_X=v`` per line, in the fragment's order) so that comments and
    whitespace do not change the cache key.
    """
    check_kernel(kernel)
    ver = _version_tuple(kernel)
    out = []
    for name, value in parse_fragment(text).items():
        since = OPTION_SINCE.get(name)
        if since is not None and ver < since:
            continue
        out.append(f"CONFIG_{name}={value}")
    return "\n".join(out) + "\n"


def cache_key(source_version: str, fragment: str, build_script: str) -> str:
    """``<package version>-<12 hex of sha256(effective fragment + build script)>``."""
    if not re.fullmatch(r"[0-9A-Za-z.+~:-]+", source_version or ""):
        raise ValueError(
            f"source_version: {source_version!r}; allowed: a Debian package version "
            "such as '5.10.262-1'"
        )
    h = hashlib.sha256()
    h.update(fragment.encode())
    h.update(b"\0")
    h.update(build_script.encode())
    return f"{source_version.replace(':', '_')}-{h.hexdigest()[:12]}"


def cache_root() -> Path:
    """``$XDG_CACHE_HOME/allockit/lab/kernels`` (default ``~/.cache/...``), like the numba cache."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return Path(base) / "allockit" / "lab" / "kernels"


def source_tarball(kernel: str) -> Path:
    return Path("/usr/src") / f"{KERNELS[check_kernel(kernel)]}.tar.xz"


def source_version(kernel: str) -> str:
    """The installed version of the kernel's source package (dpkg), or a RuntimeError saying
    how to install it (``lab/setup-host.sh``)."""
    pkg = KERNELS[check_kernel(kernel)]
    try:
        out = subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}|${Version}", pkg],
            capture_output=True,
            text=True,
            check=False,
        )
    except FileNotFoundError as exc:  # not a Debian host
        raise RuntimeError(f"{pkg}: dpkg-query not found; the lab needs a Debian host") from exc
    status, _, version = out.stdout.partition("|")
    if (
        out.returncode != 0
        or "installed" not in status.split()
        or not source_tarball(kernel).exists()
    ):
        raise RuntimeError(
            f"{pkg} is not installed; run lab/setup-host.sh (adds bullseye sources for 5.10 "
            f"and installs {pkg}, qemu-system-x86, busybox-static, ...)"
        )
    return version


@dataclass(frozen=True)
class KernelBuild:
    """One cached build: ``dir/bzImage``, ``dir/tree`` (for the module), ``dir/config``."""

    kernel: str
    source_version: str
    key: str
    dir: Path

    @property
    def bzimage(self) -> Path:
        return self.dir / "bzImage"

    @property
    def tree(self) -> Path:
        return self.dir / "tree"

    @property
    def release(self) -> str:
        return (self.dir / "kernelrelease").read_text().strip()

    @property
    def ready(self) -> bool:
        return self.bzimage.exists() and (self.tree / "Module.symvers").exists()


def kernel_build(kernel: str, version: str | None = None) -> KernelBuild:
    """Where the build for ``kernel`` (installed source version unless given) is cached."""
    version = version or source_version(kernel)
    frag = effective_fragment(FRAGMENT.read_text(), kernel)
    key = cache_key(version, frag, BUILD_SCRIPT.read_text())
    return KernelBuild(kernel, version, key, cache_root() / key)


def ensure_kernel(kernel: str, jobs: int = 2, log=print) -> KernelBuild:
    """Return the cached build, building it first (about 12-13 min on 2 cores) if needed.

    The build runs under ``nice -n 19 ionice -c3``; its output goes to ``<dir>/build.log`` and a
    failure raises RuntimeError with the log's tail.
    """
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs: {jobs!r}; allowed: an integer >= 1")
    kb = kernel_build(kernel)
    if kb.ready:
        return kb
    kb.dir.mkdir(parents=True, exist_ok=True)
    frag_path = kb.dir / "fragment.config"
    frag_path.write_text(effective_fragment(FRAGMENT.read_text(), kernel))
    cmd = [
        "nice", "-n", "19", "ionice", "-c3", "sh", str(BUILD_SCRIPT),
        str(source_tarball(kernel)), str(frag_path), str(kb.dir), str(jobs),
    ]  # fmt: skip
    if shutil.which("ionice") is None:
        cmd = cmd[:3] + cmd[5:]
    log(f"lab: building {kernel} kernel ({kb.source_version}) into {kb.dir} ...")
    t0 = time.monotonic()
    with open(kb.dir / "build.log", "w") as fh:
        rc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, check=False).returncode
    elapsed = time.monotonic() - t0
    if rc != 0 or not kb.ready:
        tail = (kb.dir / "build.log").read_text(errors="replace").splitlines()[-20:]
        raise RuntimeError(f"kernel build failed (rc {rc}):\n" + "\n".join(tail))
    (kb.dir / "build-seconds").write_text(f"{elapsed:.0f}\n")
    log(f"lab: built {kb.release} in {elapsed / 60:.1f} min")
    return kb
