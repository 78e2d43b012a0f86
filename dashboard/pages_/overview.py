"""Overview: headline numbers and charts of all traffic in the selected time range."""

from __future__ import annotations

import streamlit as st

from tracehouse.dashboard import session
from tracehouse.dashboard.api_client import ApiError
from tracehouse.dashboard.data import fetch_metrics
from tracehouse.dashboard.figures import (
    build_cost_figure,
    build_error_rate_figure,
    build_latency_figure,
    build_tokens_figure,
    build_volume_figure,
)
from tracehouse.dashboard.formatting import format_count, format_duration_ms, format_percent, format_usd
from tracehouse.dashboard.frames import metrics_to_frame, summarize_metrics


def render() -> None:
    st.title("Overview")
    settings, window, template = session.current_settings(), session.current_window(), session.plotly_template()
    st.caption(f"{window.label}, per {window.interval} (UTC)")
    try:
        with st.spinner("Loading metrics…"):
            overall = metrics_to_frame(
                fetch_metrics(settings, window.start_param, window.end_param, window.interval)["items"])
            by_model = metrics_to_frame(
                fetch_metrics(settings, window.start_param, window.end_param, window.interval, "model")["items"])
    except ApiError as err:
        session.show_api_error(err)
        return

    summary = summarize_metrics(overall)
    if summary.spans == 0:
        st.info(f"No spans in this time range. {session.EMPTY_MESSAGE}", icon=":material/info:")
        return

    tiles = st.columns(5)
    tiles[0].metric("Spans", format_count(summary.spans))
    tiles[1].metric("Error rate", format_percent(summary.error_rate), help=f"{summary.errors:,} errored spans")
    tiles[2].metric("p95 latency", format_duration_ms(summary.latency_p95_ms),
                    help=f"Span-weighted mean of each {window.interval}'s p95")
    tiles[3].metric("Cost", format_usd(summary.cost_usd, compact=True), help=format_usd(summary.cost_usd))
    tiles[4].metric("Tokens", format_count(summary.tokens),
                    help=f"{summary.input_tokens:,} input, {summary.output_tokens:,} output")

    x_range = (window.start, window.end)
    left, right = st.columns(2)
    # theme=None: keep the Plotly template chosen for the app's light or dark theme.
    left.plotly_chart(build_volume_figure(overall, template=template, x_range=x_range), theme=None)
    right.plotly_chart(build_error_rate_figure(overall, template=template, x_range=x_range), theme=None)
    left.plotly_chart(build_latency_figure(overall, template=template, x_range=x_range), theme=None)
    right.plotly_chart(build_cost_figure(by_model, template=template, x_range=x_range), theme=None)
    st.plotly_chart(build_tokens_figure(overall, template=template, x_range=x_range), theme=None)


if __name__ == "__main__":
    render()
