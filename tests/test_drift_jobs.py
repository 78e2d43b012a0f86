"""DriftJobs end to end on a real embedded store: submit -> worker (load -> compute -> save) -> the contract."""

from __future__ import annotations

import random

import pytest

from tests.test_drift_storage import H, T0, llm_span
from tracehouse.analytics.drift import DriftParams
from tracehouse.analytics.drift_jobs import DriftJobs, JobQueueFull, WindowSpec, format_time, parse_time
from tracehouse.storage.drift import DriftStore

CONTRACT = {"name", "statistic", "p_value", "effect_size", "verdict", "n_baseline", "n_current"}
REQUESTS = ("How do I reset my password?", "Where is my order {n}?", "Can I get a refund for order {n}?",
            "Which plan includes single sign-on?", "Why was I charged twice this month?",
            "How do I export my invoices as CSV?")
ANSWERS = ("Open Settings, then Security, and choose Reset password; we email you a link.",
           "Your order ships within two business days; the tracking link is in your confirmation email.",
           "Refunds go back to the original payment method within five business days.",
           "Single sign-on is part of the Business and Enterprise plans.",
           "The second charge is a temporary authorization hold that your bank releases in a few days.",
           "Go to Billing, open Invoices and use Export to download them as CSV.")
FILLER = (" Let me know if there is anything else I can help you with today, I am always happy to explain the "
          "details of your account, billing, orders and settings in more depth.")


def traffic(start_ns: int, n: int, seed: int, *, drifted: bool = False, offset: int = 0, **fields) -> list:
    """``n`` calls over 24 hours; ``drifted``: answers three times longer and a fifth of them refusals."""
    r = random.Random(seed)
    spans = []
    for i in range(n):
        k = r.randrange(len(REQUESTS))
        answer = ANSWERS[k]
        if drifted:
            answer = "I'm sorry, but I can't help with that." if r.random() < 0.2 else answer + FILLER * 3
        spans.append(llm_span(offset + i, start_ns + int(i * 24 * H / n), request=REQUESTS[k].format(n=r.randint(1000, 9999)),
                              answer=answer, output_tokens=len(answer) // 4, latency_ms=r.uniform(300, 900),
                              tenant=r.choice(["acme", "globex"]), **fields))
    return spans


@pytest.fixture
def jobs(store):
    jobs = DriftJobs(store, params=DriftParams(max_embed=200))
    yield jobs
    jobs.close()


BASE = {"start_ns": T0, "end_ns": T0 + 24 * H}
CUR = {"start_ns": T0 + 24 * H, "end_ns": T0 + 48 * H}


def test_a_run_goes_queued_to_done_and_answers_the_contract(store, jobs):
    store.insert_spans(traffic(T0, 240, 1) + traffic(T0 + 24 * H, 240, 2, drifted=True, offset=10_000))
    store.insert_score("p", f"{3:032x}", "", "thumbs", 1.0)
    run_id = jobs.submit("p", BASE, CUR)
    first = jobs.get("p", run_id)
    assert first["status"] in ("queued", "running", "done") and first["signals"] == [] or first["status"] == "done"
    run = jobs.wait("p", run_id, timeout_s=120)
    assert run["status"] == "done", run.get("reason")
    assert run["run_id"] == run_id and run["verdict"] == "drift" and run["n_baseline"] == run["n_current"] == 240
    signals = {s["name"]: s for s in run["signals"]}
    assert all(CONTRACT <= set(s) for s in run["signals"])
    assert signals["output_length"]["verdict"] == "drift" and signals["output_length"]["direction"] == "up"
    assert signals["refusal_rate"]["verdict"] == "drift" and signals["refusal_rate"]["current_value"] > 0.1
    assert signals["output_embedding"]["verdict"] == "drift"
    assert any(t["kind"] == "term" for t in signals["output_embedding"]["top"])
    assert any(t["kind"] == "example" and t["trace_id"] for t in signals["refusal_rate"]["top"])
    assert signals["input_embedding"]["verdict"] == "no_drift" and signals["latency_ms"]["verdict"] == "no_drift"
    assert signals["ttft_ms"]["verdict"] == "insufficient_data" and signals["ttft_ms"]["p_value"] is None
    assert set(run["drifted"]) == {n for n, s in signals.items() if s["verdict"] == "drift"}
    assert run["baseline"]["start"] == format_time(T0) and run["current"]["filters"] == {}
    assert jobs.get("other", run_id) is None and jobs.get("p", "nope") is None
    listed = jobs.list_runs("p")
    assert [r["run_id"] for r in listed] == [run_id] and "signals" not in listed[0]
    line = jobs.timeline("p", T0, T0 + 72 * H, names=["output_length"])
    assert [(x["name"], x["verdict"]) for x in line] == [("output_length", "drift")]


