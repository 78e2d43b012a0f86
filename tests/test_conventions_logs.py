"""OTLP log records: decoding (protobuf and JSON) and GenAI message events joined onto spans (pure)."""

from __future__ import annotations

import json

import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue, KeyValueList
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs

from tracehouse.collector.conventions import LogContent, apply_log_content, content_from_logs
from tracehouse.collector.otlp import DecodeError, RawLog, decode_logs
from tracehouse.storage.record import SpanRecord

TRACE, SPAN = "5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174"


def kv(key: str, value: str) -> KeyValue:
    return KeyValue(key=key, value=AnyValue(string_value=value))


def request(*records: LogRecord) -> ExportLogsServiceRequest:
    return ExportLogsServiceRequest(resource_logs=[ResourceLogs(
        resource={"attributes": [kv("service.name", "svc")]},
        scope_logs=[ScopeLogs(scope={"name": "genai", "version": "1"}, log_records=list(records))])])


def test_protobuf_logs_decode_ids_event_name_body_and_resource():
    body = AnyValue(kvlist_value=KeyValueList(values=[kv("content", "hi")]))
    pb = request(
        LogRecord(time_unix_nano=5, trace_id=bytes.fromhex(TRACE), span_id=bytes.fromhex(SPAN),
                  event_name="gen_ai.user.message", body=body, severity_number=9, severity_text="INFO"),
        LogRecord(observed_time_unix_nano=7, attributes=[kv("event.name", "gen_ai.choice")]),
        LogRecord(time_unix_nano=8, trace_id=b"\x01" * 3),
    )
    logs, rejected = decode_logs(pb.SerializeToString(), "protobuf")
    first, second = logs
    assert (first.trace_id, first.span_id, first.time_ns) == (TRACE, SPAN, 5)
    assert (first.event_name, first.body, first.severity_text) == ("gen_ai.user.message", {"content": "hi"}, "INFO")
    assert (first.resource, first.scope_name, first.scope_version) == ({"service.name": "svc"}, "genai", "1")
    assert (second.trace_id, second.span_id, second.time_ns) == ("", "", 7)  # no trace context is fine for logs
    assert second.event_name == "gen_ai.choice" and second.body is None  # older SDKs: the event.name attribute
    assert [(r.index, r.reason) for r in rejected] == [(2, "trace_id must be 16 bytes or empty")]


def test_json_logs_use_hex_ids_and_match_protobuf():
    pb = request(LogRecord(time_unix_nano=5, trace_id=bytes.fromhex(TRACE), span_id=bytes.fromhex(SPAN),
                           event_name="gen_ai.choice", body=AnyValue(string_value="x")))
    as_json = json_format.MessageToDict(pb)
    record = as_json["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]
    record["traceId"], record["spanId"] = TRACE.upper(), SPAN  # OTLP/JSON: hex, any case
    assert decode_logs(json.dumps(as_json).encode(), "json") == decode_logs(pb.SerializeToString(), "protobuf")


@pytest.mark.parametrize("body, fmt", [
    (b"\xff\xff not protobuf", "protobuf"),
    (b"[]", "json"),
    (b'{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"spanId": "xyz"}]}]}]}', "json"),
])
def test_bad_log_bodies_raise_decode_error(body, fmt):
    with pytest.raises(DecodeError):
        decode_logs(body, fmt)


def log(event: str, t: int = 0, span: str = SPAN, body=None, **attributes) -> RawLog:
    return RawLog(TRACE, span, t, 9, "", event, body, attributes, {}, "s", "")


def test_operation_details_wins_over_per_message_events():
    details = log("gen_ai.client.inference.operation.details", 3, **{
        "gen_ai.input.messages": '[{"role": "user", "parts": [{"type": "text", "content": "from details"}]}]',
        "gen_ai.output.messages": [{"role": "assistant", "parts": [{"type": "text", "content": "ok"}],
                                    "finish_reason": "stop"}]})
    legacy = log("gen_ai.user.message", 1, body={"content": "from event"})
    content = content_from_logs([legacy, details])[(TRACE, SPAN)]
    assert [m["parts"][0]["content"] for m in content.input_messages] == ["from details"]
    assert content.output_messages[0]["finish_reason"] == "stop"


def test_per_message_events_are_ordered_by_time_and_choices_by_index():
    logs = [
        log("gen_ai.choice", 9, body={"index": 1, "message": {"content": "b"}}),
        log("gen_ai.assistant.message", 2, body={"tool_calls": [
            {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}),
        log("gen_ai.user.message", 1, body={"content": "q"}),
        log("gen_ai.tool.message", 3, body={"id": "c", "content": "r"}),
        log("gen_ai.choice", 8, body={"index": 0, "finish_reason": "tool_calls", "message": {"content": "a"}}),
    ]
    content = content_from_logs(logs)[(TRACE, SPAN)]
    assert [m["role"] for m in content.input_messages] == ["user", "assistant", "tool"]
    assert content.input_messages[1]["parts"] == [{"type": "tool_call", "id": "c", "name": "f", "arguments": {}}]
    assert content.input_messages[2]["parts"] == [{"type": "tool_call_response", "id": "c", "response": "r"}]
    assert [m["parts"][0]["content"] for m in content.output_messages] == ["a", "b"]
    assert content.output_messages[0]["finish_reason"] == "tool_call"


def test_logs_that_are_not_genai_events_or_have_no_span_are_ignored():
    logs = [log("", 1, body="cache miss"), log("gen_ai.user.message", 1, span="", body={"content": "q"}),
            log("http.request", 1)]
    assert content_from_logs(logs) == {}


def record(**fields) -> SpanRecord:
    return SpanRecord("p", TRACE, SPAN, "", "chat", 0, 1, **fields)


def test_apply_fills_only_the_missing_sides():
    answer = {"role": "assistant", "parts": [{"type": "text", "content": "a"}], "finish_reason": "length"}
    content = LogContent(({"role": "user", "parts": [{"type": "text", "content": "q"}]},), (answer,))
    filled = apply_log_content(record(input_text="tool args"), content)
    assert (filled.input_text, filled.output_text, filled.finish_reason) == ("q", "a", "length")
    kept_output = ({"role": "assistant", "parts": [{"type": "text", "content": "span's own"}]},)
    partial = apply_log_content(record(output_messages=kept_output, output_text="span's own", finish_reason="stop"),
                                content)
    assert partial.output_messages == kept_output and partial.finish_reason == "stop"
    assert partial.input_messages == content.input_messages
    untouched = record(input_messages=content.input_messages, output_messages=kept_output)
    assert apply_log_content(untouched, content) is untouched


@pytest.mark.parametrize("value", [None, 3, "text", "[", [1, None], {"message": 5, "index": "x", "content": [None]},
                                   {"tool_calls": "not json"}, [{"role": None}]], ids=repr)
def test_malformed_event_bodies_never_break_the_join(value):
    names = ("gen_ai.client.inference.operation.details", "gen_ai.user.message", "gen_ai.tool.message",
             "gen_ai.choice")
    logs = [log(name, i, body=value, **{"gen_ai.input.messages": value, "gen_ai.output.messages": value,
                                         "gen_ai.system_instructions": value, "index": value})
            for i, name in enumerate(names)]
    content = content_from_logs(logs)
    joined = apply_log_content(record(), content[(TRACE, SPAN)])
    json.dumps([joined.input_messages, joined.output_messages])
