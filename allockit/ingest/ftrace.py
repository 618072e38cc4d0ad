"""Streaming, version-aware parser of ftrace text captures.

Reads the text that ``/sys/kernel/tracing/trace`` (or ``trace_pipe``) prints, one event a line::

    cc1-5982    [000] .....  2805.976171: mm_page_alloc: page=0000… pfn=0x144c58 order=0 …
    TASK-PID    [CPU] FLAGS  TIMESTAMP:   EVENT:         FIELDS

and yields one compact :class:`TraceEvent` per event, streaming (a multi-GB capture is never
held in memory). ``.xz``, ``.gz`` and ``.bz2`` files are recognised by their magic bytes.

What varies between kernels and tools, and is handled:

* the irq-flags column has 4 characters (``d..1``: older kernels, ``trace-cmd report -l``) or
  5 (``d..2.``: newer kernels add a migrate-disable digit); ``trace-cmd report`` prints none; a
  ``(TGID)`` column (``options/record-tgid``) may sit between task and CPU; ``perf script``
  prints ``comm pid`` instead of ``comm-pid`` and ``system:event`` instead of ``event``;
* ``pfn=`` is hexadecimal (``pfn=0x1d1a30``) since v5.14 and decimal before. Given the
  capture's ``formats/`` directory (each event's tracefs ``format`` file), the parser reads
  each event's ``print fmt`` and parses every field with the conversion the kernel used
  (``0x%lx``, ``%lx``, ``%lu``, ``%d``, ``%s``), checks ``__print_flags`` names (so a line cut
  inside ``gfp_flags=`` is caught) and knows which fields every line must have. Without it,
  a built-in table of the events allockit uses applies, with ``pfn`` read as hex when it
  starts with ``0x`` and as decimal otherwise;
* comment lines (``#``), blank lines, ``trace-cmd`` preamble lines and ``CPU:N [LOST K
  EVENTS]`` markers are skipped (the lost-event counts are added up in the report).

Bad input (a line that is not an ftrace event, a line cut short, a field that does not have
the form its format gives, an event the parser does not know, a compressed stream that ends
early) raises :class:`TraceParseError`, a ``ValueError`` naming the file, the line number and
what was expected; with ``errors="count"`` such lines are skipped and counted in the
:class:`ParseReport` instead.

Speed: the text is read in 1 MiB chunks; the header is matched by one regular expression for
the plain ``trace`` layout (a more general one takes the other layouts), and each event's
fields by one regular expression compiled from its format. :meth:`FtraceParser.scan` is the
fast path: it yields the header match and the unparsed field text, so bulk statistics
(``allockit.workload.tracestats``) convert only the fields they use. On the 5.8 M-line,
36 s kbuild capture (34 MB of xz, 772 MB of text), on one core: reading and splitting the
lines takes about 5 s, ``scan`` about 12 s, a full ``trace_stats`` pass about 24 s and
``iter_events`` (every field converted) about 34 s.
"""

from __future__ import annotations

import codecs
import gzip
import io
import lzma
import os
import re
import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any, NamedTuple

from allockit.ingest.compressed import open_compressed

__all__ = [
    "BUILTIN_FORMATS",
    "EventSpec",
    "FieldError",
    "FtraceParser",
    "ParseReport",
    "TraceEvent",
    "TraceParseError",
    "iter_events",
    "load_formats",
    "open_capture",
]

# ---------------------------------------------------------------------------------------------
# Records, errors, report


class TraceEvent(NamedTuple):
    """One event line: trace-clock time (s), CPU, task, event name and its fields.

    ``fields`` maps each field name to an ``int`` (``%d``/``%u``/``%lx``/``0x%lx`` conversions,
    ``pfn`` included) or a ``str`` (``%s``/``%p`` and composite values such as ``dev 254:0``).
    """

    ts: float
    cpu: int
    comm: str
    pid: int
    event: str
    fields: dict[str, Any]


class TraceParseError(ValueError):
    """A line of a capture that cannot be read: names the file, the line and what was expected.

    ``kind`` is one of ``garbage`` (not an ftrace event line), ``truncated`` (the line or the
    file ends early, or fields are missing), ``unknown_event`` and ``bad_value`` (a field that
    does not have the form its format gives).
    """

    def __init__(self, source: str, lineno: int, kind: str, expected: str, line: str | None):
        self.source = source
        self.lineno = lineno
        self.kind = kind
        self.expected = expected
        self.line = line
        got = "" if line is None else f"; got {line.rstrip(chr(10))[:200]!r}"
        super().__init__(f"{source}:{lineno}: {kind}: expected {expected}{got}")


