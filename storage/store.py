"""The store: the only holder of a clickhouse-connect client (embedded chDB or a ClickHouse server).

Thread safety: one Store is shared by the collector's threads; chDB and clickhouse-connect's HTTP client (with
sessions off) both allow concurrent queries. Every method blocks on I/O (call it off the event loop) and raises
``StorageError`` subclasses, never library exceptions. SQL lives in ``queries`` (reads, deletions) and in
``migrations/`` (schema); this module runs it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import re
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Iterable, NamedTuple, Sequence

from . import queries
from .errors import ConfigError, InvalidQueryError, QueryError, StorageError, UnavailableError
from .migrate import Layout, load_migrations, schema_table_statements
from .record import SpanRecord
from .rows import INSERT_COLUMNS, SPAN_INDEX, dumps, row_to_dict, span_row
from .target import StorageTarget, parse_storage_url

logger = logging.getLogger("tracehouse.storage")
KEY_PREFIX = "th_"
SCOPES = ("ingest", "read", "admin")
DEFAULT_RETENTION_DAYS = 30
MAX_RETENTION_DAYS = 3650
_RETENTION_CACHE_S = 60.0
# Mutations wait until every replica has applied them, so a deletion report is about the data on disk.
_MUTATION_SETTINGS = {"mutations_sync": 2, "max_execution_time": 0}
# On a cluster, an insert returns once the rows are on their shards (the WAL's ack depends on it).
_CLUSTER_INSERT_SETTINGS = {"distributed_foreground_insert": 1}
# Span inserts feed the rollup views in parallel (the engine's other core; same result).
_SPAN_INSERT_SETTINGS = {"parallel_view_processing": 1}
_DELETE_CHUNK = 10_000
# Span attributes every span of a trace usually shares.
_TRACE_LEVEL = frozenset({"trace_id", "tenant", "user", "session", "service", "environment", "release"})
# Tables keyed by trace whose rows go with a deleted trace (besides span_keys).
_TRACE_TABLES = ("scores", "analytics_cluster_members", "analytics_cluster_assignments")

# chDB allows one engine path per process: clients on the same path are shared and counted.
_chdb_lock = threading.Lock()
_chdb_path: str | None = None


@dataclass(frozen=True)
class ApiKey:
    project: str
    scopes: tuple[str, ...]
    prefix: str


@dataclass(frozen=True)
class MetricsRow:
    time_ns: int
    group: str
    spans: int
    errors: int
    latency_p50_ms: float
    latency_p95_ms: float
    latency_p99_ms: float
    input_tokens: int
    output_tokens: int
    cost_usd: float


class CostRow(NamedTuple):
    """One line of a cost breakdown; ``time_ns`` is None for totals over the window. (A NamedTuple: breakdowns
    run to tens of thousands of lines, and a frozen dataclass costs several times more to build.)"""

    time_ns: int | None
    dims: dict[str, str]
    spans: int
    errors: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    reasoning_tokens: int
    cost_usd: float
    cost_input_usd: float
    cost_output_usd: float
    cost_cache_usd: float


@dataclass(frozen=True)
class DeletionReport:
    """What ``Store.delete_subject`` removed, and what a fresh count found left afterwards (all zero when
    ``verified``). Tables without the subject's dimension keep anonymous aggregates (``kept``)."""

    project: str
    tenant: str | None
    user: str | None
    deleted: dict[str, int]
    remaining: dict[str, int]
    kept: tuple[str, ...]
    seconds: float
    verified: bool = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "verified", not any(self.remaining.values()))


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _open_client(target: StorageTarget) -> Any:
    global _chdb_path
    import clickhouse_connect  # imported here so importing storage stays cheap

    try:
        if target.kind == "chdb":
            with _chdb_lock:
                if _chdb_path not in (None, target.path):
                    raise UnavailableError(
                        f"this process already opened embedded storage at {_chdb_path}; "
                        f"chDB allows one data directory per process (asked for {target.path})"
                    )
                os.makedirs(target.path, exist_ok=True)
                bootstrap = clickhouse_connect.get_client(dsn=f"chdb://{target.path}")
                bootstrap.command(f"CREATE DATABASE IF NOT EXISTS `{target.database}`")
                client = clickhouse_connect.get_client(dsn=f"chdb://{target.path}", database=target.database)
                _chdb_path = target.path
                return client
        bootstrap = clickhouse_connect.get_client(
            host=target.host, port=target.port, username=target.username, password=target.password,
            secure=target.secure, autogenerate_session_id=False,
        )
        on_cluster = f" ON CLUSTER `{target.cluster}`" if target.cluster else ""
        bootstrap.command(f"CREATE DATABASE IF NOT EXISTS `{target.database}`{on_cluster}")
        return clickhouse_connect.get_client(
            host=target.host, port=target.port, username=target.username, password=target.password,
            database=target.database, secure=target.secure, autogenerate_session_id=False,
        )
    except StorageError:
        raise
    except Exception as exc:
        hint = " (is another tracehouse process using this directory?)" if "lock" in str(exc).lower() else ""
        raise UnavailableError(f"cannot open storage {target.describe()}: {exc}{hint}") from exc


