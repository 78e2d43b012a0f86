"""Parse ``TRACEHOUSE_STORAGE_URL`` into a storage target (pure).

Forms:
- ``chdb://PATH`` embedded engine; PATH relative to the working directory (``chdb://./.tracehouse/data``)
  or absolute (``chdb:///var/lib/tracehouse``). We parse it ourselves because clickhouse-connect reads
  ``chdb://NAME/db`` as location + database (DESIGN section 10).
- ``http(s)://user:pass@host:port/db`` a ClickHouse server; the path selects the database.
Query options on either: ``?database=NAME`` (embedded; default ``tracehouse``), ``?cluster=NAME`` (server).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

from .errors import ConfigError

DEFAULT_STORAGE_URL = "chdb://./.tracehouse/data"
DEFAULT_DATABASE = "tracehouse"


@dataclass(frozen=True)
class StorageTarget:
    kind: str  # "chdb" or "http"
    database: str
    path: str = ""  # chdb: absolute directory
    host: str = ""
    port: int = 0
    username: str = "default"
    password: str = ""
    secure: bool = False
    cluster: str = ""

    def describe(self) -> str:
        """A form safe to print: never the password."""
        if self.kind == "chdb":
            return f"chdb://{self.path} (database {self.database})"
        scheme = "https" if self.secure else "http"
        return f"{scheme}://{self.username}@{self.host}:{self.port}/{self.database}"


def _valid_identifier(name: str, what: str) -> str:
    if not name or not all(c.isalnum() or c == "_" for c in name):
        raise ConfigError(f"storage URL: {what} {name!r} must be letters, digits or underscores")
    return name


def parse_storage_url(url: str, cwd: str | None = None) -> StorageTarget:
    url = url.strip()
    if url.startswith("chdb://"):
        rest, _, query = url[len("chdb://"):].partition("?")
        options = {k: v[-1] for k, v in parse_qs(query).items()}
        if not rest:
            raise ConfigError("storage URL: chdb:// needs a directory, e.g. chdb://./.tracehouse/data")
        path = os.path.abspath(os.path.join(cwd or os.getcwd(), unquote(rest)))
        database = _valid_identifier(options.get("database", DEFAULT_DATABASE), "database")
        return StorageTarget(kind="chdb", path=path, database=database)
    if url.startswith(("http://", "https://")):
        parts = urlsplit(url)
        options = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        if not parts.hostname:
            raise ConfigError(f"storage URL {url!r} has no host, e.g. http://default:pass@localhost:8123/tracehouse")
        secure = parts.scheme == "https"
        database = _valid_identifier(parts.path.strip("/") or DEFAULT_DATABASE, "database")
        cluster = options.get("cluster", "")
        return StorageTarget(
            kind="http",
            database=database,
            host=parts.hostname,
            port=parts.port or (8443 if secure else 8123),
            username=unquote(parts.username or "default"),
            password=unquote(parts.password or ""),
            secure=secure,
            cluster=_valid_identifier(cluster, "cluster") if cluster else "",
        )
    raise ConfigError(
        f"storage URL {url!r} is not supported: use chdb://PATH (embedded, e.g. {DEFAULT_STORAGE_URL}) "
        "or http(s)://user:pass@host:8123/db (a ClickHouse server)"
    )
