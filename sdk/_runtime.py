"""The SDK runtime: one TracerProvider and the export pipeline, built from settings.

    span ends -> [ErrorKeepingSampler, if sample_rate < 1] -> BatchingProcessor (bounded queue, one worker)
              -> CountingExporter -> [RedactingExporter, if capture_content="redacted"] -> OTLP/HTTP exporter

plus ``ContextStampingProcessor`` (copies ``tracehouse.context()`` onto spans as they start) and a
``ScoreSender`` for ``tracehouse.score()``. Each stage is a wrapper with one job (STYLE habit 8).

Contract: nothing here blocks the caller beyond a queue append, and nothing raises into the host app once
``init()`` has returned. Before ``init()`` (or after ``shutdown()``) spans are OTel no-ops. ``stats()`` reads
the counters of the stages; they are plain integers updated under each stage's lock or by its single worker.
"""

from __future__ import annotations

import atexit
import threading
import time
from dataclasses import dataclass
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter

from . import _attributes as A
from ._batching import BatchingProcessor
from ._context import EMPTY, _CURRENT
from ._exporters import CountingExporter, QuietLogs, RedactingExporter
from ._messages import to_json
from ._safety import forget, report, warn_once
from ._sampling import ErrorKeepingSampler
from ._scores import Score, ScoreSender
from ._settings import SDKSettings

SCOPE_NAME = "tracehouse"


@dataclass(frozen=True)
class SDKStats:
    """Counters since ``init()``. Spans: ``exported`` accepted by the exporter, ``failed`` lost because the
    export failed (collector down, 4xx/5xx after retries), ``dropped`` lost to a full queue or an expired
    shutdown, ``sampled_out`` discarded by sampling on purpose, ``queued`` waiting now. Scores likewise."""

    spans_exported: int = 0
    spans_failed: int = 0
    spans_dropped: int = 0
    spans_sampled_out: int = 0
    spans_queued: int = 0
    scores_sent: int = 0
    scores_failed: int = 0
    scores_dropped: int = 0
    scores_queued: int = 0

    @property
    def spans_lost(self) -> int:
        return self.spans_failed + self.spans_dropped


class ContextStampingProcessor(SpanProcessor):
    """Copies the current ``tracehouse.context()`` onto every span when it starts."""

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        ctx = _CURRENT.get()
        if ctx is EMPTY:
            return
        try:
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
            report("ContextStampingProcessor.on_start")

    def on_end(self, span: ReadableSpan) -> None:
        pass


def _redact_score(score: Score) -> Score:
    from .redaction import redact

    if score.comment is None:
        return score
    return Score(score.trace_id, score.name, score.value, score.span_id, redact(score.comment), score.source)


def _drop_comment(score: Score) -> Score:
    """Under capture_content="none" a free-text comment is content too: it is not sent."""
    return Score(score.trace_id, score.name, score.value, score.span_id, None, score.source)


_SCORE_POLICY = {"full": None, "redacted": _redact_score, "none": _drop_comment}


class Runtime:
    """Owns the provider and the pipeline; ``tracer`` is what span helpers use."""

    def __init__(self, settings: SDKSettings, exporter: SpanExporter | None = None) -> None:
        self.settings = settings
        self.capture = settings.capture_content != "none"
        forget()  # a new runtime warns afresh
        resource_attrs: dict[str, Any] = {"service.name": settings.service_name,
                                          A.CAPTURE_POLICY: settings.capture_content}
        if settings.environment:
            resource_attrs[A.ENVIRONMENT] = settings.environment
        if settings.release:
            resource_attrs[A.SERVICE_VERSION] = settings.release
        self._quiet_logs: QuietLogs | None = None
        if exporter is None:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            headers = {"Authorization": f"Bearer {settings.api_key}"} if settings.api_key else {}
            exporter = OTLPSpanExporter(endpoint=settings.traces_url, headers=headers,
                                        timeout=settings.export_timeout_s)
            self._quiet_logs = QuietLogs().install()
        self.exporter = exporter
        if settings.capture_content == "redacted":
            exporter = RedactingExporter(exporter)
        self._counting = CountingExporter(exporter, on_first_failure=lambda: warn_once(
            "spans.failed", "exporting spans to %s failed; they are counted as failed (see tracehouse.stats())",
            settings.endpoint))
        self._batching = BatchingProcessor(
            self._counting,
            max_queue_size=settings.max_queue_size,
            max_batch=settings.max_export_batch_size,
            delay_s=settings.schedule_delay_ms / 1000,
            shutdown_timeout_s=settings.shutdown_timeout_s,
            on_first_drop=lambda: warn_once(
                "spans.dropped", "span queue full (%d spans); dropping the oldest spans "
                "(see tracehouse.stats(); raise max_queue_size or lower the span rate)", settings.max_queue_size),
        )
        self._sampler: ErrorKeepingSampler | None = None
        processor: SpanProcessor = self._batching
        if settings.sample_rate < 1.0:
            processor = self._sampler = ErrorKeepingSampler(self._batching, settings.sample_rate)
        self.provider = TracerProvider(resource=Resource.create(resource_attrs), shutdown_on_exit=False)
        self.provider.add_span_processor(ContextStampingProcessor())
        self.provider.add_span_processor(processor)
        self.tracer = self.provider.get_tracer(SCOPE_NAME)
        self._scores: ScoreSender | None = None
        self._scores_lock = threading.Lock()

    @property
    def scores(self) -> ScoreSender:
        with self._scores_lock:
            if self._scores is None:
                self._scores = ScoreSender(
                    self.settings.scores_url, self.settings.api_key, timeout_s=self.settings.export_timeout_s,
                    shutdown_timeout_s=self.settings.shutdown_timeout_s,
                    transform=_SCORE_POLICY[self.settings.capture_content])
            return self._scores

    def stats(self) -> SDKStats:
        scores = self._scores
        return SDKStats(
            spans_exported=self._counting.exported,
            spans_failed=self._counting.failed,
            spans_dropped=self._batching.dropped,
            spans_sampled_out=self._sampler.sampled_out if self._sampler is not None else 0,
            spans_queued=self._batching.queued,
            scores_sent=scores.sent if scores else 0,
            scores_failed=scores.failed if scores else 0,
            scores_dropped=scores.dropped if scores else 0,
            scores_queued=scores.queued if scores else 0,
        )

    def flush(self, timeout_ms: int = 30_000) -> bool:
        deadline = time.monotonic() + timeout_ms / 1000
        ok = self.provider.force_flush(timeout_ms)
        if self._scores is not None:
            ok = self._scores.flush(max(0.0, deadline - time.monotonic())) and ok
        return ok

    def shutdown(self) -> None:
        try:
            self.provider.shutdown()
        finally:
            if self._scores is not None:
                self._scores.shutdown()
            if self._quiet_logs is not None:
                self._quiet_logs.remove()


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
            report("shutdown at exit")
