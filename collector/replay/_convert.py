"""Canonical request/response <-> the OpenAI chat completions and Anthropic messages wire shapes (pure).

Canonical messages are OTel GenAI's ``{role, parts: [...], finish_reason?}`` (``tracehouse.collector.conventions``);
canonical parameters use the names the SDK records (``gen_ai.request.<name>``: ``stop_sequences``,
``choice.count``, ``max_tokens``, ``seed``, ...); canonical tool definitions are OTel's flat
``{type, name, description?, parameters?}``.

Parameters: each API gets the parameters it understands, renamed (``stop_sequences`` -> OpenAI ``stop``,
``choice.count`` -> ``n``, ``max_completion_tokens`` -> Anthropic ``max_tokens``, ``tool_choice`` both ways).
Parameters the target API does not name are forwarded in the body only when ``forward_unknown`` (the call is
replayed on the family it was recorded on: vLLM's ``top_k`` came from ``extra_body`` and goes back there);
otherwise they are dropped and listed, never silently.
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Mapping, Sequence

from ..conventions import finish_reason as otel_finish_reason
from ..conventions import json_value

Message = dict[str, Any]
Part = dict[str, Any]

# Never request parameters: how the call is transported, or recorded elsewhere in the request.
NOT_PARAMS = frozenset({"stream", "stream_options", "model", "messages", "system", "tools", "functions", "timeout",
                        "extra_headers", "extra_query", "extra_body"})
RENAMES = {"stop": "stop_sequences", "n": "choice.count", "max_output_tokens": "max_tokens"}
# Parameters the Anthropic messages API accepts in its body (beyond model, messages, system, tools, stream).
ANTHROPIC_PARAMS = frozenset({"max_tokens", "temperature", "top_p", "top_k", "stop_sequences", "metadata",
                              "tool_choice", "thinking", "service_tier", "output_config", "container",
                              "inference_geo", "speed", "cache_control"})
ANTHROPIC_DEFAULT_MAX_TOKENS = 4096  # Anthropic requires max_tokens; used only when the span recorded none
_OTEL_PART_TYPES = frozenset({"text", "tool_call", "tool_call_response", "blob", "uri", "file", "reasoning",
                              "refusal", "server_tool_call", "server_tool_call_response"})


# -- parameters and tools ---------------------------------------------------------------------------------------
def canonical_params(params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Recorded or edited parameters -> canonical names and values (JSON strings of objects decoded; ``None``
    values, transport options and ``tools`` removed: tools travel separately)."""
    out: dict[str, Any] = {}
    for key, value in (params or {}).items():
        key = RENAMES.get(str(key), str(key))
        if key in NOT_PARAMS or value is None:
            continue
        value = json_value(value)
        if key == "stop_sequences" and isinstance(value, str):
            value = [value]
        out[key] = value
    return out


def canonical_tools(tools: Any) -> list[dict[str, Any]]:
    """Tool definitions in any recorded shape (OTel flat, OpenAI ``{function: {...}}``, Anthropic
    ``input_schema``, a JSON string of any of those) -> OTel's flat shape."""
    tools = json_value(tools)
    if isinstance(tools, Mapping):
        tools = [tools]
    out: list[dict[str, Any]] = []
    for tool in tools if isinstance(tools, (list, tuple)) else ():
        tool = json_value(tool)
        if not isinstance(tool, Mapping):
            continue
        if isinstance(tool.get("function"), Mapping):
            item = {"type": tool.get("type") or "function", **tool["function"]}
        elif "input_schema" in tool:
            kind = tool.get("type")
            item = {"type": "function" if kind in (None, "custom") else kind,
                    **{k: v for k, v in tool.items() if k not in ("input_schema", "type")},
                    "parameters": tool["input_schema"]}
        else:
            item = dict(tool)
            item.setdefault("type", "function")
        out.append(item)
    return out


def _is_function(tool: Mapping[str, Any]) -> bool:
    return tool.get("type") in (None, "function", "custom") and bool(tool.get("name"))


