"""Storage's pure half: schema templates rendered per target (one node, a cluster) and the SQL builders."""

from __future__ import annotations

import re

import pytest

from tracehouse.storage import InvalidQueryError, Layout, SpanFilter
from tracehouse.storage import queries
from tracehouse.storage.migrate import load_migrations, render, render_statements, schema_table_statements

DAY_NS = 86400 * 10**9
CLUSTER = Layout(database="tracehouse", cluster="two_shards")
SINGLE = Layout(database="tracehouse")


def core(layout: Layout) -> tuple[str, ...]:
    return load_migrations()[0].render(layout)


def created(statements, kind: str = "TABLE") -> dict[str, str]:
    out = {}
    for s in statements:
        m = re.match(rf"CREATE {kind} IF NOT EXISTS `?(\w+)`?", s)
        if m:
            out[m.group(1)] = s
    return out


def test_single_node_schema_has_no_cluster_parts():
    statements = core(SINGLE)
    text = "\n".join(statements)
    assert "${" not in text and "ON CLUSTER" not in text and "_local" not in text
    assert "Replicated" not in text and "Distributed" not in text
    tables = created(statements)
    assert {"spans", "span_keys", "metrics_1m", "metrics_1h", "metrics_1d", "tenant_metrics_1h",
            "tenant_metrics_1d", "projects", "api_keys", "scores"} <= set(tables)
    spans = tables["spans"]
    assert "ENGINE = ReplacingMergeTree(ingested_at)" in spans
    assert "ORDER BY (project, start_time, trace_id, span_id)" in spans
    assert "ttl_only_drop_parts = 1" in spans and "non_replicated_deduplication_window" in spans
    assert "TTL toDate(ingested_at) + toIntervalDay(retention_days)" in spans
    assert "PARTITION BY (toYYYYMMDD(ingested_at), retention_days)" in spans
    for index in ("idx_trace trace_id TYPE bloom_filter", "idx_session session TYPE bloom_filter",
                  "idx_user user TYPE bloom_filter", "idx_tenant tenant TYPE bloom_filter",
                  "idx_text lowerUTF8(concat(input_text, '\\n', output_text)) TYPE text(tokenizer = ngrams(2))"):
        assert index in spans
    assert "input_text String CODEC(ZSTD(3))" in spans


def test_content_once_and_the_word_index_render_for_every_layout():
    migration = next(m for m in load_migrations() if m.version == 80)
    for layout, table in ((SINGLE, "spans"), (CLUSTER, "spans_local")):
        statements = [" ".join(s.split()) for s in migration.render(layout)]
        alters = [s for s in statements if s.startswith("ALTER")]
        assert all(s.startswith(f"ALTER TABLE {table}") for s in alters)
        assert "DROP INDEX IF EXISTS idx_text" in alters[0]
        assert any("RENAME COLUMN IF EXISTS input_text TO input_text_stored" in s for s in alters)
        assert any("ADD COLUMN IF NOT EXISTS output_text String ALIAS if(bitTest(text_derived, 1)" in s
                   for s in alters)
        index = next(s for s in alters if "ADD INDEX IF NOT EXISTS idx_text" in s)
        # the query layer's full-text expression is the index's expression
        assert queries.TEXT_EXPR.replace("\\\\", "\\") in index and "TYPE text(tokenizer = ngrams(2))" in index
        assert "MATERIALIZE INDEX idx_text" in alters[-1]
        # on a cluster the Distributed table is made again over the changed local table
        remade = [s for s in statements if not s.startswith("ALTER")]
        if layout is CLUSTER:
            assert remade[0] == "DROP TABLE IF EXISTS spans ON CLUSTER `two_shards` SYNC"
            assert remade[1].startswith("CREATE TABLE IF NOT EXISTS `spans` ON CLUSTER") and "Distributed" in remade[1]
            assert all("ON CLUSTER" in s for s in statements)
        else:
            assert remade == [] and not any("ON CLUSTER" in s for s in statements)


def test_cluster_schema_is_replicated_sharded_and_on_cluster():
    statements = core(CLUSTER)
    text = "\n".join(statements)
    assert "${" not in text
    tables = created(statements)
    local = {name: ddl for name, ddl in tables.items() if name.endswith("_local")}
    distributed = {name: ddl for name, ddl in tables.items() if not name.endswith("_local")}
    assert set(distributed) == {name[: -len("_local")] for name in local}  # every table has both halves
    for name, ddl in local.items():
        assert " ON CLUSTER `two_shards`" in ddl, name
        assert re.search(r"ENGINE = Replicated\w*MergeTree\('/clickhouse/tables/\{shard\}/\{database\}/\{table\}', "
                         r"'\{replica\}'", ddl), name
    for name, ddl in distributed.items():
        assert ddl.startswith(f"CREATE TABLE IF NOT EXISTS `{name}` ON CLUSTER `two_shards` AS `{name}_local` "
                              f"ENGINE = Distributed('two_shards', 'tracehouse', '{name}_local', ")
    assert "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', ingested_at)" \
        in local["spans_local"]
    # a trace's spans live on one shard, so reads of one trace and the dedup of a span stay local
    assert distributed["spans"].endswith("'spans_local', cityHash64(project, trace_id))")
    views = created(statements, "MATERIALIZED VIEW")
    assert views and all(name.endswith("_local") and " ON CLUSTER `two_shards`" in ddl for name, ddl in views.items())
    assert "TO metrics_1m_local" in views["mv_metrics_1m_local"] and "FROM spans_local" in views["mv_metrics_1m_local"]
    assert "FROM metrics_1h_local" in views["mv_metrics_1d_local"]


