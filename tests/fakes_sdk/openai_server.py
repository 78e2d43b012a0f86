"""A fake OpenAI chat completions endpoint (``POST /v1/chat/completions``): JSON, or SSE ``data:`` chunks with
the final usage chunk only when the request asked for it (``stream_options.include_usage``), then ``[DONE]``."""

from __future__ import annotations

import time
from typing import Any, Iterator

from .http import Answer, FakeServer, Reply, Request, sse

CREATED = 1_760_000_000


class FakeOpenAI(FakeServer):
    def __init__(self) -> None:
        self.answer = Answer()
        super().__init__(self._handle)

    @property
    def base_url_v1(self) -> str:
        return self.base_url + "/v1"

    def _handle(self, request: Request) -> Reply:
        if request.path != "/v1/chat/completions":
            return Reply(404, {"error": {"message": "not found", "type": "invalid_request_error"}})
        answer = self.answer
        if answer.status != 200:
            return Reply(answer.status, {"error": {"message": answer.error_message, "type": "rate_limit_error",
                                                   "code": None}}, headers={"x-request-id": "req_1"})
        body = request.json()
        model = answer.response_model or body["model"] + "-2025-01-01"
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return Reply(200, content_type="text/event-stream", chunks=self._chunks(answer, model, include_usage),
                         chunk_delay_s=answer.chunk_delay_s)
        return Reply(200, completion(answer, model))

    def _chunks(self, answer: Answer, model: str, include_usage: bool) -> Iterator[bytes]:
        base = {"id": "chatcmpl-fake1", "object": "chat.completion.chunk", "created": CREATED, "model": model,
                "system_fingerprint": "fp_1"}
        extra = {"usage": None} if include_usage else {}

        def chunk(delta: dict, finish: str | None = None) -> bytes:
            return sse({**base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
                        **extra})

        if answer.first_chunk_delay_s:
            time.sleep(answer.first_chunk_delay_s)
        yield chunk({"role": "assistant", "content": "", "refusal": None})
        for piece in answer.pieces():
            yield chunk({"content": piece})
        for index, (call_id, name, arguments) in enumerate(answer.tool_calls):
            text = _json(arguments)
            half = len(text) // 2
            yield chunk({"tool_calls": [{"index": index, "id": call_id, "type": "function",
                                         "function": {"name": name, "arguments": ""}}]})
            yield chunk({"tool_calls": [{"index": index, "function": {"arguments": text[:half]}}]})
            yield chunk({"tool_calls": [{"index": index, "function": {"arguments": text[half:]}}]})
        yield chunk({}, finish_reason(answer))
        if include_usage:
            yield sse({**base, "choices": [], "usage": usage(answer)})
        yield sse("[DONE]")


def _json(value: Any) -> str:
    import json

    return json.dumps(value)


def finish_reason(answer: Answer) -> str:
    return answer.finish_reason or ("tool_calls" if answer.tool_calls else "stop")


def usage(answer: Answer) -> dict[str, Any]:
    return {"prompt_tokens": answer.input_tokens, "completion_tokens": answer.output_tokens,
            "total_tokens": answer.input_tokens + answer.output_tokens,
            "prompt_tokens_details": {"cached_tokens": answer.cached_tokens, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": answer.reasoning_tokens, "audio_tokens": 0,
                                          "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}}


def completion(answer: Answer, model: str) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": answer.text or None, "refusal": None}
    if answer.tool_calls:
        message["tool_calls"] = [{"id": i, "type": "function", "function": {"name": n, "arguments": _json(a)}}
                                 for i, n, a in answer.tool_calls]
    return {"id": "chatcmpl-fake1", "object": "chat.completion", "created": CREATED, "model": model,
            "system_fingerprint": "fp_1",
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason(answer)}],
            "usage": usage(answer)}
