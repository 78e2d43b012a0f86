"""OTLP decoding: the official encoder's protobuf, the official JSON example, AnyValue cases, bad input."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList

from tracehouse.collector.otlp import DecodeError, any_value, decode_traces

from .otlp_payloads import encoded_genai_trace, record_spans

DATA = Path(__file__).parent / "data"


def test_protobuf_from_official_encoder_keeps_ids_times_and_attributes():
    spans, rejected = decode_traces(encoded_genai_trace(), "protobuf")
    assert rejected == []
    by_name = {s.name: s for s in spans}
    root, chat, tool = by_name["invoke_agent support"], by_name["chat gpt-4o-mini"], by_name["execute_tool lookup"]
    assert len(root.trace_id) == 32 and root.trace_id == root.trace_id.lower()
    assert root.parent_span_id == ""
    assert chat.parent_span_id == root.span_id and chat.trace_id == root.trace_id
    assert chat.attributes["gen_ai.usage.input_tokens"] == 1200
    assert chat.attributes["gen_ai.request.temperature"] == 0.3
    assert chat.attributes["gen_ai.response.finish_reasons"] == ["stop"]
    assert chat.resource["service.name"] == "test-svc"
    assert chat.scope_name == "test.scope" and chat.scope_version == "1.2.3"
    assert chat.end_time_ns >= chat.start_time_ns > 1_600_000_000 * 10**9
    assert tool.status_code == 2 and tool.status_message == "lookup timed out"


def test_official_json_example():
    spans, rejected = decode_traces((DATA / "otlp_trace_example.json").read_bytes(), "json")
    assert rejected == []
    (span,) = spans
    assert span.trace_id == "5b8efff798038103d269b633813fc60c"
    assert span.span_id == "eee19b7ec3c1b174"
    assert span.parent_span_id == "eee19b7ec3c1b173"
    assert span.start_time_ns == 1544712660000000000
    assert span.end_time_ns == 1544712661000000000
    assert span.kind == 2
    assert span.attributes == {"my.span.attr": "some value"}
    assert span.resource == {"service.name": "my.service"}
    assert span.scope_name == "my.library"


def test_json_accepts_int64_as_number_and_ignores_unknown_fields():
    body = json.loads((DATA / "otlp_trace_example.json").read_text())
    span = body["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    span["startTimeUnixNano"] = 1544712660000000000
    span["attributes"].append({"key": "n", "value": {"intValue": "42"}})
    span["somethingNew"] = {"x": 1}
    spans, _ = decode_traces(json.dumps(body).encode(), "json")
    assert spans[0].start_time_ns == 1544712660000000000
    assert spans[0].attributes["n"] == 42


def test_json_matches_protobuf_for_the_same_request():
    body = encoded_genai_trace()
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    as_json = json_format.MessageToDict(request)
    for rs in as_json["resourceSpans"]:  # protobuf's JSON uses base64 ids; OTLP/JSON uses hex
        for ss in rs["scopeSpans"]:
            for sp in ss["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in sp:
                        sp[key] = base64.b64decode(sp[key]).hex().upper()
    from_json, _ = decode_traces(json.dumps(as_json).encode(), "json")
    from_proto, _ = decode_traces(body, "protobuf")
    assert from_json == from_proto


def test_every_any_value_case():
    value = AnyValue(kvlist_value=KeyValueList(values=[
        KeyValue(key="s", value=AnyValue(string_value="x")),
        KeyValue(key="b", value=AnyValue(bool_value=True)),
        KeyValue(key="i", value=AnyValue(int_value=-5)),
        KeyValue(key="d", value=AnyValue(double_value=1.5)),
        KeyValue(key="y", value=AnyValue(bytes_value=b"\x00\x01")),
        KeyValue(key="a", value=AnyValue(array_value=ArrayValue(values=[AnyValue(int_value=1), AnyValue()]))),
        KeyValue(key="empty", value=AnyValue()),
    ]))
    assert any_value(value) == {"s": "x", "b": True, "i": -5, "d": 1.5, "y": "AAE=", "a": [1, None], "empty": None}


@pytest.mark.parametrize("body, fmt", [
    (b"\xff\xff\xff not protobuf", "protobuf"),
    (b"{not json", "json"),
    (b"[1, 2]", "json"),
    (b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz"}]}]}]}', "json"),
    (b'{"resourceSpans": "nope"}', "json"),
])
def test_bad_bodies_raise_decode_error_with_reason(body, fmt):
    with pytest.raises(DecodeError) as info:
        decode_traces(body, fmt)
    assert str(info.value)


def test_spans_with_invalid_ids_are_rejected_not_fatal():
    spans = record_spans(lambda t: [t.start_span(n).end() for n in ("a", "b")])
    request = encode_spans(spans)
    request.resource_spans[0].scope_spans[0].spans[0].trace_id = b"\x00" * 16
    decoded, rejected = decode_traces(request.SerializeToString(), "protobuf")
    assert [s.name for s in decoded] == ["b"]
    assert len(rejected) == 1 and "trace_id" in rejected[0].reason


def test_hostile_sizes_are_cut_not_fatal(monkeypatch):
    from tracehouse.collector import otlp

    monkeypatch.setattr(otlp, "MAX_STRING_CHARS", 10)
    monkeypatch.setattr(otlp, "MAX_ITEMS", 3)
    monkeypatch.setattr(otlp, "MAX_ATTRIBUTES", 2)
    long = AnyValue(string_value="x" * 50)
    assert any_value(long) == "x" * 10 + otlp.TRUNCATED_SUFFIX
    many = AnyValue(array_value=ArrayValue(values=[AnyValue(int_value=i) for i in range(10)]))
    assert any_value(many) == [0, 1, 2]
    deep = AnyValue(string_value="leaf")
    for _ in range(40):
        deep = AnyValue(array_value=ArrayValue(values=[deep]))
    cut = any_value(deep)
    depth = 0
    while isinstance(cut, list):
        cut, depth = cut[0], depth + 1
    assert cut is None and depth == otlp.MAX_DEPTH
    kvs = [KeyValue(key=f"k{i}", value=AnyValue(int_value=i)) for i in range(5)]
    assert otlp.attributes(kvs) == {"k0": 0, "k1": 1}


def test_too_many_spans_in_one_request(monkeypatch):
    from tracehouse.collector import otlp

    monkeypatch.setattr(otlp, "MAX_SPANS_PER_REQUEST", 2)
    with pytest.raises(otlp.TooManySpans):
        decode_traces(encoded_genai_trace(), "protobuf")  # three spans
