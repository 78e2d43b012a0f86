"""tracehouse storage: ClickHouse schema, migrations and queries through clickhouse-connect.

``Store.open(url)`` opens embedded chDB (``chdb://PATH``, the default), a ClickHouse server
(``http(s)://user:pass@host:8123/db``) or a cluster (``...?cluster=NAME``) and applies migrations.
Pure halves: ``queries`` (SQL for every read), ``migrate`` (schema templates rendered per target), ``rows``
(record <-> row). See docs/storage.md.
"""

from .errors import ConfigError, InvalidQueryError, QueryError, StorageError, UnavailableError
from .queries import SpanFilter
from .record import SpanRecord
from .migrate import Layout
from .store import ApiKey, CostRow, DeletionReport, MetricsRow, Store, hash_key
from .target import DEFAULT_STORAGE_URL, StorageTarget, parse_storage_url

__all__ = [
    "DEFAULT_STORAGE_URL",
    "ApiKey",
    "ConfigError",
    "CostRow",
    "DeletionReport",
    "InvalidQueryError",
    "Layout",
    "MetricsRow",
    "QueryError",
    "SpanFilter",
    "SpanRecord",
    "StorageError",
    "StorageTarget",
    "Store",
    "UnavailableError",
    "hash_key",
    "parse_storage_url",
]
