"""Analytics storage on a real embedded store: what clustering loads, and a run's results round trip."""

from __future__ import annotations

import json

import pytest

from tracehouse.analytics.interactions import interactions_from_rows
from tracehouse.analytics.signals import detect
from tracehouse.storage import InvalidQueryError, SpanRecord
from tracehouse.storage.analytics import AnalyticsStore, decode_member_cursor, encode_member_cursor
from tracehouse.storage.migrate import load_migrations

S = 1_000_000_000
T0 = 1_767_225_600 * S  # 2026-01-01T00:00:00Z


def text(role: str, content: str) -> dict:
    return {"role": role, "parts": [{"type": "text", "content": content}]}


def span(n: int, **kw) -> SpanRecord:
    base = dict(project="p", trace_id=f"{n:032x}", span_id=f"{n:016x}", parent_span_id="", name="chat",
                start_time_ns=T0 + n * S, end_time_ns=T0 + n * S + 500_000_000, kind="llm", tenant="acme",
                model="gpt-4o-mini", session=f"s{n}", cost_usd=0.01,
                input_messages=(text("system", "You are a helpful support assistant."),
                                text("user", "an older question"), text("assistant", "an older answer"),
                                text("user", f"Where is my order {n}?")),
                output_messages=({"role": "assistant", "parts": [{"type": "text", "content": "It ships today."}]},),
                input_text="flattened input", output_text="It ships today.", finish_reason="stop")
    base.update(kw)
    return SpanRecord(**base)


@pytest.fixture
def analytics(store) -> AnalyticsStore:
    return AnalyticsStore(store)


def test_migration_is_versioned_and_idempotent(store):
    assert any(m.version == 50 and m.name == "analytics" for m in load_migrations())
    assert store.migrate() == []  # already applied by Store.open; statements are IF NOT EXISTS
    for migration in load_migrations():
        if migration.version == 50:
            for statement in migration.statements:
                store._command(statement)


def test_load_interactions_extracts_request_system_and_answer(store, analytics):
    store.insert_spans([
        span(1),
        span(2, output_text='{"vendor": "Contoso",}', finish_reason="stop",
             params={"response_format": {"type": "json_object"}}),
        span(3, status="error", status_message="Request timed out.", attributes={"error.type": "APITimeoutError"},
             output_text="", output_messages=()),
        span(4, output_text='get_order_status({"order_id": "1"})', finish_reason="tool_call",
             output_messages=({"role": "assistant", "parts": [{"type": "tool_call", "name": "get_order_status",
                                                               "arguments": {"order_id": "1"}}]},)),
        span(5, input_messages=(), input_text="a question without structured messages"),
        span(6, kind="tool", name="execute_tool get_order_status"),  # not an interaction
        span(7, project="other"),  # another project
        span(8, start_time_ns=T0 + 3600 * S, end_time_ns=T0 + 3601 * S),  # outside the window
        span(9, tenant="globex"),
    ])
    store.insert_spans([span(1)])  # a retried duplicate is read once
    rows = analytics.load_interactions("p", T0, T0 + 60 * S)
    assert [r["span_id"] for r in rows] == [f"{n:016x}" for n in (1, 2, 3, 4, 5, 9)]
    first = rows[0]
    assert first["request"] == "Where is my order 1?"
    assert first["system"] == "You are a helpful support assistant."
    assert first["response"] == "It ships today." and first["response_json_valid"] == 0
    assert rows[1]["response_format"] == '{"type":"json_object"}'
    assert rows[2]["error_type"] == "APITimeoutError" and rows[2]["status"] == "error"
    assert rows[3]["is_tool_call"] == 1
    assert rows[4]["request"] == "a question without structured messages"
    interactions = interactions_from_rows(rows)
    assert [s.name for s in detect(interactions[1])] == ["invalid_json"]
    assert [s.name for s in detect(interactions[2])] == ["timeout"]
    assert detect(interactions[3]) == ()
    assert [r["span_id"] for r in analytics.load_interactions("p", T0, T0 + 60 * S, {"tenant": ["globex"]})] == [
        f"{9:016x}"]
    assert len(analytics.load_interactions("p", T0, T0 + 60 * S, limit=2)) == 2  # the most recent two
    assert analytics.load_interactions("nobody", T0, T0 + 60 * S) == []


def test_unknown_or_malformed_filters_are_refused(analytics):
    with pytest.raises(InvalidQueryError, match="unknown filter"):
        analytics.load_interactions("p", T0, T0 + S, {"kind; DROP TABLE spans": "x"})
    with pytest.raises(InvalidQueryError):
        analytics.load_interactions("p", T0, T0 + S, {"tenant": {"$ne": 1}})


def test_tool_errors_and_scores_are_loaded_for_the_window(store, analytics):
    store.insert_spans([span(1), span(2, kind="tool", status="error", name="execute_tool carrier_api.track",
                                         status_message="503 upstream unavailable", trace_id=f"{1:032x}")])
    store.insert_score("p", f"{1:032x}", "", "thumbs", 0.0)
    store.insert_score("p", "not-in-window", "", "thumbs", 0.0)
    errors = analytics.load_tool_errors("p", T0, T0 + 60 * S)
    assert [(e["name"], e["message"]) for e in errors] == [("execute_tool carrier_api.track",
                                                            "503 upstream unavailable")]
    assert [(s["trace_id"], s["value"]) for s in analytics.load_scores("p", T0, T0 + 60 * S)] == [(f"{1:032x}", 0.0)]


