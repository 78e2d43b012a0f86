"""Replay and compare routes (DESIGN section 6, ``replay`` and ``compare`` rows).

Replays spend money at a provider and write traces, so they need a key with both ``read`` and ``ingest``.
Provider credentials come from server settings only; they never reach spans or responses.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

from tracehouse.storage import Store

from . import serialize
from .auth import AuthError, Principal
from .replay import (BatchReplays, Providers, ReplayError, compare_cohorts, compare_spans, find_span, replay_span,
                     replay_span_events, replay_trajectory, select_spans)

MAX_COHORT_SPANS = 1000


class ReplayIn(BaseModel):
    span_id: str = Field(pattern=r"^[0-9a-f]{16}$")
    trace_id: str | None = Field(default=None, pattern=r"^[0-9a-f]{32}$")
    overrides: dict[str, Any] | None = Field(default=None, description="{model?, params?, messages?, system?, "
                                             "provider?, stream?}")


class TrajectoryIn(BaseModel):
    trace_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    overrides: dict[str, Any] | None = None


class BatchIn(BaseModel):
    filters: dict[str, Any] = Field(default_factory=dict)
    overrides: dict[str, Any] | None = None


class CohortsIn(BaseModel):
    a: dict[str, Any]
    b: dict[str, Any]
    seed: int = Field(default=0, ge=0, le=2**63 - 1, description="bootstrap seed (a non-negative integer)")


def replay_router(store: Store, providers: Providers, batch: BatchReplays,
                  scope: Callable[[str], Callable[..., Principal]]) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["replay"])

    def writer(principal: Principal = Depends(scope("read"))) -> Principal:
        if not ({"ingest", "admin"} & principal.scopes):
            raise AuthError(403, "replays write traces: use a key with both the 'read' and 'ingest' scopes")
        return principal

    @router.post("/replays")
    def replay(body: ReplayIn, principal: Principal = Depends(writer)) -> Any:
        return replay_span(store, principal.project or "", body.span_id, body.trace_id, body.overrides, providers)

    @router.post("/replays/stream")
    async def replay_stream(body: ReplayIn, principal: Principal = Depends(writer)) -> StreamingResponse:
        """Server-sent events: ``delta`` events as the provider streams, then one ``result`` (or ``error``)."""
        events: Iterator[dict[str, Any]] = await run_in_threadpool(
            replay_span_events, store, principal.project or "", body.span_id, body.trace_id, body.overrides,
            providers)
        sse = (b"data: " + orjson.dumps(event) + b"\n\n" for event in events)
        return StreamingResponse(sse, media_type="text/event-stream")

    @router.post("/replays/trajectory")
    def trajectory(body: TrajectoryIn, principal: Principal = Depends(writer)) -> Any:
        return replay_trajectory(store, principal.project or "", body.trace_id, body.overrides, providers)

    @router.post("/replays/batch", status_code=202)
    def start_batch(body: BatchIn, principal: Principal = Depends(writer)) -> dict[str, str]:
        return {"run_id": batch.submit(principal.project or "", body.filters, body.overrides), "status": "queued"}

    @router.get("/replays/batch/{run_id}")
    def get_batch(run_id: str, principal: Principal = Depends(scope("read"))) -> Any:
        return batch.get(principal.project or "", run_id)

    @router.delete("/replays/batch/{run_id}", status_code=202)
    def cancel_batch(run_id: str, principal: Principal = Depends(writer)) -> dict[str, str]:
        batch.cancel(principal.project or "", run_id)
        return {"run_id": run_id, "status": "cancelling"}

    @router.get("/compare")
    def compare(a: str = Query(pattern=r"^[0-9a-f]{16}$"), b: str = Query(pattern=r"^[0-9a-f]{16}$"),
                a_trace: str | None = None, b_trace: str | None = None,
                principal: Principal = Depends(scope("read"))) -> Any:
        project = principal.project or ""
        return compare_spans(serialize.span_json(find_span(store, project, a, a_trace)),
                             serialize.span_json(find_span(store, project, b, b_trace)))

    @router.post("/compare/cohorts")
    def compare_two_cohorts(body: CohortsIn, principal: Principal = Depends(scope("read"))) -> Any:
        project = principal.project or ""
        cohort = lambda filters: [serialize.span_json(s)  # noqa: E731
                                  for s in select_spans(store, project, filters, max_limit=MAX_COHORT_SPANS)]
        return compare_cohorts(cohort(body.a), cohort(body.b), seed=body.seed)

    return router


def add_replay_error_handler(app: Any) -> None:
    @app.exception_handler(ReplayError)
    async def replay_error(_: Request, exc: ReplayError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=getattr(exc, "http_status", 400))
