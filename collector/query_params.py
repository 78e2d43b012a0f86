"""Query parameters shared by the read routes: the time range (default: the last day) and span filters."""

from __future__ import annotations

import time

from fastapi import Query

from tracehouse.storage import InvalidQueryError, SpanFilter

from .timefmt import parse_time

DAY_NS = 24 * 3600 * 1_000_000_000
INTERVALS = {"minute": 60, "hour": 3600, "day": 86400}


def time_range(start: str | None, end: str | None) -> tuple[int, int]:
    try:
        end_ns = parse_time(end) if end else time.time_ns() + 60 * 1_000_000_000
        start_ns = parse_time(start) if start else end_ns - DAY_NS
    except ValueError as exc:
        raise InvalidQueryError(str(exc)) from exc
    if start_ns >= end_ns:
        raise InvalidQueryError("start must be before end")
    return start_ns, end_ns


def pick_interval(interval: str | None, start_ns: int, end_ns: int) -> tuple[str, int]:
    if interval:
        if interval not in INTERVALS:
            raise InvalidQueryError(f"interval must be one of {', '.join(INTERVALS)}")
        return interval, INTERVALS[interval]
    span_s = (end_ns - start_ns) / 1e9
    name = "minute" if span_s <= 3 * 3600 else "hour" if span_s <= 4 * 86400 else "day"
    return name, INTERVALS[name]


def span_filter(
    start: str | None = None, end: str | None = None, trace_id: str | None = None,
    tenant: str | None = None, user: str | None = None, session: str | None = None,
    model: str | None = None, status: str | None = Query(default=None, pattern="^(ok|error|unset)$"),
    kind: str | None = None, q: str | None = Query(default=None, max_length=1000),
) -> SpanFilter:
    start_ns, end_ns = time_range(start, end)
    return SpanFilter(start_ns=start_ns, end_ns=end_ns, trace_id=trace_id, tenant=tenant, user=user,
                      session=session, model=model, status=status, kind=kind, q=q)