ERROR_KINDS = ("garbage", "truncated", "unknown_event", "bad_value")
_MAX_EXAMPLES = 20


@dataclass(slots=True)
class ParseReport:
    """What one pass over a capture saw. ``errors`` counts skipped lines by kind."""

    source: str = "<stream>"
    lines: int = 0
    events: int = 0
    comments: int = 0
    blank: int = 0
    lost_events: int = 0
    errors: Counter = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "lines": self.lines,
            "events": self.events,
            "comments": self.comments,
            "blank": self.blank,
            "lost_events": self.lost_events,
            "errors": {k: int(self.errors.get(k, 0)) for k in ERROR_KINDS},
            "error_examples": list(self.examples),
        }


class FieldError(Exception):
    """An event's fields do not have the form its format gives.

    Raised by :meth:`EventSpec.raw` and :meth:`EventSpec.check_flags`, which see one event's
    field text but not the line it came from; pass it to :meth:`FtraceParser.bad_fields`,
    which raises (or counts) the :class:`TraceParseError` naming the file and line.

    Parameters
    ----------
    kind : str
        One of :data:`ERROR_KINDS` (``truncated``, ``bad_value``, ``garbage``).
    expected : str
        What the field should have been, for the message.
    """

    def __init__(self, kind: str, expected: str):
        super().__init__(kind, expected)
        self.kind = kind
        self.expected = expected


# ---------------------------------------------------------------------------------------------
# Event formats

INT, HEX, HEX0, AUTO, STR, FLAGS = "int", "hex", "0xhex", "auto", "str", "flags"

_CONV_DESC = {
    INT: "a decimal integer",
    HEX: "a hexadecimal integer",
    HEX0: "a 0x-prefixed hexadecimal integer",
    AUTO: "an integer (0x-prefixed hex, or decimal as before v5.14)",
    STR: "a non-empty value",
    FLAGS: "flag names joined by '|'",
}
_CONV_PATTERN = {
    INT: r"-?\d++",
    HEX: r"(?:0x)?[0-9a-fA-F]++",
    HEX0: r"0x[0-9a-fA-F]++",
    AUTO: r"0x[0-9a-fA-F]++|-?\d++",
    FLAGS: r"\S++",
}
_CONV_RE = re.compile(r"%[-+ #0]*\d*(?:\.\d+)?(?:hh|h|ll|l|z|j|t|L)?([diuxXspc])")
_INT_RE = re.compile(r"-?\d+\Z")
_HEX_RE = re.compile(r"(?:0x)?[0-9a-fA-F]+\Z")
_HEX0_RE = re.compile(r"0x[0-9a-fA-F]+\Z")
_AUTO_RE = re.compile(r"(?:0x[0-9a-fA-F]+|-?\d+)\Z")
_FLAGS_SYNTAX_RE = re.compile(
    r"(?:[A-Za-z0-9_]+|0x[0-9a-fA-F]+)(?:\|(?:[A-Za-z0-9_]+|0x[0-9a-fA-F]+))*\Z"
)
_CHECK_RE = {INT: _INT_RE, HEX: _HEX_RE, HEX0: _HEX0_RE, AUTO: _AUTO_RE}


def _to_int_auto(v: str) -> int:
    return int(v, 16) if v.startswith("0x") else int(v)


def _hex(v: str) -> int:
    return int(v, 16)


CONVERTERS = {INT: int, HEX: _hex, HEX0: _hex, AUTO: _to_int_auto}

