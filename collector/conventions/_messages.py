"""Messages from every convention -> OTel GenAI's message shape (pure).

Canonical message: ``{"role", "parts": [...], "name"?, "finish_reason"?}``; parts follow OTel:
``text{content}``, ``tool_call{id?, name, arguments}``, ``tool_call_response{id?, response}``,
``blob{modality, mime_type?, content}``, ``uri{modality, uri}``, ``file{modality, file_id}``,
``reasoning{content}``; any other part is kept as it came. Provider shapes (OpenAI ``content`` lists and
``tool_calls``, Anthropic ``tool_use``/``tool_result``/``thinking``, Bedrock ``text``/``toolUse``/``toolResult``)
are translated so that search, replay and compare see one shape.
"""

from __future__ import annotations

import json

import orjson
from typing import Any, Iterable, Mapping

from ._view import indexed, sub

Message = dict[str, Any]
Part = dict[str, Any]

MAX_TEXT_CHARS = 200_000  # flattened search text per side; messages are kept whole

# Span events / log records of the pre-1.37 GenAI semconv: event name -> role of the message it carries.
EVENT_ROLES = {"gen_ai.system.message": "system", "gen_ai.user.message": "user",
               "gen_ai.assistant.message": "assistant", "gen_ai.tool.message": "tool"}
CHOICE_EVENT = "gen_ai.choice"
OTEL_PART_TYPES = frozenset({"text", "tool_call", "tool_call_response", "server_tool_call",
                             "server_tool_call_response", "blob", "file", "uri", "reasoning"})


def json_value(value: Any, starts: tuple[str, ...] = ("[", "{")) -> Any:
    """A value that may arrive as a JSON array/object string or already structured (OTel allows both).
    Other strings are left alone, so plain text is never reinterpreted."""
    if isinstance(value, str) and value[:64].lstrip()[:1] in starts:
        try:
            return orjson.loads(value)  # several times faster than json on multi-KB message arrays
        except ValueError:
            pass
        try:
            return json.loads(value)  # what orjson refuses but Python's json reads: NaN, huge integers
        except ValueError:
            return value
    return value


def json_blob(value: Any) -> Any:
    """Like ``json_value``, also decoding a JSON-encoded string: SDKs that serialize every input/output
    (Traceloop entities, Langfuse) turn the text ``hi`` into ``"hi"``."""
    return json_value(value, ("[", "{", '"'))


def _arguments(value: Any) -> Any:
    """Tool-call arguments as an object when they are JSON (OTel's shape), else as sent."""
    parsed = json_value(value)
    return parsed if isinstance(parsed, (dict, list)) else value


def _compact(part: Part) -> Part:
    return {k: v for k, v in part.items() if v is not None}


def _text(content: Any) -> Part:
    return {"type": "text", "content": content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)}


def _image(url: Any) -> Part:
    url = str(url or "")
    if url.startswith("data:") and ";base64," in url:  # inline image: OTel's blob part
        header, _, data = url.partition(";base64,")
        return {"type": "blob", "modality": "image", "mime_type": header[5:] or None, "content": data}
    return {"type": "uri", "modality": "image", "uri": url}


def _tool_call(call: Mapping[str, Any]) -> Part:
    """OpenAI ``{id, function{name, arguments}}`` or flat ``{id, name, arguments}``."""
    function = call.get("function") if isinstance(call.get("function"), dict) else call
    return _compact({"type": "tool_call", "id": call.get("id"), "name": function.get("name"),
                     "arguments": _arguments(function.get("arguments"))})


