"""Normalization: one ``RawSpan`` (any convention) -> one canonical ``SpanRecord`` (pure).

The chain is the list ``STEPS`` below, read top to bottom. Each step is a small function
``step(raw, draft) -> None`` that reads the raw span and fills fields of ``draft`` (a dict of SpanRecord
fields); the record is built once at the end. A dict draft instead of ``dataclasses.replace`` per step
keeps the hot path cheap (one allocation per span instead of one per step), and ``draft.view`` carries the
attributes' prefix groups, computed in one pass, so no step rescans every attribute.

Precedence lists follow ``shared/reference/ingest-conventions.md`` section 6: explicit vendor keys
(``langfuse.*``, ours) > OTel current > OpenInference > OpenLLMetry legacy > OpenLIT extras. The convention
readers live in ``tracehouse.collector.conventions``.
"""

from __future__ import annotations

import json
import math
from typing import Any, Callable, Iterable, Mapping

from tracehouse import _attributes as A
from tracehouse.storage.record import SpanRecord

from . import conventions as C
from .conventions import SpanView, view_of
from .otlp import RawSpan
from .timefmt import parse_time

MODEL_KEYS = ("langfuse.observation.model.name", "gen_ai.response.model", "gen_ai.request.model",
              "llm.response.model_name", "llm.model_name", "llm.request.model_name", "embedding.model_name")
REQUEST_MODEL_KEYS = ("gen_ai.request.model", "llm.request.model_name")
# OpenInference's llm.model_name is the response model; the request's is in llm.invocation_parameters.
REQUEST_MODEL_FALLBACK_KEYS = ("llm.model_name", "embedding.model_name", "langfuse.observation.model.name")
PROVIDER_KEYS = ("gen_ai.provider.name", "gen_ai.system", "llm.system", "llm.provider")
SESSION_KEYS = ("langfuse.session.id", A.SESSION_ID, A.CONVERSATION_ID, "traceloop.association.properties.session_id")
USER_KEYS = ("langfuse.user.id", A.USER_ID, "enduser.id", "traceloop.association.properties.user_id",
             "gen_ai.user", "llm.user", "gen_ai.request.user")
TENANT_KEYS = (A.TENANT, "traceloop.association.properties.customer_id")
ENVIRONMENT_KEYS = ("langfuse.environment", "deployment.environment.name", "deployment.environment")
RELEASE_KEYS = ("langfuse.release", "service.version")
PROMPT_NAME_KEYS = ("langfuse.observation.prompt.name", A.PROMPT_NAME, "traceloop.prompt.key", "prompt.id")
PROMPT_VERSION_KEYS = ("langfuse.observation.prompt.version", A.PROMPT_VERSION, "llm.prompt_template.version",
                       "traceloop.prompt.version")
TAG_KEYS = (A.TAGS, "tag.tags", "langfuse.trace.tags")
TTFT_SECONDS_KEYS = (A.TIME_TO_FIRST_CHUNK, "gen_ai.server.time_to_first_token")
FINISH_KEYS = (A.FINISH_REASONS, "gen_ai.response.finish_reason", "llm.finish_reason")
OPERATION_KEYS = (A.OPERATION, "llm.request.type")
# Span events that mark the first streamed token (OpenInference; OpenLLMetry's first chunk event).
FIRST_TOKEN_EVENTS = ("First Token Stream Event", "gen_ai.content.completion.chunk")

