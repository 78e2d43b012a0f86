"""instrument_anthropic() with the real anthropic client against a local fake server speaking the messages wire
protocol (JSON and the SSE event stream): system, tools, usage with cache tokens, streams, errors."""

from __future__ import annotations

import asyncio

import anthropic
import pytest
from opentelemetry.trace import StatusCode

import tracehouse
from tests.fakes_sdk import Answer, FakeAnthropic
from tests.fakes_sdk.memory import Memory, attrs, loads
from tracehouse import _anthropic

TOOLS = [{"name": "get_weather", "description": "Weather for a city",
          "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}]
SYSTEM = [{"type": "text", "text": "You are terse.", "cache_control": {"type": "ephemeral"}}]
MESSAGES = [{"role": "user", "content": "Weather in Oslo?"}]


@pytest.fixture
def server():
    with FakeAnthropic() as s:
        yield s


@pytest.fixture
def memory():
    m = Memory()
    yield m
    tracehouse.shutdown()
    _anthropic.uninstrument()


def client_for(server: FakeAnthropic, cls=anthropic.Anthropic):
    return cls(base_url=server.base_url, api_key="sk-ant-test", max_retries=0)


def test_message_with_tools_system_and_cache_usage(server, memory):
    server.answer = Answer(text="Checking.", tool_calls=[("toolu_1", "get_weather", {"city": "Oslo"})],
                           input_tokens=20, output_tokens=15, cached_tokens=100, cache_write_tokens=50)
    client = tracehouse.instrument_anthropic(client_for(server))
    message = client.messages.create(model="claude-test-1", max_tokens=256, system=SYSTEM, messages=MESSAGES,
                                     tools=TOOLS, stop_sequences=["###"], metadata={"user_id": "u-1"},
                                     thinking={"type": "disabled"},
                                     extra_body={"temperature": 0.5, "top_k": 40})  # not named in anthropic 2.x
    assert message.content[1].name == "get_weather"
    span = memory.one("chat claude-test-1")
    a = attrs(span)
    assert (a["gen_ai.provider.name"], span.kind.name) == ("anthropic", "CLIENT")
    assert (a["gen_ai.request.max_tokens"], a["gen_ai.request.temperature"], a["gen_ai.request.top_k"]) == (256, 0.5, 40)
    assert a["gen_ai.request.stop_sequences"] == ["###"]
    assert a["gen_ai.request.thinking"] == '{"type":"disabled"}' and a["gen_ai.request.metadata"] == '{"user_id":"u-1"}'
    assert loads(span, "gen_ai.system_instructions") == [{"type": "text", "content": "You are terse."}]
    assert loads(span, "gen_ai.tool.definitions") == [{"type": "function", "name": "get_weather",
                                                       "description": "Weather for a city",
                                                       "parameters": TOOLS[0]["input_schema"]}]
    assert loads(span, "gen_ai.output.messages") == [{"role": "assistant", "finish_reason": "tool_use", "parts": [
        {"type": "text", "content": "Checking."},
        {"type": "tool_call", "id": "toolu_1", "name": "get_weather", "arguments": {"city": "Oslo"}}]}]
    # OTel counts cache reads and writes inside the input tokens; Anthropic's input_tokens leaves them out
    assert a["gen_ai.usage.input_tokens"] == 170 and a["gen_ai.usage.output_tokens"] == 15
    assert (a["gen_ai.usage.cache_read.input_tokens"], a["gen_ai.usage.cache_creation.input_tokens"]) == (100, 50)
    assert a["gen_ai.response.finish_reasons"] == ["tool_use"] and a["gen_ai.response.id"] == "msg_fake1"


def test_tool_results_in_the_conversation_become_tool_call_responses(server, memory):
    client = tracehouse.instrument_anthropic(client_for(server))
    client.messages.create(model="claude", max_tokens=50, messages=[
        *MESSAGES,
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "get_weather",
                                           "input": {"city": "Oslo"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "-3C"}]},
    ])
    messages = loads(memory.one(), "gen_ai.input.messages")
    assert messages[2] == {"role": "user", "parts": [{"type": "tool_call_response", "id": "toolu_1",
                                                      "response": "-3C"}]}


