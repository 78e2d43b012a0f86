"""Single, trajectory and batch replay on a real embedded store, against the fake OpenAI and Anthropic servers
driven through the official clients: what the provider received, what was stored, what came back."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import replace

import pytest

from tests.fakes_sdk import Answer, FakeAnthropic, FakeOpenAI
from tracehouse.collector.pricing import PriceOverrides, make_price_step
from tracehouse.collector.replay import (BatchReplays, InvalidReplayRequest, NotReplayable, ProviderNotConfigured,
                                         Providers, ReplayBusy, RunNotFound, SpanNotFound, find_span, replay_span,
                                         replay_span_events, replay_trajectory)
from tracehouse.storage.record import SpanRecord

PROJECT = "p1"
KEY_OPENAI = "sk-openai-secret-0123456789"
KEY_ANTHROPIC = "sk-ant-secret-0123456789"
PRICE = make_price_step(PriceOverrides.from_config([
    {"model": "gpt-4o-mini*", "input": 0.15, "output": 0.6},
    {"model": "gpt-4.1*", "input": 2.0, "output": 8.0},
    {"model": "claude-*", "input": 1.0, "output": 5.0},
]))
MS = 1_000_000
TOOL = {"type": "function", "name": "get_weather", "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}


def text(role: str, content: str, **extra) -> dict:
    return {"role": role, "parts": [{"type": "text", "content": content}], **extra}


def llm_span(trace_id: str, span_id: str, *, parent: str = "", start_ns: int, duration_ms: float = 800,
             messages=(), output=(), model: str = "gpt-4o-mini", provider: str = "openai", params=None,
             status: str = "ok", cost: float = 0.0001, **extra) -> SpanRecord:
    return SpanRecord(
        project=PROJECT, trace_id=trace_id, span_id=span_id, parent_span_id=parent, name=f"chat {model}",
        start_time_ns=start_ns, end_time_ns=start_ns + int(duration_ms * MS), kind="llm", status=status,
        tenant="acme", user="ana", session="s-1", tags=("prod",), metadata={"channel": "web"},
        provider=provider, model=model + "-2024-07-18" if provider == "openai" else model, request_model=model,
        operation="chat", params=dict(params or {}), input_messages=tuple(messages), output_messages=tuple(output),
        input_text=" ".join(p.get("content", "") for m in messages for p in m["parts"] if p["type"] == "text"),
        output_text=" ".join(p.get("content", "") for m in output for p in m["parts"] if p["type"] == "text"),
        input_tokens=20, output_tokens=5, cost_usd=cost, cost_source="computed", prompt_name="support",
        prompt_version="2", service="shop", environment="prod", **extra)


@pytest.fixture
def openai_server():
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def anthropic_server():
    with FakeAnthropic() as server:
        yield server


@pytest.fixture
def providers(openai_server, anthropic_server):
    return Providers.from_settings(openai_base_url=openai_server.base_url_v1, openai_api_key=KEY_OPENAI,
                                   anthropic_base_url=anthropic_server.base_url, anthropic_api_key=KEY_ANTHROPIC,
                                   max_retries=0)


def now_ns() -> int:
    return time.time_ns() - 3600 * 1_000_000_000


RECORDED_PARAMS = {"temperature": 0.3, "max_tokens": 120, "seed": 42, "stop_sequences": ["\n\n"], "top_p": 0.9,
                   "tools": [TOOL], "stream": False}
CONVERSATION = (text("system", "You are the support assistant."), text("user", "Where is my order ORD-123?"))


@pytest.fixture
def recorded(store):
    span = llm_span("a" * 32, "b" * 16, start_ns=now_ns(), messages=CONVERSATION,
                    output=(text("assistant", "Hello there!", finish_reason="stop"),), params=RECORDED_PARAMS)
    store.insert_spans([span])
    return span


# -- single replay ----------------------------------------------------------------------------------------------
def test_exact_replay_resends_the_recorded_call_and_stores_a_linked_trace(store, providers, openai_server, recorded):
    out = replay_span(store, PROJECT, recorded.span_id, None, None, providers, price_step=PRICE)

    body = openai_server.requests[-1].json()
    assert body["model"] == "gpt-4o-mini"
    assert body["messages"] == [{"role": "system", "content": "You are the support assistant."},
                                {"role": "user", "content": "Where is my order ORD-123?"}]
    assert (body["seed"], body["temperature"], body["max_tokens"], body["top_p"], body["stop"]) == (
        42, 0.3, 120, 0.9, ["\n\n"])
    assert body["tools"][0]["function"]["name"] == "get_weather" and "stream" not in body

    assert out["status"] == "done" and out["output"] == "Hello there!" and out["error"] is None
    assert set(out) >= {"replay_id", "trace_id", "status", "output", "span", "diff"}
    assert out["of"] == {"trace_id": recorded.trace_id, "span_id": recorded.span_id}
    assert out["diff"]["same_output"] is True and out["diff"]["similarity"] == 1.0
    assert out["diff"]["output"] == [{"op": "equal", "text": "Hello there!"}]
    assert out["diff"]["params"] == [{"name": "model", "a": "gpt-4o-mini-2024-07-18", "b": "gpt-4o-mini-2025-01-01"}]

    stored = store.get_trace(PROJECT, out["trace_id"])
    assert len(stored) == 1 and out["trace_id"] != recorded.trace_id
    span = stored[0]
    assert span["span_id"] == out["span_id"] == out["span"]["span_id"] and span["parent_span_id"] == ""
    assert (span["kind"], span["status"], span["provider"], span["request_model"]) == ("llm", "ok", "openai",
                                                                                        "gpt-4o-mini")
    assert (span["tenant"], span["user"], span["session"]) == ("acme", "ana", "s-1")
    assert "replay" in span["tags"] and "prod" in span["tags"]
    assert span["metadata"]["replay_of"] == {"trace_id": recorded.trace_id, "span_id": recorded.span_id}
    assert span["metadata"]["replay_id"] == out["replay_id"] and span["metadata"]["channel"] == "web"
    assert span["attributes"]["tracehouse.replay.of_trace_id"] == recorded.trace_id
    assert span["attributes"]["tracehouse.replay.of_span_id"] == recorded.span_id
    assert span["params"]["seed"] == 42 and span["params"]["tools"] == [TOOL]
    assert (span["input_tokens"], span["output_tokens"]) == (12, 7)
    assert span["cost_source"] == "computed" and span["cost_usd"] == pytest.approx((12 * 0.15 + 7 * 0.6) / 1e6)
    assert span["input_messages"] == list(CONVERSATION) and span["prompt_version"] == "2"
    assert span["duration_ms"] > 0 and out["span"]["duration_ms"] == pytest.approx(span["duration_ms"])
    dumped = json.dumps(out) + json.dumps(stored, default=str)
    assert KEY_OPENAI not in dumped and KEY_ANTHROPIC not in dumped and openai_server.base_url not in dumped


def test_edited_replay_on_another_provider_with_new_system_and_params(store, providers, anthropic_server, recorded):
    anthropic_server.answer = Answer(text="Your order ORD-123 ships today.", input_tokens=30, output_tokens=9)
    out = replay_span(store, PROJECT, recorded.span_id, recorded.trace_id,
                      {"model": "claude-haiku-4-5", "system": "Answer in one sentence.",
                       "params": {"temperature": 0.0, "seed": None}}, providers, price_step=PRICE)
    body = anthropic_server.requests[-1].json()
    assert body["model"] == "claude-haiku-4-5" and body["system"] == "Answer in one sentence."
    assert body["messages"] == [{"role": "user", "content": "Where is my order ORD-123?"}]
    assert body["temperature"] == 0.0 and body["max_tokens"] == 120 and "seed" not in body
    assert body["tools"][0]["input_schema"] == TOOL["parameters"]
    assert out["status"] == "done" and out["provider"] == "anthropic"
    assert out["output"] == "Your order ORD-123 ships today."
    assert out["dropped_params"] == []  # top_p, stop sequences, max tokens, tools all carried over
    span = out["span"]
    assert span["provider"] == "anthropic" and span["model"] == "claude-haiku-4-5"
    assert span["cost_usd"] == pytest.approx((30 * 1.0 + 9 * 5.0) / 1e6)
    assert span["prompt_version"] == "" and span["prompt_name"] == "support"  # the prompt was edited
    assert span["metadata"]["replay_overrides"] == ["model", "system", "params.temperature", "params.seed"]
    changed = {c["name"]: (c["a"], c["b"]) for c in out["diff"]["params"]}
    assert changed["provider"] == ("openai", "anthropic") and changed["seed"] == (42, None)
    assert changed["temperature"] == (0.3, 0.0)
    ops = out["diff"]["output"]
    assert "".join(o["text"] for o in ops if o["op"] != "insert") == "Hello there!"
    assert "".join(o["text"] for o in ops if o["op"] != "delete") == "Your order ORD-123 ships today."
    assert out["diff"]["same_output"] is False


def test_edited_messages_in_provider_shape_are_accepted(store, providers, openai_server, recorded):
    replay_span(store, PROJECT, recorded.span_id, None,
                {"messages": [{"role": "user", "content": "Say hi"}], "params": {"max_tokens": 5}}, providers)
    body = openai_server.requests[-1].json()
    assert body["messages"] == [{"role": "user", "content": "Say hi"}] and body["max_tokens"] == 5


def test_streamed_replay_yields_deltas_and_records_time_to_first_token(store, providers, openai_server, recorded):
    openai_server.answer = Answer(text="Your parcel is on its way", chunk_delay_s=0.01)
    events = list(replay_span_events(store, PROJECT, recorded.span_id, recorded.trace_id, None, providers,
                                     price_step=PRICE))
    deltas = [e["text"] for e in events if e["type"] == "delta"]
    assert deltas == ["Your ", "parcel ", "is ", "on ", "its ", "way"]
    final = events[-1]
    assert final["type"] == "result" and final["replay"]["status"] == "done"
    span = store.get_trace(PROJECT, final["replay"]["trace_id"])[0]
    assert span["time_to_first_token_ms"] is not None and span["params"]["stream"] is True
    assert openai_server.requests[-1].json()["stream"] is True


def test_streamed_replay_validates_before_the_first_event(store, providers, recorded):
    with pytest.raises(SpanNotFound):
        replay_span_events(store, PROJECT, "c" * 16, None, None, providers)


def test_provider_error_is_stored_as_a_failed_replay(store, providers, openai_server, recorded):
    openai_server.answer = Answer(status=429, error_message=f"Rate limit reached for key {KEY_OPENAI}")
    out = replay_span(store, PROJECT, recorded.span_id, None, None, providers)
    assert out["status"] == "failed" and out["output"] == ""
    assert out["error"]["status_code"] == 429 and out["error"]["provider"] == "openai"
    assert "Rate limit reached" in out["error"]["message"]
    span = store.get_trace(PROJECT, out["trace_id"])[0]
    assert span["status"] == "error" and "429" in span["status_message"]
    assert KEY_OPENAI not in json.dumps(out) and KEY_OPENAI not in json.dumps(span, default=str)


def test_replay_request_errors(store, providers, recorded):
    with pytest.raises(SpanNotFound):
        replay_span(store, PROJECT, "c" * 16, None, None, providers)
    with pytest.raises(SpanNotFound):
        replay_span(store, "other-project", recorded.span_id, recorded.trace_id, None, providers)
    with pytest.raises(InvalidReplayRequest, match="span_id"):
        replay_span(store, PROJECT, "not-hex", None, None, providers)
    with pytest.raises(InvalidReplayRequest, match="unknown override"):
        replay_span(store, PROJECT, recorded.span_id, None, {"temprature": 1}, providers)
    with pytest.raises(ProviderNotConfigured, match="TRACEHOUSE_ANTHROPIC"):
        replay_span(store, PROJECT, recorded.span_id, None, {"model": "claude-haiku-4-5"},
                    Providers.from_settings(openai_base_url="http://127.0.0.1:9/v1"))
    tool = replace(recorded, span_id="d" * 16, kind="tool", input_messages=(), output_messages=())
    store.insert_spans([tool])
    with pytest.raises(NotReplayable, match="no recorded input messages"):
        replay_span(store, PROJECT, tool.span_id, tool.trace_id, None, providers)


@pytest.mark.parametrize("span_id_filter", [True, False], ids=["span-id-filter", "scan"])
def test_find_span_with_and_without_a_trace_id(store, recorded, monkeypatch, span_id_filter):
    from tracehouse.collector.replay import _select

    if not span_id_filter:
        monkeypatch.setattr(_select, "SPAN_ID_FILTER", False)  # storage without a span_id filter: page through
    elif not _select.SPAN_ID_FILTER:
        pytest.skip("this storage's SpanFilter has no span_id")
    store.insert_spans([replace(recorded, span_id="f" * 16, trace_id="f" * 32)])
    assert find_span(store, PROJECT, recorded.span_id)["trace_id"] == recorded.trace_id
    assert find_span(store, PROJECT, recorded.span_id, recorded.trace_id)["span_id"] == recorded.span_id
    with pytest.raises(SpanNotFound):
        find_span(store, PROJECT, "0" * 16)


# -- trajectory replay ------------------------------------------------------------------------------------------
class ScriptedOpenAI(FakeOpenAI):
    """Answers from a script, one answer per request, in order."""

    def __init__(self, answers: list[Answer]) -> None:
        super().__init__()
        self.script = list(answers)
        self.lock = threading.Lock()

    def _handle(self, request):
        with self.lock:
            if request.path == "/v1/chat/completions" and self.script:
                self.answer = self.script.pop(0)
        return super()._handle(request)


CALL_PART = {"type": "tool_call", "id": "call_abc", "name": "get_weather", "arguments": {"city": "Oslo"}}
RESULT_PART = {"type": "tool_call_response", "id": "call_abc", "response": '{"temp_c": 3, "sky": "clear"}'}
FINAL = "It is 3 degrees and clear in Oslo."


def agent_trace(store) -> dict[str, SpanRecord]:
    """agent -> llm (calls get_weather) -> tool (recorded result) -> llm (final answer), like the demo's agent."""
    t0 = now_ns()
    trace = "e" * 32
    question = text("user", "Weather in Oslo?")
    system = text("system", "You are a weather bot.")
    root = SpanRecord(project=PROJECT, trace_id=trace, span_id="1" * 16, parent_span_id="", name="invoke_agent weather",
                      start_time_ns=t0, end_time_ns=t0 + 3000 * MS, kind="agent", status="ok", tenant="acme",
                      input_text="Weather in Oslo?", output_text=FINAL)
    step1 = llm_span(trace, "2" * 16, parent=root.span_id, start_ns=t0 + 10 * MS, duration_ms=900,
                     messages=(system, question),
                     output=({"role": "assistant", "parts": [CALL_PART], "finish_reason": "tool_calls"},),
                     params={"temperature": 0.0, "seed": 7, "tools": [TOOL]})
    tool = SpanRecord(project=PROJECT, trace_id=trace, span_id="3" * 16, parent_span_id=root.span_id,
                      name="execute_tool get_weather", start_time_ns=t0 + 950 * MS, end_time_ns=t0 + 1200 * MS,
                      kind="tool", status="ok", input_text='{"city": "Oslo"}', output_text=RESULT_PART["response"],
                      attributes={"gen_ai.tool.call.result": RESULT_PART["response"]})
    step2 = llm_span(trace, "4" * 16, parent=root.span_id, start_ns=t0 + 1250 * MS, duration_ms=1500,
                     messages=(system, question, {"role": "assistant", "parts": [CALL_PART]},
                               {"role": "tool", "parts": [RESULT_PART]}),
                     output=(text("assistant", FINAL, finish_reason="stop"),),
                     params={"temperature": 0.0, "seed": 7, "tools": [TOOL]})
    spans = {"root": root, "step1": step1, "tool": tool, "step2": step2}
    store.insert_spans(spans.values())
    return spans


