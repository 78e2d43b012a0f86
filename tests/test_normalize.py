"""Normalization steps and pricing on hand-built raw spans (pure)."""

from __future__ import annotations

import json

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


# -- pricing: overrides, the table fast path, flags ------------------------------------------------
from decimal import Decimal  # noqa: E402

from genai_prices import Usage, data_snapshot  # noqa: E402
from genai_prices.types import ModelPrice, TieredPrices  # noqa: E402

from tracehouse.collector.pricing import (PriceOverrides, Rate, TieredRate, cost_from_rate, flat_rate,  # noqa: E402
                                          library_costs, make_price_step, table_entry)


def priced(attrs: dict, overrides: PriceOverrides | None = None):
    return normalize(raw(attrs), "p", (make_price_step(overrides),))


def test_project_overrides_win_over_the_table():
    overrides = PriceOverrides.from_config([{"model": "gpt-4o-mini*", "input": 1.0, "output": 2.0,
                                              "cache_read": 0.5}])
    r = priced(GENAI_CHAT_ATTRS, overrides)  # 1200 in (1000 cached), 80 out
    assert r.cost_source == "computed"
    assert (r.cost_input_usd, r.cost_cache_usd, r.cost_output_usd) == pytest.approx((200e-6, 500e-6, 160e-6))
    assert r.cost_usd == pytest.approx(860e-6)


def test_overrides_price_models_the_table_does_not_know():
    attrs = {**GENAI_CHAT_ATTRS, "gen_ai.response.model": "acme-ft-7", "gen_ai.request.model": "acme-ft-7"}
    assert priced(attrs).cost_source == "unpriced"
    r = priced(attrs, PriceOverrides.from_config([{"model": "ACME-FT-*", "input": 3, "output": 6}]))
    # no cache price: cached tokens are billed at the input price, never dropped
    assert (r.cost_input_usd, r.cost_cache_usd) == pytest.approx((1200 * 3e-6, 0.0))
    assert r.cost_usd == pytest.approx(1200 * 3e-6 + 80 * 6e-6)


def test_override_matching_exact_beats_glob_and_provider_limits_apply():
    overrides = PriceOverrides.from_config([
        {"model": "gpt-*", "input": 1, "output": 1},
        {"model": "gpt-4o", "input": 2, "output": 2},
        {"model": "gpt-4o", "provider": "azure.ai.openai", "input": 3, "output": 3},
        {"model": "gpt-4*", "input": 4, "output": 4},
    ])
    assert overrides.find("openai", "gpt-4o") == Rate(2, 2)
    assert overrides.find("azure.ai.openai", "gpt-4o") == Rate(3, 3)  # exact, provider-limited, listed later
    assert overrides.find("openai", "gpt-4o-mini") == Rate(1, 1)  # first listed glob
    assert overrides.find("openai", "claude") is None


@pytest.mark.parametrize("config, problem", [
    ([{"model": "m", "input": 1}], "required"),
    ([{"model": "", "input": 1, "output": 1}], "empty"),
    ([{"model": "m", "input": -1, "output": 1}], ">= 0"),
    ([{"model": "m", "input": "cheap", "output": 1}], "cheap"),
    ([{"input": 1, "output": 1}], "model"),
])
def test_bad_override_config_names_the_entry(config, problem):
    with pytest.raises(ValueError, match="price override #0") as info:
        PriceOverrides.from_config(config)
    assert problem in str(info.value)


@pytest.mark.parametrize("attrs, source", [
    ({"gen_ai.usage.input_tokens": 10}, "unpriced"),  # tokens but no model: visible, never guessed
    ({"gen_ai.request.model": "gpt-4o", "gen_ai.usage.cost": 0.2}, "reported"),  # no tokens, client cost
    ({"gen_ai.request.model": "gpt-4o"}, "none"),
])
def test_cost_source_flags(attrs, source):
    r = priced(attrs)
    assert r.cost_source == source and r.cost_usd == 0.0


def _table_models():
    for provider in data_snapshot.get_snapshot().providers:
        for model in provider.models:
            if isinstance(model.prices, ModelPrice):
                yield provider.id, model.id, model.prices


USAGES = ((250_000, 3_000, 100_000, 20_000), (150_000, 3_000, 100_000, 20_000), (10, 5, 0, 0), (0, 7, 0, 0))


def test_fast_paths_equal_the_library_for_every_table_entry():
    checked = {"flat": 0, "tiered": 0}
    for provider, model, model_price in _table_models():
        fast = flat_rate(model_price)
        tiered = None if fast else TieredRate.of(model_price)
        if fast is None and tiered is None:
            continue
        checked["flat" if fast else "tiered"] += 1
        for tokens_in, tokens_out, cache_read, cache_write in USAGES:
            library = model_price.calc_price(Usage(input_tokens=tokens_in, output_tokens=tokens_out,
                                                   cache_read_tokens=cache_read, cache_write_tokens=cache_write))
            ours = (cost_from_rate(tokens_in, tokens_out, cache_read, cache_write, fast) if fast
                    else tiered.costs(tokens_in, tokens_out, cache_read, cache_write))
            where = f"{provider}/{model} {tokens_in, tokens_out, cache_read, cache_write}"
            assert ours.total == pytest.approx(float(library["total_price"]), rel=1e-9, abs=1e-15), where
            assert ours.input + ours.cache == pytest.approx(float(library["input_price"]), rel=1e-9, abs=1e-15), where
            assert ours.output == pytest.approx(float(library["output_price"]), rel=1e-9, abs=1e-15), where
    assert checked["flat"] > 1000 and checked["tiered"] > 50  # the table still has both kinds