# The print formats (the quoted part of ``print fmt``) of the events allockit reads, as on
# Linux 6.18. Used when no formats directory is given; ``0x%lx`` is then read as AUTO.
BUILTIN_FORMATS: dict[str, tuple[str, str, tuple[str, ...], bool]] = {
    # event: (system, print fmt, fields every kernel version prints, has __print_flags)
    "mm_page_alloc": (
        "kmem",
        "page=%p pfn=0x%lx order=%d migratetype=%d gfp_flags=%s",
        ("pfn", "order", "migratetype", "gfp_flags"),
        True,
    ),
    "mm_page_free": ("kmem", "page=%p pfn=0x%lx order=%d", ("pfn", "order"), False),
    "mm_page_free_batched": ("kmem", "page=%p pfn=0x%lx order=0", ("pfn",), False),
    "mm_page_alloc_extfrag": (
        "kmem",
        "page=%p pfn=0x%lx alloc_order=%d fallback_order=%d pageblock_order=%d "
        "alloc_migratetype=%d fallback_migratetype=%d fragmenting=%d change_ownership=%d",
        ("pfn", "alloc_order", "fallback_order", "alloc_migratetype", "fallback_migratetype"),
        False,
    ),
    "mm_page_pcpu_drain": (
        "kmem",
        "page=%p pfn=0x%lx order=%d migratetype=%d",
        ("pfn", "order", "migratetype"),
        False,
    ),
    "mm_filemap_add_to_page_cache": (
        "filemap",
        "dev %d:%d ino %lx pfn=0x%lx ofs=%lu order=%u",
        ("dev", "ino", "pfn", "ofs"),
        False,
    ),
    "mm_filemap_delete_from_page_cache": (
        "filemap",
        "dev %d:%d ino %lx pfn=0x%lx ofs=%lu order=%u",
        ("dev", "ino", "pfn", "ofs"),
        False,
    ),
    "writeback_dirty_folio": ("writeback", "bdi %s: ino=%lu index=%lu", ("bdi", "ino"), False),
    "folio_wait_writeback": ("writeback", "bdi %s: ino=%lu index=%lu", ("bdi", "ino"), False),
    # Kernels from before the folio conversion (about v5.17) had page events of that layout.
    "writeback_dirty_page": ("writeback", "bdi %s: ino=%lu index=%lu", ("bdi", "ino"), False),
    "wait_on_page_writeback": ("writeback", "bdi %s: ino=%lu index=%lu", ("bdi", "ino"), False),
    "writeback_written": (
        "writeback",
        "bdi %s: sb_dev %d:%d nr_pages=%ld sync_mode=%d kupdate=%d range_cyclic=%d "
        "background=%d reason=%s cgroup_ino=%lu",
        ("bdi", "nr_pages", "reason"),
        False,
    ),
    "mm_vmscan_kswapd_wake": ("vmscan", "nid=%d order=%d", ("nid", "order"), False),
    "mm_vmscan_lru_shrink_inactive": (
        "vmscan",
        "nid=%d nr_scanned=%ld nr_reclaimed=%ld nr_dirty=%ld nr_writeback=%ld "
        "nr_congested=%ld nr_immediate=%ld nr_activate_anon=%d nr_activate_file=%d "
        "nr_ref_keep=%ld nr_unmap_fail=%ld priority=%d flags=%s",
        ("nid", "nr_scanned", "nr_reclaimed"),
        True,
    ),
    "mm_vmscan_memcg_reclaim_begin": ("vmscan", "order=%d gfp_flags=%s", ("order",), True),
    "mm_vmscan_memcg_reclaim_end": ("vmscan", "nr_reclaimed=%lu", ("nr_reclaimed",), False),
    "mm_migrate_pages": (
        "migrate",
        "nr_succeeded=%lu nr_failed=%lu nr_thp_succeeded=%lu nr_thp_failed=%lu "
        "nr_thp_split=%lu nr_split=%lu mode=%s reason=%s",
        ("nr_succeeded", "nr_failed", "mode", "reason"),
        False,
    ),
    "mm_compaction_begin": (
        "compaction",
        "zone_start=0x%lx migrate_pfn=0x%lx free_pfn=0x%lx zone_end=0x%lx, mode=%s",
        ("zone_start", "migrate_pfn", "free_pfn", "zone_end", "mode"),
        False,
    ),
    "mm_compaction_end": (
        "compaction",
        "zone_start=0x%lx migrate_pfn=0x%lx free_pfn=0x%lx zone_end=0x%lx, mode=%s status=%s",
        ("zone_start", "migrate_pfn", "free_pfn", "zone_end", "mode", "status"),
        False,
    ),
}


