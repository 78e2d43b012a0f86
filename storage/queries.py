"""SQL text for every read and every deletion, with server-side parameters only (pure: no client here).

Each builder returns ``(sql, parameters)``. Values always travel as ``{name:Type}`` parameters; the only
identifiers spliced into SQL come from fixed whitelists below, never from callers. Every read is scoped by
``project`` here, so a route cannot forget to filter, and every read is bounded: a time window (callers pass
one; lookups by trace or session take theirs from ``span_keys``), a row limit, and ``READ_SETTINGS``.

Pages of spans are read "newest first" in the table's sort order, so ClickHouse stops after the page and reads
the heavy columns of the page's rows only (lazy materialization). Duplicate rows of a span (until
ReplacingMergeTree folds them) are dropped from a slightly over-fetched page by the store: ``LIMIT 1 BY`` over
the window would disable both optimizations (measured: 60 ms instead of 9 for the keys of one page over 300k
spans). Small aggregations (a page of trace summaries) keep ``LIMIT 1 BY``.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, fields
from typing import Any, Iterable, Sequence

from .errors import InvalidQueryError
from .migrate import Layout
from .rows import SELECT_COLUMNS

MAX_LIMIT = 1000
MAX_TRACE_SPANS = 10_000
MAX_GROUPS = 100_000
# Reads are bounded so one request cannot hold the engine. The text index's posting-list and dictionary caches
# (bounded server-side) are off by default: searches share bigrams, so they help every search.
READ_SETTINGS: dict[str, Any] = {"max_execution_time": 30, "timeout_overflow_mode": "throw",
                                 "use_text_index_postings_cache": 1, "use_text_index_dictionary_cache": 1}
# Rollups small enough to merge completely on a schedule (Store.compact_rollups).
COMPACT_ROLLUPS = ("metrics_1h", "metrics_1d", "tenant_metrics_1d")
# The full-text index expression: it must match idx_text in migrations/0080_word_search_index.sql.
TEXT_EXPR = ("arrayStringConcat(arrayDistinct(splitByNonAlpha(lower(concat(input_text, '\\n', output_text)))), "
             "' ')")
# Where splitByNonAlpha splits (ASCII whitespace and punctuation; checked against the engine in the tests).
_WORD_BREAK = re.compile(r"[\t-\r !-/:-@\[-`{-}]+")
_ASCII_UPPER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")

FILTER_COLUMNS = ("trace_id", "span_id", "tenant", "user", "session", "model", "status", "kind", "provider", "service",
                  "environment", "release", "prompt_name", "prompt_version")
GROUP_BY_COLUMNS = {c: c for c in ("model", "tenant", "provider", "service", "kind", "status", "environment",
                                   "release", "prompt_name", "prompt_version")}
TOP_BY = {"duration": "duration_ms", "cost": "cost_usd", "tokens": "input_tokens + output_tokens",
          "output_tokens": "output_tokens", "ttft": "coalesce(time_to_first_token_ms, 0)"}
NARROW_COLUMNS = (
    "trace_id", "span_id", "parent_span_id", "name", "kind", "status",
    "toUnixTimestamp64Nano(start_time) AS start_time_ns", "duration_ms", "time_to_first_token_ms",
    "service", "environment", "release", "tenant", "user", "session", "provider", "model", "prompt_name",
    "prompt_version", "input_tokens", "output_tokens", "cache_read_tokens", "reasoning_tokens", "cost_usd",
    "input_preview", "output_preview",
)


@dataclass(frozen=True)
class SpanFilter:
    """A time window ``[start_ns, end_ns)`` and optional equality filters; ``q`` is full text (substring,
    case-insensitive) over input and output."""

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
    provider: str | None = None
    service: str | None = None
    environment: str | None = None
    release: str | None = None
    prompt_name: str | None = None
    prompt_version: str | None = None
    span_id: str | None = None

    def equality_filters(self) -> dict[str, str]:
        return {c: getattr(self, c) for c in FILTER_COLUMNS if getattr(self, c)}


@dataclass(frozen=True)
class Rollup:
    table: str
    bucket_s: int
    dims: frozenset[str]
    latency: bool = True


_FULL = frozenset({"tenant", "model", "provider", "prompt_name", "prompt_version", "release", "service",
                   "environment", "kind"})
# Smallest first: the first rollup that fits a query answers it.
ROLLUPS = (
    Rollup("metrics_1d", 86400, _FULL - {"tenant"}),
    Rollup("tenant_metrics_1d", 86400, frozenset({"tenant", "model", "provider"})),
    Rollup("metrics_1h", 3600, _FULL - {"tenant"}),
    Rollup("tenant_metrics_1h", 3600, frozenset({"tenant", "model", "provider", "kind"})),
    Rollup("metrics_1m", 60, _FULL),
)
_NOT_IN_ROLLUPS = ("trace_id", "span_id", "user", "session", "status", "q")
_ROLLUP_MEASURES = (
    "spans", "errors", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
    "reasoning_tokens", "cost_usd", "cost_input_usd", "cost_output_usd", "cost_cache_usd",
)


# -- shared pieces ---------------------------------------------------------------------------------------
def _limit(limit: int, maximum: int = MAX_LIMIT) -> int:
    return max(1, min(int(limit), maximum))


def _ts(name: str) -> str:
    return f"fromUnixTimestamp64Nano({{{name}:Int64}}, 'UTC')"


def needle_bigrams(q: str) -> list[str]:
    """The index tokens every text containing ``q`` (case-insensitively) has: the character bigrams inside each
    word of the needle, ASCII-folded like the index. A bigram with a cased letter outside ASCII is left out:
    the index keeps such letters as written, while the search ignores their case."""
    grams: dict[str, None] = {}
    for word in _WORD_BREAK.split(q.translate(_ASCII_UPPER)):
        for a, b in zip(word, word[1:]):
            if _caseless(a) and _caseless(b):
                grams[a + b] = None
    return list(grams)


def _caseless(c: str) -> bool:
    return c < "\x80" or c.lower() == c == c.upper()


def text_clause(q: str) -> tuple[str, dict[str, Any]]:
    """Case-insensitive substring search over input and output that uses the ``idx_text`` index.

    ``hasAllTokens`` reads the index alone (direct read) and keeps rows whose words hold every bigram of the
    needle's words (``needle_bigrams``); the ``positionCaseInsensitiveUTF8`` check then keeps the rows that
    really contain the needle. The index is on the expression itself, so the answer is the same with or without
    it. A needle without such a bigram (one character, punctuation) is matched by the check alone.
    """
    check = ("(positionCaseInsensitiveUTF8(input_text, {q:String}) > 0 "
             "OR positionCaseInsensitiveUTF8(output_text, {q:String}) > 0)")
    grams = needle_bigrams(q)
    if grams:
        return f"hasAllTokens({TEXT_EXPR}, {{q_grams:Array(String)}}) AND {check}", {"q": q, "q_grams": grams}
    return check, {"q": q}


def _where(project: str, f: SpanFilter, *, text: bool = True) -> tuple[list[str], dict[str, Any]]:
    if f.end_ns <= f.start_ns:
        raise InvalidQueryError("the time window is empty: start must be before end")
    clauses = ["project = {project:String}", f"start_time >= {_ts('start_ns')}", f"start_time < {_ts('end_ns')}"]
    params: dict[str, Any] = {"project": project, "start_ns": int(f.start_ns), "end_ns": int(f.end_ns)}
    for column, value in f.equality_filters().items():
        clauses.append(f"`{column}` = {{{column}:String}}")
        params[column] = value
    if f.q and text:
        clause, text_params = text_clause(f.q)
        clauses.append(clause)
        params.update(text_params)
    return clauses, params


def encode_cursor(time_ns: int, *keys: str) -> str:
    raw = ":".join([str(int(time_ns)), *keys])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, parts: int = 3) -> tuple[Any, ...]:
    """``(time_ns, key, ...)`` with ``parts`` items, from a cursor made by ``encode_cursor``."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        items = raw.split(":")
        if len(items) != parts:
            raise ValueError(raw)
        return (int(items[0]), *items[1:])
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidQueryError(f"invalid cursor {cursor!r}: pass next_cursor from the previous page") from exc