def scripted(answers: list[Answer]) -> tuple[ScriptedOpenAI, Providers]:
    server = ScriptedOpenAI(answers)  # started by the caller's ``with``
    return server, Providers.from_settings(openai_base_url=server.base_url_v1, openai_api_key=KEY_OPENAI,
                                           max_retries=0)


def test_trajectory_replay_reports_the_first_divergence_and_mirrors_the_tree(store):
    spans = agent_trace(store)
    server, providers = scripted([
        Answer(text="", tool_calls=[("call_new", "get_weather", {"city": "Oslo"})]),  # same call as recorded
        Answer(text="Oslo: 3 degrees, clear skies."),  # a different final answer
    ])
    with server:
        out = replay_trajectory(store, PROJECT, spans["root"].trace_id, None, providers, price_step=PRICE)
        second = server.requests[1].json()
    assert out["status"] == "done" and out["of_trace_id"] == spans["root"].trace_id
    assert [s["span_id"] for s in out["steps"]] == [spans["step1"].span_id, spans["step2"].span_id]
    assert [s["same"] for s in out["steps"]] == [True, False]
    assert out["steps"][0]["similarity"] == 1.0 and 0 < out["steps"][1]["similarity"] < 1
    assert out["first_divergence"] == spans["step2"].span_id
    # step 2 was fed the recorded tool result (nothing outside was called) and the recorded call id
    assert second["messages"][2]["tool_calls"][0]["id"] == "call_abc"
    assert second["messages"][3] == {"role": "tool", "tool_call_id": "call_abc", "content": RESULT_PART["response"]}
    assert second["seed"] == 7

    stored = {s["span_id"]: s for s in store.get_trace(PROJECT, out["trace_id"])}
    assert len(stored) == 4 and out["spans"] == 4
    new = {s["metadata"]["replay_of"]["span_id"]: s for s in stored.values()}
    assert set(new) == {s.span_id for s in spans.values()}
    root = new[spans["root"].span_id]
    assert root["parent_span_id"] == "" and root["kind"] == "agent"
    assert all(new[k]["parent_span_id"] == root["span_id"] for k in (spans["step1"].span_id, spans["tool"].span_id,
                                                                      spans["step2"].span_id))
    assert new[spans["tool"].span_id]["output_text"] == RESULT_PART["response"]
    assert root["output_text"] == "Oslo: 3 degrees, clear skies."  # the agent's answer is the new final answer
    assert all("replay" in s["tags"] and s["metadata"]["replay_id"] == out["replay_id"] for s in stored.values())
    assert new[spans["step2"].span_id]["output_text"] == "Oslo: 3 degrees, clear skies."
    order = sorted(stored.values(), key=lambda s: s["start_time_ns"])
    assert [s["metadata"]["replay_of"]["span_id"] for s in order] == [
        spans["root"].span_id, spans["step1"].span_id, spans["tool"].span_id, spans["step2"].span_id]
    assert root["end_time_ns"] >= max(s["end_time_ns"] for s in stored.values() if s is not root) - 1


