"""`tracehouse analyze` (tracehouse.cli.analyze) against a mock collector, plus the analytics public surface."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from datetime import datetime, timezone

import httpx
import pytest

import tracehouse.analytics
from tracehouse.cli.analyze import RUNS_PATH, analyze, format_clusters, register, since

CLUSTER = {"cluster_id": "abc", "label": "password, reset, account", "size": 120, "failure_rate": 0.35,
           "lift": 2.7, "lift_ci": [2.4, 3.0], "top_failure_reasons": ["refusal (33%)"], "examples": [],
           "cost_usd": 0.42, "latency_p50_ms": 812.0, "rank": 1}


def collector(statuses: list[dict], post_status: int = 202, seen: list | None = None) -> httpx.MockTransport:
    polls = iter(statuses)

    def handler(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        if request.method == "POST" and request.url.path == RUNS_PATH:
            if post_status >= 400:
                return httpx.Response(post_status, json={"detail": "start must be before end"})
            return httpx.Response(post_status, json={"run_id": "r1", "status": "queued"})
        if request.method == "GET" and request.url.path == f"{RUNS_PATH}/r1":
            return httpx.Response(200, json=next(polls))
        return httpx.Response(404, json={"detail": "not found"})

    return httpx.MockTransport(handler)


def test_analyze_posts_polls_draws_progress_and_prints_the_table():
    seen: list[httpx.Request] = []
    statuses = [{"run_id": "r1", "status": "running", "progress": 0.4, "stage": "embedding"},
                {"run_id": "r1", "status": "done", "progress": 1.0, "n_interactions": 500, "failure_rate": 0.13,
                 "clusters": [CLUSTER]}]
    out, err = io.StringIO(), io.StringIO()
    code = analyze("http://collector", "th_key", start=datetime(2026, 1, 1, tzinfo=timezone.utc),
                   end="2026-01-02T00:00:00Z", filters={"tenant": "acme"}, poll_s=0.0, out=out, err=err,
                   transport=collector(statuses, seen=seen))
    assert code == 0
    body = json.loads(seen[0].content)
    assert body == {"start": "2026-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z", "filters": {"tenant": "acme"}}
    assert seen[0].headers["authorization"] == "Bearer th_key"
    assert "40%" in err.getvalue() and "100%" in err.getvalue() and "#" in err.getvalue()
    table = out.getvalue()
    assert "password, reset, account" in table and "2.70" in table and "refusal (33%)" in table
    assert "[2.40, 3.00]" in table and "35.0%" in table


def test_a_failed_run_exits_1_with_its_reason():
    err = io.StringIO()
    code = analyze("http://collector", None, poll_s=0.0, progress=False, out=io.StringIO(), err=err,
                   transport=collector([{"run_id": "r1", "status": "failed", "reason": "storage unavailable"}]))
    assert code == 1 and "storage unavailable" in err.getvalue()


def test_a_refused_request_or_an_unreachable_collector_exits_2():
    err = io.StringIO()
    assert analyze("http://collector", None, progress=False, err=err, out=io.StringIO(),
                   transport=collector([], post_status=400)) == 2
    assert "start must be before end" in err.getvalue()

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    err = io.StringIO()
    assert analyze("http://127.0.0.1:9", None, progress=False, err=err, transport=httpx.MockTransport(down)) == 2
    assert "cannot reach the collector" in err.getvalue()


def test_a_run_that_outlives_the_timeout_exits_3():
    running = [{"run_id": "r1", "status": "running", "progress": 0.1}] * 5
    assert analyze("http://collector", None, progress=False, poll_s=0.0, timeout_s=0.0, err=io.StringIO(),
                   transport=collector(running)) == 3


def test_format_clusters_with_no_clusters():
    assert "no clusters" in format_clusters({"run_id": "r1", "clusters": []})


def test_since_durations():
    now = datetime(2026, 1, 2, tzinfo=timezone.utc)
    assert since("24h", now) == "2026-01-01T00:00:00Z"
    assert since("30m", now) == "2026-01-01T23:30:00Z"
    with pytest.raises(ValueError):
        since("yesterday", now)


def test_register_adds_the_subcommand():
    import argparse

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["analyze", "--since", "7d", "--filter", "tenant=acme", "--filter", "tenant=globex"])
    assert args.since == "7d" and args.filter == ["tenant=acme", "tenant=globex"] and callable(args.func)


def test_analytics_public_surface_is_pinned():
    assert sorted(tracehouse.analytics.__all__) == [
        "ClusterJobs", "ClusterParams", "ClusterResult", "ClusterSummary", "Embedder", "Interaction", "JobQueueFull",
        "PeriodicHandle", "SIGNALS", "Score", "SentenceEmbedder", "Signal", "SignalRules", "TfidfSvdEmbedder",
        "ToolError", "assign", "compute_clusters", "detect", "detect_all", "select_embedder",
    ]


def test_analytics_imports_no_higher_layer_and_no_heavy_library_at_import():
    code = "import sys, json, tracehouse.analytics; print(json.dumps(sorted(sys.modules)))"
    loaded = set(json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                           check=True).stdout))
    roots = {m.split(".")[0] for m in loaded}
    assert not roots & {"fastapi", "streamlit", "sklearn", "torch", "sentence_transformers"}
    assert not {m for m in loaded if m.startswith(("tracehouse.collector", "tracehouse.dashboard"))}
