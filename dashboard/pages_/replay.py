"""Replay & compare: re-send a recorded LLM call with an edited prompt, model or parameters, and put two calls
side by side. Reads the contract (DESIGN section 6): ``POST /api/v1/replays`` and ``GET /api/v1/compare?a=&b=``.

Links from the Trace page open it with ``?trace=<trace id>&span=<span id>`` (replay) or ``?a=<span id>``
(compare).
"""

from __future__ import annotations

import json
from typing import Any, Mapping

import streamlit as st

from tracehouse.dashboard import session
from tracehouse.dashboard.api_client import ApiError
from tracehouse.dashboard.data import fetch_json, fetch_trace, post_json
from tracehouse.dashboard.formatting import format_count, format_duration_ms, format_usd
from tracehouse.dashboard.frames import deltas_to_frame
from tracehouse.dashboard.spanview import render_llm_span, render_messages

REPLAY_PATH = "/api/v1/replays"
COMPARE_PATH = "/api/v1/compare"
_RESULT = "replay.result"
REPLAY_UNAVAILABLE = (
    "**Replay** will re-send a recorded LLM call (its messages, tools, parameters and seed) to an "
    "OpenAI-compatible endpoint or Anthropic, optionally with an edited system prompt, model or parameters, "
    "store the answer as a new trace linked to the original, and show it here."
)
COMPARE_UNAVAILABLE = (
    "**Compare** will put two LLM calls side by side: a text diff of their outputs and the deltas of latency, "
    "tokens and cost."
)


def _find_span(trace_id: str, span_id: str) -> Mapping[str, Any] | None:
    try:
        spans = fetch_trace(session.current_settings(), trace_id).get("spans") or []
    except ApiError as err:
        if err.status_code == 404:
            st.warning(f"No trace `{trace_id}` in this project.", icon=":material/search_off:")
        else:
            session.show_api_error(err)
        return None
    span = next((s for s in spans if s.get("span_id") == span_id), None)
    if span is None:
        st.warning(f"Trace `{trace_id}` has no span `{span_id}`.", icon=":material/search_off:")
    return span


def _overrides(original: Mapping[str, Any] | None) -> dict[str, Any]:
    params = (original or {}).get("params") or {}
    cols = st.columns(3)
    model = cols[0].text_input("Model", key="replay.model", placeholder=(original or {}).get("model") or "unchanged")
    temperature = cols[1].number_input("Temperature", min_value=0.0, max_value=2.0, step=0.1, value=None,
                                       key="replay.temperature",
                                       placeholder=str(params.get("temperature", "unchanged")))
    max_tokens = cols[2].number_input("Max tokens", min_value=1, step=64, value=None, key="replay.max_tokens",
                                      placeholder=str(params.get("max_tokens", "unchanged")))
    system = st.text_area("System prompt", key="replay.system", placeholder="unchanged", height=100)
    overrides: dict[str, Any] = {}
    if model.strip():
        overrides["model"] = model.strip()
    new_params = {k: v for k, v in (("temperature", temperature), ("max_tokens", max_tokens)) if v is not None}
    if new_params:
        overrides["params"] = new_params
    if system.strip():
        overrides["system"] = system
    return overrides


def _show_replay(result: Mapping[str, Any], original_span: str) -> None:
    with st.container(border=True):
        st.markdown(f"**Replay** `{result.get('replay_id') or '?'}` · status **{result.get('status') or '?'}**")
        output = result.get("output")
        if isinstance(output, list):
            render_messages(output)
        elif isinstance(output, Mapping) and "parts" in output:
            render_messages([output])
        elif isinstance(output, Mapping):
            st.json(dict(output))
        elif output:
            st.code(str(output), language=None, wrap_lines=True)
        if result.get("trace_id"):
            st.page_link(session.TRACE_PAGE, label="Open the replay's trace", icon=":material/account_tree:",
                         query_params={session.TRACE_PARAM: str(result["trace_id"])})
            replayed = next((s.get("span_id") for s in _trace_spans(str(result["trace_id"])) if s.get("kind") == "llm"),
                            None)
            if replayed and st.button("Compare with the original", icon=":material/compare_arrows:"):
                session.set_widget_value("a", original_span, b=str(replayed))


def _trace_spans(trace_id: str) -> list[Mapping[str, Any]]:
    try:
        return fetch_trace(session.current_settings(), trace_id).get("spans") or []
    except ApiError:
        return []  # the replay's trace may not be queryable yet


