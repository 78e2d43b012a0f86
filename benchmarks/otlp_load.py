"""Seeded OTLP protobuf load: realistic LLM spans (GenAI attributes, multi-KB messages) in export batches.

Used by ``benchmarks/ingest.py`` and the durability tests. Each span id is unique and derived from the seed,
so a run can check exactly which spans were stored.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

WORDS = ("order refund invoice shipping account password billing subscription delivery warranty product "
         "customer support request error timeout payment address update cancel upgrade plan discount "
         "summary document report contract policy section clause total amount due date receipt").split()
MODELS = (("openai", "gpt-4o-mini"), ("openai", "gpt-4.1"), ("anthropic", "claude-sonnet-4-5"),
          ("anthropic", "claude-haiku-4-5"))


@dataclass(frozen=True)
class Batch:
    body: bytes
    span_ids: tuple[str, ...]
    trace_ids: tuple[str, ...]


def _kv(key: str, value: object) -> KeyValue:
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    if isinstance(value, float):
        return KeyValue(key=key, value=AnyValue(double_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=str(value)))


def _text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


def make_batches(spans: int, batch_size: int = 500, seed: int = 1, content_words: int = 650,
                 now_ns: int | None = None) -> list[Batch]:
    """``spans`` LLM spans in batches; about 6 KB per span on the wire with the default content size."""
    rng = random.Random(seed)
    now_ns = now_ns or time.time_ns()
    batches = []
    for start in range(0, spans, batch_size):
        request = ExportTraceServiceRequest()
        resource_spans = request.resource_spans.add()
        resource_spans.resource.attributes.extend([_kv("service.name", "loadgen"),
                                                   _kv("deployment.environment.name", "bench")])
        scope = resource_spans.scope_spans.add()
        scope.scope.name = "loadgen"
        span_ids, trace_ids = [], []
        for _ in range(min(batch_size, spans - start)):
            provider, model = rng.choice(MODELS)
            trace_id, span_id = rng.getrandbits(128) | 1, rng.getrandbits(64) | 1
            begin = now_ns - rng.randrange(0, 3600 * 10**9)
            question, answer = _text(rng, content_words // 3), _text(rng, content_words * 2 // 3)
            span = scope.spans.add(
                trace_id=trace_id.to_bytes(16, "big"), span_id=span_id.to_bytes(8, "big"),
                name=f"chat {model}", kind=Span.SPAN_KIND_CLIENT, start_time_unix_nano=begin,
                end_time_unix_nano=begin + rng.randrange(300, 8000) * 10**6,
            )
            input_tokens = len(question) // 4 + 200
            span.attributes.extend([
                _kv("gen_ai.operation.name", "chat"), _kv("gen_ai.provider.name", provider),
                _kv("gen_ai.request.model", model), _kv("gen_ai.request.temperature", 0.7),
                _kv("gen_ai.request.max_tokens", 1024),
                _kv("gen_ai.usage.input_tokens", input_tokens),
                _kv("gen_ai.usage.output_tokens", len(answer) // 4),
                _kv("gen_ai.usage.cache_read.input_tokens", rng.choice((0, 0, 128))),
                _kv("gen_ai.response.finish_reasons", "stop"),
                _kv("tracehouse.tenant", f"tenant-{rng.randrange(50)}"),
                _kv("user.id", f"user-{rng.randrange(5000)}"),
                _kv("session.id", f"session-{rng.randrange(20000)}"),
                _kv("gen_ai.input.messages", json.dumps([
                    {"role": "system", "parts": [{"type": "text", "content": "You are a helpful support agent."}]},
                    {"role": "user", "parts": [{"type": "text", "content": question}]}])),
                _kv("gen_ai.output.messages", json.dumps([
                    {"role": "assistant", "parts": [{"type": "text", "content": answer}], "finish_reason": "stop"}])),
            ])
            span_ids.append(f"{span_id:016x}")
            trace_ids.append(f"{trace_id:032x}")
        batches.append(Batch(request.SerializeToString(), tuple(span_ids), tuple(trace_ids)))
    return batches
