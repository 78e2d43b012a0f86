"""Build the OTel GenAI attributes of one model call: request side and response side. Pure functions.

Shared by ``llm_call`` (recording by hand) and the client instrumentations, so a call looks the same however it
was recorded. Everything needed to replay the call is kept: messages, system instructions, tool definitions and
every request parameter (``gen_ai.request.<name>``; OTel's names where OTel has one: ``n`` ->
``choice.count``, ``stop`` -> ``stop_sequences``). Content is left out when ``capture`` is False.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Iterable, NamedTuple, Sequence

from . import _attributes as A
from ._messages import attribute_value, system_parts, to_json, to_otel_messages, to_otel_tools

_PARAM_NAMES = {"stop": "stop_sequences", "n": "choice.count"}
_SENTINELS = frozenset({"NotGiven", "Omit", "NotGivenOr", "_Omit"})


_PLAIN = frozenset({str, int, float, bool, list, dict, tuple})


def given(value: Any) -> bool:
    """False for None and for the provider SDKs' "not given" sentinels (``openai.NOT_GIVEN``, ``omit``)."""
    return value is not None and (type(value) in _PLAIN or type(value).__name__ not in _SENTINELS)


class Usage(NamedTuple):
    """Token counts in OTel's convention: cache tokens inside ``input_tokens``, reasoning inside ``output_tokens``.
    (A NamedTuple: built on every recorded call, it must be cheap.)"""

    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None


_USAGE_KEYS = (A.INPUT_TOKENS, A.OUTPUT_TOKENS, A.CACHE_READ_TOKENS, A.CACHE_WRITE_TOKENS, A.REASONING_TOKENS)


def param_attributes(params: Mapping[str, Any] | None) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    for key, value in (params or {}).items():
        if not given(value):
            continue
        if key in ("stop", "stop_sequences") and isinstance(value, str):
            value = [value]
        attrs[A.REQUEST_PARAM_PREFIX + _PARAM_NAMES.get(key, key)] = attribute_value(value)
    return attrs


def request_attributes(
    *,
    provider: str,
    model: str,
    operation: str = "chat",
    messages: Any = None,
    system: Any = None,
    tools: Any = None,
    params: Mapping[str, Any] | None = None,
    prompt_name: str | None = None,
    prompt_version: str | int | None = None,
    capture: bool = True,
    server: tuple[str | None, int | None] | None = None,
) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        A.SPAN_KIND: "embedding" if operation == "embeddings" else "llm",
        A.OPERATION: operation,
        A.PROVIDER: provider,
        A.REQUEST_MODEL: model,
    }
    if params:
        attrs.update(param_attributes(params))
    if prompt_name:
        attrs[A.PROMPT_NAME] = prompt_name
    if prompt_version is not None:
        attrs[A.PROMPT_VERSION] = str(prompt_version)
    if server is not None:
        host, port = server
        if host:
            attrs[A.SERVER_ADDRESS] = host
        if port:
            attrs[A.SERVER_PORT] = port
    if capture:
        if given(messages):
            attrs[A.INPUT_MESSAGES] = to_json(to_otel_messages(messages))
        if given(system) and system:
            attrs[A.SYSTEM_INSTRUCTIONS] = to_json(system_parts(system))
        if given(tools) and tools:
            attrs[A.TOOL_DEFINITIONS] = to_json(to_otel_tools(tools))
    return attrs


def output_messages(output: Any, finish_reasons: Sequence[str] | None) -> list[dict[str, Any]]:
    """The answer as OTel output messages, one per choice, each with its finish reason."""
    reasons = list(finish_reasons or ())
    if isinstance(output, (list, tuple)) and len(reasons) > 1 and len(reasons) == len(output):
        return [to_otel_messages(m, r or "stop")[0] for m, r in zip(output, reasons)]
    messages = to_otel_messages(output, reasons[0] if reasons else "stop")
    for message in messages:
        if message.get("role") == "user" and "finish_reason" in message:
            message["role"] = "assistant"
    return messages


def response_attributes(
    *,
    output: Any = None,
    otel_output: list[dict[str, Any]] | None = None,
    finish_reasons: Iterable[str] | None = None,
    response_model: str | None = None,
    response_id: str | None = None,
    usage: Usage | None = None,
    time_to_first_token_s: float | None = None,
    capture: bool = True,
) -> dict[str, Any]:
    """``output`` in any accepted message shape, or ``otel_output`` already in the OTel shape."""
    attrs: dict[str, Any] = {}
    reasons = [str(r) for r in finish_reasons or () if r is not None]
    if capture:
        if otel_output is not None:
            attrs[A.OUTPUT_MESSAGES] = to_json(otel_output)
        elif output is not None:
            attrs[A.OUTPUT_MESSAGES] = to_json(output_messages(output, reasons))
    if reasons:
        attrs[A.FINISH_REASONS] = reasons
    if response_model:
        attrs[A.RESPONSE_MODEL] = response_model
    if response_id:
        attrs[A.RESPONSE_ID] = response_id
    if usage is not None:
        for key, value in zip(_USAGE_KEYS, usage):
            if value is not None:
                attrs[key] = int(value)
    if time_to_first_token_s is not None:
        attrs[A.TIME_TO_FIRST_CHUNK] = float(time_to_first_token_s)
    return attrs
