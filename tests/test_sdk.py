"""SDK unit tests with an in-memory exporter: settings precedence, context, attributes, never raising; and in a
subprocess: a thin import, flush at interpreter exit, exit never held up by a hanging collector."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import tracehouse
from tests.fakes_sdk import FakeCollector
from tracehouse._settings import DEFAULT_ENDPOINT, resolve_settings


@pytest.fixture
def exported():
    exporter = InMemorySpanExporter()
    tracehouse.init(exporter=exporter, service_name="unit", schedule_delay_ms=50)
    yield lambda: (tracehouse.flush(), {s.name: s for s in exporter.get_finished_spans()})[1]
    tracehouse.shutdown()


def test_settings_precedence_argument_over_environment_over_default():
    env = {"TRACEHOUSE_ENDPOINT": "http://env:1", "TRACEHOUSE_API_KEY": "envkey"}
    assert resolve_settings(env={}).endpoint == DEFAULT_ENDPOINT
    assert resolve_settings(env=env).endpoint == "http://env:1"
    assert resolve_settings(env=env).api_key == "envkey"
    assert resolve_settings(endpoint="http://arg:2/", env=env).traces_url == "http://arg:2/v1/traces"


@pytest.mark.parametrize("kwargs", [
    {"endpoint": "localhost:4318"}, {"capture_content": "some"}, {"max_queue_size": 0},
    {"max_queue_size": 10, "max_export_batch_size": 20},
])
def test_bad_settings_fail_at_init_with_a_message(kwargs):
    with pytest.raises(ValueError, match="tracehouse"):
        tracehouse.init(**kwargs)


def test_llm_call_emits_otel_genai_attributes(exported):
    with tracehouse.llm_call(provider="anthropic", model="claude-haiku-4-5", system="Be brief.",
                             messages=[{"role": "user", "content": "hi"}], params={"max_tokens": 50, "stop": ["x"]}) as c:
        c.set_output("hello", finish_reason="end_turn", input_tokens=3, output_tokens=2, reasoning_tokens=1)
    attrs = exported()["chat claude-haiku-4-5"].attributes
    assert attrs["gen_ai.provider.name"] == "anthropic" and attrs["gen_ai.request.model"] == "claude-haiku-4-5"
    assert attrs["gen_ai.request.max_tokens"] == 50 and list(attrs["gen_ai.request.stop_sequences"]) == ["x"]
    assert json.loads(attrs["gen_ai.system_instructions"]) == [{"type": "text", "content": "Be brief."}]
    assert json.loads(attrs["gen_ai.input.messages"]) == [{"role": "user", "parts": [{"type": "text", "content": "hi"}]}]
    assert json.loads(attrs["gen_ai.output.messages"])[0]["finish_reason"] == "end_turn"
    assert attrs["gen_ai.usage.reasoning.output_tokens"] == 1


def test_tool_calls_in_messages_become_tool_call_parts(exported):
    call = {"id": "c1", "type": "function", "function": {"name": "get_order", "arguments": '{"id": 7}'}}
    with tracehouse.llm_call(provider="openai", model="gpt-4o", messages=[
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c1", "content": "shipped"},
    ]):
        pass
    messages = json.loads(exported()["chat gpt-4o"].attributes["gen_ai.input.messages"])
    assert messages[0]["parts"] == [{"type": "tool_call", "id": "c1", "name": "get_order", "arguments": {"id": 7}}]
    assert messages[1]["parts"] == [{"type": "tool_call_response", "id": "c1", "response": "shipped"}]


def test_context_nests_and_follows_asyncio_tasks(exported):
    async def work(i: int) -> None:
        with tracehouse.context(user=f"u{i}", tags=[f"t{i}"]):
            await asyncio.sleep(0)
            with tracehouse.span(f"task {i}"):
                await asyncio.sleep(0)

    async def main() -> None:
        with tracehouse.context(tenant="acme", tags=["outer"], metadata={"a": 1}):
            await asyncio.gather(work(1), work(2))

    asyncio.run(main())
    spans = exported()
    for i in (1, 2):
        attrs = spans[f"task {i}"].attributes
        assert attrs["tracehouse.tenant"] == "acme" and attrs["user.id"] == f"u{i}"
        assert list(attrs["tracehouse.tags"]) == ["outer", f"t{i}"]
        assert json.loads(attrs["tracehouse.metadata"]) == {"a": 1}


def test_capture_none_keeps_content_out():
    exporter = InMemorySpanExporter()
    tracehouse.init(exporter=exporter, capture_content="none")
    try:
        with tracehouse.llm_call(provider="openai", model="m", messages=["secret"]) as c:
            c.set_output("also secret", input_tokens=1)
        tracehouse.flush()
        (span,) = exporter.get_finished_spans()
        assert "secret" not in json.dumps(dict(span.attributes), default=str)
        assert span.attributes["gen_ai.usage.input_tokens"] == 1
    finally:
        tracehouse.shutdown()


def test_async_observe(exported):
    @tracehouse.observe(name="fetch")
    async def fetch(x: int) -> dict:
        return {"x": x}

    assert asyncio.run(fetch(3)) == {"x": 3}
    assert exported()["fetch"].attributes["tracehouse.output"] == '{"x":3}'


class ExplodingExporter(InMemorySpanExporter):
    def export(self, spans):  # noqa: D401 - a broken exporter must not reach the app
        raise RuntimeError("boom")


def test_internal_failures_never_reach_the_app():
    tracehouse.init(exporter=ExplodingExporter())
    try:
        with tracehouse.span("x") as handle:
            handle.set_attribute("bad", object())  # not an OTel type: logged, ignored
            handle.set_output(object())
        tracehouse.flush()
    finally:
        tracehouse.shutdown()


def test_spans_before_init_are_noops():
    tracehouse.shutdown()
    with tracehouse.span("nothing") as handle:
        handle.set_output("x")
    assert tracehouse.flush() is True


def test_collector_down_costs_the_app_nothing():
    tracehouse.init(endpoint="http://127.0.0.1:9", schedule_delay_ms=10, export_timeout_s=0.5)
    try:
        with tracehouse.span("lost") as handle:
            handle.set_output("nobody listens")
        assert tracehouse.flush(timeout_ms=2000) in (True, False)  # returns, never raises
    finally:
        tracehouse.shutdown()


# -- the SDK is thin, and the host process is never held up ------------------------------------------------------
REPO = Path(__file__).resolve().parent.parent


def run_python(code: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO)


def test_import_tracehouse_pulls_in_no_client_library_nor_exporter_transport():
    out = run_python("""
        import sys, json, tracehouse
        print(json.dumps(sorted(sys.modules)))
    """)
    loaded = set(json.loads(out.stdout))
    heavy = {"openai", "anthropic", "requests", "httpx", "fastapi", "clickhouse_connect", "tracehouse.redaction"}
    assert not loaded & heavy


def test_spans_are_flushed_at_interpreter_exit():
    with FakeCollector() as collector:
        out = run_python(f"""
            import tracehouse
            tracehouse.init(endpoint="{collector.base_url}", schedule_delay_ms=60000)
            with tracehouse.span("left at exit"):
                pass
        """)
        assert out.returncode == 0, out.stderr
        assert [s["name"] for s in collector.spans] == ["left at exit"]


def test_a_hanging_collector_delays_interpreter_exit_by_at_most_the_shutdown_timeout():
    with FakeCollector(hang_s=60) as collector:
        start = time.perf_counter()
        out = run_python(f"""
            import tracehouse
            tracehouse.init(endpoint="{collector.base_url}", shutdown_timeout_s=1, export_timeout_s=30)
            for i in range(100):
                with tracehouse.span("s"):
                    pass
            tracehouse.score("0af7651916cd43dd8448eb211c80319c", "n", 1)
        """)
        assert out.returncode == 0, out.stderr
        assert time.perf_counter() - start < 10  # interpreter start + 1 s span drain + 1 s score drain