def test_tiered_prices_switch_tier_on_total_input_and_split_cache_at_the_tier_rate():
    entry = table_entry("anthropic", "claude-sonnet-4-5")
    assert isinstance(entry, TieredRate)
    tier = entry.prices["cache_read_mtok"]
    assert isinstance(tier, TieredPrices)
    start, above = tier.tiers[0].start, float(tier.tiers[0].price)
    attrs = {"gen_ai.provider.name": "anthropic", "gen_ai.request.model": "claude-sonnet-4-5",
             "gen_ai.usage.input_tokens": start + 50_000, "gen_ai.usage.output_tokens": 10,
             "gen_ai.usage.cache_read.input_tokens": 100_000}
    r = priced(attrs)
    assert r.cost_cache_usd == pytest.approx(100_000 * above / 1e6)
    assert r.cost_cache_usd > 100_000 * float(tier.base) / 1e6  # the higher tier applied to all tokens
    assert r.cost_usd == pytest.approx(r.cost_input_usd + r.cost_cache_usd + r.cost_output_usd)


def test_entries_with_other_unit_prices_use_the_library():
    model_price = ModelPrice(input_mtok=Decimal("1"), output_mtok=Decimal("2"), requests_kcount=Decimal("5"))
    assert flat_rate(model_price) is None and TieredRate.of(model_price) is None
    costs = library_costs(model_price, 1000, 1000, 0, 0, 0)
    assert costs.total == pytest.approx(0.001 + 0.002 + 0.005)  # the per-request price is in the total


def test_table_lookups_are_cached_per_provider_and_model():
    table_entry.cache_clear()
    for _ in range(3):
        priced(GENAI_CHAT_ATTRS)
    info = table_entry.cache_info()
    assert (info.misses, info.hits) == (1, 2)


def test_project_defaults_fill_only_what_the_span_did_not_say():
    from tracehouse.collector.normalize import make_project_defaults_step

    defaults = make_project_defaults_step(tenant="default-co", environment="prod")
    bare = normalize(raw({}), "p", (defaults,))
    assert (bare.tenant, bare.environment) == ("default-co", "prod")
    told = normalize(raw({"traceloop.association.properties.customer_id": "globex",
                          "deployment.environment": "dev"}), "p", (defaults,))
    assert (told.tenant, told.environment) == ("globex", "dev")


WEIRD_VALUES = (None, 0, -3, 1.5, float("nan"), float("inf"), "1e999", 10**30, True, "", "[", "{bad json", "[1, 2]", '{"role": 5}', [1, "a", None],
                {"nested": {"x": [1]}}, [{"role": None, "parts": "x"}], [{"parts": [None, 3, {"type": None}]}],
                '[{"role": "user", "content": [{"type": "image_url", "image_url": 7}]}]', {"type": "tool_call"})


def _keys_read_by_normalization() -> list[str]:
    """Every attribute key used in the golden payloads: the keys the convention readers look at."""
    from pathlib import Path
    keys: set[str] = set()
    for path in (Path(__file__).parent / "data" / "golden").glob("*.json"):
        if not path.name.endswith((".expected.json", ".logs.json")):
            body = json.loads(path.read_text())
            keys |= {kv["key"] for rs in body["resourceSpans"] for ss in rs["scopeSpans"] for s in ss["spans"]
                     for kv in s["attributes"]}
    return sorted(keys)


@pytest.mark.parametrize("value", WEIRD_VALUES, ids=repr)
def test_any_value_under_any_known_key_never_breaks_normalization(value):
    """A span is never dropped for what its attributes hold: hostile or malformed values normalize."""
    keys = _keys_read_by_normalization()
    assert len(keys) > 100
    attrs = {key: value for key in keys}
    events = tuple({"name": name, "time_ns": 5, "attributes": {"content": value, "message": value, "index": value,
                                                                "gen_ai.event.content": value}}
                   for name in ("gen_ai.user.message", "gen_ai.tool.message", "gen_ai.choice", "exception",
                                "gen_ai.content.prompt", "First Token Stream Event"))
    record = normalize(raw(attrs, events=events), "p", (price,))
    assert record.attributes == attrs
    json.dumps([record.input_messages, record.output_messages, record.params, record.metadata], default=str)


@pytest.mark.parametrize("value", WEIRD_VALUES, ids=repr)
def test_numbers_from_hostile_values_stay_storable(value):
    import math

    attrs = {k: value for k in ("gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens", "gen_ai.usage.cost",
                                "gen_ai.response.time_to_first_chunk", "gen_ai.usage.cache_read.input_tokens")}
    r = normalize(raw({**attrs, "gen_ai.request.model": "gpt-4o"}), "p", (price,))
    for n in (r.input_tokens, r.output_tokens, r.cache_read_tokens):
        assert 0 <= n <= 2**32 - 1  # the columns are UInt32
    for x in (r.cost_usd, r.cost_input_usd, r.cost_cache_usd, r.cost_output_usd, r.reported_cost_usd,
              r.time_to_first_token_ms):
        assert x is None or (math.isfinite(x) and x >= 0)


def test_sdk_retrieval_spans_and_redaction_marker():
    r = normalize(raw({"tracehouse.span.kind": "retrieval", "gen_ai.retrieval.query.text": "refund policy",
                       "gen_ai.retrieval.documents": '[{"id": "d1", "content": "30 days"}]',
                       "tracehouse.redaction.kinds": ["EMAIL"]}), "p")
    assert r.kind == "retrieval" and r.input_text == "refund policy" and "30 days" in r.output_text
    assert r.redacted is True
