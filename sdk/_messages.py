"""Convert chat messages to the OTel GenAI message shape (``{role, parts: [...]}``).

Accepts plain strings, OpenAI-style ``{role, content, tool_calls?}`` dicts (content as a string or a list
of content parts) and messages already in the OTel shape. Pure functions, no I/O.
"""

from __future__ import annotations

import json
from typing import Any, Mapping


def _content_parts(content: Any) -> list[dict[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "content": content}]
    if isinstance(content, list):
        parts: list[dict[str, Any]] = []
        for item in content:
            if isinstance(item, str):
                parts.append({"type": "text", "content": item})
            elif isinstance(item, Mapping) and item.get("type") == "text" and "text" in item:
                parts.append({"type": "text", "content": item["text"]})
            elif isinstance(item, Mapping):
                parts.append(dict(item))
        return parts
    return [{"type": "text", "content": str(content)}]


def to_otel_message(message: Any, finish_reason: str | None = None) -> dict[str, Any]:
    if isinstance(message, str):
        out: dict[str, Any] = {"role": "assistant" if finish_reason else "user",
                               "parts": [{"type": "text", "content": message}]}
    elif isinstance(message, Mapping) and "parts" in message:
        out = dict(message)
    elif isinstance(message, Mapping):
        role = str(message.get("role", "user"))
        parts = _content_parts(message.get("content"))
        for call in message.get("tool_calls") or ():
            fn = call.get("function", {}) if isinstance(call, Mapping) else {}
            args = fn.get("arguments")
            try:
                args = json.loads(args) if isinstance(args, str) else args
            except ValueError:
                pass
            parts.append({"type": "tool_call", "id": call.get("id"), "name": fn.get("name"), "arguments": args})
        if role == "tool":
            parts = [{"type": "tool_call_response", "id": message.get("tool_call_id"),
                      "response": message.get("content")}]
        out = {"role": role, "parts": parts}
        if message.get("name"):
            out["name"] = message["name"]
    else:
        out = {"role": "user", "parts": [{"type": "text", "content": str(message)}]}
    if finish_reason and "finish_reason" not in out:
        out["finish_reason"] = finish_reason
    return out


def to_otel_messages(messages: Any, finish_reason: str | None = None) -> list[dict[str, Any]]:
    if messages is None:
        return []
    if isinstance(messages, (str, Mapping)):
        messages = [messages]
    return [to_otel_message(m, finish_reason) for m in messages]


def to_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":"))
