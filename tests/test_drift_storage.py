"""DriftStore and AlertStore round trips on a real embedded store (the ``store`` fixture: a fresh database)."""

from __future__ import annotations

import pytest

from tracehouse.storage import InvalidQueryError, SpanRecord
from tracehouse.storage.drift import (AlertStore, DriftStore, alert_stats_query, filter_clauses, versions_query,
                                      window_query)

S = 1_000_000_000
H = 3600 * S
T0 = 1_767_225_600 * S  # 2026-01-01T00:00:00Z


def llm_span(i: int, start_ns: int, *, project: str = "p", request: str = "How do I reset my password?",
             answer: str = "Open Settings > Security and choose Reset password.", model: str = "gpt-4o-mini",
             tenant: str = "acme", status: str = "ok", finish: str = "stop", input_tokens: int = 120,
             output_tokens: int = 40, cost: float = 0.001, latency_ms: float = 500.0, ttft_ms: float | None = None,
             release: str = "r1", prompt_version: str = "v1", cost_source: str = "computed", kind: str = "llm",
             trace_id: str | None = None) -> SpanRecord:
    """One LLM call as the collector stores it (structured messages plus flattened text)."""
    return SpanRecord(
        project=project, trace_id=trace_id or f"{i:032x}", span_id=f"{i:016x}", parent_span_id="", name="chat",
        start_time_ns=start_ns, end_time_ns=start_ns + int(latency_ms * 1e6), kind=kind, status=status,
        status_message="boom" if status == "error" else "", time_to_first_token_ms=ttft_ms, tenant=tenant,
        model=model, request_model=model, provider="openai", release=release, prompt_version=prompt_version,
        finish_reason=finish, input_tokens=input_tokens, output_tokens=output_tokens, cost_usd=cost,
        cost_source=cost_source,
        input_messages=({"role": "system", "parts": [{"type": "text", "content": "You are helpful."}]},
                        {"role": "user", "parts": [{"type": "text", "content": request}]}),
        output_messages=({"role": "assistant", "parts": [{"type": "text", "content": answer}]},) if answer else (),
        input_text=f"You are helpful.\n{request}", output_text=answer,
    )


# -- pure SQL ----------------------------------------------------------------------------------------------------

def test_every_query_is_scoped_by_project_and_takes_values_as_parameters():
    evil = "x' OR 1=1 --"
    for sql, params in (window_query(evil, 0, 10, {"tenant": evil}, 10),
                        versions_query(evil, "release", 0, 10, {"model": [evil]}),
                        alert_stats_query(evil, 0, 10, "tenant", {"release": evil})):
        assert "project = {project:String}" in sql and params["project"] == evil
        assert evil not in sql


@pytest.mark.parametrize("filters", [{"nope": "x"}, {"tenant": 3}, {"tenant": ["a", 1]}, {"tenant": ["x"] * 101}])
def test_bad_filters_are_refused(filters):
    with pytest.raises(InvalidQueryError):
        filter_clauses(filters, {})


def test_bad_columns_and_windows_are_refused():
    with pytest.raises(InvalidQueryError):
        versions_query("p", "status; DROP TABLE spans", 0, 10, None)
    with pytest.raises(InvalidQueryError):
        alert_stats_query("p", 0, 10, "trace_id", None)
    with pytest.raises(InvalidQueryError):
        window_query("p", 10, 10, None, 5)


# -- windows -------------------------------------------------------------------------------------------------------

def test_load_window_reads_a_deterministic_uniform_sample_of_llm_calls_scoped_by_project(store):
    spans = [llm_span(i, T0 + i * S, tenant="acme" if i % 2 else "globex") for i in range(40)]
    spans.append(llm_span(1000, T0 + 5 * S, project="other"))
    spans.append(llm_span(1001, T0 + 6 * S, kind="tool"))
    store.insert_spans(spans)
    store.insert_spans(spans[:5])  # a replayed batch: duplicates must not count twice
    ds = DriftStore(store)
    rows = ds.load_window("p", T0, T0 + H)
    assert len(rows) == 40 and len({(r["trace_id"], r["span_id"]) for r in rows}) == 40
    assert [r["start_time_ns"] for r in rows] == sorted(r["start_time_ns"] for r in rows)
    row = rows[0]
    assert row["request"] == "How do I reset my password?"  # the last user message, not the system prompt
    assert row["response"].startswith("Open Settings") and row["output_chars"] == len(row["response"])
    assert ds.count_window("p", T0, T0 + H) == 40
    sample = ds.load_window("p", T0, T0 + H, limit=10)
    assert len(sample) == 10 and sample == ds.load_window("p", T0, T0 + H, limit=10)
    assert {r["span_id"] for r in sample} != {r["span_id"] for r in rows[:10]}  # not just the oldest ten
    only = ds.load_window("p", T0, T0 + H, {"tenant": "acme"})
    assert len(only) == 20 and {r["tenant"] for r in only} == {"acme"}
    assert ds.load_window("nobody", T0, T0 + H) == []