def test_schema_table_and_statement_counts_follow_the_layout():
    assert len(schema_table_statements(SINGLE)) == 1
    cluster = schema_table_statements(CLUSTER)
    assert len(cluster) == 2 and "schema_migrations_local ON CLUSTER" in cluster[0]
    assert len(core(CLUSTER)) - len(core(SINGLE)) == len(created(core(CLUSTER))) // 2


def test_render_rejects_unknown_placeholders_and_bad_names():
    with pytest.raises(ValueError, match="placeholder"):
        render("CREATE TABLE ${nope} (x int)", SINGLE)
    with pytest.raises(ValueError):
        render("ENGINE = ${engine:Memory}", SINGLE)
    with pytest.raises(ValueError):
        Layout(database="db", cluster="a;b")
    assert render_statements("-- c\nCREATE TABLE ${table:t}${on_cluster} (x int);\n${distributed:t:rand()};\n",
                             SINGLE) == ("CREATE TABLE t (x int)",)


@pytest.mark.parametrize("migration", load_migrations(), ids=lambda m: f"{m.version:04d}_{m.name}")
def test_every_migration_renders_for_one_node_and_for_a_cluster(migration):
    """Cluster mode needs every CREATE written with the placeholders (${table:..}${on_cluster}, ${engine:..},
    ${distributed:..}); the renderer refuses a statement that would create an object on one server only."""
    single = migration.render(SINGLE)
    assert single == migration.statements and "${" not in "\n".join(single)
    cluster = migration.render(CLUSTER)
    assert "${" not in "\n".join(cluster)
    for statement in cluster:
        if statement.startswith("CREATE"):
            assert " ON CLUSTER `two_shards`" in statement, statement[:80]


def test_a_create_without_on_cluster_is_refused_on_a_cluster():
    with pytest.raises(ValueError, match="on_cluster"):
        render_statements("CREATE TABLE t (x int) ENGINE = MergeTree ORDER BY x;", CLUSTER)


def test_migrations_have_stable_checksums():
    first = load_migrations()
    assert [m.checksum for m in first] == [m.checksum for m in load_migrations()]
    assert all(re.fullmatch(r"[0-9a-f]{16}", m.checksum) for m in first)


def window(**kw) -> SpanFilter:
    return SpanFilter(start_ns=10 * DAY_NS, end_ns=11 * DAY_NS, **kw)


def test_values_only_travel_as_parameters():
    evil = "x' OR 1=1 --"
    f = window(tenant=evil, user=evil, q=evil, model=evil)
    for sql, params in (queries.search_spans("p", f, None, 10), queries.matching_spans("p", f, None, 10),
                        queries.metrics("p", f, 3600, "tenant"), queries.top_spans("p", f, "cost", 5),
                        queries.trace_spans("p", evil), queries.subject_keys("p", evil, evil)):
        assert evil not in sql
        assert evil in params.values() or evil in {v for v in params.values() if isinstance(v, str)}
    with pytest.raises(InvalidQueryError):
        queries.metrics("p", f, 60, "password; DROP TABLE spans")
    with pytest.raises(InvalidQueryError):
        queries.top_spans("p", f, "1; DROP TABLE spans")
    with pytest.raises(InvalidQueryError):
        queries.cost_breakdown("p", window(), ("tenant", "user"))


def test_text_search_uses_the_index_when_the_needle_has_a_bigram_inside_a_word():
    clause, params = queries.text_clause("退款")
    assert clause.startswith(f"hasAllTokens({queries.TEXT_EXPR}, {{q_grams:Array(String)}})")
    assert params == {"q": "退款", "q_grams": ["退款"]}
    for needle in ("退", "#a", "?!"):  # no two-character run inside a word
        clause, params = queries.text_clause(needle)
        assert "hasAllTokens" not in clause and "positionCaseInsensitiveUTF8" in clause and "q_grams" not in params


@pytest.mark.parametrize("needle, grams", [
    ("Order #A-77?", ["or", "rd", "de", "er", "77"]),   # ASCII folded; split where the index splits
    ("订单号", ["订单", "单号"]),
    ("REFUND refund", ["re", "ef", "fu", "un", "nd"]),  # each bigram once
    ("Привет", []),                                      # cased letters outside ASCII: left to the check
    ("a~b", ["a~", "~b"]),                               # "~" is not a word break for splitByNonAlpha
])
def test_needle_bigrams_are_the_bigrams_inside_its_words(needle: str, grams: list[str]):
    assert queries.needle_bigrams(needle) == grams


