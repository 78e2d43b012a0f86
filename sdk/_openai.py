"""OpenAI chat completions: ``instrument_openai()``. ``openai`` is imported only when instrumenting.

Traced: ``chat.completions.create`` (sync and async, streamed or not; ``with_raw_response`` calls get a span
without the response details). Not traced: the ``parse``/``stream`` helpers, which bypass ``create``.

Streams: OpenAI reports usage in streams only when asked (``stream_options={"include_usage": true}``). When the
caller did not set ``stream_options`` we ask for it and hide the extra usage-only chunk (it has no choices), so
the caller sees exactly the stream it asked for; pass ``include_usage=False`` for servers that reject the option.
"""

from __future__ import annotations

from typing import Any, Mapping

from . import _instrument
from ._genai import Usage, given, request_attributes, response_attributes
from ._messages import plain, tool_call_part, to_otel_message

_NOT_PARAMS = frozenset({"messages", "model", "tools", "functions", "stream_options", "extra_headers", "extra_query",
                         "extra_body", "timeout"})


def _get(obj: Any, key: str, default: Any = None) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(key, default)
    return getattr(obj, key, default)


def usage_of(usage: Any) -> Usage | None:
    """OpenAI usage -> OTel usage: prompt tokens already include cached ones, completion tokens reasoning."""
    if usage is None:
        return None
    prompt_details = _get(usage, "prompt_tokens_details")
    completion_details = _get(usage, "completion_tokens_details")
    return Usage(
        input_tokens=_get(usage, "prompt_tokens"),
        output_tokens=_get(usage, "completion_tokens"),
        cache_read_tokens=_get(prompt_details, "cached_tokens") if prompt_details is not None else None,
        reasoning_tokens=_get(completion_details, "reasoning_tokens") if completion_details is not None else None,
    )


