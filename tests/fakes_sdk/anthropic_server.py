"""A fake Anthropic messages endpoint (``POST /v1/messages``): a JSON message, or the SSE event stream
(message_start, content_block_start/delta/stop, ping, message_delta with usage, message_stop)."""

from __future__ import annotations

import json
import time
from typing import Any, Iterator

from .http import Answer, FakeServer, Reply, Request, sse


class FakeAnthropic(FakeServer):
    def __init__(self) -> None:
        self.answer = Answer()
        super().__init__(self._handle)

    def _handle(self, request: Request) -> Reply:
        if request.path != "/v1/messages":
            return Reply(404, {"type": "error", "error": {"type": "not_found_error", "message": "not found"}})
        answer = self.answer
        if answer.status != 200:
            kind = "rate_limit_error" if answer.status == 429 else "api_error"
            return Reply(answer.status, {"type": "error", "error": {"type": kind, "message": answer.error_message}},
                         headers={"request-id": "req_1"})
        body = request.json()
        model = answer.response_model or body["model"]
        if body.get("stream"):
            return Reply(200, content_type="text/event-stream", chunks=self._events(answer, model),
                         chunk_delay_s=answer.chunk_delay_s)
        return Reply(200, message(answer, model))

    def _events(self, answer: Answer, model: str) -> Iterator[bytes]:
        if answer.first_chunk_delay_s:
            time.sleep(answer.first_chunk_delay_s)
        start = {**message(answer, model), "content": [], "stop_reason": None}
        start["usage"] = {**start["usage"], "output_tokens": 1}
        yield sse({"type": "message_start", "message": start}, "message_start")
        index = 0
        if answer.text:
            yield sse({"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}},
                      "content_block_start")
            yield sse({"type": "ping"}, "ping")
            for piece in answer.pieces():
                yield sse({"type": "content_block_delta", "index": index,
                           "delta": {"type": "text_delta", "text": piece}}, "content_block_delta")
            yield sse({"type": "content_block_stop", "index": index}, "content_block_stop")
            index += 1
        for call_id, name, arguments in answer.tool_calls:
            yield sse({"type": "content_block_start", "index": index,
                       "content_block": {"type": "tool_use", "id": call_id, "name": name, "input": {}}},
                      "content_block_start")
            text = json.dumps(arguments)
            for part in (text[: len(text) // 2], text[len(text) // 2:]):
                yield sse({"type": "content_block_delta", "index": index,
                           "delta": {"type": "input_json_delta", "partial_json": part}}, "content_block_delta")
            yield sse({"type": "content_block_stop", "index": index}, "content_block_stop")
            index += 1
        yield sse({"type": "message_delta", "delta": {"stop_reason": stop_reason(answer), "stop_sequence": None},
                   "usage": {"output_tokens": answer.output_tokens}}, "message_delta")
        yield sse({"type": "message_stop"}, "message_stop")


def stop_reason(answer: Answer) -> str:
    return answer.finish_reason or ("tool_use" if answer.tool_calls else "end_turn")


def message(answer: Answer, model: str) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if answer.text:
        content.append({"type": "text", "text": answer.text})
    content.extend({"type": "tool_use", "id": i, "name": n, "input": a} for i, n, a in answer.tool_calls)
    return {"id": "msg_fake1", "type": "message", "role": "assistant", "model": model, "content": content,
            "stop_reason": stop_reason(answer), "stop_sequence": None,
            "usage": {"input_tokens": answer.input_tokens, "output_tokens": answer.output_tokens,
                      "cache_read_input_tokens": answer.cached_tokens,
                      "cache_creation_input_tokens": answer.cache_write_tokens}}
