"""Pure pieces behind the Sessions, Cost, Quality, Traces, Drift, Failure-clusters and Replay pages: no Streamlit,
no collector. Every input is hand-made and small enough to check by eye."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import httpx
import pandas as pd
import pytest

from tracehouse.dashboard.api_client import ApiClient, ApiError
from tracehouse.dashboard.budgets import (
    BUDGET_COLUMNS,
    COST_EXPORT_COLUMNS,
    NO_MODEL,
    Budgets,
    budget_status,
    cost_by_group,
    cost_export,
    to_csv,
)
from tracehouse.dashboard.conversation import sessions_from_traces, summarize_session, transcript
from tracehouse.dashboard.formatting import MISSING, format_change, format_value
from tracehouse.dashboard.frames import (
    TRACE_SORTS,
    MetricsSummary,
    TraceFilter,
    clusters_to_frame,
    compare_summaries,
    deltas_to_frame,
    drift_signals_to_frame,
    filter_traces,
    metrics_by_group,
    metrics_to_frame,
    sort_traces,
    trace_labels,
    traces_to_frame,
)
from tracehouse.dashboard.signals import SIGNALS, classify_call, signal_rates, signals_frame, signals_over_time
from tracehouse.dashboard.timerange import to_rfc3339

T0 = datetime(2026, 11, 23, 14, 0, tzinfo=timezone.utc)


def at(minutes: float) -> str:
    return to_rfc3339(T0 + timedelta(minutes=minutes))


def msg(role: str, text: str | None = None, **part) -> dict:
    parts = [{"type": "text", "content": text}] if text is not None else [part]
    return {"role": role, "parts": parts}


def llm(trace: str, minute: float, inputs: list[dict], outputs: list[dict], **extra) -> dict:
    return {"trace_id": trace, "span_id": f"{trace}-{minute}", "kind": "llm", "status": "ok", "start_time": at(minute),
            "end_time": at(minute + 0.01), "input_messages": inputs, "output_messages": outputs, **extra}


def summary(trace_id: str, minute: float, session: str | None, **extra) -> dict:
    return {"trace_id": trace_id, "start_time": at(minute), "session": session, "status": "ok", "llm_calls": 1,
            "cost_usd": 0.01, "input_tokens": 10, "output_tokens": 5, **extra}


# -- sessions -------------------------------------------------------------------------------------------------

def test_sessions_are_grouped_from_trace_summaries_most_recent_first():
    df = sessions_from_traces([
        summary("t1", 0, "s-old", user="ana", tenant="acme", input_preview="hello"),
        summary("t2", 5, "s-new", user="ben", status="error"),
        summary("t3", 9, "s-old", user="ana", input_preview="and then"),
        summary("t4", 7, None),  # no session: not a conversation
        summary("t5", 8, ""),
    ])
    assert df["session"].tolist() == ["s-old", "s-new"]
    old = df.iloc[0]
    assert (old["traces"], old["user"], old["tenant"], old["first_input"]) == (2, "ana", "acme", "hello")
    assert old["first_seen"] == pd.Timestamp(at(0)) and old["last_seen"] == pd.Timestamp(at(9))
    assert old["cost_usd"] == pytest.approx(0.02)
    assert df.iloc[1]["errors"] == 1


def test_no_sessions_is_an_empty_frame_with_the_columns():
    df = sessions_from_traces([summary("t1", 0, None)])
    assert df.empty and "session" in df.columns


SYSTEM = msg("system", "You are the support assistant.")
Q1, A1 = msg("user", "I was billed twice"), msg("assistant", "Let me check.")
CALL = msg("assistant", type="tool_call", name="get_invoice", arguments={"id": 1})
RESULT = msg("tool", type="tool_call_response", response={"amount": 5})
Q2, A2 = msg("user", "Can I get a PDF?"), msg("assistant", "Yes, under Billing.")


def conversation_spans() -> list[dict]:
    """Two turns of an agent: LLM -> tool -> LLM, each call resending the history (in shuffled order)."""
    return [
        llm("turn2", 10, [SYSTEM, Q1, A1, Q2], [CALL]),
        llm("turn1", 0, [SYSTEM, Q1], [CALL]),
        {"trace_id": "turn1", "span_id": "tool", "kind": "tool", "start_time": at(0.5)},
        llm("turn1", 1, [SYSTEM, Q1, CALL, RESULT], [A1]),
        llm("turn2", 11, [SYSTEM, Q1, A1, Q2, CALL, RESULT], [A2], status="error"),
    ]


def test_transcript_shows_each_message_once_in_order():
    turns = transcript(conversation_spans())
    assert [t.trace_id for t in turns] == ["turn1", "turn2"]
    first, second = turns
    assert [(list(c.new_messages), list(c.output_messages)) for c in first.calls] == [([Q1], [CALL]),
                                                                                     ([RESULT], [A1])]
    # The second turn's history dropped the tool exchange: everything after its last assistant message is new.
    assert [list(c.new_messages) for c in second.calls] == [[Q2], [RESULT]]
    assert second.errors == 1


def test_transcript_shows_the_system_prompt_once_and_again_when_it_changes():
    spans = conversation_spans()
    spans.append(llm("turn3", 20, [msg("system", "New rules."), Q1, A1, Q2, A2, Q1], [A1]))
    turns = transcript(spans)
    systems = [c.system for t in turns for c in t.calls]
    assert systems == ["You are the support assistant.", None, None, None, "New rules."]


def test_a_question_asked_twice_is_shown_twice():
    spans = [llm("a", 0, [Q1], [A1]), llm("b", 1, [Q1, A1, Q1], [A1])]
    assert [list(c.new_messages) for t in transcript(spans) for c in t.calls] == [[Q1], [Q1]]


def test_calls_without_structured_messages_fall_back_to_their_text():
    (turn,) = transcript([{"trace_id": "t", "kind": "llm", "start_time": at(0), "input_text": "hi",
                           "output_text": "hello"}])
    (call,) = turn.calls
    assert call.new_messages[0]["parts"][0]["content"] == "hi"
    assert call.output_messages[0]["role"] == "assistant"


def test_summarize_session_counts_every_span():
    spans = conversation_spans()
    spans[0].update(user="ana", tenant="acme", model="gpt-4o", cost_usd=0.5, input_tokens=100)
    s = summarize_session(spans)
    assert (s.turns, s.llm_calls, s.errors, s.user, s.tenant, s.models) == (2, 4, 1, "ana", "acme", ("gpt-4o",))
    assert s.duration_ms == pytest.approx(11.01 * 60_000)
    assert summarize_session([]).turns == 0


# -- quality signals ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("span,signal", [
    ({"status": "error", "output_text": "I'm sorry, but I can't help with that."}, "error"),
    ({"finish_reason": "content_filter"}, "content filter"),
    ({"output_text": "I'm sorry, but I can't help with that.", "finish_reason": "stop"}, "refusal"),
    ({"output_text": "Sorry, I can’t assist with that request."}, "refusal"),
    ({"output_text": "I cannot comply with this."}, "refusal"),
    ({"output_text": "I can help with that! Here is how.", "finish_reason": "stop"}, "ok"),
    ({"output_text": "- New: bulk export (CSV/PD", "finish_reason": "length"}, "truncated"),
    ({"output_text": "", "output_messages": [{"role": "assistant", "parts": [], "finish_reason": "max_tokens"}]},
     "truncated"),
    ({"output_text": ""}, "empty"),
    ({"output_text": "", "output_messages": [{"role": "assistant", "parts": [{"type": "tool_call"}]}]}, "ok"),
])
def test_classify_call(span, signal):
    assert classify_call({"kind": "llm", "status": "ok", **span}) == signal


def calls() -> pd.DataFrame:
    def call(minute, model, prompt, version, text="fine", reason="stop", status="ok"):
        return {"kind": "llm", "start_time": at(minute), "model": model, "prompt_name": prompt,
                "prompt_version": version, "output_text": text, "finish_reason": reason, "status": status}

    return signals_frame([
        call(0, "gpt", "support", "1"), call(1, "gpt", "support", "1", "I'm sorry, but I can't help with that."),
        call(2, "gpt", "support", "2", status="error"), call(61, "claude", "support", "2", reason="length"),
        call(62, "claude", None, None), {"kind": "tool", "start_time": at(3)},
    ])


def test_signals_frame_keeps_llm_calls_and_names_prompts():
    df = calls()
    assert len(df) == 5
    assert df["prompt"].tolist() == ["support v1", "support v1", "support v2", "support v2", "(no prompt)"]
    assert df["signal"].tolist() == ["ok", "refusal", "error", "truncated", "ok"]


def test_signal_rates_by_group_add_up_to_one():
    rates = signal_rates(calls(), "prompt")
    assert rates["group"].tolist() == ["support v1", "support v2", "(no prompt)"]
    v1 = rates.iloc[0]
    assert (v1["calls"], v1["refusal"], v1["ok"]) == (2, 0.5, 0.5)
    assert rates[list(SIGNALS)].sum(axis=1).tolist() == pytest.approx([1.0, 1.0, 1.0])
    assert signal_rates(calls().iloc[0:0], "model").empty


def test_signals_over_time_per_bucket():
    over = signals_over_time(calls(), "hour")
    first = over[over["time"] == pd.Timestamp(T0)].set_index("signal")
    assert first.loc["refusal", "count"] == 1 and first.loc["refusal", "calls"] == 3
    assert first.loc["error", "rate"] == pytest.approx(1 / 3)
    assert set(over["time"]) == {pd.Timestamp(T0), pd.Timestamp(T0 + timedelta(hours=1))}


# -- cost and budgets -----------------------------------------------------------------------------------------

def day_bucket(day: int, group: str, cost: float | None, spans: int = 10) -> dict:
    return {"time": to_rfc3339(datetime(2026, 11, day, tzinfo=timezone.utc)), "group": group, "spans": spans,
            "errors": 0, "input_tokens": 100, "output_tokens": 20, "cost_usd": cost}


@pytest.fixture
def daily() -> pd.DataFrame:
    return metrics_to_frame([
        day_bucket(21, "acme", 4.0), day_bucket(22, "acme", 12.0), day_bucket(23, "acme", 3.0),
        day_bucket(21, "globex", 1.0), day_bucket(23, "globex", 9.0),
        day_bucket(22, "initech", 0.5), day_bucket(22, "", None),
    ])


def test_budgets_own_beats_default_and_zero_means_none():
    b = Budgets(default=5.0, per_tenant={"acme": 10.0, "globex": None, "free": 0.0})
    assert b.for_tenant("acme") == 10.0
    assert b.for_tenant("globex") == 5.0  # no own budget: the default
    assert b.for_tenant("free") is None and Budgets().for_tenant("acme") is None


def test_budget_status_says_who_is_over_and_puts_them_first(daily):
    today = pd.Timestamp("2026-11-23T15:00:00Z")
    status = budget_status(daily, Budgets(default=8.0, per_tenant={"acme": 10.0}), today)
    assert list(status.columns) == list(BUDGET_COLUMNS)
    rows = status.set_index("tenant")
    assert status["tenant"].tolist()[:2] == ["globex", "acme"]  # over today first, then over on other days
    assert rows.loc["globex", "status"] == "over today" and rows.loc["globex", "today_usd"] == 9.0
    assert rows.loc["acme", "status"] == "over 1 day" and rows.loc["acme", "peak_usd"] == 12.0
    assert rows.loc["acme", "peak_day"] == pd.Timestamp("2026-11-22T00:00:00Z")
    assert rows.loc["initech", "status"] == "within"
    assert rows.loc["(no tenant)", "total_usd"] == 0.0
    unbudgeted = budget_status(daily, Budgets(), today)
    assert set(unbudgeted["status"]) == {"no budget"} and unbudgeted["days_over"].sum() == 0


def test_cost_by_group_shares_and_export(daily):
    totals = cost_by_group(daily)
    assert totals["group"].tolist()[:2] == ["acme", "globex"]
    assert totals["share"].sum() == pytest.approx(1.0)
    assert totals.set_index("group").loc["acme", "cost_usd"] == pytest.approx(19.0)
    out = cost_export(daily, NO_MODEL)
    assert list(out.columns) == list(COST_EXPORT_COLUMNS)
    assert out["day"].iloc[0] == "2026-11-21" and NO_MODEL in set(out["group"])
    csv = to_csv(out).decode()
    assert csv.splitlines()[0] == ",".join(COST_EXPORT_COLUMNS)
    assert "2026-11-22,acme,10,100,20,12.0" in csv


def test_nothing_to_cost():
    empty = metrics_to_frame([])
    assert cost_by_group(empty).empty
    assert budget_status(empty, Budgets(default=1.0), pd.Timestamp.now(tz="UTC")).empty


# -- traces page: client-side filters and sorting -------------------------------------------------------------

@pytest.fixture
def page() -> pd.DataFrame:
    return traces_to_frame([
        summary("a", 3, None, duration_ms=500.0, cost_usd=0.001, span_count=2),
        summary("b", 2, None, duration_ms=4000.0, cost_usd=0.02, span_count=5, input_tokens=900),
        summary("c", 1, None, duration_ms=1500.0, cost_usd=None, span_count=1),
    ])


def test_filter_traces_on_duration_and_cost(page):
    assert filter_traces(page, TraceFilter(min_ms=1000))["trace_id"].tolist() == ["b", "c"]
    assert filter_traces(page, TraceFilter(max_ms=1500, max_cost=0.01))["trace_id"].tolist() == ["a", "c"]
    assert filter_traces(page, TraceFilter(min_cost=0.005))["trace_id"].tolist() == ["b"]
    assert filter_traces(page, TraceFilter())["trace_id"].tolist() == ["a", "b", "c"]
    assert not TraceFilter().active and TraceFilter(min_ms=0).active


def test_tag_and_prompt_filters_use_the_traces_span_labels(page):
    labels = trace_labels([
        {"trace_id": "a", "tags": ["demo", "billing"], "prompt_name": "support-answer", "prompt_version": "2"},
        {"trace_id": "a", "tags": ["demo"], "prompt_name": "classify", "prompt_version": "1"},
        {"trace_id": "b", "tags": ["shipping"]},
    ])
    assert labels.set_index("trace_id").loc["a", "prompts"] == ["classify v1", "support-answer v2"]
    df = page.merge(labels, on="trace_id", how="left")
    df["tags"] = [v if isinstance(v, list) else [] for v in df["tags"]]
    df["prompts"] = [v if isinstance(v, list) else [] for v in df["prompts"]]
    assert filter_traces(df, TraceFilter(tag="BILL"))["trace_id"].tolist() == ["a"]
    assert filter_traces(df, TraceFilter(prompt="support-answer v2"))["trace_id"].tolist() == ["a"]
    assert TraceFilter(tag="x").needs_labels and not TraceFilter(min_ms=1).needs_labels
    assert filter_traces(page, TraceFilter(tag="billing")).empty  # no labels read: nothing can match


@pytest.mark.parametrize("key,order", [("newest", ["a", "b", "c"]), ("oldest", ["c", "b", "a"]),
                                       ("slowest", ["b", "c", "a"]), ("fastest", ["a", "c", "b"]),
                                       ("costliest", ["b", "a", "c"]), ("most tokens", ["b", "a", "c"]),
                                       ("most spans", ["b", "a", "c"]), ("nonsense", ["a", "b", "c"])])
def test_sort_traces(page, key, order):
    assert sort_traces(page, key)["trace_id"].tolist() == order
    assert key in TRACE_SORTS or key == "nonsense"


# -- quality table and drift quick look -----------------------------------------------------------------------

def test_metrics_by_group():
    df = metrics_to_frame([
        {"time": at(0), "group": "2", "spans": 30, "errors": 3, "latency_p95_ms": 100.0, "input_tokens": 300,
         "output_tokens": 0, "cost_usd": 0.3},
        {"time": at(60), "group": "2", "spans": 10, "errors": 0, "latency_p95_ms": 500.0, "cost_usd": 0.1},
        {"time": at(0), "group": "", "spans": 50, "errors": 0, "latency_p95_ms": None},
    ])
    out = metrics_by_group(df).set_index("group")
    assert out.index.tolist() == ["(none)", "2"]
    assert out.loc["2", "error_rate"] == pytest.approx(3 / 40)
    assert out.loc["2", "latency_p95_ms"] == pytest.approx((30 * 100 + 10 * 500) / 40)
    assert out.loc["2", "cost_per_span"] == pytest.approx(0.01) and out.loc["2", "tokens_per_span"] == 7.5
    assert math.isnan(out.loc["(none)", "latency_p95_ms"])


def test_compare_summaries_per_span_with_relative_change():
    base = MetricsSummary(spans=100, errors=5, error_rate=0.05, latency_p95_ms=1000.0, cost_usd=1.0,
                          input_tokens=10_000, output_tokens=0)
    cur = MetricsSummary(spans=200, errors=20, error_rate=0.10, latency_p95_ms=900.0, cost_usd=4.0,
                         input_tokens=20_000, output_tokens=0)
    table = compare_summaries(base, cur).set_index("metric")
    assert table.loc["error rate", "change"] == pytest.approx(1.0)
    assert table.loc["p95 latency", "change"] == pytest.approx(-0.1)
    assert table.loc["tokens per span", "current"] == 100 and table.loc["tokens per span", "change"] == 0
    assert table.loc["cost per span", "change"] == pytest.approx(1.0)
    nothing = MetricsSummary(0, 0, math.nan, math.nan, 0.0, 0, 0)
    assert compare_summaries(nothing, cur)["change"].isna().all()


@pytest.mark.parametrize("value,unit,text", [(1234.0, "count", "1,234"), (7.25, "count", "7.2"),
                                             (0.05, "percent", "5.0%"), (1500.0, "ms", "1.50 s"),
                                             (0.25, "usd", "$0.25"), (math.nan, "count", MISSING)])
def test_format_value(value, unit, text):
    assert format_value(value, unit) == text


def test_format_change():
    assert (format_change(0.123), format_change(-0.5), format_change(math.nan)) == ("+12.3%", "\u221250.0%", MISSING)


# -- analytics and compare answers ----------------------------------------------------------------------------

def test_clusters_frame_ranks_by_lift_and_tolerates_missing_fields():
    df = clusters_to_frame([
        {"cluster_id": 1, "label": "billing disputes", "size": 40, "failure_rate": 0.1, "lift": 1.2,
         "top_failure_reasons": ["refusal"], "examples": [{"trace_id": "ab"}]},
        {"cluster_id": 2, "size": "12", "failure_rate": 0.6, "lift": 4.0, "top_failure_reasons": "timeout"},
    ])
    assert df["cluster_id"].tolist() == [2, 1]
    assert df.loc[0, "label"] == "cluster 2" and df.loc[0, "size"] == 12.0
    assert df.loc[0, "top_failure_reasons"] == ["timeout"] and df.loc[0, "examples"] == []


def test_drift_signals_drifted_first():
    df = drift_signals_to_frame([
        {"name": "latency", "statistic": 0.1, "p_value": 0.5, "effect_size": 0.05, "verdict": "no_drift",
         "n_baseline": 100, "n_current": 90},
        {"name": "refusal rate", "p_value": 0.001, "effect_size": 0.8, "verdict": "drift", "n_baseline": 100},
    ])
    assert df["name"].tolist() == ["refusal rate", "latency"]
    assert df.loc[0, "n_current"] == 0 and df["p_value"].dtype == "float64"


@pytest.mark.parametrize("deltas,columns,rows", [
    ({"latency_ms": 120.0, "cost_usd": -0.01}, ["metric", "delta"], 2),
    ({"latency_ms": {"a": 1.0, "b": 2.0, "delta": 1.0}}, ["metric", "a", "b", "delta"], 1),
    ([{"metric": "tokens", "delta": 3}], ["metric", "delta"], 1),
    ("not a table", [], 0),
])
def test_deltas_to_frame(deltas, columns, rows):
    df = deltas_to_frame(deltas)
    assert list(df.columns) == columns and len(df) == rows


# -- the API client's contract helpers ------------------------------------------------------------------------

def test_route_missing_tells_an_old_collector_from_a_missing_thing():
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/compare":
            return httpx.Response(404, json={"detail": "Not Found"})
        if request.url.path == "/api/v1/replays":
            return httpx.Response(405, json={"detail": "Method Not Allowed"})
        return httpx.Response(404, json={"detail": "trace abc not found"})

    with ApiClient("http://collector.test", "k", transport=httpx.MockTransport(handler)) as client:
        for call, missing in ((lambda: client.get("/api/v1/compare", a="1", b=""), True),
                              (lambda: client.post("/api/v1/replays", {"span_id": "1"}), True),
                              (lambda: client.trace("abc"), False)):
            with pytest.raises(ApiError) as caught:
                call()
            assert caught.value.route_missing is missing


def test_post_sends_json_and_routes_reads_the_openapi_paths():
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.method, request.url.path, request.content))
        if request.url.path == "/openapi.json":
            return httpx.Response(200, json={"paths": {"/api/v1/scores": {"post": {}, "get": {}}}})
        return httpx.Response(200, json={"run_id": "r1", "status": "queued"})

    with ApiClient("http://collector.test", "k", transport=httpx.MockTransport(handler)) as client:
        assert client.routes() == {"/api/v1/scores": ["get", "post"]}
        assert client.post("/api/v1/analytics/clusters/runs", {"start": "x"})["run_id"] == "r1"
    assert seen[1] == ("POST", "/api/v1/analytics/clusters/runs", b'{"start":"x"}')


# -- analytics run lists: the default run and the picker's labels ---------------------------------------------

def test_the_default_run_is_the_newest_finished_and_a_linked_run_is_always_offered():
    from tracehouse.dashboard.runlist import newest_done, run_options

    listed = [{"run_id": "r3", "status": "running"}, {"run_id": "r2", "status": "done"},
              {"run_id": "r1", "status": "failed"}, {"run_id": "r0", "status": "done"}]
    assert newest_done(listed) == "r2"
    assert newest_done([{"run_id": "r9", "status": "queued"}]) == "" and newest_done([]) == ""
    assert run_options(listed, "r0") == ["r3", "r2", "r1", "r0"]
    assert run_options(listed, "old") == ["old", "r3", "r2", "r1", "r0"]  # a shared link to a run past the list
    assert run_options([], "") == []


def test_run_labels_say_when_what_and_how_it_ended():
    from tracehouse.dashboard.runlist import cluster_run_label, describe_window, drift_run_label

    run = {"run_id": "c1", "status": "done", "created_at": "2026-11-23T12:00:05.123456789Z", "n_clusters": 14,
           "n_interactions": 17204, "start": "2026-11-22T12:00:00Z", "end": "2026-11-23T12:00:00Z"}
    assert cluster_run_label(run) == ("2026-11-23 12:00 UTC · 14 clusters of 17,204 interactions · "
                                      "11-22 12:00–11-23 12:00")
    assert " · running 40% · " in cluster_run_label({**run, "status": "running", "progress": 0.4})
    assert " · queued · " in cluster_run_label({**run, "status": "queued", "progress": 0.0})
    assert " · failed · " in cluster_run_label({**run, "status": "failed"})
    assert cluster_run_label({"run_id": "x"}).startswith("? UTC · unknown")  # a sparse answer never raises
    assert describe_window(run) == "2026-11-22 12:00 to 2026-11-23 12:00 UTC"

    window = {"start": "2026-11-23T11:00:00Z", "end": "2026-11-23T12:00:00Z"}
    drift = {"run_id": "d1", "status": "done", "created_at": "2026-11-23T12:00:00Z", "verdict": "drift",
             "n_drift": 3, "n_signals": 14, "current": window, "baseline": window, "trigger": "schedule"}
    assert drift_run_label(drift) == ("2026-11-23 12:00 UTC (scheduled) · drift in 3 of 14 signals · "
                                      "11-23 11:00–11-23 12:00 vs 11-23 11:00–11-23 12:00")
    assert " · no drift · " in drift_run_label({**drift, "verdict": "no_drift", "trigger": "api"})
    assert " · insufficient data · " in drift_run_label({**drift, "verdict": "insufficient_data"})
