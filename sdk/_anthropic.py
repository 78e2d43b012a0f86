"""Anthropic messages: ``instrument_anthropic()``. ``anthropic`` is imported only when instrumenting.

Traced: ``messages.create`` (sync and async, streamed or not). Not traced: the ``messages.stream()`` helper,
which bypasses ``create`` (use ``create(stream=True)``, or wrap the helper in ``tracehouse.llm_call``).

Usage follows OTel: Anthropic's ``input_tokens`` excludes cache reads and writes, so the recorded input tokens
are ``input_tokens + cache_read_input_tokens + cache_creation_input_tokens``.
"""

from __future__ import annotations

import json
from typing import Any, Mapping

from . import _instrument
from ._genai import Usage, given, request_attributes, response_attributes
from ._messages import _part, plain

_NOT_PARAMS = frozenset({"messages", "model", "system", "tools", "extra_headers", "extra_query", "extra_body",
                         "timeout"})


def _get(obj: Any, key: str, default: Any = None) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(key, default)
    return getattr(obj, key, default)


def usage_of(usage: Any) -> Usage | None:
    if usage is None:
        return None
    cache_read = _get(usage, "cache_read_input_tokens")
    cache_write = _get(usage, "cache_creation_input_tokens")
    uncached = _get(usage, "input_tokens")
    total_input = None if uncached is None else uncached + (cache_read or 0) + (cache_write or 0)
    return Usage(input_tokens=total_input, output_tokens=_get(usage, "output_tokens"),
                 cache_read_tokens=cache_read, cache_write_tokens=cache_write)


class AnthropicAdapter:
    def __init__(self, stream_types: tuple[type, ...]) -> None:
        self.stream_types = stream_types

    def prepare(self, kwargs: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        return kwargs, False

    def request(self, resource: Any, kwargs: dict[str, Any], capture: bool) -> tuple[str, dict[str, Any]]:
        model = str(kwargs.get("model", ""))
        params = {k: v for k, v in kwargs.items() if k not in _NOT_PARAMS}
        extra_body = kwargs.get("extra_body")
        if isinstance(extra_body, Mapping):
            params.update({k: v for k, v in extra_body.items() if k not in params})
        system = kwargs.get("system")
        attrs = request_attributes(provider="anthropic", model=model, messages=kwargs.get("messages"),
                                   system=system if given(system) else None, tools=kwargs.get("tools"),
                                   params=params, capture=capture, server=_instrument.server_of(resource))
        return f"chat {model}", attrs

    def response(self, result: Any, capture: bool) -> dict[str, Any]:
        content = getattr(result, "content", None)
        if content is None:
            return {}  # e.g. a raw response (with_raw_response)
        reason = _get(result, "stop_reason")
        messages = None
        if capture:
            messages = [{"role": _get(result, "role") or "assistant", "parts": [_part(b) for b in content],
                         "finish_reason": reason or "stop"}]
        return response_attributes(
            otel_output=messages, finish_reasons=[reason] if reason else None, response_model=_get(result, "model"),
            response_id=_get(result, "id"), usage=usage_of(_get(result, "usage")), capture=capture)

    def accumulator(self) -> "EventAccumulator":
        return EventAccumulator()


class EventAccumulator:
    """Rebuilds the message from the raw stream events (message_start, content_block_*, message_delta)."""

    def __init__(self) -> None:
        self.id: str | None = None
        self.model: str | None = None
        self.role = "assistant"
        self.blocks: dict[int, dict[str, Any]] = {}
        self.stop_reason: str | None = None
        self.usage: dict[str, Any] = {}

    def _merge_usage(self, usage: Any) -> None:
        usage = plain(usage)
        if isinstance(usage, Mapping):
            self.usage.update({k: v for k, v in usage.items() if v is not None})

    def add(self, event: Any) -> bool:
        kind = _get(event, "type")
        if kind == "message_start":
            message = _get(event, "message")
            self.id = _get(message, "id")
            self.model = _get(message, "model")
            self.role = _get(message, "role") or self.role
            self._merge_usage(_get(message, "usage"))
        elif kind == "content_block_start":
            block = plain(_get(event, "content_block")) or {}
            self.blocks[_get(event, "index", 0)] = {**block, "_json": [], "_text": [], "_thinking": []}
        elif kind == "content_block_delta":
            block = self.blocks.setdefault(_get(event, "index", 0),
                                           {"type": "text", "_json": [], "_text": [], "_thinking": []})
            delta = _get(event, "delta")
            delta_type = _get(delta, "type")
            if delta_type == "text_delta":
                block["_text"].append(_get(delta, "text") or "")
                return True
            if delta_type == "input_json_delta":
                block["_json"].append(_get(delta, "partial_json") or "")
                return True
            if delta_type == "thinking_delta":
                block["_thinking"].append(_get(delta, "thinking") or "")
                return True
        elif kind == "message_delta":
            self.stop_reason = _get(_get(event, "delta"), "stop_reason") or self.stop_reason
            self._merge_usage(_get(event, "usage"))
        return False

    def hidden(self, event: Any) -> bool:
        return False

    def _block(self, state: dict[str, Any]) -> dict[str, Any]:
        block = {k: v for k, v in state.items() if not k.startswith("_")}
        if state["_text"]:
            block["text"] = block.get("text", "") + "".join(state["_text"])
        if state["_thinking"]:
            block["thinking"] = block.get("thinking", "") + "".join(state["_thinking"])
        if state["_json"]:
            raw = "".join(state["_json"])
            try:
                block["input"] = json.loads(raw)
            except ValueError:
                block["input"] = raw
        return _part(block)

    def attributes(self, capture: bool) -> dict[str, Any]:
        messages = None
        if capture:
            messages = [{"role": self.role, "parts": [self._block(self.blocks[i]) for i in sorted(self.blocks)],
                         "finish_reason": self.stop_reason or "stop"}]
        return response_attributes(
            otel_output=messages, finish_reasons=[self.stop_reason] if self.stop_reason else None,
            response_model=self.model, response_id=self.id, usage=usage_of(self.usage) if self.usage else None,
            capture=capture)


def _classes() -> tuple[type, type, tuple[type, ...]]:
    import anthropic
    from anthropic.resources.messages import AsyncMessages, Messages

    return Messages, AsyncMessages, (anthropic.Stream, anthropic.AsyncStream)


def instrument(client: Any = None) -> Any:
    sync_cls, async_cls, stream_types = _classes()
    adapter = AnthropicAdapter(stream_types)
    if client is None:
        _instrument.patch_class(sync_cls, adapter, is_async=False)
        _instrument.patch_class(async_cls, adapter, is_async=True)
    else:
        resource = client.messages
        _instrument.patch_instance(resource, adapter, is_async=isinstance(resource, async_cls))
    return client


def uninstrument(client: Any = None) -> None:
    sync_cls, async_cls, _ = _classes()
    if client is None:
        _instrument.unpatch_class(sync_cls)
        _instrument.unpatch_class(async_cls)
    else:
        _instrument.unpatch_instance(client.messages)
