"""OTLP decoding (pure): request bytes in, frozen ``RawSpan`` / ``RawLog`` records out.

Ids become lowercase hex and times stay integer nanoseconds, once, at this edge. Accepts protobuf and the
OTLP/JSON mapping (hex ids, int64 as strings or numbers, enums as integers, unknown fields ignored) for
``ExportTraceServiceRequest`` and ``ExportLogsServiceRequest``.

Errors: ``DecodeError`` (a ValueError) carries the reason a client needs; the HTTP layer maps it to 400.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any, NamedTuple

from google.protobuf import json_format
from google.protobuf.message import DecodeError as ProtobufDecodeError
from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

# Hostile-input limits: values past them are cut (never a reason to drop the span), except the span count,
# which rejects the request (413) before anything is built from it.
MAX_DEPTH = 16  # nested AnyValue depth kept
MAX_ITEMS = 10_000  # elements kept per array or kvlist value
MAX_STRING_CHARS = 1_000_000  # characters kept per string value
MAX_ATTRIBUTES = 1_024  # attributes kept per span, event, link or resource
MAX_EVENTS = 1_024  # events kept per span
MAX_LINKS = 128  # links kept per span
MAX_SPANS_PER_REQUEST = 100_000
TRUNCATED_SUFFIX = "…[truncated]"


class DecodeError(ValueError):
    pass


class TooManySpans(DecodeError):
    """More spans in one request than ``MAX_SPANS_PER_REQUEST`` (answered 413)."""


class RawSpan(NamedTuple):
    """One decoded span (a named tuple: made for every span, it costs a fifth of a frozen dataclass)."""

    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    kind: int
    start_time_ns: int
    end_time_ns: int
    status_code: int
    status_message: str
    attributes: dict[str, Any]
    events: tuple[dict[str, Any], ...]
    links: tuple[dict[str, Any], ...]
    resource: dict[str, Any]
    scope_name: str
    scope_version: str


@dataclass(frozen=True)
class RawLog:
    """One OTLP log record. Semconv "events" (GenAI message events, operation.details) arrive this way."""

    trace_id: str  # "" when the record is not tied to a span
    span_id: str
    time_ns: int  # time_unix_nano, else the observed time
    severity_number: int
    severity_text: str
    event_name: str  # LogRecord.event_name, else the older ``event.name`` attribute
    body: Any
    attributes: dict[str, Any]
    resource: dict[str, Any]
    scope_name: str
    scope_version: str


@dataclass(frozen=True)
class Rejected:
    index: int
    reason: str


def any_value(value: AnyValue, depth: int = 0) -> Any:
    case = value.WhichOneof("value")
    if case is None:
        return None
    if case == "string_value":
        text = value.string_value
        return text if len(text) <= MAX_STRING_CHARS else text[:MAX_STRING_CHARS] + TRUNCATED_SUFFIX
    if case == "bool_value":
        return value.bool_value
    if case == "int_value":
        return value.int_value
    if case == "double_value":
        return value.double_value
    if case == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    if depth >= MAX_DEPTH:
        return None
    if case == "array_value":
        return [any_value(v, depth + 1) for v in value.array_value.values[:MAX_ITEMS]]
    if case == "kvlist_value":
        return {kv.key: any_value(kv.value, depth + 1) for kv in value.kvlist_value.values[:MAX_ITEMS]}
    raise DecodeError(f"unknown AnyValue case {case!r}")


def attributes(kvs: Any) -> dict[str, Any]:
    if len(kvs) > MAX_ATTRIBUTES:
        kvs = kvs[:MAX_ATTRIBUTES]
    return {kv.key: any_value(kv.value) for kv in kvs}


def _hex(raw: bytes) -> str:
    return raw.hex()


def _span_problem(trace_id: bytes, span_id: bytes, parent: bytes) -> str | None:
    if len(trace_id) != 16 or not any(trace_id):
        return "trace_id must be 16 non-zero bytes"
    if len(span_id) != 8 or not any(span_id):
        return "span_id must be 8 non-zero bytes"
    if parent and len(parent) != 8:
        return "parent_span_id must be 8 bytes or empty"
    return None


def spans_from_request(request: ExportTraceServiceRequest) -> tuple[list[RawSpan], list[Rejected]]:
    spans: list[RawSpan] = []
    rejected: list[Rejected] = []
    count = sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)
    if count > MAX_SPANS_PER_REQUEST:
        raise TooManySpans(f"{count} spans in one request; send at most {MAX_SPANS_PER_REQUEST} per request")
    index = 0
    for resource_spans in request.resource_spans:
        resource = attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            scope_name, scope_version = scope_spans.scope.name, scope_spans.scope.version
            for span in scope_spans.spans:
                problem = _span_problem(span.trace_id, span.span_id, span.parent_span_id)
                if problem:
                    rejected.append(Rejected(index, problem))
                    index += 1
                    continue
                index += 1
                spans.append(RawSpan(
                    trace_id=_hex(span.trace_id),
                    span_id=_hex(span.span_id),
                    parent_span_id=_hex(span.parent_span_id) if any(span.parent_span_id) else "",
                    name=span.name,
                    kind=int(span.kind),
                    start_time_ns=int(span.start_time_unix_nano),
                    end_time_ns=int(span.end_time_unix_nano or span.start_time_unix_nano),
                    status_code=int(span.status.code),
                    status_message=span.status.message,
                    attributes=attributes(span.attributes),
                    events=tuple(
                        {"time_ns": int(e.time_unix_nano), "name": e.name, "attributes": attributes(e.attributes)}
                        for e in span.events[:MAX_EVENTS]
                    ),
                    links=tuple(
                        {"trace_id": _hex(link.trace_id), "span_id": _hex(link.span_id),
                         "attributes": attributes(link.attributes)}
                        for link in span.links[:MAX_LINKS]
                    ),
                    resource=resource,
                    scope_name=scope_name,
                    scope_version=scope_version,
                ))
    return spans, rejected


def _log_problem(trace_id: bytes, span_id: bytes) -> str | None:
    # Logs need no trace context; ids that are present must have the right size.
    if trace_id and len(trace_id) != 16:
        return "trace_id must be 16 bytes or empty"
    if span_id and len(span_id) != 8:
        return "span_id must be 8 bytes or empty"
    return None


def logs_from_request(request: ExportLogsServiceRequest) -> tuple[list[RawLog], list[Rejected]]:
    logs: list[RawLog] = []
    rejected: list[Rejected] = []
    index = -1
    for resource_logs in request.resource_logs:
        resource = attributes(resource_logs.resource.attributes)
        for scope_logs in resource_logs.scope_logs:
            scope_name, scope_version = scope_logs.scope.name, scope_logs.scope.version
            for record in scope_logs.log_records:
                index += 1
                problem = _log_problem(record.trace_id, record.span_id)
                if problem:
                    rejected.append(Rejected(index, problem))
                    continue
                attrs = attributes(record.attributes)
                logs.append(RawLog(
                    trace_id=_hex(record.trace_id) if any(record.trace_id) else "",
                    span_id=_hex(record.span_id) if any(record.span_id) else "",
                    time_ns=int(record.time_unix_nano or record.observed_time_unix_nano),
                    severity_number=int(record.severity_number),
                    severity_text=record.severity_text,
                    event_name=record.event_name or str(attrs.get("event.name") or ""),
                    body=any_value(record.body) if record.HasField("body") else None,
                    attributes=attrs,
                    resource=resource,
                    scope_name=scope_name,
                    scope_version=scope_version,
                ))
    return logs, rejected


def _parse_protobuf(body: bytes, request: Message) -> Any:
    try:
        request.ParseFromString(body)
    except (ProtobufDecodeError, RuntimeError, ValueError) as exc:
        name = type(request).__name__
        raise DecodeError(f"body is not a valid OTLP {name} protobuf: {exc}") from exc
    return request


def parse_protobuf(body: bytes) -> ExportTraceServiceRequest:
    return _parse_protobuf(body, ExportTraceServiceRequest())


_ID_FIELDS = ("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id")


def _hex_ids_to_base64(obj: dict[str, Any]) -> None:
    """OTLP/JSON carries ids as hex; protobuf's JSON parser expects base64 for bytes fields."""
    for key in _ID_FIELDS:
        value = obj.get(key)
        if isinstance(value, str) and value:
            try:
                obj[key] = base64.b64encode(bytes.fromhex(value)).decode()
            except ValueError as exc:
                raise DecodeError(f"{key} {value!r} is not hex") from exc


