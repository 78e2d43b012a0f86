"""Which convention produced a span (pure), from its attribute namespaces, marker keys, events and scope.

Checked most specific first, because conventions overlap: Langfuse and OpenLLMetry 0.5 also send OTel
``gen_ai.*`` names, OpenLIT sends current OTel names plus its extras.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from ._messages import CHOICE_EVENT, EVENT_ROLES
from ._view import SpanView

TRACEHOUSE = "tracehouse"
LANGFUSE = "langfuse"
OPENINFERENCE = "openinference"
OPENLIT = "openlit"
OPENLLMETRY_LEGACY = "openllmetry_legacy"  # semconv-ai <= 0.4: flattened gen_ai.prompt.N.*
OPENLLMETRY = "openllmetry"  # semconv-ai 0.5: OTel names plus leftovers
OTEL_GENAI_LEGACY = "otel_genai_legacy"  # pre-1.37 GenAI: gen_ai.system, message events, old token names
OTEL_GENAI = "otel_genai"
OTEL = "otel"  # plain spans, no LLM convention
CONVENTIONS = (TRACEHOUSE, LANGFUSE, OPENINFERENCE, OPENLIT, OPENLLMETRY_LEGACY, OPENLLMETRY,
               OTEL_GENAI_LEGACY, OTEL_GENAI, OTEL)

_OPENINFERENCE_MARKERS = ("openinference.span.kind", "llm.model_name", "llm.token_count.prompt",
                          "llm.token_count.total", "llm.invocation_parameters", "input.mime_type")
_OPENLIT_MARKERS = ("gen_ai.usage.cost", "gen_ai.server.time_to_first_token", "gen_ai.server.time_per_output_token",
                    "gen_ai.usage.prompt_tokens_details.cached_tokens", "gen_ai.request.is_stream")
_OPENLLMETRY_LEGACY_MARKERS = ("llm.request.type", "llm.usage.total_tokens", "llm.is_streaming",
                               "gen_ai.usage.cache_read_input_tokens", "gen_ai.usage.cache_creation_input_tokens")
_OPENLLMETRY_MARKERS = ("gen_ai.is_streaming", "gen_ai.usage.total_tokens", "gen_ai.openai.api_base",
                        "gen_ai.request.reasoning_effort", "gen_ai.response.finish_reason", "gen_ai.user")
_OTEL_LEGACY_MARKERS = ("gen_ai.prompt", "gen_ai.completion", "gen_ai.usage.prompt_tokens",
                        "gen_ai.usage.completion_tokens")
_LEGACY_EVENTS = frozenset({*EVENT_ROLES, CHOICE_EVENT})
_OPENLIT_EVENTS = frozenset({"gen_ai.content.prompt", "gen_ai.content.completion"})


def _has_any(attrs: Mapping[str, Any], keys: Iterable[str]) -> bool:
    return any(k in attrs for k in keys)


def _has_index(group: Mapping[str, Any]) -> bool:
    return any(k[:1].isdigit() for k in group)


def detect(view: SpanView, scope_name: str, event_names: frozenset[str]) -> str:
    a = view.attrs
    if scope_name == "tracehouse":
        return TRACEHOUSE
    if "langfuse" in view.namespaces:
        return LANGFUSE
    if "openinference" in view.namespaces or _has_any(a, _OPENINFERENCE_MARKERS) \
            or view.group("llm.input_messages.") or view.group("llm.output_messages."):
        return OPENINFERENCE
    if scope_name.startswith("openlit") or _has_any(a, _OPENLIT_MARKERS) or event_names & _OPENLIT_EVENTS:
        return OPENLIT
    if _has_any(a, _OPENLLMETRY_LEGACY_MARKERS) or _has_index(view.group("gen_ai.prompt.")) \
            or _has_index(view.group("gen_ai.completion.")):
        return OPENLLMETRY_LEGACY
    if "traceloop" in view.namespaces or _has_any(a, _OPENLLMETRY_MARKERS):
        return OPENLLMETRY
    if "gen_ai" in view.namespaces or event_names & _LEGACY_EVENTS:
        legacy = ("gen_ai.system" in a and "gen_ai.provider.name" not in a) or _has_any(a, _OTEL_LEGACY_MARKERS) \
            or bool(event_names & _LEGACY_EVENTS)
        return OTEL_GENAI_LEGACY if legacy else OTEL_GENAI
    return OTEL
