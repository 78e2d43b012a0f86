"""Convert chat messages, tools and documents to the OTel GenAI shapes. Pure functions, no I/O.

Messages become ``{role, parts: [...], name?, finish_reason?}``. Accepted input: plain strings, OpenAI-style
``{role, content, tool_calls?, tool_call_id?}`` dicts (content a string or a list of content parts),
Anthropic-style ``{role, content: [blocks]}`` (text, image, tool_use, tool_result, thinking, document),
messages already in the OTel shape, and pydantic objects of the provider SDKs (through ``model_dump``).
Unknown part types are kept as they are, so nothing needed for replay is thrown away.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

_PRIMITIVES = (str, int, float, bool)
_PLAIN_TYPES = frozenset({dict, list, tuple, str, int, float, bool, type(None)})
_PLAIN_SCALARS = frozenset({str, int, float, bool})


def plain(value: Any) -> Any:
    """Provider SDK objects (pydantic models) to plain dicts/lists; everything else unchanged."""
    if type(value) in _PLAIN_TYPES:  # the hot path: plain data needs no conversion
        return value
    dump = getattr(value, "model_dump", None)
    if callable(dump) and not isinstance(value, type):
        try:
            return dump(exclude_none=True)
        except TypeError:
            return dump()
    return value


def _maybe_json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _text_of(content: Any) -> Any:
    """A tool result's content: a string stays a string, a list of text blocks becomes their text."""
    if isinstance(content, list) and all(isinstance(b, Mapping) and b.get("type") == "text" for b in content):
        return "".join(str(b.get("text", "")) for b in content)
    return content


def _part(item: Any) -> dict[str, Any]:
    item = plain(item)
    if type(item) is dict and item.get("type") == "text" and "text" in item:  # the common case first
        return {"type": "text", "content": item["text"]}
    if isinstance(item, str):
        return {"type": "text", "content": item}
    if not isinstance(item, Mapping):
        return {"type": "text", "content": str(item)}
    kind = item.get("type")
    if kind == "text" and "text" in item:
        return {"type": "text", "content": item["text"]}
    if kind == "image_url":  # OpenAI
        url = (item.get("image_url") or {}).get("url", "")
        if isinstance(url, str) and url.startswith("data:") and ";base64," in url:
            mime, data = url[5:].split(";base64,", 1)
            return {"type": "blob", "modality": "image", "mime_type": mime, "content": data}
        return {"type": "uri", "modality": "image", "uri": url}
    if kind == "input_audio":  # OpenAI
        audio = item.get("input_audio") or {}
        return {"type": "blob", "modality": "audio", "mime_type": f"audio/{audio.get('format', 'wav')}",
                "content": audio.get("data")}
    if kind in ("image", "document") and isinstance(item.get("source"), Mapping):  # Anthropic
        source = item["source"]
        modality = "image" if kind == "image" else "document"
        if source.get("type") == "base64":
            return {"type": "blob", "modality": modality, "mime_type": source.get("media_type"),
                    "content": source.get("data")}
        if source.get("type") == "url":
            return {"type": "uri", "modality": modality, "uri": source.get("url")}
        return dict(item)
    if kind == "tool_use":  # Anthropic
        return {"type": "tool_call", "id": item.get("id"), "name": item.get("name"), "arguments": item.get("input")}
    if kind == "tool_result":  # Anthropic
        part = {"type": "tool_call_response", "id": item.get("tool_use_id"), "response": _text_of(item.get("content"))}
        if item.get("is_error"):
            part["is_error"] = True
        return part
    if kind == "thinking":  # Anthropic extended thinking
        return {"type": "reasoning", "content": item.get("thinking", "")}
    if kind == "refusal":  # OpenAI
        return {"type": "refusal", "content": item.get("refusal", item.get("content"))}
    return dict(item)


def _content_parts(content: Any) -> list[dict[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "content": content}]
    if isinstance(content, (list, tuple)):
        return [_part(item) for item in content]
    return [_part(content)]


def tool_call_part(call: Any) -> dict[str, Any]:
    """An OpenAI ``tool_calls`` entry (``{id, type, function: {name, arguments}}``) as an OTel part."""
    call = plain(call)
    if type(call) is not dict and not isinstance(call, Mapping):
        return {"type": "tool_call", "name": str(call)}
    fn = call.get("function") or {}
    return {"type": "tool_call", "id": call.get("id"), "name": fn.get("name"), "arguments": _maybe_json(fn.get("arguments"))}


def to_otel_message(message: Any, finish_reason: str | None = None) -> dict[str, Any]:
    message = plain(message)
    if type(message) is dict and "parts" not in message:  # the hot path: an OpenAI/Anthropic-style dict
        out = _from_chat_dict(message)
    elif isinstance(message, str):
        out: dict[str, Any] = {"role": "assistant" if finish_reason else "user",
                               "parts": [{"type": "text", "content": message}]}
    elif isinstance(message, Mapping) and "parts" in message:
        out = dict(message)
    elif isinstance(message, Mapping):
        out = _from_chat_dict(message)
    else:
        out = {"role": "user", "parts": [{"type": "text", "content": str(message)}]}
    if finish_reason and "finish_reason" not in out:
        out["finish_reason"] = finish_reason
    return out


