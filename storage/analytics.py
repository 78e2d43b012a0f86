"""Storage for analytics jobs: what clustering loads (interactions, tool errors, scores) and what it saves (runs,
clusters, members, fitted models, assignments). Tables: migration ``0050_analytics``.

Pure half: SQL text with ``{name:Type}`` server-side parameters, every read scoped by ``project``, filter
columns from a fixed whitelist (never from callers), cursors. I/O half: ``AnalyticsStore`` wraps a ``Store``
and goes through its ``_query`` / ``_insert`` helpers, so errors are ``StorageError`` subclasses.

This module returns plain rows (dicts); ``tracehouse.analytics`` turns them into its own records (storage does
not import analytics). Thread safety: as ``Store`` (share one between threads).
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any, Iterable, Mapping, Sequence

from .errors import InvalidQueryError
from .store import Store

__all__ = ["FILTER_COLUMNS", "RUN_COLUMNS", "AnalyticsStore", "decode_member_cursor", "encode_member_cursor",
           "interactions_query"]

# Filters a run may be scoped by: API name -> span column.
FILTER_COLUMNS: Mapping[str, str] = {
    "tenant": "tenant", "user": "user", "session": "session", "model": "model", "request_model": "request_model",
    "provider": "provider", "service": "service", "environment": "environment", "release": "release",
    "prompt_name": "prompt_name", "prompt_version": "prompt_version",
}
MAX_FILTER_VALUES = 100
TEXT_CHARS = 4000  # request and answer text loaded per interaction (validity of JSON is judged whole)
SYSTEM_CHARS = 2000  # system text: read for "asks for JSON" rules, which sit at its start
MAX_MEMBER_PAGE = 1000
_INSERT_CHUNK = 20000

RUN_COLUMNS: tuple[str, ...] = (
    "project", "run_id", "version", "status", "progress", "stage", "reason", "start_time", "end_time", "filters",
    "params", "n_interactions", "n_failed", "failure_rate", "n_clusters", "embedder", "duration_ms", "created_at",
)
CLUSTER_COLUMNS: tuple[str, ...] = (
    "project", "run_id", "cluster_id", "rank", "label", "terms", "is_outlier", "size", "failures", "failure_rate",
    "lift", "lift_lo", "lift_hi", "score", "top_failure_reasons", "examples", "cost_usd", "latency_p50_ms",
    "latency_p95_ms", "x", "y", "profile", "previous_similarity",
)
MEMBER_COLUMNS: tuple[str, ...] = (
    "project", "run_id", "cluster_id", "trace_id", "span_id", "start_time", "x", "y", "similarity", "failed",
    "signals", "reasons",
)
_JSON_CLUSTER_FIELDS = ("top_failure_reasons", "examples", "profile")
_RUN_SELECT = (
    "project, run_id, version, status, progress, stage, reason, toUnixTimestamp64Nano(start_time) AS start_ns, "
    "toUnixTimestamp64Nano(end_time) AS end_ns, filters, params, n_interactions, n_failed, failure_rate, "
    "n_clusters, embedder, duration_ms, toUnixTimestamp64Milli(created_at) AS created_ms"
)


# -- pure half ---------------------------------------------------------------------------------------------------

def _filter_clauses(filters: Mapping[str, Any] | None, params: dict[str, Any]) -> list[str]:
    clauses = []
    for name, value in sorted((filters or {}).items()):
        if value is None or value == "" or value == []:
            continue
        column = FILTER_COLUMNS.get(name)
        if column is None:
            raise InvalidQueryError(f"unknown filter {name!r}: use one of {', '.join(sorted(FILTER_COLUMNS))}")
        values = [value] if isinstance(value, str) else list(value) if isinstance(value, (list, tuple)) else None
        if values is None or not all(isinstance(v, str) for v in values) or len(values) > MAX_FILTER_VALUES:
            raise InvalidQueryError(f"filter {name!r} must be a string or a list of at most {MAX_FILTER_VALUES} "
                                    f"strings, got {value!r}")
        key = f"f_{name}"
        params[key] = values
        clauses.append(f"`{column}` IN {{{key}:Array(String)}}")
    return clauses


def _window(start_ns: int, end_ns: int, params: dict[str, Any]) -> list[str]:
    params.update(start_ns=int(start_ns), end_ns=int(end_ns))
    return ["start_time >= fromUnixTimestamp64Nano({start_ns:Int64}, 'UTC')",
            "start_time < fromUnixTimestamp64Nano({end_ns:Int64}, 'UTC')"]


_PART_TEXT = ("arrayStringConcat(arrayMap(p -> JSONExtractString(p, 'content'), arrayFilter(p -> "
              "JSONExtractString(p, 'type') = 'text', JSONExtractArrayRaw({m}, 'parts'))), '\\n')")


def interactions_query(project: str, start_ns: int, end_ns: int, filters: Mapping[str, Any] | None,
                       limit: int) -> tuple[str, dict[str, Any]]:
    """LLM spans of a window as interactions: the most recent ``limit``, returned oldest first (canonical order:
    start time, trace, span). The request is the last user message (else the tail of the flattened input),
    the system text the system messages; texts are cut to ``TEXT_CHARS``, JSON validity judged on the whole
    answer."""
    params: dict[str, Any] = {"project": project, "limit": max(1, int(limit)), "chars": TEXT_CHARS,
                              "system_chars": SYSTEM_CHARS}
    clauses = ["project = {project:String}", "kind = 'llm'", *_window(start_ns, end_ns, params),
               *_filter_clauses(filters, params)]
    last_user = _PART_TEXT.format(m="_user[-1]")
    system = _PART_TEXT.format(m="m")
    sql = f"""
