"""Readers for captures taken on real Linux machines (ftrace text, /proc snapshots)."""

from allockit.ingest.compressed import open_compressed
from allockit.ingest.ftrace import (
    EventSpec,
    FieldError,
    FtraceParser,
    ParseReport,
    TraceEvent,
    TraceParseError,
    iter_events,
    load_formats,
)

__all__ = [
    "EventSpec",
    "FieldError",
    "FtraceParser",
    "ParseReport",
    "TraceEvent",
    "TraceParseError",
    "iter_events",
    "load_formats",
    "open_compressed",
]
