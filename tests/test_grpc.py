"""OTLP/gRPC on its own port: the official gRPC exporters as clients of a collector process, and raw gRPC calls
for the error codes the OTLP spec gives (INVALID_ARGUMENT, UNAUTHENTICATED, UNAVAILABLE with RetryInfo)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from google.rpc.error_details_pb2 import RetryInfo
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from tests.conftest import free_port, start_collector, stop_collector, wait_until
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

from tests.otlp_payloads import genai_trace, record_spans

EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


@pytest.fixture(scope="module")
def grpc_collector(tmp_path_factory):
    port = free_port()
    collector = start_collector(tmp_path_factory.mktemp("grpc"), {"TRACEHOUSE_GRPC_PORT": str(port)})
    collector.grpc_port = port  # type: ignore[attr-defined]
    yield collector
    stop_collector(collector)


def raw_export(port: int, body: bytes, key: str | None) -> bytes:
    metadata = (("authorization", f"Bearer {key}"),) if key else ()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        call = channel.unary_unary(EXPORT, request_serializer=None, response_deserializer=None)
        return call(body, metadata=metadata, timeout=10)


def test_official_grpc_exporter_spans_are_stored_with_genai_fields(grpc_collector):
    exporter = OTLPSpanExporter(endpoint=f"127.0.0.1:{grpc_collector.grpc_port}", insecure=True,
                                headers=(("authorization", f"Bearer {grpc_collector.api_key}"),))
    provider = TracerProvider(resource=Resource.create({"service.name": "grpc-app"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("chat gpt-4o-mini") as span:
        span.set_attributes({"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                             "gen_ai.request.model": "gpt-4o-mini", "gen_ai.usage.input_tokens": 120,
                             "gen_ai.usage.output_tokens": 30, "tracehouse.tenant": "acme-grpc"})
        trace_id = format(span.get_span_context().trace_id, "032x")
    provider.shutdown()

    client = grpc_collector.client()
    wait_until(lambda: client.get(f"/api/v1/traces/{trace_id}").status_code == 200, timeout_s=20)
    stored = client.get(f"/api/v1/traces/{trace_id}").json()["spans"][0]
    assert (stored["service"], stored["provider"], stored["model"]) == ("grpc-app", "openai", "gpt-4o-mini")
    assert (stored["input_tokens"], stored["output_tokens"]) == (120, 30)
    assert stored["cost_usd"] > 0


def test_official_grpc_log_exporter_is_accepted_and_a_wrong_key_is_refused(grpc_collector):
    from opentelemetry._logs import LogRecord
    from opentelemetry.sdk._logs import ReadableLogRecord
    from opentelemetry.sdk._logs.export import LogRecordExportResult

    record = ReadableLogRecord(LogRecord(body="hello", attributes={"event.name": "gen_ai.user.message"}),
                               Resource.create({"service.name": "grpc-app"}))
    results = []
    for key in (grpc_collector.api_key, "th_wrong-key"):
        exporter = OTLPLogExporter(endpoint=f"127.0.0.1:{grpc_collector.grpc_port}", insecure=True,
                                   headers=(("authorization", f"Bearer {key}"),))
        results.append(exporter.export([record]))
        exporter.shutdown()
    assert results == [LogRecordExportResult.SUCCESS, LogRecordExportResult.FAILURE]


def test_raw_export_returns_an_export_response_and_partial_success(grpc_collector):
    body = encode_spans(record_spans(genai_trace))
    body.resource_spans[0].scope_spans[0].spans[0].span_id = bytes(8)  # an all-zero id: that span alone is rejected
    response = ExportTraceServiceResponse.FromString(
        raw_export(grpc_collector.grpc_port, body.SerializeToString(), grpc_collector.api_key))
    assert response.partial_success.rejected_spans == 1
    assert response.partial_success.error_message


def test_error_codes_follow_the_otlp_spec(grpc_collector):
    port, key = grpc_collector.grpc_port, grpc_collector.api_key
    with pytest.raises(grpc.RpcError) as caught:
        raw_export(port, b"\xff\xff not protobuf", key)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    body = encode_spans(record_spans(genai_trace)).SerializeToString()
    with pytest.raises(grpc.RpcError) as caught:
        raw_export(port, body, None)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.RpcError) as caught:
        raw_export(port, body, "th_wrong-key")
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_rate_limited_export_is_unavailable_with_a_retry_delay(tmp_path):
    port = free_port()
    collector = start_collector(tmp_path, {"TRACEHOUSE_GRPC_PORT": str(port),
                                           "TRACEHOUSE_RATE_LIMIT_SPANS_PER_S": "1"})
    try:
        body = encode_spans(record_spans(genai_trace)).SerializeToString()
        codes = []
        for _ in range(3):
            try:
                raw_export(port, body, collector.api_key)
                codes.append(grpc.StatusCode.OK)
            except grpc.RpcError as exc:
                codes.append(exc.code())
                trailers = dict(exc.trailing_metadata())
                assert RetryInfo.FromString(trailers["google.rpc.retryinfo-bin"]).retry_delay.ToNanoseconds() > 0
        assert grpc.StatusCode.UNAVAILABLE in codes
    finally:
        stop_collector(collector)


def test_a_taken_grpc_port_stops_start_up_with_a_clear_message(grpc_collector, tmp_path):
    exe = Path(sys.executable).parent / "tracehouse"
    result = subprocess.run([str(exe), "serve", "--port", str(free_port()), "--grpc-port", str(grpc_collector.grpc_port),
                             "--storage", f"chdb://{tmp_path / 'data'}"], capture_output=True, text=True, timeout=90,
                            cwd=tmp_path)
    assert result.returncode != 0
    assert "TRACEHOUSE_GRPC_PORT" in result.stdout + result.stderr
