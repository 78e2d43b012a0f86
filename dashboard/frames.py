"""API JSON -> pandas DataFrames and small summaries. Pure: no Streamlit, no I/O.

Every frame has a fixed set of columns, present even when the API returned no rows, so pages and figure
builders never test for missing columns. Times become timezone-aware UTC timestamps; counts become integers
(a missing count is 0); latencies and rates stay floats where NaN means "no data".
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, NamedTuple, Sequence

import pandas as pd

__all__ = [
    "METRIC_COLUMNS",
    "SPAN_COLUMNS",
    "TRACE_COLUMNS",
    "MetricsSummary",
    "SpanNode",
    "TraceSummary",
    "metrics_to_frame",
    "span_tree",
    "span_tree_frame",
    "spans_to_frame",
    "summarize_metrics",
    "summarize_trace",
    "traces_to_frame",
]

SPAN_COLUMNS = (
    "trace_id", "span_id", "parent_span_id", "name", "kind", "status", "status_message",
    "start_time", "end_time", "duration_ms", "time_to_first_token_ms",
    "service", "environment", "release", "tenant", "user", "session",
    "provider", "model", "operation", "finish_reason", "prompt_name", "prompt_version",
    "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens",
    "cost_usd", "cost_source", "input_text", "output_text",
)  # fmt: skip
TRACE_COLUMNS = (
    "trace_id", "name", "start_time", "duration_ms", "span_count", "llm_calls", "status",
    "tenant", "user", "session", "models", "input_tokens", "output_tokens", "cost_usd",
    "input_preview", "output_preview",
)  # fmt: skip
METRIC_COLUMNS = (
    "time", "group", "spans", "errors", "error_rate", "latency_p50_ms", "latency_p95_ms", "latency_p99_ms",
    "input_tokens", "output_tokens", "cost_usd",
)  # fmt: skip

_TIMES = ("start_time", "end_time", "time")
_COUNTS = (
    "spans", "errors", "span_count", "llm_calls",
    "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens",
)  # fmt: skip
_FLOATS = ("duration_ms", "time_to_first_token_ms", "error_rate", "latency_p50_ms", "latency_p95_ms",
           "latency_p99_ms", "cost_usd")


def _frame(rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> pd.DataFrame:
    df = pd.DataFrame.from_records([{c: row.get(c) for c in columns} for row in rows], columns=list(columns))
    for col in df.columns:
        if col in _TIMES:
            df[col] = pd.to_datetime(df[col], utc=True, format="ISO8601")
        elif col in _COUNTS:
            df[col] = pd.to_numeric(df[col], errors="coerce").fillna(0).astype("int64")
        elif col in _FLOATS:
            df[col] = pd.to_numeric(df[col], errors="coerce").astype("float64")
    return df


def spans_to_frame(spans: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Span JSON objects -> one row per span, ``SPAN_COLUMNS`` (nested JSON such as messages stays out)."""
    return _frame(spans, SPAN_COLUMNS)


