"""instrument_openai() with the real openai client against a local fake server speaking the chat completions
wire protocol (JSON and SSE): requests, answers, tool calls, usage, streams passed through untouched, errors."""

from __future__ import annotations

import asyncio
import gc
import json

import openai
import pytest
from opentelemetry.trace import StatusCode

import tracehouse
from tests.fakes_sdk import Answer, FakeOpenAI
from tests.fakes_sdk.memory import Memory, attrs, loads
from tracehouse import _openai

TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Weather for a city",
                                           "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                                          "required": ["city"]}}}]
MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Weather in Oslo?"}]


@pytest.fixture
def server():
    with FakeOpenAI() as s:
        yield s


@pytest.fixture
def memory():
    m = Memory()
    yield m
    tracehouse.shutdown()
    _openai.uninstrument()


def client_for(server: FakeOpenAI, cls=openai.OpenAI):
    return cls(base_url=server.base_url_v1, api_key="sk-test", max_retries=0)


def test_completion_with_tools_and_params_records_everything_for_replay(server, memory):
    server.answer = Answer(text="", tool_calls=[("call_1", "get_weather", {"city": "Oslo"})], input_tokens=50,
                           output_tokens=12, cached_tokens=32, reasoning_tokens=4)
    client = tracehouse.instrument_openai(client_for(server))
    with tracehouse.context(prompt_name="weather-bot", prompt_version="2"):
        result = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, tools=TOOLS, seed=42,
                                                temperature=0.3, max_completion_tokens=100, n=1, stop=["\n\n"],
                                                tool_choice="auto", user="u-9", extra_body={"top_k": 5})
    assert result.choices[0].message.tool_calls[0].function.name == "get_weather"
    span = memory.one("chat gpt-4o")
    a = attrs(span)
    assert (a["gen_ai.provider.name"], a["gen_ai.operation.name"], span.kind.name) == ("openai", "chat", "CLIENT")
    assert a["gen_ai.request.seed"] == 42 and a["gen_ai.request.temperature"] == 0.3
    assert a["gen_ai.request.max_completion_tokens"] == 100 and a["gen_ai.request.stop_sequences"] == ["\n\n"]
    assert a["gen_ai.request.tool_choice"] == "auto" and a["gen_ai.request.top_k"] == 5
    assert (a["server.address"], a["server.port"]) == ("127.0.0.1", server.port)
    assert loads(span, "gen_ai.tool.definitions")[0]["name"] == "get_weather"
    assert loads(span, "gen_ai.input.messages")[0] == {"role": "system",
                                                        "parts": [{"type": "text", "content": "Be brief."}]}
    assert loads(span, "gen_ai.output.messages") == [{"role": "assistant", "finish_reason": "tool_calls", "parts": [
        {"type": "tool_call", "id": "call_1", "name": "get_weather", "arguments": {"city": "Oslo"}}]}]
    assert a["gen_ai.response.finish_reasons"] == ["tool_calls"] and a["gen_ai.response.id"] == "chatcmpl-fake1"
    assert a["gen_ai.response.model"] == "gpt-4o-2025-01-01"
    assert (a["gen_ai.usage.input_tokens"], a["gen_ai.usage.cache_read.input_tokens"]) == (50, 32)
    assert (a["gen_ai.usage.output_tokens"], a["gen_ai.usage.reasoning.output_tokens"]) == (12, 4)
    assert (a["gen_ai.prompt.name"], a["tracehouse.prompt.version"]) == ("weather-bot", "2")
    assert "gen_ai.response.time_to_first_chunk" not in a
    sent = server.requests[-1].json()
    assert "stream_options" not in sent and sent["seed"] == 42  # the request itself is untouched


def plain_stream_items(server: FakeOpenAI, **kwargs) -> list:
    """What an uninstrumented client sees for the same request."""
    return [c.model_dump() for c in client_for(server).chat.completions.create(
        model="gpt-4o", messages=MESSAGES, stream=True, **kwargs)]


