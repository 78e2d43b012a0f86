"""Storage on the real embedded engine: URL parsing, migrations, inserts, searches, isolation."""

from __future__ import annotations

import os
import time

import pytest

from tracehouse.storage import (ConfigError, InvalidQueryError, SpanFilter, SpanRecord, Store,
                                parse_storage_url)
from tracehouse.storage.migrate import load_migrations, split_statements

NOW = time.time_ns()
HOUR = 3600 * 10**9


def rec(i: int, project: str = "p1", trace: str | None = None, **fields) -> SpanRecord:
    base = dict(project=project, trace_id=trace or f"{i:032x}", span_id=f"{i + 1:016x}", parent_span_id="",
                name=f"span {i}", start_time_ns=NOW - i * 10**9, end_time_ns=NOW - i * 10**9 + 5 * 10**8,
                kind="llm", model="gpt-4o-mini", tenant=f"t{i % 3}", user=f"u{i % 5}", session=f"s{i % 7}",
                input_text=f"question number {i}", output_text=f"answer {i}")
    base.update(fields)
    return SpanRecord(**base)


def window(**kw) -> SpanFilter:
    return SpanFilter(start_ns=NOW - 24 * HOUR, end_ns=NOW + HOUR, **kw)


def test_parse_storage_urls():
    t = parse_storage_url("chdb://./.tracehouse/data", cwd="/srv/app")
    assert (t.kind, t.path, t.database) == ("chdb", "/srv/app/.tracehouse/data", "tracehouse")
    assert parse_storage_url("chdb:///var/lib/th?database=x1").path == "/var/lib/th"
    h = parse_storage_url("https://alice:s%40cret@ch.example:9443/prod?cluster=main")
    assert (h.kind, h.host, h.port, h.username, h.password, h.database, h.secure, h.cluster) == (
        "http", "ch.example", 9443, "alice", "s@cret", "prod", True, "main")
    assert "s@cret" not in h.describe()
    assert parse_storage_url("http://localhost").port == 8123
    for bad in ("postgres://x", "chdb://", "http://h/db-with-dash", "chdb:///x?database=a;drop"):
        with pytest.raises(ConfigError):
            parse_storage_url(bad)


def test_migration_files_split_into_statements():
    migrations = load_migrations()
    assert [m.version for m in migrations] == sorted({m.version for m in migrations})
    assert split_statements("-- c\nCREATE TABLE a (x int);\n\nCREATE TABLE b (y int);\n") == (
        "CREATE TABLE a (x int)", "CREATE TABLE b (y int)")


def test_migrations_are_idempotent(store: Store):
    assert store.migrate() == []  # already applied by open()
    assert store.migrate() == []


def test_insert_and_search_with_filters_and_pagination(store: Store):
    store.insert_spans([rec(i) for i in range(25)])
    items, cursor = store.search_spans("p1", window(), limit=10)
    assert len(items) == 10 and cursor
    assert [i["start_time_ns"] for i in items] == sorted((i["start_time_ns"] for i in items), reverse=True)
    seen = {i["span_id"] for i in items}
    while cursor:
        page, cursor = store.search_spans("p1", window(), limit=10, cursor=cursor)
        assert not seen & {i["span_id"] for i in page}
        seen |= {i["span_id"] for i in page}
    assert len(seen) == 25
    assert {i["tenant"] for i in store.search_spans("p1", window(tenant="t1"), 100)[0]} == {"t1"}
    assert len(store.search_spans("p1", window(user="u0"), 100)[0]) == 5
    assert [i["input_text"] for i in store.search_spans("p1", window(q="NUMBER 13"), 100)[0]] == ["question number 13"]


def test_full_text_search_matches_cjk_and_arabic_and_escapes_wildcards(store: Store):
    store.insert_spans([
        rec(1, input_text="请帮我退款 订单 998"), rec(2, input_text="مرحبا، أين طلبي؟"),
        rec(3, input_text="100% sure"), rec(4, input_text="1000 sure"),
    ])
    assert len(store.search_spans("p1", window(q="退款"), 10)[0]) == 1
    assert len(store.search_spans("p1", window(q="طلبي"), 10)[0]) == 1
    assert [i["input_text"] for i in store.search_spans("p1", window(q="100%"), 10)[0]] == ["100% sure"]


def test_projects_never_see_each_others_spans(store: Store):
    store.insert_spans([rec(1, project="p1"), rec(2, project="p2", trace="f" * 32)])
    assert {i["project"] for i in store.search_spans("p1", window(), 100)[0]} == {"p1"}
    assert store.get_trace("p1", "f" * 32) == []
    assert len(store.get_trace("p2", "f" * 32)) == 1
    assert [t["trace_id"] for t in store.list_traces("p1", window(), 100)[0]] == [f"{1:032x}"]


def test_duplicate_spans_read_once(store: Store):
    store.insert_spans([rec(1)])
    store.insert_spans([rec(1)])  # a client retry
    assert len(store.get_trace("p1", f"{1:032x}")) == 1
    assert len(store.search_spans("p1", window(), 100)[0]) == 1


def test_trace_summaries_and_metrics(store: Store):
    trace = "e" * 32
    store.insert_spans([
        rec(1, trace=trace, kind="agent", name="root", model="", input_tokens=0),
        rec(2, trace=trace, parent_span_id=f"{2:016x}", status="error", input_tokens=10, output_tokens=5,
            cost_usd=0.25),
    ])
    (summary,), _ = store.list_traces("p1", window(), 10)
    assert (summary["name"], summary["span_count"], summary["llm_calls"], summary["has_error"]) == ("root", 2, 1, 1)
    assert summary["cost_usd"] == pytest.approx(0.25)
    assert store.list_traces("p1", window(status="error"), 10)[0][0]["trace_id"] == trace
    rows = store.metrics("p1", window(), 86400, "status")
    assert {r.group: r.spans for r in rows} == {"error": 1, "unset": 1}
    assert sum(r.cost_usd for r in rows) == pytest.approx(0.25)
    with pytest.raises(InvalidQueryError):
        store.metrics("p1", window(), 60, "password")


def test_bad_cursor_is_an_invalid_query(store: Store):
    with pytest.raises(InvalidQueryError):
        store.search_spans("p1", window(), 10, cursor="garbage!!")


def test_api_keys_are_stored_hashed(store: Store):
    project = store.create_project("demo")
    key = store.create_key(project, ["ingest", "read"])
    found = store.find_key(key)
    assert found and found.project == project and found.scopes == ("ingest", "read")
    assert store.find_key(key + "x") is None
    _, rows = store._query("SELECT * FROM api_keys", {})
    assert key not in repr(rows)
    with pytest.raises(InvalidQueryError):
        store.create_key(project, ["root"])


def test_a_second_process_cannot_open_an_open_directory(store: Store, chdb_dir):
    import subprocess
    import sys
    code = f"from tracehouse.storage import Store; Store.open('chdb://{chdb_dir}')"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                            env={**os.environ})
    assert result.returncode != 0
    assert "cannot open storage" in result.stderr