@dataclass(slots=True, eq=False)
class EventSpec:
    """How one event's fields are printed: conversions, required fields, flag names.

    ``origin`` is the format file it was read from, or ``"builtin"``.
    """

    name: str
    system: str
    fmt: str
    convs: dict[str, str]
    required: tuple[str, ...]
    constants: dict[str, str]
    flag_names: frozenset[str] | None
    origin: str
    body_re: re.Pattern | None = None
    _flag_keys: tuple[str, ...] = ()
    # __print_flags values already checked against flag_names (a cache, see check_flags)
    checked_flags: set[str] = field(default_factory=set)

    @classmethod
    def from_fmt(
        cls,
        name: str,
        system: str,
        fmt: str,
        *,
        origin: str,
        flag_names: frozenset[str] | None = None,
        has_flags: bool = False,
        required: tuple[str, ...] | None = None,
        lenient_hex: bool = False,
    ) -> EventSpec:
        convs, constants, pattern = _compile_fmt(fmt, lenient_hex=lenient_hex)
        flag_keys = ()
        if has_flags:
            flag_keys = tuple(k for k, c in convs.items() if c == STR and k.endswith("flags"))
            for k in flag_keys:
                convs[k] = FLAGS
        body_re = None
        if pattern is not None:
            try:
                body_re = re.compile(pattern)
            except re.error:
                body_re = None
        keys = tuple(convs) + tuple(constants)
        return cls(
            name=name,
            system=system,
            fmt=fmt,
            convs=convs,
            required=keys if required is None else required,
            constants=constants,
            flag_names=flag_names,
            origin=origin,
            body_re=body_re,
            _flag_keys=flag_keys,
        )

    # -- field parsing -------------------------------------------------------------------------

    def raw(self, body: str) -> Mapping[str, str]:
        """The fields as printed (strings), checked against the format; raises FieldError.

        Returns the regular-expression match itself (it supports ``m["pfn"]``) on the fast
        path, or a dict when the line had to be tokenised (an older layout, extra fields).
        Constant fields (``order=0`` of ``mm_page_free_batched``) are only in ``fields()``.
        """
        rx = self.body_re
        m = rx.fullmatch(body) if rx is not None else None
        if m is None:
            return self._tokenised(body)
        for k in self._flag_keys:
            self.check_flags(k, m[k])
        return m

    def fields(self, body: str) -> dict[str, Any]:
        """The fields converted: ints for integer conversions, strings otherwise."""
        raw = self.raw(body)
        if isinstance(raw, re.Match):
            raw = raw.groupdict()
        out: dict[str, Any] = {}
        convs = self.convs
        for k, v in raw.items():
            conv = CONVERTERS.get(convs.get(k, STR))
            out[k] = conv(v) if conv is not None else v
        for k, v in self.constants.items():
            out.setdefault(k, int(v) if v.isdigit() else v)
        return out

    def to_int(self, key: str, value: str) -> int:
        """Convert one raw integer field the way the format says (pfn: hex or decimal)."""
        return CONVERTERS[self.convs.get(key, AUTO)](value)

    def converter(self, key: str) -> Callable[[str], int]:
        """The function that converts the raw text of integer field ``key`` to an int.

        Parameters
        ----------
        key : str
            A field of the event's print fmt, such as ``"pfn"``.

        Returns
        -------
        callable
            ``int`` for ``%d``/``%u``, a hex reader for ``%lx``/``0x%lx``; for a field the
            format does not name, and for ``0x%lx`` without the capture's format files, one
            that reads ``0x``-prefixed hex and decimal (``pfn=`` before v5.14).

        Raises
        ------
        KeyError
            For a field the format prints as a string (``%s``, ``%p``, flags).
        """
        return CONVERTERS[self.convs.get(key, AUTO)]

    def check_flags(self, key: str, value: str) -> None:
        """Check a ``__print_flags`` field (``gfp_flags=``) against the format's flag names.

        :meth:`raw` checks the flag fields it returns; a consumer that matches
        :attr:`body_re` itself calls this. A value that passed is remembered in
        :attr:`checked_flags` (up to 4096 of them), so ``value in spec.checked_flags`` lets
        a hot loop skip the call.

        Parameters
        ----------
        key : str
            The field's name, for the message.
        value : str
            The field as printed, flag names joined by ``|``.

        Raises
        ------
        FieldError
            ``bad_value`` when a part is neither a flag name of the format nor a ``0x``
            number (the line was cut inside the field), or, without flag names, when the
            value is not names joined by ``|``.
        """
        ok = self.checked_flags
        if value in ok:
            return
        names = self.flag_names
        if names:
            for part in value.split("|"):
                if part not in names and not part.startswith("0x"):
                    raise FieldError(
                        "bad_value",
                        f"{key}= made of the flag names of {self.name}'s format "
                        f"({self.origin}); {part!r} is not one (line cut short?)",
                    )
        elif not _FLAGS_SYNTAX_RE.match(value):
            raise FieldError("bad_value", f"{key}= as {_CONV_DESC[FLAGS]}, not {value!r}")
        if len(ok) < 4096:
            ok.add(value)

    def _tokenised(self, body: str) -> dict[str, str]:
        toks = body.split()
        d: dict[str, str] = {}
        i, n = 0, len(toks)
        while i < n:
            t = toks[i]
            k, eq, v = t.partition("=")
            if eq:
                if not k:
                    raise FieldError(
                        "garbage", f"KEY=VALUE fields for {self.name}, got token {t!r}"
                    )
                d[k] = v[:-1] if v.endswith(",") else v
                i += 1
            else:  # a bare key followed by its value ("dev 254:0", "bdi 254:0:")
                if i + 1 >= n or "=" in toks[i + 1]:
                    missing = [r for r in self.required if r not in d and r != t]
                    raise FieldError(
                        "truncated",
                        f"a value after {t!r} in {self.name}"
                        + (f" and fields {', '.join(missing)}" if missing else ""),
                    )
                d[t] = toks[i + 1].rstrip(":,")
                i += 2
        missing = [r for r in self.required if not d.get(r) and r not in self.constants]
        if missing:
            raise FieldError(
                "truncated",
                f"{self.name} fields {', '.join(self.required)}; missing or empty: "
                f"{', '.join(missing)}",
            )
        convs = self.convs
        for k, v in d.items():
            conv = convs.get(k)
            if conv is None or conv == STR:
                continue
            if conv == FLAGS:
                self.check_flags(k, v)
            elif not _CHECK_RE[conv].match(v):
                raise FieldError(
                    "bad_value",
                    f"{k}= as {_CONV_DESC[conv]} (format of {self.name}: {self.origin}), not {v!r}",
                )
        return d


