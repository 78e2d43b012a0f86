"""A small app using the real ``openai`` client under one official instrumentation, exporting with the official
OTLP/HTTP exporter. Run as a subprocess, one instrumentation per process: the instrumentations patch the same
client methods and read their settings from the environment at instrument time.

    python -m tests.fakes.instrumented_app INSTRUMENTATION COLLECTOR_URL API_KEY RUN_ID

INSTRUMENTATION is ``otel_v2`` (opentelemetry-instrumentation-openai-v2), ``openinference``
(openinference-instrumentation-openai) or ``openllmetry`` (opentelemetry-instrumentation-openai). The app talks
to a ``FakeOpenAI`` server it starts itself and prints one JSON line: the trace id of each scenario.

``otel_v2_events`` runs openai-v2 with content in log records only (``EVENT_ONLY``) and, instead of exporting,
prints ``{"traces": ..., "logs": ...}``: the base64 OTLP protobuf bodies the official encoders produce, so a
test can decode and join them without a ``/v1/logs`` route (COLLECTOR_URL and API_KEY are then ignored).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from typing import Any, Callable, Iterator

# Settings the instrumentations read at import / instrument time.
ENVIRONMENT = {
    "otel_v2": {"OTEL_SEMCONV_STABILITY_OPT_IN": "gen_ai_latest_experimental",
                "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "SPAN_ONLY"},
    "openinference": {},  # captures content by default
    "openllmetry": {"TRACELOOP_TRACE_CONTENT": "true"},
    "otel_v2_events": {"OTEL_SEMCONV_STABILITY_OPT_IN": "gen_ai_latest_experimental",
                       "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "EVENT_ONLY"},
}
TOOLS = [{"type": "function", "function": {
    "name": "lookup_order", "description": "Find an order by id",
    "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}}}]
SYSTEM = "You are a support agent."
QUESTION = "Where is order 123?"


def instrument(name: str, tracer_provider: Any, logger_provider: Any = None) -> Callable[[], None]:
    """Instrument the openai client; returns the matching uninstrument call."""
    options = {"tracer_provider": tracer_provider}
    if name in ("otel_v2", "otel_v2_events"):
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor as V2

        instrumentor: Any = V2()
        if logger_provider is not None:
            options["logger_provider"] = logger_provider
    elif name == "openinference":
        from openinference.instrumentation.openai import OpenAIInstrumentor as OI

        instrumentor = OI()
    elif name == "openllmetry":
        from opentelemetry.instrumentation.openai import OpenAIInstrumentor as LL

        instrumentor = LL()
    else:
        raise SystemExit(f"unknown instrumentation {name!r}")
    instrumentor.instrument(**options)
    return instrumentor.uninstrument


def context(name: str, run_id: str) -> contextlib.AbstractContextManager[Any]:
    """Session and user where the instrumentation has a way to set them (OpenInference's context helpers)."""
    if name != "openinference":
        return contextlib.nullcontext()
    from openinference.instrumentation import using_attributes

    return using_attributes(session_id=f"session-{run_id}", user_id=f"user-{run_id}",
                            metadata={"run": run_id}, tags=["it", name])


def scenarios(client: Any, run_id: str) -> Iterator[tuple[str, Callable[[], None]]]:
    def chat() -> None:
        client.chat.completions.create(
            model="gpt-4o-mini", temperature=0.2, max_tokens=64, user=f"user-{run_id}",
            messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": QUESTION}])

    def stream_tool_call() -> None:
        stream = client.chat.completions.create(
            model="gpt-4o-mini", stream=True, stream_options={"include_usage": True}, tools=TOOLS,
            messages=[{"role": "user", "content": QUESTION}])
        for _ in stream:
            pass

    def stream_text() -> None:
        stream = client.chat.completions.create(
            model="gpt-4o-mini", stream=True, stream_options={"include_usage": True},
            messages=[{"role": "user", "content": "Stream a short answer."}])
        for _ in stream:
            pass

    def tool_result() -> None:
        client.chat.completions.create(model="gpt-4o-mini", tools=TOOLS, messages=[
            {"role": "user", "content": QUESTION},
            {"role": "assistant", "content": None, "tool_calls": [{"id": "call_prev", "type": "function", "function": {
                "name": "lookup_order", "arguments": json.dumps({"order_id": "123"})}}]},
            {"role": "tool", "tool_call_id": "call_prev", "content": json.dumps({"status": "shipped"})}])

    yield from (("chat", chat), ("stream_tool_call", stream_tool_call), ("stream_text", stream_text),
                ("tool_result", tool_result))


def run(name: str, run_id: str, provider: Any, logger_provider: Any = None) -> dict[str, str]:
    import openai

    from tests.fakes.openai_server import FakeOpenAI

    uninstrument = instrument(name, provider, logger_provider)
    tracer = provider.get_tracer("tests.instrumented_app")
    trace_ids: dict[str, str] = {}
    try:
        with FakeOpenAI() as server:
            client = openai.OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0)
            for scenario, call in scenarios(client, run_id):
                # A root span per scenario, so each one is a trace of its own that the test can fetch.
                with tracer.start_as_current_span(f"scenario {scenario}") as root, context(name, run_id):
                    call()
                    trace_ids[scenario] = format(root.get_span_context().trace_id, "032x")
    finally:
        uninstrument()
    return trace_ids


def main(argv: list[str]) -> None:
    name, collector_url, api_key, run_id = argv
    os.environ.update(ENVIRONMENT[name])
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    resource = Resource.create({"service.name": f"it-{name}", "deployment.environment.name": "it"})
    provider = TracerProvider(resource=resource)
    if name == "otel_v2_events":
        print(json.dumps(capture_events(run_id, provider, resource)))
        return
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    exporter = OTLPSpanExporter(endpoint=f"{collector_url}/v1/traces",
                                headers={"Authorization": f"Bearer {api_key}"})
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    try:
        trace_ids = run(name, run_id, provider)
    finally:
        provider.shutdown()
    print(json.dumps(trace_ids))


def capture_events(run_id: str, provider: Any, resource: Any) -> dict[str, str]:
    import base64

    from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    spans, logs = InMemorySpanExporter(), InMemoryLogRecordExporter()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(logs))
    run("otel_v2_events", run_id, provider, logger_provider)
    provider.shutdown()
    logger_provider.shutdown()
    return {"traces": base64.b64encode(encode_spans(spans.get_finished_spans()).SerializeToString()).decode(),
            "logs": base64.b64encode(encode_logs(logs.get_finished_logs()).SerializeToString()).decode()}


if __name__ == "__main__":
    main(sys.argv[1:])
