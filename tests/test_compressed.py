"""open_compressed: the one reader of xz, gzip and bzip2 captures, by their magic bytes."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma

import pytest

from allockit.ingest.compressed import MAGIC, compression_of, open_compressed
from allockit.ingest.ftrace import iter_events
from allockit.ingest.procfs import ProcParseError, read_kpage_array
from allockit.workload.tracestats import trace_stats

DATA = b"".join(i.to_bytes(8, "little") for i in range(5000))
COMPRESS = {"xz": lzma.compress, "gzip": gzip.compress, "bzip2": bz2.compress, None: bytes}


@pytest.mark.parametrize("kind", list(COMPRESS))
def test_reads_every_format_whatever_the_name(tmp_path, kind):
    p = tmp_path / "capture.txt"  # no suffix says how it is compressed
    p.write_bytes(COMPRESS[kind](DATA))
    assert compression_of(p.read_bytes()[:6]) == kind
    with open_compressed(p) as fh:
        assert fh.read() == DATA
    with open_compressed(str(p)) as fh:
        assert fh.read() == DATA


@pytest.mark.parametrize("kind", list(COMPRESS))
@pytest.mark.parametrize("buffered", [True, False], ids=["buffered", "raw"])
def test_reads_binary_file_objects(tmp_path, kind, buffered):
    p = tmp_path / "capture"
    p.write_bytes(COMPRESS[kind](DATA))
    with open(p, "rb", buffering=-1 if buffered else 0) as src:
        assert open_compressed(src).read() == DATA
    assert open_compressed(io.BytesIO(p.read_bytes())).read() == DATA


def test_magic_bytes():
    assert MAGIC == {"xz": b"\xfd7zXZ\x00", "gzip": b"\x1f\x8b", "bzip2": b"BZh"}
    assert compression_of(b"") is None
    assert compression_of(b"BZ") is None  # too short to be bzip2


def _one_line_naming(exc: BaseException, path) -> None:
    msg = str(exc)
    assert "\n" not in msg and str(path) in msg


def test_missing_file_raises_one_line_naming_it(tmp_path):
    missing = tmp_path / "no-such-trace.txt.xz"
    with pytest.raises(FileNotFoundError) as exc:
        open_compressed(missing)
    _one_line_naming(exc.value, missing)
    # the readers built on it pass the same error on
    for read in (trace_stats, lambda p: list(iter_events(p)), read_kpage_array):
        with pytest.raises(FileNotFoundError) as exc:
            read(missing)
        _one_line_naming(exc.value, missing)


def test_directory_raises_one_line_naming_it(tmp_path):
    with pytest.raises(IsADirectoryError) as exc:
        open_compressed(tmp_path)
    _one_line_naming(exc.value, tmp_path)
    with pytest.raises(IsADirectoryError) as exc:
        trace_stats(tmp_path)
    _one_line_naming(exc.value, tmp_path)
    # a kpage file is reported as a ProcParseError naming the file, as before
    with pytest.raises(ProcParseError, match="Is a directory") as exc:
        read_kpage_array(tmp_path)
    _one_line_naming(exc.value, tmp_path)
