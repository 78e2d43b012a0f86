"""Quality: error rates and failure signals (refusals, truncation, ...) of LLM calls over time, by prompt version
or model; scores and feedback once the collector serves them."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from tracehouse.dashboard import session
from tracehouse.dashboard.api_client import ApiError
from tracehouse.dashboard.data import fetch_json, fetch_metrics, fetch_newest
from tracehouse.dashboard.figures import (
    build_error_rate_figure,
    build_latency_figure,
    build_score_figure,
    build_signal_heatmap_figure,
    build_signal_trend_figure,
)
from tracehouse.dashboard.formatting import format_version
from tracehouse.dashboard.frames import metrics_by_group, metrics_to_frame
from tracehouse.dashboard.signals import signal_rates, signals_frame, signals_over_time

# What the page shows (and writes into the URL, ``?by=model``) -> the metrics API's group_by.
_GROUPINGS = {"prompt version": "prompt_version", "model": "model"}
_SAMPLES = [200, 500, 1000]  # the first is the default: full LLM spans carry their messages (~5 KB each)
# What the signals read of each sampled call (signals.py); the rest of a span is not kept in the cache.
_SIGNAL_FIELDS = ("kind", "status", "start_time", "trace_id", "span_id", "model", "prompt_name", "prompt_version",
                  "finish_reason", "output_text", "output_messages")
SCORES_PATH = "/api/v1/scores"

_BY_GROUP = {
    "group": st.column_config.TextColumn("Group"),
    "spans": st.column_config.NumberColumn("LLM calls"),
    "errors": st.column_config.NumberColumn("Errors"),
    "error_rate": st.column_config.NumberColumn("Error rate", format="percent"),
    "latency_p95_ms": st.column_config.NumberColumn("p95 latency (ms)", format="%.0f"),
    "tokens_per_span": st.column_config.NumberColumn("Tokens per call", format="%.0f"),
    "cost_per_span": st.column_config.NumberColumn("Cost per call", format="$%.5f"),
}


def _scores(settings, window, template) -> None:
    st.subheader("Scores and feedback")
    unavailable = ("Scores will show here: user feedback, evaluator results and human labels over time, by "
                   "score name, with the worst-scored traces one click away.")
    meanwhile = ("Scores can be recorded already: `tracehouse.score(trace_id, name, value)` in the SDK, or "
                 "`POST /api/v1/scores`.")
    if session.has_route("get", SCORES_PATH) is False:
        session.show_unavailable(unavailable, f"GET {SCORES_PATH}", meanwhile)
        return
    try:
        with st.spinner("Loading scores…"):
            body = fetch_json(settings, SCORES_PATH, {"start": window.start_param, "end": window.end_param,
                                                      "limit": 1000})  # fmt: skip
    except ApiError as err:
        if err.route_missing:
            session.show_unavailable(unavailable, f"GET {SCORES_PATH}", meanwhile)
        else:
            session.show_api_error(err)
        return
    items = body.get("items") if isinstance(body, dict) else body
    scores = pd.DataFrame.from_records(items or [])
    time_col = next((c for c in ("time", "created_at", "timestamp") if c in scores.columns), None)
    if scores.empty or time_col is None or "value" not in scores.columns:
        st.info(f"No scores in this time range. {meanwhile}", icon=":material/info:")
        return
    scores = scores.assign(time=pd.to_datetime(scores[time_col], utc=True, format="ISO8601"),
                           value=pd.to_numeric(scores["value"], errors="coerce"),
                           name=scores.get("name", pd.Series("score", index=scores.index)).fillna("score"))
    st.plotly_chart(build_score_figure(scores, template=template, x_range=(window.start, window.end),
                                       interval=window.interval), theme=None)
    summary = scores.groupby("name")["value"].agg(["count", "mean", "min", "max"]).reset_index()
    st.dataframe(summary, hide_index=True)


def render() -> None:
    st.title("Quality")
    settings, window, template = session.current_settings(), session.current_window(), session.plotly_template()
    controls = st.columns([2, 1, 3], vertical_alignment="bottom")
    # No format_func: a bound widget writes its displayed text to the URL.
    label = controls[0].segmented_control("Group by", list(_GROUPINGS), default="prompt version", required=True,
                                          key="by", bind="query-params") or "prompt version"
    sample = controls[1].selectbox("LLM calls sampled", _SAMPLES, key="sample", bind="query-params",
                                   help="Refusals and finish reasons are read from the newest calls in the range")
    by = _GROUPINGS[label]
    try:
        with st.spinner("Loading LLM call metrics…"):
            metrics = metrics_to_frame(fetch_metrics(settings, window.start_param, window.end_param,
                                                     window.interval, by, {"kind": "llm"})["items"])
    except ApiError as err:
        session.show_api_error(err)
        return
    if metrics.empty:
        st.info(f"No LLM calls in this time range. {session.EMPTY_MESSAGE}", icon=":material/info:")
        _scores(settings, window, template)
        return

    st.caption(f"LLM calls in the {window.label.lower()}, per {window.interval} (UTC), by {label}."
               + (" Versions are numbered per prompt: v2 here is every prompt's v2 together; the heatmap below "
                  "keeps prompts apart." if by == "prompt_version" else ""))
    x_range = (window.start, window.end)
    named = metrics.assign(group=metrics["group"].map(lambda g: (format_version(g) if g else "(none)")
                                                      if by == "prompt_version" else g))
    left, right = st.columns(2)
    left.plotly_chart(build_error_rate_figure(named, template=template, x_range=x_range,
                                              title=f"Error rate by {label}"), theme=None)
    right.plotly_chart(build_latency_figure(named, template=template, x_range=x_range,
                                            title=f"p95 latency by {label}"), theme=None)
    st.dataframe(metrics_by_group(named), hide_index=True, column_order=list(_BY_GROUP), column_config=_BY_GROUP)

    # Drawn after the charts above: reading full spans is the slow part of this page, and the metrics are
    # on screen meanwhile.
    st.subheader("Refusals, truncation and other failure signals")
    _signals(settings, window, template, by, sample)
    _scores(settings, window, template)


def _signals(settings, window, template, by: str, sample: int) -> None:
    try:
        with st.spinner(f"Reading the newest {sample:,} LLM calls…"):
            calls = signals_frame(fetch_newest(settings, "spans", {"kind": "llm"}, sample, window.start_param,
                                               window.end_param, _SIGNAL_FIELDS))
    except ApiError as err:
        session.show_api_error(err)
        return
    x_range = (window.start, window.end)
    if calls.empty:
        st.info("No LLM calls to read signals from in this time range.", icon=":material/info:")
    else:
        oldest = f"{calls['start_time'].min():%Y-%m-%d %H:%M}"
        st.caption(f"From the newest {len(calls):,} LLM calls in the range (the oldest at {oldest} UTC). A refusal "
                   "is an answer that opens like one (\"I'm sorry, but I can't help with that\"); truncated means "
                   "the token limit cut it; errors failed outright.")
        sig_by = "prompt" if by == "prompt_version" else "model"
        left, right = st.columns(2)
        left.plotly_chart(build_signal_trend_figure(signals_over_time(calls, window.interval), template=template,
                                                    x_range=x_range), theme=None)
        right.plotly_chart(build_signal_heatmap_figure(signal_rates(calls, sig_by), template=template,
                                                       title=f"Failure signals by {sig_by} (calls)"), theme=None)
        reasons = pd.crosstab(calls[sig_by], calls["finish_reason"]).reset_index()
        reasons.columns.name = None
        with st.expander("Finish reasons by " + sig_by):
            st.dataframe(reasons, hide_index=True)


if __name__ == "__main__":
    render()