def test_empty_windows_are_insufficient_data_not_a_false_alarm(jobs):
    run = jobs.wait("p", jobs.submit("p", BASE, CUR))
    assert run["status"] == "done" and run["verdict"] == "insufficient_data"
    assert run["signals"] and {s["verdict"] for s in run["signals"]} == {"insufficient_data"}
    assert all(s["reason"].startswith("too few samples") for s in run["signals"])


def test_the_same_traffic_does_not_drift(store, jobs):
    store.insert_spans(traffic(T0, 200, 5) + traffic(T0 + 24 * H, 200, 6, offset=10_000))
    run = jobs.wait("p", jobs.submit("p", BASE, CUR))
    assert run["status"] == "done" and run["verdict"] == "no_drift", run["drifted"]


def test_release_against_the_previous_release(store, jobs):
    store.insert_spans(traffic(T0, 150, 7, release="r1") + traffic(T0 + 24 * H, 150, 8, release="r2", drifted=True,
                                                                   offset=10_000))
    baseline, current = jobs.previous_comparison("p", "release", now_ns=T0 + 49 * H)
    assert (baseline.filters["release"], current.filters["release"]) == ("r1", "r2")
    assert baseline.start_ns == T0 and current.end_ns <= T0 + 48 * H
    run = jobs.wait("p", jobs.submit("p", baseline, current))
    assert run["status"] == "done" and "output_length" in run["drifted"]
    assert run["current"]["filters"] == {"release": "r2"}
    with pytest.raises(LookupError):
        jobs.previous_comparison("p", "release", "r1", now_ns=T0 + 49 * H)
    with pytest.raises(LookupError):
        jobs.previous_comparison("p", "prompt_version", "v9", now_ns=T0 + 49 * H)
    with pytest.raises(ValueError):
        jobs.previous_comparison("p", "status", now_ns=T0 + 49 * H)


def test_model_against_model_skips_the_model_mix_and_per_tenant_filters_skip_segments(store, jobs):
    store.insert_spans(traffic(T0, 150, 9, model="model-a") + traffic(T0, 150, 10, model="model-b", offset=10_000))
    window = {"start_ns": T0, "end_ns": T0 + 24 * H}
    run = jobs.wait("p", jobs.submit("p", {**window, "filters": {"model": "model-a"}},
                                     {**window, "filters": {"model": "model-b"}}))
    names = {s["name"] for s in run["signals"]}
    assert run["status"] == "done" and "model_mix" not in names and "tenant_mix" in names
    run = jobs.wait("p", jobs.submit("p", {**window, "filters": {"tenant": "acme"}},
                                     {**window, "filters": {"tenant": "acme"}}))
    assert not any("[tenant=" in s["name"] or s["name"] == "tenant_mix" for s in run["signals"])


