"""Replay and compare through the collector's HTTP API, in-process, against a fake OpenAI server."""

from __future__ import annotations

import json
import time

import pytest

from tracehouse.collector.app import create_app
from tracehouse.collector.settings import Settings

from .fakes_sdk.openai_server import FakeOpenAI
from .otlp_payloads import encoded_genai_trace
from .test_api import ADMIN, PB, IngestClient, _with_project, new_key


@pytest.fixture
def replay_api(store, tmp_path):
    with FakeOpenAI() as server:
        settings = Settings(admin_key=ADMIN, grpc_port=0, wal_dir=str(tmp_path / "wal"),
                            openai_base_url=server.base_url_v1, openai_api_key="sk-test-not-a-real-key")
        with IngestClient(create_app(settings, store)) as client:
            _with_project(client)
            client.post("/v1/traces", content=encoded_genai_trace(), headers=PB)
            client.server = server  # type: ignore[attr-defined]
            yield client


def recorded_llm_span(client) -> dict:
    return client.get("/api/v1/spans", params={"kind": "llm"}).json()["items"][0]


def test_replay_resends_the_recorded_call_and_stores_a_linked_trace(replay_api):
    span = recorded_llm_span(replay_api)
    response = replay_api.post("/api/v1/replays", json={"span_id": span["span_id"], "trace_id": span["trace_id"]})
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["status"] == "done" and result["trace_id"] != span["trace_id"]
    sent = replay_api.server.requests[-1].json()
    assert sent["messages"][-1]["content"] == "Where is my order 123?" and sent["temperature"] == 0.3
    assert "sk-test" not in response.text
    replay_api.app.state.pipeline.wait_stored()
    stored = replay_api.get(f"/api/v1/traces/{result['trace_id']}")
    assert stored.status_code == 200
    (replayed,) = stored.json()["spans"]
    assert "replay" in replayed["tags"] and replayed["metadata"]["replay_of"]["span_id"] == span["span_id"]


def test_replay_with_an_edited_model_and_compare(replay_api):
    span = recorded_llm_span(replay_api)
    result = replay_api.post("/api/v1/replays", json={"span_id": span["span_id"],
                                                      "overrides": {"model": "gpt-4.1", "params": {"seed": 7}}}).json()
    assert replay_api.server.requests[-1].json()["model"] == "gpt-4.1"
    assert replay_api.server.requests[-1].json()["seed"] == 7
    compared = replay_api.get("/api/v1/compare", params={"a": span["span_id"], "b": result["span_id"]})
    assert compared.status_code == 200 and {"a", "b", "diff", "deltas"} <= set(compared.json())


def test_replay_errors_are_clear(replay_api):
    assert replay_api.post("/api/v1/replays", json={"span_id": "0" * 15 + "1"}).status_code == 404
    assert replay_api.post("/api/v1/replays", json={"span_id": "not-hex"}).status_code == 422
    read_only = new_key(replay_api, ["read"])
    span = recorded_llm_span(replay_api)
    denied = replay_api.post("/api/v1/replays", json={"span_id": span["span_id"]},
                             headers={"Authorization": f"Bearer {read_only}"})
    assert denied.status_code in (403, 404)


def test_cohort_compare(replay_api):
    response = replay_api.post("/api/v1/compare/cohorts", json={"a": {"model": "gpt-4o-mini-2024-07-18"},
                                                                "b": {"model": "nope"}})
    assert response.status_code == 200
    body = response.json()
    assert body["a"]["n"] == 1 and body["b"]["n"] == 0


def sse_events(response) -> list[dict]:
    return [json.loads(line[5:]) for line in response.text.splitlines() if line.startswith("data:")]


def test_streamed_replay_sends_deltas_then_the_result(replay_api):
    """What the dashboard reads while a replay streams: ``delta`` events, then one ``result``."""
    span = recorded_llm_span(replay_api)
    replay_api.server.answer.text = "Your order 123 ships tomorrow."
    response = replay_api.post("/api/v1/replays/stream", json={"span_id": span["span_id"],
                                                               "trace_id": span["trace_id"]})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response)
    deltas = [e["text"] for e in events if e["type"] == "delta"]
    assert len(deltas) > 1 and "".join(deltas) == "Your order 123 ships tomorrow."
    (result,) = [e["replay"] for e in events if e["type"] == "result"]
    assert events[-1]["type"] == "result" and result["status"] == "done"
    assert result["output"] == "Your order 123 ships tomorrow." and result["span"]["time_to_first_token_ms"] > 0
    assert replay_api.server.requests[-1].json()["stream"] is True
    missing = replay_api.post("/api/v1/replays/stream", json={"span_id": "0" * 15 + "1"})
    assert missing.status_code == 404 and "not found" in missing.json()["detail"]  # before any event


def test_batch_replay_run_twice_replays_the_recording_both_times(replay_api):
    span = recorded_llm_span(replay_api)

    def run() -> dict:
        started = replay_api.post("/api/v1/replays/batch", json={"filters": {}, "overrides": {"model": "gpt-4.1"}})
        assert started.status_code == 202, started.text
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            body = replay_api.get(f"/api/v1/replays/batch/{started.json()['run_id']}").json()
            if body["status"] not in ("queued", "running"):
                return body
            time.sleep(0.1)
        raise AssertionError("the batch did not finish")

    first, second = run(), run()
    assert [r["span_id"] for r in first["results"]] == [r["span_id"] for r in second["results"]] == [span["span_id"]]
    assert first["summary"]["replayed"] == second["summary"]["replayed"] == 1
    bad = replay_api.post("/api/v1/replays/batch", json={"filters": {"replays": "sometimes"}})
    assert bad.status_code == 400 and "replays must be one of" in bad.json()["detail"]
