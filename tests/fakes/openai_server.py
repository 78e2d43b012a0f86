"""A local fake of OpenAI's chat-completions wire protocol, for tests with the real ``openai`` client.

Speaks ``POST {base}/chat/completions`` (base ``http://127.0.0.1:PORT/v1``), non-streaming and SSE streaming
(``stream_options.include_usage`` puts usage in a final chunk with no choices, as OpenAI does). Answers are
deterministic: a request that offers ``tools`` and has no tool result yet gets a tool call back; otherwise the
reply is ``"Echo: <last user text>"``. Usage is the fixed ``USAGE`` below so tests can compute expected costs.
Runs in a daemon thread on a free loopback port; every request body is kept in ``requests`` for assertions.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PROMPT_TOKENS = 1200
CACHED_TOKENS = 1000
COMPLETION_TOKENS = 80
REASONING_TOKENS = 16
USAGE = {
    "prompt_tokens": PROMPT_TOKENS,
    "completion_tokens": COMPLETION_TOKENS,
    "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
    "prompt_tokens_details": {"cached_tokens": CACHED_TOKENS, "audio_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": REASONING_TOKENS, "audio_tokens": 0},
}
RESPONSE_ID = "chatcmpl-fake-0001"
CREATED = 1_760_000_000
TOOL_CALL_ID = "call_fake_1"


def response_model(requested: str) -> str:
    """OpenAI answers with a dated snapshot name; mimic it so request and response model differ."""
    return f"{requested}-2024-07-18" if requested == "gpt-4o-mini" else requested


def _last_user_text(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):
                return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
            return str(content or "")
    return ""


def plan_reply(request: dict[str, Any]) -> dict[str, Any]:
    """The assistant message and finish reason for a request (pure)."""
    messages = request.get("messages") or []
    tools = request.get("tools") or []
    if tools and not any(m.get("role") == "tool" for m in messages):
        name = tools[0]["function"]["name"]
        arguments = json.dumps({"order_id": "123"})
        return {"message": {"role": "assistant", "content": None, "tool_calls": [
            {"id": TOOL_CALL_ID, "type": "function", "function": {"name": name, "arguments": arguments}}]},
            "finish_reason": "tool_calls"}
    return {"message": {"role": "assistant", "content": f"Echo: {_last_user_text(messages)}"},
            "finish_reason": "stop"}


def completion_body(request: dict[str, Any]) -> dict[str, Any]:
    reply = plan_reply(request)
    return {
        "id": RESPONSE_ID, "object": "chat.completion", "created": CREATED,
        "model": response_model(request.get("model", "")), "system_fingerprint": "fp_fake",
        "choices": [{"index": 0, "message": {**reply["message"], "refusal": None}, "logprobs": None,
                     "finish_reason": reply["finish_reason"]}],
        "usage": USAGE, "service_tier": "default",
    }


def stream_chunks(request: dict[str, Any]) -> list[dict[str, Any]]:
    """The SSE chunks OpenAI would send: role, content or tool-call deltas, finish, then usage."""
    reply = plan_reply(request)
    base = {"id": RESPONSE_ID, "object": "chat.completion.chunk", "created": CREATED,
            "model": response_model(request.get("model", "")), "system_fingerprint": "fp_fake"}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {**base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}

    chunks = [chunk({"role": "assistant", "content": ""})]
    message = reply["message"]
    if message.get("tool_calls"):
        call = message["tool_calls"][0]
        arguments = call["function"]["arguments"]
        chunks.append(chunk({"tool_calls": [{"index": 0, "id": call["id"], "type": "function",
                                             "function": {"name": call["function"]["name"], "arguments": ""}}]}))
        for piece in (arguments[: len(arguments) // 2], arguments[len(arguments) // 2:]):
            chunks.append(chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}))
    else:
        text = message["content"]
        for i in range(0, len(text), 5):
            chunks.append(chunk({"content": text[i:i + 5]}))
    chunks.append(chunk({}, reply["finish_reason"]))
    if (request.get("stream_options") or {}).get("include_usage"):
        chunks.append({**base, "choices": [], "usage": USAGE})
    return chunks


class _Handler(BaseHTTPRequestHandler):
    server: "FakeOpenAI"  # type: ignore[assignment]

    def log_message(self, *args: Any) -> None:  # keep test output quiet
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        request = json.loads(self.rfile.read(length) or b"{}")
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._json(404, {"error": {"message": f"no route {self.path}", "type": "invalid_request_error"}})
            return
        self.server.requests.append(request)
        if request.get("stream"):
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.end_headers()
            for c in stream_chunks(request):
                self.wfile.write(f"data: {json.dumps(c)}\n\n".encode())
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()
            self.close_connection = True
            return
        self._json(200, completion_body(request))

    def _json(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class FakeOpenAI(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[dict[str, Any]] = []
        self._thread = threading.Thread(target=self.serve_forever, name="fake-openai", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def __enter__(self) -> "FakeOpenAI":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.shutdown()
        self.server_close()
