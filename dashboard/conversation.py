"""Sessions: recent sessions from trace summaries, and one session's LLM calls as a single conversation. Pure.

A chat app resends the whole history with every call, so a session of ten turns holds the first user message
ten times. ``transcript`` shows each message once: for every LLM call (in start order) it keeps only the input
messages the conversation has not shown yet, then the call's output. When a call's input does not continue
the conversation so far (another agent, a trimmed or summarized history), the messages after its last
assistant message are shown as new, and the conversation restarts from that call.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import pandas as pd

from .frames import spans_to_frame, traces_to_frame

__all__ = [
    "SESSION_COLUMNS",
    "SessionSummary",
    "Turn",
    "TurnCall",
    "sessions_from_traces",
    "summarize_session",
    "transcript",
]

SESSION_COLUMNS = (
    "session", "user", "tenant", "first_seen", "last_seen", "traces", "llm_calls", "errors",
    "input_tokens", "output_tokens", "cost_usd", "first_input",
)  # fmt: skip

Message = Mapping[str, Any]


def sessions_from_traces(traces: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Trace summaries -> one row per session (traces without a session are left out), newest activity first.

    Derived from the summaries the caller fetched, so a session that began before them shows only its part.
    """
    df = traces_to_frame(traces)
    df = df[df["session"].fillna("") != ""]
    if df.empty:
        return pd.DataFrame(columns=list(SESSION_COLUMNS)).astype({"traces": "int64", "cost_usd": "float64"})
    df = df.sort_values("start_time", kind="stable")
    # Blank text as missing, so ``first()`` (which skips missing values) finds each session's first non-blank.
    texts = {col: df[col].where(df[col].fillna("") != "") for col in ("user", "tenant", "input_preview")}
    df = df.assign(**texts, is_error=df["status"] == "error")
    grouped = df.groupby("session", sort=False)  # vectorized: a page of 1,000 traces is ~1,000 sessions
    out = pd.DataFrame({
        "user": grouped["user"].first(),
        "tenant": grouped["tenant"].first(),
        "first_seen": grouped["start_time"].min(),
        "last_seen": grouped["start_time"].max(),
        "traces": grouped.size(),
        "llm_calls": grouped["llm_calls"].sum(),
        "errors": grouped["is_error"].sum().astype("int64"),
        "input_tokens": grouped["input_tokens"].sum(),
        "output_tokens": grouped["output_tokens"].sum(),
        "cost_usd": grouped["cost_usd"].sum(min_count=1),
        "first_input": grouped["input_preview"].first(),
    }).reset_index()  # fmt: skip
    out[["user", "tenant", "first_input"]] = out[["user", "tenant", "first_input"]].fillna("")
    return out[list(SESSION_COLUMNS)].sort_values("last_seen", ascending=False, kind="stable").reset_index(drop=True)


@dataclass(frozen=True)
class TurnCall:
    """One LLM call of a turn: the messages it added to the conversation, and its output."""

    span: Mapping[str, Any]
    new_messages: tuple[Message, ...]
    output_messages: tuple[Message, ...]
    system: str | None  # the system prompt, when it is new to the conversation (first call, or it changed)


@dataclass(frozen=True)
class Turn:
    """One trace of the session (usually one user request), with its LLM calls in start order."""

    trace_id: str
    start_time: pd.Timestamp | None
    calls: tuple[TurnCall, ...] = field(default_factory=tuple)

    @property
    def cost_usd(self) -> float:
        return float(sum(c.span.get("cost_usd") or 0.0 for c in self.calls))

    @property
    def errors(self) -> int:
        return sum(c.span.get("status") == "error" for c in self.calls)


def _key(message: Message) -> str:
    return json.dumps({"role": message.get("role"), "parts": message.get("parts")}, sort_keys=True, default=str)


def _text_of(message: Message) -> str:
    return "\n".join(str(p.get("content") or "") for p in message.get("parts") or () if p.get("type") == "text")


def _split_system(messages: Sequence[Message]) -> tuple[str | None, list[Message]]:
    system = [m for m in messages if m.get("role") in ("system", "developer")]
    rest = [m for m in messages if m.get("role") not in ("system", "developer")]
    return ("\n\n".join(_text_of(m) for m in system) or None), rest


def _start(span: Mapping[str, Any]) -> pd.Timestamp:
    value = span.get("start_time")
    return pd.Timestamp(value) if value else pd.Timestamp.max.tz_localize("UTC")


def _fallback_messages(span: Mapping[str, Any], role: str) -> tuple[Message, ...]:
    """A span recorded without structured messages: its flattened text as one message, if any."""
    text = span.get("input_text" if role == "user" else "output_text")
    return ({"role": role, "parts": [{"type": "text", "content": text}]},) if text else ()


def transcript(spans: Iterable[Mapping[str, Any]]) -> list[Turn]:
    """The LLM calls among ``spans`` (any order, any kinds) as turns, one per trace, in start order."""
    llm = sorted((s for s in spans if s.get("kind") == "llm"), key=_start)
    conversation: list[str] = []  # keys of the messages shown so far, system prompts left out
    system_shown: str | None = None
    calls_by_trace: dict[str, list[TurnCall]] = {}
    starts: dict[str, pd.Timestamp] = {}
    for span in llm:
        system, inputs = _split_system(span.get("input_messages") or _fallback_messages(span, "user"))
        keys = [_key(m) for m in inputs]
        if keys[: len(conversation)] == conversation:
            new = inputs[len(conversation):]
        else:
            last_assistant = max((i for i, m in enumerate(inputs) if m.get("role") == "assistant"), default=-1)
            new = inputs[last_assistant + 1:]
        outputs = tuple(span.get("output_messages") or _fallback_messages(span, "assistant"))
        conversation = keys + [_key(m) for m in outputs]
        new_system = system if system and system != system_shown else None
        system_shown = system or system_shown
        trace_id = str(span.get("trace_id") or "")
        calls_by_trace.setdefault(trace_id, []).append(TurnCall(span, tuple(new), outputs, new_system))
        starts.setdefault(trace_id, _start(span))
    turns = [Turn(tid, starts[tid], tuple(calls)) for tid, calls in calls_by_trace.items()]
    return sorted(turns, key=lambda t: t.start_time)


@dataclass(frozen=True)
class SessionSummary:
    turns: int
    llm_calls: int
    errors: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
    duration_ms: float
    user: str
    tenant: str
    models: tuple[str, ...]


def summarize_session(spans: Sequence[Mapping[str, Any]]) -> SessionSummary:
    """Totals over every span of a session (all kinds), wall clock from the first start to the last end."""
    df = spans_to_frame(spans)
    if df.empty:
        return SessionSummary(0, 0, 0, 0, 0, 0.0, 0.0, "", "", ())
    start, end = df["start_time"].min(), df["end_time"].max()
    first = lambda col: next((str(v) for v in df[col] if isinstance(v, str) and v), "")  # noqa: E731
    return SessionSummary(
        turns=int(df["trace_id"].nunique()),
        llm_calls=int((df["kind"] == "llm").sum()),
        errors=int((df["status"] == "error").sum()),
        input_tokens=int(df["input_tokens"].sum()),
        output_tokens=int(df["output_tokens"].sum()),
        cost_usd=float(df["cost_usd"].fillna(0).sum()),
        duration_ms=(end - start).total_seconds() * 1000 if pd.notna(start) and pd.notna(end) else 0.0,
        user=first("user"),
        tenant=first("tenant"),
        models=tuple(sorted({m for m in df["model"] if isinstance(m, str) and m})),
    )