_OPERATION_KIND = {
    "chat": "llm", "text_completion": "llm", "generate_content": "llm", "completion": "llm",
    "embeddings": "embedding", "embedding": "embedding", "execute_tool": "tool", "retrieval": "retrieval",
    "rerank": "retrieval", "invoke_agent": "agent", "create_agent": "agent", "invoke_workflow": "chain",
}
# OpenLLMetry's llm.request.type -> OTel's gen_ai.operation.name
_REQUEST_TYPE_OPERATION = {"completion": "text_completion", "embedding": "embeddings"}
_OPENINFERENCE_KIND = {
    "LLM": "llm", "EMBEDDING": "embedding", "TOOL": "tool", "RETRIEVER": "retrieval", "RERANKER": "retrieval",
    "AGENT": "agent", "CHAIN": "chain", "GUARDRAIL": "other", "EVALUATOR": "other", "PROMPT": "other",
}
_TRACELOOP_KIND = {"workflow": "chain", "task": "chain", "agent": "agent", "tool": "tool"}
# Langfuse's generic "span" (its default) says nothing, so it is left to the other signals.
_LANGFUSE_KIND = {"generation": "llm", "embedding": "embedding", "agent": "agent", "tool": "tool",
                  "chain": "chain", "retriever": "retrieval", "guardrail": "other", "evaluator": "other",
                  "event": "other"}
# Old spellings and capitalized gen_ai.system values (OpenLLMetry legacy, OpenLIT, OpenInference) -> OTel's.
_PROVIDER_ALIASES = {"xai": "x_ai", "azure": "azure.ai.openai", "azure_openai": "azure.ai.openai",
                     "az.ai.inference": "azure.ai.inference", "aws": "aws.bedrock", "bedrock": "aws.bedrock",
                     "vertex_ai": "gcp.vertex_ai", "vertexai": "gcp.vertex_ai", "gemini": "gcp.gemini",
                     "google": "gcp.gen_ai", "mistralai": "mistral_ai", "mistral": "mistral_ai",
                     "watsonx": "ibm.watsonx.ai", "mistral ai": "mistral_ai"}
_PARAM_EXCLUDED = frozenset({"model", "user", "messages", "tools", "functions"})


class Draft(dict):  # type: ignore[type-arg]
    """SpanRecord fields being filled (a plain dict to steps), plus ``view``: the span's attribute view."""

    __slots__ = ("view", "parsed")
    view: SpanView
    parsed: dict[str, Any]  # OTel content attributes parsed once by ``content``, reused by ``lift_content``


Step = Callable[[RawSpan, Draft], None]  # steps written for a plain dict (pricing, redaction) fit too


# -- lookup helpers ------------------------------------------------------------------------------
def first(attrs: Mapping[str, Any], keys: Iterable[str]) -> Any:
    for key in keys:
        value = attrs.get(key)
        if value not in (None, "", [], {}, ()):
            return value
    return None


def first_str(attrs: Mapping[str, Any], keys: Iterable[str]) -> str:
    value = first(attrs, keys)
    return "" if value is None else str(value)


def _dict(value: Any) -> dict[str, Any]:
    value = C.json_value(value)
    return dict(value) if isinstance(value, dict) else {}


def provider_name(value: str) -> str:
    provider = value.strip().lower()
    return _PROVIDER_ALIASES.get(provider, provider)


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
    d["convention"] = C.detect(d.view, raw.scope_name, frozenset(e["name"] for e in raw.events))


def context(raw: RawSpan, d: Draft) -> None:
    a, r = raw.attributes, raw.resource
    d["service"] = str(r.get("service.name") or a.get("service.name") or "")
    d["environment"] = first_str(a, ENVIRONMENT_KEYS) or first_str(r, ENVIRONMENT_KEYS)
    d["release"] = first_str(a, RELEASE_KEYS) or first_str(r, RELEASE_KEYS)
    d["tenant"] = first_str(a, TENANT_KEYS) or first_str(r, TENANT_KEYS)
    d["user"] = first_str(a, USER_KEYS)
    d["session"] = first_str(a, SESSION_KEYS)
    d["tags"] = tags(first(a, TAG_KEYS))
    d["metadata"] = metadata(d.view)


def tags(value: Any) -> tuple[str, ...]:
    """An array, a JSON array string or a comma-separated string."""
    value = C.json_value(value)
    if isinstance(value, str):
        value = [t.strip() for t in value.split(",")]
    if isinstance(value, (list, tuple)):
        return tuple(str(t) for t in value if t not in (None, ""))
    return ()


