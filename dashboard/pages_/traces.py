"""Traces: search trace summaries with filters and full text; pick one to open it on the Trace page.

The API filters (search, tenant, user, session, model, status) select the page; duration, cost, tag and
prompt filters and the sort order then apply to the traces of that page (trace summaries carry no tags or
prompts, so those two read the page's spans, only when used). Every filter is in the URL.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from tracehouse.dashboard import session
from tracehouse.dashboard.api_client import ApiError
from tracehouse.dashboard.data import fetch_spans, fetch_traces
from tracehouse.dashboard.frames import (
    TRACE_SORTS,
    TraceFilter,
    filter_traces,
    sort_traces,
    trace_labels,
    traces_to_frame,
)
from tracehouse.dashboard.timerange import to_rfc3339

_STATUSES = ["", "ok", "error", "unset"]
_LIMITS = [50, 100, 200, 500]
_CURSORS = "traces.cursors"  # page cursors so far: [None, cursor of page 2, ...]
_FILTERS_SEEN = "traces.cursors.filters"  # the filters those cursors belong to
_LABEL_PAGES = 5  # spans read (1000 a page) to find the tags and prompts of one page of traces

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
    "tags": st.column_config.ListColumn("Tags"),
    "prompts": st.column_config.ListColumn("Prompts"),
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


def _refine_widgets() -> tuple[TraceFilter, str]:
    """Filters over the fetched page, and its order; bound to the URL like the API's filters."""
    cols = st.columns([1, 1, 1, 1, 1, 1, 1.4])
    number = dict(value=None, min_value=0.0, bind="query-params")
    refine = TraceFilter(
        min_ms=cols[0].number_input("Min duration (ms)", step=100.0, format="%.0f", key="min_ms", **number),
        max_ms=cols[1].number_input("Max duration (ms)", step=100.0, format="%.0f", key="max_ms", **number),
        min_cost=cols[2].number_input("Min cost ($)", step=0.001, format="%.4f", key="min_cost", **number),
        max_cost=cols[3].number_input("Max cost ($)", step=0.001, format="%.4f", key="max_cost", **number),
        tag=cols[4].text_input("Tag", key="tag", bind="query-params", placeholder="e.g. billing").strip(),
        prompt=cols[5].text_input("Prompt", key="prompt", bind="query-params",
                                  placeholder="e.g. support-answer v2").strip(),
    )  # fmt: skip
    # No format_func: a bound widget writes its displayed text to the URL (``?sort=slowest``).
    sort = cols[6].selectbox("Sort", list(TRACE_SORTS), key="sort", bind="query-params")
    return refine, sort


def _column_order(df) -> list[str]:
    """``_COLUMNS`` order, with tags and prompts (when read) next to the name where they can be seen."""
    order = [c for c in _COLUMNS if c in df.columns and c not in ("tags", "prompts")]
    extra = [c for c in ("tags", "prompts") if c in df.columns]
    return order[:2] + extra + order[2:]


def _with_labels(settings, df, filters: dict[str, Any]) -> Any:
    """``df`` with ``tags`` and ``prompts`` of each trace, read from the spans in the page's time span."""
    start = df["start_time"].min().floor("us")  # the API's times are ns; datetime holds us
    end = (df["start_time"] + pd.to_timedelta(df["duration_ms"].fillna(0), unit="ms")).max().ceil("us") \
        + pd.Timedelta("1ms")
    query = {k: filters.get(k) for k in ("tenant", "user", "session")}  # trace-wide context; model is per span
    with st.spinner("Reading tags and prompts of these traces…"):
        spans = fetch_spans(settings, {**query, "start": to_rfc3339(start.to_pydatetime()),
                                       "end": to_rfc3339(end.to_pydatetime()), "limit": 1000}, _LABEL_PAGES)
    out = df.merge(trace_labels(spans), on="trace_id", how="left")
    for col in ("tags", "prompts"):
        out[col] = [v if isinstance(v, list) else [] for v in out[col]]
    return out


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
    refine, sort = _refine_widgets()
    cursor = _page_cursor({**filters, "range": window.key})
    try:
        with st.spinner("Searching traces…"):
            page = fetch_traces(settings, {**filters, "start": window.start_param, "end": window.end_param,
                                           "cursor": cursor})  # fmt: skip
        df = traces_to_frame(page.get("items") or [])
        if refine.needs_labels and not df.empty:
            df = _with_labels(settings, df, filters)
    except ApiError as err:
        session.show_api_error(err)
        return

    if df.empty:
        filtered = any(value for name, value in filters.items() if name != "limit")
        st.info("No traces match these filters in this time range." if filtered
                else f"No traces in this time range. {session.EMPTY_MESSAGE}", icon=":material/info:")
        return
    fetched = len(df)
    df = sort_traces(filter_traces(df, refine), sort)
    order = f"{sort if sort in TRACE_SORTS else 'newest'} first"
    if df.empty:
        st.info(f"None of the {fetched} traces on this page passes the duration, cost, tag or prompt filters. "
                "Clear them, or page on to older traces.", icon=":material/filter_alt_off:")
        _pager(page.get("next_cursor"))
        return

    shown = f"{len(df)} of {fetched} traces on this page" if refine.active else f"{fetched} traces"
    st.caption(f"{window.label}: {shown}, {order}. Select a row to open the trace.")
    table = st.dataframe(
        df, hide_index=True, column_order=_column_order(df), column_config=_COLUMNS,
        on_select="rerun", selection_mode="single-row", key="traces.table",
        height=min(35 * (len(df) + 1) + 3, 740),  # up to ~20 rows before the table scrolls
    )  # fmt: skip
    if table.selection.rows:
        session.open_trace(str(df.iloc[table.selection.rows[0]]["trace_id"]))
    _pager(page.get("next_cursor"))


if __name__ == "__main__":
    render()