def test_cluster_mix_uses_the_clustering_run_and_cluster_filters_need_one(store, jobs):
    from tracehouse.analytics import ClusterJobs

    store.insert_spans(traffic(T0, 200, 11) + traffic(T0 + 24 * H, 200, 12, drifted=True, offset=10_000))
    with pytest.raises(ValueError, match="clustering run"):  # no clustering run yet
        jobs.submit("p", BASE, {**CUR, "filters": {"cluster_id": "c1"}})
    clusters = ClusterJobs(store)
    try:
        assert clusters.wait("p", clusters.submit("p", T0, T0 + 48 * H), timeout_s=120)["status"] == "done"
    finally:
        clusters.close()
    run = jobs.wait("p", jobs.submit("p", BASE, CUR))
    mix = next(s for s in run["signals"] if s["name"] == "cluster_mix")
    assert mix["verdict"] != "insufficient_data" and "KMeans" not in mix["reason"]
    assert mix["top"] and all(t["kind"] == "cluster" for t in mix["top"])
    cluster = mix["top"][0]["key"]
    run = jobs.wait("p", jobs.submit("p", {**BASE, "filters": {"cluster_id": cluster}},
                                     {**CUR, "filters": {"cluster_id": [cluster]}}))
    assert run["status"] == "done", run.get("reason")
    assert "cluster_mix" not in {s["name"] for s in run["signals"]}


@pytest.mark.parametrize("baseline, current, params", [
    ({"start_ns": 10, "end_ns": 10}, CUR, None),
    ({"start": "yesterday", "end": "today"}, CUR, None),
    ({**BASE, "filters": {"status": "error"}}, CUR, None),
    ({**BASE, "extra": 1}, CUR, None),
    (BASE, CUR, {"alpha": 2}),
    (BASE, CUR, {"no_such_knob": 1}),
])
def test_bad_requests_are_refused_at_submit(jobs, baseline, current, params):
    with pytest.raises(ValueError):
        jobs.submit("p", baseline, current, params=params)
    assert jobs.list_runs("p") == []


def test_window_specs_parse_rfc3339_and_keep_nanoseconds():
    spec = WindowSpec.parse({"start": "2026-01-01T00:00:00.000000001Z", "end": "2026-01-02T00:00:00+01:00",
                             "filters": {"tenant": "acme", "release": None}})
    assert spec.start_ns == T0 + 1 and spec.end_ns == T0 + 23 * H and dict(spec.filters) == {"tenant": "acme"}
    assert spec.to_api()["start"] == "2026-01-01T00:00:00.000000001Z"
    assert parse_time(format_time(T0 + 5)) == T0 + 5


def test_a_failing_run_records_its_reason(store, jobs, monkeypatch):
    def boom(job, loaded):
        raise RuntimeError("compute exploded")

    monkeypatch.setattr(jobs, "compute", boom)
    run = jobs.wait("p", jobs.submit("p", BASE, CUR))
    assert run["status"] == "failed" and "compute exploded" in run["reason"]


def test_unfinished_runs_are_failed_at_start_up_and_the_queue_is_bounded(store):
    DriftStore(store).put_run({"project": "p", "run_id": "old", "status": "running", "created_ms": 1,
                               "baseline": BASE, "current": CUR})
    jobs = DriftJobs(store, max_queued=1)
    try:
        old = jobs.get("p", "old")
        assert old["status"] == "failed" and "interrupted" in old["reason"]
        jobs._worker = None
        jobs._ensure_worker = lambda: None  # keep the worker off so the queue fills
        jobs.submit("p", BASE, CUR)
        with pytest.raises(JobQueueFull):
            jobs.submit("p", BASE, CUR)
    finally:
        jobs.close(timeout_s=0.1)


def test_scheduled_runs_compare_the_last_day_with_the_week_before_and_wait_for_each_other(store, jobs):
    now = T0 + 8 * 24 * H
    first = jobs.scheduled_run("p", now_ns=now)
    assert first is not None
    second = jobs.scheduled_run("p", now_ns=now)  # skipped while the first is unfinished, unless it already ended
    run = jobs.wait("p", first)
    assert run["trigger"] == "schedule"
    assert run["current"]["start"] == format_time(now - 24 * H) and run["baseline"]["start"] == format_time(now - 8 * 24 * H)
    assert second is None or jobs.wait("p", second)["status"] == "done"
    handle = jobs.run_periodic(["p"], every_s=3600, first_run_after_s=0.0)
    try:
        import time

        deadline = time.monotonic() + 30
        while len(jobs.list_runs("p")) < 2 + int(second is not None) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(jobs.list_runs("p")) >= 2 + int(second is not None)
    finally:
        handle.stop()
    assert not handle.running
