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

from .formatting import format_version

__all__ = [
    "CLUSTER_COLUMNS",
    "DRIFTED",
    "DRIFT_SIGNAL_COLUMNS",
    "METRIC_COLUMNS",
    "SPAN_COLUMNS",
    "TRACE_COLUMNS",
    "TRACE_SORTS",
    "MetricsSummary",
    "SpanNode",
    "TraceFilter",
    "TraceSummary",
    "clusters_to_frame",
    "compare_summaries",
    "deltas_to_frame",
    "drift_signals_to_frame",
    "filter_traces",
    "metrics_by_group",
    "metrics_to_frame",
    "span_tree",
    "span_tree_frame",
    "spans_to_frame",
    "summarize_metrics",
    "summarize_trace",
    "sort_traces",
    "trace_labels",
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


def metrics_by_group(df: pd.DataFrame) -> pd.DataFrame:
    """Per group of a metrics frame: spans, errors, error rate, span-weighted p95, tokens and cost per span;
    busiest group first. The blank group is labelled "(none)"."""
    columns = ["group", "spans", "errors", "error_rate", "latency_p95_ms", "tokens_per_span", "cost_per_span",
               "cost_usd"]
    rows = []
    for group, rows_of in df.groupby("group", sort=True):
        s = summarize_metrics(rows_of)
        rows.append({
            "group": group or "(none)", "spans": s.spans, "errors": s.errors, "error_rate": s.error_rate,
            "latency_p95_ms": s.latency_p95_ms, "tokens_per_span": s.tokens / s.spans if s.spans else math.nan,
            "cost_per_span": s.cost_usd / s.spans if s.spans else math.nan, "cost_usd": s.cost_usd,
        })  # fmt: skip
    out = pd.DataFrame(rows, columns=columns)
    return out.sort_values(["spans", "group"], ascending=[False, True], kind="stable").reset_index(drop=True)


def compare_summaries(baseline: MetricsSummary, current: MetricsSummary) -> pd.DataFrame:
    """Two windows side by side: ``metric``, ``unit`` (count, percent, ms or usd: see ``format_value``),
    ``baseline``, ``current``, ``change`` (relative, NaN when the baseline is 0 or missing). Per-span figures,
    so windows of different traffic compare fairly."""
    def per_span(total: float, s: MetricsSummary) -> float:
        return total / s.spans if s.spans else math.nan

    pairs = [
        ("spans", "count", float(baseline.spans), float(current.spans)),
        ("error rate", "percent", baseline.error_rate, current.error_rate),
        ("p95 latency", "ms", baseline.latency_p95_ms, current.latency_p95_ms),
        ("tokens per span", "count", per_span(baseline.tokens, baseline), per_span(current.tokens, current)),
        ("cost per span", "usd", per_span(baseline.cost_usd, baseline), per_span(current.cost_usd, current)),
    ]
    rows = [{"metric": name, "unit": unit, "baseline": b, "current": c,
             "change": (c - b) / b if b and not math.isnan(b) and not math.isnan(c) else math.nan}
            for name, unit, b, c in pairs]
    return pd.DataFrame(rows, columns=["metric", "unit", "baseline", "current", "change"])


@dataclass(frozen=True)
class TraceFilter:
    """Client-side filters over a page of trace summaries; ``None`` or blank means "any"."""

    min_ms: float | None = None
    max_ms: float | None = None
    min_cost: float | None = None
    max_cost: float | None = None
    tag: str = ""
    prompt: str = ""

    @property
    def needs_labels(self) -> bool:
        """Tags and prompts are not in trace summaries: filtering on them needs the page's spans."""
        return bool(self.tag or self.prompt)

    @property
    def active(self) -> bool:
        return any(v not in (None, "") for v in (self.min_ms, self.max_ms, self.min_cost, self.max_cost,
                                                  self.tag, self.prompt))


def trace_labels(spans: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Spans -> per trace the union of its spans' ``tags`` and ``prompts`` ("name vversion"), sorted lists."""
    tags: dict[str, set[str]] = defaultdict(set)
    prompts: dict[str, set[str]] = defaultdict(set)
    for s in spans:
        trace_id = str(s.get("trace_id") or "")
        tags[trace_id].update(str(t) for t in s.get("tags") or ())
        name, version = s.get("prompt_name") or "", s.get("prompt_version") or ""
        if name or version:
            prompts[trace_id].add(f"{name} {format_version(version)}".strip() if version else str(name))
    ids = sorted(tags)  # every trace seen, with or without tags and prompts
    return pd.DataFrame({"trace_id": ids, "tags": [sorted(tags[i]) for i in ids],
                         "prompts": [sorted(prompts[i]) for i in ids]})


def filter_traces(df: pd.DataFrame, f: TraceFilter) -> pd.DataFrame:
    """Rows of a trace frame that pass ``f``. Tag and prompt filters need ``tags``/``prompts`` list columns
    (``trace_labels`` joined on ``trace_id``) and match case-insensitively on a substring ("v2" finds
    "support-answer v2")."""
    keep = pd.Series(True, index=df.index)
    if f.min_ms is not None:
        keep &= df["duration_ms"] >= f.min_ms
    if f.max_ms is not None:
        keep &= df["duration_ms"] <= f.max_ms
    cost = df["cost_usd"].fillna(0.0)
    if f.min_cost is not None:
        keep &= cost >= f.min_cost
    if f.max_cost is not None:
        keep &= cost <= f.max_cost
    for column, needle in (("tags", f.tag), ("prompts", f.prompt)):
        needle = needle.strip().lower()
        if needle:
            values = df[column] if column in df.columns else pd.Series([[]] * len(df), index=df.index)
            keep &= values.map(lambda items: any(needle in str(v).lower() for v in (items or ())))
    return df[keep].reset_index(drop=True)


# sort order -> (column, ascending); "newest" is the API's own order. The keys are what the Traces page shows
# and writes into the URL (``?sort=slowest``).
TRACE_SORTS: dict[str, tuple[str, bool]] = {
    "newest": ("start_time", False),
    "oldest": ("start_time", True),
    "slowest": ("duration_ms", False),
    "fastest": ("duration_ms", True),
    "costliest": ("cost_usd", False),
    "most tokens": ("total_tokens", False),
    "most spans": ("span_count", False),
}


def sort_traces(df: pd.DataFrame, key: str) -> pd.DataFrame:
    """A trace frame in ``TRACE_SORTS[key]`` order (ties keep the API's newest-first order; an unknown key
    means newest first)."""
    column, ascending = TRACE_SORTS.get(key, TRACE_SORTS["newest"])
    values = df["input_tokens"] + df["output_tokens"] if column == "total_tokens" else df[column]
    order = values.reset_index(drop=True).sort_values(ascending=ascending, kind="stable", na_position="last").index
    return df.reset_index(drop=True).iloc[order].reset_index(drop=True)


CLUSTER_COLUMNS = ("cluster_id", "label", "size", "failure_rate", "lift", "top_failure_reasons", "examples", "x", "y")
DRIFT_SIGNAL_COLUMNS = ("name", "statistic", "p_value", "effect_size", "verdict", "n_baseline", "n_current")
DRIFTED = "drift"  # the verdict of a drifted signal; the others are no_drift and insufficient_data


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, (list, tuple)):
        return list(value)
    return [] if value is None else [value]


def clusters_to_frame(clusters: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """The ``clusters`` of a clustering run -> ``CLUSTER_COLUMNS``, highest failure lift first; reasons and
    examples are lists (empty when missing); ``x, y``, the cluster's place on the 2-D map, NaN when missing."""
    df = pd.DataFrame.from_records([{c: item.get(c) for c in CLUSTER_COLUMNS} for item in clusters],
                                   columns=list(CLUSTER_COLUMNS))
    for col in ("size", "failure_rate", "lift", "x", "y"):
        df[col] = pd.to_numeric(df[col], errors="coerce").astype("float64")
    df["label"] = [str(v) if isinstance(v, str) and v else f"cluster {c}"
                   for v, c in zip(df["label"], df["cluster_id"])]
    df["top_failure_reasons"] = [[str(r) for r in _as_list(v)] for v in df["top_failure_reasons"]]
    df["examples"] = [_as_list(v) for v in df["examples"]]
    return df.sort_values("lift", ascending=False, kind="stable", na_position="last").reset_index(drop=True)


def drift_signals_to_frame(signals: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """The ``signals`` of a drift run -> ``DRIFT_SIGNAL_COLUMNS``, drifted signals first, then by p-value."""
    df = pd.DataFrame.from_records([{c: item.get(c) for c in DRIFT_SIGNAL_COLUMNS} for item in signals],
                                   columns=list(DRIFT_SIGNAL_COLUMNS))
    for col in ("statistic", "p_value", "effect_size"):
        df[col] = pd.to_numeric(df[col], errors="coerce").astype("float64")
    for col in ("n_baseline", "n_current"):
        df[col] = pd.to_numeric(df[col], errors="coerce").fillna(0).astype("int64")
    df["verdict"] = df["verdict"].fillna("").astype(str)
    df["name"] = df["name"].fillna("").astype(str)
    drifted = df["verdict"].str.lower() == DRIFTED
    df = df.assign(_drifted=drifted).sort_values(["_drifted", "p_value"], ascending=[False, True], kind="stable",
                                                 na_position="last")
    return df.drop(columns="_drifted").reset_index(drop=True)


def deltas_to_frame(deltas: Any) -> pd.DataFrame:
    """The ``deltas`` of a compare answer -> one row per metric. A mapping of numbers gives ``metric, delta``;
    a mapping of mappings (``{"latency_ms": {"a": .., "b": .., "delta": ..}}``) or a list of records gives one
    column per field. Anything else gives an empty frame."""
    if isinstance(deltas, Mapping):
        if all(isinstance(v, Mapping) for v in deltas.values()):
            rows = [{"metric": str(k), **dict(v)} for k, v in deltas.items()]
        else:
            rows = [{"metric": str(k), "delta": v} for k, v in deltas.items()]
    elif isinstance(deltas, (list, tuple)) and all(isinstance(v, Mapping) for v in deltas):
        rows = [dict(v) for v in deltas]
    else:
        rows = []
    return pd.DataFrame.from_records(rows)