def traces_to_frame(traces: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Trace summaries from ``GET /api/v1/traces`` -> one row per trace, ``TRACE_COLUMNS``."""
    df = _frame(traces, TRACE_COLUMNS)
    df["models"] = [list(m) if isinstance(m, (list, tuple)) else [] for m in df["models"]]
    return df


def metrics_to_frame(items: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Metric buckets (the ``items`` of ``GET /api/v1/metrics``) -> rows sorted by time then group.

    ``group`` is a string, "" when the request had no ``group_by`` (or the span had no value for it).
    """
    df = _frame(items, METRIC_COLUMNS)
    df["group"] = df["group"].fillna("").astype(str)
    return df.sort_values(["time", "group"], kind="stable").reset_index(drop=True)


@dataclass(frozen=True)
class MetricsSummary:
    spans: int
    errors: int
    error_rate: float  # NaN without spans
    latency_p95_ms: float  # span-weighted mean of the buckets' p95: the API serves no whole-window percentile
    cost_usd: float
    input_tokens: int
    output_tokens: int

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens


def summarize_metrics(df: pd.DataFrame) -> MetricsSummary:
    """Totals over a metrics frame (any grouping): exact sums and error rate, an approximate p95."""
    spans = int(df["spans"].sum())
    errors = int(df["errors"].sum())
    timed = df[df["latency_p95_ms"].notna() & (df["spans"] > 0)]
    weight = timed["spans"].sum()
    p95 = float((timed["latency_p95_ms"] * timed["spans"]).sum() / weight) if weight else math.nan
    return MetricsSummary(
        spans=spans,
        errors=errors,
        error_rate=errors / spans if spans else math.nan,
        latency_p95_ms=p95,
        cost_usd=float(df["cost_usd"].fillna(0).sum()),
        input_tokens=int(df["input_tokens"].sum()),
        output_tokens=int(df["output_tokens"].sum()),
    )


class SpanNode(NamedTuple):
    span: Mapping[str, Any]
    depth: int


def _start_ns(span: Mapping[str, Any]) -> int:
    value = span.get("start_time")
    if not value:
        return 2**63 - 1  # undated spans sort last
    return pd.Timestamp(value).value


def span_tree(spans: Iterable[Mapping[str, Any]]) -> list[SpanNode]:
    """Spans in depth-first tree order (siblings by start time), each with its depth (roots are 0).

    A span whose parent is not in the trace (not received yet, or dropped) is shown as a root rather than
    hidden; spans caught in a parent cycle, which valid data never has, are appended as roots too.
    """
    spans = sorted(spans, key=_start_ns)
    ids = {s.get("span_id") for s in spans}
    children: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    roots = []
    for s in spans:
        parent = s.get("parent_span_id")
        if parent and parent in ids and parent != s.get("span_id"):
            children[parent].append(s)
        else:
            roots.append(s)

    ordered: list[SpanNode] = []
    seen: set[int] = set()

    def walk(start: Mapping[str, Any]) -> None:
        stack = [(start, 0)]
        while stack:
            span, depth = stack.pop()
            if id(span) in seen:
                continue
            seen.add(id(span))
            ordered.append(SpanNode(span, depth))
            stack.extend((child, depth + 1) for child in reversed(children.get(span.get("span_id"), [])))

    for root in roots:
        walk(root)
    for span in spans:
        if id(span) not in seen:
            walk(span)
    return ordered


def span_tree_frame(spans: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """``spans_to_frame`` rows in ``span_tree`` order, plus ``depth`` and ``offset_ms`` (from the trace's
    first start); ``duration_ms`` falls back to end - start when the API left it out."""
    nodes = span_tree(spans)
    df = spans_to_frame(node.span for node in nodes)
    df["depth"] = pd.Series([node.depth for node in nodes], dtype="int64")
    df["offset_ms"] = (df["start_time"] - df["start_time"].min()).dt.total_seconds() * 1000
    measured = (df["end_time"] - df["start_time"]).dt.total_seconds() * 1000
    df["duration_ms"] = df["duration_ms"].fillna(measured)
    return df


@dataclass(frozen=True)
class TraceSummary:
    name: str
    start_time: pd.Timestamp | None
    duration_ms: float
    spans: int
    llm_calls: int
    errors: int
    input_tokens: int
    output_tokens: int
    cost_usd: float


def summarize_trace(spans: Sequence[Mapping[str, Any]]) -> TraceSummary:
    """Headline numbers for one trace: wall-clock duration from first start to last end, and totals."""
    df = spans_to_frame(spans)
    if df.empty:
        return TraceSummary("", None, 0.0, 0, 0, 0, 0, 0, 0.0)
    roots = [node.span for node in span_tree(spans) if node.depth == 0]
    start, end = df["start_time"].min(), df["end_time"].max()
    duration = (end - start).total_seconds() * 1000 if pd.notna(start) and pd.notna(end) else 0.0
    return TraceSummary(
        name=str(roots[0].get("name") or "") if roots else "",
        start_time=start if pd.notna(start) else None,
        duration_ms=duration,
        spans=len(df),
        llm_calls=int((df["kind"] == "llm").sum()),
        errors=int((df["status"] == "error").sum()),
        input_tokens=int(df["input_tokens"].sum()),
        output_tokens=int(df["output_tokens"].sum()),
        cost_usd=float(df["cost_usd"].fillna(0).sum()),
    )
