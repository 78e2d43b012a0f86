"""Replay providers on the official openai and anthropic clients, against local fake servers speaking their wire
protocols (JSON and SSE, tool calls): what is sent, what comes back, errors; plus the pure conversions."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.fakes_sdk import Answer, FakeAnthropic, FakeOpenAI
from tracehouse.collector.replay import (AnthropicProvider, OpenAIProvider, ProviderError, ProviderNotConfigured,
                                         Providers, ReplayRequest)
from tracehouse.collector.replay import _convert

KEY = "sk-test-secret-0123456789"
SYSTEM = {"role": "system", "parts": [{"type": "text", "content": "Be brief."}]}
USER = {"role": "user", "parts": [{"type": "text", "content": "Weather in Oslo?"}]}
CALL = {"role": "assistant", "parts": [{"type": "tool_call", "id": "call_1", "name": "get_weather",
                                        "arguments": {"city": "Oslo"}}]}
RESULT = {"role": "tool", "parts": [{"type": "tool_call_response", "id": "call_1", "response": '{"temp_c": 3}'}]}
CONVERSATION = (SYSTEM, USER, CALL, RESULT)
TOOL = {"type": "function", "name": "get_weather", "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}


@pytest.fixture
def openai_server():
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def anthropic_server():
    with FakeAnthropic() as server:
        yield server


def test_openai_request_carries_messages_tools_and_every_parameter(openai_server):
    provider = OpenAIProvider(openai_server.base_url_v1, KEY, max_retries=0)
    params = _convert.canonical_params({"seed": 42, "temperature": 0.3, "max_completion_tokens": 100,
                                        "stop_sequences": ["\n\n"], "choice.count": 1, "top_k": 5, "stream": True,
                                        "response_format": '{"type": "json_object"}', "tool_choice": "auto"})
    result = provider.complete(ReplayRequest("gpt-4o-mini", CONVERSATION, (TOOL,), params))
    body = openai_server.requests[-1].json()
    assert openai_server.requests[-1].headers["authorization"] == f"Bearer {KEY}"
    assert body["model"] == "gpt-4o-mini" and "stream" not in body
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather in Oslo?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": '{"temp_c": 3}'},
    ]
    assert body["tools"] == [{"type": "function", "function": {k: v for k, v in TOOL.items() if k != "type"}}]
    assert (body["seed"], body["temperature"], body["max_completion_tokens"]) == (42, 0.3, 100)
    assert (body["stop"], body["n"], body["top_k"]) == (["\n\n"], 1, 5)  # top_k via extra_body (vLLM)
    assert body["response_format"] == {"type": "json_object"} and body["tool_choice"] == "auto"
    assert result.output_messages == ({"role": "assistant", "parts": [{"type": "text", "content": "Hello there!"}],
                                       "finish_reason": "stop"},)
    assert (result.provider, result.model, result.finish_reason) == ("openai", "gpt-4o-mini-2025-01-01", "stop")
    assert (result.usage.input_tokens, result.usage.output_tokens) == (12, 7)
    assert result.time_to_first_token_ms is None and result.latency_ms > 0 and result.dropped_params == ()


def test_openai_stream_with_tool_calls_yields_deltas_then_the_result(openai_server):
    openai_server.answer = Answer(text="Checking the weather now", input_tokens=40, output_tokens=9,
                                  tool_calls=[("call_7", "get_weather", {"city": "Bergen"})], cached_tokens=32,
                                  reasoning_tokens=4, chunk_delay_s=0.01)
    provider = OpenAIProvider(openai_server.base_url_v1, KEY, max_retries=0)
    items = list(provider.stream(ReplayRequest("gpt-4o-mini", (USER,), (TOOL,), {}, stream=True)))
    deltas, result = items[:-1], items[-1]
    assert "".join(deltas) == "Checking the weather now" and len(deltas) == 4
    body = openai_server.requests[-1].json()
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert result.output_messages[0]["parts"] == [
        {"type": "text", "content": "Checking the weather now"},
        {"type": "tool_call", "id": "call_7", "name": "get_weather", "arguments": {"city": "Bergen"}}]
    assert result.finish_reason == "tool_call"  # OTel's name for tool_calls
    assert result.usage.input_tokens == 40 and result.usage.cache_read_tokens == 32
    assert result.usage.reasoning_tokens == 4
    assert 0 < result.time_to_first_token_ms <= result.latency_ms


def test_anthropic_request_lifts_system_and_translates_tool_turns(anthropic_server):
    provider = AnthropicProvider(anthropic_server.base_url, KEY, max_retries=0)
    params = {"temperature": 0.2, "max_tokens": 300, "stop_sequences": ["END"], "top_k": 10,
              "tool_choice": {"type": "auto"}}
    result = provider.complete(ReplayRequest("claude-haiku-4-5", CONVERSATION, (TOOL,), params))
    request = anthropic_server.requests[-1]
    body = request.json()
    assert KEY in (request.headers.get("x-api-key"), request.headers.get("authorization", "").removeprefix("Bearer "))
    assert body["system"] == "Be brief." and body["max_tokens"] == 300
    assert body["messages"] == [
        {"role": "user", "content": "Weather in Oslo?"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "call_1", "name": "get_weather",
                                           "input": {"city": "Oslo"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_1", "content": '{"temp_c": 3}'}]},
    ]
    assert body["tools"] == [{"name": "get_weather", "description": "Weather for a city",
                              "input_schema": TOOL["parameters"]}]
    assert (body["temperature"], body["top_k"], body["stop_sequences"]) == (0.2, 10, ["END"])
    assert body["tool_choice"] == {"type": "auto"}
    assert result.output_messages[0]["parts"] == [{"type": "text", "content": "Hello there!"}]
    assert (result.provider, result.finish_reason) == ("anthropic", "stop")


def test_anthropic_stream_with_tool_calls_counts_cache_inside_input(anthropic_server):
    anthropic_server.answer = Answer(text="Let me check", tool_calls=[("toolu_1", "get_weather", {"city": "Oslo"})],
                                     input_tokens=10, output_tokens=20, cached_tokens=100, cache_write_tokens=5)
    provider = AnthropicProvider(anthropic_server.base_url, KEY, max_retries=0)
    items = list(provider.stream(ReplayRequest("claude-haiku-4-5", (SYSTEM, USER), (TOOL,), {"max_tokens": 50},
                                               stream=True)))
    result = items[-1]
    assert "".join(items[:-1]) == "Let me check"
    assert anthropic_server.requests[-1].json()["stream"] is True
    assert result.output_messages[0]["parts"][1] == {"type": "tool_call", "id": "toolu_1", "name": "get_weather",
                                                     "arguments": {"city": "Oslo"}}
    assert result.finish_reason == "tool_call"
    assert (result.usage.input_tokens, result.usage.cache_read_tokens, result.usage.cache_write_tokens) == (115, 100, 5)
    assert result.time_to_first_token_ms is not None


def test_moving_a_call_between_families_drops_what_the_target_does_not_take(anthropic_server, openai_server):
    params = {"seed": 7, "temperature": 0.5, "frequency_penalty": 0.1, "max_completion_tokens": 64, "top_k": 3}
    anthropic = AnthropicProvider(anthropic_server.base_url, KEY, max_retries=0)
    result = anthropic.complete(ReplayRequest("claude-haiku-4-5", (USER,), (), params, forward_unknown_params=False))
    body = anthropic_server.requests[-1].json()
    assert "seed" not in body and "frequency_penalty" not in body and "top_k" not in body
    assert (body["max_tokens"], body["temperature"]) == (64, 0.5)
    assert set(result.dropped_params) == {"seed", "frequency_penalty", "top_k"}
    openai = OpenAIProvider(openai_server.base_url_v1, KEY, max_retries=0)
    result = openai.complete(ReplayRequest("gpt-4o-mini", (USER,), (), {"top_k": 3, "seed": 1},
                                           forward_unknown_params=False))
    assert "top_k" not in openai_server.requests[-1].json() and result.dropped_params == ("top_k",)


def test_anthropic_without_a_recorded_max_tokens_uses_the_documented_default(anthropic_server):
    AnthropicProvider(anthropic_server.base_url, KEY, max_retries=0).complete(
        ReplayRequest("claude-haiku-4-5", (USER,)))
    assert anthropic_server.requests[-1].json()["max_tokens"] == _convert.ANTHROPIC_DEFAULT_MAX_TOKENS


@pytest.mark.parametrize("family", ["openai", "anthropic"])
def test_provider_errors_carry_status_and_message_never_the_key(family, openai_server, anthropic_server):
    server = openai_server if family == "openai" else anthropic_server
    server.answer = Answer(status=429, error_message=f"slow down (key {KEY} over quota)")
    provider = (OpenAIProvider(openai_server.base_url_v1, KEY, max_retries=0) if family == "openai"
                else AnthropicProvider(anthropic_server.base_url, KEY, max_retries=0))
    for stream in (False, True):
        with pytest.raises(ProviderError) as caught:
            if stream:
                list(provider.stream(ReplayRequest("m", (USER,), stream=True)))
            else:
                provider.complete(ReplayRequest("m", (USER,)))
        error = caught.value
        assert (error.provider, error.status_code, error.http_status) == (family, 429, 502)
        assert "slow down" in str(error) and "429" in str(error)
        assert KEY not in str(error) and KEY not in json.dumps(error.as_dict())
        assert KEY not in repr(provider)


def test_unreachable_provider_is_a_provider_error_without_status():
    with FakeOpenAI() as server:
        url = server.base_url_v1
    provider = OpenAIProvider(url, KEY, max_retries=0, timeout_s=5)
    with pytest.raises(ProviderError) as caught:
        provider.complete(ReplayRequest("gpt-4o-mini", (USER,)))
    assert caught.value.status_code is None and "unreachable" in str(caught.value)


def test_providers_from_settings_and_family_choice():
    providers = Providers.from_settings(openai_base_url="http://127.0.0.1:9/v1")
    assert providers.families == ("openai",)
    assert providers.family_for("azure.ai.openai", "gpt-4o") == "openai"
    assert providers.family_for("anthropic", "claude-haiku-4-5") == "anthropic"
    assert providers.family_for("openai", "claude-sonnet-4-5", model_changed=True) == "anthropic"
    assert providers.family_for("anthropic", "llama3", model_changed=True) == "anthropic"
    assert providers.family_for("openai", "x", explicit="anthropic") == "anthropic"
    with pytest.raises(ProviderNotConfigured, match="TRACEHOUSE_ANTHROPIC_API_KEY"):
        providers.get("anthropic")
    assert Providers.from_settings().families == ()


# -- pure conversions -------------------------------------------------------------------------------------------
def test_tool_definitions_in_every_recorded_shape_become_otel_flat():
    openai_shape = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    anthropic_shape = {"name": "f", "input_schema": {"type": "object"}}
    flat = {"type": "function", "name": "f", "parameters": {"type": "object"}}
    assert _convert.canonical_tools([openai_shape]) == [flat]
    assert _convert.canonical_tools(json.dumps([anthropic_shape])) == [flat]
    assert _convert.canonical_tools([flat]) == [flat]


def test_params_are_canonicalized():
    assert _convert.canonical_params({"stop": "END", "n": 2, "stream": True, "tools": [], "seed": None,
                                      "response_format": '{"type": "json_object"}'}) == {
        "stop_sequences": ["END"], "choice.count": 2, "response_format": {"type": "json_object"}}


def test_tool_choice_both_ways():
    assert _convert.anthropic_tool_choice("required") == {"type": "any"}
    assert _convert.anthropic_tool_choice({"type": "function", "function": {"name": "f"}}) == {"type": "tool",
                                                                                               "name": "f"}
    assert _convert.openai_tool_choice({"type": "any"}) == "required"
    assert _convert.openai_tool_choice({"type": "tool", "name": "f"}) == {"type": "function", "function": {"name": "f"}}


def test_anthropic_recorded_tool_results_inside_user_messages_become_openai_tool_messages():
    messages = [
        {"role": "assistant", "parts": [{"type": "text", "content": "Looking"},
                                        {"type": "tool_call", "name": "f", "arguments": {"a": 1}}]},
        {"role": "user", "parts": [{"type": "tool_call_response", "response": [{"type": "text", "text": "ok"}]},
                                   {"type": "text", "content": "and then?"}]},
    ]
    out = _convert.openai_messages(messages)
    assert out[0] == {"role": "assistant", "content": "Looking", "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}}]}
    assert out[1]["role"] == "tool" and out[1]["tool_call_id"] == "call_1"  # missing ids paired in order
    assert out[2] == {"role": "user", "content": "and then?"}


def test_consecutive_messages_of_one_role_are_merged_for_anthropic():
    system, messages = _convert.anthropic_messages([
        SYSTEM, {"role": "developer", "parts": [{"type": "text", "content": "Use metric units."}]}, USER,
        {"role": "user", "parts": [{"type": "blob", "modality": "image", "mime_type": "image/png", "content": "AAAA"}]},
    ])
    assert system == [{"type": "text", "text": "Be brief."}, {"type": "text", "text": "Use metric units."}]
    assert messages == [{"role": "user", "content": [
        {"type": "text", "text": "Weather in Oslo?"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}}]}]


def test_importing_replay_loads_no_client_library_or_web_framework():
    code = ("import sys, json, tracehouse.collector.replay; "
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('openai', 'anthropic', 'fastapi', 'streamlit', 'numpy'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == []


def test_public_surface_is_pinned():
    import tracehouse.collector.replay as replay

    assert sorted(replay.__all__) == sorted([
        "MAX_BATCH_SPANS", "AnthropicProvider", "BatchReplays", "Evaluator", "InvalidReplayRequest",
        "NotReplayable", "OpenAIProvider", "Provider", "ProviderError", "ProviderNotConfigured", "Providers",
        "ReplayBusy", "ReplayError", "ReplayOverrides", "ReplayRequest", "ReplayResult", "RunNotFound",
        "SpanNotFound", "TokenUsage", "compare_cohorts", "compare_spans", "find_span", "replay_span",
        "replay_span_events", "replay_trajectory", "select_spans"])
