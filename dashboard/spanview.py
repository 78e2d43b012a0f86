"""Streamlit renderers for one span of a trace: an LLM call as a chat transcript, any span's details.

Messages arrive in the OTel GenAI shape, ``{role, parts: [{type, ...}], finish_reason?}``. Text parts are
shown as chat text (or verbatim, with ``raw=True``), tool calls and tool results as code, and any other part
type as JSON, so nothing the model saw is ever hidden.
"""

from __future__ import annotations

import json
from typing import Any, Mapping, Sequence

import streamlit as st

from .formatting import MISSING, format_count, format_duration_ms, format_usd

__all__ = ["render_llm_span", "render_messages", "render_span_details", "span_label"]

_AVATARS = {"system": ":material/settings:", "tool": ":material/build:", "developer": ":material/code:"}


def _as_code(value: Any) -> tuple[str, str]:
    """(text, language) for a tool call argument or result, which may be JSON, a JSON string, or text."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return value, "text"
    return json.dumps(value, indent=2, ensure_ascii=False, default=str), "json"


def _render_text(text: str, raw: bool) -> None:
    if raw:
        st.code(text, language=None, wrap_lines=True)
    else:
        # Streamlit's Markdown reads "$...$" as LaTeX: "from $510 to $450" would turn into a formula.
        st.markdown(text.replace("$", "\\$"))


def _render_part(part: Mapping[str, Any], raw: bool) -> None:
    kind = part.get("type")
    if kind == "text":
        _render_text(str(part.get("content") or ""), raw)
    elif kind == "reasoning":
        st.caption("reasoning")
        _render_text(str(part.get("content") or ""), raw)
    elif kind == "tool_call":
        st.caption(f"tool call `{part.get('name') or '?'}`" + (f" · id {part['id']}" if part.get("id") else ""))
        text, language = _as_code(part.get("arguments"))
        st.code(text, language=language, wrap_lines=True)
    elif kind == "tool_call_response":
        st.caption("tool result" + (f" · id {part['id']}" if part.get("id") else ""))
        text, language = _as_code(part.get("response", part.get("content")))
        st.code(text, language=language, wrap_lines=True)
    else:
        st.caption(f"{kind or 'part'}")
        st.json(dict(part), expanded=False)


def render_messages(messages: Sequence[Mapping[str, Any]] | None, *, fallback_text: str | None = None,
                    raw: bool = False) -> None:
    """One ``st.chat_message`` per message; ``fallback_text`` (flattened text) when no messages were kept."""
    if not messages:
        if fallback_text:
            st.code(fallback_text, language=None, wrap_lines=True)
        else:
            st.caption("not captured")
        return
    for message in messages:
        role = str(message.get("role") or "user")
        with st.chat_message(role, avatar=_AVATARS.get(role)):
            if message.get("name"):
                st.caption(str(message["name"]))
            for part in message.get("parts") or ():
                _render_part(part, raw)
            if message.get("finish_reason"):
                st.caption(f"finish reason: {message['finish_reason']}")


def span_label(span: Mapping[str, Any], depth: int = 0) -> str:
    status = " · error" if span.get("status") == "error" else ""
    return (
        f"{'— ' * depth}{span.get('kind') or 'other'} · {span.get('name') or '(unnamed)'} · "
        f"{format_duration_ms(span.get('duration_ms'))}{status}"
    )


def _details(span: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("span_id", "parent_span_id", "start_time", "end_time", "service", "environment", "release",
            "tenant", "user", "session", "operation", "prompt_name", "prompt_version", "convention",
            "tags", "metadata", "attributes")
    return {key: span[key] for key in keys if span.get(key) not in (None, "", [], {})}


def render_llm_span(span: Mapping[str, Any], *, raw: bool = False) -> None:
    """An LLM call: model and usage, the conversation in and out, everything else in an expander."""
    with st.container(border=True):
        model = span.get("model") or "unknown model"
        provider = f" · {span['provider']}" if span.get("provider") else ""
        st.markdown(f"**{span.get('name') or 'llm call'}** · `{model}`{provider}")
        if span.get("status") == "error":
            st.error(span.get("status_message") or "this call failed", icon=":material/error:")
        cols = st.columns(5)
        cols[0].metric("Duration", format_duration_ms(span.get("duration_ms")))
        cols[1].metric("First token", format_duration_ms(span.get("time_to_first_token_ms")))
        cols[2].metric("Input tokens", format_count(span.get("input_tokens")),
                       help=f"cache read {format_count(span.get('cache_read_tokens'))}, "
                            f"cache write {format_count(span.get('cache_write_tokens'))}")  # fmt: skip
        cols[3].metric("Output tokens", format_count(span.get("output_tokens")),
                       help=f"reasoning {format_count(span.get('reasoning_tokens'))}")
        cols[4].metric("Cost", format_usd(span.get("cost_usd"), compact=True),
                       help=f"{format_usd(span.get('cost_usd'))}, {span.get('cost_source') or MISSING}")
        if span.get("params"):
            st.caption("params: " + ", ".join(f"`{k}={v}`" for k, v in span["params"].items()))
        st.markdown("**Input**")
        render_messages(span.get("input_messages"), fallback_text=span.get("input_text"), raw=raw)
        st.markdown("**Output**")
        render_messages(span.get("output_messages"), fallback_text=span.get("output_text"), raw=raw)
        with st.expander("Attributes"):
            st.json(_details(span), expanded=True)


def render_span_details(span: Mapping[str, Any]) -> None:
    """Any other span: its status, its input and output text if captured, then its attributes."""
    if span.get("status") == "error":
        st.error(span.get("status_message") or "this span failed", icon=":material/error:")
    for label, key in (("Input", "input_text"), ("Output", "output_text")):
        if span.get(key):
            st.markdown(f"**{label}**")
            st.code(str(span[key]), language=None, wrap_lines=True)
    st.json(_details(span), expanded=False)
