"""The collector's FastAPI app, built by ``create_app(settings, store)`` (no globals, no import-time I/O).

Routes speak protocol only: status codes, content types, auth. Decoding, normalization and storage run off
the event loop; errors map to HTTP status in ``_error_handlers``.
"""

from __future__ import annotations

import logging
import time
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from typing import Any, AsyncIterator, Callable, Iterator

from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, Field

from tracehouse.analytics.alerts import AlertEngine, WebhookNotifier
from tracehouse.analytics.drift_jobs import DriftJobs
from tracehouse.analytics.jobs import ClusterJobs
from tracehouse.storage import InvalidQueryError, SpanFilter, StorageError, Store
from tracehouse.storage.queries import MAX_LIMIT

from . import serialize
from .auth import Authenticator, AuthError, Principal
from .export import FORMATS as EXPORT_FORMATS
from .export import jsonl as export_jsonl
from .export import parquet as export_parquet
from .grpc_receiver import GrpcReceiver
from .otlp import DecodeError, TooManySpans
from .periodic import every
from .pipeline import Overloaded, Pipeline
from .policy import stricter
from .project_config import ProjectConfigs
from .protocol import ProtocolError, body_format, decompress, export_response, status_body
from .ratelimit import RateExceeded, RateLimiter, retry_after_header
from .replay import BatchReplays, Providers
from .routes_analytics import analytics_router
from .routes_insights import insights_router
from .routes_projects import ProjectNotFound, projects_router
from .routes_replay import add_replay_error_handler, replay_router
from .settings import Settings
from .query_params import pick_interval, span_filter

logger = logging.getLogger("tracehouse.collector")
RETRY_AFTER_S = "5"


class ScoreIn(BaseModel):
    trace_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    span_id: str | None = Field(default=None, pattern=r"^[0-9a-f]{16}$")
    name: str = Field(min_length=1, max_length=200)
    value: float
    comment: str | None = Field(default=None, max_length=10_000)
    source: str | None = Field(default=None, max_length=100)


def start_schedules(settings: Settings, store: Store, jobs: ClusterJobs, drift: DriftJobs,
                    alerts: AlertEngine) -> list[Any]:
    """The periodic jobs: clustering, drift of the last day against the week before, alert rules, and the
    hourly compaction that folds the rollups' rows (they only fold when their parts merge)."""
    return [jobs.run_periodic(None, every_s=settings.cluster_every_s),
            drift.run_periodic(None, every_s=settings.drift_every_s, current_s=86400, baseline_s=7 * 86400),
            alerts.run_periodic(None, every_s=settings.alerts_every_s),
            every(3600.0, store.compact_rollups, "rollup-compaction", first_after_s=300.0)]


def _utc_day_and_month_start(now_ns: int) -> tuple[int, int]:
    now = datetime.fromtimestamp(now_ns / 1e9, tz=timezone.utc)
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return int(day.timestamp()) * 1_000_000_000, int(day.replace(day=1).timestamp()) * 1_000_000_000