def test_trajectory_substitutes_a_new_turn_only_when_its_tool_calls_match(store):
    spans = agent_trace(store)
    server, providers = scripted([
        Answer(text="Let me look that up.", tool_calls=[("call_x", "get_weather", {"city": "Oslo"})]),
        Answer(text=FINAL),
    ])
    with server:
        out = replay_trajectory(store, PROJECT, spans["root"].trace_id, None, providers)
        second = server.requests[1].json()
    assert [s["same"] for s in out["steps"]] == [False, True]
    assert out["first_divergence"] == spans["step1"].span_id
    assistant = second["messages"][2]
    assert assistant["content"] == "Let me look that up."  # the new turn, with the recorded call id
    assert assistant["tool_calls"][0]["id"] == "call_abc"

    server, providers = scripted([
        Answer(text="", tool_calls=[("call_y", "get_weather", {"city": "Bergen"})]),  # a different call
        Answer(text=FINAL),
    ])
    with server:
        out = replay_trajectory(store, PROJECT, spans["root"].trace_id, None, providers)
        second = server.requests[1].json()
    assert [s["same"] for s in out["steps"]] == [False, True]
    assert json.loads(second["messages"][2]["tool_calls"][0]["function"]["arguments"]) == {"city": "Oslo"}


def test_trajectory_step_overrides_and_global_model(store):
    spans = agent_trace(store)
    server, providers = scripted([Answer(text="", tool_calls=[("c", "get_weather", {"city": "Oslo"})]),
                                  Answer(text=FINAL)])
    with server:
        out = replay_trajectory(store, PROJECT, spans["root"].trace_id,
                                {"model": "gpt-4.1", "params": {"seed": 1},
                                 "steps": {spans["step2"].span_id: {"model": "gpt-4o-mini",
                                                                    "system": "Be terse."}}}, providers)
        first, second = (r.json() for r in server.requests)
    assert (first["model"], first["seed"]) == ("gpt-4.1", 1)
    assert (second["model"], second["seed"]) == ("gpt-4o-mini", 1)
    assert second["messages"][0] == {"role": "system", "content": "Be terse."}
    assert out["first_divergence"] is None and [s["same"] for s in out["steps"]] == [True, True]
    with pytest.raises(InvalidReplayRequest, match="not LLM steps"):
        replay_trajectory(store, PROJECT, spans["root"].trace_id, {"steps": {spans["tool"].span_id: {}}}, providers)


