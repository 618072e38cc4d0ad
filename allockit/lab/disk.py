"""The guest's workload disk: a build root with the 5.10 tree on an ext4 image, built once.

``lab/guest/make-rootfs.sh`` debootstraps the build root (a minbase bookworm with the kernel
build toolchain); ``lab/guest/make-disk.sh`` adds the 5.10 source tree and a filler file and
makes the 8 GiB sparse image. Both are cached beside the kernel builds
(``~/.cache/allockit/lab/``); the guest attaches the image with ``snapshot=on``, so every run
starts from the same disk.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from ..paths import LAB_DIR
from .kernel import cache_root, source_tarball


def ensure_disk(log=print) -> Path:
    """The workload disk (``lab/guest/make-rootfs.sh`` + ``make-disk.sh``), built once."""
    base = cache_root().parent
    disk = base / "disk-kbuild.img"
    if disk.exists():
        return disk
    rootfs = base / "rootfs"
    guest = LAB_DIR / "guest"
    nice = ["nice", "-n", "19", "ionice", "-c3", "sh"]
    if not (rootfs / "root" / ".allockit-rootfs-done").exists():
        log("lab: debootstrap of the guest's build root (about 2 min) ...")
        subprocess.run(nice + [str(guest / "make-rootfs.sh"), str(rootfs)], check=True)
    log("lab: making the workload disk (about 1 min) ...")
    subprocess.run(
        nice
        + [
            str(guest / "make-disk.sh"),
            str(rootfs / "root"),
            str(source_tarball("5.10")),
            "1024",
            str(disk),
        ],  # fmt: skip
        check=True,
    )
    return disk
