"""Readers of the LLM attribute conventions (pure): OTel GenAI (current and legacy), OpenInference,
OpenLLMetry (legacy and 0.5), OpenLIT, Langfuse. Attribute names and precedence follow
``shared/reference/ingest-conventions.md``; ``tracehouse.collector.normalize`` chains them into a record.
"""

from ._detect import CONVENTIONS, detect
from ._logs import OPERATION_DETAILS, LogContent, apply_log_content, content_from_logs
from ._messages import (MAX_TEXT_CHARS, finish_reason, flatten, json_blob, json_value, last_finish_reason,
                        messages_from_value, openinference_messages, openinference_texts, openllmetry_messages,
                        otel_messages, span_event_messages, system_message, to_parts)
from ._usage import Usage, reported_cost, usage
from ._view import SpanView, indexed, view_of

__all__ = [
    "CONVENTIONS", "MAX_TEXT_CHARS", "OPERATION_DETAILS", "LogContent", "SpanView", "Usage", "apply_log_content",
    "content_from_logs", "detect", "finish_reason", "flatten", "indexed", "json_blob", "json_value",
    "last_finish_reason", "messages_from_value", "openinference_messages", "openinference_texts",
    "openllmetry_messages", "otel_messages", "reported_cost", "span_event_messages", "system_message", "to_parts",
    "usage", "view_of",
]
