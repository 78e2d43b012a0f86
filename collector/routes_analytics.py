"""Analytics routes: failure-mode clustering runs (DESIGN section 6, ``clusters`` row).

The jobs object owns threads and storage calls; routes only translate HTTP to its methods, off the event loop
(FastAPI runs plain ``def`` routes in its thread pool).
"""

from __future__ import annotations

from typing import Any, Callable

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from tracehouse.analytics.jobs import ClusterJobs, JobQueueFull
from tracehouse.storage import InvalidQueryError

from .auth import Principal
from .timefmt import parse_time


class ClusterRunIn(BaseModel):
    start: str | None = Field(default=None, description="RFC 3339; default 7 days before end")
    end: str | None = Field(default=None, description="RFC 3339; default now")
    filters: dict[str, Any] = Field(default_factory=dict, description="tenant, model, provider, environment, ...")


def _ns(value: str | None) -> int | None:
    try:
        return parse_time(value) if value else None
    except ValueError as exc:
        raise InvalidQueryError(str(exc)) from exc


def analytics_router(jobs: ClusterJobs, scope: Callable[[str], Callable[..., Principal]]) -> APIRouter:
    router = APIRouter(prefix="/api/v1/analytics", tags=["analytics"])
    not_found = lambda run_id: JSONResponse({"detail": f"clustering run {run_id} not found"}, status_code=404)  # noqa: E731

    @router.post("/clusters/runs", status_code=202)
    def start_cluster_run(body: ClusterRunIn, principal: Principal = Depends(scope("read"))) -> Any:
        try:
            run_id = jobs.submit(principal.project or "", _ns(body.start), _ns(body.end), body.filters)
        except JobQueueFull as exc:
            return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "30"})
        except ValueError as exc:
            raise InvalidQueryError(str(exc)) from exc
        return {"run_id": run_id, "status": "queued"}

    @router.get("/clusters/runs")
    def list_cluster_runs(limit: int = Query(default=50, ge=1, le=500),
                          principal: Principal = Depends(scope("read"))) -> dict[str, Any]:
        return {"items": jobs.list_runs(principal.project or "", limit)}

    @router.get("/clusters/runs/{run_id}")
    def get_cluster_run(run_id: str, principal: Principal = Depends(scope("read"))) -> Any:
        run = jobs.get(principal.project or "", run_id)
        return run if run is not None else not_found(run_id)

    @router.get("/clusters/runs/{run_id}/members")
    def cluster_members(run_id: str, cluster_id: str | None = None, limit: int = Query(default=100, ge=1, le=1000),
                        cursor: str | None = None, include_assigned: bool = False,
                        principal: Principal = Depends(scope("read"))) -> Any:
        page = jobs.members(principal.project or "", run_id, cluster_id, limit, cursor, include_assigned)
        return page if page is not None else not_found(run_id)

    return router
