"""Normalization: one ``RawSpan`` (any convention) -> one canonical ``SpanRecord`` (pure).

The chain is the list ``STEPS`` below, read top to bottom. Each step is a small function
``step(raw, draft) -> None`` that reads the raw span and fills fields of ``draft`` (a dict of SpanRecord
fields); the record is built once at the end. A dict draft instead of ``dataclasses.replace`` per step
keeps the hot path cheap (one allocation per span instead of one per step). Precedence lists follow
``shared/reference/ingest-conventions.md`` section 6: explicit vendor keys > OTel current > OpenInference >
OpenLLMetry legacy > OpenLIT extras.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Iterable

from tracehouse import _attributes as A
from tracehouse.storage.record import SpanRecord

from .otlp import RawSpan

Draft = dict[str, Any]
Step = Callable[[RawSpan, Draft], None]

MAX_TEXT_CHARS = 200_000  # flattened search text per side; messages are kept whole

MODEL_KEYS = ("langfuse.observation.model.name", "gen_ai.response.model", "gen_ai.request.model",
              "llm.response.model_name", "llm.model_name", "llm.request.model_name", "embedding.model_name")
REQUEST_MODEL_KEYS = ("gen_ai.request.model", "llm.request.model_name", "llm.model_name")
PROVIDER_KEYS = ("gen_ai.provider.name", "gen_ai.system", "llm.system", "llm.provider")
INPUT_TOKEN_KEYS = ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.token_count.prompt")
OUTPUT_TOKEN_KEYS = ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens", "llm.token_count.completion")
CACHE_READ_KEYS = ("gen_ai.usage.cache_read.input_tokens", "llm.token_count.prompt_details.cache_read",
                   "gen_ai.usage.cache_read_input_tokens", "gen_ai.usage.prompt_tokens_details.cached_tokens")
CACHE_WRITE_KEYS = ("gen_ai.usage.cache_creation.input_tokens", "llm.token_count.prompt_details.cache_write",
                    "gen_ai.usage.cache_creation_input_tokens")
REASONING_KEYS = ("gen_ai.usage.reasoning.output_tokens", "llm.token_count.completion_details.reasoning",
                  "gen_ai.usage.reasoning_tokens", "llm.usage.reasoning_tokens",
                  "gen_ai.usage.completion_tokens_details.reasoning_tokens")
REPORTED_COST_KEYS = ("gen_ai.usage.cost", "llm.cost.total")
SESSION_KEYS = ("langfuse.session.id", A.SESSION_ID, A.CONVERSATION_ID, "traceloop.association.properties.session_id")
USER_KEYS = ("langfuse.user.id", A.USER_ID, "enduser.id", "traceloop.association.properties.user_id",
             "gen_ai.user", "llm.user", "gen_ai.request.user")
TENANT_KEYS = (A.TENANT, "traceloop.association.properties.customer_id")
ENVIRONMENT_KEYS = ("langfuse.environment", "deployment.environment.name", "deployment.environment")
RELEASE_KEYS = ("langfuse.release", "service.version")
PROMPT_NAME_KEYS = ("langfuse.observation.prompt.name", A.PROMPT_NAME, "traceloop.prompt.key")
PROMPT_VERSION_KEYS = ("langfuse.observation.prompt.version", A.PROMPT_VERSION, "llm.prompt_template.version",
                       "traceloop.prompt.version")
TAG_KEYS = (A.TAGS, "tag.tags", "langfuse.trace.tags")
TTFT_SECONDS_KEYS = (A.TIME_TO_FIRST_CHUNK, "gen_ai.server.time_to_first_token")
FINISH_KEYS = (A.FINISH_REASONS, "gen_ai.response.finish_reason", "llm.finish_reason")

_OPERATION_KIND = {
    "chat": "llm", "text_completion": "llm", "generate_content": "llm", "completion": "llm",
    "embeddings": "embedding", "embedding": "embedding", "execute_tool": "tool", "retrieval": "retrieval",
    "invoke_agent": "agent", "create_agent": "agent", "invoke_workflow": "chain",
}
_OPENINFERENCE_KIND = {
    "LLM": "llm", "EMBEDDING": "embedding", "TOOL": "tool", "RETRIEVER": "retrieval", "RERANKER": "retrieval",
    "AGENT": "agent", "CHAIN": "chain",
}
_TRACELOOP_KIND = {"workflow": "chain", "task": "chain", "agent": "agent", "tool": "tool"}
# Provider-specific finish reasons -> OTel's values, so "truncated" or "tool call" mean one thing downstream.
_FINISH_ALIASES = {"tool_calls": "tool_call", "function_call": "tool_call", "tool_use": "tool_call",
                   "max_tokens": "length", "end_turn": "stop", "stop_sequence": "stop", "refusal": "content_filter"}
_PROVIDER_ALIASES = {"xai": "x_ai", "azure": "azure.ai.openai", "aws": "aws.bedrock", "vertex_ai": "gcp.vertex_ai",
                     "gemini": "gcp.gemini", "google": "gcp.gen_ai", "mistralai": "mistral_ai"}


# -- lookup helpers ------------------------------------------------------------------------------
def first(attrs: dict[str, Any], keys: Iterable[str]) -> Any:
    for key in keys:
        value = attrs.get(key)
        if value not in (None, "", [], {}):
            return value
    return None


def first_int(attrs: dict[str, Any], keys: Iterable[str]) -> int:
    value = first(attrs, keys)
    try:
        return max(0, int(float(value))) if value is not None else 0
    except (TypeError, ValueError):
        return 0


def first_str(attrs: dict[str, Any], keys: Iterable[str]) -> str:
    value = first(attrs, keys)
    return "" if value is None else str(value)


def _json_value(value: Any) -> Any:
    """Values that may arrive as a JSON string or already structured (OTel allows both)."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