def test_rollup_choice_follows_step_dimensions_and_filters():
    pick = queries.pick_rollup
    assert pick(window(), 86400).table == "metrics_1d"
    assert pick(window(), 86400, ["tenant"]).table == "tenant_metrics_1d"
    assert pick(window(tenant="t"), 3600).table == "tenant_metrics_1h"
    assert pick(window(tenant="t", kind="llm"), 86400).table == "tenant_metrics_1h"
    assert pick(window(), 3600, ["prompt_version"]).table == "metrics_1h"
    assert pick(window(tenant="t"), 3600, ["prompt_version"]).table == "metrics_1m"
    assert pick(window(), 60, ["release"]).table == "metrics_1m"
    assert pick(window(), 30) is None                      # finer than any rollup
    for f in (window(user="u"), window(session="s"), window(q="text"), window(status="error"),
              window(trace_id="a" * 32)):
        assert pick(f, 3600) is None                       # dimensions no rollup has
    assert pick(window(), 3600, ["status"]) is None
    sql, _ = queries.metrics("p", window(user="u"), 3600, None)
    assert "FROM spans" in sql and "quantilesTDigest(" in sql
    sql, _ = queries.metrics("p", window(model="m"), 3600, "provider")
    assert "FROM metrics_1h" in sql and "quantilesTDigestMerge(" in sql


def test_metrics_cover_whole_intervals():
    assert queries.align_window(10 * DAY_NS + 5, 11 * DAY_NS - 5, 3600) == (10 * DAY_NS, 11 * DAY_NS)
    _, params = queries.metrics("p", SpanFilter(start_ns=DAY_NS + 90 * 10**9, end_ns=DAY_NS + 200 * 10**9), 60, None)
    assert (params["start_ns"], params["end_ns"]) == (DAY_NS + 60 * 10**9, DAY_NS + 240 * 10**9)
    with pytest.raises(InvalidQueryError):
        queries.metrics("p", SpanFilter(start_ns=0, end_ns=400 * DAY_NS), 1, None)  # too many points


def test_cost_breakdown_reads_the_smallest_rollup():
    sql, params = queries.cost_breakdown("p", window(), ("tenant",), 86400)
    assert "FROM tenant_metrics_1d" in sql and "GROUP BY time_ns, `tenant`" in sql
    sql, _ = queries.cost_breakdown("p", window(), ("tenant",), None, order_by="cost", limit=20)
    assert "FROM tenant_metrics_1d" in sql and "ORDER BY cost_usd DESC" in sql and "time_ns" not in sql
    sql, _ = queries.cost_breakdown("p", window(), ("service", "model"), 86400)
    assert "FROM metrics_1d" in sql
    sql, _ = queries.cost_breakdown("p", window(), ("tenant", "kind"), 3600)
    assert "FROM tenant_metrics_1h" in sql
    with pytest.raises(InvalidQueryError):
        queries.cost_breakdown("p", window(user="u"), ("tenant",))


def test_cursors_round_trip_and_reject_garbage():
    cursor = queries.encode_cursor(123, "a" * 32, "b" * 16)
    assert queries.decode_cursor(cursor) == (123, "a" * 32, "b" * 16)
    for bad in ("garbage!!", queries.encode_cursor(1, "x"), "e30"):
        with pytest.raises(InvalidQueryError):
            queries.decode_cursor(bad)


def test_reads_are_bounded():
    assert queries.READ_SETTINGS["max_execution_time"] > 0
    sql, params = queries.search_spans("p", window(), None, 10**9)
    assert "LIMIT {fetch:UInt32}" in sql
    assert queries._limit(10**9) == queries.MAX_LIMIT and queries._limit(0) == 1
    assert "LIMIT {max:UInt32}" in queries.trace_spans("p", "t")[0]
    with pytest.raises(InvalidQueryError):
        queries.search_spans("p", SpanFilter(start_ns=2, end_ns=1), None, 10)


def test_deletions_are_mutations_on_every_replica():
    where, params = queries.subject_clauses("p", "acme", None)
    assert where == "project = {project:String} AND tenant = {tenant:String}" and params["tenant"] == "acme"
    assert queries.delete_rows(SINGLE, "spans", where) == f"ALTER TABLE `spans` DELETE WHERE {where}"
    assert queries.delete_rows(CLUSTER, "spans", where) == \
        f"ALTER TABLE `spans_local` ON CLUSTER `two_shards` DELETE WHERE {where}"
    with pytest.raises(InvalidQueryError):
        queries.subject_clauses("p", None, None)
    assert set(queries.TENANT_ROLLUPS) == {"metrics_1m", "tenant_metrics_1h", "tenant_metrics_1d"}