def metadata(view: SpanView) -> dict[str, Any]:
    """Merged lowest precedence first: OpenLLMetry association properties, Langfuse trace then observation
    metadata (JSON or flattened ``.key`` attributes), OpenInference ``metadata``, ours."""
    a = view.attrs
    merged: dict[str, Any] = dict(view.group("traceloop.association.properties."))
    for key in ("langfuse.trace.metadata", "langfuse.observation.metadata"):
        merged.update(_dict(a.get(key)))
        merged.update({k: C.json_blob(v) for k, v in view.group(key + ".").items()})
    merged.update(_dict(a.get("metadata")))
    merged.update(_dict(a.get(A.METADATA)))
    return merged


def model_call(raw: RawSpan, d: Draft) -> None:
    a = raw.attributes
    d["model"] = first_str(a, MODEL_KEYS)
    invocation = _dict(a.get("llm.invocation_parameters"))  # OpenInference: JSON of the request's parameters
    d["request_model"] = (first_str(a, REQUEST_MODEL_KEYS) or str(invocation.get("model") or "")
                          or first_str(a, REQUEST_MODEL_FALLBACK_KEYS))
    d["provider"] = provider_name(first_str(a, PROVIDER_KEYS))
    operation = first_str(a, OPERATION_KEYS)
    d["operation"] = _REQUEST_TYPE_OPERATION.get(operation, operation)
    d["params"] = params(d.view, invocation)
    d["prompt_name"] = first_str(a, PROMPT_NAME_KEYS)
    d["prompt_version"] = first_str(a, PROMPT_VERSION_KEYS)
    d["finish_reason"] = C.finish_reason(first(a, FINISH_KEYS))
    d["time_to_first_token_ms"] = time_to_first_token_ms(raw)


def params(view: SpanView, invocation: Mapping[str, Any]) -> dict[str, Any]:
    """Request parameters, lowest precedence first: OpenInference's ``invocation`` parameters, OTel
    ``gen_ai.request.*``, Langfuse ``model.parameters``; tool definitions under ``tools`` (replay needs them)."""
    a = view.attrs
    merged = {k: v for k, v in invocation.items() if k not in _PARAM_EXCLUDED}
    merged.update((k, v) for k, v in view.group(A.REQUEST_PARAM_PREFIX).items() if k not in _PARAM_EXCLUDED)
    merged.update({k: C.json_value(v) for k, v in _dict(a.get("langfuse.observation.model.parameters")).items()
                   if k not in _PARAM_EXCLUDED})
    tools = tool_definitions(view)
    if tools:
        merged["tools"] = tools
    return merged


def tool_definitions(view: SpanView) -> list[Any]:
    definitions = C.json_value(view.attrs.get("gen_ai.tool.definitions"))
    if isinstance(definitions, list) and definitions:
        return definitions
    return [C.json_value(fields.get("tool.json_schema")) for _, fields in C.indexed(view.group("llm.tools."))
            if fields.get("tool.json_schema")]


def time_to_first_token_ms(raw: RawSpan) -> float | None:
    a = raw.attributes
    seconds = first(a, TTFT_SECONDS_KEYS)
    if seconds is not None:
        try:
            ms = float(seconds) * 1000
        except (TypeError, ValueError):
            ms = math.nan
        if 0 <= ms < math.inf:
            return ms
    started = C.json_blob(a.get("langfuse.observation.completion_start_time"))  # a JSON-encoded timestamp
    if isinstance(started, str):
        try:
            return max(0, parse_time(started) - raw.start_time_ns) / 1e6
        except ValueError:
            pass
    for event in raw.events:
        if event["name"] in FIRST_TOKEN_EVENTS:
            return max(0, event["time_ns"] - raw.start_time_ns) / 1e6
    return None


def kind(raw: RawSpan, d: Draft) -> None:
    d["kind"] = span_kind(raw.attributes, d.get("operation", ""), bool(d.get("model")))


