"""OTLP/gRPC receiver (port 4317): TraceService/Export and LogsService/Export over the same ingest path as HTTP.

Handlers take the raw request bytes (no deserializer), so a gRPC export goes through exactly the decoder,
limits, normalization and write-ahead log of ``POST /v1/traces``. Errors map to the status codes the OTLP spec
gives clients: INVALID_ARGUMENT for a body that does not parse (not retried), UNAUTHENTICATED /
PERMISSION_DENIED for keys, UNAVAILABLE with a ``RetryInfo`` delay when shedding load (the official exporters
retry it and honour the delay). gRPC itself answers RESOURCE_EXHAUSTED past the size cap and handles gzip.
"""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable

import grpc
from google.protobuf.duration_pb2 import Duration
from google.rpc.error_details_pb2 import RetryInfo

from .auth import AuthError
from .otlp import DecodeError, TooManySpans
from .pipeline import Overloaded
from .protocol import export_response

logger = logging.getLogger("tracehouse.collector.grpc")

# (authorization header, body, signal) -> (accepted, rejected); raises the ingest errors handled below.
Accept = Callable[[str | None, bytes, str], Awaitable[tuple[int, list[Any]]]]

SERVICES = {"traces": "opentelemetry.proto.collector.trace.v1.TraceService",
            "logs": "opentelemetry.proto.collector.logs.v1.LogsService"}
AUTH_CODES = {401: grpc.StatusCode.UNAUTHENTICATED, 403: grpc.StatusCode.PERMISSION_DENIED}


class GrpcPortError(RuntimeError):
    pass


def retry_info(seconds: float) -> bytes:
    whole = int(seconds)
    return RetryInfo(retry_delay=Duration(seconds=whole, nanos=int((seconds - whole) * 1e9))).SerializeToString()


class GrpcReceiver:
    def __init__(self, accept: Accept, host: str, port: int, max_message_bytes: int) -> None:
        self.accept = accept
        self.address = f"{host}:{port}"
        self.max_message_bytes = max_message_bytes
        self.server: grpc.aio.Server | None = None
        self.port = port

    async def start(self) -> None:
        server = grpc.aio.server(options=[("grpc.max_receive_message_length", self.max_message_bytes),
                                          ("grpc.so_reuseport", 0)])
        server.add_generic_rpc_handlers(tuple(
            grpc.method_handlers_generic_handler(service, {"Export": grpc.unary_unary_rpc_method_handler(
                self._handler(signal))})
            for signal, service in SERVICES.items()))
        try:
            self.port = server.add_insecure_port(self.address)
        except RuntimeError as exc:
            raise GrpcPortError(f"cannot listen for OTLP/gRPC on {self.address} ({exc}): the port is taken; set "
                                "TRACEHOUSE_GRPC_PORT to a free port, or 0 to turn gRPC off") from exc
        await server.start()
        self.server = server
        logger.info("OTLP/gRPC listening on %s", self.address)

    async def stop(self, grace_s: float = 5.0) -> None:
        if self.server is not None:
            await self.server.stop(grace_s)
            self.server = None

    def _handler(self, signal: str) -> Callable[[bytes, grpc.aio.ServicerContext], Awaitable[bytes]]:
        async def export(body: bytes, context: grpc.aio.ServicerContext) -> bytes:
            authorization = dict(context.invocation_metadata() or ()).get("authorization")
            try:
                _, rejected = await self.accept(authorization, body, signal)
            except AuthError as exc:
                await context.abort(AUTH_CODES.get(exc.status, grpc.StatusCode.PERMISSION_DENIED), exc.reason)
            except (DecodeError, TooManySpans) as exc:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
            except Overloaded as exc:
                context.set_trailing_metadata((("google.rpc.retryinfo-bin", retry_info(exc.retry_after_s)),))
                await context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))
            reasons = "; ".join(sorted({r.reason for r in rejected}))
            return export_response("protobuf", len(rejected), reasons, signal)[0]
        return export
