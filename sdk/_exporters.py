"""Exporter wrappers: each adds one behaviour around any ``SpanExporter`` (STYLE habit 8).

- ``CountingExporter``: counts exported and failed spans, turns an exception from the wrapped exporter into a
  failed export (reported once), and warns once when exports start failing.
- ``RedactingExporter``: hands the wrapped exporter copies of the spans with PII and secrets replaced
  (``tracehouse.redaction``), so under ``capture_content="redacted"`` nothing unredacted leaves the process.
  It runs on the export worker, off the application thread.
- ``QuietLogs``: a logging filter that lets each distinct message of the OTLP exporter through once, so a
  collector that is down shows up as one error line instead of one per batch.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Sequence

from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import Status

from . import _attributes as A
from ._safety import report

OTLP_LOGGERS = ("opentelemetry.exporter.otlp.proto.http.trace_exporter", "opentelemetry.exporter.otlp.common.http")


class CountingExporter(SpanExporter):
    def __init__(self, inner: SpanExporter, on_first_failure: Callable[[], None] | None = None) -> None:
        self.inner = inner
        self.exported = 0
        self.failed = 0
        self._on_first_failure = on_first_failure

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            result = self.inner.export(spans)
        except Exception:
            report(f"{type(self.inner).__name__}.export", "exporter raised (spans counted as failed)")
            result = SpanExportResult.FAILURE
        if result is SpanExportResult.SUCCESS:
            self.exported += len(spans)
        else:
            first = self.failed == 0
            self.failed += len(spans)
            if first and self._on_first_failure is not None:
                self._on_first_failure()
        return result

    def shutdown(self) -> None:
        try:
            self.inner.shutdown()
        except Exception:
            report(f"{type(self.inner).__name__}.shutdown")

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        try:
            return self.inner.force_flush(timeout_millis)
        except Exception:
            report(f"{type(self.inner).__name__}.force_flush")
            return False


def _redact_attributes(attributes: Any, redact: Callable[[str], Any], kinds: set[str],
                       keep: frozenset[str] = frozenset()) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in (attributes or {}).items():
        if key in keep:
            out[key] = value
        elif isinstance(value, str):
            result = redact(value)
            kinds.update(result.counts)
            out[key] = result.text
        elif isinstance(value, (list, tuple)) and value and isinstance(value[0], str):
            texts = []
            for item in value:
                result = redact(item)
                kinds.update(result.counts)
                texts.append(result.text)
            out[key] = texts
        else:
            out[key] = value
    return out


def redact_span(span: ReadableSpan) -> ReadableSpan:
    """A copy of ``span`` with every string attribute (except ``STRUCTURAL_KEYS``), event attribute and the
    status message redacted, marked with ``tracehouse.redaction.kinds`` when something was replaced."""
    from .redaction import redact_detailed

    kinds: set[str] = set()
    attributes = _redact_attributes(span.attributes, redact_detailed, kinds, A.STRUCTURAL_KEYS)
    events = [Event(e.name, _redact_attributes(e.attributes, redact_detailed, kinds), e.timestamp)
              for e in span.events]
    status = span.status
    if status.description:
        result = redact_detailed(status.description)
        kinds.update(result.counts)
        status = Status(status.status_code, result.text)
    if kinds:
        attributes[A.REDACTED_KINDS] = sorted(kinds)
    return ReadableSpan(
        name=span.name, context=span.context, parent=span.parent, resource=span.resource, attributes=attributes,
        events=events, links=span.links, kind=span.kind, status=status, start_time=span.start_time,
        end_time=span.end_time, instrumentation_scope=span.instrumentation_scope,
    )


class RedactingExporter(SpanExporter):
    def __init__(self, inner: SpanExporter) -> None:
        self.inner = inner

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self.inner.export([redact_span(s) for s in spans])

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self.inner.force_flush(timeout_millis)


class QuietLogs(logging.Filter):
    """Pass each distinct message template once; attach with ``install()``, detach with ``remove()``."""

    def __init__(self) -> None:
        super().__init__()
        self._seen: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        key = str(record.msg)
        if key in self._seen:
            return False
        self._seen.add(key)
        return True

    def install(self) -> "QuietLogs":
        for name in OTLP_LOGGERS:
            logging.getLogger(name).addFilter(self)
        return self

    def remove(self) -> None:
        for name in OTLP_LOGGERS:
            logging.getLogger(name).removeFilter(self)
