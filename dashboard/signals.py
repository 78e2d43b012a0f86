"""Quality signals of LLM calls: errors, refusals, content filtering, truncation, empty answers. Pure.

The metrics API counts errors but not finish reasons or refusals, so these are computed here from a sample of
LLM spans (the newest in the window; the page says how many). Each call gets one signal, the first that
applies in ``SIGNALS`` order, so the shares add up to 100%:

    error           the span's status is error (the provider or the app failed)
    content filter  finish reason content_filter / safety / blocked / recitation
    refusal         the answer reads like a refusal ("I'm sorry, but I can't help with that")
    truncated       finish reason length / max_tokens (the answer hit the token limit)
    empty           no output text and no tool call
    ok              none of the above
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Mapping

import pandas as pd

from .formatting import format_prompt

__all__ = [
    "FAILURE_SIGNALS",
    "INTERVAL_FREQ",
    "SIGNALS",
    "SIGNAL_FRAME_COLUMNS",
    "classify_call",
    "signal_rates",
    "signals_frame",
    "signals_over_time",
]

SIGNALS = ("error", "content filter", "refusal", "truncated", "empty", "ok")
FAILURE_SIGNALS = SIGNALS[:-1]
SIGNAL_FRAME_COLUMNS = ("start_time", "trace_id", "span_id", "model", "prompt", "prompt_version", "finish_reason",
                        "signal")
INTERVAL_FREQ = {"minute": "min", "hour": "h", "day": "D"}

_FILTERED = frozenset({"content_filter", "safety", "blocked", "recitation", "prohibited_content", "spii"})
_TRUNCATED = frozenset({"length", "max_tokens", "max_output_tokens", "token_limit"})
# Openings of a refusal, in the first sentence of the answer; deliberately narrow (precision over recall).
_A = "['’]"  # straight or curly apostrophe
_REFUSAL = re.compile(
    rf"^\W*(?:(?:i{_A}?m\s+|i am\s+)?(?:so\s+|very\s+|really\s+)?sorry,?\s+(?:but\s+)?)?"
    rf"(?:i\s+(?:can(?:no|{_A})t|won{_A}?t|will not|am (?:not able|unable) to)|i{_A}?m\s+(?:not able|unable)\s+to)"
    r"\s+(?:help|assist|comply|provide|do that|answer|fulfil)",
    re.IGNORECASE,
)


def _finish_reason(span: Mapping[str, Any]) -> str:
    reason = span.get("finish_reason")
    if not reason:
        reason = next((m.get("finish_reason") for m in span.get("output_messages") or () if m.get("finish_reason")),
                      "")
    return str(reason or "").lower()


def _has_tool_call(span: Mapping[str, Any]) -> bool:
    return any(p.get("type") == "tool_call" for m in span.get("output_messages") or () for p in m.get("parts") or ())


def classify_call(span: Mapping[str, Any]) -> str:
    """The one signal of an LLM call (see the module docstring)."""
    if span.get("status") == "error":
        return "error"
    reason = _finish_reason(span)
    if reason in _FILTERED:
        return "content filter"
    text = str(span.get("output_text") or "").strip()
    if text and _REFUSAL.match(text):
        return "refusal"
    if reason in _TRUNCATED:
        return "truncated"
    if not text and not _has_tool_call(span):
        return "empty"
    return "ok"


def _prompt(span: Mapping[str, Any]) -> str:
    return format_prompt(span.get("prompt_name"), span.get("prompt_version")) or "(no prompt)"


def signals_frame(spans: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """LLM spans -> one row per call with its ``signal``, ``SIGNAL_FRAME_COLUMNS``; other kinds are skipped."""
    rows = [{
        "start_time": s.get("start_time"), "trace_id": s.get("trace_id"), "span_id": s.get("span_id"),
        "model": s.get("model") or "(unknown)", "prompt": _prompt(s), "prompt_version": s.get("prompt_version") or "",
        "finish_reason": _finish_reason(s) or "(none)", "signal": classify_call(s),
    } for s in spans if s.get("kind") == "llm"]  # fmt: skip
    df = pd.DataFrame.from_records(rows, columns=list(SIGNAL_FRAME_COLUMNS))
    df["start_time"] = pd.to_datetime(df["start_time"], utc=True, format="ISO8601")
    return df


def signal_rates(df: pd.DataFrame, by: str) -> pd.DataFrame:
    """Per group of column ``by``: ``calls`` and, per signal, the share of calls (0..1), most calls first.

    Columns: ``group``, ``calls``, then one column per entry of ``SIGNALS``.
    """
    if df.empty:
        return pd.DataFrame(columns=["group", "calls", *SIGNALS]).astype({"calls": "int64"})
    counts = pd.crosstab(df[by], df["signal"]).reindex(columns=list(SIGNALS), fill_value=0)
    calls = counts.sum(axis=1)
    rates = counts.div(calls, axis=0)
    rates.insert(0, "calls", calls.astype("int64"))
    rates = rates.rename_axis("group").reset_index()
    rates.columns.name = None
    return rates.sort_values(["calls", "group"], ascending=[False, True], kind="stable").reset_index(drop=True)


def signals_over_time(df: pd.DataFrame, interval: str) -> pd.DataFrame:
    """Per time bucket (``interval``: minute, hour or day) and signal: ``count``, ``calls`` and ``rate``."""
    columns = ["time", "signal", "count", "calls", "rate"]
    if df.empty:
        return pd.DataFrame(columns=columns)
    freq = INTERVAL_FREQ.get(interval, "h")
    times = df["start_time"].dt.floor(freq)
    counts = pd.crosstab(times, df["signal"]).reindex(columns=list(SIGNALS), fill_value=0)
    calls = counts.sum(axis=1)
    long = counts.stack().rename("count").reset_index()
    long.columns = ["time", "signal", "count"]
    long["calls"] = long["time"].map(calls).astype("int64")
    long["rate"] = long["count"] / long["calls"]
    return long[columns].sort_values(["time", "signal"], kind="stable").reset_index(drop=True)
