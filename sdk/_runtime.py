"""The SDK runtime: one TracerProvider with a context-stamping processor and a batching OTLP exporter.

Contract: nothing here blocks the caller beyond a queue append, and nothing raises into the host app once
``init()`` has returned. Before ``init()`` (or after ``shutdown()``) spans are OTel no-ops.
"""

from __future__ import annotations

import atexit
import logging
import threading
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

from . import _attributes as A
from ._context import current_context
from ._messages import to_json
from ._settings import SDKSettings

logger = logging.getLogger("tracehouse")
SCOPE_NAME = "tracehouse"


class ContextStampingProcessor(SpanProcessor):
    """Copies the current ``tracehouse.context()`` onto every span when it starts."""

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        try:
            ctx = current_context()
            attrs: dict[str, Any] = {}
            if ctx.tenant is not None:
                attrs[A.TENANT] = ctx.tenant
            if ctx.user is not None:
                attrs[A.USER_ID] = ctx.user
            if ctx.session is not None:
                attrs[A.SESSION_ID] = ctx.session
                attrs[A.CONVERSATION_ID] = ctx.session
            if ctx.tags:
                attrs[A.TAGS] = list(ctx.tags)
            if ctx.metadata:
                attrs[A.METADATA] = to_json(dict(ctx.metadata))
            if attrs:
                span.set_attributes(attrs)
        except Exception:  # never raise into the host app
            logger.debug("tracehouse: could not stamp context", exc_info=True)

    def on_end(self, span: ReadableSpan) -> None:
        pass


class Runtime:
    """Owns the provider; ``tracer`` is what span helpers use."""

    def __init__(self, settings: SDKSettings, exporter: SpanExporter | None = None) -> None:
        self.settings = settings
        resource_attrs: dict[str, Any] = {"service.name": settings.service_name}
        if settings.environment:
            resource_attrs[A.ENVIRONMENT] = settings.environment
        if settings.release:
            resource_attrs[A.SERVICE_VERSION] = settings.release
        self.provider = TracerProvider(resource=Resource.create(resource_attrs))
        self.provider.add_span_processor(ContextStampingProcessor())
        if exporter is None:
            headers = {"Authorization": f"Bearer {settings.api_key}"} if settings.api_key else {}
            exporter = OTLPSpanExporter(
                endpoint=settings.traces_url, headers=headers, timeout=settings.export_timeout_s
            )
        self.exporter = exporter
        self.provider.add_span_processor(
            BatchSpanProcessor(
                exporter,
                max_queue_size=settings.max_queue_size,
                max_export_batch_size=settings.max_export_batch_size,
                schedule_delay_millis=settings.schedule_delay_ms,
            )
        )
        self.tracer = self.provider.get_tracer(SCOPE_NAME)

    def flush(self, timeout_ms: int = 30_000) -> bool:
        return self.provider.force_flush(timeout_ms)

    def shutdown(self) -> None:
        self.provider.shutdown()


_lock = threading.Lock()
_runtime: Runtime | None = None
_NOOP_TRACER = trace.NoOpTracer()
_atexit_registered = False


def install(runtime: Runtime) -> None:
    global _runtime, _atexit_registered
    with _lock:
        old, _runtime = _runtime, runtime
        if not _atexit_registered:
            atexit.register(_shutdown_at_exit)
            _atexit_registered = True
    if old is not None:
        old.shutdown()


def uninstall() -> Runtime | None:
    global _runtime
    with _lock:
        old, _runtime = _runtime, None
    return old


def current() -> Runtime | None:
    return _runtime


def tracer() -> trace.Tracer:
    runtime = _runtime
    return runtime.tracer if runtime is not None else _NOOP_TRACER


def _shutdown_at_exit() -> None:
    runtime = uninstall()
    if runtime is not None:
        try:
            runtime.shutdown()
        except Exception:
            logger.debug("tracehouse: shutdown at exit failed", exc_info=True)
