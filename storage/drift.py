"""Storage for drift and alerts: what a drift run loads (a sample of a window's LLM calls, their scores), what it
saves (runs and their signals), and alert rules, state and history. Tables: migration ``0060_drift``.

Pure half: SQL text with ``{name:Type}`` server-side parameters, every read scoped by ``project``, filter and
group-by columns from fixed whitelists (never from callers). I/O half: ``DriftStore`` and ``AlertStore`` wrap a
``Store`` and go through its ``_query`` / ``_insert`` helpers, so errors are ``StorageError`` subclasses
(``InvalidQueryError`` for a caller's bad argument). They return plain rows (dicts): storage does not import
analytics. Thread safety: as ``Store`` (share one between threads).

Versioned rows (runs, rules, alert state) get a version that strictly increases within the process; reads take
the newest version per key with ``LIMIT 1 BY`` (no ``FINAL``).
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any, Iterable, Mapping, Sequence

from .errors import InvalidQueryError
from .store import Store

__all__ = ["ALERT_GROUP_COLUMNS", "FILTER_COLUMNS", "VERSION_COLUMNS", "AlertStore", "DriftStore", "alert_stats_query",
           "scores_query", "versions_query", "window_count_query", "window_query"]

# Filters a comparison window may be scoped by: API name -> span column.
FILTER_COLUMNS: Mapping[str, str] = {
    "tenant": "tenant", "user": "user", "session": "session", "model": "model", "request_model": "request_model",
    "provider": "provider", "service": "service", "environment": "environment", "release": "release",
    "prompt_name": "prompt_name", "prompt_version": "prompt_version",
}
# Dimensions whose successive values can be compared ("release vs previous release").
VERSION_COLUMNS: Mapping[str, str] = {"release": "release", "prompt_version": "prompt_version", "model": "model",
                                      "request_model": "request_model"}
ALERT_GROUP_COLUMNS: Mapping[str, str] = {"tenant": "tenant", "model": "model", "provider": "provider",
                                          "service": "service", "environment": "environment",
                                          "release": "release", "prompt_version": "prompt_version"}
MAX_FILTER_VALUES = 100
TEXT_CHARS = 1000          # request and answer text per call: embeddings and clusters read 1000, refusals 300
MAX_WINDOW_ROWS = 200_000
MAX_SCORE_ROWS = 1_000_000

RUN_COLUMNS: tuple[str, ...] = (
    "project", "run_id", "version", "status", "stage", "progress", "reason", "trigger", "baseline_start",
    "baseline_end", "baseline_filters", "current_start", "current_end", "current_filters", "params", "verdict",
    "n_baseline", "n_current", "n_signals", "n_drift", "drifted", "duration_ms", "created_at",
)
SIGNAL_COLUMNS: tuple[str, ...] = (
    "project", "run_id", "position", "name", "kind", "test", "verdict", "statistic", "p_value", "q_value",
    "effect_size", "effect_measure", "threshold", "n_baseline", "n_current", "baseline_value", "current_value",
    "change", "direction", "reason", "top", "current_end", "trigger",
)
RULE_COLUMNS: tuple[str, ...] = ("project", "rule_id", "version", "name", "kind", "params", "webhook_url", "enabled",
                                 "is_deleted", "created_at")
STATE_COLUMNS: tuple[str, ...] = ("project", "rule_id", "subject", "version", "status", "notified", "since", "value",
                                  "threshold", "message", "event_id")
EVENT_COLUMNS: tuple[str, ...] = ("project", "event_id", "rule_id", "rule_name", "kind", "event", "subject", "value",
                                  "threshold", "message", "details", "delivered", "attempts", "status_code", "error",
                                  "evaluated_at")

_RUN_SELECT = (
    "project, run_id, version, status, stage, progress, reason, trigger, "
    "toUnixTimestamp64Nano(baseline_start) AS baseline_start_ns, toUnixTimestamp64Nano(baseline_end) AS baseline_end_ns, "
    "baseline_filters, toUnixTimestamp64Nano(current_start) AS current_start_ns, "
    "toUnixTimestamp64Nano(current_end) AS current_end_ns, current_filters, params, verdict, n_baseline, n_current, "
    "n_signals, n_drift, drifted, duration_ms, toUnixTimestamp64Milli(created_at) AS created_ms"
)
_SIGNAL_SELECT = (
    "run_id, position, name, kind, test, verdict, statistic, p_value, q_value, effect_size, effect_measure, threshold, "
    "n_baseline, n_current, baseline_value, current_value, change, direction, reason, top, "
    "toUnixTimestamp64Nano(current_end) AS current_end_ns, trigger"
)


# -- pure half ---------------------------------------------------------------------------------------------------

def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _loads(value: Any, default: Any) -> Any:
    try:
        return json.loads(value) if value else default
    except (TypeError, ValueError):
        return default


def filter_clauses(filters: Mapping[str, Any] | None, params: dict[str, Any], prefix: str = "f") -> list[str]:
    """``column IN {f_name:Array(String)}`` per filter; ``InvalidQueryError`` for an unknown name or a value that
    is not a string or a list of strings. Empty values are ignored."""
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
        key = f"{prefix}_{name}"
        params[key] = values
        clauses.append(f"`{column}` IN {{{key}:Array(String)}}")
    return clauses


def _window_clauses(project: str, start_ns: int, end_ns: int, filters: Mapping[str, Any] | None,
                    params: dict[str, Any], llm_only: bool = True) -> list[str]:
    if int(start_ns) >= int(end_ns):
        raise InvalidQueryError(f"empty window: start ({start_ns}) must be before end ({end_ns})")
    params.update(project=project, start_ns=int(start_ns), end_ns=int(end_ns))
    clauses = ["project = {project:String}",
               "start_time >= fromUnixTimestamp64Nano({start_ns:Int64}, 'UTC')",
               "start_time < fromUnixTimestamp64Nano({end_ns:Int64}, 'UTC')"]
    if llm_only:
        clauses.append("kind = 'llm'")
    return clauses + filter_clauses(filters, params)


_PART_TEXT = ("arrayStringConcat(arrayMap(p -> JSONExtractString(p, 'content'), arrayFilter(p -> "
              "JSONExtractString(p, 'type') = 'text', JSONExtractArrayRaw(_user[-1], 'parts'))), '\\n')")


def window_query(project: str, start_ns: int, end_ns: int, filters: Mapping[str, Any] | None,
                 limit: int) -> tuple[str, dict[str, Any]]:
    """A uniform sample of at most ``limit`` LLM calls of a window (the same calls every time: the sample is the
    smallest ``cityHash64(trace_id, span_id)``), oldest first. The request is the last user message (else the
    tail of the flattened input); texts are cut to ``TEXT_CHARS``; ``output_chars`` is the whole answer's
    length."""
    params: dict[str, Any] = {"limit": max(1, min(int(limit), MAX_WINDOW_ROWS)), "chars": TEXT_CHARS}
    where = " AND ".join(_window_clauses(project, start_ns, end_ns, filters, params))
    sql = f"""