def _children(obj: dict[str, Any], camel: str, snake: str) -> list[dict[str, Any]]:
    return obj.get(camel) or obj.get(snake) or []


def _fix_trace_ids(data: dict[str, Any]) -> None:
    for resource_spans in _children(data, "resourceSpans", "resource_spans"):
        for scope_spans in _children(resource_spans, "scopeSpans", "scope_spans"):
            for span in scope_spans.get("spans") or []:
                _hex_ids_to_base64(span)
                for link in span.get("links") or []:
                    _hex_ids_to_base64(link)


def _fix_log_ids(data: dict[str, Any]) -> None:
    for resource_logs in _children(data, "resourceLogs", "resource_logs"):
        for scope_logs in _children(resource_logs, "scopeLogs", "scope_logs"):
            for record in _children(scope_logs, "logRecords", "log_records"):
                _hex_ids_to_base64(record)


def _parse_json(body: bytes, request: Message, fix_ids: Any, top_key: str) -> Any:
    name = type(request).__name__
    try:
        data = json.loads(body)
    except RecursionError as exc:  # nesting past the interpreter's limit: a RuntimeError, not a ValueError
        raise DecodeError("body is not valid OTLP/JSON: nested too deeply") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise DecodeError(f"body is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise DecodeError(f"OTLP/JSON body must be an object with {top_key}")
    try:
        fix_ids(data)
        return json_format.ParseDict(data, request, ignore_unknown_fields=True)
    except DecodeError:
        raise
    except (json_format.ParseError, AttributeError, TypeError, ValueError, binascii.Error) as exc:
        raise DecodeError(f"body is not a valid OTLP/JSON {name}: {exc}") from exc


def parse_json(body: bytes) -> ExportTraceServiceRequest:
    return _parse_json(body, ExportTraceServiceRequest(), _fix_trace_ids, "resourceSpans")


def decode_traces(body: bytes, content_type: str) -> tuple[list[RawSpan], list[Rejected]]:
    """Decode an OTLP trace export body. ``content_type`` is ``protobuf`` or ``json``."""
    request = parse_protobuf(body) if content_type == "protobuf" else parse_json(body)
    return spans_from_request(request)


def decode_logs(body: bytes, content_type: str) -> tuple[list[RawLog], list[Rejected]]:
    """Decode an OTLP logs export body. ``content_type`` is ``protobuf`` or ``json``."""
    if content_type == "protobuf":
        request = _parse_protobuf(body, ExportLogsServiceRequest())
    else:
        request = _parse_json(body, ExportLogsServiceRequest(), _fix_log_ids, "resourceLogs")
    return logs_from_request(request)
