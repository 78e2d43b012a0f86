"""The Sessions, Cost, Quality, Failure-clusters, Drift and Replay & compare pages, the Traces page's client-side
filters and the project switcher, driven by AppTest against a real collector process (``collector``: demo data,
60 traces). The analytics, replay, compare and score-read endpoints do not exist on it yet, so those pages are
also run against ``contract_collector``: a small in-process server that answers the contract of DESIGN section 6,
to show that each page lights up once the endpoint answers."""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Iterator

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, HTTPException

from tests.conftest import free_port
from tests.test_dashboard_app import api_window, app, assert_clean, llm_trace, open_page
from tracehouse.dashboard.conversation import sessions_from_traces
from tracehouse.dashboard.formatting import format_count, format_usd


def infos(at) -> str:
    return "\n".join(i.value for i in at.info)


def select_row(at, table_key: str, row: int):
    at.session_state[table_key] = {"selection": {"rows": [row], "columns": [], "cells": []}}  # a click
    return at.run()


# -- Sessions -------------------------------------------------------------------------------------------------

def demo_sessions(collector):
    with collector.client() as client:
        items = client.get("/api/v1/traces", params={**api_window(), "limit": 1000}).json()["items"]
    return sessions_from_traces(items)


def test_sessions_lists_recent_sessions_and_opens_one_as_a_conversation(collector, monkeypatch):
    at = open_page(app(monkeypatch, collector.base_url, collector.api_key), "sessions")
    assert_clean(at)
    assert at.title[0].value == "Sessions"
    expected = demo_sessions(collector)
    assert not expected.empty, "the demo data should contain sessions"
    table = at.dataframe[0].value
    assert table["session"].tolist() == expected["session"].tolist()

    longest = int(table["traces"].idxmax())
    chosen = table.iloc[longest]
    select_row(at, "sessions.table", longest)
    assert_clean(at)
    assert at.text_input(key="session_id").value == chosen["session"]
    tiles = {m.label: m.value for m in at.metric}
    assert tiles["Turns"] == format_count(chosen["traces"])
    assert any(m.name == "user" for m in at.chat_message) and any(m.name == "assistant" for m in at.chat_message)
    assert sum(l.proto.label == "Open trace" for l in at.get("page_link")) == chosen["traces"]

    next(b for b in at.button if b.label == "All sessions").click().run()
    assert_clean(at)
    assert at.text_input(key="session_id").value == ""
    assert at.dataframe[0].value["session"].tolist() == expected["session"].tolist()


def test_a_shared_session_link_shows_each_user_message_once_in_order(collector, monkeypatch):
    session_id = demo_sessions(collector).sort_values("traces").iloc[-1]["session"]
    with collector.client() as client:
        spans = client.get("/api/v1/spans", params={**api_window(), "session": session_id, "kind": "llm",
                                                    "limit": 1000}).json()["items"]
    # What the user typed, turn by turn: the last user message of each trace's first LLM call.
    firsts = {}
    for span in sorted(spans, key=lambda s: s["start_time"]):
        firsts.setdefault(span["trace_id"], span)
    typed = [next(p["content"] for m in reversed(s["input_messages"]) if m["role"] == "user" for p in m["parts"]
                  if p["type"] == "text") for s in firsts.values()]

    at = open_page(app(monkeypatch, collector.base_url, collector.api_key, session_id=session_id), "sessions")
    assert_clean(at)
    shown = [md.value for m in at.chat_message if m.name == "user" for md in m.markdown]
    assert [text.replace("\\$", "$") for text in shown] == typed


def test_an_unknown_session_is_a_warning(collector, monkeypatch):
    at = open_page(app(monkeypatch, collector.base_url, collector.api_key, session_id="no-such-session"),
                   "sessions")
    assert_clean(at)
    assert "No spans of session `no-such-session`" in at.warning[0].value


# -- Cost -----------------------------------------------------------------------------------------------------

def daily_cost(collector, group_by: str) -> list[dict]:
    with collector.client() as client:
        return client.get("/api/v1/metrics", params={**api_window(), "interval": "day",
                                                     "group_by": group_by}).json()["items"]