def span_kind(a: Mapping[str, Any], operation: str, has_model: bool) -> str:
    """Langfuse's chain: explicit > OpenInference kind > operation > Traceloop kind > has a model -> LLM."""
    explicit = a.get(A.SPAN_KIND)
    if explicit in A.SPAN_KINDS:
        return explicit
    langfuse = str(a.get("langfuse.observation.type", "")).lower()
    if langfuse in _LANGFUSE_KIND:
        return _LANGFUSE_KIND[langfuse]
    openinference = str(a.get("openinference.span.kind", "")).upper()
    if openinference in _OPENINFERENCE_KIND:
        return _OPENINFERENCE_KIND[openinference]
    if operation in _OPERATION_KIND:
        return _OPERATION_KIND[operation]
    traceloop = str(a.get("traceloop.span.kind", ""))
    if traceloop in _TRACELOOP_KIND:
        return _TRACELOOP_KIND[traceloop]
    return "llm" if has_model else "other"


def usage(raw: RawSpan, d: Draft) -> None:
    counts = C.usage(raw.attributes)
    d.update(input_tokens=counts.input_tokens, output_tokens=counts.output_tokens,
             cache_read_tokens=counts.cache_read_tokens, cache_write_tokens=counts.cache_write_tokens,
             reasoning_tokens=counts.reasoning_tokens, reported_cost_usd=C.reported_cost(raw.attributes))


def _first_messages(sources: Iterable[Callable[[], list[dict[str, Any]]]]) -> list[dict[str, Any]]:
    # Sources are thunks so that lower-precedence conventions are not even parsed once one has content.
    for source in sources:
        messages = source()
        if messages:
            return messages
    return []


def content(raw: RawSpan, d: Draft) -> None:
    a, view = raw.attributes, d.view
    events: tuple[list[dict[str, Any]], list[dict[str, Any]]] | None = None

    def from_events(side: int) -> list[dict[str, Any]]:
        nonlocal events
        if events is None:
            events = C.span_event_messages(raw.events) if raw.events else ([], [])
        return events[side]

    input_mime, output_mime = str(a.get("input.mime_type") or ""), str(a.get("output.mime_type") or "")
    parsed = {key: C.json_value(a[key]) for key, _ in LIFTED_KEYS if key in a}
    if isinstance(d, Draft):
        d.parsed = parsed
    inputs = _first_messages((
        lambda: C.otel_messages(parsed.get(A.INPUT_MESSAGES), "user"),
        lambda: from_events(0),
        lambda: C.messages_from_value(a.get("gen_ai.prompt"), "user"),  # removed OTel attribute
        lambda: C.openinference_messages(view.group("llm.input_messages."), "user"),
        lambda: C.openinference_texts(view.group("llm.prompts."), "prompt.text", "user"),
        lambda: C.openllmetry_messages(view.group("gen_ai.prompt."), "user"),
        lambda: C.messages_from_value(a.get("traceloop.entity.input"), "user"),
        lambda: C.messages_from_value(a.get("input.value"), "user", input_mime),
        lambda: C.messages_from_value(a.get("langfuse.observation.input"), "user"),
    ))
    system = C.system_message(parsed.get(A.SYSTEM_INSTRUCTIONS))
    if system and not (inputs and inputs[0].get("role") == "system"):
        inputs = [system, *inputs]
    outputs = _first_messages((
        lambda: C.otel_messages(parsed.get(A.OUTPUT_MESSAGES), "assistant"),
        lambda: from_events(1),
        lambda: C.messages_from_value(a.get("gen_ai.completion"), "assistant"),
        lambda: C.openinference_messages(view.group("llm.output_messages."), "assistant"),
        lambda: C.openinference_texts(view.group("llm.choices."), "completion.text", "assistant"),
        lambda: C.openllmetry_messages(view.group("gen_ai.completion."), "assistant"),
        lambda: C.messages_from_value(a.get("traceloop.entity.output"), "assistant"),
        lambda: C.messages_from_value(a.get("output.value"), "assistant", output_mime),
        lambda: C.messages_from_value(a.get("langfuse.observation.output"), "assistant"),
    ))
    d["input_messages"] = tuple(inputs)
    d["output_messages"] = tuple(outputs)
    # Tool calls and our SDK's generic spans carry plain input/output: searchable text, not messages.
    d["input_text"] = C.flatten(inputs) or _text(first(a, (A.INPUT, A.TOOL_CALL_ARGUMENTS, A.RETRIEVAL_QUERY)))
    d["output_text"] = C.flatten(outputs) or _text(first(a, (A.OUTPUT, A.TOOL_CALL_RESULT, A.RETRIEVAL_DOCUMENTS)))
    if not d["finish_reason"]:
        d["finish_reason"] = C.last_finish_reason(outputs)
    d["redacted"] = bool(a.get(A.REDACTED_KINDS))  # the SDK redacted content before export


