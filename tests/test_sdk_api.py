"""The SDK's API with an in-memory exporter: settings, @observe on every function shape, span(), llm_call()
with tools and parameters, tool_call(), retrieval(), context() across threads with wrap(), prompt context."""

from __future__ import annotations

import asyncio
import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from opentelemetry.trace import StatusCode

import tracehouse
from tests.fakes_sdk.memory import Memory, attrs, loads
from tracehouse._settings import resolve_settings


@pytest.fixture
def memory():
    m = Memory()
    yield m
    tracehouse.shutdown()


# -- settings ---------------------------------------------------------------------------------------------
def test_every_numeric_setting_follows_argument_over_environment_over_default():
    env = {"TRACEHOUSE_SAMPLE_RATE": "0.25", "TRACEHOUSE_MAX_QUEUE_SIZE": "100", "TRACEHOUSE_EXPORT_TIMEOUT_S": "3",
           "TRACEHOUSE_SCHEDULE_DELAY_MS": "50", "TRACEHOUSE_MAX_EXPORT_BATCH_SIZE": "10",
           "TRACEHOUSE_SHUTDOWN_TIMEOUT_S": "2", "TRACEHOUSE_CAPTURE_CONTENT": "REDACTED"}
    default = resolve_settings(env={})
    assert (default.sample_rate, default.max_queue_size, default.capture_content) == (1.0, 8192, "full")
    from_env = resolve_settings(env=env)
    assert (from_env.sample_rate, from_env.max_queue_size, from_env.max_export_batch_size) == (0.25, 100, 10)
    assert (from_env.export_timeout_s, from_env.schedule_delay_ms, from_env.shutdown_timeout_s) == (3.0, 50, 2.0)
    assert from_env.capture_content == "redacted"
    argued = resolve_settings(sample_rate=1, max_queue_size=200, capture_content="none", env=env)
    assert (argued.sample_rate, argued.max_queue_size, argued.capture_content) == (1.0, 200, "none")


@pytest.mark.parametrize("kwargs, variable", [
    ({"sample_rate": 1.5}, "TRACEHOUSE_SAMPLE_RATE"),
    ({"sample_rate": "half"}, "TRACEHOUSE_SAMPLE_RATE"),
    ({"export_timeout_s": 0}, "TRACEHOUSE_EXPORT_TIMEOUT_S"),
    ({"schedule_delay_ms": 1.5}, "TRACEHOUSE_SCHEDULE_DELAY_MS"),
    ({"max_export_batch_size": True}, "TRACEHOUSE_MAX_EXPORT_BATCH_SIZE"),
])
def test_bad_values_name_the_argument_and_the_variable(kwargs, variable):
    with pytest.raises(ValueError, match=variable):
        tracehouse.init(**kwargs)


def test_bad_environment_value_fails_at_init(monkeypatch):
    monkeypatch.setenv("TRACEHOUSE_MAX_QUEUE_SIZE", "lots")
    with pytest.raises(ValueError, match="max_queue_size"):
        tracehouse.init()


# -- @observe -----------------------------------------------------------------------------------------------
def test_observe_sync_records_inputs_output_and_nesting(memory):
    @tracehouse.observe(kind="tool")
    def lookup(order_id: int, *, verbose: bool = False) -> dict:
        with tracehouse.span("inner"):
            return {"id": order_id, "state": "shipped"}

    assert lookup(7, verbose=True) == {"id": 7, "state": "shipped"}
    spans = memory.by_name()
    outer = spans["test_observe_sync_records_inputs_output_and_nesting.<locals>.lookup"]
    assert json.loads(outer.attributes["tracehouse.input"]) == {"order_id": 7, "verbose": True}
    assert json.loads(outer.attributes["tracehouse.output"]) == {"id": 7, "state": "shipped"}
    assert outer.attributes["tracehouse.span.kind"] == "tool"
    assert spans["inner"].parent.span_id == outer.context.span_id


def test_observe_records_the_error_and_reraises_it_unchanged(memory):
    class Boom(Exception):
        pass

    @tracehouse.observe(name="explode")
    def explode() -> None:
        raise Boom("no")

    with pytest.raises(Boom, match="no"):
        explode()
    span = memory.one("explode")
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"].endswith("Boom")
    assert span.events[0].name == "exception"