def test_scores_and_versions(store):
    store.insert_spans([llm_span(i, T0 + i * H, release="r1" if i < 3 else "r2") for i in range(6)])
    store.insert_score("p", f"{1:032x}", "", "thumbs", 0.0)
    store.insert_score("p", f"{4:032x}", f"{4:016x}", "thumbs", 1.0)
    store.insert_score("other", f"{4:032x}", "", "thumbs", 1.0)
    ds = DriftStore(store)
    scores = ds.load_scores("p", T0, T0 + 10 * H)
    assert sorted((s["trace_id"][-1], s["value"]) for s in scores) == [("1", 0.0), ("4", 1.0)]
    assert [s["trace_id"][-1] for s in ds.load_scores("p", T0, T0 + 10 * H, {"release": "r2"})] == ["4"]
    versions = ds.versions("p", "release", T0, T0 + 10 * H)
    assert [(v["value"], v["n"]) for v in versions] == [("r1", 3), ("r2", 3)]
    assert versions[0]["first_ns"] == T0 and versions[1]["last_ns"] == T0 + 5 * H


# -- runs and signals --------------------------------------------------------------------------------------------

def _run(status: str, run_id: str = "r1", created_ms: int = 1000, trigger: str = "api") -> dict:
    return {"project": "p", "run_id": run_id, "status": status, "trigger": trigger, "created_ms": created_ms,
            "baseline": {"start_ns": T0, "end_ns": T0 + H, "filters": {"release": "a"}},
            "current": {"start_ns": T0 + H, "end_ns": T0 + 2 * H + 123, "filters": {"release": "b"}},
            "params": {"alpha": 0.01}}


def test_runs_keep_their_newest_state_and_exact_times(store):
    ds = DriftStore(store)
    ds.put_run(_run("queued"))
    ds.put_run({**_run("running"), "progress": 0.5})
    ds.put_run({**_run("done"), "verdict": "drift", "n_drift": 2, "drifted": ["a", "b"], "n_baseline": 7})
    ds.put_run(_run("queued", run_id="r2", created_ms=2000, trigger="schedule"))
    run = ds.get_run("p", "r1")
    assert run["status"] == "done" and run["verdict"] == "drift" and run["drifted"] == ["a", "b"]
    assert run["current"] == {"start_ns": T0 + H, "end_ns": T0 + 2 * H + 123, "filters": {"release": "b"}}
    assert run["params"] == {"alpha": 0.01} and run["n_baseline"] == 7
    assert ds.get_run("other", "r1") is None
    assert [r["run_id"] for r in ds.list_runs("p")] == ["r2", "r1"]
    assert [r["run_id"] for r in ds.list_runs("p", status="done")] == ["r1"]
    assert [r["run_id"] for r in ds.list_runs("p", trigger="schedule")] == ["r2"]
    assert [r["run_id"] for r in ds.unfinished_runs()] == ["r2"]