def _replay_section() -> None:
    st.subheader("Replay an LLM call")
    ids = st.columns(2)
    trace_id = ids[0].text_input("Trace id", key="trace", bind="query-params",
                                 placeholder="the trace of the call").strip().lower()
    span_id = ids[1].text_input("Span id", key="span", bind="query-params",
                                placeholder="the LLM call's span id").strip().lower()
    original = _find_span(trace_id, span_id) if trace_id and span_id else None
    if original is not None:
        with st.expander(f"Original call · `{original.get('model') or 'unknown model'}`"):
            render_llm_span(original)
    if session.has_route("post", REPLAY_PATH) is False:
        session.show_unavailable(REPLAY_UNAVAILABLE, f"POST {REPLAY_PATH}",
                                 "Open a trace and use **Replay** on one of its LLM calls to land here with it.")
        return
    if not span_id:
        st.info("Pick an LLM call to replay: open a trace and use **Replay** on one of its calls, or paste its ids "
                "above.", icon=":material/info:")
        return
    st.caption("Overrides: leave a field blank to keep the recorded value.")
    overrides = _overrides(original)
    if st.button("Replay", icon=":material/replay:", type="primary"):
        try:
            with st.spinner("Replaying the call…"):
                result = post_json(session.current_settings(), REPLAY_PATH,
                                   {"span_id": span_id, **({"overrides": overrides} if overrides else {})})
        except ApiError as err:
            if err.route_missing:
                session.show_unavailable(REPLAY_UNAVAILABLE, f"POST {REPLAY_PATH}")
            else:
                session.show_api_error(err)
            return
        st.session_state[_RESULT] = (span_id, result)
    stored = st.session_state.get(_RESULT)
    if stored and stored[0] == span_id and isinstance(stored[1], Mapping):
        _show_replay(stored[1], span_id)


def _side(label: str, side: Any) -> None:
    st.markdown(f"**{label}**")
    if not isinstance(side, Mapping):
        st.code(json.dumps(side, indent=2, default=str) if side is not None else "—", language="json")
        return
    st.caption(f"`{side.get('model') or 'unknown model'}` · {format_duration_ms(side.get('duration_ms'))} · "
               f"{format_count((side.get('input_tokens') or 0) + (side.get('output_tokens') or 0))} tokens · "
               f"{format_usd(side.get('cost_usd'))}")
    if side.get("output_messages"):
        render_messages(side["output_messages"])
    else:
        st.code(str(side.get("output_text") or side.get("output") or "—"), language=None, wrap_lines=True)


def _compare_section() -> None:
    st.subheader("Compare two calls")
    ids = st.columns(2)
    a = ids[0].text_input("Span A", key="a", bind="query-params", placeholder="span id").strip().lower()
    b = ids[1].text_input("Span B", key="b", bind="query-params", placeholder="span id").strip().lower()
    if session.has_route("get", COMPARE_PATH) is False:
        session.show_unavailable(COMPARE_UNAVAILABLE, f"GET {COMPARE_PATH}?a=&b=")
        return
    if not (a and b):
        st.info("Enter two LLM calls' span ids (the Trace page links here with the first one filled in).",
                icon=":material/info:")
        return
    try:
        with st.spinner("Comparing…"):
            answer = fetch_json(session.current_settings(), COMPARE_PATH, {"a": a, "b": b})
    except ApiError as err:
        if err.route_missing:
            session.show_unavailable(COMPARE_UNAVAILABLE, f"GET {COMPARE_PATH}?a=&b=")
        else:
            session.show_api_error(err)
        return
    left, right = st.columns(2)
    with left:
        _side("A", answer.get("a"))
    with right:
        _side("B", answer.get("b"))
    deltas = deltas_to_frame(answer.get("deltas"))
    if not deltas.empty:
        st.markdown("**Deltas** (B minus A)")
        st.dataframe(deltas, hide_index=True)
    diff = answer.get("diff")
    if diff:
        st.markdown("**Output diff**")
        text = "\n".join(map(str, diff)) if isinstance(diff, list) else diff
        if isinstance(text, str):
            st.code(text, language="diff", wrap_lines=True)
        else:
            st.json(text, expanded=False)


def render() -> None:
    st.title("Replay & compare")
    _replay_section()
    _compare_section()


if __name__ == "__main__":
    render()
