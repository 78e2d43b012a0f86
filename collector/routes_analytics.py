"""Analytics routes: failure-mode clustering runs (DESIGN section 6, ``clusters`` row).

The jobs object owns threads and storage calls; routes only translate HTTP to its methods, off the event loop
(FastAPI runs plain ``def`` routes in its thread pool).
"""

from __future__ import annotations

from typing import Any, Callable

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from tracehouse.analytics.alerts import AlertEngine
from tracehouse.analytics.drift_jobs import DriftJobs
from tracehouse.analytics.jobs import ClusterJobs, JobQueueFull
from tracehouse.storage import InvalidQueryError

from .auth import Principal
from .timefmt import parse_time


class DriftRunIn(BaseModel):
    baseline: dict[str, Any] = Field(description="{start, end, filters?}")
    current: dict[str, Any] = Field(description="{start, end, filters?}")
    params: dict[str, Any] | None = None


class AlertRuleIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    kind: str = Field(description="drift | cost_budget | cost_spike | error_rate | latency_p95")
    params: dict[str, Any] = Field(default_factory=dict)
    webhook_url: str | None = None
    enabled: bool = True


class WebhookTestIn(BaseModel):
    url: str


class ClusterRunIn(BaseModel):
    start: str | None = Field(default=None, description="RFC 3339; default 7 days before end")
    end: str | None = Field(default=None, description="RFC 3339; default now")
    filters: dict[str, Any] = Field(default_factory=dict, description="tenant, model, provider, environment, ...")


def _ns(value: str | None) -> int | None:
    try:
        return parse_time(value) if value else None
    except ValueError as exc:
        raise InvalidQueryError(str(exc)) from exc


def analytics_router(jobs: ClusterJobs, drift: DriftJobs, alerts: AlertEngine,
                     scope: Callable[[str], Callable[..., Principal]]) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["analytics"])
    not_found = lambda run_id: JSONResponse({"detail": f"clustering run {run_id} not found"}, status_code=404)  # noqa: E731

    @router.post("/analytics/clusters/runs", status_code=202)
    def start_cluster_run(body: ClusterRunIn, principal: Principal = Depends(scope("read"))) -> Any:
        try:
            run_id = jobs.submit(principal.project or "", _ns(body.start), _ns(body.end), body.filters)
        except JobQueueFull as exc:
            return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "30"})
        except ValueError as exc:
            raise InvalidQueryError(str(exc)) from exc
        return {"run_id": run_id, "status": "queued"}

    @router.get("/analytics/clusters/runs")
    def list_cluster_runs(limit: int = Query(default=50, ge=1, le=500),
                          principal: Principal = Depends(scope("read"))) -> dict[str, Any]:
        return {"items": jobs.list_runs(principal.project or "", limit)}

    @router.get("/analytics/clusters/runs/{run_id}")
    def get_cluster_run(run_id: str, principal: Principal = Depends(scope("read"))) -> Any:
        run = jobs.get(principal.project or "", run_id)
        return run if run is not None else not_found(run_id)

    @router.get("/analytics/clusters/runs/{run_id}/members")
    def cluster_members(run_id: str, cluster_id: str | None = None, limit: int = Query(default=100, ge=1, le=1000),
                        cursor: str | None = None, include_assigned: bool = False,
                        principal: Principal = Depends(scope("read"))) -> Any:
        page = jobs.members(principal.project or "", run_id, cluster_id, limit, cursor, include_assigned)
        return page if page is not None else not_found(run_id)

    # -- drift ----------------------------------------------------------------------------------------
    @router.post("/analytics/drift/runs", status_code=202)
    def start_drift_run(body: DriftRunIn, principal: Principal = Depends(scope("read"))) -> Any:
        try:
            run_id = drift.submit(principal.project or "", body.baseline, body.current, params=body.params)
        except JobQueueFull as exc:
            return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "30"})
        except ValueError as exc:
            raise InvalidQueryError(str(exc)) from exc
        return {"run_id": run_id, "status": "queued"}

    @router.get("/analytics/drift/runs")
    def list_drift_runs(limit: int = Query(default=50, ge=1, le=500),
                        principal: Principal = Depends(scope("read"))) -> dict[str, Any]:
        return {"items": drift.list_runs(principal.project or "", limit)}

    @router.get("/analytics/drift/runs/{run_id}")
    def get_drift_run(run_id: str, principal: Principal = Depends(scope("read"))) -> Any:
        run = drift.get(principal.project or "", run_id)
        return run if run is not None else JSONResponse({"detail": f"drift run {run_id} not found"}, status_code=404)

    # -- alerts (admin: the collector POSTs to the webhook URLs these name) -----------------------------
    @router.post("/alerts/rules", status_code=201)
    def create_alert_rule(body: AlertRuleIn, principal: Principal = Depends(scope("admin"))) -> Any:
        try:
            return alerts.create_rule(_project(principal), name=body.name, kind=body.kind, params=body.params,
                                      webhook_url=body.webhook_url or "", enabled=body.enabled)
        except ValueError as exc:
            raise InvalidQueryError(str(exc)) from exc

    @router.get("/alerts/rules")
    def list_alert_rules(principal: Principal = Depends(scope("read"))) -> dict[str, Any]:
        return {"items": alerts.list_rules(principal.project or "")}

    @router.delete("/alerts/rules/{rule_id}")
    def delete_alert_rule(rule_id: str, principal: Principal = Depends(scope("admin"))) -> Any:
        if not alerts.delete_rule(_project(principal), rule_id):
            return JSONResponse({"detail": f"alert rule {rule_id} not found"}, status_code=404)
        return {"deleted": rule_id}

    @router.get("/alerts/history")
    def alert_history(limit: int = Query(default=100, ge=1, le=1000), rule_id: str | None = None,
                      principal: Principal = Depends(scope("read"))) -> dict[str, Any]:
        return {"items": alerts.history(principal.project or "", limit, rule_id)}

    @router.post("/alerts/test")
    def test_notification(body: WebhookTestIn, principal: Principal = Depends(scope("admin"))) -> Any:
        try:
            return alerts.send_test(body.url, principal.project)
        except ValueError as exc:
            raise InvalidQueryError(str(exc)) from exc

    return router


def _project(principal: Principal) -> str:
    if principal.project is None:
        raise InvalidQueryError("alert rules belong to a project: use a project key with the admin scope")
    return principal.project
