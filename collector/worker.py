"""``tracehouse worker``: the one process of a scaled-out deployment that runs the scheduled analytics jobs.

Collectors then run with ``TRACEHOUSE_SCHEDULED_JOBS=0``. The worker ingests nothing; it serves only
``/healthz`` and ``/readyz`` so container health checks work. Over embedded chDB there is a single collector
process, which runs the jobs itself, so the worker refuses ``chdb://`` storage.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from tracehouse.analytics.alerts import AlertEngine, WebhookNotifier
from tracehouse.analytics.drift_jobs import DriftJobs
from tracehouse.analytics.jobs import ClusterJobs
from tracehouse.storage import ConfigError, Store, parse_storage_url

from .settings import Settings

logger = logging.getLogger("tracehouse.worker")


def create_worker_app(store: Store, jobs: ClusterJobs) -> FastAPI:
    app = FastAPI(title="tracehouse worker", version="0.1.0")

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz() -> JSONResponse:
        ready = store.ping()
        return JSONResponse({"status": "ready" if ready else "degraded"}, status_code=200 if ready else 503)

    return app


def run_worker(settings: Settings) -> int:
    import uvicorn

    if parse_storage_url(settings.storage_url).kind == "chdb":
        raise ConfigError("tracehouse worker needs a ClickHouse server (TRACEHOUSE_STORAGE_URL=http(s)://...): "
                          "over embedded chDB the collector runs the scheduled jobs itself")
    store = Store.open(settings.storage_url)
    from .app import start_schedules

    jobs, drift = ClusterJobs(store), DriftJobs(store)
    schedules = start_schedules(settings, store, jobs, drift, AlertEngine(store, WebhookNotifier()))
    logger.info("worker: scheduled analytics on %s", store.target.describe())
    try:
        uvicorn.run(create_worker_app(store, jobs), host=settings.host, port=settings.port, log_level="info",
                    access_log=False)
    finally:
        for schedule in schedules:
            schedule.stop()
        jobs.close()
        drift.close()
        store.close()
    return 0