def to_part(item: Any) -> Part:
    if not isinstance(item, dict):
        return _text(item if isinstance(item, str) else str(item))
    kind = item.get("type")
    if kind in OTEL_PART_TYPES:
        if kind == "tool_call_response" and "response" not in item and "result" in item:
            return {**{k: v for k, v in item.items() if k != "result"}, "response": item["result"]}
        if kind == "text" and "content" not in item and "text" in item:  # OpenAI/Anthropic text block
            return {"type": "text", "content": item["text"]}
        if kind == "tool_call" and "function" in item:  # an OpenAI tool call inside a content list
            return _tool_call(item)
        return dict(item)
    if kind in ("input_text", "output_text"):  # OpenAI Responses API
        return {"type": "text", "content": item.get("text", "")}
    if kind == "image_url":
        image = item.get("image_url")
        return _image(image.get("url") if isinstance(image, dict) else image)
    if kind == "tool_use":  # Anthropic
        return _compact({"type": "tool_call", "id": item.get("id"), "name": item.get("name"),
                         "arguments": item.get("input")})
    if kind == "tool_result":
        return _compact({"type": "tool_call_response", "id": item.get("tool_use_id"),
                         "response": item.get("content")})
    if kind == "thinking":
        return {"type": "reasoning", "content": item.get("thinking", "")}
    if kind is None:  # Bedrock / Strands content blocks carry no type
        if "text" in item:
            return {"type": "text", "content": item["text"]}
        if isinstance(item.get("toolUse"), dict):
            use = item["toolUse"]
            return _compact({"type": "tool_call", "id": use.get("toolUseId"), "name": use.get("name"),
                             "arguments": use.get("input")})
        if isinstance(item.get("toolResult"), dict):
            result = item["toolResult"]
            return _compact({"type": "tool_call_response", "id": result.get("toolUseId"),
                             "response": result.get("content")})
    return dict(item)  # any other part type is kept as it came


def to_parts(content: Any) -> list[Part]:
    content = json_value(content)
    if content is None or content == "":
        return []
    if isinstance(content, (list, tuple)):
        return [to_part(item) for item in content]
    return [to_part(content)]


def to_message(m: Mapping[str, Any], default_role: str) -> Message:
    """One message in OTel shape (kept) or a provider's shape (translated)."""
    role = str(m.get("role") or default_role)
    if isinstance(m.get("parts"), (list, tuple)):
        parts = [to_part(p) for p in m["parts"]]
    else:
        parts = to_parts(m.get("content"))
        if role == "tool" and m.get("tool_call_id") is not None:
            response = json_value(m.get("content"))
            parts = [_compact({"type": "tool_call_response", "id": m.get("tool_call_id"), "response": response})]
        calls = json_value(m.get("tool_calls"))  # flattened conventions send them as a JSON string
        for call in calls if isinstance(calls, list) else ():
            if isinstance(call, dict):
                parts.append(_tool_call(call))
        if isinstance(m.get("function_call"), dict):  # OpenAI's pre-tools function calling
            parts.append(_tool_call(m["function_call"]))
    message: Message = {"role": role, "parts": parts}
    if m.get("name"):
        message["name"] = m["name"]
    if m.get("finish_reason"):
        message["finish_reason"] = finish_reason(m["finish_reason"])
    return message


def messages_from_value(value: Any, default_role: str, mime_type: str = "") -> list[Message]:
    """Messages from a loosely typed blob (``input.value``, ``traceloop.entity.input``, Langfuse input, ...).

    Understands a list of messages, an OpenAI request (``messages``, plus an Anthropic-style ``system``) or
    response (``choices``), and a single message; anything else becomes one text message with the value.
    """
    if value is None or value == "":
        return []
    if mime_type.startswith("text/"):
        return [{"role": default_role, "parts": [_text(value)]}]
    value = json_blob(value)
    if value in ([], {}, ""):
        return []
    if isinstance(value, list) and all(isinstance(m, dict) and "role" in m for m in value):
        return [to_message(m, default_role) for m in value]
    if isinstance(value, dict):
        if isinstance(value.get("messages"), list):
            messages = messages_from_value(value["messages"], default_role)
            if value.get("system"):  # Anthropic keeps the system prompt beside the messages
                messages = [{"role": "system", "parts": to_parts(value["system"])}, *messages]
            return messages
        if isinstance(value.get("choices"), list):
            return [to_message({**c.get("message", {}), "finish_reason": c.get("finish_reason")}, default_role)
                    for c in value["choices"] if isinstance(c, dict)]
        if "role" in value and ("content" in value or "parts" in value or "tool_calls" in value):
            return [to_message(value, default_role)]
    return [{"role": default_role, "parts": [_text(value)]}]