# -- steps ---------------------------------------------------------------------------------------
def identity(raw: RawSpan, d: Draft) -> None:
    d.update(
        trace_id=raw.trace_id, span_id=raw.span_id, parent_span_id=raw.parent_span_id, name=raw.name,
        start_time_ns=raw.start_time_ns, end_time_ns=max(raw.end_time_ns, raw.start_time_ns),
        status={0: "unset", 1: "ok", 2: "error"}.get(raw.status_code, "unset"),
        status_message=raw.status_message, scope=raw.scope_name,
        attributes=raw.attributes, resource=raw.resource, events=raw.events, links=raw.links,
    )


def detect_convention(raw: RawSpan, d: Draft) -> None:
    keys = raw.attributes.keys()
    if raw.scope_name == "tracehouse":
        convention = "tracehouse"
    elif any(k.startswith("langfuse.") for k in keys):
        convention = "langfuse"
    elif "openinference.span.kind" in keys or any(k.startswith("llm.token_count.") for k in keys):
        convention = "openinference"
    elif any(k.startswith(("traceloop.", "llm.request.type", "gen_ai.prompt.0", "gen_ai.completion.0"))
             for k in keys):
        convention = "openllmetry"
    elif "gen_ai.usage.cost" in keys or raw.scope_name.startswith("openlit"):
        convention = "openlit"
    elif any(k.startswith("gen_ai.") for k in keys):
        convention = "otel_genai"
    else:
        convention = "otel"
    d["convention"] = convention


def context(raw: RawSpan, d: Draft) -> None:
    a, r = raw.attributes, raw.resource
    d["service"] = str(r.get("service.name") or a.get("service.name") or "")
    d["environment"] = first_str(a, ENVIRONMENT_KEYS) or first_str(r, ENVIRONMENT_KEYS)
    d["release"] = first_str(a, RELEASE_KEYS) or first_str(r, RELEASE_KEYS)
    d["tenant"] = first_str(a, TENANT_KEYS) or first_str(r, TENANT_KEYS)
    d["user"] = first_str(a, USER_KEYS)
    d["session"] = first_str(a, SESSION_KEYS)
    tags = _json_value(first(a, TAG_KEYS))
    if isinstance(tags, str):
        tags = [t.strip() for t in tags.split(",") if t.strip()]
    d["tags"] = tuple(str(t) for t in tags) if isinstance(tags, list) else ()
    metadata = _json_value(a.get(A.METADATA) or a.get("metadata"))
    d["metadata"] = metadata if isinstance(metadata, dict) else {}


def model_call(raw: RawSpan, d: Draft) -> None:
    a = raw.attributes
    d["model"] = first_str(a, MODEL_KEYS)
    d["request_model"] = first_str(a, REQUEST_MODEL_KEYS)
    provider = first_str(a, PROVIDER_KEYS).lower()
    d["provider"] = _PROVIDER_ALIASES.get(provider, provider)
    d["operation"] = first_str(a, (A.OPERATION, "llm.request.type"))
    params: dict[str, Any] = {}
    for key, value in a.items():
        if key.startswith(A.REQUEST_PARAM_PREFIX) and key not in (A.REQUEST_MODEL, "gen_ai.request.user"):
            params[key[len(A.REQUEST_PARAM_PREFIX):]] = value
    invocation = _json_value(a.get("llm.invocation_parameters"))
    if isinstance(invocation, dict):
        params = {**invocation, **params}
    d["params"] = params
    d["prompt_name"] = first_str(a, PROMPT_NAME_KEYS)
    d["prompt_version"] = first_str(a, PROMPT_VERSION_KEYS)
    finish = first(a, FINISH_KEYS)
    finish = str(finish[0] if isinstance(finish, list) and finish else finish or "")
    d["finish_reason"] = _FINISH_ALIASES.get(finish.lower(), finish.lower())
    ttft = first(a, TTFT_SECONDS_KEYS)
    try:
        d["time_to_first_token_ms"] = float(ttft) * 1000 if ttft is not None else None
    except (TypeError, ValueError):
        d["time_to_first_token_ms"] = None