SELECT
    trace_id, span_id, toUnixTimestamp64Nano(start_time) AS start_time_ns,
    arrayFilter(m -> JSONExtractString(m, 'role') = 'user', JSONExtractArrayRaw(input_messages)) AS _user,
    substringUTF8(if(empty(_user),
                     substringUTF8(input_text, greatest(1, toInt64(lengthUTF8(input_text)) - {{chars:Int64}} + 1)),
                     if(empty({_PART_TEXT}), JSONExtractString(_user[-1], 'content'), {_PART_TEXT})),
                  1, {{chars:UInt32}}) AS request,
    substringUTF8(output_text, 1, {{chars:UInt32}}) AS response,
    lengthUTF8(output_text) AS output_chars,
    status, substringUTF8(status_message, 1, 300) AS status_message,
    JSONExtractString(attributes, 'error.type') AS error_type,
    position(events, '"exception"') > 0 AS has_exception,
    finish_reason,
    position(output_messages, '"type":"tool_call"') > 0 AS is_tool_call,
    input_tokens, output_tokens, cost_usd, cost_source, duration_ms, time_to_first_token_ms,
    tenant, model, release, prompt_version, session
FROM spans
WHERE {where} AND (trace_id, span_id) IN (
    SELECT trace_id, span_id FROM spans WHERE {where}
    GROUP BY trace_id, span_id
    ORDER BY cityHash64(trace_id, span_id), trace_id, span_id
    LIMIT {{limit:UInt32}}
)
ORDER BY start_time, trace_id, span_id
LIMIT 1 BY trace_id, span_id"""
    return sql, params


def window_count_query(project: str, start_ns: int, end_ns: int, filters: Mapping[str, Any] | None
                       ) -> tuple[str, dict[str, Any]]:
    params: dict[str, Any] = {}
    where = " AND ".join(_window_clauses(project, start_ns, end_ns, filters, params))
    return f"SELECT uniqExact(trace_id, span_id) AS n FROM spans WHERE {where}", params


def scores_query(project: str, start_ns: int, end_ns: int, filters: Mapping[str, Any] | None
                 ) -> tuple[str, dict[str, Any]]:
    """Scores of the traces that have a (filtered) LLM call in the window."""
    params: dict[str, Any] = {"score_limit": MAX_SCORE_ROWS}
    where = " AND ".join(_window_clauses(project, start_ns, end_ns, filters, params))
    sql = ("SELECT trace_id, span_id, name, value FROM scores "
           f"WHERE project = {{project:String}} AND trace_id IN (SELECT trace_id FROM spans WHERE {where}) "
           "ORDER BY trace_id, span_id, name, created_at LIMIT {score_limit:UInt32}")
    return sql, params


def versions_query(project: str, column: str, start_ns: int, end_ns: int, filters: Mapping[str, Any] | None
                   ) -> tuple[str, dict[str, Any]]:
    """The values of a version column in a window with when each was first and last seen, oldest first."""
    if column not in VERSION_COLUMNS:
        raise InvalidQueryError(f"cannot compare by {column!r}: use one of {', '.join(sorted(VERSION_COLUMNS))}")
    params: dict[str, Any] = {}
    clauses = _window_clauses(project, start_ns, end_ns, filters, params)
    col = VERSION_COLUMNS[column]
    sql = (f"SELECT toString(`{col}`) AS value, toUnixTimestamp64Nano(min(start_time)) AS first_ns, "
           f"toUnixTimestamp64Nano(max(start_time)) AS last_ns, count() AS n FROM spans "
           f"WHERE {' AND '.join(clauses)} AND `{col}` != '' GROUP BY value ORDER BY first_ns, value LIMIT 1000")
    return sql, params


def alert_stats_query(project: str, start_ns: int, end_ns: int, by: str | None, filters: Mapping[str, Any] | None
                      ) -> tuple[str, dict[str, Any]]:
    """Per group (or one row for the project): LLM calls, errors and p95 latency, and the cost of every span."""
    if by and by not in ALERT_GROUP_COLUMNS:
        raise InvalidQueryError(f"cannot group alerts by {by!r}: use one of {', '.join(sorted(ALERT_GROUP_COLUMNS))}")
    params: dict[str, Any] = {}
    clauses = _window_clauses(project, start_ns, end_ns, filters, params, llm_only=False)
    group = f"toString(`{ALERT_GROUP_COLUMNS[by]}`)" if by else "''"
    sql = f"""