def test_cost_by_tenant_and_model_with_csv_export(collector, monkeypatch):
    at = open_page(app(monkeypatch, collector.base_url, collector.api_key), "cost")
    assert_clean(at)
    assert at.title[0].value == "Cost"
    items = daily_cost(collector, "tenant")
    total = sum(i["cost_usd"] for i in items)
    tiles = {m.label: m.value for m in at.metric}
    assert tiles["Total cost"] == format_usd(total, compact=True)
    assert tiles["Over budget today"] == "—"  # no budgets yet
    top = max({i["group"] for i in items}, key=lambda g: sum(i["cost_usd"] for i in items if i["group"] == g))
    assert at.markdown[0].value.startswith(f"Top tenant **{top}**")
    assert len(at.get("plotly_chart")) == 3  # by tenant, by model, budgets
    assert "No budgets yet" in infos(at)
    downloads = [d.proto.label for d in at.get("download_button")]
    assert downloads == ["Cost by tenant and day (CSV)", "Cost by model and day (CSV)"]


def test_a_daily_budget_shows_who_is_over_and_survives_a_page_switch(collector, monkeypatch):
    at = open_page(app(monkeypatch, collector.base_url, collector.api_key), "cost")
    at.number_input(key="cost.budget_default").set_value(0.0001).run()
    assert_clean(at)
    items = daily_cost(collector, "tenant")
    spenders = sorted({i["group"] or "(no tenant)" for i in items if i["cost_usd"] > 0.0001})
    warning = at.warning[0].value
    assert warning.startswith("Over budget in this time range:")
    assert all(f"**{t}**" in warning for t in spenders)
    today = max(i["time"] for i in items)
    over_today = {i["group"] for i in items if i["time"] == today and i["cost_usd"] > 0.0001}
    assert at.metric[3].value == f"{len(over_today)} tenant{'s' if len(over_today) != 1 else ''}"

    at.switch_page("pages_/overview.py").run()
    at.switch_page("pages_/cost.py").run()
    assert at.number_input(key="cost.budget_default").value == 0.0001
    assert at.warning[0].value == warning


# -- Quality --------------------------------------------------------------------------------------------------

def test_quality_by_prompt_version_and_by_model(collector, monkeypatch):
    at = open_page(app(monkeypatch, collector.base_url, collector.api_key), "quality")
    assert_clean(at)
    assert at.title[0].value == "Quality"
    with collector.client() as client:
        by_version = client.get("/api/v1/metrics", params={**api_window(), "interval": "hour", "kind": "llm",
                                                           "group_by": "prompt_version"}).json()["items"]
    table = at.dataframe[0].value
    calls = Counter()
    for item in by_version:
        calls[f"v{item['group']}" if item["group"] else "(none)"] += item["spans"]
    assert dict(zip(table["group"], table["spans"])) == dict(calls)
    assert len(at.get("plotly_chart")) == 4  # error rate, latency, signals over time, signals by prompt
    assert "does not serve `GET /api/v1/scores` yet" in infos(at)

    with collector.client() as client:
        models = {i["group"] for i in client.get("/api/v1/metrics", params={
            **api_window(), "interval": "hour", "kind": "llm", "group_by": "model"}).json()["items"]}
    at.get("button_group")[0].set_value("model").run()
    assert_clean(at)
    assert set(at.dataframe[0].value["group"]) == models
    shared = open_page(app(monkeypatch, collector.base_url, collector.api_key, by="model"), "quality")
    assert set(shared.dataframe[0].value["group"]) == models  # ?by=model is a link to this view


# -- analysis pages: the collector serves their endpoints, so no "not served yet" state ----------------------

@pytest.mark.parametrize("page,endpoint", [
    ("clusters", "POST /api/v1/analytics/clusters/runs"),
    ("drift", "POST /api/v1/analytics/drift/runs"),
    ("replay", "POST /api/v1/replays"),
])
def test_analysis_pages_light_up_with_their_endpoint(collector, monkeypatch, page, endpoint):
    at = open_page(app(monkeypatch, collector.base_url, collector.api_key), page)
    assert_clean(at)
    assert f"This collector does not serve `{endpoint}` yet" not in infos(at)


def test_drift_quick_look_compares_the_window_with_the_one_before(collector, monkeypatch):
    at = open_page(app(monkeypatch, collector.base_url, collector.api_key), "drift")
    table = at.dataframe[0].value
    assert table["metric"].tolist() == ["spans", "error rate", "p95 latency", "tokens per span", "cost per span"]
    with collector.client() as client:
        items = client.get("/api/v1/metrics", params={**api_window(), "interval": "hour"}).json()["items"]
    assert table["current"].iloc[0] == format_count(sum(i["spans"] for i in items))


