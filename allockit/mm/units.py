"""Sizes as users write them: ``1536M``, ``1.5G``, ``500MiB``, ``4096K``, or a page count."""

from __future__ import annotations

import re

from .constants import PAGE_SIZE

_UNITS = {"": None, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?\s*$", re.IGNORECASE)


def parse_size_pages(value: int | str, field: str) -> int:
    """Return a size in 4 KiB pages.

    An integer, or a string of digits, is a page count. A number with a K/M/G/T suffix
    (binary units, optional ``B``/``iB``) is a byte size and must be a whole number of pages.
    Raises ``ValueError`` naming ``field`` otherwise.
    """
    if isinstance(value, bool):
        raise ValueError(f"{field}: {value!r} is not a size; allowed: a page count or e.g. '1536M'")
    if isinstance(value, int):
        pages = value
    elif isinstance(value, str):
        m = _SIZE_RE.match(value)
        if not m:
            raise ValueError(
                f"{field}: {value!r} is not a size; allowed: a page count (e.g. 393216) or a "
                "number with a K/M/G/T suffix (e.g. '1536M', '1.5G')"
            )
        number, unit = m.group(1), m.group(2).upper()
        if unit == "":
            if "." in number:
                raise ValueError(f"{field}: {value!r}: a page count must be a whole number")
            pages = int(number)
        else:
            nbytes = float(number) * _UNITS[unit]
            if nbytes != int(nbytes) or int(nbytes) % PAGE_SIZE:
                raise ValueError(
                    f"{field}: {value!r} is not a whole number of {PAGE_SIZE}-byte pages"
                )
            pages = int(nbytes) // PAGE_SIZE
    else:
        raise ValueError(
            f"{field}: {value!r} is not a size; allowed: a page count or a string such as '1536M'"
        )
    if pages < 0:
        raise ValueError(f"{field}: {value!r} is negative; allowed: a size ≥ 0")
    return pages


def format_pages(pages: int) -> str:
    """Human size of a page count: '1536 MiB (393216 pages)'."""
    nbytes = pages * PAGE_SIZE
    for unit, div in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if nbytes >= div and nbytes % div == 0:
            return f"{nbytes // div} {unit} ({pages} pages)"
    return f"{pages} pages"
