"""Sessions, cost breakdowns, top-N and trace scores over a collector process with demo data; and the right
to be forgotten through the API (a fresh project, so the shared demo data stays)."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.conftest import wait_until
from tracehouse.collector.timefmt import format_time

WEEK = {"start": format_time(time.time_ns() - 8 * 86400 * 10**9)}


@pytest.fixture(scope="module")
def api(collector):
    with collector.client() as client:
        yield client


def demo_session(api) -> tuple[str, int]:
    spans = api.get("/api/v1/spans", params={**WEEK, "limit": 1000}).json()["items"]
    sessions = [s["session"] for s in spans if s["session"]]
    session = max(set(sessions), key=sessions.count)
    return session, sum(1 for s in spans if s["session"] == session)


def test_a_session_reads_back_end_to_end_oldest_first(api):
    session, seen = demo_session(api)
    body = api.get(f"/api/v1/sessions/{session}", params={"limit": 1000}).json()
    items = body["items"]
    assert body["session"] == session and len(items) >= seen and {s["session"] for s in items} == {session}
    assert [s["start_time"] for s in items] == sorted(s["start_time"] for s in items)
    first = api.get(f"/api/v1/sessions/{session}", params={"limit": 2}).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    rest = api.get(f"/api/v1/sessions/{session}", params={"limit": 1000, "cursor": first["next_cursor"]}).json()
    assert [s["span_id"] for s in first["items"] + rest["items"]] == [s["span_id"] for s in items]
    assert api.get("/api/v1/sessions/no-such-session").status_code == 404


def test_cost_by_tenant_and_model_per_day_and_top_spenders(api):
    daily = api.get("/api/v1/cost", params={**WEEK, "by": "tenant,model"}).json()
    assert daily["items"] and all({"time", "tenant", "model", "cost_usd", "spans"} <= set(r) for r in daily["items"])
    totals = api.get("/api/v1/cost", params={**WEEK, "by": "tenant", "interval": "total", "order_by": "cost",
                                              "limit": 3}).json()["items"]
    assert len(totals) <= 3 and [r["cost_usd"] for r in totals] == sorted((r["cost_usd"] for r in totals), reverse=True)
    assert all(r["time"] is None for r in totals)
    by_tenant: dict[str, float] = {}
    for r in daily["items"]:
        by_tenant[r["tenant"]] = by_tenant.get(r["tenant"], 0) + r["cost_usd"]
    assert totals[0]["cost_usd"] == pytest.approx(max(by_tenant.values()), rel=1e-6)
    assert api.get("/api/v1/cost", params={"by": "user"}).status_code == 400
    assert api.get("/api/v1/cost", params={"interval": "week"}).status_code == 422


def test_top_spans_by_duration_and_cost(api):
    slow = api.get("/api/v1/top", params={**WEEK, "by": "duration", "limit": 5}).json()["items"]
    assert len(slow) == 5 and [s["duration_ms"] for s in slow] == sorted((s["duration_ms"] for s in slow), reverse=True)
    assert "start_time" in slow[0] and "input_preview" in slow[0]
    costly = api.get("/api/v1/top", params={**WEEK, "by": "cost", "limit": 3}).json()["items"]
    assert [s["cost_usd"] for s in costly] == sorted((s["cost_usd"] for s in costly), reverse=True)
    assert api.get("/api/v1/top", params={"by": "vibes"}).status_code == 400


def test_scores_of_a_trace_read_back(api):
    trace_id = api.get("/api/v1/traces", params={**WEEK, "limit": 1}).json()["items"][0]["trace_id"]
    for value in (0.25, 1.0):
        assert api.post("/api/v1/scores", json={"trace_id": trace_id, "name": "helpful", "value": value,
                                                "comment": "from the test"}).status_code == 201
    wait_until(lambda: len(api.get(f"/api/v1/traces/{trace_id}/scores").json()["items"]) >= 2, timeout_s=10)
    scores = api.get(f"/api/v1/traces/{trace_id}/scores").json()["items"]
    assert [s["value"] for s in scores][-2:] == [0.25, 1.0] and scores[-1]["created_at"].endswith("Z")
    assert api.get(f"/api/v1/traces/{'0' * 32}/scores").json()["items"] == []


def test_forgetting_a_user_deletes_their_spans_and_verifies(empty_collector):
    import tracehouse

    project, key = empty_collector.new_project("forget", scopes=("ingest", "read", "admin"))
    tracehouse.init(endpoint=empty_collector.base_url, api_key=key, service_name="forget-app")
    try:
        for user in ("alice", "bob"):
            with tracehouse.context(tenant="acme", user=user, session=f"s-{user}"):
                with tracehouse.llm_call(provider="openai", model="gpt-4o-mini",
                                         messages=[{"role": "user", "content": f"I am {user}"}]) as call:
                    call.set_output("hello", input_tokens=10, output_tokens=2)
        assert tracehouse.flush()
    finally:
        tracehouse.shutdown()
    client = empty_collector.client(key)
    wait_until(lambda: len(client.get("/api/v1/spans").json()["items"]) == 2, timeout_s=20)
    report = client.post(f"/api/v1/projects/{project}/forget", json={"user": "alice"}, timeout=120).json()
    assert report["verified"] is True and report["deleted"]["spans"] == 1 and report["user"] == "alice"
    assert [s["user"] for s in client.get("/api/v1/spans").json()["items"]] == ["bob"]
    assert client.post(f"/api/v1/projects/{project}/forget", json={}).status_code == 400
    reader = httpx.post(f"{empty_collector.base_url}/api/v1/projects/{project}/keys", json={"scopes": ["read"]},
                        headers={"Authorization": f"Bearer {empty_collector.admin_key}"}).json()["key"]
    refused = httpx.post(f"{empty_collector.base_url}/api/v1/projects/{project}/forget", json={"user": "bob"},
                         headers={"Authorization": f"Bearer {reader}"})
    assert refused.status_code == 403