def test_the_trace_page_links_each_llm_call_to_replay_and_compare(collector, monkeypatch):
    trace = llm_trace(collector)
    at = open_page(app(monkeypatch, collector.base_url, collector.api_key, trace_id=trace["trace_id"]), "trace")
    assert_clean(at)
    links = [l.proto for l in at.get("page_link") if l.proto.label == "Replay this call"]
    assert len(links) == sum(s["kind"] == "llm" for s in trace["spans"])

    llm = next(s for s in trace["spans"] if s["kind"] == "llm")
    at = open_page(app(monkeypatch, collector.base_url, collector.api_key, trace=trace["trace_id"],
                       span=llm["span_id"]), "replay")
    assert_clean(at)
    assert any(e.label.startswith("Original call") for e in at.expander)  # the call is shown even before replay


# -- Traces: client-side filters, sort, shareable URL ---------------------------------------------------------

def test_traces_filters_on_duration_and_sorts_slowest_first(collector, monkeypatch):
    at = open_page(app(monkeypatch, collector.base_url, collector.api_key, min_ms="1000", sort="slowest"), "traces")
    assert_clean(at)
    with collector.client() as client:
        page = client.get("/api/v1/traces", params={**api_window(), "limit": 50}).json()["items"]
    expected = sorted((t for t in page if t["duration_ms"] >= 1000), key=lambda t: -t["duration_ms"])
    assert at.dataframe[0].value["trace_id"].tolist() == [t["trace_id"] for t in expected]
    assert at.number_input(key="min_ms").value == 1000 and at.selectbox(key="sort").value == "slowest"


def test_traces_filters_on_tags_and_prompt_from_the_pages_spans(collector, monkeypatch):
    with collector.client() as client:
        spans = client.get("/api/v1/spans", params={**api_window(), "limit": 1000}).json()["items"]
    tagged = Counter(tag for s in spans for tag in s["tags"] if tag != "demo")
    tag = tagged.most_common(1)[0][0]
    at = open_page(app(monkeypatch, collector.base_url, collector.api_key, tag=tag), "traces")
    assert_clean(at)
    table = at.dataframe[0].value
    assert len(table) and all(tag in tags for tags in table["tags"])
    with_tag = {s["trace_id"] for s in spans if tag in s["tags"]}
    assert set(table["trace_id"]) <= with_tag

    at.text_input(key="prompt").input("support-answer v2").run()
    assert_clean(at)
    assert all("support-answer v2" in prompts for prompts in at.dataframe[0].value["prompts"])


def test_no_trace_on_the_page_passing_the_filters_is_an_empty_state(collector, monkeypatch):
    at = open_page(app(monkeypatch, collector.base_url, collector.api_key, min_cost="1000"), "traces")
    assert_clean(at)
    assert "passes the duration, cost, tag or prompt filters" in infos(at)
    assert any(b.label == "Older" for b in at.button)


# -- the project: switch keys for this session ----------------------------------------------------------------

def test_a_pasted_key_switches_every_page_to_that_project(collector, monkeypatch):
    _, other_key = collector.new_project("dashboard-other")
    at = app(monkeypatch, collector.base_url, collector.api_key).run()
    assert at.metric[0].value != "0"
    at.text_input(key="tracehouse.api_key_input").input(other_key).run()
    assert_clean(at)
    assert "No traces yet" in infos(at)  # the other project is empty
    at.switch_page("pages_/cost.py").run()
    assert "No traces yet" in infos(at)
    assert f"…{other_key[-4:]}" in " ".join(c.value for c in at.caption)
    at.text_input(key="tracehouse.api_key_input").input("").run()  # back to the environment's key
    assert at.metric  # the demo project again


@pytest.mark.parametrize("page", ["sessions", "cost", "quality", "clusters", "drift", "replay"])
def test_an_unreachable_collector_is_an_error_message_on_every_new_page(monkeypatch, page):
    from tests.test_dashboard_app import closed_port

    endpoint = f"http://127.0.0.1:{closed_port()}"
    at = open_page(app(monkeypatch, endpoint, "k"), page)
    assert not at.exception, [e.message for e in at.exception]
    errors = [e.value for e in at.error]
    # Pages waiting for an endpoint cannot tell yet; they must not crash and say what they are waiting for.
    assert errors == [f"cannot reach the collector at {endpoint}: start it with `tracehouse serve` or set "
                      "TRACEHOUSE_ENDPOINT"] * len(errors)
    assert errors or infos(at)


