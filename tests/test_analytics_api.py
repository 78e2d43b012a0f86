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


def test_drift_run_over_demo_traffic(collector):
    with collector.client() as client:
        started = client.post("/api/v1/analytics/drift/runs", json={
            "baseline": {"start": "2000-01-01T00:00:00Z", "end": "2026-01-01T00:00:00Z"},
            "current": {"start": "2026-01-01T00:00:00Z", "end": "2100-01-01T00:00:00Z"}})
        assert started.status_code == 202, started.text
        url = f"/api/v1/analytics/drift/runs/{started.json()['run_id']}"
        wait_until(lambda: client.get(url).json()["status"] in ("done", "failed"), timeout_s=120, interval_s=0.5)
        run = client.get(url).json()
        assert run["status"] == "done", run
        assert run["signals"] and all({"name", "statistic", "p_value", "effect_size", "verdict", "n_baseline",
                                       "n_current"} <= set(s) for s in run["signals"])
        # an empty baseline is honest: not enough data, never a false alarm
        assert {s["verdict"] for s in run["signals"]} == {"insufficient_data"}
        assert client.post("/api/v1/analytics/drift/runs", json={"baseline": {}, "current": {}}).status_code == 400


def test_alert_rules_need_an_admin_scoped_project_key(collector):
    _, admin_key = collector.new_project("ops", scopes=("read", "admin"))
    rule = {"name": "errors", "kind": "error_rate", "params": {"threshold": 0.5},
            "webhook_url": "http://127.0.0.1:9/hook"}
    with collector.client() as reader:
        assert reader.post("/api/v1/alerts/rules", json=rule).status_code == 403
    with collector.client(admin_key) as admin:
        created = admin.post("/api/v1/alerts/rules", json=rule)
        assert created.status_code == 201, created.text
        assert [r["name"] for r in admin.get("/api/v1/alerts/rules").json()["items"]] == ["errors"]
        assert admin.get("/api/v1/alerts/history").json()["items"] == []
        assert admin.post("/api/v1/alerts/rules", json={**rule, "kind": "nonsense"}).status_code == 400