def create_app(settings: Settings, store: Store, pipeline: Pipeline | None = None) -> FastAPI:
    """Build the app. The pipeline (write-ahead log + writer) and the analytics jobs start and stop with the
    app's lifespan; with ``scheduled_jobs`` the collector also runs the periodic clustering itself."""
    pipeline = pipeline or Pipeline(settings, store, ProjectConfigs.from_settings(settings, store))
    jobs = ClusterJobs(store)
    drift = DriftJobs(store)
    alerts = AlertEngine(store, WebhookNotifier())
    providers = Providers.from_settings(settings.openai_base_url or None, settings.openai_api_key or None,
                                        settings.anthropic_base_url or None, settings.anthropic_api_key or None)
    batch = BatchReplays(store, providers)
    grpc_receiver: GrpcReceiver | None = None

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        pipeline.start()
        if grpc_receiver:
            await grpc_receiver.start()
        schedules = start_schedules(settings, store, jobs, drift, alerts) if settings.scheduled_jobs else []
        try:
            yield
        finally:
            if grpc_receiver:
                await grpc_receiver.stop()
            for schedule in schedules:
                schedule.stop()
            await run_in_threadpool(jobs.close)
            await run_in_threadpool(drift.close)
            await run_in_threadpool(batch.close, False)
            await run_in_threadpool(pipeline.stop)

    app = FastAPI(title="tracehouse collector", version="0.1.0", lifespan=lifespan,
                  description="OTLP ingest and the tracehouse query API (see docs/api.md).")
    auth = Authenticator(store, settings.admin_key, settings.key_cache_seconds)
    request_limiter = RateLimiter(settings.rate_limit_requests_per_s)

    def admit(principal: Principal) -> Principal:
        wait = request_limiter.take(principal.key_id)
        if wait:
            raise RateLimited(wait)
        return principal
    app.state.store = store
    app.state.settings = settings
    app.state.pipeline = pipeline
    _error_handlers(app)

    def scope(name: str) -> Callable[..., Principal]:
        """A dependency requiring the scope ``name`` ("any": just a valid key)."""
        def dependency(authorization: str | None = Header(default=None)) -> Principal:
            if name == "any":
                return admit(auth.authenticate(authorization))
            return admit(auth.require(authorization, name))
        return dependency

    # -- health -------------------------------------------------------------------------------
    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz() -> JSONResponse:
        if not pipeline.ready:
            return JSONResponse({"status": "starting", "detail": "replaying the write-ahead log"}, status_code=503)
        if not store.ping():
            return JSONResponse({"status": "degraded", "detail": "storage unreachable; ingest continues into the "
                                 "write-ahead log"}, status_code=503)
        return JSONResponse({"status": "ready"})

    # -- ingest -------------------------------------------------------------------------------
    @app.post("/v1/traces")
    async def ingest_traces(request: Request) -> Response:
        return await _ingest(request, allow_basic=False)

    @app.post("/v1/logs")
    async def ingest_logs(request: Request) -> Response:
        """OTLP logs: GenAI message and operation-details events are joined with their spans."""
        return await _ingest(request, allow_basic=False, signal="logs")

    @app.post("/api/public/otel/v1/traces")
    async def ingest_langfuse(request: Request) -> Response:
        """Langfuse-compatible OTLP path: Basic ``project_id:api_key``, so a Langfuse SDK only changes its host."""
        return await _ingest(request, allow_basic=True)

    async def authorize_ingest(authorization: str | None, allow_basic: bool) -> Principal:
        try:
            return admit(await run_in_threadpool(auth.require, authorization, "ingest", allow_basic))
        except RateLimited as exc:
            # OTLP exporters retry 503/UNAVAILABLE (every version) but not always 429: shed ingest that way.
            raise Overloaded("request rate limit reached for this key", exc.retry_after_s) from exc

    async def store_batch(principal: Principal, body: bytes, fmt: str, signal: str) -> tuple[int, list[Any]]:
        handler = pipeline.ingest if signal == "traces" else pipeline.ingest_logs
        try:
            return await run_in_threadpool(handler, principal.project or "", body, fmt, principal.key_id)
        except RateExceeded as exc:  # a tenant over its span rate
            raise Overloaded(str(exc), exc.retry_after_s) from exc

    async def accept_grpc(authorization: str | None, body: bytes, signal: str) -> tuple[int, list[Any]]:
        return await store_batch(await authorize_ingest(authorization, False), body, "protobuf", signal)

    async def _ingest(request: Request, allow_basic: bool, signal: str = "traces") -> Response:
        fmt = "json"
        try:
            fmt = body_format(request.headers.get("content-type"))
            principal = await authorize_ingest(request.headers.get("authorization"), allow_basic)
            body = await _read_capped(request, settings.max_body_bytes)
            body = decompress(body, request.headers.get("content-encoding"), settings.max_body_bytes)
            _, rejected = await store_batch(principal, body, fmt, signal)
        except (ProtocolError, AuthError) as exc:
            return _otlp_error(fmt, exc.status, exc.reason)
        except TooManySpans as exc:
            return _otlp_error(fmt, 413, str(exc))
        except DecodeError as exc:
            return _otlp_error(fmt, 400, str(exc))
        except Overloaded as exc:
            return _otlp_error(fmt, 503, str(exc), retry_after_s=exc.retry_after_s)
        content, media = export_response(fmt, len(rejected), "; ".join(sorted({r.reason for r in rejected})), signal)
        return Response(content, media_type=media)

    # OTLP/gRPC (4317) shares the ingest path; it starts and stops with the app's lifespan.
    if settings.grpc_port:
        grpc_receiver = GrpcReceiver(accept_grpc, settings.host, settings.grpc_port, settings.max_body_bytes)
    app.state.grpc = grpc_receiver

    # -- reads ----------------------------------------------------------------------------------
    @app.get("/api/v1/spans")
    def list_spans(
        f: SpanFilter = Depends(span_filter), limit: int = Query(default=50, ge=1, le=1000),
        cursor: str | None = None, principal: Principal = Depends(scope("read")),
    ) -> dict[str, Any]:
        items, next_cursor = store.search_spans(principal.project or "", f, limit, cursor)
        return {"items": [serialize.span_json(i) for i in items], "next_cursor": next_cursor}

    @app.get("/api/v1/traces")
    def list_traces(
        f: SpanFilter = Depends(span_filter), limit: int = Query(default=50, ge=1, le=1000),
        cursor: str | None = None, principal: Principal = Depends(scope("read")),
    ) -> dict[str, Any]:
        items, next_cursor = store.list_traces(principal.project or "", f, limit, cursor)
        return {"items": [serialize.trace_summary_json(i) for i in items], "next_cursor": next_cursor}

    @app.get("/api/v1/traces/{trace_id}")
    def get_trace(trace_id: str, principal: Principal = Depends(scope("read"))) -> Any:
        spans = store.get_trace(principal.project or "", trace_id.lower())
        if not spans:
            return JSONResponse({"detail": f"trace {trace_id} not found"}, status_code=404)
        return {"trace_id": trace_id.lower(), "spans": [serialize.span_json(s) for s in spans]}

    @app.get("/api/v1/metrics")
    def metrics(
        f: SpanFilter = Depends(span_filter), interval: str | None = None, group_by: str | None = None,
        principal: Principal = Depends(scope("read")),
    ) -> dict[str, Any]:
        name, step = pick_interval(interval, f.start_ns, f.end_ns)
        rows = store.metrics(principal.project or "", f, step, group_by or None)
        return {"interval": name, "group_by": group_by or None, "items": [serialize.metrics_json(r) for r in rows]}

    @app.get("/api/v1/usage")
    def usage(tenant: str | None = None, principal: Principal = Depends(scope("read"))) -> dict[str, Any]:
        """Spans, tokens and cost of this UTC day and month, for the project or one tenant: applications call
        this to enforce their own quotas."""
        now = time.time_ns()
        day_start, month_start = _utc_day_and_month_start(now)
        def total(start_ns: int) -> dict[str, Any]:
            f = SpanFilter(start_ns=start_ns, end_ns=now + 60 * 1_000_000_000, tenant=tenant)
            rows = store.metrics(principal.project or "", f, 86400)
            return {"spans": sum(r.spans for r in rows), "input_tokens": sum(r.input_tokens for r in rows),
                    "output_tokens": sum(r.output_tokens for r in rows), "cost_usd": sum(r.cost_usd for r in rows)}
        return {"tenant": tenant, "day": total(day_start), "month": total(month_start)}

    @app.get("/api/v1/export")
    def export(
        f: SpanFilter = Depends(span_filter), format: str = Query(default="jsonl", pattern="^(jsonl|parquet)$"),
        redaction: str | None = Query(default=None, pattern="^(full|redacted|none)$",
                                      description="tighten the project's content policy for this export"),
        principal: Principal = Depends(scope("read")),
    ) -> StreamingResponse:
        """Every span of the range (optionally one tenant) as JSON Lines or Parquet, streamed page by page, under
        the project's content policy (or a stricter one asked for here)."""
        project = principal.project or ""
        policy = stricter(pipeline.configs.get(project).redaction, redaction or "full")

        def pages() -> Iterator[list[dict[str, Any]]]:
            cursor = None
            while True:
                items, cursor = store.search_spans(project, f, MAX_LIMIT, cursor)
                yield [serialize.span_json(item) for item in items]
                if not cursor:
                    return
        write = export_parquet if format == "parquet" else export_jsonl
        filename = f"tracehouse-{project}-spans.{format}"
        return StreamingResponse(write(pages(), policy), media_type=EXPORT_FORMATS[format],
                                 headers={"Content-Disposition": f'attachment; filename="{filename}"',
                                          "X-Tracehouse-Redaction": policy})

    @app.post("/api/v1/scores", status_code=201)
    def add_score(body: ScoreIn, principal: Principal = Depends(scope("ingest"))) -> dict[str, str]:
        score_id = store.insert_score(principal.project or "", body.trace_id, body.span_id or "", body.name,
                                      body.value, body.comment or "", body.source or "api")
        return {"score_id": score_id}

    app.include_router(projects_router(store, auth, pipeline.configs, scope))
    app.include_router(insights_router(store, scope))
    app.include_router(analytics_router(jobs, drift, alerts, scope))
    app.include_router(replay_router(store, providers, batch, scope))
    add_replay_error_handler(app)
    return app


