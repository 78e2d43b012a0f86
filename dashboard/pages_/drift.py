"""Drift: does current traffic behave like a baseline window? The full report (embeddings, cluster mix, lengths,
rates, with p-values and verdicts) from the analytics contract: ``GET /api/v1/analytics/drift/runs`` lists the
project's reports (the newest finished one opens by default, older ones are a pick away), ``POST .../runs``
starts one, ``GET .../runs/{run_id}`` has its signals. Below it, a quick look from the metrics API."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import streamlit as st

from tracehouse.dashboard import runs, session
from tracehouse.dashboard.api_client import ApiError
from tracehouse.dashboard.data import fetch_metrics
from tracehouse.dashboard.figures import build_drift_figure
from tracehouse.dashboard.formatting import format_change, format_count, format_value
from tracehouse.dashboard.frames import (
    DRIFTED,
    compare_summaries,
    drift_signals_to_frame,
    metrics_to_frame,
    summarize_metrics,
)
from tracehouse.dashboard.runlist import describe_window, drift_run_label
from tracehouse.dashboard.timerange import to_rfc3339

RUNS_PATH = "/api/v1/analytics/drift/runs"
RUN_PARAM = "drift_run"
# Shown as is, and written into the URL (``?baseline=a+week+earlier``).
_BASELINES = ("the window before", "a week earlier")
UNAVAILABLE = (
    "**Drift reports** will compare the current window with a baseline on input and output embeddings, the mix "
    "of failure clusters, lengths, tokens, latency, cost, error and refusal rates and scores, each with a "
    "statistic, a p-value and a verdict, and keep a timeline of reports and alerts."
)

_QUICK = {
    "metric": st.column_config.TextColumn("Metric"),
    "baseline": st.column_config.TextColumn("Baseline"),
    "current": st.column_config.TextColumn("Current"),
    "change": st.column_config.TextColumn("Change"),
}
_SIGNALS = {
    "name": st.column_config.TextColumn("Signal"),
    "verdict": st.column_config.TextColumn("Verdict"),
    "effect_size": st.column_config.NumberColumn("Effect size", format="%.3f"),
    "p_value": st.column_config.NumberColumn("p-value", format="%.4f"),
    "statistic": st.column_config.NumberColumn("Statistic", format="%.3f"),
    "n_baseline": st.column_config.NumberColumn("n baseline"),
    "n_current": st.column_config.NumberColumn("n current"),
}


def _quick_look(settings, window, baseline_start, baseline_end) -> None:
    st.subheader("Quick look: this window against the baseline")
    st.caption("From the metrics API: every span, no statistics. Per-span numbers, so windows of different "
               "traffic compare fairly.")
    try:
        with st.spinner("Loading both windows…"):
            current = metrics_to_frame(fetch_metrics(settings, window.start_param, window.end_param,
                                                     window.interval)["items"])
            baseline = metrics_to_frame(fetch_metrics(settings, to_rfc3339(baseline_start), to_rfc3339(baseline_end),
                                                      window.interval)["items"])
    except ApiError as err:
        session.show_api_error(err)
        return
    if current.empty and baseline.empty:
        st.info(f"No spans in either window. {session.EMPTY_MESSAGE}", icon=":material/info:")
        return
    table = compare_summaries(summarize_metrics(baseline), summarize_metrics(current))
    shown = pd.DataFrame({
        "metric": table["metric"],
        "baseline": [format_value(v, u) for v, u in zip(table["baseline"], table["unit"])],
        "current": [format_value(v, u) for v, u in zip(table["current"], table["unit"])],
        "change": [format_change(v) for v in table["change"]],
    })  # fmt: skip
    st.dataframe(shown, hide_index=True, column_config=_QUICK)
    if baseline.empty:
        st.caption("The baseline window has no spans: nothing to compare against yet. Pick another baseline.")


def _report(run, run_id: str, template) -> None:
    trigger = "scheduled" if run.get("trigger") not in (None, "api") else "started here or through the API"
    st.caption(f"Report `{run_id}` ({trigger}): current {describe_window(run.get('current'))}, baseline "
               f"{describe_window(run.get('baseline'))}.")
    signals = drift_signals_to_frame(run.get("signals") or [])
    if signals.empty:
        st.info("This report has no signals: too few samples in one of the windows.", icon=":material/info:")
        return
    drifted = signals["verdict"].str.lower() == DRIFTED
    tiles = st.columns(3)
    tiles[0].metric("Signals", format_count(len(signals)))
    tiles[1].metric("Drifted", format_count(int(drifted.sum())))
    p_values = signals["p_value"].dropna()
    tiles[2].metric("Smallest p-value", f"{p_values.min():.4f}" if not p_values.empty else "—")
    st.plotly_chart(build_drift_figure(signals, template=template), theme=None)
    shown = signals.assign(verdict=signals["verdict"].str.replace("_", " ", regex=False))  # no_drift -> no drift
    st.dataframe(shown, hide_index=True, column_order=list(_SIGNALS), column_config=_SIGNALS)


def _empty_state() -> None:
    st.info(
        "**No drift reports in this project yet.** A report compares a current window with a baseline on input "
        "and output text, lengths, tokens, latency, cost, error and refusal rates and scores, each with a "
        "statistic, a p-value and a verdict.\n\n"
        "Start one with **Compare with the baseline** above (the window in the sidebar against the baseline "
        "chosen here): it runs on the collector and this page follows it. A collector with scheduled jobs on "
        "also writes one every hour (the last day against the week before); the newest finished report opens "
        "here.",
        icon=":material/trending_up:",
    )


def render() -> None:
    st.title("Drift")
    settings, window, template = session.current_settings(), session.current_window(), session.plotly_template()
    baseline_kind = st.segmented_control("Baseline", _BASELINES, default=_BASELINES[0], required=True,
                                         key="baseline", bind="query-params")
    shift = timedelta(days=7) if baseline_kind == "a week earlier" else window.end - window.start
    baseline_start, baseline_end = window.start - shift, window.end - shift
    st.caption(f"Current: {window.label.lower()} ({window.start:%Y-%m-%d %H:%M} to {window.end:%Y-%m-%d %H:%M} "
               f"UTC). Baseline: {baseline_start:%Y-%m-%d %H:%M} to {baseline_end:%Y-%m-%d %H:%M} UTC.")

    st.subheader("Drift report")
    if session.has_route("post", RUNS_PATH) is False:
        session.show_unavailable(UNAVAILABLE, f"POST {RUNS_PATH}",
                                 "The quick look below compares the two windows from metrics already.")
    else:
        listed = runs.list_runs(RUNS_PATH)
        start, pick = st.columns([2, 3], vertical_alignment="bottom")
        if start.button("Compare with the baseline", icon=":material/play_arrow:", type="primary"):
            body = {"baseline": {"start": to_rfc3339(baseline_start), "end": to_rfc3339(baseline_end)},
                    "current": {"start": window.start_param, "end": window.end_param}}
            runs.start_run(RUNS_PATH, body, RUN_PARAM, unavailable=UNAVAILABLE, endpoint=f"POST {RUNS_PATH}")
        elif run_id := runs.choose_run(pick, listed or [], RUN_PARAM, label=drift_run_label, what="drift"):
            run = runs.follow_run(f"{RUNS_PATH}/{run_id}", run_id, "drift")
            if run is not None:
                _report(run, run_id, template)
        elif listed is not None:  # else the error is shown
            _empty_state()
    _quick_look(settings, window, baseline_start, baseline_end)


if __name__ == "__main__":
    render()
