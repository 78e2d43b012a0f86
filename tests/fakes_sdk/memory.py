"""Start the SDK with an in-memory exporter (the real pipeline: queue, counting, sampling, redaction)."""

from __future__ import annotations

import json
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import tracehouse


class Memory:
    def __init__(self, **settings: Any) -> None:
        self.exporter = InMemorySpanExporter()
        tracehouse.init(exporter=self.exporter, service_name="unit", schedule_delay_ms=20, **settings)

    def spans(self) -> list[ReadableSpan]:
        assert tracehouse.flush(timeout_ms=10_000)
        return list(self.exporter.get_finished_spans())

    def by_name(self) -> dict[str, ReadableSpan]:
        return {s.name: s for s in self.spans()}

    def one(self, name: str | None = None) -> ReadableSpan:
        spans = [s for s in self.spans() if name is None or s.name == name]
        assert len(spans) == 1, [s.name for s in spans]
        return spans[0]


def attrs(span: ReadableSpan) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in span.attributes.items()}


def loads(span: ReadableSpan, key: str) -> Any:
    return json.loads(span.attributes[key])

