"""A fake tracehouse collector: OTLP/HTTP ``POST /v1/traces`` (protobuf, decoded so tests can read the spans)
and ``POST /api/v1/scores``. Each path answers ``trace_status``/``score_status``, optionally with Retry-After,
or hangs for ``hang_s`` (until released) to play a slow collector."""

from __future__ import annotations

import gzip
import threading
import zlib
from typing import Any

from .http import FakeServer, Reply, Request


def _any_value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_any_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _any_value(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, kind) if kind else None


class FakeCollector(FakeServer):
    def __init__(self, trace_status: int = 200, score_status: int = 201, hang_s: float = 0.0,
                 retry_after: str | None = None) -> None:
        self.trace_status = trace_status
        self.score_status = score_status
        self.hang_s = hang_s
        self.retry_after = retry_after
        self.spans: list[dict[str, Any]] = []
        self.scores: list[dict[str, Any]] = []
        self.trace_posts = 0
        self.score_posts = 0
        self._lock = threading.Lock()
        super().__init__(self._handle)

    def _handle(self, request: Request) -> Reply:
        headers = {"Retry-After": self.retry_after} if self.retry_after else {}
        if request.path == "/v1/traces":
            with self._lock:
                self.trace_posts += 1
            if self.trace_status == 200 and not self.hang_s:
                self._decode(request)
            return Reply(self.trace_status, b"", headers=headers, content_type="application/x-protobuf",
                         hang_s=self.hang_s)
        if request.path == "/api/v1/scores":
            with self._lock:
                self.score_posts += 1
            if self.score_status == 201 and not self.hang_s:
                with self._lock:
                    self.scores.append({**request.json(), "_auth": request.headers.get("authorization")})
            return Reply(self.score_status, {"score_id": "s1"} if self.score_status == 201 else {"detail": "no"},
                         headers=headers, hang_s=self.hang_s)
        return Reply(404, {"detail": "not found"})

    def _decode(self, request: Request) -> None:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

        body = request.body
        encoding = request.headers.get("content-encoding")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        message = ExportTraceServiceRequest.FromString(body)
        decoded = []
        for resource_spans in message.resource_spans:
            resource = {kv.key: _any_value(kv.value) for kv in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    decoded.append({
                        "name": span.name, "trace_id": span.trace_id.hex(), "span_id": span.span_id.hex(),
                        "parent_span_id": span.parent_span_id.hex(), "status": span.status.code,
                        "attributes": {kv.key: _any_value(kv.value) for kv in span.attributes},
                        "resource": resource, "authorization": request.headers.get("authorization"),
                    })
        with self._lock:
            self.spans.extend(decoded)