def test_trajectory_stops_at_a_provider_error(store):
    spans = agent_trace(store)
    server, providers = scripted([Answer(text="", tool_calls=[("c", "get_weather", {"city": "Oslo"})]),
                                  Answer(status=500, error_message="overloaded")])
    with server:
        out = replay_trajectory(store, PROJECT, spans["root"].trace_id, None, providers)
    assert out["status"] == "failed" and out["error"]["status_code"] == 500
    assert out["steps"][1]["error"]["message"] == "overloaded" and out["first_divergence"] is None
    stored = store.get_trace(PROJECT, out["trace_id"])
    assert sorted(s["status"] for s in stored if s["kind"] == "llm") == ["error", "ok"]


def test_trajectory_of_unknown_or_llm_less_traces(store, providers):
    with pytest.raises(SpanNotFound):
        replay_trajectory(store, PROJECT, "f" * 32, None, providers)
    spans = agent_trace(store)
    store.insert_spans([replace(spans["tool"], trace_id="9" * 32)])
    with pytest.raises(NotReplayable):
        replay_trajectory(store, PROJECT, "9" * 32, None, providers)


# -- batch replay -----------------------------------------------------------------------------------------------
def wait_done(batch: BatchReplays, run_id: str, timeout_s: float = 60) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        run = batch.get(PROJECT, run_id)
        assert 0.0 <= run["progress"] <= 1.0
        if run["status"] in ("done", "failed", "cancelled"):
            return run
        time.sleep(0.05)
    raise AssertionError("batch replay did not finish")