def _compile_fmt(fmt: str, *, lenient_hex: bool) -> tuple[dict, dict, str | None]:
    """Turn a print fmt into {field: conversion}, {field: constant} and a body regex."""
    convs: dict[str, str] = {}
    constants: dict[str, str] = {}
    pieces: list[str] = []
    ok = True
    toks = fmt.split()
    i = 0
    while i < len(toks):
        tok = toks[i]
        if "=" in tok:
            key, _, spec = tok.partition("=")
            lead = re.escape(key + "=")
            i += 1
        elif "%" not in tok and i + 1 < len(toks) and "%" in toks[i + 1]:
            key, spec = tok.rstrip(":,"), toks[i + 1]
            lead = re.escape(tok) + r"\s++"
            i += 2
        else:
            pieces.append(re.escape(tok))
            i += 1
            continue
        convs_in = list(_CONV_RE.finditer(spec))
        name_ok = key.isidentifier() and key not in convs and key not in constants
        if not convs_in:
            constants[key] = spec.rstrip(",:")
            pieces.append(lead + re.escape(spec))
            continue
        if len(convs_in) == 1:
            m = convs_in[0]
            pre, post, letter = spec[: m.start()], spec[m.end() :], m.group(1)
            if letter in "xX":
                if pre.endswith("0x"):
                    conv, pre = (AUTO if lenient_hex else HEX0), pre[:-2]
                else:
                    conv = HEX
            elif letter in "diu":
                conv = INT
            else:
                conv = STR
            if conv == STR:
                pat = r"\S+?" if post else r"\S++"
            else:
                pat = _CONV_PATTERN[conv]
            convs[key] = conv
            if name_ok:
                pieces.append(lead + re.escape(pre) + f"(?P<{key}>{pat})" + re.escape(post))
            else:
                ok = False
        else:  # composite value such as "%d:%d": one string field
            convs[key] = STR
            parts, last = [], 0
            for m in convs_in:
                parts.append(re.escape(spec[last : m.start()]))
                parts.append(r"\S+?" if m.group(1) in "sp" else r"-?[0-9a-fA-Fx]+")
                last = m.end()
            tail = spec[last:]
            core = "".join(parts)
            tail_s = tail.rstrip(",:")
            core += re.escape(tail_s)
            if name_ok:
                pieces.append(lead + f"(?P<{key}>{core})" + re.escape(tail[len(tail_s) :]))
            else:
                ok = False
    pattern = r"\s*+" + r"\s++".join(pieces) + r"\s*+" if ok else None
    return convs, constants, pattern


_PRINT_FMT_RE = re.compile(r'^print fmt:\s*"((?:[^"\\]|\\.)*)"(.*)$', re.M)
_NAME_RE = re.compile(r"^name:\s*(\S+)", re.M)
_FLAG_NAME_RE = re.compile(r'"([A-Za-z_][A-Za-z0-9_]*)"')


