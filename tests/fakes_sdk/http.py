"""A tiny threaded HTTP/1.1 server for tests: ``handler(request) -> Reply``; replies may stream (chunked) or hang."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterable


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class Reply:
    status: int = 200
    body: bytes | str | dict | list | None = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"
    chunks: Iterable[bytes] | None = None  # streamed with chunked transfer encoding, flushed one by one
    chunk_delay_s: float = 0.0
    hang_s: float = 0.0  # wait this long (or until the server is released) before answering

    def payload(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()


@dataclass
class Answer:
    """What a fake model answers (both fakes): text and/or tool calls, usage, or an HTTP error."""

    text: str = "Hello there!"
    tool_calls: list[tuple[str, str, dict]] = field(default_factory=list)  # (id, name, arguments)
    finish_reason: str | None = None
    input_tokens: int = 12
    output_tokens: int = 7
    cached_tokens: int = 0  # OpenAI: inside prompt tokens; Anthropic: cache_read_input_tokens
    cache_write_tokens: int = 0  # Anthropic only
    reasoning_tokens: int = 0  # OpenAI only
    status: int = 200
    error_message: str = "slow down"
    chunk_delay_s: float = 0.0
    first_chunk_delay_s: float = 0.0
    response_model: str | None = None

    def pieces(self) -> list[str]:
        words = self.text.split(" ")
        return [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)] if self.text else []


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:  # clients hanging up mid-request: expected
        pass


class FakeServer:
    def __init__(self, handler: Callable[[Request], Reply]) -> None:
        self.handler = handler
        self.requests: list[Request] = []
        self.released = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = Request(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                owner.requests.append(request)
                reply = owner.handler(request)
                if reply.hang_s:
                    owner.released.wait(reply.hang_s)
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", reply.content_type)
                    for key, value in reply.headers.items():
                        self.send_header(key, value)
                    if reply.chunks is None:
                        payload = reply.payload()
                        self.send_header("Content-Length", str(len(payload)))
                        self.end_headers()
                        self.wfile.write(payload)
                    else:
                        self.send_header("Transfer-Encoding", "chunked")
                        self.end_headers()
                        for chunk in reply.chunks:
                            if reply.chunk_delay_s:
                                time.sleep(reply.chunk_delay_s)
                            self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                            self.wfile.flush()
                        self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeouts in tests)
                    self.close_connection = True

            do_POST = do_GET = _serve

        self._server = _QuietServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        name="fake-server", daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "FakeServer":
        self._thread.start()
        return self

    def close(self) -> None:
        self.released.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> "FakeServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.close()


def sse(data: Any, event: str | None = None) -> bytes:
    text = data if isinstance(data, str) else json.dumps(data)
    return (f"event: {event}\n" if event else "").encode() + f"data: {text}\n\n".encode()
