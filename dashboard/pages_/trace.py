"""Trace: one trace as a span tree and a timeline, with each LLM call rendered as a conversation, and links to
replay or compare each call."""

from __future__ import annotations

import streamlit as st

from tracehouse.dashboard import session
from tracehouse.dashboard.api_client import ApiError
from tracehouse.dashboard.data import fetch_trace
from tracehouse.dashboard.figures import build_waterfall_figure
from tracehouse.dashboard.formatting import format_count, format_duration_ms, format_usd
from tracehouse.dashboard.frames import span_tree, span_tree_frame, summarize_trace
from tracehouse.dashboard.spanview import render_llm_span, render_span_details, span_label

_TREE_COLUMNS = {
    "name": st.column_config.TextColumn("Span"),
    "kind": st.column_config.TextColumn("Kind"),
    "status": st.column_config.TextColumn("Status"),
    "offset_ms": st.column_config.NumberColumn("Starts (ms)", format="+%.1f"),
    "duration_ms": st.column_config.NumberColumn("Duration (ms)", format="%.1f"),
    "model": st.column_config.TextColumn("Model"),
    "input_tokens": st.column_config.NumberColumn("In tokens"),
    "output_tokens": st.column_config.NumberColumn("Out tokens"),
    "cost_usd": st.column_config.NumberColumn("Cost", format="$%.5f"),
    "span_id": st.column_config.TextColumn("Span id"),
}


def render() -> None:
    st.title("Trace")
    settings = session.current_settings()
    trace_id = st.text_input("Trace id", key=session.TRACE_PARAM, bind="query-params",
                             placeholder="paste a trace id, or pick one on the Traces page").strip().lower()
    if not trace_id:
        st.info("Enter a trace id above, or open one from the Traces page.", icon=":material/info:")
        return
    try:
        with st.spinner("Loading the trace…"):
            spans = fetch_trace(settings, trace_id).get("spans") or []
    except ApiError as err:
        if err.status_code == 404:
            st.warning(f"No trace `{trace_id}` in this project. Spans reach the API a moment after they are "
                       "sent; an old trace may be past retention.", icon=":material/search_off:")
        else:
            session.show_api_error(err)
        return
    if not spans:
        st.warning(f"Trace `{trace_id}` has no spans.", icon=":material/search_off:")
        return

    summary = summarize_trace(spans)
    st.subheader(summary.name or trace_id)
    if summary.start_time is not None:
        st.caption(f"`{trace_id}` · started {summary.start_time:%Y-%m-%d %H:%M:%S} UTC")
    tiles = st.columns(6)
    tiles[0].metric("Duration", format_duration_ms(summary.duration_ms))
    tiles[1].metric("Spans", format_count(summary.spans))
    tiles[2].metric("LLM calls", format_count(summary.llm_calls))
    tiles[3].metric("Errors", format_count(summary.errors))
    tiles[4].metric("Tokens", format_count(summary.input_tokens + summary.output_tokens),
                    help=f"{summary.input_tokens:,} input, {summary.output_tokens:,} output")
    tiles[5].metric("Cost", format_usd(summary.cost_usd, compact=True), help=format_usd(summary.cost_usd))

    st.plotly_chart(build_waterfall_figure(spans, template=session.plotly_template()), theme=None)

    tree = span_tree_frame(spans)
    tree["name"] = ["— " * depth + str(name) for depth, name in zip(tree["depth"], tree["name"])]
    st.dataframe(tree, hide_index=True, column_order=list(_TREE_COLUMNS), column_config=_TREE_COLUMNS)

    nodes = span_tree(spans)
    llm = [node.span for node in nodes if node.span.get("kind") == "llm"]
    if llm:
        st.subheader("LLM calls")
        raw = st.toggle("Show message text verbatim", key="trace.raw",
                        help="Plain text exactly as recorded, instead of rendered Markdown")
        for span in llm:
            render_llm_span(span, raw=raw)
            replay, compare, _ = st.columns([1, 1, 5])
            replay.page_link(session.REPLAY_PAGE, label="Replay this call", icon=":material/replay:",
                             query_params={"trace": trace_id, "span": str(span.get("span_id") or "")})
            compare.page_link(session.REPLAY_PAGE, label="Compare with…", icon=":material/compare_arrows:",
                              query_params={"a": str(span.get("span_id") or "")})
    others = [node for node in nodes if node.span.get("kind") != "llm"]
    if others:
        st.subheader("Other spans")
        for node in others:
            with st.expander(span_label(node.span, node.depth)):
                render_span_details(node.span)


if __name__ == "__main__":
    render()