def _from_chat_dict(message: Mapping[str, Any]) -> dict[str, Any]:
    role = message.get("role") or "user"
    if role == "tool":
        parts = [{"type": "tool_call_response", "id": message.get("tool_call_id"),
                  "response": _text_of(message.get("content"))}]
    else:
        content = message.get("content")
        if type(content) is str:
            parts = [{"type": "text", "content": content}]
        else:
            parts = _content_parts(content)
        if message.get("refusal"):
            parts.append({"type": "refusal", "content": message["refusal"]})
        calls = message.get("tool_calls")
        if calls:
            parts.extend(tool_call_part(call) for call in calls)
    out: dict[str, Any] = {"role": str(role), "parts": parts}
    if message.get("name"):
        out["name"] = message["name"]
    return out


def to_otel_messages(messages: Any, finish_reason: str | None = None) -> list[dict[str, Any]]:
    if messages is None:
        return []
    if type(messages) is list:
        return [to_otel_message(m, finish_reason) for m in messages]
    if isinstance(messages, (str, Mapping)) or hasattr(messages, "model_dump"):
        messages = [messages]
    return [to_otel_message(m, finish_reason) for m in messages]


def system_parts(system: Any) -> list[dict[str, Any]]:
    """``system`` as a string (OpenAI/Anthropic) or a list of Anthropic text blocks -> OTel parts."""
    return _content_parts(system)


def to_otel_tools(tools: Any) -> list[dict[str, Any]]:
    """Tool definitions -> ``[{type, name, description?, parameters?, ...}]`` (OTel ``gen_ai.tool.definitions``).

    OpenAI's ``{type: function, function: {...}}`` is flattened; Anthropic's ``input_schema`` becomes
    ``parameters``; other keys (``strict``, ``cache_control``, server-tool settings) are kept.
    """
    out: list[dict[str, Any]] = []
    for tool in tools or ():
        tool = plain(tool)
        if not isinstance(tool, Mapping):
            out.append({"type": "function", "name": str(tool)})
            continue
        if isinstance(tool.get("function"), Mapping):
            fn = tool["function"]
            item = {"type": tool.get("type", "function"), **{k: v for k, v in fn.items()}}
        elif "input_schema" in tool:
            item = {"type": "function" if tool.get("type") in (None, "custom") else tool["type"],
                    **{k: v for k, v in tool.items() if k not in ("input_schema", "type")},
                    "parameters": tool["input_schema"]}
        else:
            item = dict(tool)
            item.setdefault("type", "function")
        out.append(item)
    return out


def to_documents(documents: Any) -> list[dict[str, Any]]:
    """Retrieved documents -> ``[{id?, content?, score?, metadata?}]`` (OTel ``gen_ai.retrieval.documents``).

    Accepts strings, dicts (``content`` or ``text`` or ``page_content``), and objects with ``page_content``
    and ``metadata`` attributes (LangChain/LlamaIndex style).
    """
    out: list[dict[str, Any]] = []
    for doc in documents or ():
        doc = plain(doc)
        if isinstance(doc, str):
            out.append({"content": doc})
            continue
        if not isinstance(doc, Mapping):
            content = getattr(doc, "page_content", None) or getattr(doc, "text", None)
            item: dict[str, Any] = {"content": content if content is not None else str(doc)}
            for key in ("id", "score", "metadata"):
                value = getattr(doc, key, None)
                if value is not None:
                    item[key] = value
            out.append(item)
            continue
        item = dict(doc)
        for alias in ("page_content", "text"):
            if "content" not in item and alias in item:
                item["content"] = item.pop(alias)
        out.append(item)
    return out


def attribute_value(value: Any) -> Any:
    """A value OTel can hold: primitives and flat lists of primitives as they are, the rest as JSON."""
    if type(value) in _PLAIN_SCALARS or isinstance(value, _PRIMITIVES) or value is None:
        return value
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, str) for v in value):
        return list(value)
    if isinstance(value, (list, tuple)) and value and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        return list(value)
    return to_json(plain(value))


def _default(value: Any) -> Any:
    dumped = plain(value)
    if dumped is not value:
        return dumped
    return str(value)


# One encoder for the process: json.dumps() with options builds a new encoder on every call.
_ENCODE = json.JSONEncoder(ensure_ascii=False, default=_default, separators=(",", ":")).encode


def to_json(value: Any) -> str:
    """Compact JSON, non-ASCII kept as is; provider objects through ``model_dump``, anything else as ``str``."""
    return _ENCODE(value)
