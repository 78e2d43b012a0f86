"""Read routes beyond search: one session, cost breakdowns, top-N spans and the scores of a trace.

Each is one storage-layer query (server-side parameters, bounded rows, project-scoped in the store); routes
only parse parameters and shape JSON.
"""

from __future__ import annotations

from typing import Any, Callable

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse

from tracehouse.storage import SpanFilter, Store
from tracehouse.storage.queries import COST_DIMENSIONS, MAX_GROUPS, TOP_BY

from . import serialize
from .auth import Principal
from .query_params import INTERVALS, span_filter
from .timefmt import format_time


def insights_router(store: Store, scope: Callable[[str], Callable[..., Principal]]) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["query"])

    @router.get("/sessions/{session}")
    def get_session(session: str, limit: int = Query(default=200, ge=1, le=1000), cursor: str | None = None,
                    principal: Principal = Depends(scope("read"))) -> Any:
        """A conversation end to end: its spans oldest first, a page at a time."""
        items, next_cursor = store.get_session(principal.project or "", session, limit, cursor)
        if not items and cursor is None:
            return JSONResponse({"detail": f"session {session!r} not found"}, status_code=404)
        return {"session": session, "items": [serialize.span_json(i) for i in items], "next_cursor": next_cursor}

    @router.get("/cost")
    def cost(f: SpanFilter = Depends(span_filter),
             by: str = Query(default="tenant,model", description=f"comma-separated among {', '.join(COST_DIMENSIONS)}"),
             interval: str | None = Query(default="day", pattern="^(minute|hour|day|total)$"),
             order_by: str = Query(default="time", pattern="^(time|cost)$"),
             limit: int = Query(default=1000, ge=1, le=MAX_GROUPS),
             principal: Principal = Depends(scope("read"))) -> dict[str, Any]:
        """Spend per tenant/model/... per minute, hour or day (``interval=total``: over the window), from the
        cost rollups; ``order_by=cost`` with ``limit`` is a top-N of the biggest spenders."""
        dims = [d.strip() for d in by.split(",") if d.strip()]
        step = None if interval == "total" else INTERVALS[interval or "day"]
        rows = store.cost_breakdown(principal.project or "", f, dims, step, order_by, limit)
        return {"by": dims, "interval": interval, "items": [
            {"time": format_time(r.time_ns) if r.time_ns is not None else None, **r.dims,
             **{k: v for k, v in r._asdict().items() if k not in ("time_ns", "dims")}} for r in rows]}

    @router.get("/top")
    def top(f: SpanFilter = Depends(span_filter),
            by: str = Query(default="duration", description=f"one of {', '.join(TOP_BY)}"),
            limit: int = Query(default=20, ge=1, le=1000),
            principal: Principal = Depends(scope("read"))) -> dict[str, Any]:
        """The slowest, most expensive or largest spans of the window (narrow columns and previews)."""
        rows = store.top_spans(principal.project or "", f, by, limit)
        return {"by": by, "items": [serialize.plain_json(_times(r)) for r in rows]}

    @router.get("/traces/{trace_id}/scores")
    def trace_scores(trace_id: str, principal: Principal = Depends(scope("read"))) -> dict[str, Any]:
        rows = store.get_scores(principal.project or "", trace_id.lower())
        return {"trace_id": trace_id.lower(), "items": [
            {**{k: v for k, v in r.items() if k != "created_ns"}, "span_id": r["span_id"] or None,
             "created_at": format_time(r["created_ns"])} for r in rows]}

    return router


def _times(row: dict[str, Any]) -> dict[str, Any]:
    """``*_ns`` columns as RFC 3339 ``*_time`` fields, as in the span JSON."""
    out = {k: v for k, v in row.items() if not k.endswith("_ns")}
    for key in ("start_time_ns", "end_time_ns"):
        if key in row:
            out[key.removesuffix("_ns")] = format_time(row[key])
    return out
