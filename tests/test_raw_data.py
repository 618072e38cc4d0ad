"""The real captures vendored under data/raw/ are intact and described by data/raw/README.md.

The README's manifest lists every file with its size and SHA-256; the tests, the ftrace
fixtures, notebook 10 and the ``capture`` sources of params/workload-kbuild.yaml all read these
files, so none of them may skip for a missing capture.
"""

from __future__ import annotations

import hashlib
import lzma
import re

import yaml

from allockit.paths import DATA_DIR, PARAMS_DIR, ROOT

RAW = DATA_DIR / "raw"
README = RAW / "README.md"
KBUILD = RAW / "kbuild-j2-384M"
SNAPSHOTS = [RAW / "idle-snapshot", *(KBUILD / s for s in ("snap-0", "snap-mid", "snap-end"))]
SNAPSHOT_FILES = {
    "buddyinfo", "pagetypeinfo", "zoneinfo", "vmstat", "meminfo", "kernel-release",
    "captured-at", "kpageflags.xz", "kpagecount.xz",
}
RELEASE = "6.18.44-fc-v595"
# line 1 of trace.txt.xz, read once off the capture (also line 1 of the kbuild-head fixture)
FIRST_LINE = (
    "             cc1-5982    [000] .....  2805.976171: mm_page_alloc: page=00000000c2e692cc "
    "pfn=0x144c58 order=0 migratetype=1 gfp_flags=GFP_HIGHUSER_MOVABLE|__GFP_ZERO|__GFP_COMP\n"
)
MANIFEST_ROW = re.compile(r"^\| `([^`]+)` \| (\d+) \| `([0-9a-f]{64})` \|$", re.M)


def manifest() -> dict[str, tuple[int, str]]:
    """data/raw/README.md's manifest: path relative to data/raw -> (bytes, sha256)."""
    rows = MANIFEST_ROW.findall(README.read_text())
    out = {path: (int(size), sha) for path, size, sha in rows}
    assert len(out) == len(rows), "a file is listed twice"
    return out


def read_meta() -> dict[str, str]:
    meta = {}
    for line in (KBUILD / "meta").read_text().splitlines():
        key, sep, value = line.partition(": ")
        assert sep, f"meta: expected 'key: value', got {line!r}"
        meta[key] = value
    return meta


def test_readme_lists_every_file_and_nothing_else():
    listed = manifest()
    on_disk = {p.relative_to(RAW).as_posix() for p in RAW.rglob("*") if p.is_file()}
    on_disk.discard("README.md")
    assert not sorted(set(listed) - on_disk), "listed in data/raw/README.md but missing"
    assert not sorted(on_disk - set(listed)), "under data/raw/ but not in its README"
    # the paths the README's prose cites exist too
    for path in re.findall(r"`(data/raw/[^`\s]+)`", README.read_text()):
        assert (ROOT / path).exists(), path


def test_every_listed_file_has_its_size_and_checksum():
    for path, (size, sha) in manifest().items():
        f = RAW / path
        assert f.is_file(), path
        assert f.stat().st_size == size, path
        h = hashlib.sha256()
        with f.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        assert h.hexdigest() == sha, f"{path} changed: data/raw/ is immutable"


def test_the_captures_hold_what_the_readme_describes():
    listed = set(manifest())
    for d in SNAPSHOTS:
        rel = d.relative_to(RAW).as_posix()
        assert {f"{rel}/{name}" for name in SNAPSHOT_FILES} <= listed, rel
    for name in ("trace.txt.xz", "meta", "memcg-stats", "trace-stats", "build.log",
                 "formats/header_event", "formats/header_page"):
        assert f"kbuild-j2-384M/{name}" in listed, name
    # a format file for every traced event that meta names
    events = read_meta()["events"].split()
    assert len(events) == 17
    for event in events:
        assert f"kbuild-j2-384M/formats/{event}" in listed, event
        assert (KBUILD / "formats" / event).read_text().startswith(
            f"name: {event.split('/')[1]}\n"), event


def test_trace_is_an_xz_stream_of_ftrace_text():
    path = KBUILD / "trace.txt.xz"
    assert path.read_bytes()[:6] == b"\xfd7zXZ\x00"  # the xz magic
    with lzma.open(path, "rt") as f:
        assert f.readline() == FIRST_LINE
    head = (ROOT / "tests" / "fixtures" / "ftrace" / "kbuild-head.txt").read_text()
    assert [line for line in head.splitlines(keepends=True) if not line.startswith("#")][0] == (
        FIRST_LINE
    )


def test_kernel_release_files():
    for d in SNAPSHOTS:
        assert (d / "kernel-release").read_text() == RELEASE + "\n", d.name
        assert re.fullmatch(r"2026-11-27T\d\d:\d\d:\d\dZ\n", (d / "captured-at").read_text())
    meta = read_meta()
    assert meta["kernel_release"] == RELEASE
    assert (meta["cpus"], meta["make_jobs"], meta["memcg_limit_mb"]) == ("2", "2", "384")
    # the ring buffer lost nothing (one block per CPU)
    counters = (KBUILD / "trace-stats").read_text().splitlines()
    assert len(counters) == 6 and all(line.endswith(": 0") for line in counters)


def _capture_dir() -> str:
    """The capture directory the header comment of params/workload-kbuild.yaml names."""
    text = (PARAMS_DIR / "workload-kbuild.yaml").read_text()
    header = [line for line in text.splitlines() if line.startswith("#")]
    cited = [m for line in header for m in re.findall(r'"capture" = (\S+)', line)]
    assert len(cited) == 1, header
    return cited[0]


def _capture_sources() -> dict[str, str]:
    entries = yaml.safe_load((PARAMS_DIR / "workload-kbuild.yaml").read_text())
    return {
        name: " ".join(str(e["source"]).split())
        for name, e in entries.items()
        if str(e["source"]).strip().startswith("capture")
    }


def test_workload_params_cite_captures_that_exist():
    capture = _capture_dir()
    assert capture.startswith("data/raw/"), capture
    assert (ROOT / capture / "trace.txt.xz").is_file(), capture
    sources = _capture_sources()
    assert len(sources) >= 10
    for name, source in sources.items():
        for snap in re.findall(r"\bsnap-[\w-]+", source):
            assert (ROOT / capture / snap).is_dir(), (name, snap)
        for other in re.findall(r"\b(?:kbuild-j\d+-\w+|idle-snapshot)\b", source):
            assert (RAW / other).is_dir(), (name, other)


def test_workload_params_quote_the_snapshot_they_name():
    """A ``capture`` source that names a snapshot and quotes meminfo figures ("Buffers 8,520
    kB ... in snap-mid") quotes that snapshot's meminfo."""
    capture = ROOT / _capture_dir()
    checked = 0
    for name, source in _capture_sources().items():
        snaps = re.findall(r"\bsnap-[\w-]+", source)
        quoted = re.findall(r"\b([A-Z][A-Za-z_]*)\)? ([\d,]+) kB\b", source)
        if not (snaps and quoted):
            continue
        assert len(snaps) == 1, (name, snaps)
        meminfo = {
            key.rstrip(":"): int(value)
            for key, value, *_ in (
                line.split() for line in (capture / snaps[0] / "meminfo").read_text().splitlines()
            )
        }
        for key, value in quoted:
            assert meminfo[key] == int(value.replace(",", "")), (
                f"params/workload-kbuild.yaml: {name}: quotes {key} {value} kB of {snaps[0]}; "
                f"{snaps[0]}/meminfo has {meminfo[key]:,} kB"
            )
            checked += 1
    assert checked >= 2