def parse_format_file(text: str, *, origin: str, system: str = "") -> EventSpec | None:
    """An EventSpec from the text of a tracefs ``format`` file, or None if it is not one."""
    mn = _NAME_RE.search(text)
    mf = _PRINT_FMT_RE.search(text)
    if mn is None or mf is None:
        return None
    fmt = mf.group(1).replace('\\"', '"').replace("\\\\", "\\")
    args = mf.group(2)
    has_flags = "__print_flags" in args
    names = frozenset(_FLAG_NAME_RE.findall(args)) | {"none"} if has_flags else None
    return EventSpec.from_fmt(
        mn.group(1), system, fmt, origin=origin, flag_names=names, has_flags=has_flags
    )


def load_formats(formats_dir: str | os.PathLike) -> dict[str, EventSpec]:
    """Read every event ``format`` file under ``formats_dir``.

    Accepts the tracefs layout (``<system>/<event>/format``) and the flat capture layout
    (``<system>/<event>``, a file holding the format). Raises ``ValueError`` if none is found.
    """
    root = os.fspath(formats_dir)
    if not os.path.isdir(root):
        raise ValueError(f"formats_dir: {root!r} is not a directory")
    specs: dict[str, EventSpec] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for fn in sorted(filenames):
            path = os.path.join(dirpath, fn)
            try:
                if os.path.getsize(path) > 1 << 20:
                    continue
                with open(path, encoding="utf-8", errors="replace") as fh:
                    text = fh.read()
            except OSError:
                continue
            if fn == "format":
                system = os.path.basename(os.path.dirname(dirpath))
            else:
                system = os.path.basename(dirpath)
            spec = parse_format_file(text, origin=os.path.relpath(path, root), system=system)
            if spec is not None:
                specs[spec.name] = spec
    if not specs:
        raise ValueError(f"formats_dir: no event format files under {root!r}")
    return specs


def builtin_specs() -> dict[str, EventSpec]:
    out = {}
    for name, (system, fmt, required, has_flags) in BUILTIN_FORMATS.items():
        out[name] = EventSpec.from_fmt(
            name,
            system,
            fmt,
            origin="builtin",
            has_flags=has_flags,
            required=required,
            lenient_hex=True,
        )
    return out


# ---------------------------------------------------------------------------------------------
# Opening captures


def open_capture(source: str | os.PathLike | IO) -> tuple[IO, str, bool]:
    """(binary or text file object, name for messages, whether the caller must close it).

    A path or a binary file object is read through
    :func:`allockit.ingest.compressed.open_compressed` (xz, gzip and bzip2 recognised by their
    magic bytes); a text file object is used as is.
    """
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        return open_compressed(path), path, True
    name = str(getattr(source, "name", "<stream>"))
    if isinstance(source, io.TextIOBase) or hasattr(source, "encoding"):
        return source, name, False
    return open_compressed(source), name, False


def _chunks(f: IO) -> Iterator[str]:
    """The text of ``f`` in pieces of about 1 MiB.

    Binary sources are read with ``read1`` and decoded incrementally (UTF-8, bad bytes
    replaced), so everything decompressed before a compressed stream breaks is still read.
    """
    if isinstance(f, io.TextIOBase) or hasattr(f, "encoding"):
        while chunk := f.read(_CHUNK):
            yield chunk
        return
    decode = codecs.getincrementaldecoder("utf-8")(errors="replace").decode
    read = getattr(f, "read1", f.read)
    while data := read(_CHUNK):
        yield decode(data)
    tail = decode(b"", True)
    if tail:
        yield tail


# ---------------------------------------------------------------------------------------------
# Header parsing