def test_stream_is_passed_through_untouched_and_usage_is_recorded(server, memory):
    server.answer = Answer(text="It is cold in Oslo.", tool_calls=[("call_2", "get_weather", {"city": "Oslo"})],
                           input_tokens=30, output_tokens=9, cached_tokens=8, first_chunk_delay_s=0.05)
    expected = plain_stream_items(server)
    client = tracehouse.instrument_openai(client_for(server))
    stream = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
    assert isinstance(stream, openai.Stream)
    with stream:
        items = [c.model_dump() for c in stream]
    assert items == expected  # same chunks, no extra usage chunk, although we asked for usage
    assert server.requests[-1].json()["stream_options"] == {"include_usage": True}
    span = memory.one("chat gpt-4o")
    a = attrs(span)
    assert loads(span, "gen_ai.output.messages") == [{"role": "assistant", "finish_reason": "tool_calls", "parts": [
        {"type": "text", "content": "It is cold in Oslo."},
        {"type": "tool_call", "id": "call_2", "name": "get_weather", "arguments": {"city": "Oslo"}}]}]
    assert (a["gen_ai.usage.input_tokens"], a["gen_ai.usage.output_tokens"]) == (30, 9)
    assert a["gen_ai.usage.cache_read.input_tokens"] == 8 and a["gen_ai.request.stream"] is True
    assert 0.05 <= a["gen_ai.response.time_to_first_chunk"] < 5
    assert "gen_ai.request.stream_options" not in a


def test_stream_options_chosen_by_the_caller_are_respected(server, memory):
    client = tracehouse.instrument_openai(client_for(server))
    with_usage = list(client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True,
                                                     stream_options={"include_usage": True}))
    assert with_usage[-1].usage is not None and with_usage[-1].choices == []  # the caller asked: it gets it
    list(client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True,
                                        stream_options={"include_usage": False}))
    assert server.requests[-1].json()["stream_options"] == {"include_usage": False}
    first, second = memory.spans()
    assert first.attributes["gen_ai.usage.input_tokens"] == 12
    assert "gen_ai.usage.input_tokens" not in second.attributes  # nothing to read, nothing invented
    assert second.attributes["gen_ai.response.finish_reasons"] == ("stop",)


def test_include_usage_off_leaves_the_request_alone(server, memory):
    client = tracehouse.instrument_openai(client_for(server), include_usage=False)
    list(client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True))
    assert "stream_options" not in server.requests[-1].json()
    assert "chat gpt-4o" in memory.by_name()


def test_stream_closed_early_ends_the_span_with_what_arrived(server, memory):
    server.answer = Answer(text="one two three four five")
    client = tracehouse.instrument_openai(client_for(server))
    stream = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content == "two ":
            break
    stream.close()
    span = memory.one()
    assert loads(span, "gen_ai.output.messages")[0]["parts"] == [{"type": "text", "content": "one two "}]
    assert span.status.status_code is StatusCode.UNSET


def test_abandoned_stream_ends_its_span_when_collected(server, memory):
    client = tracehouse.instrument_openai(client_for(server))
    stream = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
    next(iter(stream))
    del stream
    gc.collect()
    assert len(memory.spans()) == 1


def test_api_error_is_recorded_and_raised_unchanged(server, memory):
    server.answer = Answer(status=429, error_message="Rate limit reached")
    client = tracehouse.instrument_openai(client_for(server))
    with pytest.raises(openai.RateLimitError, match="Rate limit reached"):
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    span = memory.one()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "RateLimitError" and span.attributes["http.response.status_code"] == 429
    assert loads(span, "gen_ai.input.messages")[1]["parts"][0]["content"] == "Weather in Oslo?"


def test_connection_error_is_recorded(memory):
    client = openai.OpenAI(base_url="http://127.0.0.1:9/v1", api_key="x", max_retries=0)
    tracehouse.instrument_openai(client)
    with pytest.raises(openai.APIConnectionError):
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert memory.one().attributes["error.type"] == "APIConnectionError"