def openai_tools(tools: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for tool in tools:
        if _is_function(tool):
            fn = {k: v for k, v in tool.items() if k not in ("type", "cache_control")}
            out.append({"type": "function", "function": fn})
        else:
            out.append(dict(tool))  # a provider-native tool (web search...), as recorded
    return out


def anthropic_tools(tools: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for tool in tools:
        if _is_function(tool):
            item = {k: v for k, v in tool.items() if k not in ("type", "parameters", "strict")}
            item["input_schema"] = tool.get("parameters") or {"type": "object", "properties": {}}
            out.append(item)
        else:
            out.append(dict(tool))
    return out


def openai_tool_choice(choice: Any) -> Any:
    """Anthropic's ``{"type": "auto"|"any"|"none"|"tool"}`` -> OpenAI's; OpenAI's own values unchanged."""
    if isinstance(choice, Mapping) and choice.get("type") in ("auto", "any", "none", "tool"):
        kind = choice["type"]
        if kind == "tool":
            return {"type": "function", "function": {"name": choice.get("name")}}
        return {"auto": "auto", "any": "required", "none": "none"}[kind]
    return choice


def anthropic_tool_choice(choice: Any) -> Any:
    """OpenAI's ``"auto"|"required"|"none"|{"type": "function", ...}`` -> Anthropic's; Anthropic's unchanged."""
    if isinstance(choice, str):
        return {"type": {"required": "any", "any": "any", "none": "none"}.get(choice, "auto")}
    if isinstance(choice, Mapping) and isinstance(choice.get("function"), Mapping):
        return {"type": "tool", "name": choice["function"].get("name")}
    return choice


# Parameters that mean the same thing on both APIs: the only ones kept when a call moves between families.
PORTABLE = frozenset({"temperature", "top_p", "max_tokens", "max_completion_tokens", "stop_sequences",
                      "tool_choice", "seed", "frequency_penalty", "presence_penalty", "choice.count",
                      "response_format", "logit_bias", "logprobs", "top_logprobs", "parallel_tool_calls",
                      "reasoning_effort"})


def openai_body(params: Mapping[str, Any], known: frozenset[str], forward_unknown: bool,
                ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], list[str]]:
    """(keyword arguments the client names, ``extra_body``, what was sent in canonical names, dropped names).
    ``known``: the parameter names of the client's ``create``."""
    kwargs: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    sent: dict[str, Any] = {}
    dropped: list[str] = []
    for key, value in params.items():
        wire = {"stop_sequences": "stop", "choice.count": "n"}.get(key, key)
        if key == "tool_choice":
            value = openai_tool_choice(value)
        if not forward_unknown and key not in PORTABLE:
            dropped.append(key)
            continue
        if wire in known:
            kwargs[wire] = value
        elif forward_unknown:
            extra[wire] = value
        else:
            dropped.append(key)
            continue
        sent[key] = value
    return kwargs, extra, sent, dropped


def anthropic_body(params: Mapping[str, Any], known: frozenset[str], forward_unknown: bool,
                   ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], list[str]]:
    """Like ``openai_body``; ``max_tokens`` is always sent (the API requires it): the recorded ``max_tokens`` or
    ``max_completion_tokens``, else ``ANTHROPIC_DEFAULT_MAX_TOKENS``. Parameters outside Anthropic's API
    (``seed``, penalties...) are dropped unless the call was recorded on Anthropic."""
    kwargs: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    sent: dict[str, Any] = {}
    dropped: list[str] = []
    max_tokens = params.get("max_tokens", params.get("max_completion_tokens"))
    for key, value in params.items():
        if key in ("max_tokens", "max_completion_tokens"):
            continue
        if key == "tool_choice":
            value = anthropic_tool_choice(value)
        if not forward_unknown and (key not in PORTABLE or key not in ANTHROPIC_PARAMS):
            dropped.append(key)
            continue
        (kwargs if key in known else extra)[key] = value
        sent[key] = value
    kwargs["max_tokens"] = int(max_tokens) if max_tokens is not None else ANTHROPIC_DEFAULT_MAX_TOKENS
    sent["max_tokens"] = kwargs["max_tokens"]
    return kwargs, extra, sent, dropped


# -- messages: canonical -> wire --------------------------------------------------------------------------------
def _text_of(parts: Iterable[Part]) -> str:
    return "".join(str(p.get("content") or "") for p in parts if p.get("type") == "text")


def _dumps(value: Any, compact: bool = False) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":") if compact else None)