async def _read_capped(request: Request, max_bytes: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise ProtocolError(413, f"body of {declared} bytes exceeds the {max_bytes} byte limit")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise ProtocolError(413, f"body exceeds the {max_bytes} byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


def _otlp_error(fmt: str, status: int, reason: str, retry_after_s: float | None = None) -> Response:
    content, media = status_body(fmt, status, reason)
    headers = None
    if status == 503:
        headers = {"Retry-After": retry_after_header(retry_after_s) if retry_after_s else RETRY_AFTER_S}
    return Response(content, status_code=status, media_type=media, headers=headers)


class RateLimited(Exception):
    def __init__(self, retry_after_s: float) -> None:
        super().__init__(f"rate limit reached; retry after {retry_after_s:.1f} s")
        self.retry_after_s = retry_after_s


def _error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AuthError)
    async def auth_error(_: Request, exc: AuthError) -> JSONResponse:
        return JSONResponse({"detail": exc.reason}, status_code=exc.status)

    @app.exception_handler(RateLimited)
    async def rate_limited(_: Request, exc: RateLimited) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=429,
                            headers={"Retry-After": retry_after_header(exc.retry_after_s)})

    @app.exception_handler(ProjectNotFound)
    async def project_not_found(_: Request, exc: ProjectNotFound) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(InvalidQueryError)
    async def invalid_query(_: Request, exc: InvalidQueryError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=400)

    @app.exception_handler(StorageError)
    async def storage_error(_: Request, exc: StorageError) -> JSONResponse:
        logger.warning("storage error: %s", exc)
        return JSONResponse({"detail": "storage unavailable, retry later"}, status_code=503,
                            headers={"Retry-After": RETRY_AFTER_S})