# -- once the endpoints exist: a server that answers the contract ---------------------------------------------

TRACE_ID, SPAN_ID = "ab" * 16, "cd" * 8


def contract_app() -> FastAPI:
    api = FastAPI()
    polls = Counter()

    @api.get("/api/v1/metrics")
    def metrics() -> dict:
        return {"interval": "hour", "group_by": None, "items": []}

    @api.get("/api/v1/spans")
    def spans() -> dict:
        return {"items": [], "next_cursor": None}

    @api.post("/api/v1/analytics/clusters/runs")
    def start_clusters(body: dict) -> dict:
        return {"run_id": "c1", "status": "queued"}

    @api.get("/api/v1/analytics/clusters/runs/{run_id}")
    def clusters(run_id: str) -> dict:
        if run_id != "c1":
            raise HTTPException(404, f"run {run_id} not found")
        polls[run_id] += 1
        if polls[run_id] == 1:
            return {"run_id": run_id, "status": "running"}
        return {"run_id": run_id, "status": "done", "clusters": [
            {"cluster_id": 0, "label": "refund eligibility", "size": 30, "failure_rate": 0.4, "lift": 3.1,
             "top_failure_reasons": ["refusal"], "examples": [{"trace_id": TRACE_ID, "text": "can I get a refund"}]},
            {"cluster_id": 1, "label": "order tracking", "size": 50, "failure_rate": 0.05, "lift": 0.4,
             "top_failure_reasons": [], "examples": []},
        ]}

    @api.get("/api/v1/analytics/clusters/runs/{run_id}/members")
    def members(run_id: str, limit: int = 100) -> dict:
        return {"items": [{"trace_id": TRACE_ID, "span_id": SPAN_ID, "cluster_id": i % 2, "x": i / 10, "y": i % 3}
                          for i in range(20)], "next_cursor": None}

    @api.post("/api/v1/analytics/drift/runs")
    def start_drift(body: dict) -> dict:
        assert set(body) == {"baseline", "current"}
        return {"run_id": "d1", "status": "done"}

    @api.get("/api/v1/analytics/drift/runs/{run_id}")
    def drift(run_id: str) -> dict:
        return {"run_id": run_id, "status": "done", "signals": [
            {"name": "refusal rate", "statistic": 9.1, "p_value": 0.002, "effect_size": 0.7, "verdict": "drift",
             "n_baseline": 400, "n_current": 380},
            {"name": "latency p95", "statistic": 0.4, "p_value": 0.6, "effect_size": 0.05, "verdict": "ok",
             "n_baseline": 400, "n_current": 380},
        ]}

    @api.post("/api/v1/replays")
    def replay(body: dict) -> dict:
        return {"replay_id": "r1", "trace_id": "ef" * 16, "status": "done",
                "output": f"replayed {body['span_id']} with {body.get('overrides')}"}

    @api.get("/api/v1/compare")
    def compare(a: str, b: str) -> dict:
        def side(span_id: str, text: str) -> dict:
            return {"span_id": span_id, "model": "gpt-4o", "duration_ms": 900.0, "output_text": text}

        return {"a": side(a, "Refunds take 5 days."), "b": side(b, "Refunds take 3 days."),
                "diff": "- Refunds take 5 days.\n+ Refunds take 3 days.",
                "deltas": {"latency_ms": {"a": 900.0, "b": 700.0, "delta": -200.0}}}

    @api.get("/api/v1/scores")
    def scores(start: str | None = None, end: str | None = None, limit: int = 100) -> dict:
        now = time.time()
        iso = lambda t: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))  # noqa: E731
        return {"items": [{"score_id": str(i), "trace_id": TRACE_ID, "name": "helpful", "value": i % 2,
                           "created_at": iso(now - i * 600)} for i in range(12)], "next_cursor": None}

    return api


