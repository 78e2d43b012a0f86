"""The dashboard as a whole: settings, the API client, the launcher, and the Streamlit app driven by AppTest
against a real collector process (the ``collector`` fixture: demo data, 60 traces) — or against nothing."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime, timezone

import httpx
import plotly.io as pio
import pytest
from streamlit.testing.v1 import AppTest

from tracehouse.dashboard import api_client, figures
from tracehouse.dashboard.api_client import ApiClient, ApiError
from tracehouse.dashboard.formatting import format_count
from tracehouse.dashboard.run import APP_PATH, streamlit_command
from tracehouse.dashboard.settings import DEFAULT_ENDPOINT, dashboard_settings
from tracehouse.dashboard.timerange import time_window

TIMEOUT_S = 60  # one AppTest run: a few API calls against chDB on a busy CI machine
RANGE = "7d"  # wide enough that demo traffic (the last 24 hours) cannot slide out of the window mid-test


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again on return: connections are refused


# -- settings ------------------------------------------------------------------------------------------------

def test_settings_precedence_argument_then_environment_then_default():
    env = {"TRACEHOUSE_ENDPOINT": "http://collector:9000/", "TRACEHOUSE_API_KEY": "env-key"}
    assert dashboard_settings(environ={}).endpoint == DEFAULT_ENDPOINT
    assert dashboard_settings(environ={}).api_key is None
    from_env = dashboard_settings(environ=env)
    assert (from_env.endpoint, from_env.api_key) == ("http://collector:9000", "env-key")
    explicit = dashboard_settings("https://th.example", "arg-key", environ=env)
    assert (explicit.endpoint, explicit.api_key) == ("https://th.example", "arg-key")


@pytest.mark.parametrize("endpoint", ["127.0.0.1:4318", "ftp://host", "http://"])
def test_a_bad_endpoint_fails_with_a_fix(endpoint):
    with pytest.raises(ValueError, match="TRACEHOUSE_ENDPOINT must be the collector's base URL"):
        dashboard_settings(environ={"TRACEHOUSE_ENDPOINT": endpoint})


# -- API client ----------------------------------------------------------------------------------------------

def mock_client(handler, api_key: str | None = "k") -> ApiClient:
    return ApiClient("http://collector.test/", api_key, transport=httpx.MockTransport(handler))


def test_client_sends_the_key_and_only_the_filters_that_are_set():
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"items": [], "next_cursor": None})

    with mock_client(handler) as client:
        client.traces(tenant="acme", user="", session=None, status="error",
                      start=datetime(2026, 11, 23, 14, 2, tzinfo=timezone.utc), limit=50)
    (request,) = seen
    assert request.headers["authorization"] == "Bearer k"
    assert request.url.path == "/api/v1/traces"
    assert dict(request.url.params) == {"tenant": "acme", "status": "error", "start": "2026-11-23T14:02:00Z",
                                        "limit": "50"}


def test_client_rejects_unknown_filters_instead_of_ignoring_them():
    with mock_client(lambda r: httpx.Response(200, json={})) as client, pytest.raises(TypeError, match="tennant"):
        client.spans(tennant="acme")


def test_client_metrics_and_trace_paths():
    paths = []

    def handler(request: httpx.Request) -> httpx.Response:
        paths.append((request.url.path, dict(request.url.params)))
        return httpx.Response(200, json={})

    with mock_client(handler) as client:
        client.metrics("2026-11-23T00:00:00Z", None, "hour", "model", tenant="acme")
        client.trace("ABCDEF0123")
    assert paths == [("/api/v1/metrics", {"tenant": "acme", "start": "2026-11-23T00:00:00Z", "interval": "hour",
                                          "group_by": "model"}),
                     ("/api/v1/traces/abcdef0123", {})]


@pytest.mark.parametrize("status,api_key,expected", [
    (401, "wrong", "the API key is not accepted; set TRACEHOUSE_API_KEY"),
    (403, "ingest-only", "set TRACEHOUSE_API_KEY to a project key with the `read` scope"),
    (401, None, "the API key is missing; set TRACEHOUSE_API_KEY"),
    (404, "k", "answered 404 to /api/v1/traces/ab: no such trace"),
    (400, "k", "answered 400 to /api/v1/traces/ab: no such trace"),
])
def test_http_errors_become_api_errors_with_a_human_message(status, api_key, expected):
    with mock_client(lambda r: httpx.Response(status, json={"detail": "no such trace"}), api_key) as client:
        with pytest.raises(ApiError) as caught:
            client.trace("ab")
    assert expected in str(caught.value)
    assert caught.value.status_code == status


def test_an_answer_that_is_not_json_is_an_api_error():
    with mock_client(lambda r: httpx.Response(200, text="<html>hello</html>")) as client:
        with pytest.raises(ApiError, match="is not JSON: is TRACEHOUSE_ENDPOINT pointing at a tracehouse"):
            client.spans()


def test_a_malformed_trace_id_never_reaches_the_collector():
    with mock_client(lambda r: pytest.fail("no request expected")) as client:
        with pytest.raises(ApiError, match="not a trace id"):
            client.trace("not-hex!")


def test_an_unreachable_collector_says_how_to_start_it():
    url = f"http://127.0.0.1:{closed_port()}"
    with ApiClient(url, "k", timeout=5) as client, pytest.raises(ApiError) as caught:
        client.spans()
    assert str(caught.value) == (f"cannot reach the collector at {url}: start it with `tracehouse serve` "
                                 "or set TRACEHOUSE_ENDPOINT")
    assert caught.value.status_code is None
    assert isinstance(caught.value.__cause__, httpx.ConnectError)


# -- public surface and layers -------------------------------------------------------------------------------

def test_public_surface_is_pinned():
    assert sorted(api_client.__all__) == ["ApiClient", "ApiError"]
    assert sorted(figures.__all__) == [
        "DARK_TEMPLATE", "ERROR_COLOR", "KIND_COLORS", "LIGHT_TEMPLATE", "NEUTRAL_TEMPLATE", "NO_DATA",
        "SERIES_COLORS", "SIGNAL_COLORS", "VERDICT_COLORS", "build_budget_figure", "build_cluster_map_figure",
        "build_cost_figure", "build_drift_figure", "build_error_rate_figure", "build_latency_figure",
        "build_score_figure", "build_signal_heatmap_figure", "build_signal_trend_figure", "build_tokens_figure",
        "build_volume_figure", "build_waterfall_figure", "metrics_to_frame", "spans_to_frame", "template_for",
    ]


def test_pure_modules_need_no_streamlit_and_nothing_reaches_storage():
    pure = ["settings", "api_client", "timerange", "frames", "figures", "formatting", "run", "conversation",
            "signals", "budgets", "runlist"]
    every = pure + ["data", "session", "spanview", "runs", "app"]
    code = (
        "import importlib, json, sys\n"
        f"for name in {pure}: importlib.import_module('tracehouse.dashboard.' + name)\n"
        "pure = set(sys.modules)\n"
        f"for name in {every}: importlib.import_module('tracehouse.dashboard.' + name)\n"
        "print(json.dumps([sorted(pure), sorted(sys.modules)]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    pure_loaded, all_loaded = (set(names) for names in json.loads(out))
    assert "streamlit" not in pure_loaded
    assert not {m for m in all_loaded if m.startswith(("tracehouse.storage", "tracehouse.collector",
                                                       "clickhouse_connect", "chdb"))}


# -- the launcher --------------------------------------------------------------------------------------------

def test_no_page_relies_on_streamlit_magic():
    """The launcher turns magic off (it re-parses every page on every run): a bare expression would show
    nothing there, though AppTest (magic on) would still show it."""
    import ast

    bare = []
    for path in sorted(APP_PATH.parent.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            body = getattr(node, "body", None)
            for i, statement in enumerate(body if isinstance(body, list) else []):
                docstring = i == 0 and isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant)
                if isinstance(statement, ast.Expr) and not docstring and not isinstance(
                        statement.value, (ast.Call, ast.Await, ast.Yield, ast.YieldFrom)):
                    bare.append(f"{path.name}:{statement.lineno}")
    assert not bare, f"bare expressions (use st.write): {bare}"


def test_streamlit_command_passes_options_as_flags():
    cmd = streamlit_command(8600, "0.0.0.0")
    assert cmd[:5] == [sys.executable, "-P", "-m", "streamlit", "run"] and cmd[5] == str(APP_PATH)
    flags = dict(zip(cmd[6::2], cmd[7::2]))
    assert flags == {"--server.port": "8600", "--server.address": "0.0.0.0", "--server.headless": "true",
                     "--browser.gatherUsageStats": "false", "--server.fileWatcherType": "none",
                     "--runner.postScriptGC": "false", "--runner.magicEnabled": "false"}
    with pytest.raises(ValueError, match="--port"):
        streamlit_command(0)


def start_dashboard(port: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "tracehouse.dashboard", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the dashboard exited during start-up"
        try:
            if httpx.get(f"http://127.0.0.1:{port}/_stcore/health", timeout=1).text == "ok":
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.kill()
    pytest.fail("the dashboard did not answer its health check within 60 s")


def serving(port: int) -> bool:
    try:
        httpx.get(f"http://127.0.0.1:{port}/_stcore/health", timeout=1)
        return True
    except httpx.HTTPError:
        return False


@pytest.mark.e2e
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_the_launcher_stops_the_server_it_started(signum):
    """Ctrl-C or SIGTERM sent to the launcher alone (not its process group) still stops Streamlit, promptly,
    and the port is free again: no orphaned server."""
    port = closed_port()
    proc = start_dashboard(port)
    proc.send_signal(signum)
    try:
        code = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code in (0, 128 + signum, -signum)
    time.sleep(0.5)
    assert not serving(port)


# -- span rendering ------------------------------------------------------------------------------------------

def render_messages_app(messages, fallback_text=None, raw=False):
    from tracehouse.dashboard.spanview import render_messages

    render_messages(messages, fallback_text=fallback_text, raw=raw)


def test_messages_render_as_chat_with_tool_calls_as_code():
    messages = [
        {"role": "system", "parts": [{"type": "text", "content": "Be brief."}]},
        {"role": "user", "parts": [{"type": "text", "content": "Was it $510 or $450?"}]},
        {"role": "assistant", "parts": [{"type": "tool_call", "id": "c1", "name": "get_invoice",
                                         "arguments": {"invoice": "INV-1"}}]},
        {"role": "tool", "parts": [{"type": "tool_call_response", "id": "c1", "response": '{"amount": 510}'}]},
        {"role": "assistant", "parts": [{"type": "image", "uri": "s3://x.png"}], "finish_reason": "stop"},
    ]
    at = AppTest.from_function(render_messages_app, kwargs={"messages": messages}).run()
    assert not at.exception
    assert [m.name for m in at.chat_message] == ["system", "user", "assistant", "tool", "assistant"]
    system, user, call, result, other = at.chat_message
    assert user.markdown[0].value == "Was it \\$510 or \\$450?"  # dollars escaped, not read as LaTeX
    assert json.loads(call.code[0].value) == {"invoice": "INV-1"}
    assert "get_invoice" in call.caption[0].value
    assert json.loads(result.code[0].value) == {"amount": 510}
    assert other.json[0].value and "finish reason: stop" in [c.value for c in other.caption]


def test_messages_fall_back_to_flattened_text_then_to_a_note():
    at = AppTest.from_function(render_messages_app, kwargs={"messages": [], "fallback_text": "hello"}).run()
    assert at.code[0].value == "hello" and not at.chat_message
    at = AppTest.from_function(render_messages_app, kwargs={"messages": None}).run()
    assert at.caption[0].value == "not captured"


# -- the app, through AppTest --------------------------------------------------------------------------------

def app(monkeypatch, endpoint: str, api_key: str | None, **query: str) -> AppTest:
    monkeypatch.setenv("TRACEHOUSE_ENDPOINT", endpoint)
    if api_key is None:
        monkeypatch.delenv("TRACEHOUSE_API_KEY", raising=False)
    else:
        monkeypatch.setenv("TRACEHOUSE_API_KEY", api_key)
    at = AppTest.from_file(str(APP_PATH), default_timeout=TIMEOUT_S)
    at.query_params.update({"range": RANGE, **query})
    return at


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def api_window() -> dict[str, str]:
    window = time_window(RANGE, datetime.now(timezone.utc))
    return {"start": window.start_param, "end": window.end_param}


def open_page(at: AppTest, page: str) -> AppTest:
    at.run()
    return at.switch_page(f"pages_/{page}.py").run()


def test_overview_shows_the_collectors_totals_and_charts(collector, monkeypatch):
    at = app(monkeypatch, collector.base_url, collector.api_key).run()
    assert_clean(at)
    assert at.title[0].value == "Overview"
    with collector.client() as client:
        items = client.get("/api/v1/metrics", params={**api_window(), "interval": "hour"}).json()["items"]
    tiles = {m.label: m.value for m in at.metric}
    assert list(tiles) == ["Spans", "Error rate", "p95 latency", "Cost", "Tokens"]
    assert tiles["Spans"] == format_count(sum(i["spans"] for i in items))
    assert tiles["Tokens"] == format_count(sum(i["input_tokens"] + i["output_tokens"] for i in items))
    assert len(at.get("plotly_chart")) == 5


def test_charts_follow_a_dark_theme(collector, monkeypatch):
    at = app(monkeypatch, collector.base_url, collector.api_key)
    at.context["theme"] = "dark"
    at.run()
    assert_clean(at)
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    dark_bg = pio.templates[figures.DARK_TEMPLATE].layout.paper_bgcolor
    assert spec["layout"]["template"]["layout"]["paper_bgcolor"] == dark_bg


def test_traces_lists_the_newest_traces_with_the_apis_filters(collector, monkeypatch):
    at = open_page(app(monkeypatch, collector.base_url, collector.api_key), "traces")
    assert_clean(at)
    with collector.client() as client:
        newest = client.get("/api/v1/traces", params={**api_window(), "limit": 50}).json()["items"]
        errored = client.get("/api/v1/traces", params={**api_window(), "status": "error", "limit": 50}).json()
    assert at.dataframe[0].value["trace_id"].tolist() == [t["trace_id"] for t in newest]

    at.selectbox(key="status").select("error").run()
    assert_clean(at)
    assert errored["items"], "the demo data should contain failed traces"
    table = at.dataframe[0].value
    assert table["trace_id"].tolist() == [t["trace_id"] for t in errored["items"]]
    assert set(table["status"]) == {"error"}


def test_traces_pages_through_with_the_cursor(collector, monkeypatch):
    at = open_page(app(monkeypatch, collector.base_url, collector.api_key), "traces")
    first = at.dataframe[0].value["trace_id"].tolist()
    assert len(first) == 50  # 60 demo traces, 50 per page
    older = next(b for b in at.button if b.label == "Older")
    older.click().run()
    assert_clean(at)
    second = at.dataframe[0].value["trace_id"].tolist()
    assert second and not set(second) & set(first)
    assert any(c.value == "Page 2" for c in at.caption)
    next(b for b in at.button if b.label == "Newer").click().run()
    assert at.dataframe[0].value["trace_id"].tolist() == first


def test_selecting_a_row_opens_that_trace(collector, monkeypatch):
    at = open_page(app(monkeypatch, collector.base_url, collector.api_key), "traces")
    chosen = at.dataframe[0].value["trace_id"].iloc[2]
    at.session_state["traces.table"] = {"selection": {"rows": [2], "columns": [], "cells": []}}  # a click
    at.run()
    assert not at.exception
    assert at.title[0].value == "Trace" and at.query_params["trace_id"] == chosen
    assert at.text_input(key="trace_id").value == chosen


def test_no_match_is_a_readable_empty_state(collector, monkeypatch):
    at = open_page(app(monkeypatch, collector.base_url, collector.api_key, tenant="no-such-tenant"), "traces")
    assert_clean(at)
    assert not at.dataframe
    assert "No traces match these filters" in at.info[0].value


def llm_trace(collector) -> dict:
    """The newest demo trace with an LLM call and structured input messages, as the API returns it."""
    with collector.client() as client:
        summaries = client.get("/api/v1/traces", params={**api_window(), "limit": 50}).json()["items"]
        for summary in summaries:
            if summary["llm_calls"]:
                trace = client.get(f"/api/v1/traces/{summary['trace_id']}").json()
                if any(s["kind"] == "llm" and s["input_messages"] for s in trace["spans"]):
                    return trace
    pytest.fail("no demo trace with LLM input messages")


def test_opening_a_trace_by_id_shows_its_tree_timeline_and_conversation(collector, monkeypatch):
    trace = llm_trace(collector)
    at = open_page(app(monkeypatch, collector.base_url, collector.api_key), "traces")
    at.text_input(key="traces.open").input(trace["trace_id"]).run()

    assert not at.exception, [e.message for e in at.exception]
    assert at.title[0].value == "Trace"
    assert at.query_params["trace_id"] == trace["trace_id"]
    spans = trace["spans"]
    tiles = {m.label: m.value for m in list(at.metric)[:6]}
    assert tiles["Spans"] == format_count(len(spans))
    assert tiles["LLM calls"] == format_count(sum(s["kind"] == "llm" for s in spans))
    assert len(at.get("plotly_chart")) == 1  # the timeline
    assert sorted(at.dataframe[0].value["span_id"]) == sorted(s["span_id"] for s in spans)

    first_llm = next(s for s in spans if s["kind"] == "llm" and s["input_messages"])
    assert {m.name for m in at.chat_message} >= {m["role"] for m in first_llm["input_messages"]}
    first_text = next(p["content"] for m in first_llm["input_messages"] for p in m["parts"] if p["type"] == "text")
    # AppTest keeps requesting the page of its last switch_page() call; a browser is on /trace by now.
    at.switch_page("pages_/trace.py")
    at.toggle(key="trace.raw").set_value(True).run()  # verbatim: exactly the recorded text
    assert at.title[0].value == "Trace"
    assert first_text in [code.value for message in at.chat_message for code in message.code]


def test_a_shared_trace_link_opens_the_trace(collector, monkeypatch):
    trace = llm_trace(collector)
    at = open_page(app(monkeypatch, collector.base_url, collector.api_key, trace_id=trace["trace_id"]), "trace")
    assert not at.exception
    assert at.text_input(key="trace_id").value == trace["trace_id"]
    assert at.metric[1].value == format_count(len(trace["spans"]))


def test_an_unknown_trace_id_is_a_warning_not_a_crash(collector, monkeypatch):
    at = open_page(app(monkeypatch, collector.base_url, collector.api_key, trace_id="0" * 32), "trace")
    assert_clean(at)
    assert "No trace `" + "0" * 32 + "`" in at.warning[0].value


def test_an_empty_project_says_how_to_load_sample_traffic(empty_collector, monkeypatch):
    _, key = empty_collector.new_project("dashboard-empty")
    for page in ("overview", "traces"):
        at = open_page(app(monkeypatch, empty_collector.base_url, key), page)
        assert_clean(at)
        assert "No traces yet: run `tracehouse demo` to load sample traffic" in at.info[0].value


def test_a_rejected_key_says_which_variable_to_set(collector, monkeypatch):
    at = app(monkeypatch, collector.base_url, "not-a-key").run()
    assert not at.exception
    assert "set TRACEHOUSE_API_KEY" in at.error[0].value


@pytest.mark.parametrize("page", ["overview", "traces", "trace"])
def test_an_unreachable_collector_is_an_error_message_not_a_traceback(monkeypatch, page):
    endpoint = f"http://127.0.0.1:{closed_port()}"
    at = open_page(app(monkeypatch, endpoint, "k", trace_id="ab" * 16), page)
    assert not at.exception, [e.message for e in at.exception]
    assert [e.value for e in at.error] == [
        f"cannot reach the collector at {endpoint}: start it with `tracehouse serve` or set TRACEHOUSE_ENDPOINT"]


def test_a_misconfigured_endpoint_stops_with_the_fix(monkeypatch):
    at = app(monkeypatch, "localhost:4318", None).run()
    assert not at.exception
    assert "TRACEHOUSE_ENDPOINT must be the collector's base URL" in at.error[0].value
    assert not at.metric


def test_settings_are_never_read_at_import_time():
    env = {**os.environ, "TRACEHOUSE_ENDPOINT": "not a url"}
    code = "import tracehouse.dashboard.app, tracehouse.dashboard.session, tracehouse.dashboard.data"
    subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True)
