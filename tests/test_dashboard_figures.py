"""Pure dashboard pieces, no Streamlit and no collector: API JSON -> frames, frames -> figures, formatting and
time windows. Every frame here is hand-made, small enough to check by eye."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import pandas as pd
import plotly.io as pio
import pytest

from tracehouse.dashboard.budgets import Budgets, budget_status
from tracehouse.dashboard.figures import (
    DARK_TEMPLATE,
    ERROR_COLOR,
    KIND_COLORS,
    LIGHT_TEMPLATE,
    NEUTRAL_TEMPLATE,
    NO_DATA,
    SIGNAL_COLORS,
    VERDICT_COLORS,
    build_budget_figure,
    build_cluster_map_figure,
    build_cost_figure,
    build_drift_figure,
    build_error_rate_figure,
    build_latency_figure,
    build_score_figure,
    build_signal_heatmap_figure,
    build_signal_trend_figure,
    build_tokens_figure,
    build_volume_figure,
    build_waterfall_figure,
    template_for,
)
from tracehouse.dashboard.formatting import (
    MISSING,
    format_count,
    format_duration_ms,
    format_percent,
    format_usd,
)
from tracehouse.dashboard.frames import (
    METRIC_COLUMNS,
    clusters_to_frame,
    drift_signals_to_frame,
    SPAN_COLUMNS,
    TRACE_COLUMNS,
    metrics_to_frame,
    span_tree,
    span_tree_frame,
    spans_to_frame,
    summarize_metrics,
    summarize_trace,
    traces_to_frame,
)
from tracehouse.dashboard.signals import signal_rates, signals_frame, signals_over_time
from tracehouse.dashboard.timerange import RANGES, time_window, to_rfc3339

METRIC_BUILDERS = [build_volume_figure, build_error_rate_figure, build_latency_figure, build_cost_figure,
                   build_tokens_figure]


def bucket(time: str, group: str = "", *, spans: int = 10, errors: int = 0, p50: float | None = 100.0,
           p95: float | None = 300.0, p99: float | None = 500.0, tokens: tuple[int, int] = (100, 20),
           cost: float | None = 0.01) -> dict:
    return {"time": time, "group": group, "spans": spans, "errors": errors,
            "error_rate": errors / spans if spans else None, "latency_p50_ms": p50, "latency_p95_ms": p95,
            "latency_p99_ms": p99, "input_tokens": tokens[0], "output_tokens": tokens[1], "cost_usd": cost}


def span(span_id: str, parent: str | None, start_ms: float, end_ms: float, *, kind: str = "llm",
         status: str = "ok", name: str | None = None, **extra) -> dict:
    t0 = datetime(2026, 11, 23, 14, 0, tzinfo=timezone.utc)
    return {"trace_id": "ab" * 16, "span_id": span_id, "parent_span_id": parent, "name": name or span_id,
            "kind": kind, "status": status, "start_time": to_rfc3339(t0 + timedelta(milliseconds=start_ms)),
            "end_time": to_rfc3339(t0 + timedelta(milliseconds=end_ms)), "duration_ms": end_ms - start_ms, **extra}


@pytest.fixture
def hourly() -> pd.DataFrame:
    """Three ungrouped hourly buckets, the middle one with errors and a slow tail."""
    return metrics_to_frame([
        bucket("2026-11-23T12:00:00Z", spans=10, errors=0),
        bucket("2026-11-23T13:00:00Z", spans=30, errors=3, p95=900.0, p99=2000.0, cost=0.05),
        bucket("2026-11-23T14:00:00Z", spans=20, errors=1, tokens=(400, 80)),
    ])


@pytest.fixture
def by_model() -> pd.DataFrame:
    return metrics_to_frame([
        bucket("2026-11-23T12:00:00Z", "gpt-4o", cost=0.02),
        bucket("2026-11-23T12:00:00Z", "claude-sonnet", cost=0.03),
        bucket("2026-11-23T12:00:00Z", "", cost=0.0),  # tool spans: no model, no cost
        bucket("2026-11-23T13:00:00Z", "gpt-4o", cost=0.04),
    ])


@pytest.fixture
def trace_spans() -> list[dict]:
    """agent -> (retrieval, llm -> tool(error)), plus an orphan whose parent never arrived."""
    return [
        span("tool", "llm1", 400, 700, kind="tool", status="error"),
        span("root", None, 0, 1000, kind="agent", name="support-agent"),
        span("llm1", "root", 100, 900, input_tokens=120, output_tokens=30, cost_usd=0.001),
        span("ret", "root", 10, 90, kind="retrieval"),
        span("orphan", "missing", 950, 950, kind="mystery"),
    ]


# -- frames ---------------------------------------------------------------------------------------------------

def test_metrics_frame_types_order_and_missing_values():
    df = metrics_to_frame([
        bucket("2026-11-23T13:00:00.123456789Z", "b", p95=None, cost=None),
        bucket("2026-11-23T12:00:00Z", "a"),
        {"time": "2026-11-23T12:00:00Z", "group": None, "spans": None},
    ])
    assert list(df.columns) == list(METRIC_COLUMNS)
    assert str(df["time"].dt.tz) == "UTC"
    assert list(df["group"]) == ["", "a", "b"]  # sorted by time, then group; a null group is ""
    assert df["time"].iloc[2].nanosecond == 789  # nanoseconds survive
    assert df["spans"].dtype == "int64" and df["spans"].iloc[0] == 0
    assert math.isnan(df["latency_p95_ms"].iloc[2]) and math.isnan(df["cost_usd"].iloc[2])


@pytest.mark.parametrize("convert,columns", [(metrics_to_frame, METRIC_COLUMNS), (spans_to_frame, SPAN_COLUMNS),
                                             (traces_to_frame, TRACE_COLUMNS)])
def test_empty_answers_give_frames_with_every_column(convert, columns):
    df = convert([])
    assert df.empty and list(df.columns) == list(columns)


def test_spans_frame_keeps_scalars_and_leaves_nested_json_out():
    df = spans_to_frame([span("a", None, 0, 5, input_messages=[{"role": "user"}], cost_usd=None)])
    assert "input_messages" not in df.columns
    assert df.loc[0, "duration_ms"] == 5.0 and math.isnan(df.loc[0, "cost_usd"])
    assert df.loc[0, "input_tokens"] == 0  # missing count


def test_traces_frame_models_are_lists():
    df = traces_to_frame([{"trace_id": "1", "models": ["gpt-4o"], "start_time": "2026-11-23T12:00:00Z"},
                          {"trace_id": "2", "models": None}])
    assert df["models"].tolist() == [["gpt-4o"], []]


def test_span_tree_is_depth_first_with_siblings_by_start_and_orphans_as_roots(trace_spans):
    order = [(node.span["span_id"], node.depth) for node in span_tree(trace_spans)]
    assert order == [("root", 0), ("ret", 1), ("llm1", 1), ("tool", 2), ("orphan", 0)]


def test_span_tree_survives_a_parent_cycle():
    spans = [span("a", "b", 0, 1), span("b", "a", 1, 2), span("c", None, 2, 3)]
    assert sorted(node.span["span_id"] for node in span_tree(spans)) == ["a", "b", "c"]


def test_span_tree_frame_offsets_and_duration_fallback(trace_spans):
    trace_spans[0]["duration_ms"] = None  # the tool span: measured from its times instead
    df = span_tree_frame(trace_spans)
    assert df["span_id"].tolist() == ["root", "ret", "llm1", "tool", "orphan"]
    assert df["depth"].tolist() == [0, 1, 1, 2, 0]
    assert df["offset_ms"].tolist() == pytest.approx([0, 10, 100, 400, 950])
    assert df["duration_ms"].tolist() == pytest.approx([1000, 80, 800, 300, 0])


def test_summarize_metrics_sums_exactly_and_weights_p95_by_spans(hourly):
    s = summarize_metrics(hourly)
    assert (s.spans, s.errors, s.input_tokens, s.output_tokens) == (60, 4, 600, 120)
    assert s.tokens == 720
    assert s.error_rate == pytest.approx(4 / 60)
    assert s.latency_p95_ms == pytest.approx((10 * 300 + 30 * 900 + 20 * 300) / 60)
    assert s.cost_usd == pytest.approx(0.07)


def test_summarize_metrics_of_nothing():
    s = summarize_metrics(metrics_to_frame([]))
    assert (s.spans, s.errors, s.cost_usd, s.tokens) == (0, 0, 0.0, 0)
    assert math.isnan(s.error_rate) and math.isnan(s.latency_p95_ms)


def test_summarize_trace(trace_spans):
    s = summarize_trace(trace_spans)
    assert (s.name, s.spans, s.llm_calls, s.errors, s.input_tokens, s.output_tokens) == (
        "support-agent", 5, 1, 1, 120, 30)
    assert s.duration_ms == pytest.approx(1000)
    assert s.cost_usd == pytest.approx(0.001)
    assert summarize_trace([]).spans == 0


# -- metrics figures ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("build", METRIC_BUILDERS)
def test_empty_frame_says_so_instead_of_drawing_empty_axes(build):
    fig = build(metrics_to_frame([]))
    assert len(fig.data) == 0
    assert [a.text for a in fig.layout.annotations] == [NO_DATA]


@pytest.mark.parametrize("build", METRIC_BUILDERS)
def test_template_and_window_are_applied(build, hourly):
    start, end = datetime(2026, 11, 23, 11, tzinfo=timezone.utc), datetime(2026, 11, 23, 15, tzinfo=timezone.utc)
    fig = build(hourly, template=DARK_TEMPLATE, x_range=(start, end))
    assert fig.layout.template.layout.paper_bgcolor == pio.templates[DARK_TEMPLATE].layout.paper_bgcolor
    assert [pd.Timestamp(x) for x in fig.layout.xaxis.range] == [pd.Timestamp(start), pd.Timestamp(end)]
    assert ERROR_COLOR not in fig.layout.colorway  # red means "error" only


def test_volume_one_series_per_group(hourly, by_model):
    fig = build_volume_figure(hourly)
    assert [list(t.y) for t in fig.data] == [[10, 30, 20]]
    assert fig.layout.showlegend is False
    grouped = build_volume_figure(by_model)
    assert sorted(t.name for t in grouped.data) == ["(none)", "claude-sonnet", "gpt-4o"]
    assert grouped.layout.barmode == "stack"


def test_error_rate_is_a_percentage_with_gaps_for_empty_buckets():
    df = metrics_to_frame([bucket("2026-11-23T12:00:00Z", spans=20, errors=5),
                           bucket("2026-11-23T13:00:00Z", spans=0, errors=0)])
    (line,) = build_error_rate_figure(df).data
    assert line.y[0] == pytest.approx(25.0)
    assert math.isnan(line.y[1])  # no spans: a gap, not a 0% that never happened
    assert line.line.color == ERROR_COLOR


def test_latency_percentiles_for_one_group_p95_per_group_for_many(hourly, by_model):
    fig = build_latency_figure(hourly)
    assert [t.name for t in fig.data] == ["p50", "p95", "p99"]
    assert list(fig.data[1].y) == [300.0, 900.0, 300.0]
    assert sorted(t.name for t in build_latency_figure(by_model).data) == [
        "(none) p95", "claude-sonnet p95", "gpt-4o p95"]


def test_cost_stacks_models_and_leaves_out_groups_that_cost_nothing(by_model):
    fig = build_cost_figure(by_model)
    costs = {t.name: list(t.y) for t in fig.data}
    assert costs == {"claude-sonnet": [0.03], "gpt-4o": [0.02, 0.04]}


def test_cost_stacks_the_most_expensive_groups_and_the_rest_as_others():
    items = [bucket(f"2026-11-2{d}T00:00:00Z", f"tenant-{t:02d}", cost=float(t)) for t in range(1, 31) for d in (2, 3)]
    fig = build_cost_figure(metrics_to_frame(items), max_series=10)
    names = [t.name for t in fig.data]
    assert len(names) == 11 and names[-1] == "20 others"
    assert set(names[:-1]) == {f"tenant-{t:02d}" for t in range(21, 31)}
    assert list(fig.data[-1].y) == [sum(range(1, 21))] * 2  # per day, the 20 cheapest together
    few = build_cost_figure(metrics_to_frame(items[:22]), max_series=10)  # 11 groups: no "1 others"
    assert len(few.data) == 11 and not any(t.name.endswith("others") for t in few.data)


def test_cost_without_priced_spans_says_so():
    df = metrics_to_frame([bucket("2026-11-23T12:00:00Z", cost=0.0)])
    fig = build_cost_figure(df)
    assert len(fig.data) == 0 and "No priced spans" in fig.layout.annotations[0].text


def test_tokens_are_summed_over_groups_per_bucket(by_model):
    inp, out = build_tokens_figure(by_model).data
    assert (inp.name, out.name) == ("input", "output")
    assert list(inp.y) == [300, 100] and list(out.y) == [60, 20]


def test_template_for_theme():
    assert template_for("dark") == DARK_TEMPLATE
    assert template_for("light") == LIGHT_TEMPLATE
    assert template_for(None) == NEUTRAL_TEMPLATE  # theme not known yet on a session's first run


def test_the_neutral_template_reads_on_light_and_dark(hourly):
    fig = build_volume_figure(hourly, template=NEUTRAL_TEMPLATE)
    assert fig.layout.paper_bgcolor == fig.layout.plot_bgcolor == "rgba(0, 0, 0, 0)"  # the app's own background
    assert fig.layout.font.color == "#808495" and fig.layout.xaxis.gridcolor.startswith("rgba(128, 128, 128")


# -- waterfall ------------------------------------------------------------------------------------------------

def bars(fig) -> dict[str, list[tuple[int, float, float]]]:
    """series name -> [(row, start offset, bar length)]"""
    return {t.name: list(zip(t.y, t.base, t.x)) for t in fig.data}


def test_waterfall_bars_run_from_start_offset_to_end_in_tree_order(trace_spans):
    fig = build_waterfall_figure(trace_spans)
    b = bars(fig)
    assert b["agent"] == [(0, 0.0, 1000.0)]
    assert b["retrieval"] == [(1, 10.0, 80.0)]
    assert b["llm"] == [(2, 100.0, 800.0)]
    assert b["error"] == [(3, 400.0, 300.0)]  # the failed tool span is red, whatever its kind
    (row, base, length), = b["other"]  # an unknown kind is drawn as "other"
    assert (row, base) == (4, 950.0) and 0 < length < 10  # instant span: a visible sliver
    colors = {t.name: t.marker.color for t in fig.data}
    assert colors["error"] == ERROR_COLOR and colors["llm"] == KIND_COLORS["llm"]
    assert fig.layout.yaxis.autorange == "reversed"  # first span on top


def test_waterfall_labels_are_indented_by_depth(trace_spans):
    fig = build_waterfall_figure(trace_spans)
    labels = {a.text: (a.y, a.xshift) for a in fig.layout.annotations}
    assert labels["support-agent"][0] == 0 and labels["tool"][0] == 3
    assert labels["support-agent"][1] < labels["llm1"][1] < labels["tool"][1]
    assert labels["ret"][1] == labels["llm1"][1]
    assert labels["orphan"][1] == labels["support-agent"][1]


def test_waterfall_clips_long_names_and_hover_keeps_them():
    long_name = "x" * 100
    fig = build_waterfall_figure([span("a", None, 0, 10, name=long_name)])
    (label,) = [a.text for a in fig.layout.annotations]
    assert len(label) <= 40 and label.endswith("…")
    assert fig.data[0].customdata[0][0] == long_name


def test_waterfall_of_no_spans():
    fig = build_waterfall_figure([], template=DARK_TEMPLATE)
    assert len(fig.data) == 0 and fig.layout.annotations[0].text == "No spans in this trace"


# -- formatting and time windows ------------------------------------------------------------------------------

@pytest.mark.parametrize("value,text", [(0.0, "$0.00"), (1234.5, "$1,234.50"), (0.5, "$0.50"),
                                        (0.0412, "$0.0412"), (0.000081, "$0.000081"), (None, MISSING),
                                        (math.nan, MISSING)])
def test_format_usd(value, text):
    assert format_usd(value) == text


def test_format_usd_compact_for_tiles():
    assert format_usd(0.000081, compact=True) == "<$0.01"
    assert format_usd(0.25, compact=True) == "$0.25"


@pytest.mark.parametrize("value,text", [(0.5, "0.50 ms"), (850, "850 ms"), (1500, "1.50 s"),
                                        (90_000, "1.5 min"), (None, MISSING)])
def test_format_duration(value, text):
    assert format_duration_ms(value) == text


def test_format_count_and_percent():
    assert format_count(12345) == "12,345" and format_count(None) == MISSING
    assert format_percent(0.042) == "4.2%" and format_percent(math.nan) == MISSING


def test_time_window_rounds_now_up_so_reruns_share_a_cache_entry():
    a = time_window("1h", datetime(2026, 11, 23, 14, 0, 1, tzinfo=timezone.utc))
    b = time_window("1h", datetime(2026, 11, 23, 14, 0, 9, 999, tzinfo=timezone.utc))
    assert a == b
    assert a.end == datetime(2026, 11, 23, 14, 0, 10, tzinfo=timezone.utc)
    assert a.end - a.start == timedelta(hours=1)
    assert (a.interval, a.start_param) == ("minute", "2026-11-23T13:00:10Z")


@pytest.mark.parametrize("key", list(RANGES))
def test_every_range_has_a_window(key):
    window = time_window(key, datetime(2026, 11, 23, tzinfo=timezone.utc))
    assert window.end - window.start == RANGES[key].span
    assert window.interval in {"minute", "hour", "day"}


def test_unknown_range_and_naive_times():
    with pytest.raises(ValueError, match="unknown time range"):
        time_window("2w", datetime.now(timezone.utc))
    assert to_rfc3339(datetime(2026, 11, 23, 14, 2)) == "2026-11-23T14:02:00Z"  # naive means UTC


# -- cost, quality and analytics figures ----------------------------------------------------------------------

def test_grouped_charts_put_their_legend_beside_the_plot(by_model, hourly):
    assert build_cost_figure(by_model, title="Cost by model").layout.title.text == "Cost by model"
    for fig in (build_cost_figure(by_model), build_error_rate_figure(by_model), build_latency_figure(by_model)):
        assert fig.layout.legend.x > 1 and fig.layout.legend.orientation == "v"  # not into the title
    assert build_error_rate_figure(hourly).layout.legend.orientation == "h"  # a single series keeps the default


def test_budget_figure_reds_the_tenants_over_budget():
    daily = metrics_to_frame([bucket("2026-11-22T00:00:00Z", "acme", cost=12.0),
                              bucket("2026-11-22T00:00:00Z", "globex", cost=2.0)])
    status = budget_status(daily, Budgets(default=5.0), pd.Timestamp("2026-11-23T12:00:00Z"))
    fig = build_budget_figure(status, template=DARK_TEMPLATE)
    bars, budget = fig.data
    assert list(bars.y) == ["globex", "acme"]  # furthest over at the top of a horizontal chart
    assert list(bars.marker.color) == ["#636EFA", ERROR_COLOR]
    assert list(budget.x) == [5.0, 5.0]
    unbudgeted = build_budget_figure(budget_status(daily, Budgets(), pd.Timestamp("2026-11-23T12:00:00Z")))
    assert len(unbudgeted.data) == 1 and unbudgeted.layout.showlegend is False
    assert build_budget_figure(status.iloc[0:0]).layout.annotations[0].text == NO_DATA


def test_budget_figure_draws_the_first_rows_of_many_tenants():
    daily = metrics_to_frame([bucket("2026-11-22T00:00:00Z", f"t{i}", cost=float(i)) for i in range(1, 101)])
    status = budget_status(daily, Budgets(), pd.Timestamp("2026-11-23T12:00:00Z"))
    fig = build_budget_figure(status, max_rows=20)
    assert len(fig.data[0].y) == 20 and fig.data[0].y[-1] == "t100"  # the most expensive at the top
    assert "the first 20 of 100 tenants" in fig.layout.title.text


def llm_call(minute: int, text: str = "fine", reason: str = "stop", status: str = "ok", model: str = "gpt") -> dict:
    t0 = datetime(2026, 11, 23, 14, 0, tzinfo=timezone.utc)
    return {"kind": "llm", "start_time": to_rfc3339(t0 + timedelta(minutes=minute)), "model": model,
            "output_text": text, "finish_reason": reason, "status": status}


def test_signal_trend_stacks_failure_shares_and_leaves_ok_out():
    df = signals_frame([llm_call(0), llm_call(1, "I'm sorry, but I can't help with that."),
                        llm_call(2, status="error"), llm_call(3)])
    fig = build_signal_trend_figure(signals_over_time(df, "hour"))
    shares = {t.name: list(t.y) for t in fig.data}
    assert shares == {"error": [25.0], "refusal": [25.0]}
    assert {t.name: t.marker.color for t in fig.data}["error"] == SIGNAL_COLORS["error"] == ERROR_COLOR
    healthy = build_signal_trend_figure(signals_over_time(signals_frame([llm_call(0)]), "hour"))
    assert not healthy.data and "No failure signals" in healthy.layout.annotations[0].text


def test_signal_heatmap_cells_are_percentages_per_group():
    df = signals_frame([llm_call(0, model="a"), llm_call(1, reason="length", model="a"), llm_call(2, model="b")])
    (heat,) = build_signal_heatmap_figure(signal_rates(df, "model")).data
    assert list(heat.x) == ["error", "content filter", "refusal", "truncated", "empty"]
    assert list(heat.y) == ["a (2)", "b (1)"]
    assert heat.z[0][3] == pytest.approx(50.0) and heat.z[1][3] == 0


def test_score_figure_means_per_bucket_and_name():
    scores = pd.DataFrame({"time": pd.to_datetime(["2026-11-23T14:05:00Z", "2026-11-23T14:50:00Z",
                                                   "2026-11-23T15:10:00Z"], utc=True),
                           "name": ["helpful", "helpful", "helpful"], "value": [1.0, 0.0, 1.0]})
    (line,) = build_score_figure(scores, interval="hour").data
    assert list(line.y) == [0.5, 1.0]
    assert build_score_figure(scores.iloc[0:0]).layout.annotations[0].text == "No scores in this time range"


def test_cluster_map_colours_members_by_lift_and_falls_back_to_bubbles():
    clusters = clusters_to_frame([{"cluster_id": 1, "label": "refunds", "size": 3, "failure_rate": 0.5, "lift": 3.0},
                                  {"cluster_id": 2, "label": "tracking", "size": 1, "failure_rate": 0.1, "lift": 0.6}])
    members = pd.DataFrame({"cluster_id": [1, 1, 1, 2], "x": [0.1, 0.2, 0.3, 0.9], "y": [0, 1, 0, 1]})
    (points,) = build_cluster_map_figure(clusters, members, template=DARK_TEMPLATE).data
    assert list(points.marker.color) == [3.0, 3.0, 3.0, 0.6] and points.marker.cmax == 3.0
    (bubbles,) = build_cluster_map_figure(clusters).data
    assert list(bubbles.text) == ["refunds", "tracking"] and list(bubbles.y) == [50.0, 10.0]
    assert build_cluster_map_figure(clusters.iloc[0:0]).layout.annotations[0].text == "No clusters in this run"


def test_cluster_map_places_each_cluster_where_the_run_put_it():
    clusters = clusters_to_frame([
        {"cluster_id": "a", "label": "refunds", "size": 400, "failure_rate": 0.5, "lift": 3.0, "x": -4.0, "y": 1.0},
        {"cluster_id": "b", "label": "tracking", "size": 100, "failure_rate": 0.1, "lift": 0.6, "x": 5.0, "y": 0.5},
    ])
    (bubbles,) = build_cluster_map_figure(clusters).data
    assert list(bubbles.x) == [-4.0, 5.0] and list(bubbles.y) == [1.0, 0.5]
    assert list(bubbles.text) == ["refunds", "tracking"] and list(bubbles.marker.color) == [3.0, 0.6]
    assert bubbles.marker.size[0] > bubbles.marker.size[1]  # sized by interactions


def test_drift_figure_colours_by_the_verdicts_the_api_returns():
    signals = drift_signals_to_frame([
        {"name": "latency", "effect_size": 0.1, "p_value": 0.4, "verdict": "no_drift"},
        {"name": "refusal rate", "effect_size": 0.9, "p_value": 0.001, "verdict": "drift"},
        {"name": "scores", "effect_size": None, "p_value": None, "verdict": "insufficient_data"},
        {"name": "tokens", "effect_size": 0.2, "p_value": 0.3, "verdict": "something new"},
    ])
    (bars,) = build_drift_figure(signals).data
    colors = dict(zip(bars.y, bars.marker.color))
    assert colors == {"refusal rate": ERROR_COLOR, "latency": "#00CC96", "scores": "#8C8C8C", "tokens": "#8C8C8C"}


def test_every_verdict_the_drift_job_can_return_has_its_colour():
    # The dashboard may not import analytics (it talks HTTP only); the test may, to pin the two together.
    from tracehouse.analytics import drift

    verdicts = {drift.DRIFT, drift.NO_DRIFT, drift.INSUFFICIENT_DATA}
    assert verdicts == set(VERDICT_COLORS)
    assert VERDICT_COLORS[drift.DRIFT] == ERROR_COLOR and VERDICT_COLORS[drift.NO_DRIFT] != ERROR_COLOR


def test_prompt_versions_read_with_one_v():
    from tracehouse.dashboard.formatting import format_prompt, format_version

    assert format_version("2") == "v2" and format_version("v40") == "v40"  # apps number them either way
    assert format_prompt("support-answer", "v3") == "support-answer v3" and format_prompt(None, "2") == "? v2"
    assert format_prompt("support-answer", None) == "support-answer" and format_prompt(None, "") == ""
