"""A project's content policy, applied by the collector to every record before it is logged (pure).

``full`` stores content as the client sent it; ``redacted`` replaces PII and secrets in every string the
record carries (messages, text, attributes, events, metadata, status message) with typed placeholders from
``tracehouse.redaction``; ``none`` keeps no content at all: messages and text are emptied and the content
attributes and message events of every convention are dropped, and what remains (custom attributes, metadata,
status message) is redacted as under ``redacted``; model, tokens, cost, timing and context stay. The collector's policy wins over what clients send: a client's own redaction can only add to it.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from tracehouse import _attributes as A
from tracehouse.redaction import redact, redact_value
from tracehouse.storage.record import SpanRecord

POLICIES = ("full", "redacted", "none")

# Attribute keys that carry prompt, completion, tool or document content, across OTel GenAI (current and
# legacy), OpenInference, OpenLLMetry, OpenLIT, Langfuse and our SDK. Prefixes end with a dot.
_CONTENT_KEYS = frozenset({
    "gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions", "gen_ai.tool.definitions",
    "gen_ai.tool.call.arguments", "gen_ai.tool.call.result", "gen_ai.prompt", "gen_ai.completion",
    "gen_ai.retrieval.query.text", "gen_ai.retrieval.documents", "input.value", "output.value",
    "traceloop.entity.input", "traceloop.entity.output", "langfuse.observation.input", "langfuse.observation.output",
    "langfuse.trace.input", "langfuse.trace.output", "llm.prompts", "llm.tools",
    "gen_ai.content.prompt", "gen_ai.content.completion",
}) | A.CONTENT_KEYS
_CONTENT_PREFIXES = ("gen_ai.prompt.", "gen_ai.completion.", "llm.input_messages.", "llm.output_messages.",
                     "llm.prompts.", "llm.completions.", "retrieval.documents.", "reranker.input_documents.",
                     "reranker.output_documents.", "reranker.query", "embedding.embeddings.", "llm.tools.",
                     "message.", "tool_call.", "gen_ai.tool.call.", "tracehouse.retrieval.")
# Span events whose attributes are message content (legacy GenAI events, OpenLIT, OpenLLMetry).
_CONTENT_EVENT_PREFIXES = ("gen_ai.user.", "gen_ai.system.", "gen_ai.assistant.", "gen_ai.tool.", "gen_ai.choice",
                           "gen_ai.content.", "gen_ai.client.inference.operation.details")


def check_policy(value: Any) -> str:
    if value not in POLICIES:
        raise ValueError(f"redaction policy must be one of {', '.join(POLICIES)}, got {value!r}")
    return str(value)


def is_content_key(key: str) -> bool:
    return key in _CONTENT_KEYS or key.startswith(_CONTENT_PREFIXES)


def _is_content_event(event: dict[str, Any]) -> bool:
    return str(event.get("name", "")).startswith(_CONTENT_EVENT_PREFIXES)


def apply_policy(record: SpanRecord, policy: str) -> SpanRecord:
    if policy == "redacted":
        return _redacted(record)
    if policy == "none":
        return _without_content(record)
    return record


def _redacted(record: SpanRecord) -> SpanRecord:
    changes = {
        "input_messages": redact_value(record.input_messages), "output_messages": redact_value(record.output_messages),
        "input_text": redact(record.input_text), "output_text": redact(record.output_text),
        "attributes": redact_value(record.attributes), "events": redact_value(record.events),
        "metadata": redact_value(record.metadata), "status_message": redact(record.status_message),
        "params": redact_value(record.params),
    }
    changed = any(getattr(record, name) != value for name, value in changes.items())
    return dataclasses.replace(record, **changes, redacted=record.redacted or changed)


def _without_content(record: SpanRecord) -> SpanRecord:
    return _redacted(dataclasses.replace(
        record, input_messages=(), output_messages=(), input_text="", output_text="",
        attributes={k: v for k, v in record.attributes.items() if not is_content_key(k)},
        events=tuple(e for e in record.events if not _is_content_event(e)),
        redacted=True,
    ))