def kind(raw: RawSpan, d: Draft) -> None:
    a = raw.attributes
    explicit = a.get(A.SPAN_KIND)
    if explicit in A.SPAN_KINDS:
        d["kind"] = explicit
    elif str(a.get("openinference.span.kind", "")).upper() in _OPENINFERENCE_KIND:
        d["kind"] = _OPENINFERENCE_KIND[str(a["openinference.span.kind"]).upper()]
    elif d.get("operation") in _OPERATION_KIND:
        d["kind"] = _OPERATION_KIND[d["operation"]]
    elif a.get("traceloop.span.kind") in _TRACELOOP_KIND:
        d["kind"] = _TRACELOOP_KIND[a["traceloop.span.kind"]]
    elif d.get("model"):
        d["kind"] = "llm"  # "has a model attribute" means an LLM call (Langfuse's rule)
    else:
        d["kind"] = "other"


def usage(raw: RawSpan, d: Draft) -> None:
    a = raw.attributes
    d["input_tokens"] = first_int(a, INPUT_TOKEN_KEYS)
    d["output_tokens"] = first_int(a, OUTPUT_TOKEN_KEYS)
    # Subsets, never added on top: cache inside input, reasoning inside output.
    d["cache_read_tokens"] = first_int(a, CACHE_READ_KEYS)
    d["cache_write_tokens"] = first_int(a, CACHE_WRITE_KEYS)
    d["reasoning_tokens"] = first_int(a, REASONING_KEYS)
    reported = first(a, REPORTED_COST_KEYS)
    try:
        d["reported_cost_usd"] = float(reported) if reported is not None else None
    except (TypeError, ValueError):
        d["reported_cost_usd"] = None


def _parts_text(parts: Any) -> str:
    if not isinstance(parts, list):
        return "" if parts is None else str(parts)
    out = []
    for part in parts:
        if not isinstance(part, dict):
            out.append(str(part))
        elif part.get("type") in ("text", "reasoning", None) and part.get("content") is not None:
            out.append(str(part["content"]))
        elif part.get("type") == "tool_call":
            arguments = part.get("arguments")
            out.append(f"{part.get('name')}({arguments if isinstance(arguments, str) else json.dumps(arguments)})")
        elif part.get("type") == "tool_call_response":
            response = part.get("response", part.get("result"))
            out.append(response if isinstance(response, str) else json.dumps(response))
    return "\n".join(out)


def _as_messages(value: Any, default_role: str) -> list[dict[str, Any]]:
    value = _json_value(value)
    if value is None:
        return []
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        return [{"role": default_role, "parts": [{"type": "text", "content": str(value)}]}]
    messages = []
    for message in value:
        if isinstance(message, dict) and "parts" in message:
            messages.append(message)
        elif isinstance(message, dict):
            content = message.get("content")
            parts = content if isinstance(content, list) else [{"type": "text", "content": content}]
            messages.append({"role": message.get("role", default_role), "parts": parts})
        else:
            messages.append({"role": default_role, "parts": [{"type": "text", "content": str(message)}]})
    return messages


def flatten(messages: Iterable[dict[str, Any]]) -> str:
    return "\n".join(t for t in (_parts_text(m.get("parts")) for m in messages) if t)[:MAX_TEXT_CHARS]


def content(raw: RawSpan, d: Draft) -> None:
    a = raw.attributes
    system = _json_value(a.get(A.SYSTEM_INSTRUCTIONS))
    inputs = _as_messages(a.get(A.INPUT_MESSAGES), "user")
    if system:
        parts = system if isinstance(system, list) else [{"type": "text", "content": str(system)}]
        inputs = [{"role": "system", "parts": parts}, *inputs]
    outputs = _as_messages(a.get(A.OUTPUT_MESSAGES), "assistant")
    d["input_messages"] = tuple(inputs)
    d["output_messages"] = tuple(outputs)
    fallback_in = first(a, (A.INPUT, "input.value", "traceloop.entity.input", "langfuse.observation.input",
                            A.TOOL_CALL_ARGUMENTS))
    fallback_out = first(a, (A.OUTPUT, "output.value", "traceloop.entity.output", "langfuse.observation.output",
                             A.TOOL_CALL_RESULT))
    d["input_text"] = flatten(inputs) or _text(fallback_in)
    d["output_text"] = flatten(outputs) or _text(fallback_out)
    if not d["finish_reason"] and outputs:
        finish = str(outputs[-1].get("finish_reason") or "").lower()
        d["finish_reason"] = _FINISH_ALIASES.get(finish, finish)


def _text(value: Any) -> str:
    if value is None:
        return ""
    return (value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))[:MAX_TEXT_CHARS]


def error_status(raw: RawSpan, d: Draft) -> None:
    if d["status"] != "error" and raw.attributes.get(A.ERROR_TYPE):
        d["status"] = "error"
    if d["status"] == "error" and not d["status_message"]:
        for event in raw.events:
            if event["name"] == "exception":
                attrs = event["attributes"]
                d["status_message"] = f"{attrs.get('exception.type', '')}: {attrs.get('exception.message', '')}"
                break


STEPS: tuple[Step, ...] = (identity, detect_convention, context, model_call, kind, usage, content, error_status)


def normalize(raw: RawSpan, project: str, extra_steps: Iterable[Step] = ()) -> SpanRecord:
    draft: Draft = {"project": project}
    for step in (*STEPS, *extra_steps):
        step(raw, draft)
    return SpanRecord(**draft)
