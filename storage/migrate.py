"""Versioned SQL migrations, rendered per target and applied in order at start-up (pure: no client here).

Files ``migrations/NNNN_name.sql`` hold statements separated by ``;`` at line ends. They are templates: one
source of truth for the embedded engine, a single ClickHouse server and a cluster. ``render`` fills in the
placeholders for a ``Layout``:

==============================  =======================  ==================================================
placeholder                     single node              cluster ``c`` (``?cluster=c`` in the storage URL)
==============================  =======================  ==================================================
``${on_cluster}``               (nothing)                `` ON CLUSTER `c` ``
``${table:spans}``              ``spans``                ``spans_local`` (the replicated table on each node)
``${engine:ReplacingMergeTree(v)}``  ``ReplacingMergeTree(v)``  ``ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', v)``
``${distributed:spans:KEY}``    (statement dropped)      ``CREATE TABLE spans ... ENGINE = Distributed('c', db, 'spans_local', KEY)``
``${cluster_only}``             (statement dropped)      (nothing): for statements on Distributed tables
==============================  =======================  ==================================================

Reads and inserts always use the plain name (a Distributed table on a cluster), so the query layer is the
same SQL everywhere; only DDL and mutations name ``_local`` tables.

Applied versions are recorded in ``schema_migrations`` with a checksum of the template, so a data directory
created by a different text of an applied migration fails loudly at start-up instead of half-working.
Every statement is itself idempotent (``IF NOT EXISTS``), so a crash between a statement and its record is
harmless. Later versions are new files (``0002_...``) holding additive statements (``ADD COLUMN IF NOT
EXISTS``, new tables and views); an applied file is never edited once released.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources

_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_PLACEHOLDER = re.compile(r"\$\{(\w+)(?::([^}]*))?\}")
_ENGINE = re.compile(r"^\s*(\w*MergeTree)\s*(?:\((.*)\))?\s*$", re.S)
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
REPLICA_PATH = "/clickhouse/tables/{shard}/{database}/{table}"
REPLICA_NAME = "{replica}"


@dataclass(frozen=True)
class Layout:
    """Where the schema lives: one node (``cluster=''``) or a ClickHouse cluster by name."""

    database: str = ""
    cluster: str = ""

    def __post_init__(self) -> None:
        for value, what in ((self.database, "database"), (self.cluster, "cluster")):
            if value and not _IDENT.match(value):
                raise ValueError(f"{what} {value!r} must be letters, digits or underscores")

    def local(self, table: str) -> str:
        """The table that holds the rows (what DDL and mutations name)."""
        return f"{table}_local" if self.cluster else table

    @property
    def on_cluster(self) -> str:
        return f" ON CLUSTER `{self.cluster}`" if self.cluster else ""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    template: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.template.encode()).hexdigest()[:16]

    @property
    def statements(self) -> tuple[str, ...]:
        """The statements for a single node."""
        return render_statements(self.template, Layout(database=""))

    def render(self, layout: Layout) -> tuple[str, ...]:
        """The statements for ``layout`` (a single node or a cluster)."""
        return render_statements(self.template, layout)


def split_statements(sql: str) -> tuple[str, ...]:
    lines = [line for line in sql.splitlines() if not line.strip().startswith("--")]
    return tuple(s.strip() for s in re.split(r";\s*$", "\n".join(lines), flags=re.M) if s.strip())


def _engine(spec: str, layout: Layout) -> str:
    match = _ENGINE.match(spec)
    if not match:
        raise ValueError(f"${{engine:...}} needs a MergeTree engine, got {spec!r}")
    name, args = match.group(1), (match.group(2) or "").strip()
    if not layout.cluster:
        return f"{name}({args})" if args else name
    replicated = [f"'{REPLICA_PATH}'", f"'{REPLICA_NAME}'"] + ([args] if args else [])
    return f"Replicated{name}({', '.join(replicated)})"


def _distributed(spec: str, layout: Layout) -> str:
    table, sep, key = spec.partition(":")
    if not sep or not _IDENT.match(table) or not key.strip():
        raise ValueError(f"${{distributed:TABLE:KEY}} expected, got {spec!r}")
    if not layout.cluster:
        return ""
    return (
        f"CREATE TABLE IF NOT EXISTS `{table}`{layout.on_cluster} AS `{layout.local(table)}` "
        f"ENGINE = Distributed('{layout.cluster}', '{layout.database}', '{layout.local(table)}', {key.strip()})"
    )


def render(template: str, layout: Layout) -> str:
    """Fill in the placeholders of one template for ``layout`` (see the module docstring)."""

    def substitute(match: re.Match[str]) -> str:
        kind, arg = match.group(1), match.group(2)
        if kind == "on_cluster" and arg is None:
            return layout.on_cluster
        if kind == "table" and arg and _IDENT.match(arg):
            return layout.local(arg)
        if kind == "engine" and arg:
            return _engine(arg, layout)
        if kind == "distributed" and arg:
            return _distributed(arg, layout)
        if kind == "cluster_only" and arg is None:
            return ""
        raise ValueError(f"unknown migration placeholder {match.group(0)!r}")

    return _PLACEHOLDER.sub(substitute, template)


_CREATE = re.compile(r"^\s*CREATE\s+(?:TABLE|MATERIALIZED\s+VIEW|VIEW|DICTIONARY)\b", re.I)


def render_statements(template: str, layout: Layout) -> tuple[str, ...]:
    """The statements of a template for ``layout``. On a cluster, a CREATE without ``${on_cluster}`` would make
    an object on one server only, so it is refused."""
    statements = split_statements(template)
    if layout.cluster:
        for statement in statements:
            if _CREATE.match(statement) and "${on_cluster}" not in statement:
                raise ValueError("a CREATE statement without ${on_cluster} cannot run on a cluster; write "
                                 "${table:NAME}${on_cluster}, ${engine:...} and ${distributed:NAME:KEY} (see "
                                 f"storage/migrate.py): {statement[:80]!r}")
    if not layout.cluster:
        statements = tuple(s for s in statements if "${cluster_only}" not in s)
    return tuple(s for s in (render(s, layout).strip() for s in statements) if s)


def load_migrations() -> list[Migration]:
    found = []
    for entry in resources.files("tracehouse.storage").joinpath("migrations").iterdir():
        match = _FILE.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), entry.read_text(encoding="utf-8")))
    return sorted(found, key=lambda m: m.version)


SCHEMA_TABLE_TEMPLATE = """
CREATE TABLE IF NOT EXISTS ${table:schema_migrations}${on_cluster}
(version UInt32, name String, checksum String, applied_at DateTime DEFAULT now())
ENGINE = ${engine:ReplacingMergeTree(applied_at)} ORDER BY version;
${distributed:schema_migrations:version}
"""


def schema_table_statements(layout: Layout) -> tuple[str, ...]:
    return render_statements(SCHEMA_TABLE_TEMPLATE, layout)
