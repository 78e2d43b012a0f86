"""Token usage, reported cost and convention detection across conventions (pure)."""

from __future__ import annotations

import json

import pytest

from tracehouse.collector.conventions import Usage, detect, reported_cost, usage, view_of


@pytest.mark.parametrize("attrs, expected", [
    ({"gen_ai.usage.input_tokens": 10, "gen_ai.usage.prompt_tokens": 99, "llm.token_count.prompt": 98},
     Usage(input_tokens=10)),  # current OTel name wins over deprecated and OpenInference ones
    ({"gen_ai.usage.prompt_tokens": "12", "gen_ai.usage.completion_tokens": 3.0}, Usage(12, 3)),
    ({"llm.token_count.prompt": 100, "llm.token_count.total": 130}, Usage(100, 30)),  # total fills output
    ({"gen_ai.usage.completion_tokens": 5, "llm.usage.total_tokens": 15}, Usage(10, 5)),  # ... or input
    ({"llm.token_count.total": 50}, Usage()),  # a total alone cannot be split: nothing is invented
    ({"gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 2, "gen_ai.usage.total_tokens": 500},
     Usage(10, 2)),  # a total is never added on top
    ({"gen_ai.usage.input_tokens": 10, "gen_ai.usage.cache_read_input_tokens": 4,
      "gen_ai.usage.cache_creation_input_tokens": 3, "gen_ai.usage.output_tokens": 9,
      "llm.usage.reasoning_tokens": 5}, Usage(10, 9, 4, 3, 5)),
    ({"gen_ai.usage.input_tokens": True, "gen_ai.usage.output_tokens": "n/a"}, Usage()),  # not counts
    ({"gen_ai.usage.input_tokens": -5}, Usage()),
])
def test_token_precedence_and_totals(attrs, expected):
    assert usage(attrs) == expected


@pytest.mark.parametrize("details, expected", [
    # Langfuse buckets are disjoint: canonical input = input + cached buckets (OTel's "input includes cache").
    ({"input": 400, "output": 50, "cache_read_input_tokens": 600, "total": 1050}, Usage(1000, 50, 600, 0, 0)),
    ({"input": 100, "input_cached_tokens": 900, "output": 20, "output_reasoning_tokens": 80},
     Usage(1000, 100, 900, 0, 80)),
    ({"input": 10, "cache_creation_input_tokens": 30, "output": 1}, Usage(40, 1, 0, 30, 0)),
    ({"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9}, Usage(7, 2)),
])
def test_langfuse_usage_details_are_disjoint_buckets(details, expected):
    attrs = {"langfuse.observation.usage_details": json.dumps(details),
             "gen_ai.usage.input_tokens": 1, "gen_ai.usage.output_tokens": 1}  # explicit vendor keys win
    assert usage(attrs) == expected


def test_langfuse_usage_details_partial_falls_back_per_field():
    attrs = {"langfuse.observation.usage_details": {"output": 8}, "gen_ai.usage.input_tokens": 30}
    assert usage(attrs) == Usage(30, 8)


@pytest.mark.parametrize("attrs, cost", [
    ({"langfuse.observation.cost_details": '{"input": 1.0, "output": 2.0, "total": 3.5}', "gen_ai.usage.cost": 9},
     3.5),
    ({"langfuse.observation.cost_details": {"input": 1.0, "output": 2.0}}, 3.0),
    ({"gen_ai.usage.cost": 0.25, "llm.cost.total": 9}, 0.25),
    ({"llm.cost.total": "0.5"}, 0.5),
    ({"llm.cost.prompt": 0.1, "llm.cost.completion": 0.2}, pytest.approx(0.3)),
    ({"gen_ai.usage.cost": 0}, 0.0),
    ({"gen_ai.usage.cost": "nan"}, None),
    ({"gen_ai.usage.cost": -1}, None),
    ({}, None),
])
def test_reported_cost_precedence(attrs, cost):
    assert reported_cost(attrs) == cost


@pytest.mark.parametrize("attrs, scope, events, convention", [
    ({"gen_ai.operation.name": "chat"}, "tracehouse", (), "tracehouse"),
    ({"langfuse.observation.type": "generation", "gen_ai.request.model": "m"}, "x", (), "langfuse"),
    ({"openinference.span.kind": "LLM"}, "x", (), "openinference"),
    ({"llm.input_messages.0.message.role": "user"}, "x", (), "openinference"),
    ({"gen_ai.system": "openai"}, "openlit.otel.tracing", (), "openlit"),
    ({"gen_ai.usage.cost": 0.1}, "x", (), "openlit"),
    ({"gen_ai.system": "openai"}, "x", ("gen_ai.content.prompt",), "openlit"),
    ({"gen_ai.prompt.0.content": "hi"}, "x", (), "openllmetry_legacy"),
    ({"llm.request.type": "chat"}, "x", (), "openllmetry_legacy"),
    ({"gen_ai.prompt.name": "p", "gen_ai.provider.name": "openai"}, "x", (), "otel_genai"),  # not an index
    ({"traceloop.span.kind": "task"}, "x", (), "openllmetry"),
    ({"gen_ai.provider.name": "openai", "gen_ai.is_streaming": True}, "x", (), "openllmetry"),
    ({"gen_ai.system": "openai"}, "x", (), "otel_genai_legacy"),
    ({"gen_ai.provider.name": "openai"}, "x", ("gen_ai.choice",), "otel_genai_legacy"),
    ({"gen_ai.provider.name": "openai", "gen_ai.system": "openai"}, "x", (), "otel_genai"),
    ({"http.method": "GET"}, "x", (), "otel"),
])
def test_convention_detection(attrs, scope, events, convention):
    assert detect(view_of(attrs), scope, frozenset(events)) == convention


def test_view_groups_by_prefix_in_one_pass():
    view = view_of({"gen_ai.request.model": "m", "gen_ai.request.top_k": 3, "gen_ai.prompt.0.role": "user",
                    "gen_ai.prompt.name": "p", "other": 1})
    assert view.group("gen_ai.request.") == {"model": "m", "top_k": 3}
    assert view.group("gen_ai.prompt.") == {"0.role": "user", "name": "p"}
    assert view.group("llm.input_messages.") == {}
    assert view.namespaces == {"gen_ai", "other"}


def test_public_surface_is_pinned():
    from tracehouse.collector import conventions

    assert sorted(conventions.__all__) == sorted([
        "CONVENTIONS", "MAX_TEXT_CHARS", "OPERATION_DETAILS", "LogContent", "SpanView", "Usage",
        "apply_log_content", "content_from_logs", "detect", "finish_reason", "flatten", "indexed", "json_blob",
        "json_value", "last_finish_reason", "messages_from_value", "openinference_messages", "openinference_texts",
        "openllmetry_messages", "otel_messages", "reported_cost", "span_event_messages", "system_message",
        "to_parts", "usage", "view_of"])
    assert all(hasattr(conventions, name) for name in conventions.__all__)