class OpenAIAdapter:
    def __init__(self, stream_types: tuple[type, ...], include_usage: bool) -> None:
        self.stream_types = stream_types
        self.include_usage = include_usage

    def prepare(self, kwargs: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        if self.include_usage and kwargs.get("stream") is True and not given(kwargs.get("stream_options")):
            return {**kwargs, "stream_options": {"include_usage": True}}, True
        return kwargs, False

    def request(self, resource: Any, kwargs: dict[str, Any], capture: bool) -> tuple[str, dict[str, Any]]:
        model = str(kwargs.get("model", ""))
        params = {k: v for k, v in kwargs.items() if k not in _NOT_PARAMS}
        extra_body = kwargs.get("extra_body")
        if isinstance(extra_body, Mapping):  # e.g. vLLM's top_k: part of the request, needed for replay
            params.update({k: v for k, v in extra_body.items() if k not in params})
        tools = kwargs.get("tools")
        if not given(tools) and given(kwargs.get("functions")):  # the legacy form
            tools = [{"type": "function", "function": f} for f in kwargs["functions"]]
        client = getattr(resource, "_client", None)
        provider = "azure.ai.openai" if type(client).__name__.startswith("Azure") else "openai"
        attrs = request_attributes(provider=provider, model=model, messages=kwargs.get("messages"), tools=tools,
                                   params=params, capture=capture, server=_instrument.server_of(resource))
        return f"chat {model}", attrs

    def response(self, result: Any, capture: bool) -> dict[str, Any]:
        choices = getattr(result, "choices", None)
        if choices is None:
            return {}  # e.g. a raw response (with_raw_response): the body is the caller's to read
        messages, reasons = [], []
        for choice in choices:
            reason = _get(choice, "finish_reason")
            reasons.append(reason)
            if capture:
                messages.append(to_otel_message(plain(_get(choice, "message")) or {"role": "assistant"},
                                                reason or "stop"))
        return response_attributes(
            otel_output=messages if capture else None, finish_reasons=reasons, response_model=_get(result, "model"),
            response_id=_get(result, "id"), usage=usage_of(_get(result, "usage")), capture=capture)

    def accumulator(self) -> "ChunkAccumulator":
        return ChunkAccumulator()


class _Choice:
    __slots__ = ("text", "refusal", "tools", "finish_reason", "role")

    def __init__(self) -> None:
        self.text: list[str] = []
        self.refusal: list[str] = []
        self.tools: dict[int, dict[str, Any]] = {}
        self.finish_reason: str | None = None
        self.role = "assistant"


class ChunkAccumulator:
    """Rebuilds the answer from ``chat.completion.chunk`` items."""

    def __init__(self) -> None:
        self.choices: dict[int, _Choice] = {}
        self.model: str | None = None
        self.id: str | None = None
        self.usage: Any = None

    def add(self, chunk: Any) -> bool:
        self.id = self.id or _get(chunk, "id")
        self.model = _get(chunk, "model") or self.model
        usage = _get(chunk, "usage")
        if usage is not None:
            self.usage = usage
        carried = False
        for choice in _get(chunk, "choices") or ():
            state = self.choices.setdefault(_get(choice, "index", 0) or 0, _Choice())
            delta = _get(choice, "delta")
            if delta is not None:
                if _get(delta, "role"):
                    state.role = _get(delta, "role")
                if _get(delta, "content"):
                    state.text.append(_get(delta, "content"))
                    carried = True
                if _get(delta, "refusal"):
                    state.refusal.append(_get(delta, "refusal"))
                    carried = True
                for call in _get(delta, "tool_calls") or ():
                    tool = state.tools.setdefault(_get(call, "index", 0) or 0, {"id": None, "name": None, "args": []})
                    tool["id"] = tool["id"] or _get(call, "id")
                    fn = _get(call, "function")
                    if fn is not None:
                        tool["name"] = tool["name"] or _get(fn, "name")
                        if _get(fn, "arguments"):
                            tool["args"].append(_get(fn, "arguments"))
                    carried = True
            if _get(choice, "finish_reason"):
                state.finish_reason = _get(choice, "finish_reason")
        return carried

    def hidden(self, chunk: Any) -> bool:
        return not _get(chunk, "choices") and _get(chunk, "usage") is not None

    def attributes(self, capture: bool) -> dict[str, Any]:
        messages, reasons = [], []
        for index in sorted(self.choices):
            state = self.choices[index]
            reasons.append(state.finish_reason)
            if capture:
                parts: list[dict[str, Any]] = []
                if state.text:
                    parts.append({"type": "text", "content": "".join(state.text)})
                if state.refusal:
                    parts.append({"type": "refusal", "content": "".join(state.refusal)})
                for i in sorted(state.tools):
                    tool = state.tools[i]
                    parts.append(tool_call_part({"id": tool["id"], "function": {
                        "name": tool["name"], "arguments": "".join(tool["args"])}}))
                messages.append({"role": state.role, "parts": parts, "finish_reason": state.finish_reason or "stop"})
        return response_attributes(
            otel_output=messages if capture else None, finish_reasons=reasons, response_model=self.model,
            response_id=self.id, usage=usage_of(self.usage), capture=capture)


def _classes() -> tuple[type, type, tuple[type, ...]]:
    import openai
    from openai.resources.chat.completions import AsyncCompletions, Completions

    return Completions, AsyncCompletions, (openai.Stream, openai.AsyncStream)


def instrument(client: Any = None, *, include_usage: bool = True) -> Any:
    sync_cls, async_cls, stream_types = _classes()
    adapter = OpenAIAdapter(stream_types, include_usage)
    if client is None:
        _instrument.patch_class(sync_cls, adapter, is_async=False)
        _instrument.patch_class(async_cls, adapter, is_async=True)
    else:
        resource = client.chat.completions
        _instrument.patch_instance(resource, adapter, is_async=isinstance(resource, async_cls))
    return client


def uninstrument(client: Any = None) -> None:
    sync_cls, async_cls, _ = _classes()
    if client is None:
        _instrument.unpatch_class(sync_cls)
        _instrument.unpatch_class(async_cls)
    else:
        _instrument.unpatch_instance(client.chat.completions)
