"""The guest side, seen from the host: its initramfs and the parsing of its console log.

The guest (``lab/guest/init``, PID 1 of a busybox-static initramfs) prints one line per event,
``ALLOCKIT <kind> key=value ...`` with kind one of :data:`KINDS`; everything else on the console
is the kernel's own output, which is scanned for crashes (panic, Oops, BUG) so that a guest
crash is reported, never read as a short result. ``build_initramfs`` assembles the initramfs:
busybox, the init script, the run's configuration, the measuring module built against the
cached kernel tree, and the calibration and churn programs built static on the host.

``busy`` lines are the module's census of the pages that made ``alloc_contig_range`` fail: one
line per distinct busy pfn (the first 20 of an experiment run), printed after its ``result``
line, which carries the run's totals (``busy_<class>`` failures, ``busy_distinct_<class>``
distinct pfns; ``allockit/lab/census.py``).
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from ..paths import LAB_DIR
from .kernel import KernelBuild

KINDS = ("boot", "calib", "cma", "workload", "warm", "meminfo", "result", "busy", "error", "done")

# Kernel messages that mean the guest kernel crashed (the run's results cannot be trusted).
CRASH_PATTERNS = (
    re.compile(r"Kernel panic - not syncing"),
    re.compile(r"\bOops\b"),
    re.compile(r"BUG: unable to handle"),
    re.compile(r"kernel BUG at"),
    re.compile(r"general protection fault"),
)
# Kernel complaints that do not end the run but are kept with it (under TCG a busy guest can
# trip the soft-lockup and hung-task detectors; a reader of the results should know).
WARNING_PATTERNS = (
    re.compile(r"BUG: soft lockup"),
    re.compile(r"blocked for more than \d+ seconds"),
    re.compile(r"rcu_\w+ detected stalls"),
    re.compile(r"Out of memory: Kill"),
    re.compile(r"page allocation failure"),
)

_LINE_RE = re.compile(r"ALLOCKIT (\w+)((?: \S+)*)\s*$")


def parse_kv(text: str, join_stray: bool = False) -> dict[str, int | float | str]:
    """``a=1 b=x c=1.5`` -> {"a": 1, "b": "x", "c": 1.5}; tokens without ``=`` are an error,
    unless ``join_stray``: then such a token is appended (after a space) to the value before it
    (the busy census prints symbols with ``%ps``, which reads ``name [module]`` for a module's
    symbol)."""
    out: dict[str, int | float | str] = {}
    last = None
    for tok in text.split():
        key, sep, value = tok.partition("=")
        if join_stray and not sep and last is not None:
            out[last] = f"{out[last]} {tok}"
            continue
        if not sep or not key:
            raise ValueError(f"guest line: token {tok!r} is not key=value")
        last = key
        for conv in (int, float):
            try:
                out[key] = conv(value)
                break
            except ValueError:
                pass
        else:
            out[key] = value
    return out


@dataclass
class ConsoleLog:
    """A parsed console log: the ALLOCKIT lines by kind, and any crash lines."""

    events: dict[str, list[dict]] = field(default_factory=lambda: {k: [] for k in KINDS})
    crash: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return bool(self.events["done"])

    def one(self, kind: str) -> dict:
        """The single line of ``kind`` (boot, calib, cma, workload, warm), or ValueError."""
        lines = self.events[kind]
        if len(lines) != 1:
            raise ValueError(f"console log: {len(lines)} '{kind}' lines; expected exactly one")
        return lines[0]

    def problems(self) -> list[str]:
        """Why this run cannot be trusted as complete: crash, guest errors, no 'done' line."""
        out = [f"guest crash: {c}" for c in self.crash[:3]]
        out += [f"guest error: {e}" for e in self.events["error"]]
        if not self.done:
            out.append("guest did not finish (no 'ALLOCKIT done' line)")
        return out


def parse_console(text: str) -> ConsoleLog:
    """Parse a console log (as QEMU's ``-serial`` wrote it; ``\\r\\n`` line ends tolerated).

    A serial console may interleave a kernel message into the middle of an ALLOCKIT line; such
    a line does not match and lands in ``unknown`` rather than yielding wrong numbers.
    """
    log = ConsoleLog()
    for raw in text.splitlines():
        line = raw.rstrip("\r")
        if any(p.search(line) for p in CRASH_PATTERNS):
            log.crash.append(line.strip())
        elif any(p.search(line) for p in WARNING_PATTERNS):
            log.warnings.append(line.strip())
        pos = line.find("ALLOCKIT ")
        if pos < 0:
            continue
        m = _LINE_RE.fullmatch(line[pos:])
        if m is None or m.group(1) not in KINDS:
            log.unknown.append(line)
            continue
        try:
            log.events[m.group(1)].append(parse_kv(m.group(2), join_stray=m.group(1) == "busy"))
        except ValueError:
            log.unknown.append(line)
    return log


# --- building the initramfs ------------------------------------------------------------------

GUEST_DIR = LAB_DIR / "guest"
MODULE_DIR = LAB_DIR / "module"
BUSYBOX = Path("/bin/busybox")


def build_module(kb: KernelBuild, workdir: Path) -> Path:
    """Build ``lab/module`` against the cached kernel tree (vermagic matches that build)."""
    mod = workdir / "module"
    if mod.exists():
        shutil.rmtree(mod)
    shutil.copytree(MODULE_DIR, mod)
    cmd = ["nice", "-n", "19", "make", "-s", "-C", str(kb.tree), f"M={mod}", "modules"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    ko = mod / "allockit_lab.ko"
    if out.returncode != 0 or not ko.exists():
        raise RuntimeError(f"module build failed:\n{out.stdout[-2000:]}{out.stderr[-2000:]}")
    return ko


def build_static(name: str, workdir: Path) -> Path:
    """Compile ``lab/guest/<name>.c`` static (runs unchanged on host and guest)."""
    exe = workdir / name
    cmd = ["gcc", "-O2", "-static", "-o", str(exe), str(GUEST_DIR / f"{name}.c")]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{name}.c: gcc failed:\n{out.stderr[-2000:]}")
    return exe


def write_conf(conf: dict[str, str | int], experiments: list[tuple[str, str]]) -> tuple[str, str]:
    """``lab.conf`` (shell assignments of LAB_* variables) and ``lab.exps`` (label + command).

    Keys and values are checked to be shell-safe words, so the init script can source the file.
    """
    lines = []
    for k, v in conf.items():
        if not re.fullmatch(r"LAB_[A-Z_]+", k) or not re.fullmatch(r"[A-Za-z0-9_.-]+", str(v)):
            raise ValueError(f"guest config: {k}={v!r}; allowed: LAB_NAME=word")
        lines.append(f"{k}={v}")
    exps = []
    for label, cmd in experiments:
        if not re.fullmatch(r"[A-Za-z0-9_]+", label) or not re.fullmatch(r"[a-z_]+( \w+)+", cmd):
            raise ValueError(f"experiment: {label!r} -> {cmd!r}; allowed: label + module command")
        exps.append(f"{label} {cmd}")
    return "\n".join(lines) + "\n", "\n".join(exps) + "\n"


def build_initramfs(
    kb: KernelBuild,
    workdir: Path,
    conf: dict[str, str | int],
    experiments: list[tuple[str, str]],
) -> Path:
    """Assemble ``workdir/initramfs.cpio.gz``: busybox, /init, /lab.conf, /lab.exps, the module,
    /calibrate and /churn. Returns its path."""
    if not BUSYBOX.exists():
        raise RuntimeError(f"{BUSYBOX} missing; run lab/setup-host.sh (busybox-static)")
    root = workdir / "initramfs"
    if root.exists():
        shutil.rmtree(root)
    for d in ("bin", "sbin", "proc", "sys", "dev", "mnt", "tmp"):
        (root / d).mkdir(parents=True)
    shutil.copy2(BUSYBOX, root / "bin" / "busybox")
    shutil.copy2(GUEST_DIR / "init", root / "init")
    os.chmod(root / "init", 0o755)
    conf_text, exps_text = write_conf(conf, experiments)
    (root / "lab.conf").write_text(conf_text)
    (root / "lab.exps").write_text(exps_text)
    shutil.copy2(build_module(kb, workdir), root / "allockit_lab.ko")
    for prog in ("calibrate", "churn"):
        shutil.copy2(build_static(prog, workdir), root / prog)
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*"))
    cpio = subprocess.run(
        ["cpio", "-o", "-H", "newc", "--quiet"],
        input="\n".join(files).encode(),
        cwd=root,
        capture_output=True,
        check=True,
    ).stdout
    out = workdir / "initramfs.cpio.gz"
    out.write_bytes(gzip.compress(cpio, compresslevel=1))
    return out