def test_async_client_plain_and_streamed(server, memory):
    server.answer = Answer(text="Sunny.", output_tokens=2)

    async def main():
        client = tracehouse.instrument_openai(client_for(server, openai.AsyncOpenAI))
        result = await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, seed=1)
        stream = await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
        assert isinstance(stream, openai.AsyncStream)
        chunks = [c async for c in stream]
        server.answer = Answer(status=500, error_message="upstream broke")
        with pytest.raises(openai.InternalServerError):
            await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        return result, chunks

    result, chunks = asyncio.run(main())
    assert result.choices[0].message.content == "Sunny."
    assert all(c.choices for c in chunks)  # the usage chunk we asked for stayed hidden
    plain, streamed, failed = memory.spans()
    assert json.loads(plain.attributes["gen_ai.output.messages"])[0]["parts"][0]["content"] == "Sunny."
    assert plain.attributes["gen_ai.request.seed"] == 1
    assert json.loads(streamed.attributes["gen_ai.output.messages"])[0]["parts"][0]["content"] == "Sunny."
    assert streamed.attributes["gen_ai.usage.output_tokens"] == 2
    assert failed.status.status_code is StatusCode.ERROR and failed.attributes["http.response.status_code"] == 500


def test_module_wide_instrumentation_covers_clients_made_later_and_is_idempotent(server, memory):
    tracehouse.instrument_openai()
    tracehouse.instrument_openai()  # twice: still one span per call
    client = client_for(server)
    tracehouse.instrument_openai(client)  # a client of an instrumented class is not wrapped again
    client.chat.completions.create(model="gpt-4o", messages=MESSAGES)

    async def main():
        await client_for(server, openai.AsyncOpenAI).chat.completions.create(model="gpt-4o", messages=MESSAGES)

    asyncio.run(main())
    assert len(memory.spans()) == 2
    _openai.uninstrument()
    client_for(server).chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert len(memory.spans()) == 2


def test_raw_response_calls_get_a_span_and_the_body_stays_the_callers(server, memory):
    tracehouse.instrument_openai()
    raw = client_for(server).chat.completions.with_raw_response.create(model="gpt-4o", messages=MESSAGES)
    assert raw.parse().choices[0].message.content == "Hello there!"
    span = memory.one()
    assert "gen_ai.output.messages" not in span.attributes and span.status.status_code is StatusCode.UNSET


def test_instrumented_client_before_init_just_works(server):
    tracehouse.shutdown()
    client = tracehouse.instrument_openai(client_for(server))
    assert client.chat.completions.create(model="gpt-4o", messages=MESSAGES).choices[0].message.content


def test_capture_none_keeps_prompts_and_answers_out(server):
    memory = Memory(capture_content="none")
    try:
        client = tracehouse.instrument_openai(client_for(server))
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES, tools=TOOLS)
        list(client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True))
        for span in memory.spans():
            a = attrs(span)
            assert not {"gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.tool.definitions"} & set(a)
            assert a["gen_ai.usage.input_tokens"] == 12
    finally:
        tracehouse.shutdown()


def test_a_broken_adapter_leaves_the_call_untraced_but_working(server, memory, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("adapter bug")

    monkeypatch.setattr(_openai.OpenAIAdapter, "request", broken)
    client = tracehouse.instrument_openai(client_for(server))
    assert client.chat.completions.create(model="gpt-4o", messages=MESSAGES).choices[0].message.content
    assert memory.spans() == [] and "adapter bug" in caplog.text


def test_unexpected_chunks_do_not_break_the_stream(server, memory, monkeypatch):
    def broken(self, chunk):
        raise RuntimeError("accumulator bug")

    monkeypatch.setattr(_openai.ChunkAccumulator, "add", broken)
    client = tracehouse.instrument_openai(client_for(server))
    chunks = list(client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello there!"
    assert len(memory.spans()) == 1