def run_state(**kw) -> dict:
    return {"project": "p", "run_id": "r1", "status": "queued", "progress": 0.0, "start_ns": T0,
            "end_ns": T0 + 3600 * S, "filters": {"tenant": "acme"}, "params": {"seed": 0},
            "created_ms": T0 // 1_000_000, **kw}


def test_run_state_keeps_its_latest_version(analytics):
    analytics.put_run(run_state())
    analytics.put_run(run_state(status="running", progress=0.4, stage="embedding"))
    analytics.put_run(run_state(status="done", progress=1.0, n_interactions=10, n_failed=2, failure_rate=0.2))
    analytics.put_run(run_state(run_id="r2", status="running"))
    run = analytics.get_run("p", "r1")
    assert run["status"] == "done" and run["n_interactions"] == 10 and run["filters"] == {"tenant": "acme"}
    assert run["start_ns"] == T0 and run["end_ns"] == T0 + 3600 * S
    assert analytics.get_run("other", "r1") is None
    assert {r["run_id"] for r in analytics.list_runs("p")} == {"r1", "r2"}
    assert [r["run_id"] for r in analytics.unfinished_runs() if r["project"] == "p"] == ["r2"]
    assert analytics.latest_done_run("p")["run_id"] == "r1"


def test_clusters_members_and_model_round_trip(analytics):
    cluster = {"cluster_id": "abc123", "rank": 1, "label": "refund, damaged", "terms": ["refund", "damaged"],
               "is_outlier": False, "size": 3, "failures": 1, "failure_rate": 1 / 3, "lift": 2.0,
               "lift_ci": (0.5, 4.0), "score": 1.5,
               "top_failure_reasons": [{"signal": "refusal", "count": 1, "share": 1 / 3, "example": "refused"}],
               "examples": [{"trace_id": "t1", "span_id": "s1", "input_preview": "¿Reembolso? 退款",
                             "output_preview": "no", "failed": True, "reasons": ["refusal: x"], "similarity": 0.9}],
               "cost_usd": 0.03, "latency_p50_ms": 120.0, "latency_p95_ms": 300.0, "x": 1.0, "y": -1.0,
               "profile": {"refund": 0.7}, "previous_similarity": 0.0}
    analytics.save_clusters("p", "r1", [cluster, {**cluster, "cluster_id": "outliers", "rank": 2,
                                                  "is_outlier": True}])
    stored = analytics.get_clusters("p", "r1")
    assert [c["cluster_id"] for c in stored] == ["abc123", "outliers"]
    assert stored[0]["examples"][0]["input_preview"] == "¿Reembolso? 退款"
    assert stored[0]["lift_ci"] == [0.5, 4.0] and stored[0]["profile"] == {"refund": 0.7}
    assert analytics.get_clusters("other", "r1") == []

    members = [("abc123" if n % 2 else "outliers", f"t{n:03d}", f"s{n:03d}", T0 + n, n / 10, -n / 10, 0.5,
                n % 3 == 0, ["error"] if n % 3 == 0 else [], ["error: boom"] if n % 3 == 0 else [])
               for n in range(25)]
    assert analytics.save_members("p", "r1", members) == 25
    seen, cursor = [], None
    while True:
        items, cursor = analytics.members("p", "r1", limit=10, cursor=cursor)
        seen += items
        if cursor is None:
            break
    assert len(seen) == 25 and len({(i["trace_id"], i["span_id"]) for i in seen}) == 25
    assert [i["cluster_id"] for i in seen] == sorted(i["cluster_id"] for i in seen)
    only, _ = analytics.members("p", "r1", cluster_id="abc123", limit=100)
    assert len(only) == 12 and all(i["cluster_id"] == "abc123" for i in only)
    assert analytics.members("other", "r1")[0] == []

    analytics.save_assignments("p", "r1", [("abc123", "new", "new", T0, 0.0, 0.0, 0.4, False, [], [])] * 2)
    with_new, _ = analytics.members("p", "r1", cluster_id="abc123", limit=100, include_assigned=True)
    assert len(with_new) == 13 and [i["assigned"] for i in with_new].count(True) == 1

    analytics.save_model("p", "r1", "tfidf-svd", "AAAA")
    analytics.save_model("p", "r2", "tfidf-svd", "BBBB")
    assert analytics.latest_model("p") == ("r2", "BBBB")
    assert analytics.latest_model("other") is None


def test_project_ids_for_the_scheduler(store, analytics):
    store.create_project("one", project_id="p-one")
    store.create_project("two", project_id="p-two")
    assert analytics.project_ids() == ["p-one", "p-two"]


def test_member_cursor_round_trip_and_garbage():
    assert decode_member_cursor(encode_member_cursor("c", "t", "s")) == ("c", "t", "s")
    with pytest.raises(InvalidQueryError):
        decode_member_cursor("not-a-cursor")