def with_tool_ids(messages: Sequence[Message]) -> list[Message]:
    """Messages whose tool calls and results all carry ids (both APIs require them; OTel makes them optional):
    a missing call id gets ``call_<n>``, a missing result id the oldest unanswered call's id."""
    pending: list[str] = []
    counter = 0
    out = []
    for message in messages:
        parts = []
        for part in message.get("parts") or ():
            if not isinstance(part, Mapping):
                parts.append({"type": "text", "content": str(part)})
                continue
            kind = part.get("type")
            if kind == "tool_call":
                call_id = part.get("id")
                if not call_id:
                    counter += 1
                    call_id = f"call_{counter}"
                    part = {**part, "id": call_id}
                pending.append(str(call_id))
            elif kind == "tool_call_response":
                call_id = part.get("id")
                if call_id:
                    if call_id in pending:
                        pending.remove(call_id)
                else:
                    if pending:
                        call_id = pending.pop(0)
                    else:
                        counter += 1
                        call_id = f"call_{counter}"
                    part = {**part, "id": call_id}
            parts.append(dict(part))
        out.append({**message, "parts": parts})
    return out


def _openai_content_part(part: Part) -> dict[str, Any] | None:
    kind = part.get("type")
    if kind == "text":
        return {"type": "text", "text": str(part.get("content") or "")}
    if kind == "blob" and part.get("modality") == "image":
        return {"type": "image_url", "image_url": {
            "url": f"data:{part.get('mime_type') or 'image/png'};base64,{part.get('content', '')}"}}
    if kind == "uri" and part.get("modality") == "image":
        return {"type": "image_url", "image_url": {"url": part.get("uri", "")}}
    if kind == "blob" and part.get("modality") == "audio":
        fmt = str(part.get("mime_type") or "audio/wav").rpartition("/")[2]
        return {"type": "input_audio", "input_audio": {"data": part.get("content", ""), "format": fmt}}
    if kind == "file" and part.get("file_id"):
        return {"type": "file", "file": {"file_id": part["file_id"]}}
    if kind in _OTEL_PART_TYPES:
        return None  # reasoning, refusals, tool parts: handled by the caller or not part of a request
    return dict(part)  # a provider-native part kept as recorded


def _openai_content(parts: Sequence[Part]) -> Any:
    items = [c for c in (_openai_content_part(p) for p in parts) if c is not None]
    if not items:
        return ""
    if len(items) == 1 and items[0].get("type") == "text":
        return items[0]["text"]
    return items


