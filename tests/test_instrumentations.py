"""Real instrumentations of the real ``openai`` client against a fake OpenAI server, exported with the official
OTLP/HTTP exporter to a running collector, read back through the query API.

Each instrumentation runs in its own process (``tests/fakes/instrumented_app.py``): they patch the same client
methods and read their settings from the environment when they instrument. Four scenarios per instrumentation:
a plain chat call, a streamed tool call (usage in the final chunk), a streamed text answer, and a call that
carries a tool result back. Expected costs come from the fake's fixed usage and gpt-4o-mini's table prices.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from tracehouse.collector.conventions import apply_log_content, content_from_logs
from tracehouse.collector.normalize import normalize
from tracehouse.collector.otlp import decode_logs, decode_traces
from tracehouse.collector.pricing import price

from .conftest import REPO
from .fakes import openai_server as fake

pytestmark = pytest.mark.e2e

# gpt-4o-mini in the genai-prices table, USD per token; the fake answers as gpt-4o-mini-2024-07-18.
INPUT, CACHED, OUTPUT = 0.15e-6, 0.075e-6, 0.60e-6
ANSWER = f"Echo: {'Where is order 123?'}"


def expected_cost(reports_cache: bool) -> float:
    cached = fake.CACHED_TOKENS if reports_cache else 0
    return (fake.PROMPT_TOKENS - cached) * INPUT + cached * CACHED + fake.COMPLETION_TOKENS * OUTPUT


def run_app(instrumentation: str, base_url: str = "", key: str = "", run_id: str = "") -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-m", "tests.fakes.instrumented_app", instrumentation, base_url or "-", key or "-",
         run_id or "r"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def wait_for_llm_span(client: Any, trace_id: str, timeout_s: float = 30) -> tuple[dict, dict]:
    """(the scenario's root span, its one LLM span) once both are queryable."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        response = client.get(f"/api/v1/traces/{trace_id}")
        if response.status_code == 200:
            spans = response.json()["spans"]
            llm = [s for s in spans if s["kind"] == "llm"]
            roots = [s for s in spans if s["name"].startswith("scenario ")]
            if llm and roots:
                (one,) = llm
                return roots[0], one
        time.sleep(0.25)
    raise AssertionError(f"trace {trace_id} did not arrive with its LLM span")


@dataclass
class Run:
    run_id: str
    spans: dict[str, tuple[dict, dict]]  # scenario -> (root span, LLM span) as the query API serves them


@pytest.fixture(scope="module")
def ingested(empty_collector) -> dict[str, Run]:
    """Each instrumentation's app run once, into a project of its own."""
    out: dict[str, Run] = {}
    for instrumentation in ("otel_v2", "openinference", "openllmetry"):
        _, key = empty_collector.new_project(f"it-{instrumentation}")
        run_id = uuid.uuid4().hex[:8]
        trace_ids = run_app(instrumentation, empty_collector.base_url, key, run_id)
        client = empty_collector.client(key)
        out[instrumentation] = Run(run_id, {s: wait_for_llm_span(client, t) for s, t in trace_ids.items()})
    return out


# instrumentation -> (convention, reports cache reads, reports reasoning on non-streamed calls)
EXPECTED = {
    "otel_v2": ("otel_genai", False, False),
    "openinference": ("openinference", True, True),
    "openllmetry": ("openllmetry", True, True),
}


@pytest.mark.parametrize("instrumentation", sorted(EXPECTED))
def test_chat_call_lands_with_model_tokens_cost_and_messages(ingested, instrumentation):
    convention, reports_cache, reports_reasoning = EXPECTED[instrumentation]
    root, llm = ingested[instrumentation].spans["chat"]
    assert llm["parent_span_id"] == root["span_id"]
    assert llm["convention"] == convention
    assert (llm["provider"], llm["model"]) == ("openai", fake.response_model("gpt-4o-mini"))
    assert llm["request_model"] == "gpt-4o-mini"
    assert (llm["input_tokens"], llm["output_tokens"]) == (fake.PROMPT_TOKENS, fake.COMPLETION_TOKENS)
    assert llm["cache_read_tokens"] == (fake.CACHED_TOKENS if reports_cache else 0)
    assert llm["reasoning_tokens"] == (fake.REASONING_TOKENS if reports_reasoning else 0)
    assert llm["cost_source"] == "computed"
    assert llm["cost_usd"] == pytest.approx(expected_cost(reports_cache), rel=1e-9)
    assert llm["params"]["temperature"] == 0.2 and llm["params"]["max_tokens"] == 64
    assert llm["input_messages"] == [
        {"role": "system", "parts": [{"type": "text", "content": "You are a support agent."}]},
        {"role": "user", "parts": [{"type": "text", "content": "Where is order 123?"}]}]
    assert [m["role"] for m in llm["output_messages"]] == ["assistant"]
    assert llm["output_text"] == ANSWER and llm["finish_reason"] == "stop"
    assert (llm["service"], llm["environment"]) == (f"it-{instrumentation}", "it")


@pytest.mark.parametrize("instrumentation", sorted(EXPECTED))
def test_streamed_tool_call_keeps_usage_from_the_last_chunk_and_the_call(ingested, instrumentation):
    _, llm = ingested[instrumentation].spans["stream_tool_call"]
    assert (llm["input_tokens"], llm["output_tokens"]) == (fake.PROMPT_TOKENS, fake.COMPLETION_TOKENS)
    assert llm["cost_source"] == "computed" and llm["cost_usd"] > 0
    calls = [p for m in llm["output_messages"] for p in m["parts"] if p["type"] == "tool_call"]
    assert [(c["id"], c["name"], c["arguments"]) for c in calls] == [
        (fake.TOOL_CALL_ID, "lookup_order", {"order_id": "123"})]
    assert llm["finish_reason"] == "tool_call"
    assert "lookup_order" in llm["output_text"]


@pytest.mark.parametrize("instrumentation", sorted(EXPECTED))
def test_streamed_text_is_reassembled(ingested, instrumentation):
    _, llm = ingested[instrumentation].spans["stream_text"]
    assert llm["output_text"] == "Echo: Stream a short answer."
    assert (llm["input_tokens"], llm["output_tokens"]) == (fake.PROMPT_TOKENS, fake.COMPLETION_TOKENS)


@pytest.mark.parametrize("instrumentation", sorted(EXPECTED))
def test_tool_result_round_trip_is_structured(ingested, instrumentation):
    _, llm = ingested[instrumentation].spans["tool_result"]
    roles = [m["role"] for m in llm["input_messages"]]
    assert roles == ["user", "assistant", "tool"]
    (call,) = llm["input_messages"][1]["parts"]
    assert (call["type"], call["id"], call["name"], call["arguments"]) == (
        "tool_call", "call_prev", "lookup_order", {"order_id": "123"})
    (result,) = llm["input_messages"][2]["parts"]
    assert (result["type"], result["id"]) == ("tool_call_response", "call_prev")
    assert result["response"] in ({"status": "shipped"}, json.dumps({"status": "shipped"}))
    assert llm["output_text"] == ANSWER


def test_openinference_context_gives_session_user_tags_and_metadata(ingested):
    run_id = ingested["openinference"].run_id
    _, llm = ingested["openinference"].spans["chat"]
    assert (llm["session"], llm["user"]) == (f"session-{run_id}", f"user-{run_id}")
    assert llm["tags"] == ["it", "openinference"] and llm["metadata"] == {"run": run_id}


def test_openllmetry_passes_the_openai_user_field(ingested):
    run_id = ingested["openllmetry"].run_id
    _, llm = ingested["openllmetry"].spans["chat"]
    assert llm["user"] == f"user-{run_id}"


def test_otel_v2_content_only_in_log_records_is_joined_onto_spans():
    """EVENT_ONLY: spans carry no messages; the operation.details log records, encoded by the official OTLP
    encoder, are decoded and joined on (trace_id, span_id)."""
    captured = run_app("otel_v2_events")
    spans, rejected = decode_traces(base64.b64decode(captured["traces"]), "protobuf")
    logs, rejected_logs = decode_logs(base64.b64decode(captured["logs"]), "protobuf")
    assert rejected == [] and rejected_logs == []
    assert {log.event_name for log in logs} == {"gen_ai.client.inference.operation.details"}
    records = [normalize(s, "p", (price,)) for s in spans]
    llm = [r for r in records if r.kind == "llm"]
    assert len(llm) == 4 and all(not r.input_messages and not r.output_messages for r in llm)
    content = content_from_logs(logs)
    joined = {r.span_id: apply_log_content(r, content[(r.trace_id, r.span_id)]) for r in llm}
    assert len(joined) == 4
    texts = sorted(r.output_text for r in joined.values())
    assert ANSWER in texts and "Echo: Stream a short answer." in texts
    chat = next(r for r in joined.values() if r.input_messages and r.input_messages[0]["role"] == "system")
    assert chat.input_text == "You are a support agent.\nWhere is order 123?"
    assert chat.finish_reason == "stop" and chat.cost_usd == pytest.approx(expected_cost(False), rel=1e-9)
