"""compute_drift, pure: verdicts, minimum samples, practical significance, multiple testing, empty windows, NaN,
determinism, segments and the load-side conversion of rows."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from tracehouse.analytics.drift import (DRIFT, INSUFFICIENT_DATA, NO_DRIFT, SIGNAL_NAMES, DriftParams, DriftWindow,
                                        compute_drift, window_from_rows)

TOPICS = {
    "billing": ("why was I charged twice on my invoice", "the second charge is an authorization hold on your card"),
    "shipping": ("where is my parcel, the tracking has not moved", "your parcel is with the carrier and arrives soon"),
    "password": ("how do I reset my password", "open security settings and choose reset password"),
    "refund": ("I want a refund for my damaged order", "refunds reach your original payment method in five days"),
    "crypto": ("how do I move tokens between wallet addresses", "open the wallet, paste the address and confirm gas"),
}
FAST = DriftParams(max_embed=200, permutations=99)


def window(n: int, seed: int, *, topics=("billing", "shipping", "password", "refund"), weights=None,
           latency_scale: float = 1.0, refusal: float = 0.01, tenants=("acme", "globex"), cost_scale=None,
           **columns) -> DriftWindow:
    rng = np.random.default_rng(seed)
    picked = rng.choice(len(topics), size=n, p=weights)
    words = ("please", "today", "thanks", "again", "quickly", "now", "urgent", "kindly")
    inputs = [f"{TOPICS[topics[k]][0]} {rng.choice(words)} {rng.choice(words)}" for k in picked]
    outputs = [f"{TOPICS[topics[k]][1]} {rng.choice(words)}" for k in picked]
    tenant = rng.choice(list(tenants), size=n)
    cost = rng.lognormal(-7, 0.3, n)
    if cost_scale:
        cost = cost * np.array([cost_scale.get(t, 1.0) for t in tenant])
    base = {
        "trace_id": [f"t{seed}-{i}" for i in range(n)], "span_id": [f"s{i}" for i in range(n)],
        "input_text": inputs, "output_text": outputs, "output_length": [len(o) for o in outputs],
        "input_tokens": rng.integers(80, 120, n), "output_tokens": rng.integers(20, 40, n), "cost_per_call": cost,
        "latency_ms": rng.lognormal(6, 0.3, n) * latency_scale, "ttft_ms": np.full(n, np.nan),
        "error": rng.random(n) < 0.02, "refusal": rng.random(n) < refusal, "truncated": rng.random(n) < 0.02,
        "negative_feedback": np.where(rng.random(n) < 0.2, rng.random(n) < 0.1, np.nan),
        "model": ["m1"] * n, "tenant": tenant,
    }
    base.update(columns)
    return DriftWindow.from_columns(base, scores={"rating": rng.normal(0.7, 0.1, max(1, n // 5))})


def by_name(report):
    return {s.name: s for s in report.signals}


def test_the_same_traffic_is_no_drift_and_every_signal_is_tested():
    report = compute_drift(window(400, 1), window(400, 2), FAST)
    assert report.verdict == NO_DRIFT and not report.drifted
    names = by_name(report)
    assert {"input_embedding", "output_embedding", "cluster_mix", "tenant_mix", "latency_ms", "error_rate",
            "score:rating", "cost_per_call[tenant=acme]", "error_rate[tenant=globex]"} <= set(names)
    assert "model_mix" not in names  # one model in both windows: nothing to compare
    assert names["ttft_ms"].verdict == INSUFFICIENT_DATA  # all NaN: not streamed
    assert all(s.verdict in (NO_DRIFT, INSUFFICIENT_DATA) for s in report.signals)


def test_injected_shifts_are_found_and_named():
    base = window(400, 3)
    cur = window(400, 4, topics=("billing", "shipping", "password", "refund", "crypto"),
                 weights=[0.15, 0.15, 0.15, 0.15, 0.4], latency_scale=1.5, refusal=0.15)
    report = compute_drift(base, cur, FAST)
    names = by_name(report)
    assert report.verdict == DRIFT
    for name in ("input_embedding", "output_embedding", "cluster_mix", "latency_ms", "refusal_rate"):
        assert names[name].verdict == DRIFT, names[name]
    assert names["latency_ms"].direction == "up" and names["latency_ms"].change == pytest.approx(0.5, abs=0.15)
    assert names["refusal_rate"].current_value > names["refusal_rate"].baseline_value
    terms = [c.key for c in names["input_embedding"].top if c.kind == "term"]
    assert {"wallet", "tokens"} & set(terms[:4])
    examples = [c for c in names["input_embedding"].top if c.kind == "example"]
    assert examples and "wallet" in examples[0].text
    grew = names["cluster_mix"].top[0]
    assert grew.kind == "cluster" and grew.current > grew.baseline and "wallet" in grew.label + " ".join(terms)
    assert names["error_rate"].verdict == NO_DRIFT
    assert all(s.q_value >= s.p_value for s in report.signals if s.p_value is not None)


def test_a_tenant_segment_catches_what_the_whole_window_dilutes():
    tenants = ("acme", "globex", "initech", "umbrella", "soylent")
    base = window(1500, 5, tenants=tenants)
    cur = window(1500, 6, tenants=tenants, cost_scale={"initech": 4.0})
    names = by_name(compute_drift(base, cur, dataclasses.replace(FAST, signals=("cost_per_call",))))
    assert names["cost_per_call[tenant=initech]"].verdict == DRIFT
    assert names["cost_per_call[tenant=acme]"].verdict == NO_DRIFT
    top = [c for c in names["cost_per_call"].top if c.kind == "tenant"]
    assert top[0].key == "initech"  # the breakdown names the tenant that moved the mean


def test_huge_samples_do_not_alarm_on_trivial_shifts():
    rng = np.random.default_rng(7)
    n = 200_000
    base = DriftWindow.from_columns({"latency_ms": rng.lognormal(6, 0.3, n), "error": rng.random(n) < 0.010})
    cur = DriftWindow.from_columns({"latency_ms": rng.lognormal(6, 0.3, n) * 1.02, "error": rng.random(n) < 0.012})
    params = dataclasses.replace(FAST, signals=("latency_ms", "error_rate"))
    names = by_name(compute_drift(base, cur, params))
    for name in ("latency_ms", "error_rate"):
        s = names[name]
        assert s.p_value < 1e-4, s  # statistically clear ...
        assert s.verdict == NO_DRIFT and abs(s.effect_size) < s.threshold  # ... practically trivial


def test_empty_windows_give_insufficient_data_everywhere():
    for base, cur in ((DriftWindow.empty(), DriftWindow.empty()), (window(300, 8), DriftWindow.empty()),
                      (DriftWindow(), window(300, 9))):
        report = compute_drift(base, cur, FAST)
        assert report.verdict == INSUFFICIENT_DATA and report.signals
        assert {s.verdict for s in report.signals} == {INSUFFICIENT_DATA}
        assert all(s.p_value is None and s.reason for s in report.signals)


def test_tiny_samples_are_insufficient_even_when_they_look_different():
    base = window(12, 10)
    cur = window(12, 11, latency_scale=10.0, refusal=0.9)
    report = compute_drift(base, cur, FAST)
    assert report.verdict == INSUFFICIENT_DATA
    assert "at least 30" in by_name(report)["latency_ms"].reason


def test_nan_and_infinite_values_are_left_out_not_propagated():
    base = window(200, 12, latency_ms=[math.nan] * 100 + [500.0] * 100)
    cur = window(200, 13, latency_ms=[math.inf] * 50 + [510.0] * 150)
    names = by_name(compute_drift(base, cur, FAST))
    assert (names["latency_ms"].n_baseline, names["latency_ms"].n_current) == (100, 150)
    payload = json.dumps([s.to_dict() for s in names.values()], allow_nan=False)  # strict JSON: no NaN anywhere
    assert "NaN" not in payload


def test_results_are_deterministic_given_the_seed():
    base, cur = window(300, 14), window(300, 15, refusal=0.1)
    first = compute_drift(base, cur, FAST)
    second = compute_drift(base, cur, FAST)
    assert [s.to_dict() for s in first.signals] == [s.to_dict() for s in second.signals]


def test_skip_and_signal_selection():
    base, cur = window(200, 16), window(200, 17)
    report = compute_drift(base, cur, dataclasses.replace(FAST, signals=("latency_ms", "scores")),
                           skip={"error_rate"})
    assert {s.name for s in report.signals} == {"latency_ms", "score:rating"}
    report = compute_drift(base, cur, FAST, skip={"tenant_mix", "cost_per_call"})
    names = {s.name for s in report.signals}
    assert "tenant_mix" not in names and not any(n.startswith("cost_per_call") for n in names)


def test_cluster_ids_from_a_clustering_run_are_used_with_their_names():
    base = window(300, 18, cluster=["c1"] * 150 + ["c2"] * 150)
    cur = window(300, 19, cluster=["c1"] * 60 + ["c2"] * 140 + ["c3"] * 100)
    mix = by_name(compute_drift(base, cur, FAST, cluster_names={"c3": "crypto wallets"}))["cluster_mix"]
    assert mix.verdict == DRIFT and "KMeans" not in mix.reason
    assert (mix.top[0].key, mix.top[0].label) == ("c3", "crypto wallets")


def test_report_dicts_carry_the_contract_fields_first():
    report = compute_drift(window(200, 20), window(200, 21), FAST)
    d = report.signals[0].to_dict()
    assert list(d)[:7] == ["name", "statistic", "p_value", "effect_size", "verdict", "n_baseline", "n_current"]
    assert set(SIGNAL_NAMES) >= {s.name for s in report.signals if "[" not in s.name and ":" not in s.name}


def test_params_validate():
    with pytest.raises(ValueError):
        DriftParams(alpha=0)
    with pytest.raises(ValueError):
        DriftParams(segment_by=("user",))
    with pytest.raises(ValueError):
        DriftParams(max_embed=10)
    with pytest.raises(ValueError):
        DriftParams.from_mapping({"nope": 1})
    assert DriftParams.from_mapping({"segment_by": ["model"]}).segment_by == ("model",)


def test_windows_validate_and_accept_frames():
    import pandas as pd

    with pytest.raises(ValueError):
        DriftWindow.from_columns({"latency_ms": [1, 2], "error": [0]})
    frame = pd.DataFrame({"duration_ms": [1.0, None, 3.0], "cost_usd": [0.1, 0.2, "x"], "model": ["a", None, "b"]})
    w = DriftWindow.from_columns(frame)
    assert len(w) == 3 and np.isnan(w.latency_ms[1]) and np.isnan(w.cost_per_call[2]) and w.model == ("a", "", "b")
    assert len(w.select(np.array([True, False, True]))) == 2 and w.select([2]).latency_ms.tolist() == [3.0]
    with pytest.raises(ValueError):
        w.latency_ms[0] = 5.0  # read-only


def test_window_from_rows_uses_the_failure_rules():
    rows = [
        {"trace_id": "t1", "span_id": "a", "start_time_ns": 1, "request": "hi", "response": "Sure, here it is.",
         "output_chars": 17, "status": "ok", "finish_reason": "stop", "input_tokens": 10, "output_tokens": 5,
         "cost_usd": 0.01, "cost_source": "computed", "duration_ms": 100.0, "time_to_first_token_ms": None,
         "model": "m", "tenant": "acme"},
        {"trace_id": "t2", "span_id": "b", "start_time_ns": 2, "request": "help me break in",
         "response": "I'm sorry, but I can't help with that.", "status": "ok", "finish_reason": "stop",
         "input_tokens": 0, "output_tokens": 0, "cost_usd": 0.0, "cost_source": "unpriced", "duration_ms": 50.0},
        {"trace_id": "t3", "span_id": "c", "start_time_ns": 3, "request": "long", "response": "cut off",
         "status": "ok", "finish_reason": "length", "input_tokens": 10, "output_tokens": 500},
        {"trace_id": "t4", "span_id": "d", "start_time_ns": 4, "request": "x", "response": "", "status": "error",
         "status_message": "Request timed out"},
    ]
    scores = [{"trace_id": "t2", "span_id": "", "name": "thumbs", "value": 0.0},
              {"trace_id": "t1", "span_id": "a", "name": "thumbs", "value": 1.0}]
    w = window_from_rows(rows, scores)
    assert w.refusal.tolist() == [0, 1, 0, 0] and w.truncated.tolist() == [0, 0, 1, 0]
    assert w.error.tolist() == [0, 0, 0, 1]  # a timeout is an error too
    assert w.negative_feedback[0] == 0 and w.negative_feedback[1] == 1 and np.isnan(w.negative_feedback[2])
    assert np.isnan(w.cost_per_call[1]) and np.isnan(w.input_tokens[1])  # unpriced, no usage reported
    assert w.cost_per_call[0] == 0.01 and w.output_length[0] == 17 and np.isnan(w.ttft_ms[0])
    assert w.scores["thumbs"].tolist() == [0.0, 1.0] and w.cluster == ("", "", "", "")
    assert len(window_from_rows([], [])) == 0


def test_the_benchmark_generator_and_scoring_run():
    from benchmarks.drift import BY_NAME, run_scenario

    params = dataclasses.replace(DriftParams(), max_embed=200, permutations=49)
    shift = run_scenario(BY_NAME["refusal_spike"], [1], params, hourly=False)
    control = run_scenario(BY_NAME["control_stationary"], [1], params, hourly=False)
    assert (shift.runs, shift.hits) == (1, 1) and control.runs == 1 and control.hits == 0


def test_public_surfaces_are_pinned():
    from tracehouse.analytics import alerts, drift, drift_jobs, drift_stats

    assert set(drift.__all__) == {
        "DRIFT", "INSUFFICIENT_DATA", "NO_DRIFT", "SIGNAL_NAMES", "VERDICTS", "Contributor", "DriftParams",
        "DriftReport", "DriftWindow", "SignalResult", "compute_drift", "window_from_rows"}
    assert set(drift_jobs.__all__) == {"DEFAULT_BASELINE_S", "DEFAULT_CURRENT_S", "DriftJobs", "JobQueueFull",
                                       "WindowSpec", "format_time", "parse_time"}
    assert set(alerts.__all__) == {
        "RULE_KINDS", "AlertEngine", "AlertRule", "Condition", "Delivery", "WebhookNotifier", "build_payload",
        "create_rule", "delete_rule", "get_rule", "list_rules", "update_rule", "validate_params",
        "validate_webhook_url"}
    assert all(hasattr(m, name) for m in (alerts, drift, drift_jobs, drift_stats) for name in m.__all__)


@pytest.mark.parametrize("module, forbidden", [
    ("tracehouse.analytics.drift", {"fastapi", "streamlit", "tracehouse.collector", "clickhouse_connect", "httpx"}),
    ("tracehouse.analytics.alerts", {"fastapi", "streamlit", "tracehouse.collector"}),
    ("tracehouse.storage.drift", {"fastapi", "streamlit", "sklearn", "tracehouse.analytics"}),
])
def test_imports_show_the_layers(module, forbidden):
    import subprocess
    import sys

    code = f"import sys, json, {module}; print(json.dumps(sorted(sys.modules)))"
    loaded = set(json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                           check=True).stdout))
    assert not {m for m in loaded if m in forbidden or m.split(".")[0] in forbidden}