def page_fetch(limit: int) -> int:
    """How many rows a page reads before duplicates are dropped (a little over ``limit``)."""
    return limit + max(2, limit // 10)


def _page(clauses: list[str], params: dict[str, Any], fetch: int, columns: Sequence[str],
          descending: bool = True) -> str:
    direction = "DESC" if descending else "ASC"
    params["fetch"] = fetch
    return (f"SELECT {', '.join(columns)} FROM spans WHERE {' AND '.join(clauses)} "
            f"ORDER BY start_time {direction}, trace_id {direction}, span_id {direction} LIMIT {{fetch:UInt32}}")


def _cursor_clauses(cursor: str | None, params: dict[str, Any], descending: bool = True) -> list[str]:
    if not cursor:
        return []
    params["cursor_ns"], params["cursor_trace"], params["cursor_span"] = decode_cursor(cursor, 3)
    op, bound = ("<", "<=") if descending else (">", ">=")
    # The first clause bounds the primary key range; the tuple is the exact position.
    return [f"start_time {bound} {_ts('cursor_ns')}",
            f"(start_time, trace_id, span_id) {op} "
            f"({_ts('cursor_ns')}, {{cursor_trace:String}}, {{cursor_span:String}})"]


# -- spans -----------------------------------------------------------------------------------------------
def search_spans(project: str, f: SpanFilter, cursor: str | None, fetch: int) -> tuple[str, dict[str, Any]]:
    """The first ``fetch`` full spans matching ``f`` after ``cursor``, newest first, duplicates included (the
    store drops them: a LIMIT BY here would make ClickHouse sort the window instead of reading in order)."""
    clauses, params = _where(project, f)
    clauses += _cursor_clauses(cursor, params)
    return _page(clauses, params, fetch, SELECT_COLUMNS), params


def top_spans(project: str, f: SpanFilter, by: str = "duration", limit: int = 20) -> tuple[str, dict[str, Any]]:
    """The ``limit`` spans with the largest ``by`` (duration, cost, tokens, output_tokens, ttft) in ``f``."""
    if by not in TOP_BY:
        raise InvalidQueryError(f"top spans by must be one of {', '.join(TOP_BY)}, got {by!r}")
    clauses, params = _where(project, f)
    params["limit"] = limit = _limit(limit, 1000)
    params["fetch"] = 2 * limit
    sql = (
        f"SELECT * FROM (SELECT {', '.join(NARROW_COLUMNS)}, {TOP_BY[by]} AS value, ingested_at FROM spans "
        f"WHERE {' AND '.join(clauses)} ORDER BY value DESC LIMIT {{fetch:UInt32}}) "
        "ORDER BY value DESC, trace_id, span_id, ingested_at DESC LIMIT 1 BY trace_id, span_id LIMIT {limit:UInt32}"
    )
    return sql, params


def key_bounds(project: str, kind: str, keys: Sequence[str]) -> tuple[str, dict[str, Any]]:
    """Time bounds of traces or sessions (``kind`` 'trace' or 'session') from ``span_keys``."""
    if kind not in ("trace", "session"):
        raise InvalidQueryError(f"key kind must be trace or session, got {kind!r}")
    sql = (
        "SELECT toUnixTimestamp64Nano(min(first_start)), toUnixTimestamp64Nano(max(last_start)), sum(spans), "
        "count() FROM span_keys "
        "WHERE project = {project:String} AND key_kind = {kind:String} AND key IN {keys:Array(String)}"
    )
    return sql, {"project": project, "kind": kind, "keys": list(keys)}


def trace_spans(project: str, trace_id: str) -> tuple[str, dict[str, Any]]:
    """All spans of one trace in start order. Its time bounds come from ``span_keys`` in the same query, as
    scalar subqueries the primary key uses (a tuple of both is not used, measured), so only the granules between
    its first and last span are read, and the trace_id bloom filter picks among those."""
    keys = "FROM span_keys WHERE project = {project:String} AND key_kind = 'trace' AND key = {trace_id:String}"
    sql = (
        f"SELECT {', '.join(SELECT_COLUMNS)} FROM spans "
        "WHERE project = {project:String} AND trace_id = {trace_id:String} "
        f"AND start_time >= (SELECT min(first_start) {keys}) AND start_time <= (SELECT max(last_start) {keys}) "
        "ORDER BY start_time, span_id, ingested_at DESC LIMIT 1 BY span_id LIMIT {max:UInt32}"
    )
    return sql, {"project": project, "trace_id": trace_id, "max": MAX_TRACE_SPANS}


def session_spans(project: str, session: str, first_ns: int, last_ns: int, cursor: str | None,
                  fetch: int) -> tuple[str, dict[str, Any]]:
    """The spans of one session in start order (oldest first), a page at a time (duplicates included)."""
    clauses = ["project = {project:String}", "session = {session:String}",
               f"start_time >= {_ts('first_ns')}", f"start_time <= {_ts('last_ns')}"]
    params: dict[str, Any] = {"project": project, "session": session, "first_ns": int(first_ns),
                              "last_ns": int(last_ns)}
    clauses += _cursor_clauses(cursor, params, descending=False)
    return _page(clauses, params, fetch, SELECT_COLUMNS, descending=False), params


# -- traces ----------------------------------------------------------------------------------------------
def matching_spans(project: str, f: SpanFilter, after: tuple[int, str, str] | None,
                   fetch: int) -> tuple[str, dict[str, Any]]:
    """Keys of the spans matching ``f``, newest first, after a scan position: the input of a trace list."""
    clauses, params = _where(project, f)
    if after:
        params["cursor_ns"], params["cursor_trace"], params["cursor_span"] = after
        clauses += [f"start_time <= {_ts('cursor_ns')}",
                    f"(start_time, trace_id, span_id) < ({_ts('cursor_ns')}, {{cursor_trace:String}}, "
                    "{cursor_span:String})"]
    params["fetch"] = fetch
    sql = ("SELECT toUnixTimestamp64Nano(start_time), trace_id, span_id FROM spans "
           f"WHERE {' AND '.join(clauses)} ORDER BY start_time DESC, trace_id DESC, span_id DESC "
           "LIMIT {fetch:UInt32}")
    return sql, params


def trace_starts(project: str, trace_ids: Sequence[str]) -> tuple[str, dict[str, Any]]:
    """Each trace's first and last span start (``span_keys``, by primary key)."""
    sql = ("SELECT key, toUnixTimestamp64Nano(min(first_start)), toUnixTimestamp64Nano(max(last_start)) "
           "FROM span_keys WHERE project = {project:String} AND key_kind = 'trace' AND key IN {ids:Array(String)} "
           "GROUP BY key")
    return sql, {"project": project, "ids": list(trace_ids)}


def trace_summaries(project: str, trace_ids: Sequence[str], first_ns: int,
                    last_ns: int) -> tuple[str, dict[str, Any]]:
    """One summary row per trace, from the narrow columns and the previews of its spans."""
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
    argMinIf(input_preview, start_time, input_preview != '') AS input_preview,
    argMaxIf(output_preview, end_time, output_preview != '') AS output_preview
FROM (
    SELECT trace_id, span_id, parent_span_id, name, kind, status, start_time, end_time, tenant, user, session,
           model, input_tokens, output_tokens, cost_usd, input_preview, output_preview
    FROM spans
    WHERE project = {{project:String}} AND trace_id IN {{ids:Array(String)}}
      AND start_time >= {_ts('first_ns')} AND start_time <= {_ts('last_ns')}
    ORDER BY ingested_at DESC
    LIMIT 1 BY trace_id, span_id
)
GROUP BY trace_id"""
    return sql, {"project": project, "ids": list(trace_ids), "first_ns": int(first_ns), "last_ns": int(last_ns)}


# -- metrics ---------------------------------------------------------------------------------------------
def align_window(start_ns: int, end_ns: int, step_s: int) -> tuple[int, int]:
    """Widen ``[start, end)`` to whole ``step_s`` intervals (aligned to the epoch, so days are UTC days)."""
    step = int(step_s) * 10**9
    return start_ns - start_ns % step, end_ns + (-end_ns) % step


def pick_rollup(f: SpanFilter, step_s: int, dims: Iterable[str] = (), latency: bool = True) -> Rollup | None:
    """The smallest rollup whose bucket divides ``step_s`` and whose dimensions cover the query, else None
    (the query then reads spans)."""
    if any(getattr(f, c) for c in _NOT_IN_ROLLUPS):
        return None
    needed = set(dims) | set(f.equality_filters())
    for rollup in ROLLUPS:
        if step_s % rollup.bucket_s == 0 and needed <= rollup.dims and (rollup.latency or not latency):
            return rollup
    return None


def _check_group(group_by: str | None) -> None:
    if group_by and group_by not in GROUP_BY_COLUMNS:
        raise InvalidQueryError(f"group_by must be one of {', '.join(sorted(GROUP_BY_COLUMNS))}, got {group_by!r}")


def metrics(project: str, f: SpanFilter, step_s: int, group_by: str | None) -> tuple[str, dict[str, Any]]:
    """A time series per ``step_s`` (and per group): spans, errors, latency p50/p95/p99, tokens, cost.

    Buckets are whole intervals (the window is widened to them), so a rollup and the spans table give the same
    answer. Reads a rollup when one covers the filters and the group-by, else the spans table.
    """
    _check_group(group_by)
    step_s = int(step_s)
    if step_s < 1 or step_s > 366 * 86400:
        raise InvalidQueryError(f"step must be between 1 second and a year, got {step_s}")
    start_ns, end_ns = align_window(f.start_ns, f.end_ns, step_s)
    if (end_ns - start_ns) // (step_s * 10**9) > MAX_GROUPS:
        raise InvalidQueryError("too many intervals: use a longer interval or a shorter window")
    rollup = pick_rollup(f, step_s, [group_by] if group_by else [])
    group_expr = f"toString(`{GROUP_BY_COLUMNS[group_by]}`)" if group_by else "''"
    params: dict[str, Any] = {"project": project, "step": step_s, "start_ns": start_ns, "end_ns": end_ns,
                              "max": MAX_GROUPS}
    if rollup is None:
        clauses, where_params = _where(project, SpanFilter(**{**_fields(f), "start_ns": start_ns,
                                                              "end_ns": end_ns}))
        clauses.append("is_update = 0")  # count each span once, as the rollups do
        params.update(where_params)
        source, time_col = "spans", "start_time"
        measures = """count() AS spans,
    countIf(status = 'error') AS errors,
    quantilesTDigest(0.5, 0.95, 0.99)(duration_ms) AS latency,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    sum(cost_usd) AS cost_usd"""
    else:
        clauses = ["project = {project:String}", f"time >= {_ts('start_ns')}", f"time < {_ts('end_ns')}"]
        for column, value in f.equality_filters().items():
            clauses.append(f"`{column}` = {{{column}:String}}")
            params[column] = value
        source, time_col = rollup.table, "time"
        measures = """sum(spans) AS spans,
    sum(errors) AS errors,
    quantilesTDigestMerge(0.5, 0.95, 0.99)(latency) AS latency,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    sum(cost_usd) AS cost_usd"""
    sql = f"""
SELECT
    toUnixTimestamp64Nano(toDateTime64(
        toStartOfInterval({time_col}, toIntervalSecond({{step:UInt32}})), 9, 'UTC')) AS t,
    {group_expr} AS grp,
    {measures}
FROM {source}
WHERE {' AND '.join(clauses)}
GROUP BY t, grp
ORDER BY t, grp
LIMIT {{max:UInt32}}"""
    return sql, params


def _fields(f: SpanFilter) -> dict[str, Any]:
    return {field.name: getattr(f, field.name) for field in fields(f)}


COST_DIMENSIONS = ("tenant", "model", "provider", "service", "environment", "release", "prompt_name",
                   "prompt_version", "kind")
COST_MEASURES = _ROLLUP_MEASURES


def cost_breakdown(project: str, f: SpanFilter, by: Sequence[str] = ("tenant", "model"),
                   step_s: int | None = 86400, order_by: str = "time", limit: int = MAX_GROUPS,
                   ) -> tuple[str, dict[str, Any]]:
    """Spans, errors, tokens and cost (split into input, output, cache) per ``by`` dimensions, per ``step_s``
    (None: the whole window), from the smallest rollup that covers ``by`` and the filters; ``order_by``
    "time" or "cost" (most expensive first: a top-N of tenants or models)."""
    bad = [d for d in by if d not in COST_DIMENSIONS]
    if bad:
        raise InvalidQueryError(f"cost breakdown by must be among {', '.join(COST_DIMENSIONS)}, got {bad}")
    if order_by not in ("time", "cost"):
        raise InvalidQueryError(f"order_by must be time or cost, got {order_by!r}")
    step = int(step_s) if step_s else None
    if step is not None and (step < 60 or step % 60):
        raise InvalidQueryError("cost breakdowns step by whole minutes")
    # A total over the window (no step) reads the coarsest rollup that covers the dimensions.
    rollup = next((r for s in ((step,) if step else (86400, 3600, 60))
                   if (r := pick_rollup(f, s, by, latency=False))), None)
    if rollup is None:
        raise InvalidQueryError("cost breakdowns filter by dimensions only (no trace, user, session, status or text)")
    start_ns, end_ns = align_window(f.start_ns, f.end_ns, step or rollup.bucket_s)
    params: dict[str, Any] = {"project": project, "start_ns": start_ns, "end_ns": end_ns,
                              "limit": _limit(limit, MAX_GROUPS)}
    clauses = ["project = {project:String}", f"time >= {_ts('start_ns')}", f"time < {_ts('end_ns')}"]
    for column, value in f.equality_filters().items():
        clauses.append(f"`{column}` = {{{column}:String}}")
        params[column] = value
    keys = []
    if step:
        params["step"] = step
        keys.append("toUnixTimestamp64Nano(toDateTime64(toStartOfInterval(time, toIntervalSecond({step:UInt32})), "
                    "9, 'UTC')) AS time_ns")
    keys += [f"`{d}`" for d in by]
    group = ", ".join(["time_ns"] * bool(step) + [f"`{d}`" for d in by])
    order = "cost_usd DESC" if order_by == "cost" or not group else group
    sums = ", ".join(f"sum({m}) AS {m}" for m in COST_MEASURES)
    sql = (f"SELECT {', '.join(keys + [sums])} FROM {rollup.table} WHERE {' AND '.join(clauses)} "
           f"{f'GROUP BY {group} ' if group else ''}ORDER BY {order} LIMIT {{limit:UInt32}}")
    return sql, params


# -- scores ----------------------------------------------------------------------------------------------
def trace_scores(project: str, trace_id: str) -> tuple[str, dict[str, Any]]:
    sql = ("SELECT score_id, trace_id, span_id, name, value, comment, source, "
           "toUnixTimestamp64Nano(created_at) AS created_ns FROM scores "
           "WHERE project = {project:String} AND trace_id = {trace_id:String} "
           "ORDER BY created_at LIMIT 1 BY score_id LIMIT 10000")
    return sql, {"project": project, "trace_id": trace_id}


# -- deletion (right to be forgotten) --------------------------------------------------------------------
def subject_clauses(project: str, tenant: str | None, user: str | None) -> tuple[str, dict[str, Any]]:
    if not tenant and not user:
        raise InvalidQueryError("name a tenant, a user or both to delete")
    clauses = ["project = {project:String}"]
    params: dict[str, Any] = {"project": project}
    if tenant:
        clauses.append("tenant = {tenant:String}")
        params["tenant"] = tenant
    if user:
        clauses.append("user = {user:String}")
        params["user"] = user
    return " AND ".join(clauses), params


def subject_keys(project: str, tenant: str | None, user: str | None,
                 after: tuple[str, str] = ("", "")) -> tuple[str, dict[str, Any]]:
    """A page of the distinct (trace_id, session) pairs of a subject's spans."""
    where, params = subject_clauses(project, tenant, user)
    params["after_trace"], params["after_session"] = after
    sql = (f"SELECT DISTINCT trace_id, session FROM spans WHERE {where} "
           "AND (trace_id, session) > ({after_trace:String}, {after_session:String}) "
           "ORDER BY trace_id, session LIMIT 10000")
    return sql, params


def delete_rows(layout: Layout, table: str, where: str) -> str:
    """A mutation that deletes rows and rewrites the parts holding them (the data is gone from disk, not
    hidden), on every replica of a cluster."""
    return f"ALTER TABLE `{layout.local(table)}`{layout.on_cluster} DELETE WHERE {where}"


def update_json_column(layout: Layout, table: str, column: str, key_expr: str) -> str:
    """A mutation replacing ``column`` of the rows whose ``key_expr`` is in ``{keys}`` by ``{values}`` (the
    same positions), rewriting their parts."""
    return (f"ALTER TABLE `{layout.local(table)}`{layout.on_cluster} UPDATE `{column}` = "
            f"transform({key_expr}, {{keys:Array(String)}}, {{values:Array(String)}}, `{column}`) "
            f"WHERE project = {{project:String}} AND {key_expr} IN {{keys:Array(String)}}")


# Analytics results holding example interactions (previews of their text): table, JSON column, row key.
EXAMPLE_COLUMNS = (("analytics_clusters", "examples", "concat(run_id, '/', cluster_id)"),
                   ("drift_signals", "top", "concat(run_id, '/', name)"))


TENANT_ROLLUPS = tuple(r.table for r in ROLLUPS if "tenant" in r.dims)
