"""Storage rows -> the API's JSON shapes (DESIGN section 6; pure)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from tracehouse.storage import MetricsRow

from .timefmt import format_time


# The keys of span_json, in order (export schemas are built from it).
SPAN_FIELDS = (
    "trace_id", "span_id", "parent_span_id", "name", "kind", "status", "status_message", "start_time", "end_time",
    "duration_ms", "time_to_first_token_ms", "service", "environment", "release", "tenant", "user", "session",
    "provider", "model", "request_model", "operation", "input_tokens", "output_tokens", "cache_read_tokens",
    "cache_write_tokens", "reasoning_tokens", "cost_usd", "cost_input_usd", "cost_output_usd", "cost_cache_usd",
    "reported_cost_usd", "cost_source", "input_messages", "output_messages", "input_text", "output_text",
    "finish_reason", "params", "prompt_name", "prompt_version", "tags", "metadata", "attributes", "resource",
    "events", "links", "scope", "convention", "redacted",
)


def span_json(row: dict[str, Any]) -> dict[str, Any]:
    """One span in the contract's field names (plus extensions), times as RFC 3339."""
    return {
        "trace_id": row["trace_id"],
        "span_id": row["span_id"],
        "parent_span_id": row["parent_span_id"] or None,
        "name": row["name"],
        "kind": row["kind"],
        "status": row["status"],
        "status_message": row["status_message"],
        "start_time": format_time(row["start_time_ns"]),
        "end_time": format_time(row["end_time_ns"]),
        "duration_ms": row["duration_ms"],
        "time_to_first_token_ms": row["time_to_first_token_ms"],
        "service": row["service"],
        "environment": row["environment"],
        "release": row["release"],
        "tenant": row["tenant"],
        "user": row["user"],
        "session": row["session"],
        "provider": row["provider"],
        "model": row["model"],
        "request_model": row["request_model"],
        "operation": row["operation"],
        "input_tokens": row["input_tokens"],
        "output_tokens": row["output_tokens"],
        "cache_read_tokens": row["cache_read_tokens"],
        "cache_write_tokens": row["cache_write_tokens"],
        "reasoning_tokens": row["reasoning_tokens"],
        "cost_usd": row["cost_usd"],
        "cost_input_usd": row["cost_input_usd"],
        "cost_output_usd": row["cost_output_usd"],
        "cost_cache_usd": row["cost_cache_usd"],
        "reported_cost_usd": row["reported_cost_usd"],
        "cost_source": row["cost_source"],
        "input_messages": row["input_messages"],
        "output_messages": row["output_messages"],
        "input_text": row["input_text"],
        "output_text": row["output_text"],
        "finish_reason": row["finish_reason"],
        "params": row["params"],
        "prompt_name": row["prompt_name"],
        "prompt_version": row["prompt_version"],
        "tags": list(row["tags"]),
        "metadata": row["metadata"],
        "attributes": row["attributes"],
        "resource": row["resource"],
        "events": row["events"],
        "links": row["links"],
        "scope": row["scope"],
        "convention": row["convention"],
        "redacted": bool(row["redacted"]),
    }


def trace_summary_json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "trace_id": row["trace_id"],
        "name": row["name"],
        "start_time": format_time(row["start_ns"]),
        "duration_ms": float(row["duration_ms"]),
        "span_count": int(row["span_count"]),
        "llm_calls": int(row["llm_calls"]),
        "status": "error" if row["has_error"] else "ok",
        "tenant": row["tenant"],
        "user": row["user"],
        "session": row["session"],
        "models": sorted(row["models"]),
        "input_tokens": int(row["input_tokens"]),
        "output_tokens": int(row["output_tokens"]),
        "cost_usd": float(row["cost_usd"]),
        "input_preview": row["input_preview"],
        "output_preview": row["output_preview"],
    }


def metrics_json(row: MetricsRow) -> dict[str, Any]:
    return {
        "time": format_time(row.time_ns),
        "group": row.group,
        "spans": row.spans,
        "errors": row.errors,
        "error_rate": row.errors / row.spans if row.spans else 0.0,
        "latency_p50_ms": row.latency_p50_ms,
        "latency_p95_ms": row.latency_p95_ms,
        "latency_p99_ms": row.latency_p99_ms,
        "input_tokens": row.input_tokens,
        "output_tokens": row.output_tokens,
        "cost_usd": row.cost_usd,
    }


def plain_json(row: dict[str, Any]) -> dict[str, Any]:
    """A storage row with its datetimes (UTC, naive from ClickHouse) as RFC 3339 strings."""
    return {k: (v.replace(tzinfo=timezone.utc).isoformat().replace("+00:00", "Z") if isinstance(v, datetime) else v)
            for k, v in row.items()}
