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

from tests.conftest import free_port, wait_until
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


def test_without_runs_the_analysis_pages_say_how_to_start_one(collector, monkeypatch):
    # A project of its own: other tests start runs in the shared demo project, and the page opens the newest.
    _, key = collector.new_project("dashboard-no-runs")
    at = open_page(app(monkeypatch, collector.base_url, key), "clusters")
    assert_clean(at)
    assert "No clustering runs in this project yet" in infos(at) and "tracehouse analyze" in infos(at)
    assert any(b.label.startswith("Run clustering over the") for b in at.button) and not at.selectbox
    at = open_page(app(monkeypatch, collector.base_url, key), "drift")
    assert_clean(at)
    assert "No drift reports in this project yet" in infos(at)
    assert any(b.label == "Compare with the baseline" for b in at.button)


def finished_run(client: httpx.Client, kind: str, body: dict) -> str:
    run_id = client.post(f"/api/v1/analytics/{kind}/runs", json=body).json()["run_id"]
    wait_until(lambda: client.get(f"/api/v1/analytics/{kind}/runs/{run_id}").json()["status"] == "done")
    return run_id


def test_the_newest_finished_runs_of_the_real_collector_open_by_default(collector, monkeypatch):
    """Against the real API (its list and run shapes): a project whose runs found nothing still opens them."""
    _, key = collector.new_project("dashboard-runs")  # empty, so the runs are quick and the demo project untouched
    window = api_window()
    with collector.client(key) as client:
        cluster_run = finished_run(client, "clusters", window)
        drift_run = finished_run(client, "drift", {"baseline": window, "current": window})
    at = open_page(app(monkeypatch, collector.base_url, key), "clusters")
    assert_clean(at)
    assert at.selectbox(key="cluster_run.pick").value == cluster_run
    assert f"Run `{cluster_run}` over" in " ".join(c.value for c in at.caption)
    assert "This run found no clusters" in infos(at)
    at = open_page(app(monkeypatch, collector.base_url, key), "drift")
    assert_clean(at)
    assert at.selectbox(key="drift_run.pick").value == drift_run
    assert "insufficient data" in at.selectbox(key="drift_run.pick").options[0]
    signals = at.dataframe[0].value
    assert len(signals) and set(signals["verdict"]) == {"insufficient data"}


def test_drift_quick_look_compares_the_window_with_the_one_before(collector, monkeypatch):
    at = open_page(app(monkeypatch, collector.base_url, collector.api_key), "drift")
    # The quick look is there whether or not a drift report (from other tests) is shown above it.
    table = next(d.value for d in at.dataframe if "metric" in d.value.columns)
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


def cluster_run(run_id: str, status: str, created: str, **more) -> dict:
    """A run as ``GET /api/v1/analytics/clusters/runs`` lists it (analytics/jobs.py ``_run_summary``)."""
    return {"run_id": run_id, "status": status, "progress": 1.0 if status == "done" else 0.4, "stage": "",
            "created_at": created, "start": "2026-11-22T12:00:00.000000000Z", "end": created, "filters": {},
            "n_interactions": 80, "n_failed": 12, "failure_rate": 0.15, "n_clusters": 2, "embedder": "tfidf-svd",
            "duration_ms": 900.0, **more}


def drift_run(run_id: str, verdict: str, created: str, **more) -> dict:
    """A run as ``GET /api/v1/analytics/drift/runs`` lists it (analytics/drift_jobs.py ``_summary``)."""
    window = {"start": "2026-11-23T11:00:00.000000000Z", "end": "2026-11-23T12:00:00.000000000Z", "filters": {}}
    return {"run_id": run_id, "status": "done", "verdict": verdict, "baseline": window, "current": window,
            "trigger": "api", "created_at": created, "progress": 1.0, "stage": "", "n_baseline": 400,
            "n_current": 380, "n_signals": 2, "n_drift": 1 if verdict == "drift" else 0, "drifted": [],
            "duration_ms": 300.0, **more}