SELECT {group} AS subject,
       countIf(kind = 'llm') AS calls,
       countIf(kind = 'llm' AND status = 'error') AS errors,
       sum(cost_usd) AS cost_usd,
       quantileExactIf(0.95)(duration_ms, kind = 'llm') AS latency_p95_ms
FROM spans
WHERE {' AND '.join(clauses)}
GROUP BY subject
ORDER BY subject
LIMIT 10000"""
    return sql, params


# -- I/O half ------------------------------------------------------------------------------------------------------

class _Versions:
    """Strictly increasing versions within the process (the newest status row of a key always wins)."""

    def __init__(self) -> None:
        self._last = 0
        self._lock = threading.Lock()

    def next(self) -> int:
        with self._lock:
            self._last = max(time.time_ns(), self._last + 1)
            return self._last


_VERSIONS = _Versions()


class DriftStore:
    """Drift reads and writes over a ``Store`` (which owns the client)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def _rows(self, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        columns, rows = self.store._query(sql, params)
        return [dict(zip(columns, row)) for row in rows]

    def project_ids(self) -> list[str]:
        return [r["id"] for r in self._rows("SELECT DISTINCT id FROM projects ORDER BY id LIMIT 100000", {})]

    # -- inputs -------------------------------------------------------------------------------------------------
    def load_window(self, project: str, start_ns: int, end_ns: int, filters: Mapping[str, Any] | None = None,
                    limit: int = 20_000) -> list[dict[str, Any]]:
        rows = self._rows(*window_query(project, start_ns, end_ns, filters, limit))
        for row in rows:
            row.pop("_user", None)
        return rows

    def count_window(self, project: str, start_ns: int, end_ns: int, filters: Mapping[str, Any] | None = None) -> int:
        rows = self._rows(*window_count_query(project, start_ns, end_ns, filters))
        return int(rows[0]["n"]) if rows else 0

    def load_scores(self, project: str, start_ns: int, end_ns: int,
                    filters: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        return self._rows(*scores_query(project, start_ns, end_ns, filters))

    def versions(self, project: str, column: str, start_ns: int, end_ns: int,
                 filters: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """``[{value, first_ns, last_ns, n}]`` oldest first."""
        return self._rows(*versions_query(project, column, start_ns, end_ns, filters))

    # -- runs ---------------------------------------------------------------------------------------------------
    def put_run(self, run: Mapping[str, Any]) -> None:
        """Write the full state of a run as its newest version. ``run`` holds ``baseline`` and ``current`` as
        ``{start_ns, end_ns, filters}``, ``params`` as a mapping, ``created_ms``."""
        b, c = run["baseline"], run["current"]
        values = {
            "project": run["project"], "run_id": run["run_id"], "version": _VERSIONS.next(), "status": run["status"],
            "stage": run.get("stage", ""), "progress": float(run.get("progress", 0.0)), "reason": run.get("reason", ""),
            "trigger": run.get("trigger", "api"), "baseline_start": int(b["start_ns"]), "baseline_end": int(b["end_ns"]),
            "baseline_filters": _json(b.get("filters") or {}), "current_start": int(c["start_ns"]),
            "current_end": int(c["end_ns"]), "current_filters": _json(c.get("filters") or {}),
            "params": _json(run.get("params") or {}), "verdict": run.get("verdict", ""),
            "n_baseline": int(run.get("n_baseline", 0)), "n_current": int(run.get("n_current", 0)),
            "n_signals": int(run.get("n_signals", 0)), "n_drift": int(run.get("n_drift", 0)),
            "drifted": [str(s) for s in run.get("drifted", ())], "duration_ms": float(run.get("duration_ms", 0.0)),
            "created_at": int(run["created_ms"]),
        }
        self.store._insert("drift_runs", [[values[c] for c in RUN_COLUMNS]], RUN_COLUMNS)

    @staticmethod
    def _run_out(row: dict[str, Any]) -> dict[str, Any]:
        row["baseline"] = {"start_ns": row.pop("baseline_start_ns"), "end_ns": row.pop("baseline_end_ns"),
                           "filters": _loads(row.pop("baseline_filters"), {})}
        row["current"] = {"start_ns": row.pop("current_start_ns"), "end_ns": row.pop("current_end_ns"),
                          "filters": _loads(row.pop("current_filters"), {})}
        row["params"] = _loads(row["params"], {})
        row["drifted"] = list(row.get("drifted") or [])
        return row

    def _run_rows(self, where: str, params: dict[str, Any], limit: int) -> list[dict[str, Any]]:
        params = {**params, "limit": max(1, min(int(limit), 10000))}
        sql = (f"SELECT * FROM (SELECT {_RUN_SELECT} FROM drift_runs WHERE project = {{project:String}} "
               "ORDER BY version DESC LIMIT 1 BY project, run_id) "
               f"WHERE {where} ORDER BY created_ms DESC, run_id DESC LIMIT {{limit:UInt32}}")
        return [self._run_out(r) for r in self._rows(sql, params)]

    def get_run(self, project: str, run_id: str) -> dict[str, Any] | None:
        rows = self._run_rows("run_id = {run_id:String}", {"project": project, "run_id": run_id}, 1)
        return rows[0] if rows else None

    def list_runs(self, project: str, limit: int = 50, status: str | None = None,
                  trigger: str | None = None) -> list[dict[str, Any]]:
        """Newest first (by creation)."""
        clauses, params = ["1"], {"project": project}
        if status:
            clauses.append("status = {status:String}")
            params["status"] = status
        if trigger:
            clauses.append("trigger = {trigger:String}")
            params["trigger"] = trigger
        return self._run_rows(" AND ".join(clauses), params, limit)

    def unfinished_runs(self, not_updated_since_ns: int | None = None) -> list[dict[str, Any]]:
        """Runs of every project whose latest state is queued or running (optionally: last changed before)."""
        params: dict[str, Any] = {"before": int(not_updated_since_ns or 2**63 - 1)}
        sql = (f"SELECT * FROM (SELECT {_RUN_SELECT} FROM drift_runs ORDER BY version DESC LIMIT 1 BY project, run_id) "
               "WHERE status IN ('queued', 'running') AND version < {before:UInt64} LIMIT 10000")
        return [self._run_out(r) for r in self._rows(sql, params)]

    # -- signals ------------------------------------------------------------------------------------------------
    def save_signals(self, project: str, run_id: str, signals: Sequence[Mapping[str, Any]], current_end_ns: int,
                     trigger: str = "api") -> None:
        """``signals``: ``SignalResult.to_dict()`` mappings, in report order."""
        rows = []
        for position, s in enumerate(signals):
            values = {**s, "project": project, "run_id": run_id, "position": position, "top": _json(s.get("top") or []),
                      "current_end": int(current_end_ns), "trigger": trigger,
                      "threshold": float(s.get("threshold") or 0.0), "reason": s.get("reason") or "",
                      "direction": s.get("direction") or ""}
            rows.append([values.get(c) for c in SIGNAL_COLUMNS])
        self.store._insert("drift_signals", rows, SIGNAL_COLUMNS)

    def get_signals(self, project: str, run_id: str) -> list[dict[str, Any]]:
        sql = (f"SELECT * FROM (SELECT {_SIGNAL_SELECT} FROM drift_signals WHERE project = {{project:String}} "
               "AND run_id = {run_id:String} ORDER BY created_at DESC LIMIT 1 BY name) ORDER BY position LIMIT 10000")
        rows = self._rows(sql, {"project": project, "run_id": run_id})
        for row in rows:
            row["top"] = _loads(row["top"], [])
        return rows

    def timeline(self, project: str, start_ns: int, end_ns: int, names: Sequence[str] | None = None,
                 trigger: str | None = None, limit: int = 10000) -> list[dict[str, Any]]:
        """Signals of finished runs whose current window ended in [start_ns, end_ns), oldest first (a dashboard
        timeline): ``run_id, name, verdict, effect_size, p_value, q_value, current_end_ns``."""
        params: dict[str, Any] = {"project": project, "start_ns": int(start_ns), "end_ns": int(end_ns),
                                  "limit": max(1, min(int(limit), 100000))}
        clauses = ["project = {project:String}",
                   "current_end >= fromUnixTimestamp64Nano({start_ns:Int64}, 'UTC')",
                   "current_end < fromUnixTimestamp64Nano({end_ns:Int64}, 'UTC')"]
        if names:
            clauses.append("name IN {names:Array(String)}")
            params["names"] = list(names)
        if trigger:
            clauses.append("trigger = {trigger:String}")
            params["trigger"] = trigger
        sql = ("SELECT run_id, name, verdict, effect_size, p_value, q_value, "
               "toUnixTimestamp64Nano(current_end) AS current_end_ns FROM drift_signals "
               f"WHERE {' AND '.join(clauses)} ORDER BY current_end, run_id, position LIMIT {{limit:UInt32}}")
        return self._rows(sql, params)


class AlertStore:
    """Alert rules, state and history over a ``Store``."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def _rows(self, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        columns, rows = self.store._query(sql, params)
        return [dict(zip(columns, row)) for row in rows]

    # -- rules --------------------------------------------------------------------------------------------------
    def put_rule(self, rule: Mapping[str, Any], deleted: bool = False) -> None:
        values = {**rule, "version": _VERSIONS.next(), "params": _json(rule.get("params") or {}),
                  "enabled": int(bool(rule.get("enabled", True))), "is_deleted": int(deleted),
                  "created_at": int(rule["created_ms"]), "webhook_url": rule.get("webhook_url") or ""}
        self.store._insert("alert_rules", [[values[c] for c in RULE_COLUMNS]], RULE_COLUMNS)

    def rules(self, project: str, rule_id: str | None = None) -> list[dict[str, Any]]:
        """Live (not deleted) rules, oldest first."""
        params: dict[str, Any] = {"project": project}
        where = "project = {project:String}"
        if rule_id is not None:
            where += " AND rule_id = {rule_id:String}"
            params["rule_id"] = rule_id
        sql = ("SELECT * FROM (SELECT rule_id, name, kind, params, webhook_url, enabled, is_deleted, "
               "toUnixTimestamp64Milli(created_at) AS created_ms, version FROM alert_rules "
               f"WHERE {where} ORDER BY version DESC LIMIT 1 BY rule_id) "
               "WHERE is_deleted = 0 ORDER BY created_ms, rule_id LIMIT 10000")
        rows = self._rows(sql, params)
        for row in rows:
            row["params"] = _loads(row["params"], {})
            row["enabled"] = bool(row["enabled"])
            row["project"] = project
            row.pop("is_deleted", None)
        return rows

    # -- state --------------------------------------------------------------------------------------------------
    def states(self, project: str, rule_id: str | None = None) -> dict[tuple[str, str], dict[str, Any]]:
        """The newest state per (rule_id, subject)."""
        params: dict[str, Any] = {"project": project}
        where = "project = {project:String}"
        if rule_id is not None:
            where += " AND rule_id = {rule_id:String}"
            params["rule_id"] = rule_id
        sql = ("SELECT rule_id, subject, status, notified, toUnixTimestamp64Nano(since) AS since_ns, value, threshold, "
               f"message, event_id FROM alert_state WHERE {where} "
               "ORDER BY version DESC LIMIT 1 BY rule_id, subject LIMIT 100000")
        out = {}
        for row in self._rows(sql, params):
            row["notified"] = bool(row["notified"])
            out[(row["rule_id"], row["subject"])] = row
        return out

    def put_states(self, project: str, states: Iterable[Mapping[str, Any]]) -> None:
        rows = []
        for s in states:
            values = {**s, "project": project, "version": _VERSIONS.next(), "notified": int(bool(s.get("notified"))),
                      "since": int(s.get("since_ns") or 0), "value": float(s.get("value") or 0.0),
                      "threshold": float(s.get("threshold") or 0.0), "message": s.get("message") or "",
                      "event_id": s.get("event_id") or ""}
            rows.append([values[c] for c in STATE_COLUMNS])
        self.store._insert("alert_state", rows, STATE_COLUMNS)

    # -- history ------------------------------------------------------------------------------------------------
    def add_events(self, project: str, events: Iterable[Mapping[str, Any]]) -> None:
        rows = []
        for e in events:
            values = {**e, "project": project, "details": _json(e.get("details") or {}),
                      "delivered": int(bool(e.get("delivered"))), "attempts": min(255, int(e.get("attempts") or 0)),
                      "status_code": int(e.get("status_code") or 0), "error": (e.get("error") or "")[:1000],
                      "value": float(e.get("value") or 0.0), "threshold": float(e.get("threshold") or 0.0),
                      "evaluated_at": int(e.get("evaluated_ns") or 0)}
            rows.append([values.get(c, "") for c in EVENT_COLUMNS])
        self.store._insert("alert_events", rows, EVENT_COLUMNS)

    def history(self, project: str, limit: int = 100, rule_id: str | None = None) -> list[dict[str, Any]]:
        """Newest first."""
        params: dict[str, Any] = {"project": project, "limit": max(1, min(int(limit), 10000))}
        where = "project = {project:String}"
        if rule_id:
            where += " AND rule_id = {rule_id:String}"
            params["rule_id"] = rule_id
        sql = ("SELECT event_id, rule_id, rule_name, kind, event, subject, value, threshold, message, details, "
               "delivered, attempts, status_code, error, toUnixTimestamp64Nano(evaluated_at) AS evaluated_ns, "
               f"toUnixTimestamp64Milli(created_at) AS created_ms FROM alert_events WHERE {where} "
               "ORDER BY created_at DESC, evaluated_at DESC, event_id DESC LIMIT {limit:UInt32}")
        rows = self._rows(sql, params)
        for row in rows:
            row["details"] = _loads(row["details"], {})
            row["delivered"] = bool(row["delivered"])
        return rows

    # -- what rules measure -------------------------------------------------------------------------------------
    def window_stats(self, project: str, start_ns: int, end_ns: int, by: str | None = None,
                     filters: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """``[{subject, calls, errors, cost_usd, latency_p95_ms}]`` (``subject`` "" without ``by``; latency NaN
        where there were no LLM calls)."""
        return self._rows(*alert_stats_query(project, start_ns, end_ns, by, filters))
