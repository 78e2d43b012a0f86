"""SQL text for every read, with server-side parameters only (pure: no client here).

Each builder returns ``(sql, parameters)``. Values always travel as ``{name:Type}`` parameters; the only
identifiers spliced into SQL come from fixed whitelists below, never from callers. Every read is scoped by
``project`` here, so a route cannot forget to filter.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from .errors import InvalidQueryError
from .rows import SELECT_COLUMNS

MAX_LIMIT = 1000
GROUP_BY_COLUMNS = {
    "model": "model", "tenant": "tenant", "provider": "provider", "service": "service",
    "kind": "kind", "status": "status", "environment": "environment", "prompt_version": "prompt_version",
}
# Reads are bounded so one request cannot hold the engine.
READ_SETTINGS = {"max_execution_time": 30}


@dataclass(frozen=True)
class SpanFilter:
    start_ns: int
    end_ns: int
    trace_id: str | None = None
    tenant: str | None = None
    user: str | None = None
    session: str | None = None
    model: str | None = None
    status: str | None = None
    kind: str | None = None
    q: str | None = None


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _where(project: str, f: SpanFilter) -> tuple[list[str], dict[str, Any]]:
    clauses = [
        "project = {project:String}",
        "start_time >= fromUnixTimestamp64Nano({start_ns:Int64}, 'UTC')",
        "start_time < fromUnixTimestamp64Nano({end_ns:Int64}, 'UTC')",
    ]
    params: dict[str, Any] = {"project": project, "start_ns": f.start_ns, "end_ns": f.end_ns}
    for column in ("trace_id", "tenant", "user", "session", "model", "status", "kind"):
        value = getattr(f, column)
        if value:
            clauses.append(f"`{column}` = {{{column}:String}}")
            params[column] = value
    if f.q:
        clauses.append("(input_text ILIKE {q:String} OR output_text ILIKE {q:String})")
        params["q"] = _like_pattern(f.q)
    return clauses, params


def encode_cursor(time_ns: int, key: str) -> str:
    return base64.urlsafe_b64encode(f"{time_ns}:{key}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        time_part, key = raw.split(":", 1)
        return int(time_part), key
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidQueryError(f"invalid cursor {cursor!r}: pass next_cursor from the previous page") from exc


def _limit(limit: int) -> int:
    return max(1, min(int(limit), MAX_LIMIT))


def search_spans(project: str, f: SpanFilter, limit: int, cursor: str | None) -> tuple[str, dict[str, Any]]:
    clauses, params = _where(project, f)
    if cursor:
        params["cursor_ns"], params["cursor_key"] = decode_cursor(cursor)
        clauses.append("(toUnixTimestamp64Nano(start_time), span_id) < ({cursor_ns:Int64}, {cursor_key:String})")
    params["limit"] = _limit(limit)
    sql = (
        f"SELECT {', '.join(SELECT_COLUMNS)} FROM spans WHERE {' AND '.join(clauses)} "
        "ORDER BY start_time DESC, span_id DESC LIMIT 1 BY trace_id, span_id LIMIT {limit:UInt32}"
    )
    return sql, params


def trace_spans(project: str, trace_id: str) -> tuple[str, dict[str, Any]]:
    sql = (
        f"SELECT {', '.join(SELECT_COLUMNS)} FROM spans "
        "WHERE project = {project:String} AND trace_id = {trace_id:String} "
        "ORDER BY start_time, span_id LIMIT 1 BY span_id LIMIT 10000"
    )
    return sql, {"project": project, "trace_id": trace_id}


def list_traces(project: str, f: SpanFilter, limit: int, cursor: str | None) -> tuple[str, dict[str, Any]]:
    """Trace summaries, newest first. Span filters select traces that contain a matching span."""
    base = SpanFilter(start_ns=f.start_ns, end_ns=f.end_ns)
    base_clauses, params = _where(project, base)
    match_clauses, match_params = _where(project, f)
    params.update(match_params)
    having = ["1"]
    if f.status == "error":
        having.append("has_error")
    if cursor:
        params["cursor_ns"], params["cursor_key"] = decode_cursor(cursor)
        having.append("(start_ns, trace_id) < ({cursor_ns:Int64}, {cursor_key:String})")
    params["limit"] = _limit(limit)
    narrowed = len(match_clauses) > len(base_clauses)
    trace_filter = (
        f" AND trace_id IN (SELECT trace_id FROM spans WHERE {' AND '.join(match_clauses)})" if narrowed else ""
    )
    sql = f"""
SELECT
    trace_id,
    argMin(name, (parent_span_id != '', start_time)) AS name,
    toUnixTimestamp64Nano(min(start_time)) AS start_ns,
    (toUnixTimestamp64Nano(max(end_time)) - start_ns) / 1e6 AS duration_ms,
    count() AS span_count,
    countIf(kind = 'llm') AS llm_calls,
    max(status = 'error') AS has_error,
    anyIf(tenant, tenant != '') AS tenant,
    anyIf(user, user != '') AS user,
    anyIf(session, session != '') AS session,
    groupUniqArrayIf(model, model != '') AS models,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    sum(cost_usd) AS cost_usd,
    substring(argMinIf(input_text, start_time, input_text != ''), 1, 240) AS input_preview,
    substring(argMaxIf(output_text, end_time, output_text != ''), 1, 240) AS output_preview
FROM (
    SELECT * FROM spans
    WHERE {' AND '.join(base_clauses)}{trace_filter}
    LIMIT 1 BY trace_id, span_id
)
GROUP BY trace_id
HAVING {' AND '.join(having)}
ORDER BY start_ns DESC, trace_id DESC
LIMIT {{limit:UInt32}}"""
    return sql, params


def metrics(project: str, f: SpanFilter, step_s: int, group_by: str | None) -> tuple[str, dict[str, Any]]:
    if group_by and group_by not in GROUP_BY_COLUMNS:
        raise InvalidQueryError(f"group_by must be one of {', '.join(sorted(GROUP_BY_COLUMNS))}, got {group_by!r}")
    clauses, params = _where(project, f)
    params["step"] = int(step_s)
    group_expr = f"toString(`{GROUP_BY_COLUMNS[group_by]}`)" if group_by else "''"
    sql = f"""
SELECT
    toUnixTimestamp64Nano(toDateTime64(toStartOfInterval(start_time, toIntervalSecond({{step:UInt32}})), 9, 'UTC')) AS t,
    {group_expr} AS grp,
    count() AS spans,
    countIf(status = 'error') AS errors,
    quantiles(0.5, 0.95, 0.99)(duration_ms) AS latency,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    sum(cost_usd) AS cost_usd
FROM spans
WHERE {' AND '.join(clauses)}
GROUP BY t, grp
ORDER BY t, grp
LIMIT 100000"""
    return sql, params
