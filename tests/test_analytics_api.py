"""Failure clustering through the collector's API on demo data (real process, real HTTP)."""

from __future__ import annotations

import pytest

from .conftest import wait_until

pytestmark = pytest.mark.e2e


def test_cluster_run_over_demo_traffic(collector):
    with collector.client() as client:
        started = client.post("/api/v1/analytics/clusters/runs", json={"start": "2000-01-01T00:00:00Z"})
        assert started.status_code == 202 and started.json()["status"] == "queued"
        run_id = started.json()["run_id"]
        url = f"/api/v1/analytics/clusters/runs/{run_id}"
        wait_until(lambda: client.get(url).json()["status"] in ("done", "failed"), timeout_s=120, interval_s=0.5)
        run = client.get(url).json()
        assert run["status"] == "done", run
        clusters = run["clusters"]
        assert clusters and all({"cluster_id", "label", "size", "failure_rate", "lift", "top_failure_reasons",
                                 "examples"} <= set(c) for c in clusters)
        assert sum(c["size"] for c in clusters) > 0
        members = client.get(f"{url}/members", params={"limit": 10}).json()
        assert members["items"] and {"trace_id", "span_id", "cluster_id", "x", "y"} <= set(members["items"][0])
        assert run_id in [r["run_id"] for r in client.get("/api/v1/analytics/clusters/runs").json()["items"]]
        assert client.get("/api/v1/analytics/clusters/runs/ffff").status_code == 404
        assert client.post("/api/v1/analytics/clusters/runs", json={"start": "nope"}).status_code == 400


def test_another_project_cannot_see_a_run(collector):
    with collector.client() as client:
        run_id = client.post("/api/v1/analytics/clusters/runs", json={}).json()["run_id"]
    _, other_key = collector.new_project("outsider")
    with collector.client(other_key) as other:
        assert other.get(f"/api/v1/analytics/clusters/runs/{run_id}").status_code == 404
        assert other.get(f"/api/v1/analytics/clusters/runs/{run_id}/members").status_code == 404
        assert other.get("/api/v1/analytics/clusters/runs").json()["items"] == []
