"""Upgrades: a database made by the previous release (migrations 0001-0070, what stop 14 shipped) is upgraded in
place by the current release, keeping its projects, keys and spans; released migration files never change."""

from __future__ import annotations

import uuid

from tracehouse.storage import SpanFilter, Store
from tracehouse.storage.migrate import load_migrations, schema_table_statements
from tracehouse.storage.record import SpanRecord
from tracehouse.storage.rows import SPAN_COLUMNS, SPAN_INDEX, span_row
from tracehouse.storage.store import hash_key

# Checksums of the migrations as released. Editing a released file would break every existing database at
# start-up (the checksum guard), so a change must be a new file instead.
RELEASED = {1: "cfd1fd01168877ab", 50: "e7028e890c25d561", 60: "427293e50f764dcd", 70: "f84f361ff6af0052"}


def test_released_migrations_are_never_edited():
    shipped = {m.version: m.checksum for m in load_migrations()}
    assert {v: shipped.get(v) for v in RELEASED} == RELEASED
    assert all(v > max(RELEASED) for v in set(shipped) - set(RELEASED)), "new migrations go after the released ones"


def previous_release_store(chdb_dir) -> Store:
    """A database exactly as the previous release left it: only its migrations applied, data written through
    its column set (spans had input_text and output_text as stored columns then)."""
    store = Store.open(f"chdb://{chdb_dir}?database=up_{uuid.uuid4().hex[:12]}", migrate=False)
    for statement in schema_table_statements(store.layout):
        store._command(statement)
    for migration in load_migrations():
        if migration.version in RELEASED:
            for statement in migration.render(store.layout):
                store._command(statement)
            store._insert("schema_migrations", [[migration.version, migration.name, migration.checksum]],
                          ["version", "name", "checksum"])
    return store


def test_upgrade_from_the_previous_release_keeps_data_and_adds_the_new_schema(chdb_dir):
    old = previous_release_store(chdb_dir)
    old._insert("projects", [["p-old", "legacy", 30]], ["id", "name", "retention_days"])
    key = "th_" + uuid.uuid4().hex
    old._insert("api_keys", [[hash_key(key), key[:10], "p-old", ["ingest", "read"]]],
                ["key_hash", "key_prefix", "project", "scopes"])
    now = 1_790_000_000_000_000_000

    def record(i: int, text: str) -> SpanRecord:
        return SpanRecord(project="p-old", trace_id="ab" * 16, span_id=f"{i:016x}", parent_span_id="", name="chat",
                          start_time_ns=now + i, end_time_ns=now + i + 10**9, kind="llm", model="gpt-4o-mini",
                          input_tokens=10, output_tokens=2, tenant="acme", input_text=text, output_text="ok",
                          input_messages=({"role": "user", "parts": [{"type": "text", "content": text}]},))

    def old_row(r: SpanRecord) -> list:  # as the previous release wrote it: every text stored
        row = span_row(r)[:len(SPAN_COLUMNS)]
        row[SPAN_INDEX["input_text"]], row[SPAN_INDEX["output_text"]] = r.input_text, r.output_text
        return [*row, 30]

    old._insert("spans", [old_row(record(i, f"refund order {i}")) for i in range(1, 4)],
                [*SPAN_COLUMNS, "retention_days"])
    columns = {row[0] for row in old._query("SELECT name FROM system.columns WHERE database = currentDatabase() "
                                            "AND table = 'spans'", {})[1]}
    assert "input_text" in columns and "input_text_stored" not in columns  # really the old schema

    assert old.migrate() == [80]
    assert old.migrate() == []  # idempotent: a restart applies nothing
    found = old.find_key(key)
    assert found is not None and found.project == "p-old"
    f = SpanFilter(start_ns=now - 10**9, end_ns=now + 10 * 10**9)
    items, _ = old.search_spans("p-old", f, 10)
    assert len(items) == 3 and {i["model"] for i in items} == {"gpt-4o-mini"}
    assert sorted(i["input_text"] for i in items) == ["refund order 1", "refund order 2", "refund order 3"]
    # new spans are stored once; old and new are found by the new word index alike
    old.insert_spans([record(4, "refund order 4")])
    assert old._query("SELECT input_text_stored, text_derived FROM spans WHERE span_id = {s:String}",
                      {"s": f"{4:016x}"})[1] == [("", 1)]
    found_spans, _ = old.search_spans("p-old", SpanFilter(start_ns=f.start_ns, end_ns=f.end_ns, q="REFUND ord"), 10)
    assert len(found_spans) == 4
    old.set_project_setting("p-old", "redaction", "redacted")
    assert old.project_settings("p-old") == {"redaction": "redacted"}
    assert old.list_projects("p-old")[0]["name"] == "legacy"