@pytest.fixture(scope="module")
def contract_collector() -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(contract_app(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{base}/openapi.json", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.1)
    yield base
    server.should_exit = True
    thread.join(timeout=10)


def test_clusters_light_up_start_a_run_follow_it_and_show_the_map(contract_collector, monkeypatch):
    at = open_page(app(monkeypatch, contract_collector, "k"), "clusters")
    assert_clean(at)
    assert "Start a clustering run" in infos(at)
    next(b for b in at.button if b.label.startswith("Cluster the")).click().run()  # POST, then poll until done
    assert_clean(at)
    assert at.text_input(key="cluster_run").value == "c1" and at.query_params["cluster_run"] == "c1"
    assert {m.label: m.value for m in at.metric} == {"Clusters": "2", "Interactions": "80", "Highest lift": "3.10×"}
    assert len(at.get("plotly_chart")) == 1
    assert at.dataframe[0].value["label"].tolist() == ["refund eligibility", "order tracking"]
    assert any(l.proto.label == f"Trace {TRACE_ID}" for l in at.get("page_link"))


def test_an_unknown_cluster_run_is_a_warning(contract_collector, monkeypatch):
    at = open_page(app(monkeypatch, contract_collector, "k", cluster_run="nope"), "clusters")
    assert_clean(at)
    assert "No clustering run `nope`" in at.warning[0].value


def test_drift_lights_up_with_verdicts(contract_collector, monkeypatch):
    at = open_page(app(monkeypatch, contract_collector, "k"), "drift")
    next(b for b in at.button if b.label == "Compare with the baseline").click().run()
    assert_clean(at)
    assert {m.label: m.value for m in at.metric}["Drifted"] == "1"
    assert at.dataframe[0].value["name"].tolist() == ["refusal rate", "latency p95"]


def test_replay_and_compare_light_up(contract_collector, monkeypatch):
    at = open_page(app(monkeypatch, contract_collector, "k", span=SPAN_ID, a="11" * 8, b="22" * 8), "replay")
    assert_clean(at)
    at.text_input(key="replay.model").input("gpt-4.1").run()
    next(b for b in at.button if b.label == "Replay").click().run()
    assert_clean(at)
    assert any(f"replayed {SPAN_ID} with {{'model': 'gpt-4.1'}}" in c.value for c in at.code)
    assert any("+ Refunds take 3 days." in c.value for c in at.code)
    assert at.dataframe[0].value["delta"].tolist() == [-200.0]


def test_scores_light_up_on_the_quality_page(contract_collector, monkeypatch):
    at = open_page(app(monkeypatch, contract_collector, "k"), "quality")
    assert_clean(at)
    assert "No LLM calls in this time range" in infos(at)  # the contract server has no metrics
    assert len(at.get("plotly_chart")) == 1  # the scores chart
    summary = at.dataframe[0].value
    assert summary["name"].tolist() == ["helpful"] and summary["count"].tolist() == [12]


# -- the newest rows of a long window: ask its tail first -----------------------------------------------------

def test_fetch_newest_asks_the_last_hour_first_and_widens_until_the_answer_is_full(monkeypatch):
    from tracehouse.dashboard import data
    from tracehouse.dashboard.api_client import ApiClient
    from tracehouse.dashboard.settings import dashboard_settings

    end = "2026-11-23T12:00:00Z"
    in_tail = {"2026-11-23T11:00:00Z": 3, "2026-11-23T06:00:00Z": 700, "2026-11-22T12:00:00Z": 900}
    asked = []

    def handler(request: httpx.Request) -> httpx.Response:
        start, limit = request.url.params["start"], int(request.url.params["limit"])
        asked.append((request.url.path, start, request.url.params.get("kind")))
        items = [{"span_id": f"{i:016x}"} for i in range(min(limit, in_tail[start]))]
        return httpx.Response(200, json={"items": items, "next_cursor": None})

    monkeypatch.setattr(data, "_client", lambda s: ApiClient(s.endpoint, "k", transport=httpx.MockTransport(handler)))
    settings = dashboard_settings("http://collector.test", "k", environ={})
    items = data.fetch_newest.__wrapped__(settings, "spans", {"kind": "llm"}, 500, "2026-11-22T12:00:00Z", end)
    assert len(items) == 500
    assert asked == [("/api/v1/spans", "2026-11-23T11:00:00Z", "llm"), ("/api/v1/spans", "2026-11-23T06:00:00Z", "llm")]

    asked.clear()  # a quiet project: every tail is asked, the whole window last
    quiet = data.fetch_newest.__wrapped__(settings, "traces", {}, 1000, "2026-11-22T12:00:00Z", end)
    assert len(quiet) == 900 and [a[1] for a in asked] == list(in_tail)
    assert {a[0] for a in asked} == {"/api/v1/traces"}
