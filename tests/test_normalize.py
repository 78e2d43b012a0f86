"""Normalization steps and pricing on hand-built raw spans (pure)."""

from __future__ import annotations

import pytest

from tracehouse.collector.normalize import normalize
from tracehouse.collector.otlp import RawSpan, decode_traces
from tracehouse.collector.pricing import price

from .otlp_payloads import GENAI_CHAT_ATTRS, encoded_genai_trace


def raw(attributes: dict, name: str = "span", status: int = 0, resource: dict | None = None,
        scope: str = "x", events: tuple = ()) -> RawSpan:
    return RawSpan("a" * 32, "b" * 16, "", name, 1, 1_000, 2_000_000, status, "", attributes, events, (),
                   resource or {"service.name": "svc"}, scope, "")


def test_otel_genai_chat_span_fills_every_canonical_field():
    r = normalize(raw(GENAI_CHAT_ATTRS, "chat gpt-4o-mini"), "proj", (price,))
    assert (r.project, r.kind, r.operation, r.provider) == ("proj", "llm", "chat", "openai")
    assert r.model == "gpt-4o-mini-2024-07-18" and r.request_model == "gpt-4o-mini"
    assert (r.input_tokens, r.output_tokens, r.cache_read_tokens) == (1200, 80, 1000)
    assert r.params == {"temperature": 0.3, "max_tokens": 256}
    assert r.finish_reason == "stop"
    assert (r.tenant, r.user, r.session, r.service) == ("acme", "user-9", "conv-1", "svc")
    assert r.input_messages[0] == {"role": "system", "parts": [{"type": "text", "content": "You are a support agent."}]}
    assert r.input_messages[1]["parts"][0]["content"] == "Where is my order 123?"
    assert r.output_messages[0]["finish_reason"] == "stop"
    assert "Where is my order 123?" in r.input_text and r.output_text == "It ships today."
    assert r.convention == "otel_genai"
    assert r.duration_ms == pytest.approx(1.999)


def test_cost_prices_cache_reads_at_the_cache_rate():
    r = normalize(raw(GENAI_CHAT_ATTRS), "p", (price,))
    assert r.cost_source == "computed"
    # gpt-4o-mini: $0.15/M input, $0.075/M cached input, $0.60/M output
    assert r.cost_input_usd == pytest.approx(200 * 0.15e-6)
    assert r.cost_cache_usd == pytest.approx(1000 * 0.075e-6)
    assert r.cost_output_usd == pytest.approx(80 * 0.6e-6)
    assert r.cost_usd == pytest.approx(r.cost_input_usd + r.cost_cache_usd + r.cost_output_usd)


def test_unknown_model_is_unpriced_never_guessed():
    attrs = {**GENAI_CHAT_ATTRS, "gen_ai.response.model": "my-private-model-7", "gen_ai.request.model": "my-private-model-7"}
    r = normalize(raw(attrs), "p", (price,))
    assert r.cost_source == "unpriced" and r.cost_usd == 0.0


def test_reported_cost_is_kept_apart_from_ours():
    r = normalize(raw({**GENAI_CHAT_ATTRS, "gen_ai.usage.cost": 0.5}), "p", (price,))
    assert r.reported_cost_usd == 0.5 and r.cost_source == "computed" and r.cost_usd < 0.01


def test_structured_messages_are_accepted_like_json_strings():
    structured = {**GENAI_CHAT_ATTRS, "gen_ai.input.messages": [
        {"role": "user", "parts": [{"type": "text", "content": "Where is my order 123?"}]}]}
    assert normalize(raw(structured), "p").input_messages == normalize(raw(GENAI_CHAT_ATTRS), "p").input_messages


@pytest.mark.parametrize("attributes, kind", [
    ({"tracehouse.span.kind": "retrieval"}, "retrieval"),
    ({"gen_ai.operation.name": "execute_tool"}, "tool"),
    ({"gen_ai.operation.name": "embeddings"}, "embedding"),
    ({"gen_ai.operation.name": "invoke_agent"}, "agent"),
    ({"openinference.span.kind": "RETRIEVER"}, "retrieval"),
    ({"traceloop.span.kind": "workflow"}, "chain"),
    ({"llm.model_name": "gpt-4o"}, "llm"),
    ({"http.method": "GET"}, "other"),
])
def test_kind_detection(attributes, kind):
    assert normalize(raw(attributes), "p").kind == kind


def test_fallback_keys_follow_the_reference_precedence():
    r = normalize(raw({
        "gen_ai.system": "OpenAI", "llm.model_name": "gpt-4o", "gen_ai.usage.prompt_tokens": 10,
        "gen_ai.usage.completion_tokens": 5, "session.id": "s-1", "gen_ai.conversation.id": "c-1",
        "traceloop.association.properties.customer_id": "globex", "enduser.id": "u-2",
        "tag.tags": ["a", "b"], "deployment.environment": "staging",
    }), "p")
    assert (r.provider, r.model, r.input_tokens, r.output_tokens) == ("openai", "gpt-4o", 10, 5)
    assert (r.session, r.tenant, r.user, r.tags, r.environment) == ("s-1", "globex", "u-2", ("a", "b"), "staging")


def test_environment_and_release_fall_back_to_resource():
    r = normalize(raw({}, resource={"service.name": "s", "deployment.environment.name": "prod",
                                    "service.version": "1.4"}), "p")
    assert (r.environment, r.release) == ("prod", "1.4")


def test_error_status_takes_the_exception_event_as_message():
    event = {"time_ns": 1, "name": "exception", "attributes": {"exception.type": "TimeoutError",
                                                                 "exception.message": "read timed out"}}
    r = normalize(raw({}, status=2, events=(event,)), "p")
    assert r.status == "error" and r.status_message == "TimeoutError: read timed out"
    assert normalize(raw({"error.type": "429"}), "p").status == "error"


def test_unknown_attributes_are_kept_whole():
    r = normalize(raw({"vendor.thing": {"nested": [1, 2]}, "x": 1}), "p")
    assert r.attributes == {"vendor.thing": {"nested": [1, 2]}, "x": 1}


def test_a_whole_decoded_trace_normalizes():
    spans, _ = decode_traces(encoded_genai_trace(), "protobuf")
    records = {r.name: r for r in (normalize(s, "p", (price,)) for s in spans)}
    assert records["invoke_agent support"].kind == "agent"
    assert records["execute_tool lookup"].status == "error"
    assert records["chat gpt-4o-mini"].parent_span_id == records["invoke_agent support"].span_id


@pytest.mark.parametrize("reported, canonical", [
    ("tool_calls", "tool_call"), ("max_tokens", "length"), ("end_turn", "stop"), ("length", "length"),
])
def test_finish_reasons_map_to_otel_values(reported, canonical):
    assert normalize(raw({"gen_ai.response.finish_reasons": [reported]}), "p").finish_reason == canonical


def test_cache_counts_larger_than_input_are_clamped_and_still_priced():
    attrs = {**GENAI_CHAT_ATTRS, "gen_ai.usage.cache_creation.input_tokens": 900}  # 1000 read + 900 > 1200
    r = normalize(raw(attrs), "p", (price,))
    assert r.cost_source == "computed" and r.cost_usd > 0
