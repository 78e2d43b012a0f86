"""The store: the only holder of a clickhouse-connect client (embedded chDB or a ClickHouse server).

Thread safety: one Store is shared by the collector's threads; chDB and clickhouse-connect's HTTP client (with
sessions off) both allow concurrent queries. Every method raises ``StorageError`` subclasses, never library
exceptions.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import threading
import uuid
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from . import queries
from .errors import InvalidQueryError, QueryError, StorageError, UnavailableError
from .migrate import SCHEMA_TABLE_DDL, load_migrations
from .record import SpanRecord
from .rows import SPAN_COLUMNS, record_to_row, row_to_dict
from .target import StorageTarget, parse_storage_url

logger = logging.getLogger("tracehouse.storage")
KEY_PREFIX = "th_"
SCOPES = ("ingest", "read", "admin")

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
    def __init__(self, client: Any, target: StorageTarget) -> None:
        self._client = client
        self.target = target

    @classmethod
    def open(cls, url: str, *, migrate: bool = True) -> "Store":
        target = parse_storage_url(url)
        store = cls(_open_client(target), target)
        if migrate:
            store.migrate()
        return store

    # -- plumbing -------------------------------------------------------------------------------
    def _command(self, sql: str, parameters: dict[str, Any] | None = None) -> Any:
        try:
            return self._client.command(sql, parameters=parameters)
        except Exception as exc:
            raise QueryError(f"statement failed: {exc}") from exc

    def _query(self, sql: str, parameters: dict[str, Any]) -> tuple[Sequence[str], list[Sequence[Any]]]:
        try:
            result = self._client.query(sql, parameters=parameters, settings=queries.READ_SETTINGS)
        except Exception as exc:
            raise QueryError(f"query failed: {exc}") from exc
        return result.column_names, result.result_rows

    def ping(self) -> bool:
        try:
            self._client.command("SELECT 1")
            return True
        except Exception:
            return False

    def migrate(self) -> list[int]:
        """Apply pending migrations; returns the versions applied now."""
        self._command(SCHEMA_TABLE_DDL)
        _, rows = self._query("SELECT version FROM schema_migrations", {})
        done = {row[0] for row in rows}
        applied = []
        for migration in load_migrations():
            if migration.version in done:
                continue
            for statement in migration.statements:
                self._command(statement)
            self._insert("schema_migrations", [[migration.version, migration.name]], ["version", "name"])
            applied.append(migration.version)
            logger.info("applied migration %04d_%s", migration.version, migration.name)
        return applied

    def _insert(self, table: str, rows: list[list[Any]], columns: Sequence[str],
                settings: dict[str, Any] | None = None) -> None:
        if not rows:
            return
        try:
            self._client.insert(table, rows, column_names=list(columns), settings=settings)
        except Exception as exc:
            raise QueryError(f"insert into {table} failed: {exc}") from exc

    def close(self) -> None:
        try:
            self._client.close()
        except Exception:
            logger.debug("closing the storage client failed", exc_info=True)

    # -- spans ----------------------------------------------------------------------------------
    def insert_spans(self, records: Iterable[SpanRecord], dedup_token: str | None = None) -> int:
        """Insert spans; a repeated ``dedup_token`` (a WAL replay of the same batch) inserts nothing twice."""
        rows = [record_to_row(r) for r in records]
        if not rows:
            return 0
        settings = {"insert_deduplication_token": dedup_token} if dedup_token else None
        # Column-oriented: clickhouse-connect encodes a column at a time, about twice as fast as rows.
        columns = [list(column) for column in zip(*rows)]
        try:
            self._client.insert("spans", columns, column_names=list(SPAN_COLUMNS), column_oriented=True,
                                settings=settings)
        except Exception as exc:
            raise QueryError(f"insert into spans failed: {exc}") from exc
        return len(rows)

    def search_spans(self, project: str, f: queries.SpanFilter, limit: int = 50,
                     cursor: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
        columns, rows = self._query(*queries.search_spans(project, f, limit, cursor))
        items = [row_to_dict(columns, row) for row in rows]
        next_cursor = None
        if len(items) == queries._limit(limit):
            last = items[-1]
            next_cursor = queries.encode_cursor(last["start_time_ns"], last["span_id"])
        return items, next_cursor

    def get_trace(self, project: str, trace_id: str) -> list[dict[str, Any]]:
        columns, rows = self._query(*queries.trace_spans(project, trace_id))
        return [row_to_dict(columns, row) for row in rows]

    def list_traces(self, project: str, f: queries.SpanFilter, limit: int = 50,
                    cursor: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
        columns, rows = self._query(*queries.list_traces(project, f, limit, cursor))
        items = [dict(zip(columns, row)) for row in rows]
        next_cursor = None
        if len(items) == queries._limit(limit):
            next_cursor = queries.encode_cursor(items[-1]["start_ns"], items[-1]["trace_id"])
        return items, next_cursor

    def metrics(self, project: str, f: queries.SpanFilter, step_s: int,
                group_by: str | None = None) -> list[MetricsRow]:
        _, rows = self._query(*queries.metrics(project, f, step_s, group_by))
        return [
            MetricsRow(int(t), grp, int(n), int(err), float(lat[0]), float(lat[1]), float(lat[2]),
                       int(tin), int(tout), float(cost))
            for t, grp, n, err, lat, tin, tout, cost in rows
        ]

    # -- scores ---------------------------------------------------------------------------------
    def insert_score(self, project: str, trace_id: str, span_id: str, name: str, value: float,
                     comment: str = "", source: str = "api") -> str:
        score_id = uuid.uuid4().hex
        self._insert(
            "scores",
            [[project, score_id, trace_id, span_id, name, float(value), comment, source]],
            ["project", "score_id", "trace_id", "span_id", "name", "value", "comment", "source"],
        )
        return score_id

    # -- projects and keys ----------------------------------------------------------------------
    def create_project(self, name: str, project_id: str | None = None) -> str:
        project_id = project_id or uuid.uuid4().hex[:16]
        self._insert("projects", [[project_id, name]], ["id", "name"])
        return project_id

    def project_exists(self, project_id: str) -> bool:
        _, rows = self._query("SELECT 1 FROM projects WHERE id = {id:String} LIMIT 1", {"id": project_id})
        return bool(rows)

    def create_key(self, project: str, scopes: Sequence[str]) -> str:
        """Create an API key and return it; only its hash is stored, so it cannot be shown again."""
        bad = [s for s in scopes if s not in SCOPES]
        if bad or not scopes:
            raise InvalidQueryError(f"scopes must be a non-empty subset of {', '.join(SCOPES)}, got {list(scopes)}")
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        self._insert(
            "api_keys",
            [[hash_key(key), key[:10], project, sorted(set(scopes))]],
            ["key_hash", "key_prefix", "project", "scopes"],
        )
        return key

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