SELECT trace_id, span_id, start_time_ns, request, response, system, status, status_message, error_type,
       has_exception, finish_reason, response_format, response_json_valid, is_tool_call, session, tenant, model,
       cost_usd, duration_ms
FROM (
    SELECT
        trace_id, span_id, toUnixTimestamp64Nano(start_time) AS start_time_ns,
        JSONExtractArrayRaw(input_messages) AS _messages,
        arrayFilter(m -> JSONExtractString(m, 'role') = 'user', _messages) AS _user,
        substringUTF8(if(empty(_user),
                         substringUTF8(input_text, greatest(1, toInt64(lengthUTF8(input_text)) - {{chars:Int64}} + 1)),
                         if(empty({last_user}), JSONExtractString(_user[-1], 'content'), {last_user})),
                      1, {{chars:UInt32}}) AS request,
        substringUTF8(arrayStringConcat(arrayMap(m -> {system},
                      arrayFilter(m -> JSONExtractString(m, 'role') = 'system', _messages)), '\\n'),
                      1, {{system_chars:UInt32}}) AS system,
        substringUTF8(output_text, 1, {{chars:UInt32}}) AS response,
        isValidJSON(trimBoth(output_text)) AS response_json_valid,
        status, substringUTF8(status_message, 1, 500) AS status_message,
        JSONExtractString(attributes, 'error.type') AS error_type,
        position(events, '"exception"') > 0 AS has_exception,
        finish_reason, JSONExtractRaw(params, 'response_format') AS response_format,
        position(output_messages, '"type":"tool_call"') > 0 AS is_tool_call,
        session, tenant, model, cost_usd, duration_ms
    FROM spans
    WHERE {' AND '.join(clauses)}
    ORDER BY start_time DESC, trace_id DESC, span_id DESC
    LIMIT 1 BY trace_id, span_id
    LIMIT {{limit:UInt32}}
)
ORDER BY start_time_ns, trace_id, span_id"""
    return sql, params


def encode_member_cursor(cluster_id: str, trace_id: str, span_id: str) -> str:
    raw = json.dumps([cluster_id, trace_id, span_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_member_cursor(cursor: str) -> tuple[str, str, str]:
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        cluster_id, trace_id, span_id = (str(v) for v in value)
        return cluster_id, trace_id, span_id
    except (ValueError, TypeError) as exc:
        raise InvalidQueryError(f"invalid cursor {cursor!r}: pass next_cursor from the previous page") from exc


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _loads(value: Any, default: Any) -> Any:
    try:
        return json.loads(value) if value else default
    except (TypeError, ValueError):
        return default


# -- I/O half ------------------------------------------------------------------------------------------------------

class AnalyticsStore:
    """Analytics reads and writes over a ``Store`` (which owns the client)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._last_version = 0

    def _version(self) -> int:
        """Strictly increasing within this process, so the latest status row of a run always wins."""
        self._last_version = max(time.time_ns(), self._last_version + 1)
        return self._last_version

    def _rows(self, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        columns, rows = self.store._query(sql, params)
        return [dict(zip(columns, row)) for row in rows]

    def project_ids(self) -> list[str]:
        """Every project id (the scheduler's default list)."""
        return [r["id"] for r in self._rows("SELECT DISTINCT id FROM projects ORDER BY id LIMIT 100000", {})]

    # -- inputs -----------------------------------------------------------------------------------------------------
    def load_interactions(self, project: str, start_ns: int, end_ns: int, filters: Mapping[str, Any] | None = None,
                          limit: int = 200_000) -> list[dict[str, Any]]:
        return self._rows(*interactions_query(project, start_ns, end_ns, filters, limit))

    def load_tool_errors(self, project: str, start_ns: int, end_ns: int,
                         margin_ns: int = 3_600_000_000_000) -> list[dict[str, Any]]:
        """Tool spans in error around the window (traces straddle its edges), one row per span."""
        params: dict[str, Any] = {"project": project}
        clauses = ["project = {project:String}", "kind = 'tool'", "status = 'error'",
                   *_window(start_ns - margin_ns, end_ns + margin_ns, params)]
        sql = ("SELECT trace_id, span_id, name, substringUTF8(status_message, 1, 300) AS message, "
               "toUnixTimestamp64Nano(start_time) AS start_time_ns FROM spans "
               f"WHERE {' AND '.join(clauses)} ORDER BY start_time, span_id LIMIT 1 BY trace_id, span_id "
               "LIMIT 1000000")
        return self._rows(sql, params)

    def load_scores(self, project: str, start_ns: int, end_ns: int) -> list[dict[str, Any]]:
        """Scores of the traces that have an LLM span in the window."""
        params: dict[str, Any] = {"project": project}
        window = " AND ".join(["project = {project:String}", "kind = 'llm'", *_window(start_ns, end_ns, params)])
        sql = ("SELECT trace_id, span_id, name, value FROM scores "
               f"WHERE project = {{project:String}} AND trace_id IN (SELECT trace_id FROM spans WHERE {window}) "
               "ORDER BY trace_id, span_id, name, created_at LIMIT 1000000")
        return self._rows(sql, params)

    # -- runs -------------------------------------------------------------------------------------------------------
    def put_run(self, run: Mapping[str, Any]) -> None:
        """Write the full state of a run as its newest version (``start_ns``/``end_ns``/``created_ms`` times,
        ``filters`` and ``params`` as mappings)."""
        row = [
            run["project"], run["run_id"], self._version(), run["status"], float(run.get("progress", 0.0)),
            run.get("stage", ""), run.get("reason", ""), int(run["start_ns"]), int(run["end_ns"]),
            _json(run.get("filters") or {}), _json(run.get("params") or {}), int(run.get("n_interactions", 0)),
            int(run.get("n_failed", 0)), float(run.get("failure_rate", 0.0)), int(run.get("n_clusters", 0)),
            run.get("embedder", ""), float(run.get("duration_ms", 0.0)), int(run["created_ms"]),
        ]
        row[7] = _ns_datetime(row[7])
        row[8] = _ns_datetime(row[8])
        row[17] = _ms_datetime(row[17])
        self.store._insert("analytics_cluster_runs", [row], RUN_COLUMNS)

    def _run_rows(self, where: str, params: dict[str, Any], limit: int) -> list[dict[str, Any]]:
        params = {**params, "limit": max(1, min(int(limit), 1000))}
        sql = (f"SELECT {_RUN_SELECT} FROM analytics_cluster_runs WHERE {where} "
               "ORDER BY version DESC LIMIT 1 BY project, run_id LIMIT {limit:UInt32}")
        rows = self._rows(sql, params)
        for row in rows:
            row["filters"] = _loads(row["filters"], {})
            row["params"] = _loads(row["params"], {})
        return rows

    def get_run(self, project: str, run_id: str) -> dict[str, Any] | None:
        rows = self._run_rows("project = {project:String} AND run_id = {run_id:String}",
                              {"project": project, "run_id": run_id}, 1)
        return rows[0] if rows else None

    def list_runs(self, project: str, limit: int = 50) -> list[dict[str, Any]]:
        """Newest first."""
        rows = self._run_rows("project = {project:String}", {"project": project}, 1000)
        rows.sort(key=lambda r: (r["created_ms"], r["run_id"]), reverse=True)
        return rows[: max(1, int(limit))]

    def unfinished_runs(self, not_updated_since_ns: int | None = None) -> list[dict[str, Any]]:
        """Runs of every project whose latest state is queued or running (for recovery at start-up), optionally
        only those whose last state change is older than ``not_updated_since_ns``."""
        params: dict[str, Any] = {"before": int(not_updated_since_ns or 2**63 - 1)}
        sql = (f"SELECT * FROM (SELECT {_RUN_SELECT} FROM analytics_cluster_runs "
               "ORDER BY version DESC LIMIT 1 BY project, run_id) "
               "WHERE status IN ('queued', 'running') AND version < {before:UInt64} LIMIT 10000")
        rows = self._rows(sql, params)
        for row in rows:
            row["filters"] = _loads(row["filters"], {})
            row["params"] = _loads(row["params"], {})
        return rows

    def latest_done_run(self, project: str) -> dict[str, Any] | None:
        rows = [r for r in self.list_runs(project, 1000) if r["status"] == "done"]
        return rows[0] if rows else None

    # -- clusters and members ---------------------------------------------------------------------------------------
    def save_clusters(self, project: str, run_id: str, clusters: Sequence[Mapping[str, Any]]) -> None:
        rows = []
        for c in clusters:
            row = {**c, "project": project, "run_id": run_id}
            lo, hi = c["lift_ci"]
            row.update(lift_lo=float(lo), lift_hi=float(hi), is_outlier=int(bool(c["is_outlier"])),
                       terms=list(c["terms"]))
            for name in _JSON_CLUSTER_FIELDS:
                row[name] = _json(c[name])
            rows.append([row[col] for col in CLUSTER_COLUMNS])
        self.store._insert("analytics_clusters", rows, CLUSTER_COLUMNS)

    def get_clusters(self, project: str, run_id: str) -> list[dict[str, Any]]:
        """A run's clusters by rank (JSON fields decoded, ``lift_ci`` as a pair)."""
        sql = (f"SELECT {', '.join(f'`{c}`' for c in CLUSTER_COLUMNS[2:])} FROM analytics_clusters "
               "WHERE project = {project:String} AND run_id = {run_id:String} "
               "ORDER BY rank, cluster_id LIMIT 1 BY cluster_id LIMIT 10000")
        rows = self._rows(sql, {"project": project, "run_id": run_id})
        for row in rows:
            row["top_failure_reasons"] = _loads(row["top_failure_reasons"], [])
            row["examples"] = _loads(row["examples"], [])
            row["profile"] = _loads(row["profile"], {})
            row["lift_ci"] = [row.pop("lift_lo"), row.pop("lift_hi")]
            row["is_outlier"] = bool(row["is_outlier"])
            row["terms"] = list(row["terms"])
        return rows

    def _insert_members(self, table: str, project: str, run_id: str, members: Iterable[Sequence[Any]]) -> int:
        """``members``: (cluster_id, trace_id, span_id, start_ns, x, y, similarity, failed, signals, reasons)."""
        batch: list[list[Any]] = []
        count = 0
        for cluster_id, trace_id, span_id, start_ns, x, y, sim, failed, signals, reasons in members:
            batch.append([project, run_id, cluster_id, trace_id, span_id, _ns_datetime(start_ns), float(x),
                          float(y), float(sim), int(bool(failed)), list(signals), list(reasons)])
            if len(batch) >= _INSERT_CHUNK:
                self.store._insert(table, batch, MEMBER_COLUMNS)
                count += len(batch)
                batch = []
        self.store._insert(table, batch, MEMBER_COLUMNS)
        return count + len(batch)

    def save_members(self, project: str, run_id: str, members: Iterable[Sequence[Any]]) -> int:
        return self._insert_members("analytics_cluster_members", project, run_id, members)

    def save_assignments(self, project: str, run_id: str, members: Iterable[Sequence[Any]]) -> int:
        return self._insert_members("analytics_cluster_assignments", project, run_id, members)

    def members(self, project: str, run_id: str, cluster_id: str | None = None, limit: int = 100,
                cursor: str | None = None, include_assigned: bool = False) -> tuple[list[dict[str, Any]], str | None]:
        """A page of a run's members ordered by (cluster_id, trace_id, span_id); with ``include_assigned`` the
        spans assigned to the run's clusters since (``assigned`` true) come in the same order."""
        params: dict[str, Any] = {"project": project, "run_id": run_id,
                                  "limit": max(1, min(int(limit), MAX_MEMBER_PAGE))}
        clauses = ["project = {project:String}", "run_id = {run_id:String}"]
        if cluster_id:
            clauses.append("cluster_id = {cluster_id:String}")
            params["cluster_id"] = cluster_id
        if cursor:
            params["c_cluster"], params["c_trace"], params["c_span"] = decode_member_cursor(cursor)
            clauses.append("(cluster_id, trace_id, span_id) > ({c_cluster:String}, {c_trace:String}, {c_span:String})")
        where = " AND ".join(clauses)
        columns = ("trace_id, span_id, cluster_id, x, y, similarity, failed, signals, reasons, "
                   "toUnixTimestamp64Nano(start_time) AS start_time_ns")
        source = f"SELECT {columns}, 0 AS assigned FROM analytics_cluster_members WHERE {where}"
        if include_assigned:
            source += (f" UNION ALL SELECT * FROM (SELECT {columns}, 1 AS assigned FROM analytics_cluster_assignments "
                       f"WHERE {where} ORDER BY assigned_at DESC LIMIT 1 BY trace_id, span_id)")
        sql = (f"SELECT * FROM ({source}) ORDER BY cluster_id, trace_id, span_id "
               "LIMIT 1 BY cluster_id, trace_id, span_id LIMIT {limit:UInt32}")
        items = self._rows(sql, params)
        for item in items:
            item["failed"] = bool(item["failed"])
            item["assigned"] = bool(item["assigned"])
            item["signals"] = list(item["signals"])
            item["reasons"] = list(item["reasons"])
            item["x"], item["y"] = float(item["x"]), float(item["y"])
            item["similarity"] = float(item["similarity"])
        next_cursor = None
        if len(items) == params["limit"]:
            last = items[-1]
            next_cursor = encode_member_cursor(last["cluster_id"], last["trace_id"], last["span_id"])
        return items, next_cursor

    # -- models ---------------------------------------------------------------------------------------------------
    def save_model(self, project: str, run_id: str, embedder: str, model: str) -> None:
        self.store._insert("analytics_cluster_models", [[project, run_id, embedder, model]],
                           ["project", "run_id", "embedder", "model"])

    def latest_model(self, project: str) -> tuple[str, str] | None:
        """(run_id, serialised model) of the newest saved model of the project."""
        rows = self._rows("SELECT run_id, model FROM analytics_cluster_models WHERE project = {project:String} "
                          "ORDER BY created_at DESC LIMIT 1", {"project": project})
        return (rows[0]["run_id"], rows[0]["model"]) if rows else None


def _ns_datetime(ns: int) -> Any:
    """A nanosecond time as clickhouse-connect inserts DateTime64(9) exactly: an int of ns is read as such."""
    return int(ns)


def _ms_datetime(ms: int) -> Any:
    return int(ms)
