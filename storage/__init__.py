"""tracehouse storage: ClickHouse schema, migrations and queries through clickhouse-connect.

``Store.open(url)`` opens embedded chDB (``chdb://PATH``, the default) or a ClickHouse server
(``http(s)://user:pass@host:8123/db``) and applies migrations.
"""

from .errors import ConfigError, InvalidQueryError, QueryError, StorageError, UnavailableError
from .queries import SpanFilter
from .record import SpanRecord
from .store import ApiKey, MetricsRow, Store, hash_key
from .target import DEFAULT_STORAGE_URL, StorageTarget, parse_storage_url

__all__ = [
    "DEFAULT_STORAGE_URL",
    "ApiKey",
    "ConfigError",
    "InvalidQueryError",
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