def test_observe_generator_joins_strings_and_parents_only_its_own_spans(memory):
    @tracehouse.observe(name="tokens")
    def tokens(n: int):
        for i in range(n):
            with tracehouse.span(f"produce {i}"):
                pass
            yield f"t{i} "
        return "done"

    seen = []
    for token in tokens(3):
        with tracehouse.span(f"consume {token.strip()}"):  # the consumer's span is not a child of the generator
            seen.append(token)
    assert seen == ["t0 ", "t1 ", "t2 "]
    spans = memory.by_name()
    gen = spans["tokens"]
    assert gen.attributes["tracehouse.output"] == "t0 t1 t2 "
    assert json.loads(gen.attributes["tracehouse.input"]) == {"n": 3}
    assert spans["produce 1"].parent.span_id == gen.context.span_id
    assert spans["consume t1"].parent is None


def test_observe_generator_passes_send_throw_and_return_value(memory):
    @tracehouse.observe(name="echo")
    def echo():
        received = []
        try:
            while True:
                value = yield len(received)
                received.append(value)
        except KeyError:
            yield "caught"
        return received

    gen = echo()
    assert next(gen) == 0
    assert gen.send("a") == 1
    assert gen.throw(KeyError("k")) == "caught"
    with pytest.raises(StopIteration) as stop:
        next(gen)
    assert stop.value.value == ["a"]
    assert memory.one("echo").status.status_code is not StatusCode.ERROR


def test_observe_generator_closed_early_ends_the_span_without_error(memory):
    @tracehouse.observe(name="endless")
    def endless():
        i = 0
        while True:
            yield i
            i += 1

    gen = endless()
    assert [next(gen) for _ in range(3)] == [0, 1, 2]
    gen.close()
    span = memory.one("endless")
    assert json.loads(span.attributes["tracehouse.output"]) == [0, 1, 2]
    assert span.status.status_code is StatusCode.UNSET


def test_observe_generator_error_is_recorded(memory):
    @tracehouse.observe(name="fails")
    def fails():
        yield 1
        raise RuntimeError("mid-stream")

    with pytest.raises(RuntimeError, match="mid-stream"):
        list(fails())
    assert memory.one("fails").status.status_code is StatusCode.ERROR


def test_observe_async_generator(memory):
    @tracehouse.observe(name="agen")
    async def agen(n: int):
        for i in range(n):
            await asyncio.sleep(0)
            with tracehouse.span(f"a{i}"):
                pass
            yield i

    async def main():
        return [i async for i in agen(3)]

    assert asyncio.run(main()) == [0, 1, 2]
    spans = memory.by_name()
    assert json.loads(spans["agen"].attributes["tracehouse.output"]) == [0, 1, 2]
    assert spans["a2"].parent.span_id == spans["agen"].context.span_id


def test_observe_async_generator_error_and_early_close(memory):
    @tracehouse.observe(name="bad")
    async def bad():
        yield 1
        raise ValueError("x")

    @tracehouse.observe(name="many")
    async def many():
        for i in range(100):
            yield i

    async def main():
        with pytest.raises(ValueError):
            async for _ in bad():
                pass
        gen = many()
        assert await gen.__anext__() == 0
        await gen.aclose()

    asyncio.run(main())
    spans = memory.by_name()
    assert spans["bad"].status.status_code is StatusCode.ERROR
    assert spans["many"].status.status_code is StatusCode.UNSET


def test_observe_async_function_error(memory):
    @tracehouse.observe(name="afail")
    async def afail():
        raise KeyError("k")

    with pytest.raises(KeyError):
        asyncio.run(afail())
    assert memory.one("afail").status.status_code is StatusCode.ERROR


def test_observe_without_capture_flags_and_before_init():
    @tracehouse.observe(name="quiet", capture_input=False, capture_output=False)
    def quiet(secret: str) -> str:
        return secret

    assert quiet("s") == "s"  # no runtime: a plain call
    memory = Memory()
    try:
        assert quiet("s") == "s"
        span = memory.one("quiet")
        assert "tracehouse.input" not in span.attributes and "tracehouse.output" not in span.attributes
    finally:
        tracehouse.shutdown()


