"""End to end with real processes: a collector on a free loopback port, the SDK exporting over OTLP/HTTP with
the official exporter, and the query API reading the spans back."""

from __future__ import annotations

import time

import pytest

import tracehouse

pytestmark = pytest.mark.e2e


@pytest.fixture
def sdk(empty_collector):
    project, key = empty_collector.new_project("e2e")
    tracehouse.init(endpoint=empty_collector.base_url, api_key=key, service_name="e2e-app",
                    environment="test", release="9.9.9")
    yield empty_collector.client(key)
    tracehouse.shutdown()


def wait_for_trace(client, trace_id: str, count: int, timeout_s: float = 20) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        response = client.get(f"/api/v1/traces/{trace_id}")
        if response.status_code == 200 and len(response.json()["spans"]) >= count:
            return response.json()
        time.sleep(0.2)
    raise AssertionError(f"trace {trace_id} did not arrive with {count} spans")


def test_sdk_spans_arrive_with_model_tokens_messages_tenant_and_structure(sdk):
    with tracehouse.context(tenant="acme", user="user-1", session="sess-1", tags=["beta"], metadata={"plan": "pro"}):
        with tracehouse.span("answer question", kind="agent") as root:
            with tracehouse.span("search docs", kind="retrieval") as retrieval:
                retrieval.set_input({"query": "refund policy"})
                retrieval.set_output(["Refunds within 30 days."])
            with tracehouse.llm_call(
                provider="openai", model="gpt-4o-mini", params={"temperature": 0.2, "seed": 42},
                messages=[{"role": "system", "content": "Be brief."},
                          {"role": "user", "content": "Can I get a refund?"}],
                prompt_name="support-answer", prompt_version="v2",
            ) as call:
                call.set_output("Yes, within 30 days.", finish_reason="stop", input_tokens=420,
                                output_tokens=12, cache_read_tokens=400, time_to_first_token_s=0.35)
    assert tracehouse.flush()
    trace = wait_for_trace(sdk, root.trace_id, 3)
    spans = {s["name"]: s for s in trace["spans"]}
    root_span, llm, ret = spans["answer question"], spans["chat gpt-4o-mini"], spans["search docs"]
    assert root_span["parent_span_id"] is None and root_span["kind"] == "agent"
    assert llm["parent_span_id"] == root_span["span_id"] and ret["parent_span_id"] == root_span["span_id"]
    assert (llm["kind"], llm["provider"], llm["model"], llm["operation"]) == ("llm", "openai", "gpt-4o-mini", "chat")
    assert (llm["input_tokens"], llm["output_tokens"], llm["cache_read_tokens"]) == (420, 12, 400)
    assert llm["cost_source"] == "computed" and llm["cost_usd"] > 0
    assert llm["params"] == {"temperature": 0.2, "seed": 42}
    assert (llm["prompt_name"], llm["prompt_version"]) == ("support-answer", "v2")
    assert llm["time_to_first_token_ms"] == pytest.approx(350)
    assert [m["role"] for m in llm["input_messages"]] == ["system", "user"]
    assert llm["input_messages"][1]["parts"] == [{"type": "text", "content": "Can I get a refund?"}]
    assert llm["output_messages"][0]["parts"][0]["content"] == "Yes, within 30 days."
    assert llm["finish_reason"] == "stop"
    for span in trace["spans"]:
        assert (span["tenant"], span["user"], span["session"]) == ("acme", "user-1", "sess-1")
        assert span["tags"] == ["beta"] and span["metadata"] == {"plan": "pro"}
        assert (span["service"], span["environment"], span["release"]) == ("e2e-app", "test", "9.9.9")
    assert "refund policy" in ret["input_text"] and ret["kind"] == "retrieval"
    found = sdk.get("/api/v1/spans", params={"tenant": "acme", "q": "refund", "kind": "llm"}).json()["items"]
    assert [s["span_id"] for s in found] == [llm["span_id"]]


def test_errors_in_user_code_are_recorded_and_reraised(sdk):
    with pytest.raises(ZeroDivisionError):
        with tracehouse.span("divide") as handle:
            1 / 0
    assert tracehouse.flush()
    (span,) = wait_for_trace(sdk, handle.trace_id, 1)["spans"]
    assert span["status"] == "error" and "ZeroDivisionError" in span["status_message"]


def test_observe_decorator_records_inputs_and_outputs(sdk):
    @tracehouse.observe(kind="tool")
    def add(a: int, b: int) -> int:
        return a + b

    with tracehouse.span("parent") as parent:
        assert add(2, b=3) == 5
    assert tracehouse.flush()
    spans = {s["name"]: s for s in wait_for_trace(sdk, parent.trace_id, 2)["spans"]}
    tool = spans["test_observe_decorator_records_inputs_and_outputs.<locals>.add"]
    assert tool["kind"] == "tool" and tool["input_text"] == '{"a":2,"b":3}' and tool["output_text"] == "5"


def test_demo_data_is_queryable(collector):
    client = collector.client()
    traces = client.get("/api/v1/traces", params={"limit": 200}).json()["items"]
    assert len(traces) == 60
    spans = client.get("/api/v1/spans", params={"limit": 1000}).json()["items"]
    assert {s["kind"] for s in spans} >= {"llm", "tool", "retrieval", "agent"}
    assert len({s["tenant"] for s in spans}) >= 3
    assert any(s["status"] == "error" for s in spans)
    assert sum(s["cost_usd"] for s in spans) > 0