def otel_messages(value: Any, default_role: str) -> list[Message]:
    """``gen_ai.input.messages`` / ``gen_ai.output.messages``: structured or a JSON string."""
    value = json_value(value)
    if value is None or value == "" or value == []:
        return []
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, (list, tuple)):
        return [{"role": default_role, "parts": [_text(value)]}]
    return [to_message(m, default_role) if isinstance(m, dict) else {"role": default_role,
                                                                         "parts": [to_part(m)]} for m in value]


def system_message(value: Any) -> Message | None:
    """``gen_ai.system_instructions``: a bare array of parts (or a string) -> one system message."""
    parts = to_parts(value)
    return {"role": "system", "parts": parts} if parts else None


# -- flattened conventions ----------------------------------------------------------------------
def openinference_messages(group: Mapping[str, Any], default_role: str) -> list[Message]:
    """``llm.{input,output}_messages.N.message.*``, with tool calls and multimodal contents."""
    messages = []
    for _, fields in indexed(group):
        m = sub(fields, "message.")
        role = str(m.get("role") or default_role)
        parts: list[Part] = []
        for _, content in indexed(sub(m, "contents.")):
            c = sub(content, "message_content.")
            if c.get("type") == "image" or "image.image.url" in c:
                parts.append(_image(c.get("image.image.url")))
            elif c.get("text") is not None:
                parts.append(_text(c["text"]))
            elif c:
                parts.append(dict(c))
        if m.get("content") not in (None, ""):
            parts.append(_text(m["content"]))
        if role == "tool" and m.get("tool_call_id") is not None:
            parts = [_compact({"type": "tool_call_response", "id": m["tool_call_id"],
                               "response": json_value(m.get("content"))})]
        for _, call in indexed(sub(m, "tool_calls.")):
            c = sub(call, "tool_call.")
            parts.append(_compact({"type": "tool_call", "id": c.get("id"), "name": c.get("function.name"),
                                   "arguments": _arguments(c.get("function.arguments"))}))
        message: Message = {"role": role, "parts": parts}
        if m.get("name"):
            message["name"] = m["name"]
        messages.append(message)
    return messages


def openinference_texts(group: Mapping[str, Any], field: str, role: str) -> list[Message]:
    """Legacy ``llm.prompts.N.prompt.text`` / ``llm.choices.N.completion.text``."""
    return [{"role": role, "parts": [_text(fields[field])]} for _, fields in indexed(group)
            if fields.get(field) not in (None, "")]


def openllmetry_messages(group: Mapping[str, Any], default_role: str) -> list[Message]:
    """``gen_ai.prompt.N.*`` / ``gen_ai.completion.N.*`` (OpenLLMetry <= 0.4), tool calls included."""
    messages = []
    for _, m in indexed(group):
        flat: dict[str, Any] = {"role": m.get("role"), "content": m.get("content"),
                                "tool_call_id": m.get("tool_call_id"), "name": m.get("name"),
                                "finish_reason": m.get("finish_reason")}
        calls = [{"id": c.get("id"), "name": c.get("name"), "arguments": c.get("arguments")}
                 for _, c in indexed(sub(m, "tool_calls."))]
        if "function_call.name" in m:
            calls.append({"name": m["function_call.name"], "arguments": m.get("function_call.arguments")})
        flat["tool_calls"] = calls
        if not flat["content"] and m.get("refusal"):
            flat["content"] = m["refusal"]
        messages.append(to_message(flat, default_role))
    return messages


# -- span events and log records ----------------------------------------------------------------
def event_body(attributes: Mapping[str, Any]) -> Mapping[str, Any]:
    """A legacy message event's body: the attributes, or a JSON body in ``gen_ai.event.content``."""
    packed = json_value(attributes.get("gen_ai.event.content"))
    return packed if isinstance(packed, dict) else attributes