def test_observe_rejects_an_unknown_kind_at_definition():
    with pytest.raises(ValueError, match="kind"):
        tracehouse.observe(kind="banana")


def test_span_with_unknown_kind_is_recorded_as_other_and_does_not_raise(memory, caplog):
    with tracehouse.span("odd", kind="banana", attributes={"meta": {"a": 1}, "ids": [1, 2]}) as handle:
        handle.set_attributes({"nested": [{"x": 1}]})
    span = memory.one("odd")
    assert span.attributes["tracehouse.span.kind"] == "other"
    assert json.loads(span.attributes["meta"]) == {"a": 1} and list(span.attributes["ids"]) == [1, 2]
    assert json.loads(span.attributes["nested"]) == [{"x": 1}]
    assert "banana" in caplog.text


def test_span_handle_ids_end_at_and_set_error(memory):
    with tracehouse.span("timed", start_time_ns=1_000_000_000) as handle:
        handle.set_error("handled: upstream said no", "UpstreamError")
        handle.end_at(2_000_000_000)
        ids = handle.trace_id, handle.span_id
    span = memory.one("timed")
    assert (span.start_time, span.end_time) == (1_000_000_000, 2_000_000_000)
    assert ids == (format(span.context.trace_id, "032x"), format(span.context.span_id, "016x"))
    assert span.status.status_code is StatusCode.ERROR and span.attributes["error.type"] == "UpstreamError"


# -- llm_call, tool_call, retrieval ---------------------------------------------------------------------------
def test_llm_call_records_everything_needed_for_replay(memory):
    tools = [{"type": "function", "function": {"name": "get_order", "description": "Find an order",
                                                "parameters": {"type": "object", "properties": {}}}},
             {"name": "search", "description": "Search docs", "input_schema": {"type": "object"}}]
    params = {"temperature": 0.1, "top_p": 0.9, "max_tokens": 256, "seed": 1234, "n": 2, "stop": "END",
              "response_format": {"type": "json_object"}, "frequency_penalty": None}
    with tracehouse.llm_call(provider="openai", model="gpt-4o", system=[{"type": "text", "text": "Be brief."}],
                             messages=[{"role": "user", "content": [{"type": "text", "text": "hi"},
                                                                    {"type": "image_url", "image_url": {
                                                                        "url": "https://x/cat.png"}}]}],
                             tools=tools, params=params, prompt_name="support", prompt_version=3) as call:
        call.set_output(["first", {"role": "assistant", "content": "second"}], finish_reason=["stop", "length"],
                        response_model="gpt-4o-2024-08-06", response_id="chatcmpl-1", input_tokens=100,
                        output_tokens=20, cache_read_tokens=60, cache_write_tokens=0, reasoning_tokens=5,
                        time_to_first_token_s=0.25)
    span = memory.one("chat gpt-4o")
    a = attrs(span)
    assert a["gen_ai.request.seed"] == 1234 and a["gen_ai.request.temperature"] == 0.1
    assert a["gen_ai.request.choice.count"] == 2 and a["gen_ai.request.stop_sequences"] == ["END"]
    assert json.loads(a["gen_ai.request.response_format"]) == {"type": "json_object"}
    assert "gen_ai.request.frequency_penalty" not in a
    assert loads(span, "gen_ai.tool.definitions") == [
        {"type": "function", "name": "get_order", "description": "Find an order",
         "parameters": {"type": "object", "properties": {}}},
        {"type": "function", "name": "search", "description": "Search docs", "parameters": {"type": "object"}},
    ]
    assert loads(span, "gen_ai.system_instructions") == [{"type": "text", "content": "Be brief."}]
    assert loads(span, "gen_ai.input.messages")[0]["parts"][1] == {"type": "uri", "modality": "image",
                                                                    "uri": "https://x/cat.png"}
    outputs = loads(span, "gen_ai.output.messages")
    assert [(m["role"], m["finish_reason"]) for m in outputs] == [("assistant", "stop"), ("assistant", "length")]
    assert a["gen_ai.response.finish_reasons"] == ["stop", "length"]
    assert (a["gen_ai.usage.input_tokens"], a["gen_ai.usage.cache_read.input_tokens"]) == (100, 60)
    assert (a["gen_ai.usage.output_tokens"], a["gen_ai.usage.reasoning.output_tokens"]) == (20, 5)
    assert a["gen_ai.response.time_to_first_chunk"] == 0.25
    assert (a["gen_ai.prompt.name"], a["tracehouse.prompt.version"]) == ("support", "3")
    assert span.kind.name == "CLIENT"


