"""Sampling that keeps whole traces and always keeps errors: a span processor wrapper deciding at span end.

A head sampler decides when a trace starts and cannot know it will fail, so ``ErrorKeepingSampler`` decides
when spans end instead, in front of the real processor:

- A trace whose id falls under the ratio (the lower 64 bits of the trace id compared with ``ratio * 2**64``,
  as OTel's ``TraceIdRatioBased`` does, so every service using the same ratio picks the same traces) is kept:
  its spans are forwarded at once, with no buffering and no extra cost.
- The spans of any other trace are held back until the trace's local root span ends. If any span of the
  trace ended with status ERROR by then, the whole held trace is forwarded (and later spans of that trace
  too); otherwise the trace is discarded and counted in ``sampled_out``.
- Held spans are bounded by ``max_held_spans``: beyond it the oldest undecided trace is discarded (counted
  in ``sampled_out``) so memory stays bounded even when roots never end.

Limits, on purpose: an error that happens after the local root ended (a detached background task) keeps only
the spans that end from then on; traces that continue in another process are decided there by that
process's own sampler (it will agree for sampled-in traces, since the decision is a function of the id).
"""

from __future__ import annotations

import collections
import threading

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import StatusCode

_MASK_64 = (1 << 64) - 1


class ErrorKeepingSampler(SpanProcessor):
    def __init__(self, inner: SpanProcessor, ratio: float, max_held_spans: int = 10_000,
                 remembered_errors: int = 10_000) -> None:
        self.inner = inner
        self._bound = round(ratio * (1 << 64))
        self._max_held = max_held_spans
        self._held: dict[int, list[ReadableSpan]] = {}  # trace id -> spans, oldest trace first
        self._held_count = 0
        self._errored: collections.OrderedDict[int, None] = collections.OrderedDict()  # kept for an error
        self._remembered = remembered_errors
        self._lock = threading.Lock()
        self.sampled_out = 0

    def keeps(self, trace_id: int) -> bool:
        return (trace_id & _MASK_64) < self._bound

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        self.inner.on_start(span, parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        trace_id = span.context.trace_id
        if self.keeps(trace_id):
            self.inner.on_end(span)
            return
        is_error = span.status.status_code is StatusCode.ERROR
        is_root = span.parent is None or span.parent.is_remote
        forward: list[ReadableSpan] = []
        with self._lock:
            if trace_id in self._errored:
                forward.append(span)
            elif is_error:
                held = self._held.pop(trace_id, [])
                self._held_count -= len(held)
                forward.extend(held)
                forward.append(span)
                if not is_root:
                    self._errored[trace_id] = None
                    if len(self._errored) > self._remembered:
                        self._errored.popitem(last=False)
            elif is_root:
                held = self._held.pop(trace_id, [])
                self._held_count -= len(held)
                self.sampled_out += len(held) + 1
            else:
                self._held.setdefault(trace_id, []).append(span)
                self._held_count += 1
                while self._held_count > self._max_held and self._held:
                    oldest = next(iter(self._held))
                    evicted = self._held.pop(oldest)
                    self._held_count -= len(evicted)
                    self.sampled_out += len(evicted)
        for item in forward:
            self.inner.on_end(item)

    def shutdown(self) -> None:
        with self._lock:
            self.sampled_out += self._held_count
            self._held.clear()
            self._held_count = 0
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self.inner.force_flush(timeout_millis)