CLUSTER_RUNS = [cluster_run("c2", "running", "2026-11-23T12:30:00Z"), cluster_run("c1", "done", "2026-11-23T12:00:00Z"),
                cluster_run("c0", "done", "2026-11-22T12:00:00Z")]
DRIFT_RUNS = [drift_run("d2", "drift", "2026-11-23T12:00:00Z", trigger="schedule"),
              drift_run("d1", "no_drift", "2026-11-22T12:00:00Z")]


def contract_app(with_runs: bool = False) -> FastAPI:
    """``with_runs``: the project has runs to list (c1 and d2 the newest finished); else none, until started."""
    api = FastAPI()
    polls = Counter()

    @api.get("/api/v1/analytics/clusters/runs")
    def list_clusters(limit: int = 50) -> dict:
        return {"items": CLUSTER_RUNS if with_runs else []}

    @api.get("/api/v1/analytics/drift/runs")
    def list_drift(limit: int = 50) -> dict:
        return {"items": DRIFT_RUNS if with_runs else []}

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
        if run_id == "c0" and with_runs:
            return {**cluster_run("c0", "done", "2026-11-22T12:00:00Z"), "clusters": [
                {"cluster_id": 7, "label": "password resets", "size": 12, "failure_rate": 0.5, "lift": 2.0,
                 "top_failure_reasons": ["error"], "examples": []}]}
        if run_id == "c2" and with_runs:
            return cluster_run("c2", "running", "2026-11-23T12:30:00Z")
        if run_id != "c1":
            raise HTTPException(404, f"run {run_id} not found")
        polls[run_id] += 1
        if polls[run_id] == 1 and not with_runs:  # a run just started: running at the first look
            return {"run_id": run_id, "status": "running"}
        return {**cluster_run("c1", "done", "2026-11-23T12:00:00Z"), "clusters": [
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
        return {"run_id": "d3", "status": "queued"}

    @api.get("/api/v1/analytics/drift/runs/{run_id}")
    def drift(run_id: str) -> dict:
        drifted = run_id != "d1"
        return {**drift_run(run_id, "drift" if drifted else "no_drift", "2026-11-23T12:00:00Z"), "signals": [
            {"name": "refusal rate", "statistic": 9.1, "p_value": 0.002, "effect_size": 0.7,
             "verdict": "drift" if drifted else "no_drift", "n_baseline": 400, "n_current": 380},
            {"name": "latency p95", "statistic": 0.4, "p_value": 0.6, "effect_size": 0.05, "verdict": "no_drift",
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
    yield from serve(contract_app())


@pytest.fixture(scope="module")
def contract_collector_with_runs() -> Iterator[str]:
    yield from serve(contract_app(with_runs=True))


def serve(api: FastAPI) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(api, host="127.0.0.1", port=port, log_level="warning"))
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
    assert "No clustering runs in this project yet" in infos(at)
    next(b for b in at.button if b.label.startswith("Run clustering over the")).click().run()  # POST, poll
    assert_clean(at)
    assert at.query_params["cluster_run"] == "c1"  # the new run is a link
    assert at.selectbox(key="cluster_run.pick").value == "c1"
    assert {m.label: m.value for m in at.metric} == {"Clusters": "2", "Interactions": "80", "Highest lift": "3.10×"}
    assert len(at.get("plotly_chart")) == 1
    assert at.dataframe[0].value["label"].tolist() == ["refund eligibility", "order tracking"]
    assert any(l.proto.label == f"Trace {TRACE_ID}" for l in at.get("page_link"))


def test_the_newest_finished_cluster_run_opens_and_older_ones_are_a_pick_away(contract_collector_with_runs,
                                                                                 monkeypatch):
    at = open_page(app(monkeypatch, contract_collector_with_runs, "k"), "clusters")
    assert_clean(at)
    picker = at.selectbox(key="cluster_run.pick")
    assert picker.value == "c1"  # c2 is newer but still running
    assert picker.options[0].startswith("2026-11-23 12:30 UTC · running 40%")
    assert picker.options[1] == "2026-11-23 12:00 UTC · 2 clusters of 80 interactions · 11-22 12:00–11-23 12:00"
    assert "A newer clustering run is running" in " ".join(c.value for c in at.caption)
    assert at.dataframe[0].value["label"].tolist() == ["refund eligibility", "order tracking"]
    assert "cluster_run" not in at.query_params  # the default is not written into the link

    picker.set_value("c0").run()
    assert_clean(at)
    assert at.dataframe[0].value["label"].tolist() == ["password resets"]
    assert at.query_params["cluster_run"] == "c0"  # the choice is a link
    shared = open_page(app(monkeypatch, contract_collector_with_runs, "k", cluster_run="c0"), "clusters")
    assert shared.selectbox(key="cluster_run.pick").value == "c0"
    assert shared.dataframe[0].value["label"].tolist() == ["password resets"]


def test_an_unknown_cluster_run_is_a_warning(contract_collector, monkeypatch):
    at = open_page(app(monkeypatch, contract_collector, "k", cluster_run="nope"), "clusters")
    assert_clean(at)
    assert "No clustering run `nope`" in at.warning[0].value


def test_drift_lights_up_with_verdicts(contract_collector, monkeypatch):
    at = open_page(app(monkeypatch, contract_collector, "k"), "drift")
    assert "No drift reports in this project yet" in infos(at)
    next(b for b in at.button if b.label == "Compare with the baseline").click().run()
    assert_clean(at)
    assert {m.label: m.value for m in at.metric}["Drifted"] == "1"
    assert at.dataframe[0].value["name"].tolist() == ["refusal rate", "latency p95"]
    assert at.dataframe[0].value["verdict"].tolist() == ["drift", "no drift"]


def test_the_newest_drift_report_opens_and_older_ones_are_a_pick_away(contract_collector_with_runs, monkeypatch):
    at = open_page(app(monkeypatch, contract_collector_with_runs, "k"), "drift")
    assert_clean(at)
    picker = at.selectbox(key="drift_run.pick")
    assert picker.value == "d2"
    windows = "11-23 11:00–11-23 12:00 vs 11-23 11:00–11-23 12:00"
    assert picker.options == [f"2026-11-23 12:00 UTC (scheduled) · drift in 1 of 2 signals · {windows}",
                              f"2026-11-22 12:00 UTC · no drift · {windows}"]
    assert {m.label: m.value for m in at.metric}["Drifted"] == "1"
    picker.set_value("d1").run()
    assert_clean(at)
    assert {m.label: m.value for m in at.metric}["Drifted"] == "0"
    assert at.dataframe[0].value["verdict"].tolist() == ["no drift", "no drift"]


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


def test_fetch_newest_keeps_only_the_fields_asked_for(monkeypatch):
    from tracehouse.dashboard import data
    from tracehouse.dashboard.api_client import ApiClient
    from tracehouse.dashboard.settings import dashboard_settings

    span = {"span_id": "ab" * 8, "kind": "llm", "input_messages": [{"role": "user", "parts": []}] * 50}
    handler = lambda request: httpx.Response(200, json={"items": [span] * 3, "next_cursor": None})  # noqa: E731
    monkeypatch.setattr(data, "_client", lambda s: ApiClient(s.endpoint, "k", transport=httpx.MockTransport(handler)))
    settings = dashboard_settings("http://collector.test", "k", environ={})
    items = data.fetch_newest.__wrapped__(settings, "spans", {}, 3, "2026-11-23T11:00:00Z", "2026-11-23T12:00:00Z",
                                          ("span_id", "kind", "finish_reason"))
    assert items == [{"span_id": "ab" * 8, "kind": "llm", "finish_reason": None}] * 3