def test_llm_call_anthropic_blocks_and_mark_first_token(memory):
    messages = [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "use the tool"},
                                          {"type": "tool_use", "id": "tu1", "name": "weather", "input": {"c": "Oslo"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "tu1", "is_error": True,
                                      "content": [{"type": "text", "text": "timeout"}]},
                                     {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                                                  "data": "iVBOR"}}]},
    ]
    with tracehouse.llm_call(provider="anthropic", model="claude", messages=messages) as call:
        call.mark_first_token()
        call.set_output({"role": "assistant", "content": [{"type": "text", "text": "Cold."}]}, finish_reason="end_turn")
    span = memory.one()
    parts = [m["parts"] for m in loads(span, "gen_ai.input.messages")]
    assert parts[1] == [{"type": "reasoning", "content": "use the tool"},
                        {"type": "tool_call", "id": "tu1", "name": "weather", "arguments": {"c": "Oslo"}}]
    assert parts[2] == [{"type": "tool_call_response", "id": "tu1", "response": "timeout", "is_error": True},
                        {"type": "blob", "modality": "image", "mime_type": "image/png", "content": "iVBOR"}]
    assert span.attributes["gen_ai.response.time_to_first_chunk"] >= 0
    assert loads(span, "gen_ai.output.messages")[0]["parts"] == [{"type": "text", "content": "Cold."}]


def test_prompt_name_and_version_from_context_reach_llm_calls_only(memory):
    with tracehouse.context(prompt_name="triage", prompt_version=7):
        with tracehouse.span("agent"):
            with tracehouse.llm_call(provider="openai", model="m"):
                pass
            with tracehouse.llm_call(provider="openai", model="m2", prompt_name="explicit", prompt_version="v2"):
                pass
    spans = memory.by_name()
    assert spans["chat m"].attributes["gen_ai.prompt.name"] == "triage"
    assert spans["chat m"].attributes["tracehouse.prompt.version"] == "7"
    assert spans["chat m2"].attributes["gen_ai.prompt.name"] == "explicit"
    assert "gen_ai.prompt.name" not in spans["agent"].attributes


def test_tool_call_span_follows_otel_execute_tool(memory):
    with tracehouse.tool_call("get_order", {"id": 7}, call_id="call_1", description="Find an order") as tool:
        tool.set_result({"state": "shipped"})
    with tracehouse.tool_call("echo", "raw text") as tool:
        tool.set_output("raw result")
    spans = memory.by_name()
    a = attrs(spans["execute_tool get_order"])
    assert a["gen_ai.operation.name"] == "execute_tool" and a["gen_ai.tool.name"] == "get_order"
    assert a["gen_ai.tool.call.id"] == "call_1" and a["gen_ai.tool.type"] == "function"
    assert a["gen_ai.tool.description"] == "Find an order"
    assert json.loads(a["gen_ai.tool.call.arguments"]) == {"id": 7}
    assert json.loads(a["gen_ai.tool.call.result"]) == {"state": "shipped"}
    assert a["tracehouse.span.kind"] == "tool" and spans["execute_tool get_order"].kind.name == "INTERNAL"
    echo = attrs(spans["execute_tool echo"])
    assert (echo["gen_ai.tool.call.arguments"], echo["gen_ai.tool.call.result"]) == ("raw text", "raw result")