class LengthEvaluator:
    name = "shorter"

    def __call__(self, original, replayed):
        if original["output_text"].startswith("{"):
            raise ValueError("not for JSON answers")  # an evaluator that fails scores None, never sinks the run
        return 1.0 if len(replayed["output_text"]) <= len(original["output_text"]) else 0.0


def test_batch_replay_scores_every_selected_call(store, providers, openai_server):
    t0 = now_ns()
    same = llm_span("1" * 32, "a" * 16, start_ns=t0, messages=CONVERSATION,
                    output=(text("assistant", "Hello there!"),), params={"seed": 1}, duration_ms=500)
    different = llm_span("2" * 32, "b" * 16, start_ns=t0 + MS, messages=CONVERSATION,
                         output=(text("assistant", "Hello, how can I help you today?"),), duration_ms=900)
    wants_json = llm_span("3" * 32, "c" * 16, start_ns=t0 + 2 * MS,
                          messages=(text("user", "Extract the invoice. Output JSON only."),),
                          output=(text("assistant", '{"total": 12.5}'),))
    no_content = llm_span("4" * 32, "d" * 16, start_ns=t0 + 3 * MS)  # content capture was off
    other_tenant = replace(llm_span("5" * 32, "e" * 16, start_ns=t0, messages=CONVERSATION), tenant="globex")
    store.insert_spans([same, different, wants_json, no_content, other_tenant])
    batch = BatchReplays(store, providers, concurrency=2, price_step=PRICE, evaluators=[LengthEvaluator()])
    try:
        run_id = batch.submit(PROJECT, {"tenant": "acme", "limit": 10}, {"model": "gpt-4o-mini",
                                                                          "params": {"temperature": 0}})
        run = wait_done(batch, run_id)
    finally:
        batch.close()
    assert run["status"] == "done" and run["progress"] == 1.0 and run["n"] == 4
    results = {r["span_id"]: r for r in run["results"]}
    assert set(results) == {"a" * 16, "b" * 16, "c" * 16, "d" * 16}
    assert results["a" * 16]["exact_match"] is True and results["a" * 16]["similarity"] == 1.0
    assert results["b" * 16]["exact_match"] is False and 0 < results["b" * 16]["similarity"] < 1
    assert results["b" * 16]["length_delta"] == len("Hello there!") - len("Hello, how can I help you today?")
    assert results["a" * 16]["json_valid"] is None and results["c" * 16]["json_valid"] is False
    assert results["a" * 16]["cost_delta_usd"] == pytest.approx((12 * 0.15 + 7 * 0.6) / 1e6 - 0.0001)
    assert results["a" * 16]["latency_delta_ms"] < 0  # the fake answers in well under 500 ms
    assert results["b" * 16]["scores"] == {"shorter": 1.0}
    assert "no recorded input messages" in results["d" * 16]["error"]
    replayed = store.get_trace(PROJECT, results["a" * 16]["replayed_trace_id"])[0]
    assert replayed["metadata"]["replay_id"] == run_id and replayed["metadata"]["replay_kind"] == "batch"
    summary = run["summary"]
    assert (summary["n"], summary["replayed"], summary["errors"]) == (4, 3, 1)
    assert summary["exact_match_rate"] == pytest.approx(1 / 3)
    assert summary["json_valid_rate"] == 0.0 and summary["json_scored"] == 1
    assert results["c" * 16]["scores"] == {"shorter": None} and summary["scores"]["shorter"] == 1.0
    assert all(json.loads(r.body)["temperature"] == 0 for r in openai_server.requests)
    with pytest.raises(RunNotFound):
        batch.get("other-project", run_id)


