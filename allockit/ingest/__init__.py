"""Readers for captures taken on real Linux machines (ftrace text, /proc snapshots)."""

from allockit.ingest.ftrace import (
    EventSpec,
    FtraceParser,
    ParseReport,
    TraceEvent,
    TraceParseError,
    iter_events,
    load_formats,
)

__all__ = [
    "EventSpec",
    "FtraceParser",
    "ParseReport",
    "TraceEvent",
    "TraceParseError",
    "iter_events",
    "load_formats",
]
