"""ClusterJobs end to end on a real embedded store with demo traffic (the seeded `tracehouse demo` generator,
captured by an in-memory exporter, decoded and normalized as the collector does)."""

from __future__ import annotations

import time

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import tracehouse
from tracehouse.analytics import ClusterJobs
from tracehouse.analytics.jobs import JobQueueFull
from tracehouse.cli.demo import generate_demo
from tracehouse.collector.normalize import normalize
from tracehouse.collector.otlp import decode_traces
from tracehouse.collector.pricing import price
from tracehouse.storage import InvalidQueryError, SpanRecord

S = 1_000_000_000
NOW = 1_767_225_600 * S  # 2026-01-01T00:00:00Z
WINDOW = (NOW - 7 * 3600 * S, NOW + S)
CONTRACT = {"cluster_id", "label", "size", "failure_rate", "lift", "lift_ci", "top_failure_reasons", "examples",
            "cost_usd", "latency_p50_ms"}


@pytest.fixture(scope="module")
def demo_spans() -> list[SpanRecord]:
    exporter = InMemorySpanExporter()
    tracehouse.init(endpoint="http://127.0.0.1:4318", service_name="analytics-test", exporter=exporter)
    try:
        generate_demo(traces=250, seed=7, now_ns=NOW, span_window_s=6 * 3600)
        tracehouse.flush()
        body = encode_spans(exporter.get_finished_spans()).SerializeToString()
    finally:
        tracehouse.shutdown()
    raw, rejected = decode_traces(body, "protobuf")
    assert not rejected
    return [normalize(r, "p", (price,)) for r in raw]


@pytest.fixture
def jobs(store, demo_spans):
    store.insert_spans(demo_spans)
    jobs = ClusterJobs(store)
    yield jobs
    jobs.close()


def test_a_run_goes_queued_running_done_and_answers_the_contract(jobs, demo_spans):
    run_id = jobs.submit("p", *WINDOW, {})
    first = jobs.get("p", run_id)
    assert first["status"] in ("queued", "running", "done") and 0.0 <= first["progress"] <= 1.0
    run = jobs.wait("p", run_id, timeout_s=120)
    assert run["status"] == "done" and run["progress"] == 1.0, run.get("reason")
    llm = sum(1 for s in demo_spans if s.kind == "llm")
    assert run["n_interactions"] == llm and 0 < run["n_failed"] < llm
    clusters = run["clusters"]
    assert len(clusters) >= 3 and all(CONTRACT <= set(c) for c in clusters)
    assert sum(c["size"] for c in clusters) == llm
    regular = [c for c in clusters if not c["is_outlier"]]
    assert [c["rank"] for c in clusters] == list(range(1, len(clusters) + 1))
    assert [c["score"] for c in regular] == sorted((c["score"] for c in regular), reverse=True)
    top = clusters[0]
    assert top["lift"] > 1 and top["lift_ci"][0] <= top["lift"] <= top["lift_ci"][1]
    assert top["top_failure_reasons"] and top["examples"]
    assert {"trace_id", "span_id", "input_preview", "output_preview", "failed", "reasons"} <= set(top["examples"][0])
    assert all(c["label"] for c in clusters)
    reasons = {r.split(" (")[0] for c in clusters for r in c["top_failure_reasons"]}
    assert {"error", "refusal", "truncated"} & reasons  # the demo's planted failures are found
    assert run["start"].endswith("Z") and run["created_at"].endswith("Z")


def test_members_page_through_every_interaction_with_map_positions(jobs):
    run_id = jobs.submit("p", *WINDOW)
    run = jobs.wait("p", run_id)
    seen, cursor = [], None
    while True:
        page = jobs.members("p", run_id, limit=50, cursor=cursor)
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == run["n_interactions"]
    assert all({"trace_id", "span_id", "cluster_id", "x", "y"} <= set(m) for m in seen)
    ids = {c["cluster_id"] for c in run["clusters"]}
    assert {m["cluster_id"] for m in seen} <= ids
    one = run["clusters"][0]["cluster_id"]
    assert len(jobs.members("p", run_id, cluster_id=one, limit=1000)["items"]) == run["clusters"][0]["size"]
    failed = [m for m in seen if m["failed"]]
    assert failed and all(m["signals"] and len(m["reasons"]) == len(m["signals"]) for m in failed)
    with pytest.raises(InvalidQueryError):
        jobs.members("p", run_id, cursor="garbage")