def openai_messages(messages: Sequence[Message]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for message in with_tool_ids(messages):
        role = str(message.get("role") or "user")
        parts = list(message.get("parts") or ())
        responses = [p for p in parts if p.get("type") == "tool_call_response"]
        for r in responses:  # tool results: OpenAI wants one "tool" message per result
            out.append({"role": "tool", "tool_call_id": r["id"], "content": _dumps(r.get("response"))})
        rest = [p for p in parts if p.get("type") != "tool_call_response"]
        if role == "tool" or (responses and not rest):
            continue
        item: dict[str, Any] = {"role": role}
        if role == "assistant":
            calls = [p for p in rest if p.get("type") == "tool_call"]
            content = [p for p in rest if p.get("type") != "tool_call"]
            text = _openai_content(content)
            item["content"] = text if (text or not calls) else None
            if calls:
                item["tool_calls"] = [{"id": c["id"], "type": "function", "function": {
                    "name": c.get("name"), "arguments": _dumps(c.get("arguments", {}), compact=True)}}
                                      for c in calls]
        elif role in ("system", "developer"):
            item["content"] = _text_of(rest)
        else:
            item["content"] = _openai_content(rest)
        if message.get("name"):
            item["name"] = message["name"]
        out.append(item)
    return out


def _anthropic_block(part: Part) -> dict[str, Any] | None:
    kind = part.get("type")
    if kind == "text":
        return {"type": "text", "text": str(part.get("content") or "")}
    if kind == "tool_call":
        arguments = json_value(part.get("arguments"))
        return {"type": "tool_use", "id": part["id"], "name": part.get("name"),
                "input": arguments if isinstance(arguments, Mapping) else {}}
    if kind == "tool_call_response":
        response = part.get("response")
        block: dict[str, Any] = {"type": "tool_result", "tool_use_id": part["id"]}
        if isinstance(response, list) and all(isinstance(b, Mapping) and b.get("type") for b in response):
            block["content"] = response
        else:
            block["content"] = _dumps(response) if response is not None else ""
        if part.get("is_error"):
            block["is_error"] = True
        return block
    if kind in ("blob", "uri") and part.get("modality") in ("image", "document"):
        kind_name = "image" if part.get("modality") == "image" else "document"
        if kind == "blob":
            source = {"type": "base64", "media_type": part.get("mime_type") or "image/png",
                      "data": part.get("content", "")}
        else:
            source = {"type": "url", "url": part.get("uri", "")}
        return {"type": kind_name, "source": source}
    if kind in _OTEL_PART_TYPES:
        return None  # reasoning (needs Anthropic's signature), refusals, files: not replayable input
    return dict(part)


def anthropic_messages(messages: Sequence[Message]) -> tuple[str | list[dict[str, Any]] | None, list[dict[str, Any]]]:
    """(``system``, ``messages``): system messages are lifted into ``system``; tool results become user
    ``tool_result`` blocks; consecutive messages of one role are merged (the API wants alternation)."""
    system_parts: list[dict[str, Any]] = []
    out: list[dict[str, Any]] = []
    for message in with_tool_ids(messages):
        role = str(message.get("role") or "user")
        parts = list(message.get("parts") or ())
        if role in ("system", "developer"):
            system_parts.extend({"type": "text", "text": str(p.get("content") or "")}
                                for p in parts if p.get("type") == "text")
            continue
        role = "assistant" if role == "assistant" else "user"
        blocks = [b for b in (_anthropic_block(p) for p in parts) if b is not None]
        if not blocks:
            continue
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": role, "content": blocks})
    for item in out:  # one text block: the plain string form, as most callers send it
        if len(item["content"]) == 1 and item["content"][0].get("type") == "text" and \
                set(item["content"][0]) == {"type", "text"}:
            item["content"] = item["content"][0]["text"]
    system: str | list[dict[str, Any]] | None = None
    if len(system_parts) == 1:
        system = system_parts[0]["text"]
    elif system_parts:
        system = system_parts
    return system, out


# -- responses: wire -> canonical -------------------------------------------------------------------------------
def _arguments(value: Any) -> Any:
    parsed = json_value(value)
    return parsed if isinstance(parsed, (dict, list)) else value


def from_openai_message(message: Mapping[str, Any], finish: str | None) -> Message:
    """A chat completion ``message`` (dict) -> a canonical output message; the finish reason as sent."""
    parts: list[Part] = []
    reasoning = message.get("reasoning_content") or message.get("reasoning")  # vLLM, DeepSeek, Ollama
    if isinstance(reasoning, str) and reasoning:
        parts.append({"type": "reasoning", "content": reasoning})
    content = message.get("content")
    if isinstance(content, str) and content:
        parts.append({"type": "text", "content": content})
    elif isinstance(content, list):
        parts.extend({"type": "text", "content": str(c.get("text", ""))} for c in content
                     if isinstance(c, Mapping) and c.get("type") == "text")
    if message.get("refusal"):
        parts.append({"type": "refusal", "content": message["refusal"]})
    for call in message.get("tool_calls") or ():
        fn = call.get("function") or {}
        parts.append({"type": "tool_call", "id": call.get("id"), "name": fn.get("name"),
                      "arguments": _arguments(fn.get("arguments"))})
    out: Message = {"role": message.get("role") or "assistant", "parts": parts}
    if finish:
        out["finish_reason"] = finish
    return out


def from_anthropic_content(blocks: Sequence[Mapping[str, Any]], stop_reason: str | None) -> Message:
    parts: list[Part] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "text":
            parts.append({"type": "text", "content": block.get("text", "")})
        elif kind == "tool_use":
            parts.append({"type": "tool_call", "id": block.get("id"), "name": block.get("name"),
                          "arguments": block.get("input")})
        elif kind == "thinking":
            parts.append({"type": "reasoning", "content": block.get("thinking", "")})
        elif kind == "redacted_thinking":
            continue
        else:
            parts.append(dict(block))
    out: Message = {"role": "assistant", "parts": parts}
    if stop_reason:
        out["finish_reason"] = stop_reason
    return out


def finish_reason(messages: Sequence[Message]) -> str:
    """The last message's finish reason in OTel's vocabulary (``tool_calls``/``tool_use`` -> ``tool_call``...)."""
    reasons = [m.get("finish_reason") for m in messages if m.get("finish_reason")]
    return otel_finish_reason(reasons[-1]) if reasons else ""