# TASK-PID [(TGID)] [CPU] [FLAGS] TIMESTAMP: [SYSTEM:]EVENT: — ftrace's ``trace`` file (irq flags
# of 4 or 5 characters), ``trace-cmd report`` (no flags, or 4 with -l) and ``perf script``
# ("comm pid", "system:event"). _FAST_RE takes the plain ``trace`` file's lines in about half
# the time; the general _HEADER_RE (same group numbers) takes the rest.
_FAST_RE = re.compile(
    r" *+(?P<comm>[^#\s].*?)-(?P<pid>\d++) ++\[(?P<cpu>\d++)\] ++(?P<flags>\S{4,5}) ++"
    r"(?P<ts>\d++\.\d++): (?P<event>\w++): "
)
_HEADER_RE = re.compile(
    r"[ \t]*+(?P<comm>[^#\s].*?)[- ](?P<pid>\d++)[ \t]++(?:\([ \t]*+(?:\d++|-++)\)[ \t]++)?"
    r"\[(?P<cpu>\d++)\][ \t]++(?:(?P<flags>\S{4,5})[ \t]++)?(?P<ts>\d++(?:\.\d++)?):[ \t]++"
    r"(?:\w++:)?(?P<event>\w++):(?:[ \t]|\Z)"
)
# a line that starts like an event line (task-pid and the CPU column) but does not finish
_PARTIAL_RE = re.compile(r"\s*\S.*?[- ]\d+\s+(?:\(\s*(?:\d+|-+)\)\s+)?\[\d*")
_LOST_RE = re.compile(r"\s*CPU:\s*(\d+)\s+\[LOST (\d+) EVENTS\]")
_PREAMBLE_RE = re.compile(
    r"\s*(?:cpus=\d+|version\s*=\s*\S+|CPU\s*\d+ is empty|CPU\d+ data recorded at offset=.*"
    r"|\d+ bytes in size.*|#.*|=+)\s*\Z"
)
HEADER_EXPECTED = "an ftrace event line 'TASK-PID [CPU] FLAGS TIMESTAMP: EVENT: FIELDS'"
_CHUNK = 1 << 20


def _read_lines(f: IO) -> Iterator[tuple[list[str], bool]]:
    """Yield (lines without their newline, whether the last one had no newline) per chunk."""
    rest = ""
    for chunk in _chunks(f):
        if "\r" in chunk:  # CRLF or CR line ends
            if chunk.endswith("\r"):
                chunk += "\n"
            chunk = chunk.replace("\r\n", "\n").replace("\r", "\n")
        lines = (rest + chunk).split("\n") if rest else chunk.split("\n")
        rest = lines.pop()
        if lines:  # a chunk without a line end adds to ``rest`` and yields nothing
            yield lines, False
    if rest:
        yield [rest], True


# ---------------------------------------------------------------------------------------------
# The parser