def test_batch_replay_of_explicit_spans_and_provider_errors(store, providers, anthropic_server):
    t0 = now_ns()
    spans = [llm_span(f"{i:032x}", f"{i + 1:016x}", start_ns=t0 + i * MS, messages=CONVERSATION,
                      output=(text("assistant", "Hi"),), provider="anthropic", model="claude-haiku-4-5")
             for i in range(1, 4)]
    store.insert_spans(spans)
    anthropic_server.answer = Answer(status=529, error_message="overloaded")
    batch = BatchReplays(store, providers, concurrency=3)
    try:
        run = wait_done(batch, batch.submit(PROJECT, {"spans": [{"trace_id": s.trace_id, "span_id": s.span_id}
                                                                for s in spans[:2]]}, None))
    finally:
        batch.close()
    assert run["status"] == "done" and run["n"] == 2
    assert all(r["error"] == "anthropic answered 529: overloaded" for r in run["results"])
    assert run["summary"]["error_rate"] == 1.0 and run["summary"]["exact_match_rate"] is None


def test_batch_replay_validates_at_submit(store, providers):
    batch = BatchReplays(store, providers, max_active=1)
    try:
        with pytest.raises(InvalidReplayRequest, match="limit"):
            batch.submit(PROJECT, {"limit": 501}, None)
        with pytest.raises(InvalidReplayRequest, match="unknown filter"):
            batch.submit(PROJECT, {"tennant": "acme"}, None)
        with pytest.raises(InvalidReplayRequest, match="RFC 3339"):
            batch.submit(PROJECT, {"start": "yesterday"}, None)
        with pytest.raises(ProviderNotConfigured):
            BatchReplays(store, Providers()).submit(PROJECT, {}, {"provider": "openai"})
        run_id = batch.submit(PROJECT, {"tenant": "nobody"}, None)
        run = wait_done(batch, run_id)
        assert (run["status"], run["n"], run["progress"], run["results"]) == ("done", 0, 1.0, [])
        assert run["summary"]["exact_match_rate"] is None
    finally:
        batch.close()
    with pytest.raises(ReplayBusy):
        batch.submit(PROJECT, {}, None)


