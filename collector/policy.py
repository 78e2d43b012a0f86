"""A project's content policy, applied by the collector to every record before it is logged (pure).

``full`` stores content as the client sent it; ``redacted`` replaces PII and secrets in every string the
record carries (messages, text, attributes, events, metadata, status message) with typed placeholders from
``tracehouse.redaction``; ``none`` keeps no content at all: messages and text are emptied and the content
attributes and message events of every convention are dropped, and what remains (custom attributes, metadata,
status message) is redacted as under ``redacted``; model, tokens, cost, timing and context stay. The collector's policy wins over what clients send: a client's own redaction can only add to it.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

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


_FIELDS = ("input_messages", "output_messages", "input_text", "output_text", "attributes", "events", "metadata",
           "status_message", "params", "redacted")


def stricter(a: str, b: str) -> str:
    """The stricter of two policies (an export may tighten the project's policy, never loosen it)."""
    return max(a, b, key=POLICIES.index)


def policy_changes(fields: Mapping[str, Any], policy: str) -> dict[str, Any]:
    """The new values of the content fields (SpanRecord / span JSON names) under ``policy``."""
    if policy == "full":
        return {}
    if policy == "none":
        fields = {**fields, "input_messages": (), "output_messages": (), "input_text": "", "output_text": "",
                  "attributes": {k: v for k, v in fields["attributes"].items() if not is_content_key(k)},
                  "events": tuple(e for e in fields["events"] if not _is_content_event(e))}
    changes = {name: redact(fields[name]) if isinstance(fields[name], str) else redact_value(fields[name])
               for name in _FIELDS[:-1]}
    changed = policy == "none" or any(changes[name] != fields[name] for name in changes)
    changes["redacted"] = bool(fields["redacted"]) or changed
    return changes


def apply_policy(record: SpanRecord, policy: str) -> SpanRecord:
    if policy == "full":
        return record
    return dataclasses.replace(record, **policy_changes({f: getattr(record, f) for f in _FIELDS}, policy))


def apply_policy_json(span: dict[str, Any], policy: str) -> dict[str, Any]:
    """The same on a span as the API serializes it (exports apply the policy again to older rows)."""
    if policy == "full":
        return span
    changes = policy_changes(span, policy)
    return {**span, **{k: list(v) if isinstance(v, tuple) else v for k, v in changes.items()}}
