"""Traces: search trace summaries with filters and full text; pick one to open it on the Trace page."""

from __future__ import annotations

from typing import Any

import streamlit as st

from tracehouse.dashboard import session
from tracehouse.dashboard.api_client import ApiError
from tracehouse.dashboard.data import fetch_traces
from tracehouse.dashboard.frames import traces_to_frame

_STATUSES = ["", "ok", "error", "unset"]
_LIMITS = [50, 100, 200, 500]
_CURSORS = "traces.cursors"  # page cursors so far: [None, cursor of page 2, ...]
_FILTERS_SEEN = "traces.cursors.filters"  # the filters those cursors belong to

_COLUMNS = {
    "start_time": st.column_config.DatetimeColumn("Start (UTC)", format="YYYY-MM-DD HH:mm:ss"),
    "name": st.column_config.TextColumn("Name"),
    "status": st.column_config.TextColumn("Status"),
    "duration_ms": st.column_config.NumberColumn("Duration (ms)", format="%.0f"),
    "span_count": st.column_config.NumberColumn("Spans"),
    "llm_calls": st.column_config.NumberColumn("LLM calls"),
    "models": st.column_config.ListColumn("Models"),
    "tenant": st.column_config.TextColumn("Tenant"),
    "user": st.column_config.TextColumn("User"),
    "session": st.column_config.TextColumn("Session"),
    "input_tokens": st.column_config.NumberColumn("In tokens"),
    "output_tokens": st.column_config.NumberColumn("Out tokens"),
    "cost_usd": st.column_config.NumberColumn("Cost", format="$%.4f"),
    "input_preview": st.column_config.TextColumn("Input", width="large"),
    "output_preview": st.column_config.TextColumn("Output", width="large"),
    "trace_id": st.column_config.TextColumn("Trace id"),
}


def _filter_widgets() -> dict[str, Any]:
    """The filter row; each widget is bound to the query parameter of the same name as the API's filter."""
    cols = st.columns(6)
    filters = {
        name: cols[i].text_input(name.capitalize(), key=name, bind="query-params").strip()
        for i, name in enumerate(("tenant", "user", "session", "model"))
    }
    filters["status"] = cols[4].selectbox("Status", _STATUSES, format_func=lambda s: s or "any",
                                          key="status", bind="query-params")
    filters["limit"] = cols[5].selectbox("Per page", _LIMITS, key="limit", bind="query-params")
    return filters


def _page_cursor(filters: dict[str, Any]) -> str | None:
    """The cursor of the page being shown; new filters start again at the first page."""
    if st.session_state.get(_FILTERS_SEEN) != filters:
        st.session_state[_FILTERS_SEEN] = filters
        st.session_state[_CURSORS] = [None]
    return st.session_state[_CURSORS][-1]


def _pager(next_cursor: str | None) -> None:
    cursors = st.session_state[_CURSORS]
    newer, label, older = st.columns([1, 2, 1], vertical_alignment="center")
    if newer.button("Newer", icon=":material/chevron_left:", disabled=len(cursors) == 1):
        cursors.pop()
        st.rerun()
    label.caption(f"Page {len(cursors)}")
    if older.button("Older", icon=":material/chevron_right:", disabled=not next_cursor):
        cursors.append(next_cursor)
        st.rerun()


def render() -> None:
    st.title("Traces")
    settings, window = session.current_settings(), session.current_window()
    search, by_id = st.columns([3, 2])
    q = search.text_input("Search input and output", key="q", bind="query-params", placeholder="full text")
    trace_id = by_id.text_input("Open a trace by id", key="traces.open", placeholder="32 hex digits").strip()
    if trace_id:
        session.open_trace(trace_id.lower())

    filters = {"q": q.strip(), **_filter_widgets()}
    cursor = _page_cursor({**filters, "range": window.key})
    try:
        page = fetch_traces(settings, {**filters, "start": window.start_param, "end": window.end_param,
                                       "cursor": cursor})  # fmt: skip
    except ApiError as err:
        session.show_api_error(err)
        return

    df = traces_to_frame(page.get("items") or [])
    if df.empty:
        filtered = any(value for name, value in filters.items() if name != "limit")
        st.info("No traces match these filters in this time range." if filtered
                else f"No traces in this time range. {session.EMPTY_MESSAGE}", icon=":material/info:")
        return

    st.caption(f"{window.label}, newest first. Select a row to open the trace.")
    table = st.dataframe(
        df, hide_index=True, column_order=list(_COLUMNS), column_config=_COLUMNS,
        on_select="rerun", selection_mode="single-row", key="traces.table",
    )  # fmt: skip
    if table.selection.rows:
        session.open_trace(str(df.iloc[table.selection.rows[0]]["trace_id"]))
    _pager(page.get("next_cursor"))


if __name__ == "__main__":
    render()