# -- recorded through the SDK -----------------------------------------------------------------------------------
class ScriptedAnthropic(FakeAnthropic):
    def __init__(self, answers: list[Answer]) -> None:
        super().__init__()
        self.script = list(answers)
        self.lock = threading.Lock()

    def _handle(self, request):
        with self.lock:
            if request.path == "/v1/messages" and self.script:
                self.answer = self.script.pop(0)
        return super()._handle(request)


def answer_like(span: dict) -> Answer:
    """What the recorded step answered, as a fake server's answer."""
    parts = span["output_messages"][0]["parts"]
    calls = [(p["id"] + "_new", p["name"], p["arguments"]) for p in parts if p["type"] == "tool_call"]
    return Answer(text="".join(p["content"] for p in parts if p["type"] == "text"), tool_calls=calls)


def test_replays_of_demo_traffic_recorded_through_the_sdk(store):
    """The demo's agent, RAG and chat traces, recorded by the real SDK and normalized by the collector's chain,
    replay as recorded: the trajectory reproduces (no divergence) when the provider answers what it answered."""
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    import tracehouse
    from tracehouse.cli.demo import generate_demo
    from tracehouse.collector.normalize import normalize
    from tracehouse.collector.otlp import decode_traces

    exporter = InMemorySpanExporter()
    tracehouse.init(endpoint="http://127.0.0.1:4318", service_name="demo", exporter=exporter)
    try:
        generate_demo(traces=30, seed=7, span_window_s=3600)
    finally:
        tracehouse.shutdown()
    raw, rejected = decode_traces(encode_spans(exporter.get_finished_spans()).SerializeToString(), "protobuf")
    assert not rejected
    store.insert_spans([replace(normalize(r, PROJECT), project=PROJECT) for r in raw])

    llm = [s for s in store.search_spans(PROJECT, _all_time(kind="llm"), 1000)[0] if s["status"] != "error"]
    by_trace: dict[str, list[dict]] = {}
    for s in llm:
        by_trace.setdefault(s["trace_id"], []).append(s)
    agent_trace_id, steps = next((t, sorted(v, key=lambda s: s["start_time_ns"])) for t, v in by_trace.items()
                                 if len(v) == 2)
    answers = [answer_like(s) for s in steps]
    with ScriptedOpenAI(list(answers)) as openai_fake, ScriptedAnthropic(list(answers)) as anthropic_fake:
        providers = Providers.from_settings(openai_base_url=openai_fake.base_url_v1, openai_api_key=KEY_OPENAI,
                                            anthropic_base_url=anthropic_fake.base_url,
                                            anthropic_api_key=KEY_ANTHROPIC, max_retries=0)
        out = replay_trajectory(store, PROJECT, agent_trace_id, None, providers)
        assert out["status"] == "done" and [s["same"] for s in out["steps"]] == [True, True]
        assert out["first_divergence"] is None
        sent = (openai_fake if steps[0]["provider"] == "openai" else anthropic_fake).requests
        assert len(sent) == 2 and "tool" in json.dumps(sent[1].json())  # the recorded tool result went back in

        single = replay_span(store, PROJECT, llm[-1]["span_id"], llm[-1]["trace_id"], None, providers)
        assert single["status"] == "done" and single["span"]["input_messages"] == llm[-1]["input_messages"]


def _all_time(**filters):
    from tracehouse.storage import SpanFilter

    return SpanFilter(start_ns=0, end_ns=2**62, **filters)


