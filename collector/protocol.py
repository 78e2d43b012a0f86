"""OTLP/HTTP protocol rules (pure): content types, content encodings, size caps, responses."""

from __future__ import annotations

import json
import zlib

from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

PROTOBUF = "application/x-protobuf"
JSON = "application/json"


class ProtocolError(Exception):
    """An HTTP-level rejection: ``status`` and a reason for the client."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def body_format(content_type: str | None) -> str:
    """``protobuf`` or ``json``; ProtocolError 415 for anything else."""
    media = (content_type or "").split(";")[0].strip().lower()
    if media in (PROTOBUF, "application/protobuf"):
        return "protobuf"
    if media == JSON:
        return "json"
    raise ProtocolError(415, f"unsupported content type {content_type!r}: send {PROTOBUF} or {JSON}")


def decompress(body: bytes, encoding: str | None, max_bytes: int) -> bytes:
    """Undo gzip/deflate, refusing output past ``max_bytes`` (a zip bomb stops at the cap, not in memory)."""
    encoding = (encoding or "identity").strip().lower()
    if encoding in ("identity", ""):
        return body
    if encoding == "gzip":
        decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
    elif encoding == "deflate":
        decompressor = zlib.decompressobj()
    else:
        raise ProtocolError(415, f"unsupported content encoding {encoding!r}: send gzip, deflate or none")
    try:
        out = decompressor.decompress(body, max_bytes + 1)
    except zlib.error as exc:
        if encoding != "deflate":
            raise ProtocolError(400, f"body is not valid {encoding} data: {exc}") from exc
        try:  # some clients send raw deflate without the zlib header
            decompressor = zlib.decompressobj(-zlib.MAX_WBITS)
            out = decompressor.decompress(body, max_bytes + 1)
        except zlib.error:
            raise ProtocolError(400, f"body is not valid {encoding} data: {exc}") from exc
    if len(out) > max_bytes:
        raise ProtocolError(413, f"decompressed body exceeds the {max_bytes} byte limit")
    # A stream cut short can still inflate to a valid prefix of the request: refuse it rather than store part
    # of a corrupt body. Bytes after the end (a second gzip member, garbage) are refused too.
    if not decompressor.eof:
        raise ProtocolError(400, f"body is not valid {encoding} data: the stream ends early")
    if decompressor.unused_data:
        raise ProtocolError(400, f"body is not valid {encoding} data: {len(decompressor.unused_data)} bytes "
                                 "follow the end of the stream")
    return out


def export_response(fmt: str, rejected: int = 0, message: str = "", signal: str = "traces") -> tuple[bytes, str]:
    """An Export{Trace,Logs}ServiceResponse in the request's format, with partial_success on rejections."""
    response = ExportTraceServiceResponse() if signal == "traces" else ExportLogsServiceResponse()
    if rejected:
        if signal == "traces":
            response.partial_success.rejected_spans = rejected
        else:
            response.partial_success.rejected_log_records = rejected
        response.partial_success.error_message = message
    if fmt == "protobuf":
        return response.SerializeToString(), PROTOBUF
    return json.dumps(json_format.MessageToDict(response)).encode(), JSON


def status_body(fmt: str, code: int, message: str) -> tuple[bytes, str]:
    """A google.rpc.Status-shaped error body in the request's format."""
    if fmt == "protobuf":
        from google.rpc import status_pb2

        return status_pb2.Status(code=code, message=message).SerializeToString(), PROTOBUF
    return json.dumps({"code": code, "message": message}).encode(), JSON