def body_message(event_name: str, body: Any) -> tuple[str, Message] | None:
    """A legacy GenAI message event -> ("input" | "output", message); None if it is not one."""
    if not isinstance(body, dict):
        body = {"content": body}
    if event_name in EVENT_ROLES:
        return "input", to_message({**body, "role": body.get("role") or EVENT_ROLES[event_name],
                                    "tool_call_id": body.get("tool_call_id", body.get("id"))},
                                   EVENT_ROLES[event_name])
    if event_name == CHOICE_EVENT:
        inner = json_value(body.get("message"))
        if isinstance(inner, dict) and ({"content", "role", "tool_calls"} & inner.keys()):
            message = dict(inner)
        else:  # some SDKs put the content itself under ``message``
            message = {"content": inner if inner is not None else body.get("content")}
        if body.get("tool_calls") and "tool_calls" not in message:
            message["tool_calls"] = json_value(body["tool_calls"])
        return "output", to_message({**message, "finish_reason": body.get("finish_reason")}, "assistant")
    return None


def _choice_index(message_event: Mapping[str, Any]) -> int:
    try:
        return int(event_body(message_event["attributes"]).get("index", 0))
    except (TypeError, ValueError):
        return 0


def span_event_messages(events: Iterable[Mapping[str, Any]]) -> tuple[list[Message], list[Message]]:
    """Inputs and outputs from legacy span events: ``gen_ai.*.message``, ``gen_ai.choice``, and OpenLIT's
    ``gen_ai.content.prompt`` / ``gen_ai.content.completion`` (attributes ``gen_ai.prompt`` / ``gen_ai.completion``)."""
    inputs: list[Message] = []
    choices: list[Mapping[str, Any]] = []
    outputs: list[Message] = []
    for event in events:
        name = event.get("name", "")
        attributes = event.get("attributes") or {}
        if name in EVENT_ROLES:
            found = body_message(name, event_body(attributes))
            if found:
                inputs.append(found[1])
        elif name == CHOICE_EVENT:
            choices.append(event)
        elif name == "gen_ai.content.prompt":
            inputs.extend(messages_from_value(attributes.get("gen_ai.prompt"), "user"))
        elif name == "gen_ai.content.completion":
            outputs.extend(messages_from_value(attributes.get("gen_ai.completion"), "assistant"))
    for event in sorted(choices, key=_choice_index):
        found = body_message(CHOICE_EVENT, event_body(event.get("attributes") or {}))
        if found:
            outputs.append(found[1])
    return inputs, outputs


# -- flattened text ------------------------------------------------------------------------------
def _part_text(part: Any) -> str:
    if not isinstance(part, dict):
        return "" if part is None else str(part)
    kind = part.get("type")
    if kind in ("text", "reasoning"):
        content = part.get("content")
        return "" if content is None else str(content)
    if kind in ("tool_call", "server_tool_call"):
        arguments = part.get("arguments")
        rendered = arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)
        return f"{part.get('name')}({rendered})"
    if kind in ("tool_call_response", "server_tool_call_response"):
        response = part.get("response")
        return response if isinstance(response, str) else json.dumps(response, ensure_ascii=False)
    return ""  # blobs, uris, files: nothing to search


def flatten(messages: Iterable[Mapping[str, Any]]) -> str:
    texts = []
    for message in messages:
        text = "\n".join(t for t in map(_part_text, message.get("parts") or ()) if t)
        if text:
            texts.append(text)
    return "\n".join(texts)[:MAX_TEXT_CHARS]


# Provider-specific finish reasons -> OTel's values, so "truncated" or "tool call" mean one thing downstream.
_FINISH_ALIASES = {"tool_calls": "tool_call", "function_call": "tool_call", "tool_use": "tool_call",
                   "max_tokens": "length", "end_turn": "stop", "stop_sequence": "stop", "refusal": "content_filter"}


def finish_reason(value: Any) -> str:
    """The first finish reason (string or array) in OTel's vocabulary; "" when there is none."""
    value = json_value(value)
    if isinstance(value, (list, tuple)):
        value = value[0] if value else ""
    reason = str(value or "").lower()
    return _FINISH_ALIASES.get(reason, reason)


def last_finish_reason(messages: Iterable[Mapping[str, Any]]) -> str:
    reasons = [m.get("finish_reason") for m in messages if m.get("finish_reason")]
    return finish_reason(reasons[-1]) if reasons else ""