def test_event_stream_is_passed_through_untouched_with_usage_and_ttft(server, memory):
    server.answer = Answer(text="Cold and dark.", tool_calls=[("toolu_2", "get_weather", {"city": "Oslo"})],
                           input_tokens=5, output_tokens=21, cached_tokens=7, first_chunk_delay_s=0.05)
    expected = [e.model_dump() for e in client_for(server).messages.create(
        model="claude", max_tokens=99, messages=MESSAGES, stream=True)]
    client = tracehouse.instrument_anthropic(client_for(server))
    stream = client.messages.create(model="claude", max_tokens=99, messages=MESSAGES, stream=True)
    assert isinstance(stream, anthropic.Stream)
    with stream:
        events = [e.model_dump() for e in stream]
    assert events == expected
    span = memory.one()
    a = attrs(span)
    assert loads(span, "gen_ai.output.messages") == [{"role": "assistant", "finish_reason": "tool_use", "parts": [
        {"type": "text", "content": "Cold and dark."},
        {"type": "tool_call", "id": "toolu_2", "name": "get_weather", "arguments": {"city": "Oslo"}}]}]
    assert a["gen_ai.usage.input_tokens"] == 12 and a["gen_ai.usage.output_tokens"] == 21  # from message_delta
    assert 0.05 <= a["gen_ai.response.time_to_first_chunk"] < 5 and a["gen_ai.request.stream"] is True
    assert server.requests[-1].json()["stream"] is True


def test_stream_closed_early_ends_the_span(server, memory):
    server.answer = Answer(text="a b c d e f")
    client = tracehouse.instrument_anthropic(client_for(server))
    with client.messages.create(model="claude", max_tokens=9, messages=MESSAGES, stream=True) as stream:
        for event in stream:
            if event.type == "content_block_delta":
                break
    span = memory.one()
    assert loads(span, "gen_ai.output.messages")[0]["parts"] == [{"type": "text", "content": "a "}]


def test_errors_are_recorded_and_raised_unchanged(server, memory):
    server.answer = Answer(status=529, error_message="Overloaded")
    client = tracehouse.instrument_anthropic(client_for(server))
    with pytest.raises(anthropic.APIStatusError, match="Overloaded") as info:
        client.messages.create(model="claude", max_tokens=9, messages=MESSAGES)
    assert info.value.status_code == 529
    span = memory.one()
    assert span.status.status_code is StatusCode.ERROR and span.attributes["http.response.status_code"] == 529


def test_async_client_plain_streamed_and_failing(server, memory):
    async def main():
        client = tracehouse.instrument_anthropic(client_for(server, anthropic.AsyncAnthropic))
        message = await client.messages.create(model="claude", max_tokens=9, messages=MESSAGES)
        stream = await client.messages.create(model="claude", max_tokens=9, messages=MESSAGES, stream=True)
        assert isinstance(stream, anthropic.AsyncStream)
        types = [e.type async for e in stream]
        server.answer = Answer(status=429)
        with pytest.raises(anthropic.RateLimitError):
            await client.messages.create(model="claude", max_tokens=9, messages=MESSAGES)
        return message, types

    message, types = asyncio.run(main())
    assert message.content[0].text == "Hello there!" and types[0] == "message_start" and types[-1] == "message_stop"
    plain, streamed, failed = memory.spans()
    for span in (plain, streamed):
        assert loads(span, "gen_ai.output.messages")[0]["parts"] == [{"type": "text", "content": "Hello there!"}]
        assert span.attributes["gen_ai.usage.output_tokens"] == 7
    assert failed.attributes["error.type"] == "RateLimitError"


def test_module_wide_instrumentation_and_uninstrument(server, memory):
    tracehouse.instrument_anthropic()
    tracehouse.instrument_anthropic()
    client_for(server).messages.create(model="claude", max_tokens=9, messages=MESSAGES)
    asyncio.run(client_for(server, anthropic.AsyncAnthropic).messages.create(
        model="claude", max_tokens=9, messages=MESSAGES))
    assert len(memory.spans()) == 2
    _anthropic.uninstrument()
    client_for(server).messages.create(model="claude", max_tokens=9, messages=MESSAGES)
    assert len(memory.spans()) == 2


def test_redacted_policy_applies_to_instrumented_calls(server):
    memory = Memory(capture_content="redacted")
    try:
        server.answer = Answer(text="I emailed jane@example.com")
        client = tracehouse.instrument_anthropic(client_for(server))
        client.messages.create(model="claude", max_tokens=9, messages=[
            {"role": "user", "content": "my card is 4111 1111 1111 1111"}])
        a = attrs(memory.one())
        assert "<CARD>" in a["gen_ai.input.messages"] and "<EMAIL>" in a["gen_ai.output.messages"]
        assert "4111" not in a["gen_ai.input.messages"] and "jane@" not in a["gen_ai.output.messages"]
    finally:
        tracehouse.shutdown()