def test_clusters_keep_their_ids_across_runs_and_new_spans_are_assigned(jobs, store, demo_spans):
    first = jobs.wait("p", jobs.submit("p", *WINDOW))
    second = jobs.wait("p", jobs.submit("p", *WINDOW))
    a = {c["cluster_id"] for c in first["clusters"]}
    b = {c["cluster_id"] for c in second["clusters"]}
    assert len(a & b) >= 0.8 * len(a)
    later = [SpanRecord(**{**s.__dict__, "trace_id": "z" + s.trace_id[1:], "start_time_ns": s.start_time_ns + 7 * 3600 * S,
                           "end_time_ns": s.end_time_ns + 7 * 3600 * S}) for s in demo_spans[:80]]
    store.insert_spans(later)
    placed = jobs.assign_new("p", WINDOW[1], WINDOW[1] + 8 * 3600 * S)
    assert placed["run_id"] == second["run_id"]
    assert placed["assigned"] == sum(1 for s in later if s.kind == "llm") > 0
    assert set(placed["by_cluster"]) <= b
    page = jobs.members("p", second["run_id"], limit=1000, include_assigned=True)
    assert sum(m["assigned"] for m in page["items"]) == placed["assigned"]
    assert jobs.assign_new("empty", 0, NOW)["run_id"] is None


def test_runs_are_scoped_by_project_filters_and_listed(jobs):
    run_id = jobs.submit("p", *WINDOW, {"tenant": "acme-corp"})
    run = jobs.wait("p", run_id)
    assert run["filters"] == {"tenant": "acme-corp"} and run["n_interactions"] > 0
    assert jobs.get("other-project", run_id) is None
    assert jobs.members("other-project", run_id) is None
    assert run_id in [r["run_id"] for r in jobs.list_runs("p")]
    assert jobs.list_runs("other-project") == []
    with pytest.raises(InvalidQueryError):
        jobs.submit("p", *WINDOW, {"nonsense": "x"})
    with pytest.raises(ValueError, match="empty"):
        jobs.submit("p", WINDOW[1], WINDOW[0])


def test_an_empty_window_is_done_with_no_clusters(jobs):
    run = jobs.wait("p", jobs.submit("p", 0, S))
    assert run["status"] == "done" and run["clusters"] == [] and run["n_interactions"] == 0


def test_a_failing_run_records_its_reason_and_the_next_run_still_works(store, demo_spans):
    store.insert_spans(demo_spans)

    def broken(params):
        raise RuntimeError("embedding backend exploded")

    jobs = ClusterJobs(store, embedder_factory=broken)
    try:
        run = jobs.wait("p", jobs.submit("p", *WINDOW))
        assert run["status"] == "failed" and "embedding backend exploded" in run["reason"]
        assert run["clusters"] == []
    finally:
        jobs.close()
    healthy = ClusterJobs(store)
    try:
        assert healthy.wait("p", healthy.submit("p", *WINDOW))["status"] == "done"
    finally:
        healthy.close()


def test_runs_interrupted_by_a_restart_are_marked_failed(store):
    jobs = ClusterJobs(store)
    jobs.analytics.put_run({"project": "p", "run_id": "stale", "status": "running", "progress": 0.3,
                            "start_ns": 0, "end_ns": S, "created_ms": 0})
    jobs.close()
    ClusterJobs(store)  # a new process starts
    run = ClusterJobs(store, recover=False).get("p", "stale")
    assert run["status"] == "failed" and "interrupted" in run["reason"]


def test_queue_is_bounded(store):
    jobs = ClusterJobs(store, max_queued=1)
    jobs._ensure_worker = lambda: None  # no worker: runs stay queued
    jobs.submit("p", 0, S)
    with pytest.raises(JobQueueFull):
        jobs.submit("p", 0, S)


def test_periodic_scheduler_runs_then_assigns_and_stops(store, demo_spans):
    store.insert_spans(demo_spans)
    clock = [WINDOW[1]]
    jobs = ClusterJobs(store, clock_ns=lambda: clock[0])
    handle = jobs.run_periodic(lambda: ["p"], every_s=3600, window_s=8 * 3600, assign_every_s=0.2,
                               first_run_after_s=0.0)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            runs = jobs.list_runs("p")
            if runs and runs[0]["status"] == "done":
                break
            time.sleep(0.1)
        assert len(runs) == 1 and runs[0]["status"] == "done"
        clock[0] += 3600 * S  # an hour later: assignment ticks cover the new hour, no second run yet
        time.sleep(0.6)
        assert len(jobs.list_runs("p")) == 1
    finally:
        handle.stop()
        jobs.close()
    assert not handle.running
