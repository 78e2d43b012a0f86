"""Sessions: a conversation end to end. Pick a recent session, then read its LLM turns in order, chat-style."""

from __future__ import annotations

import streamlit as st

from tracehouse.dashboard import session
from tracehouse.dashboard.api_client import ApiError
from tracehouse.dashboard.conversation import Turn, sessions_from_traces, summarize_session, transcript
from tracehouse.dashboard.data import fetch_newest, fetch_spans
from tracehouse.dashboard.formatting import format_count, format_duration_ms, format_usd
from tracehouse.dashboard.spanview import render_messages

SESSION_PARAM = "session_id"
_TRACES_SCANNED = 1000  # newest trace summaries the session list is derived from (the API's page maximum)
_SPAN_PAGES = 5  # a session's spans, 1000 per page: 5000 spans is a very long conversation
_ROW_PX, _MAX_TABLE_PX = 35, 740  # the table shows up to ~20 rows before it scrolls

_COLUMNS = {
    "last_seen": st.column_config.DatetimeColumn("Last activity (UTC)", format="YYYY-MM-DD HH:mm:ss"),
    "session": st.column_config.TextColumn("Session"),
    "user": st.column_config.TextColumn("User"),
    "tenant": st.column_config.TextColumn("Tenant"),
    "traces": st.column_config.NumberColumn("Turns"),
    "llm_calls": st.column_config.NumberColumn("LLM calls"),
    "errors": st.column_config.NumberColumn("Errors"),
    "cost_usd": st.column_config.NumberColumn("Cost", format="$%.4f"),
    "first_input": st.column_config.TextColumn("First input", width="large"),
    "first_seen": st.column_config.DatetimeColumn("Started (UTC)", format="YYYY-MM-DD HH:mm:ss"),
}


def _session_list(settings, window) -> None:
    try:
        with st.spinner("Loading recent sessions…"):
            items = fetch_newest(settings, "traces", {}, _TRACES_SCANNED, window.start_param, window.end_param)
    except ApiError as err:
        session.show_api_error(err)
        return
    sessions = sessions_from_traces(items)
    if not items:
        st.info(f"No traces in this time range. {session.EMPTY_MESSAGE}", icon=":material/info:")
        return
    if sessions.empty:
        st.info("No trace in this time range belongs to a session. Set one with "
                "`tracehouse.context(session='...')` (or the `session.id` attribute) to follow conversations "
                "across requests.", icon=":material/info:")  # fmt: skip
        return
    needle = st.text_input("Filter by user, tenant or session", key="sessions.filter",
                           placeholder="e.g. acme-corp").strip().lower()
    if needle:
        hay = sessions[["session", "user", "tenant"]].fillna("").apply(lambda c: c.str.lower())
        sessions = sessions[hay.apply(lambda c: c.str.contains(needle, regex=False)).any(axis=1)]
        sessions = sessions.reset_index(drop=True)
    more = " (from the newest 1,000 traces)" if len(items) >= _TRACES_SCANNED else ""
    st.caption(f"{len(sessions):,} sessions with activity in the {window.label.lower()}{more}, most recent "
               "first. Select a row to read the conversation.")
    table = st.dataframe(sessions, hide_index=True, column_order=list(_COLUMNS), column_config=_COLUMNS,
                         on_select="rerun", selection_mode="single-row", key="sessions.table",
                         height=min(_ROW_PX * (len(sessions) + 1) + 3, _MAX_TABLE_PX))
    if table.selection.rows:
        session.set_widget_value(SESSION_PARAM, str(sessions.iloc[table.selection.rows[0]]["session"]))


def _render_turn(number: int, turn: Turn, raw: bool) -> None:
    with st.container(border=True):
        head, link = st.columns([5, 1], vertical_alignment="center")
        when = f"{turn.start_time:%Y-%m-%d %H:%M:%S} UTC" if turn.start_time is not None else "undated"
        calls = f"{len(turn.calls)} LLM call{'s' if len(turn.calls) != 1 else ''}"
        errors = f" · :red[{turn.errors} failed]" if turn.errors else ""
        head.markdown(f"**Turn {number}** · {when} · {calls} · {format_usd(turn.cost_usd)}{errors}")
        link.page_link(session.TRACE_PAGE, label="Open trace", icon=":material/account_tree:",
                       query_params={session.TRACE_PARAM: turn.trace_id})
        for call in turn.calls:
            span = call.span
            if call.system:
                with st.expander("System prompt", icon=":material/settings:"):
                    st.code(call.system, language=None, wrap_lines=True)
            if call.new_messages:
                render_messages(call.new_messages, raw=raw)
            if span.get("status") == "error":
                st.error(span.get("status_message") or "this call failed", icon=":material/error:")
            if call.output_messages:
                render_messages(call.output_messages, raw=raw)
            tokens = (span.get("input_tokens") or 0) + (span.get("output_tokens") or 0)
            st.caption(
                f"`{span.get('model') or 'unknown model'}` · {format_duration_ms(span.get('duration_ms'))} · "
                f"{format_count(tokens)} tokens · {format_usd(span.get('cost_usd'))}"
            )  # fmt: skip


def _conversation(settings, window, session_id: str) -> None:
    try:
        with st.spinner("Loading the conversation…"):
            spans = fetch_spans(settings, {"session": session_id, "start": window.start_param,
                                           "end": window.end_param, "limit": 1000}, _SPAN_PAGES)  # fmt: skip
    except ApiError as err:
        session.show_api_error(err)
        return
    if not spans:
        st.warning(f"No spans of session `{session_id}` in the {window.label.lower()}. Try a longer time range.",
                   icon=":material/search_off:")
        return
    summary = summarize_session(spans)
    who = " · ".join(part for part in (summary.user, summary.tenant) if part)
    st.subheader(f"Session `{session_id}`")
    if who:
        st.caption(f"{who} · models: {', '.join(summary.models) or 'none'}")
    tiles = st.columns(6)
    tiles[0].metric("Turns", format_count(summary.turns))
    tiles[1].metric("LLM calls", format_count(summary.llm_calls))
    tiles[2].metric("Errors", format_count(summary.errors))
    tiles[3].metric("Duration", format_duration_ms(summary.duration_ms), help="First span's start to last end")
    tiles[4].metric("Tokens", format_count(summary.input_tokens + summary.output_tokens),
                    help=f"{summary.input_tokens:,} input, {summary.output_tokens:,} output")
    tiles[5].metric("Cost", format_usd(summary.cost_usd, compact=True), help=format_usd(summary.cost_usd))

    turns = transcript(spans)
    if not turns:
        st.info("This session has spans but no LLM calls to show as a conversation.", icon=":material/info:")
        return
    raw = st.toggle("Show message text verbatim", key="sessions.raw",
                    help="Plain text exactly as recorded, instead of rendered Markdown")
    st.caption("Each message appears once: later calls resend the history, which is not repeated here.")
    for number, turn in enumerate(turns, start=1):
        _render_turn(number, turn, raw)


def render() -> None:
    st.title("Sessions")
    settings, window = session.current_settings(), session.current_window()
    session_id = st.text_input("Session id", key=SESSION_PARAM, bind="query-params",
                               placeholder="pick one below, or paste a session id").strip()
    if not session_id:
        _session_list(settings, window)
        return
    if st.button("All sessions", icon=":material/arrow_back:"):
        session.set_widget_value(SESSION_PARAM, "")
    _conversation(settings, window, session_id)


if __name__ == "__main__":
    render()