def test_cohorts_selected_from_the_store(store):
    """What ``POST /api/v1/compare/cohorts`` does: two filtered selections, compared."""
    from tracehouse.collector import serialize
    from tracehouse.collector.replay import compare_cohorts, select_spans

    t0 = now_ns()
    store.insert_spans([llm_span(f"{i:032x}", f"{i + 1:016x}", start_ns=t0 + i * MS, messages=CONVERSATION,
                                 output=(text("assistant", "ok"),), model="gpt-4o-mini" if i % 2 else "gpt-4.1",
                                 duration_ms=400 if i % 2 else 1200) for i in range(1, 25)])
    a = select_spans(store, PROJECT, {"model": "gpt-4.1-2024-07-18", "limit": 1000}, max_limit=1000)
    b = select_spans(store, PROJECT, {"model": "gpt-4o-mini-2024-07-18"}, max_limit=1000)
    assert len(a) == len(b) == 12
    out = compare_cohorts([serialize.span_json(s) for s in a], [serialize.span_json(s) for s in b], seed=0)
    latency = out["deltas"][0]
    assert latency["metric"] == "latency_ms" and latency["delta"] == pytest.approx(-800)
    assert latency["ci_low"] == latency["ci_high"] == pytest.approx(-800)  # constant values: a point interval
    assert latency["significant"] is True
    with pytest.raises(InvalidReplayRequest, match="limit"):
        select_spans(store, PROJECT, {"limit": 2000}, max_limit=1000)


def test_selections_leave_replays_out_unless_asked(store, providers):
    """Running a batch twice replays the recorded calls again, not the first run's replays; a cohort is recorded
    traffic. ``replays: only`` selects the replays, ``include`` both."""
    from tracehouse.collector.replay import select_spans

    t0 = now_ns()
    recorded = [llm_span(f"{i:032x}", f"{i + 1:016x}", start_ns=t0 + i * MS, messages=CONVERSATION)
                for i in range(1, 4)]
    replays = [replace(llm_span(f"{i:032x}", f"{i + 1:016x}", start_ns=t0 + i * MS, messages=CONVERSATION),
                       tags=("prod", "replay"), metadata={"replay_of": {"trace_id": "1" * 32, "span_id": "2" * 16}})
               for i in range(10, 15)]  # newer than every recorded call
    store.insert_spans([*recorded, *replays])
    ids = lambda spans: {s["span_id"] for s in spans}  # noqa: E731
    assert ids(select_spans(store, PROJECT, {"limit": 3}, max_limit=10)) == {r.span_id for r in recorded}
    assert ids(select_spans(store, PROJECT, {"replays": "only"}, max_limit=100)) == {r.span_id for r in replays}
    assert len(select_spans(store, PROJECT, {"replays": "include", "limit": 6}, max_limit=10)) == 6
    with pytest.raises(InvalidReplayRequest, match="replays must be one of"):
        select_spans(store, PROJECT, {"replays": "yes", "limit": 3}, max_limit=10)
    batch = BatchReplays(store, providers)
    try:
        with pytest.raises(InvalidReplayRequest, match="replays"):
            batch.submit(PROJECT, {"replays": "all"}, None)
    finally:
        batch.close()


def test_a_model_cohort_counts_the_calls_that_failed_before_the_provider_named_its_snapshot(store):
    """A failed call has no response model: it is stored under the model it asked for (``gpt-4o-mini``), the
    others under the provider's snapshot name. Selecting the snapshot takes both, so error rates are honest."""
    from tracehouse.collector.replay import select_spans

    t0 = now_ns()
    answered = [llm_span(f"{i:032x}", f"{i + 1:016x}", start_ns=t0 + i * MS, messages=CONVERSATION)
                for i in range(1, 5)]
    failed = replace(llm_span("f" * 32, "f" * 16, start_ns=t0, messages=CONVERSATION, status="error"),
                     model="gpt-4o-mini")
    other = replace(llm_span("e" * 32, "e" * 16, start_ns=t0, messages=CONVERSATION, model="gpt-4.1",
                             status="error"), model="gpt-4.1")  # asked for another model: not in the cohort
    store.insert_spans([*answered, failed, other])
    cohort = select_spans(store, PROJECT, {"model": "gpt-4o-mini-2024-07-18"}, max_limit=100)
    assert {s["span_id"] for s in cohort} == {*(s.span_id for s in answered), "f" * 16}
    assert [s["start_time_ns"] for s in cohort] == sorted((s["start_time_ns"] for s in cohort), reverse=True)
    assert len(select_spans(store, PROJECT, {"model": "gpt-4o-mini-2024-07-18", "limit": 2}, max_limit=100)) == 2
    assert {s["span_id"] for s in select_spans(store, PROJECT, {"model": "gpt-4o-mini"}, max_limit=100)} == {
        "f" * 16}  # the request name alone: only what was stored under it