# Attributes whose content the canonical columns hold in full: the raw copy is replaced by a marker so the
# largest values are not stored (and encoded, logged, compressed) twice.
LIFTED_KEYS = ((A.INPUT_MESSAGES, "input_messages"), (A.SYSTEM_INSTRUCTIONS, "input_messages"),
               (A.OUTPUT_MESSAGES, "output_messages"))


def _well_formed_parts(parts: Any) -> bool:
    return isinstance(parts, list) and all(isinstance(p, dict) and isinstance(p.get("type"), str) for p in parts)


def _well_formed(key: str, value: Any) -> bool:
    """Only values in the exact OTel shape are lifted: the canonical parse of anything else may lose detail."""
    if key == A.SYSTEM_INSTRUCTIONS:
        return _well_formed_parts(value)
    return isinstance(value, list) and all(
        isinstance(m, dict) and isinstance(m.get("role"), str) and _well_formed_parts(m.get("parts")) for m in value)


def lift_content(raw: RawSpan, d: Draft) -> None:
    parsed = getattr(d, "parsed", {})
    lifted = {key: f"<stored in {column}>" for key, column in LIFTED_KEYS
              if key in parsed and d[column] and _well_formed(key, parsed[key])}
    if lifted:
        d["attributes"] = {**raw.attributes, **lifted}


def _text(value: Any) -> str:
    if value is None:
        return ""
    return (value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))[:C.MAX_TEXT_CHARS]


def error_status(raw: RawSpan, d: Draft) -> None:
    a = raw.attributes
    langfuse_error = str(a.get("langfuse.observation.level", "")).upper() == "ERROR"
    if d["status"] != "error" and (a.get(A.ERROR_TYPE) or langfuse_error):
        d["status"] = "error"
    if d["status"] == "error" and not d["status_message"]:
        d["status_message"] = str(a.get("langfuse.observation.status_message") or "") or exception_message(raw.events)


def exception_message(events: Iterable[Mapping[str, Any]]) -> str:
    for event in events:
        if event["name"] == "exception":
            attrs = event["attributes"]
            return f"{attrs.get('exception.type', '')}: {attrs.get('exception.message', '')}"
    return ""


STEPS: tuple[Step, ...] = (identity, detect_convention, context, model_call, kind, usage, content, lift_content,
                          error_status)


def make_project_defaults_step(tenant: str = "", environment: str = "") -> Step:
    """Fill what a span did not say from its project's settings (the reference's "else the project's default")."""

    def project_defaults(raw: RawSpan, d: dict[str, Any]) -> None:
        if tenant and not d.get("tenant"):
            d["tenant"] = tenant
        if environment and not d.get("environment"):
            d["environment"] = environment

    return project_defaults


def normalize(raw: RawSpan, project: str, extra_steps: Iterable[Step] = ()) -> SpanRecord:
    draft = Draft(project=project)
    draft.view = view_of(raw.attributes)
    for step in (*STEPS, *extra_steps):
        step(raw, draft)
    return SpanRecord.of(draft)
