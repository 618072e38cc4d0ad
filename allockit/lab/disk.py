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
    """The workload disk (``lab/guest/make-rootfs.sh`` + ``make-disk.sh``), built once. Their
    output (debootstrap's hundreds of lines) goes to ``disk-kbuild.log`` beside the image; a
    failure names the log and quotes its end."""
    base = cache_root().parent
    disk = base / "disk-kbuild.img"
    if disk.exists():
        return disk
    rootfs = base / "rootfs"
    guest = LAB_DIR / "guest"
    nice = ["nice", "-n", "19", "ionice", "-c3", "sh"]
    base.mkdir(parents=True, exist_ok=True)
    build_log = base / "disk-kbuild.log"
    with open(build_log, "w") as out:
        if not (rootfs / "root" / ".allockit-rootfs-done").exists():
            log(f"lab: debootstrap of the guest's build root (about 2 min; log {build_log}) ...")
            _run_logged(nice + [str(guest / "make-rootfs.sh"), str(rootfs)], out, build_log)
        log(f"lab: making the workload disk (about 1 min; log {build_log}) ...")
        _run_logged(
            nice + [str(guest / "make-disk.sh"), str(rootfs / "root"),
                    str(source_tarball("5.10")), "1024", str(disk)],
            out, build_log,
        )  # fmt: skip
    return disk


def _run_logged(cmd: list[str], out, build_log: Path) -> None:
    """Run ``cmd`` with its output in the build log; a failure raises, naming the log."""
    done = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        out.flush()
        script = next(Path(c).name for c in cmd if c.endswith(".sh"))
        tail = build_log.read_text(errors="replace").splitlines()[-15:]
        raise RuntimeError(f"lab disk: {script} failed (exit {done.returncode}); "
                           f"log {build_log}:\n" + "\n".join(tail))  # fmt: skip
