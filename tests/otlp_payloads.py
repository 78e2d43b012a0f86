"""Builders for OTLP payloads used across tests: real SDK spans encoded by the official OTLP encoder."""

from __future__ import annotations

from typing import Any, Callable

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode


def record_spans(build: Callable[[Any], None], service: str = "test-svc") -> list[ReadableSpan]:
    """Run ``build(tracer)`` on a private provider and return the finished spans."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    build(provider.get_tracer("test.scope", "1.2.3"))
    provider.shutdown()
    return list(exporter.get_finished_spans())


GENAI_CHAT_ATTRS: dict[str, Any] = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-4o-mini",
    "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
    "gen_ai.request.temperature": 0.3,
    "gen_ai.request.max_tokens": 256,
    "gen_ai.usage.input_tokens": 1200,
    "gen_ai.usage.output_tokens": 80,
    "gen_ai.usage.cache_read.input_tokens": 1000,
    "gen_ai.response.finish_reasons": ["stop"],
    "gen_ai.conversation.id": "conv-1",
    "gen_ai.input.messages": '[{"role":"user","parts":[{"type":"text","content":"Where is my order 123?"}]}]',
    "gen_ai.output.messages": '[{"role":"assistant","parts":[{"type":"text","content":"It ships today."}],'
                              '"finish_reason":"stop"}]',
    "gen_ai.system_instructions": '[{"type":"text","content":"You are a support agent."}]',
    "user.id": "user-9",
    "tracehouse.tenant": "acme",
}


def genai_trace(tracer: Any) -> None:
    with tracer.start_as_current_span("invoke_agent support", attributes={"gen_ai.operation.name": "invoke_agent"}):
        with tracer.start_as_current_span("chat gpt-4o-mini", attributes=GENAI_CHAT_ATTRS):
            pass
        with tracer.start_as_current_span("execute_tool lookup", attributes={
            "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "lookup"}) as tool:
            tool.set_status(Status(StatusCode.ERROR, "lookup timed out"))


def encoded_genai_trace() -> bytes:
    return encode_spans(record_spans(genai_trace)).SerializeToString()
