"""Open a capture file, compressed with xz, gzip or bzip2 or not at all.

ftrace text captures (``trace.txt.xz``) and the kpage files of a /proc snapshot
(``kpageflags.gz``, ``kpagecount.xz``) are read through :func:`open_compressed`. The
compression is recognised by the first bytes of the data, not by the file name, so a file
saved without its suffix (or with a wrong one) is still read.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
from collections.abc import Callable
from typing import BinaryIO

__all__ = ["MAGIC", "compression_of", "open_compressed"]

# The first bytes of each format's stream (xz: 6 bytes, gzip: 2, bzip2: "BZh" + block size).
MAGIC: dict[str, bytes] = {"xz": b"\xfd7zXZ\x00", "gzip": b"\x1f\x8b", "bzip2": b"BZh"}
_MAGIC_LEN = max(len(m) for m in MAGIC.values())
_OPENERS: dict[str, Callable[..., BinaryIO]] = {
    "xz": lzma.open,
    "gzip": gzip.open,
    "bzip2": bz2.open,
}


def compression_of(head: bytes) -> str | None:
    """The compression a stream starting with ``head`` uses.

    Parameters
    ----------
    head : bytes
        The first bytes of the data (6 are enough for every format).

    Returns
    -------
    str or None
        ``"xz"``, ``"gzip"`` or ``"bzip2"``; None for data that is not compressed.
    """
    for name, magic in MAGIC.items():
        if head.startswith(magic):
            return name
    return None


def open_compressed(source: str | os.PathLike | BinaryIO) -> BinaryIO:
    """A binary file object that reads the decompressed data of ``source``.

    Parameters
    ----------
    source : str, os.PathLike or binary file object
        A path, or a binary file object positioned at the start of the data (a stream is
        wrapped in ``io.BufferedReader`` when it cannot peek).

    Returns
    -------
    binary file object
        Reads the data through ``lzma``, ``gzip`` or ``bz2`` when its magic bytes (see
        :data:`MAGIC`) say so, as is otherwise. The caller closes it; closing a wrapper of a
        file object passed in does not close that object.

    Raises
    ------
    FileNotFoundError, IsADirectoryError, PermissionError
        For a path that does not exist, is a directory or cannot be read; the one-line
        message names the path, as ``open`` gives it.
    """
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        with open(path, "rb") as fh:
            head = fh.read(_MAGIC_LEN)
        kind = compression_of(head)
        if kind is None:
            return open(path, "rb")  # noqa: SIM115 - the caller owns and closes it
        return _OPENERS[kind](path, "rb")
    stream = source if hasattr(source, "peek") else io.BufferedReader(source)  # type: ignore[arg-type]
    kind = compression_of(stream.peek(_MAGIC_LEN)[:_MAGIC_LEN])
    return stream if kind is None else _OPENERS[kind](stream, "rb")