def test_tool_call_error_is_recorded(memory):
    with pytest.raises(TimeoutError):
        with tracehouse.tool_call("slow_api", {}):
            raise TimeoutError("upstream")
    span = memory.one()
    assert span.status.status_code is StatusCode.ERROR and span.attributes["error.type"] == "TimeoutError"


def test_retrieval_span_with_documents(memory):
    class Doc:  # LangChain-style object
        page_content = "Refunds take 5 days."
        metadata = {"source": "faq"}

    with tracehouse.retrieval("refund time?", data_source="help-center", top_k=3) as r:
        r.set_documents([{"id": "d1", "text": "Billing FAQ", "score": 0.9}, "plain string", Doc()])
    span = memory.one("retrieval help-center")
    a = attrs(span)
    assert a["gen_ai.operation.name"] == "retrieval" and a["gen_ai.data_source.id"] == "help-center"
    assert a["gen_ai.retrieval.top_k"] == 3 and a["gen_ai.retrieval.query.text"] == "refund time?"
    assert loads(span, "gen_ai.retrieval.documents") == [
        {"id": "d1", "score": 0.9, "content": "Billing FAQ"}, {"content": "plain string"},
        {"content": "Refunds take 5 days.", "metadata": {"source": "faq"}},
    ]
    assert a["tracehouse.span.kind"] == "retrieval"


def test_capture_none_keeps_tool_and_retrieval_content_out():
    memory = Memory(capture_content="none")
    try:
        with tracehouse.tool_call("t", {"card": "4111"}) as tool:
            tool.set_result("secret result")
        with tracehouse.retrieval("secret query", "kb") as r:
            r.set_documents(["secret doc"])
        with tracehouse.llm_call(provider="openai", model="m", messages=["secret"], system="secret",
                                 tools=[{"name": "secret_tool"}]) as c:
            c.set_output("secret", input_tokens=3)
        with tracehouse.span("s") as s:
            s.set_input("secret")
        dumped = json.dumps([dict(s.attributes) for s in memory.spans()], default=str)
        assert "secret" not in dumped and "4111" not in dumped
        assert '"gen_ai.tool.name": "t"' in dumped and '"gen_ai.usage.input_tokens": 3' in dumped
    finally:
        tracehouse.shutdown()


# -- context across threads and tasks ---------------------------------------------------------------------
def test_wrap_carries_context_and_parent_span_into_threads(memory):
    def work(i: int) -> str:
        with tracehouse.span(f"work {i}"):
            return tracehouse.current_context().tenant or "none"

    with tracehouse.context(tenant="acme", user="u-1"):
        with tracehouse.span("request") as root:
            with ThreadPoolExecutor(max_workers=3) as pool:
                tenants = list(pool.map(tracehouse.wrap(work), range(6)))  # one wrapped fn, run concurrently
            thread = threading.Thread(target=tracehouse.wrap(work), args=(99,))
            thread.start()
            thread.join()
            unwrapped = ThreadPoolExecutor(max_workers=1).submit(work, 100).result()
    assert tenants == ["acme"] * 6 and unwrapped == "none"
    spans = memory.by_name()
    for name in [f"work {i}" for i in range(6)] + ["work 99"]:
        assert spans[name].parent.span_id == root._span.get_span_context().span_id
        assert spans[name].attributes["tracehouse.tenant"] == "acme"
        assert spans[name].attributes["user.id"] == "u-1"
    assert spans["work 100"].parent is None and "tracehouse.tenant" not in spans["work 100"].attributes


def test_wrap_isolates_changes_made_inside():
    def inner() -> None:
        with tracehouse.context(user="inside"):
            pass
        tracehouse._context._CURRENT.set(tracehouse.TraceContext(user="leak"))

    with tracehouse.context(user="outside"):
        wrapped = tracehouse.wrap(inner)
        wrapped()
        wrapped()
        assert tracehouse.current_context().user == "outside"


def test_context_with_bad_metadata_is_reported_not_raised(caplog):
    with tracehouse.context(tenant="t", metadata=["not", "a", "mapping"]) as ctx:  # type: ignore[arg-type]
        assert ctx.tenant is None
    with tracehouse.context(tags="single") as ctx:
        assert ctx.tags == ("single",)
    assert "internal error" in caplog.text