class FtraceParser:
    """A configured parser: event formats, error policy, and the report of the last pass.

    ``formats_dir``: the capture's event format files (see :func:`load_formats`); they add to,
    and take precedence over, the built-in table. ``errors``: ``"raise"`` (default) raises
    :class:`TraceParseError` at the first bad line; ``"count"`` skips bad lines and counts
    them in ``self.report`` (a :class:`ParseReport`, complete once the pass has finished).
    ``extra_formats``: more ``{event: EventSpec}``.
    """

    def __init__(
        self,
        formats_dir: str | os.PathLike | None = None,
        errors: str = "raise",
        extra_formats: Mapping[str, EventSpec] | None = None,
    ):
        if errors not in ("raise", "count"):
            raise ValueError(f"errors: {errors!r} is not allowed (allowed: 'raise', 'count')")
        self.errors = errors
        self.specs: dict[str, EventSpec] = builtin_specs()
        self.formats_dir = None if formats_dir is None else os.fspath(formats_dir)
        if formats_dir is not None:
            self.specs.update(load_formats(formats_dir))
        if extra_formats:
            self.specs.update(extra_formats)
        self.report = ParseReport()

    # -- errors ---------------------------------------------------------------------------------

    def _fail(self, kind: str, expected: str, lineno: int, line: str | None) -> None:
        rep = self.report
        if self.errors == "raise":
            raise TraceParseError(rep.source, lineno, kind, expected, line)
        rep.errors[kind] += 1
        if len(rep.examples) < _MAX_EXAMPLES:
            rep.examples.append(str(TraceParseError(rep.source, lineno, kind, expected, line)))

    def bad_fields(self, exc: FieldError, lineno: int, line: str) -> None:
        """Report a field-level error found by a consumer of :meth:`scan`.

        Parameters
        ----------
        exc : FieldError
            What :meth:`EventSpec.raw` or :meth:`EventSpec.check_flags` raised.
        lineno, line : int, str
            Where it was found, as :meth:`scan` yielded them.

        Raises
        ------
        TraceParseError
            With ``errors="raise"``; with ``"count"`` the line is counted in the report.
        """
        self._fail(exc.kind, exc.expected, lineno, line)

    def _unknown(self, event: str) -> str:
        known = sorted(self.specs)
        shown = ", ".join(known[:6]) + (", ..." if len(known) > 6 else "")
        where = f" under {self.formats_dir}" if self.formats_dir else " (pass formats_dir)"
        return f"a known event ({shown}) or a format file for {event!r}{where}"

    # -- scanning -------------------------------------------------------------------------------

    def _other_line(self, line: str, lineno: int) -> None:
        """A line that is not an event line: skip it (comment, blank, ...) or report it."""
        rep = self.report
        if not line.strip():
            rep.blank += 1
            return
        lost = _LOST_RE.match(line)
        if lost is not None:
            rep.lost_events += int(lost.group(2))
            rep.comments += 1
            return
        if _PREAMBLE_RE.match(line):
            rep.comments += 1
            return
        if _PARTIAL_RE.match(line):
            self._fail("truncated", HEADER_EXPECTED + " (the line stops early)", lineno, line)
        else:
            self._fail("garbage", HEADER_EXPECTED, lineno, line)

    def scan(self, source, report: ParseReport | None = None) -> Iterator[tuple]:
        """Fast path: yield ``(lineno, line, ts, spec, header, body)`` per event line.

        ``line`` has no newline; ``header`` is the header's ``re.Match`` (groups ``comm``,
        ``pid``, ``cpu``, ``flags``, ``ts``, ``event``); the event is known (``spec``), but its
        fields (``body``) are not parsed yet: call ``spec.raw(body)`` (strings) or
        ``spec.fields(body)`` (converted) and pass a :class:`FieldError` they raise to
        :meth:`bad_fields`. Lines, comments, blank lines, lost events and header errors are
        counted in ``self.report``.
        """
        f, name, owned = open_capture(source)
        rep = self.report = report if report is not None else ParseReport()
        rep.source = name
        specs = self.specs
        fast = _FAST_RE.match
        match = _HEADER_RE.match
        lineno = 0
        try:
            try:
                for lines, cut in _read_lines(f):
                    last = lines[-1]
                    if cut and last.strip() and last.lstrip()[:1] != "#":
                        # ftrace ends every line with a newline: this one was cut short
                        lineno += 1
                        self._fail(
                            "truncated",
                            "a complete line ending in a newline (the file ends in the middle "
                            "of this line)",
                            lineno,
                            last,
                        )
                        break
                    for line in lines:
                        lineno += 1
                        m = fast(line)
                        if m is None:
                            if line.lstrip()[:1] == "#":
                                rep.comments += 1
                                continue
                            m = match(line)
                            if m is None:
                                self._other_line(line, lineno)
                                continue
                        spec = specs.get(m[6])
                        if spec is None:
                            self._fail("unknown_event", self._unknown(m[6]), lineno, line)
                            continue
                        yield lineno, line, float(m[5]), spec, m, line[m.end() :]
            except (EOFError, lzma.LZMAError, zlib.error, gzip.BadGzipFile, OSError) as exc:
                self._fail(
                    "truncated",
                    f"more data: the compressed stream ends early or is corrupt ({exc})",
                    lineno + 1,
                    None,
                )
        finally:
            rep.lines = lineno
            if owned:
                f.close()

    def iter_events(self, source, report: ParseReport | None = None) -> Iterator[TraceEvent]:
        """Yield a :class:`TraceEvent` per event line of ``source`` (path or file object)."""
        for lineno, line, ts, spec, m, body in self.scan(source, report):
            try:
                fields = spec.fields(body)
            except FieldError as exc:
                self._fail(exc.kind, exc.expected, lineno, line)
                continue
            self.report.events += 1
            comm = m["comm"].strip()
            yield TraceEvent(ts, int(m["cpu"]), comm, int(m["pid"]), spec.name, fields)

    def parse_line(self, line: str) -> TraceEvent | None:
        """Parse one line (None for a comment or blank line); raises on bad input."""
        saved, self.errors = self.errors, "raise"
        try:
            for ev in self.iter_events(io.StringIO(line.rstrip("\n") + "\n")):
                return ev
            return None
        finally:
            self.errors = saved


def iter_events(
    path_or_file,
    formats_dir: str | os.PathLike | None = None,
    *,
    errors: str = "raise",
    report: ParseReport | None = None,
) -> Iterator[TraceEvent]:
    """Stream the events of an ftrace text capture (plain, .xz, .gz or .bz2).

    ``formats_dir``: the capture's event format files, for version-aware field parsing.
    ``errors="count"`` skips bad lines and counts them in ``report`` (pass a
    :class:`ParseReport` to read the counts afterwards); ``"raise"`` raises
    :class:`TraceParseError` naming the file and line.
    """
    parser = FtraceParser(formats_dir, errors=errors)
    return parser.iter_events(path_or_file, report=report)
