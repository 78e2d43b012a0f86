"""Message content that arrives as OTLP log records, joined to spans on (trace_id, span_id) (pure).

Semconv GenAI "events" are log records: ``gen_ai.client.inference.operation.details`` (current: the whole
call, with ``gen_ai.input.messages`` / ``gen_ai.output.messages`` / ``gen_ai.system_instructions`` as
attributes) and, before v1.37, one record per message (``gen_ai.{system,user,assistant,tool}.message`` with
body ``{content, role?, tool_calls?, id?}``, ``gen_ai.choice`` with ``{index, finish_reason, message}``).
Some instrumentations send content only this way (``EVENT_ONLY``), so the span alone has no messages.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Iterable, Mapping

from tracehouse.storage.record import SpanRecord

from ..otlp import RawLog
from ._messages import (CHOICE_EVENT, EVENT_ROLES, Message, body_message, event_body, flatten,
                        last_finish_reason, otel_messages, system_message)

OPERATION_DETAILS = "gen_ai.client.inference.operation.details"
GENAI_LOG_EVENTS = frozenset({OPERATION_DETAILS, CHOICE_EVENT, *EVENT_ROLES})
SpanKey = tuple[str, str]  # (trace_id, span_id)


@dataclass(frozen=True)
class LogContent:
    input_messages: tuple[Message, ...] = ()
    output_messages: tuple[Message, ...] = ()


def _details(log: RawLog) -> tuple[list[Message], list[Message]]:
    # The semconv puts the content in attributes; accept a kvlist body too (some SDKs log it that way).
    body = log.body if isinstance(log.body, dict) else {}

    def get(key: str) -> Any:
        return log.attributes.get(key, body.get(key))

    inputs = otel_messages(get("gen_ai.input.messages"), "user")
    system = system_message(get("gen_ai.system_instructions"))
    if system:
        inputs = [system, *inputs]
    return inputs, otel_messages(get("gen_ai.output.messages"), "assistant")


def _choice_index(log: RawLog) -> int:
    body = log.body if isinstance(log.body, dict) else event_body(log.attributes)
    try:
        return int(body.get("index", 0))
    except (TypeError, ValueError):
        return 0


def content_from_logs(logs: Iterable[RawLog]) -> dict[SpanKey, LogContent]:
    """GenAI message events among ``logs`` -> content per span. Records with no span id, and log records
    that are not GenAI events, are ignored. An ``operation.details`` record wins over per-message events."""
    by_span: dict[SpanKey, list[RawLog]] = {}
    for log in logs:
        if log.span_id and log.event_name in GENAI_LOG_EVENTS:
            by_span.setdefault((log.trace_id, log.span_id), []).append(log)
    return {key: _span_content(records) for key, records in by_span.items()}


def _span_content(records: list[RawLog]) -> LogContent:
    for log in records:
        if log.event_name == OPERATION_DETAILS:
            inputs, outputs = _details(log)
            if inputs or outputs:
                return LogContent(tuple(inputs), tuple(outputs))
    inputs: list[Message] = []
    outputs: list[Message] = []
    # sorted() is stable: records with equal timestamps keep the order they were exported in.
    for log in sorted(records, key=lambda r: r.time_ns):
        if log.event_name in EVENT_ROLES:
            found = body_message(log.event_name, log.body if log.body is not None else event_body(log.attributes))
            if found:
                inputs.append(found[1])
    for log in sorted((r for r in records if r.event_name == CHOICE_EVENT), key=_choice_index):
        found = body_message(CHOICE_EVENT, log.body if log.body is not None else event_body(log.attributes))
        if found:
            outputs.append(found[1])
    return LogContent(tuple(inputs), tuple(outputs))


def apply_log_content(record: SpanRecord, content: LogContent) -> SpanRecord:
    """Fill the sides of ``record`` that have no messages from ``content``; a side it has is kept."""
    changes: dict[str, Any] = {}
    if not record.input_messages and content.input_messages:
        changes.update(input_messages=content.input_messages, input_text=flatten(content.input_messages))
    if not record.output_messages and content.output_messages:
        changes.update(output_messages=content.output_messages, output_text=flatten(content.output_messages))
        if not record.finish_reason:
            changes["finish_reason"] = last_finish_reason(content.output_messages)
    return replace(record, **changes) if changes else record
