"""Versioned SQL migrations, applied in order at start-up (idempotent, the same on every target).

Files ``migrations/NNNN_name.sql`` hold statements separated by ``;`` at line ends. Applied versions are
recorded in ``schema_migrations``; every statement is itself idempotent, so a crash between a statement and
its record is harmless on the next start.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]


def split_statements(sql: str) -> tuple[str, ...]:
    lines = [line for line in sql.splitlines() if not line.strip().startswith("--")]
    return tuple(s.strip() for s in re.split(r";\s*$", "\n".join(lines), flags=re.M) if s.strip())


def load_migrations() -> list[Migration]:
    found = []
    for entry in resources.files("tracehouse.storage").joinpath("migrations").iterdir():
        match = _FILE.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), split_statements(entry.read_text())))
    return sorted(found, key=lambda m: m.version)


SCHEMA_TABLE_DDL = (
    "CREATE TABLE IF NOT EXISTS schema_migrations (version UInt32, name String, "
    "applied_at DateTime DEFAULT now()) ENGINE = MergeTree ORDER BY version"
)