class Store:
    def __init__(self, client: Any, target: StorageTarget,
                 default_retention_days: int = DEFAULT_RETENTION_DAYS) -> None:
        self._client = client
        self.target = target
        self.layout = Layout(database=target.database, cluster=target.cluster)
        self.default_retention_days = _check_retention(default_retention_days)
        self._retention: dict[str, int] = {}
        self._retention_loaded = 0.0
        self._retention_lock = threading.Lock()
        # Settings sent with every read (bounds; a benchmark turns caches off here).
        self.read_settings: dict[str, Any] = dict(queries.READ_SETTINGS)

    @classmethod
    def open(cls, url: str, *, migrate: bool = True,
             default_retention_days: int = DEFAULT_RETENTION_DAYS) -> "Store":
        """Open the storage named by ``url`` (see ``parse_storage_url``) and apply pending migrations.

        ``default_retention_days`` applies to projects without their own (``set_retention``)."""
        target = parse_storage_url(url)
        store = cls(_open_client(target), target, default_retention_days)
        if migrate:
            store.migrate()
        return store

    # -- plumbing -------------------------------------------------------------------------------
    def _command(self, sql: str, parameters: dict[str, Any] | None = None,
                 settings: dict[str, Any] | None = None) -> Any:
        try:
            return self._client.command(sql, parameters=parameters, settings=settings)
        except Exception as exc:
            raise QueryError(f"statement failed: {exc}") from exc

    def _query(self, sql: str, parameters: dict[str, Any],
               settings: dict[str, Any] | None = None) -> tuple[Sequence[str], list[Sequence[Any]]]:
        try:
            result = self._client.query(sql, parameters=parameters, settings={**self.read_settings,
                                                                              **(settings or {})})
        except Exception as exc:
            raise QueryError(f"query failed: {exc}") from exc
        return result.column_names, result.result_rows

    def _dicts(self, sql: str, parameters: dict[str, Any]) -> list[dict[str, Any]]:
        columns, rows = self._query(sql, parameters)
        return [dict(zip(columns, row)) for row in rows]

    def ping(self) -> bool:
        try:
            self._client.command("SELECT 1")
            return True
        except Exception:
            return False

    def migrate(self) -> list[int]:
        """Apply pending migrations; returns the versions applied now.

        Raises ``ConfigError`` when an applied migration's text differs from this version's (a data directory
        made by another, unreleased schema): delete that data or migrate it by hand."""
        for statement in schema_table_statements(self.layout):
            self._command(statement)
        try:
            _, rows = self._query("SELECT version, argMax(checksum, applied_at) FROM schema_migrations "
                                  "GROUP BY version", {})
        except QueryError as exc:
            raise ConfigError(
                f"storage {self.target.describe()} holds a schema from an older, unreleased tracehouse "
                f"(schema_migrations has no checksum); delete that database or data directory: {exc}"
            ) from exc
        done = dict(rows)
        applied = []
        for migration in load_migrations():
            if migration.version in done:
                if done[migration.version] != migration.checksum:
                    raise ConfigError(
                        f"migration {migration.version:04d}_{migration.name} was applied from a different text "
                        f"than this tracehouse ships ({done[migration.version]} != {migration.checksum}); "
                        f"storage {self.target.describe()} was made by another version: delete it or migrate it"
                    )
                continue
            for statement in migration.render(self.layout):
                self._command(statement)
            self._insert("schema_migrations", [[migration.version, migration.name, migration.checksum]],
                         ["version", "name", "checksum"])
            applied.append(migration.version)
            logger.info("applied migration %04d_%s", migration.version, migration.name)
        return applied

    def _insert(self, table: str, rows: list[list[Any]], columns: Sequence[str],
                settings: dict[str, Any] | None = None, column_oriented: bool = False) -> None:
        if not rows:
            return
        if self.layout.cluster:
            settings = {**_CLUSTER_INSERT_SETTINGS, **(settings or {})}
        try:
            self._client.insert(table, rows, column_names=list(columns), settings=settings,
                                column_oriented=column_oriented)
        except Exception as exc:
            raise QueryError(f"insert into {table} failed: {exc}") from exc

    def close(self) -> None:
        try:
            self._client.close()
        except Exception:
            logger.debug("closing the storage client failed", exc_info=True)

    # -- spans ----------------------------------------------------------------------------------
    def insert_spans(self, records: Iterable[SpanRecord], dedup_token: str | None = None,
                     skip_existing: bool = True) -> int:
        """Insert spans idempotently; returns how many rows were written.

        WAL replays and client retries never double-count, in spans or in the rollups:

        - ``dedup_token`` (one per WAL segment) makes a repeated insert of the same batch a no-op in spans, and
          lets each rollup's materialized view add the block only if it missed it (a crash between the spans
          part and a view's part), via ``deduplicate_blocks_in_dependent_materialized_views``.
        - ``skip_existing`` drops spans whose (trace_id, span_id) another insert already stored (a client that
          resent spans in a new batch), looked up by primary key on their start times. Rows stored under the
          same token are kept, so a replay rebuilds exactly the block it repeats. A copy with more content
          than the stored one (content that arrived as log records after its span) is written as an update:
          reads prefer the newest copy, rollups count the first only.

        Concurrent writers can still race past the second guard: duplicate rows are then folded by
        ReplacingMergeTree and dropped by every read of spans, but a rollup may count them."""
        return self.insert_span_rows([span_row(r) for r in records], dedup_token, skip_existing)

    def insert_span_rows(self, rows: Sequence[Sequence[Any]], dedup_token: str | None = None,
                         skip_existing: bool = True) -> int:
        """``insert_spans`` for rows made by ``rows.span_row`` (the collector makes them on its ingest threads
        and logs them). The rows are only read, never changed."""
        updates: set[tuple[str, str, str]] = set()
        if skip_existing and rows:
            rows, updates = self._without_stored(rows, dedup_token or "")
        if not rows:
            return 0
        token = dedup_token or ""
        # Column-oriented: clickhouse-connect encodes a column at a time, about twice as fast as rows.
        columns = [list(column) for column in zip(*rows)]
        projects, trace_ids, span_ids = (columns[SPAN_INDEX[c]] for c in ("project", "trace_id", "span_id"))
        retention = {p: self.retention_days(p) for p in set(projects)}
        columns.append([retention[p] for p in projects])
        columns.append([token] * len(rows))
        columns.append([int(key in updates) for key in zip(projects, trace_ids, span_ids)] if updates
                       else [0] * len(rows))
        settings = dict(_SPAN_INSERT_SETTINGS)
        if dedup_token:
            settings.update(insert_deduplication_token=dedup_token,
                            deduplicate_blocks_in_dependent_materialized_views=1)
        self._insert("spans", columns, INSERT_COLUMNS + ("insert_token", "is_update"), settings,
                     column_oriented=True)
        return len(rows)

    def _without_stored(self, rows: Sequence[Sequence[Any]],
                        token: str) -> tuple[list[Sequence[Any]], set[tuple[str, str, str]]]:
        """The span rows to write, and which of them update a stored span (they carry more content)."""
        project_at, trace_at, span_at = (SPAN_INDEX[c] for c in ("project", "trace_id", "span_id"))
        by_project: dict[str, list[Sequence[Any]]] = {}
        for r in rows:
            by_project.setdefault(r[project_at], []).append(r)
        stored: dict[tuple[str, str, str], int] = {}
        for project, group in by_project.items():
            # Keys first (narrow columns, by primary key); content sizes only for the few already stored:
            # reading the multi-KB content columns for every key cost more than the insert itself.
            found = self._stored_spans(project, token, group, "count()")
            if found:
                group = [r for r in group if (r[trace_at], r[span_at]) in found]
                found = self._stored_spans(project, token, group, "max(length(input_messages) + length(output_messages) "
                                           "+ length(input_text_stored) + length(output_text_stored))")
            stored.update(((project, t, s), int(size)) for (t, s), size in found.items())
        seen: set[tuple[str, str, str]] = set()
        fresh, updates = [], set()
        for r in rows:  # also drop repeats inside the batch itself
            key = (r[project_at], r[trace_at], r[span_at])
            if key in seen:
                continue
            if key in stored:
                if _content_size(r) <= stored[key]:
                    continue
                updates.add(key)
            seen.add(key)
            fresh.append(r)
        if len(fresh) < len(rows):
            logger.debug("insert: %d of %d spans already stored", len(rows) - len(fresh), len(rows))
        return fresh, updates

    def _stored_spans(self, project: str, token: str, rows: Sequence[Sequence[Any]],
                      measure: str) -> dict[tuple[str, str], Any]:
        """(trace_id, span_id) -> ``measure`` for the given span rows other inserts already stored."""
        start_at, trace_at, span_at = (SPAN_INDEX[c] for c in ("start_time", "trace_id", "span_id"))
        # The keys go inline as base64 of JSON (any id survives, nothing needs escaping): bound as a
        # parameter, the client escapes it a character at a time in Python, which cost more than the query.
        keys = base64.b64encode(dumps([(r[start_at], r[trace_at], r[span_at]) for r in rows]).encode()).decode()
        traces = base64.b64encode(dumps(list({r[trace_at] for r in rows})).encode()).decode()
        _, found = self._query(
            f"SELECT trace_id, span_id, {measure} FROM spans WHERE project = {{project:String}} "
            "AND (insert_token = '' OR insert_token != {token:String}) "
            "AND start_time >= fromUnixTimestamp64Nano({lo:Int64}, 'UTC') "
            "AND start_time <= fromUnixTimestamp64Nano({hi:Int64}, 'UTC') "
            "AND (start_time, trace_id, span_id) IN "
            "(SELECT fromUnixTimestamp64Nano(k.1, 'UTC'), k.2, k.3 FROM (SELECT arrayJoin(JSONExtract("
            f"base64Decode('{keys}'), 'Array(Tuple(Int64, String, String))')) AS k)) "
            # New spans fall inside the key ranges of stored granules; the trace_id bloom filter is what
            # skips those granules (fresh trace ids are in none of them), so the lookup reads almost nothing.
            f"AND trace_id IN (SELECT arrayJoin(JSONExtract(base64Decode('{traces}'), 'Array(String)'))) "
            "GROUP BY trace_id, span_id",
            {"project": project, "token": token, "lo": min(r[start_at] for r in rows),
             "hi": max(r[start_at] for r in rows)},
            {"max_query_size": len(keys) + len(traces) + 65536},
        )
        return {(t, s): value for t, s, value in found}

    def _page(self, build: Any, limit: int) -> list[dict[str, Any]]:
        """Read a page of spans with ``build(fetch) -> (sql, params)`` and drop duplicate rows of a span; if
        duplicates ate into the over-fetched page, read again with a larger fetch."""
        fetch = queries.page_fetch(limit)
        while True:
            columns, rows = self._query(*build(fetch))
            items: list[dict[str, Any]] = []
            seen: dict[tuple[str, str], int] = {}
            for row in rows:
                item = row_to_dict(columns, row)
                key = (item["trace_id"], item["span_id"])
                if key not in seen:
                    seen[key] = len(items)
                    items.append(item)
                elif item["ingested_ms"] > items[seen[key]]["ingested_ms"]:  # the newest copy wins
                    items[seen[key]] = item
            if len(items) >= limit or len(rows) < fetch or fetch >= 64 * limit:
                return items[:limit]
            fetch *= 4

    def search_spans(self, project: str, f: queries.SpanFilter, limit: int = 50,
                     cursor: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
        """Full spans matching ``f``, newest first; ``next_cursor`` is None on the last page."""
        limit = queries._limit(limit)
        items = self._page(lambda fetch: queries.search_spans(project, f, cursor, fetch), limit)
        return items, self._span_cursor(items, limit)

    @staticmethod
    def _span_cursor(items: list[dict[str, Any]], limit: int) -> str | None:
        if len(items) < limit:
            return None
        last = items[-1]
        return queries.encode_cursor(last["start_time_ns"], last["trace_id"], last["span_id"])

    def get_trace(self, project: str, trace_id: str) -> list[dict[str, Any]]:
        """All spans of one trace in start order ([] when unknown); at most ``queries.MAX_TRACE_SPANS``."""
        columns, rows = self._query(*queries.trace_spans(project, trace_id))
        return [row_to_dict(columns, row) for row in rows]

    def _bounds(self, project: str, kind: str, keys: Sequence[str]) -> tuple[int, int] | None:
        _, rows = self._query(*queries.key_bounds(project, kind, keys))
        if not rows or not rows[0][3]:
            return None
        return int(rows[0][0]), int(rows[0][1])

    def get_session(self, project: str, session: str, limit: int = 200,
                    cursor: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
        """The spans of one session in start order (oldest first), a page at a time."""
        bounds = self._bounds(project, "session", [session])
        if bounds is None:
            return [], None
        limit = queries._limit(limit)
        items = self._page(lambda fetch: queries.session_spans(project, session, *bounds, cursor, fetch), limit)
        return items, self._span_cursor(items, limit)

    def list_traces(self, project: str, f: queries.SpanFilter, limit: int = 50,
                    cursor: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
        """Trace summaries, newest first by the trace's first span, for traces that start in the window and
        have a span matching ``f`` there (any span when ``f`` filters nothing).

        Reads the matching spans newest first in batches and stops as soon as the page is certain: a trace not
        seen yet has every matching span older than the scan position, so it starts before it too."""
        limit = queries._limit(limit)
        after = queries.decode_cursor(cursor, 2) if cursor else None
        starts: dict[str, tuple[int, int]] = {}
        seen: set[str] = set()
        position: tuple[int, str, str] | None = None
        # Every new trace costs a span_keys lookup, so read about one page of traces: when every span of a
        # trace matches (no filter, or only filters on what a trace shares) that is several spans per trace;
        # filters on single spans (status, kind, model, text, ...) match about one span per trace.
        per_trace = not f.q and set(f.equality_filters()) <= _TRACE_LEVEL
        fetch = (6 if per_trace else 2) * limit
        while True:
            _, rows = self._query(*queries.matching_spans(project, f, position, fetch))
            new = list(dict.fromkeys(t for _, t, _ in rows if t not in seen))
            seen.update(new)
            if new:
                _, bounds = self._query(*queries.trace_starts(project, new))
                for trace_id, first, last in bounds:
                    if f.start_ns <= first < f.end_ns and (after is None or (first, trace_id) < after):
                        starts[trace_id] = (int(first), int(last))
            exhausted = len(rows) < fetch
            floor = f.start_ns if exhausted else int(rows[-1][0])
            certain = sorted(((first, t) for t, (first, _) in starts.items() if first >= floor), reverse=True)
            if len(certain) >= limit or exhausted:
                break
            position = (int(rows[-1][0]), rows[-1][1], rows[-1][2])
            fetch = min(fetch * 2, 100_000)
        page = certain[:limit]
        if not page:
            return [], None
        ids = [t for _, t in page]
        first = min(starts[t][0] for t in ids)
        last = max(starts[t][1] for t in ids)
        summaries = {s["trace_id"]: s for s in self._dicts(*queries.trace_summaries(project, ids, first, last))}
        items = [summaries[t] for t in ids if t in summaries]
        next_cursor = queries.encode_cursor(*page[-1]) if len(page) == limit else None
        return items, next_cursor

    def top_spans(self, project: str, f: queries.SpanFilter, by: str = "duration",
                  limit: int = 20) -> list[dict[str, Any]]:
        """The slowest (``by='duration'``), most expensive (``'cost'``), or largest (``'tokens'``,
        ``'output_tokens'``, ``'ttft'``) spans in ``f``, narrow columns and previews only."""
        return self._dicts(*queries.top_spans(project, f, by, limit))

    def metrics(self, project: str, f: queries.SpanFilter, step_s: int,
                group_by: str | None = None) -> list[MetricsRow]:
        """A time series per ``step_s`` (and per ``group_by``), from a rollup when one covers the query."""
        _, rows = self._query(*queries.metrics(project, f, step_s, group_by))
        return [
            MetricsRow(int(t), grp, int(n), int(err), *(float(x) for x in lat), int(tin), int(tout), float(cost))
            for t, grp, n, err, lat, tin, tout, cost in rows
        ]

    def cost_breakdown(self, project: str, f: queries.SpanFilter, by: Sequence[str] = ("tenant", "model"),
                       step_s: int | None = 86400, order_by: str = "time",
                       limit: int = queries.MAX_GROUPS) -> list[CostRow]:
        """Spend per ``by`` (tenant, model, provider, service, ...) per ``step_s`` (None: totals over the window;
        ``order_by='cost'`` with a ``limit`` gives the top N), from the cost rollups."""
        _, rows = self._query(*queries.cost_breakdown(project, f, by, step_s, order_by, limit))
        timed = bool(step_s)
        k = len(by) + timed
        make = CostRow._make
        return [make((row[0] if timed else None, dict(zip(by, row[timed:k])), *row[k:])) for row in rows]

    def compact_rollups(self) -> float:
        """Merge the hour and day rollups completely (``OPTIMIZE ... FINAL``), so each key is one row; returns
        the seconds it took. Rollup rows only fold when their parts merge, and every insert adds a row per key
        it touches; run this from a scheduler (hourly is plenty: these tables are small)."""
        started = time.monotonic()
        for table in queries.COMPACT_ROLLUPS:
            self._command(f"OPTIMIZE TABLE `{self.layout.local(table)}`{self.layout.on_cluster} FINAL",
                          settings={"max_execution_time": 0})
        return time.monotonic() - started

    # -- scores ---------------------------------------------------------------------------------
    def insert_score(self, project: str, trace_id: str, span_id: str, name: str, value: float,
                     comment: str = "", source: str = "api") -> str:
        score_id = uuid.uuid4().hex
        self._insert(
            "scores",
            [[project, score_id, trace_id, span_id, name, float(value), comment, source,
              self.retention_days(project)]],
            ["project", "score_id", "trace_id", "span_id", "name", "value", "comment", "source", "retention_days"],
        )
        return score_id

    def get_scores(self, project: str, trace_id: str) -> list[dict[str, Any]]:
        """The scores of one trace, oldest first."""
        return self._dicts(*queries.trace_scores(project, trace_id))

    # -- projects, retention and keys -----------------------------------------------------------
    def create_project(self, name: str, project_id: str | None = None,
                       retention_days: int | None = None) -> str:
        project_id = project_id or uuid.uuid4().hex[:16]
        days = _check_retention(retention_days or self.default_retention_days)
        self._insert("projects", [[project_id, name, days]], ["id", "name", "retention_days"])
        self._forget_retention()
        return project_id

    def list_projects(self, project: str | None = None) -> list[dict[str, Any]]:
        """Every project (or only ``project``): id, name, retention_days, created_at."""
        where = "WHERE id = {id:String} " if project is not None else ""
        return self._dicts(
            f"SELECT id, argMax(name, updated_at) AS name, argMax(retention_days, updated_at) AS retention_days, "
            f"min(created_at) AS created_at FROM projects {where}GROUP BY id ORDER BY created_at, id LIMIT 100000",
            {"id": project} if project is not None else {})

    def project_exists(self, project_id: str) -> bool:
        _, rows = self._query("SELECT 1 FROM projects WHERE id = {id:String} LIMIT 1", {"id": project_id})
        return bool(rows)

    def set_retention(self, project: str, days: int) -> None:
        """Keep ``project``'s spans and scores ``days`` days (whole days, dropped by partition). Applies to
        rows written from now on; rows already stored keep the retention they were written with."""
        days = _check_retention(days)
        _, rows = self._query("SELECT argMax(name, updated_at) FROM projects WHERE id = {id:String} GROUP BY id",
                              {"id": project})
        if not rows:
            raise InvalidQueryError(f"project {project!r} not found")
        self._insert("projects", [[project, rows[0][0], days]], ["id", "name", "retention_days"])
        self._forget_retention()

    def retention_days(self, project: str) -> int:
        """The retention new rows of ``project`` get (cached for a minute)."""
        with self._retention_lock:
            if time.monotonic() - self._retention_loaded > _RETENTION_CACHE_S:
                _, rows = self._query("SELECT id, argMax(retention_days, updated_at) FROM projects GROUP BY id "
                                      "LIMIT 1000000", {})
                self._retention = {pid: int(days) for pid, days in rows}
                self._retention_loaded = time.monotonic()
            return self._retention.get(project, self.default_retention_days)

    def _forget_retention(self) -> None:
        with self._retention_lock:
            self._retention_loaded = 0.0

    def create_key(self, project: str, scopes: Sequence[str], name: str = "") -> str:
        """Create an API key and return it; only its hash is stored, so it cannot be shown again."""
        bad = [s for s in scopes if s not in SCOPES]
        if bad or not scopes:
            raise InvalidQueryError(f"scopes must be a non-empty subset of {', '.join(SCOPES)}, got {list(scopes)}")
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        self._insert(
            "api_keys",
            [[hash_key(key), key[:10], project, sorted(set(scopes)), name]],
            ["key_hash", "key_prefix", "project", "scopes", "name"],
        )
        return key

    def list_keys(self, project: str) -> list[dict[str, Any]]:
        """The project's keys without secrets: ``key_id`` (the first 16 hex of the hash), prefix, name, scopes,
        created and revoked."""
        return self._dicts(
            "SELECT substring(key_hash, 1, 16) AS key_id, key_prefix AS prefix, name, scopes, "
            "toBool(revoked) AS revoked, created_at, updated_at FROM api_keys FINAL "
            "WHERE project = {p:String} ORDER BY created_at, key_hash LIMIT 10000", {"p": project})

    def revoke_key(self, project: str, key_id: str) -> dict[str, Any] | None:
        """Revoke one key of ``project`` by its ``key_id``; None if the project has no such key."""
        if not re.fullmatch(r"[0-9a-f]{16}", key_id):
            return None
        _, rows = self._query(
            "SELECT key_hash, key_prefix, scopes, name, created_at FROM api_keys FINAL "
            "WHERE project = {p:String} AND startsWith(key_hash, {id:String}) LIMIT 2", {"p": project, "id": key_id})
        if len(rows) != 1:
            return None
        key_hash, prefix, scopes, name, created_at = rows[0]
        self._insert("api_keys", [[key_hash, prefix, project, list(scopes), name, 1, created_at]],
                     ["key_hash", "key_prefix", "project", "scopes", "name", "revoked", "created_at"])
        return {"key_id": key_id, "prefix": prefix, "name": name, "scopes": list(scopes), "revoked": True}

    # -- per-project settings (name -> JSON value) ----------------------------------------------
    def project_settings(self, project: str) -> dict[str, Any]:
        _, rows = self._query("SELECT name, argMax(value, updated_at) FROM project_settings "
                              "WHERE project = {p:String} GROUP BY name LIMIT 1000", {"p": project})
        return {name: json.loads(value) for name, value in rows if value}

    def set_project_setting(self, project: str, name: str, value: Any) -> None:
        """Set (or, with ``None``, clear) one setting of ``project``; readers see it at once."""
        self._insert("project_settings", [[project, name, "" if value is None else json.dumps(value)]],
                     ["project", "name", "value"])

    def find_key(self, key: str) -> ApiKey | None:
        _, rows = self._query(
            "SELECT project, scopes, key_prefix FROM api_keys FINAL "
            "WHERE key_hash = {h:String} AND revoked = 0 LIMIT 1",
            {"h": hash_key(key)},
        )
        if not rows:
            return None
        project, scopes, prefix = rows[0]
        return ApiKey(project=project, scopes=tuple(scopes), prefix=prefix)

    # -- right to be forgotten ------------------------------------------------------------------
    def delete_subject(self, project: str, tenant: str | None = None, user: str | None = None) -> DeletionReport:
        """Delete every span of a tenant, a user, or a user within a tenant, and what derives from them: the
        scores, cluster memberships and trace keys of traces left without spans, the keys of sessions left
        without spans, and (for a tenant) the tenant's rows in the rollups.

        Blocks until the mutations have rewritten the parts on every replica (the data is gone from disk, not
        hidden), then counts again; ``report.verified`` says nothing is left. Rollups without a tenant
        dimension (metrics_1h, metrics_1d) keep their anonymous totals; no rollup has a user dimension."""
        started = time.monotonic()
        where, params = queries.subject_clauses(project, tenant, user)
        traces, sessions = self._subject_keys(project, tenant, user)
        rollups = queries.TENANT_ROLLUPS if tenant and not user else ()
        tenant_params = {"project": project, "tenant": tenant}
        tenant_where = "project = {project:String} AND tenant = {tenant:String}"
        deleted = {"spans": self._count(f"SELECT count() FROM spans WHERE {where}", params)}
        for table in rollups:
            deleted[table] = self._count(f"SELECT count() FROM {table} WHERE {tenant_where}", tenant_params)

        self._command(queries.delete_rows(self.layout, "spans", where), params, _MUTATION_SETTINGS)
        for table in rollups:
            self._command(queries.delete_rows(self.layout, table, tenant_where), tenant_params, _MUTATION_SETTINGS)
        gone_traces = self._without_spans(project, "trace_id", traces)
        gone_sessions = self._without_spans(project, "session", sessions)
        for table in _TRACE_TABLES:
            deleted[table] = self._count_in(table, "trace_id", project, gone_traces)
        deleted["span_keys"] = (self._count_in("span_keys", "key", project, gone_traces, "trace")
                                + self._count_in("span_keys", "key", project, gone_sessions, "session"))
        for table in _TRACE_TABLES:
            self._mutate(table, "project = {project:String} AND trace_id IN {ids:Array(String)}", project,
                         gone_traces)
        self._mutate("span_keys", "project = {project:String} AND key_kind = 'trace' AND key IN {ids:Array(String)}",
                     project, gone_traces)
        self._mutate("span_keys", "project = {project:String} AND key_kind = 'session' "
                     "AND key IN {ids:Array(String)}", project, gone_sessions)

        deleted["examples"] = self._scrub_examples(project, set(traces), tenant if not user else None)

        remaining = {"spans": self._count(f"SELECT count() FROM spans WHERE {where}", params),
                     **{t: self._count_in(t, "trace_id", project, gone_traces) for t in _TRACE_TABLES},
                     "span_keys": (self._count_in("span_keys", "key", project, gone_traces, "trace")
                                   + self._count_in("span_keys", "key", project, gone_sessions, "session"))}
        for table in rollups:
            remaining[table] = self._count(f"SELECT count() FROM {table} WHERE {tenant_where}", tenant_params)
        remaining["examples"] = self._scrub_examples(project, set(traces), tenant if not user else None, dry_run=True)
        kept = tuple(r.table for r in queries.ROLLUPS if r.table not in rollups)
        report = DeletionReport(project, tenant, user, deleted, remaining, kept, time.monotonic() - started)
        logger.info("deleted subject (project %s, tenant %s, user %s): %s; remaining %s", project, tenant, user,
                    deleted, remaining)
        return report

    def _scrub_examples(self, project: str, traces: set[str], tenant: str | None, dry_run: bool = False) -> int:
        """Remove the subject's example interactions (trace ids with text previews) from clustering and drift
        results, and a deleted tenant's own contributor entries; returns how many entries were (or, with
        ``dry_run``, would be) removed."""
        def unwanted(entry: Any) -> bool:
            if not isinstance(entry, dict):
                return False
            return entry.get("trace_id") in traces or (tenant is not None and entry.get("kind") == "tenant"
                                                        and entry.get("key") == tenant)
        removed = 0
        for table, column, key_expr in queries.EXAMPLE_COLUMNS:
            _, rows = self._query(f"SELECT {key_expr} AS k, argMax(`{column}`, created_at) FROM {table} "
                                  f"WHERE project = {{project:String}} AND `{column}` != '[]' GROUP BY k "
                                  f"LIMIT 1000000", {"project": project})
            keys, values = [], []
            for key, text in rows:
                entries = json.loads(text or "[]")
                kept_entries = [e for e in entries if not unwanted(e)]
                if len(kept_entries) != len(entries):
                    removed += len(entries) - len(kept_entries)
                    keys.append(key)
                    values.append(json.dumps(kept_entries))
            if keys and not dry_run:
                for i in range(0, len(keys), _DELETE_CHUNK):
                    self._command(queries.update_json_column(self.layout, table, column, key_expr),
                                  {"project": project, "keys": keys[i:i + _DELETE_CHUNK],
                                   "values": values[i:i + _DELETE_CHUNK]}, _MUTATION_SETTINGS)
        return removed

    def _without_spans(self, project: str, column: str, ids: list[str]) -> list[str]:
        """Those of ``ids`` (trace ids or sessions) that no span refers to any more."""
        alive: set[str] = set()
        for i in range(0, len(ids), _DELETE_CHUNK):
            _, rows = self._query(f"SELECT DISTINCT {column} FROM spans WHERE project = {{project:String}} "
                                  f"AND {column} IN {{ids:Array(String)}}",
                                  {"project": project, "ids": ids[i:i + _DELETE_CHUNK]})
            alive.update(r[0] for r in rows)
        return [i for i in ids if i not in alive]

    def _subject_keys(self, project: str, tenant: str | None, user: str | None) -> tuple[list[str], list[str]]:
        traces: set[str] = set()
        sessions: set[str] = set()
        after = ("", "")
        while True:
            _, rows = self._query(*queries.subject_keys(project, tenant, user, after))
            for trace_id, session in rows:
                traces.add(trace_id)
                if session:
                    sessions.add(session)
            if len(rows) < 10_000:
                return sorted(traces), sorted(sessions)
            after = tuple(rows[-1])  # type: ignore[assignment]

    def _count(self, sql: str, params: dict[str, Any]) -> int:
        _, rows = self._query(sql, params)
        return int(rows[0][0]) if rows else 0

    def _count_in(self, table: str, column: str, project: str, ids: list[str], kind: str | None = None) -> int:
        total = 0
        extra = f" AND key_kind = '{kind}'" if kind in ("trace", "session") else ""
        for i in range(0, len(ids), _DELETE_CHUNK):
            total += self._count(f"SELECT count() FROM {table} WHERE project = {{project:String}}{extra} "
                                 f"AND {column} IN {{ids:Array(String)}}",
                                 {"project": project, "ids": ids[i:i + _DELETE_CHUNK]})
        return total

    def _mutate(self, table: str, where: str, project: str, ids: list[str]) -> None:
        for i in range(0, len(ids), _DELETE_CHUNK):
            self._command(queries.delete_rows(self.layout, table, where),
                          {"project": project, "ids": ids[i:i + _DELETE_CHUNK]}, _MUTATION_SETTINGS)


_CONTENT_AT = tuple(SPAN_INDEX[c] for c in ("input_messages", "output_messages", "input_text", "output_text"))


def _content_size(row: Sequence[Any]) -> int:
    """The bytes of content a copy of a span carries, as the stored columns' lengths count them (texts the
    messages hold are not stored again, so they count once)."""
    return sum(len(row[i].encode()) for i in _CONTENT_AT)


def _check_retention(days: int) -> int:
    if not isinstance(days, int) or not 1 <= days <= MAX_RETENTION_DAYS:
        raise InvalidQueryError(f"retention must be a whole number of days from 1 to {MAX_RETENTION_DAYS}, "
                                f"got {days!r}")
    return days
