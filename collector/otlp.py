"""OTLP trace decoding (pure): request bytes in, frozen ``RawSpan`` records out.

Ids become lowercase hex and times stay integer nanoseconds, once, at this edge. Accepts protobuf and the
OTLP/JSON mapping (hex ids, int64 as strings or numbers, enums as integers, unknown fields ignored).

Errors: ``DecodeError`` (a ValueError) carries the reason a client needs; the HTTP layer maps it to 400.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError as ProtobufDecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

MAX_DEPTH = 16  # nested AnyValue depth kept; deeper values are cut (hostile input)


class DecodeError(ValueError):
    pass


@dataclass(frozen=True)
class RawSpan:
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
class Rejected:
    index: int
    reason: str


def any_value(value: AnyValue, depth: int = 0) -> Any:
    case = value.WhichOneof("value")
    if case is None:
        return None
    if case == "string_value":
        return value.string_value
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
        return [any_value(v, depth + 1) for v in value.array_value.values]
    if case == "kvlist_value":
        return {kv.key: any_value(kv.value, depth + 1) for kv in value.kvlist_value.values}
    raise DecodeError(f"unknown AnyValue case {case!r}")


def attributes(kvs: Any) -> dict[str, Any]:
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
                        for e in span.events
                    ),
                    links=tuple(
                        {"trace_id": _hex(link.trace_id), "span_id": _hex(link.span_id),
                         "attributes": attributes(link.attributes)}
                        for link in span.links
                    ),
                    resource=resource,
                    scope_name=scope_name,
                    scope_version=scope_version,
                ))
    return spans, rejected


def parse_protobuf(body: bytes) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(body)
    except (ProtobufDecodeError, RuntimeError, ValueError) as exc:
        raise DecodeError(f"body is not a valid OTLP ExportTraceServiceRequest protobuf: {exc}") from exc
    return request


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


def parse_json(body: bytes) -> ExportTraceServiceRequest:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DecodeError(f"body is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise DecodeError("OTLP/JSON body must be an object with resourceSpans")
    try:
        for resource_spans in data.get("resourceSpans") or data.get("resource_spans") or []:
            for scope_spans in resource_spans.get("scopeSpans") or resource_spans.get("scope_spans") or []:
                for span in scope_spans.get("spans") or []:
                    _hex_ids_to_base64(span)
                    for link in span.get("links") or []:
                        _hex_ids_to_base64(link)
        return json_format.ParseDict(data, ExportTraceServiceRequest(), ignore_unknown_fields=True)
    except DecodeError:
        raise
    except (json_format.ParseError, AttributeError, TypeError, ValueError, binascii.Error) as exc:
        raise DecodeError(f"body is not a valid OTLP/JSON ExportTraceServiceRequest: {exc}") from exc


def decode_traces(body: bytes, content_type: str) -> tuple[list[RawSpan], list[Rejected]]:
    """Decode an OTLP trace export body. ``content_type`` is ``protobuf`` or ``json``."""
    request = parse_protobuf(body) if content_type == "protobuf" else parse_json(body)
    return spans_from_request(request)