def test_signals_round_trip_with_nulls_and_contributors(store):
    ds = DriftStore(store)
    signals = [
        {"name": "output_length", "statistic": 0.3, "p_value": 1e-9, "q_value": 2e-9, "effect_size": 0.4,
         "verdict": "drift", "n_baseline": 100, "n_current": 90, "kind": "numeric", "test": "ks",
         "effect_measure": "cliffs_delta", "threshold": 0.147, "baseline_value": 300.0, "current_value": 500.0,
         "change": 0.66, "direction": "up", "reason": "", "top": [{"kind": "model", "key": "m", "delta": 1.5}]},
        {"name": "ttft_ms", "statistic": None, "p_value": None, "q_value": None, "effect_size": None,
         "verdict": "insufficient_data", "n_baseline": 3, "n_current": 0, "kind": "numeric", "test": "none",
         "effect_measure": "cliffs_delta", "threshold": 0.147, "baseline_value": None, "current_value": None,
         "change": None, "direction": "", "reason": "too few samples", "top": []},
    ]
    ds.save_signals("p", "r1", signals, T0 + 2 * H, "schedule")
    back = ds.get_signals("p", "r1")
    assert [s["name"] for s in back] == ["output_length", "ttft_ms"]
    assert back[0]["top"] == [{"kind": "model", "key": "m", "delta": 1.5}] and back[0]["p_value"] == 1e-9
    assert back[1]["p_value"] is None and back[1]["verdict"] == "insufficient_data"
    assert ds.get_signals("other", "r1") == []
    line = ds.timeline("p", T0, T0 + 3 * H, names=["output_length"])
    assert [(r["name"], r["verdict"], r["current_end_ns"]) for r in line] == [("output_length", "drift", T0 + 2 * H)]
    assert ds.timeline("p", T0, T0 + 3 * H, trigger="api") == []


# -- alerts ----------------------------------------------------------------------------------------------------------

def test_rules_are_versioned_and_deleted_by_a_new_version(store):
    alerts = AlertStore(store)
    rule = {"project": "p", "rule_id": "a1", "name": "errors", "kind": "error_rate", "params": {"threshold": 0.1},
            "webhook_url": "http://127.0.0.1:9/x", "enabled": True, "created_ms": 1000}
    alerts.put_rule(rule)
    alerts.put_rule({**rule, "params": {"threshold": 0.2}, "enabled": False})
    alerts.put_rule({**rule, "rule_id": "a2", "created_ms": 2000})
    rules = alerts.rules("p")
    assert [(r["rule_id"], r["params"], r["enabled"]) for r in rules] == [("a1", {"threshold": 0.2}, False),
                                                                         ("a2", {"threshold": 0.1}, True)]
    alerts.put_rule(rules[0], deleted=True)
    assert [r["rule_id"] for r in alerts.rules("p")] == ["a2"]
    assert alerts.rules("other") == [] and alerts.rules("p", "a1") == []


def test_state_and_history_round_trip(store):
    alerts = AlertStore(store)
    alerts.put_states("p", [{"rule_id": "a", "subject": "acme", "status": "firing", "notified": False,
                             "since_ns": T0 + 1, "value": 2.5, "threshold": 1.0, "message": "m", "event_id": "e1"}])
    alerts.put_states("p", [{"rule_id": "a", "subject": "acme", "status": "firing", "notified": True,
                             "since_ns": T0 + 1, "value": 2.5, "threshold": 1.0}])
    state = alerts.states("p")
    assert list(state) == [("a", "acme")] and state[("a", "acme")]["notified"] is True
    assert state[("a", "acme")]["since_ns"] == T0 + 1 and alerts.states("other") == {}
    alerts.add_events("p", [{"event_id": "e1", "rule_id": "a", "rule_name": "n", "kind": "error_rate",
                             "event": "firing", "subject": "acme", "value": 2.5, "threshold": 1.0, "message": "m",
                             "details": {"k": 1}, "delivered": True, "attempts": 2, "status_code": 200,
                             "evaluated_ns": T0}])
    history = alerts.history("p")
    assert len(history) == 1 and history[0]["details"] == {"k": 1} and history[0]["delivered"] is True
    assert history[0]["attempts"] == 2 and alerts.history("other") == []


def test_window_stats_group_and_count_llm_calls(store):
    spans = [llm_span(i, T0 + i * S, tenant="acme" if i < 10 else "globex", status="error" if i % 5 == 0 else "ok",
                      latency_ms=100.0 * (i + 1), cost=0.01) for i in range(20)]
    spans.append(llm_span(99, T0 + 3 * S, kind="embedding", tenant="acme", cost=0.5))
    store.insert_spans(spans)
    alerts = AlertStore(store)
    by_tenant = {r["subject"]: r for r in alerts.window_stats("p", T0, T0 + H, "tenant")}
    assert by_tenant["acme"]["calls"] == 10 and by_tenant["acme"]["errors"] == 2
    assert by_tenant["acme"]["cost_usd"] == pytest.approx(0.6)  # the embedding span's cost counts
    assert by_tenant["globex"]["latency_p95_ms"] == pytest.approx(2000.0, rel=0.06)
    (total,) = alerts.window_stats("p", T0, T0 + H)
    assert total["subject"] == "" and total["calls"] == 20 and total["errors"] == 4
