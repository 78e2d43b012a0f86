"""Storage on the real embedded engine: full text in any script, idempotent inserts through the rollups,
rollups agreeing with spans, trace lists and sessions, cost breakdowns, retention, and deletion on request."""

from __future__ import annotations

import time

import pytest

from tracehouse.storage import ConfigError, InvalidQueryError, SpanFilter, SpanRecord, Store
from tracehouse.storage import queries

NOW = (time.time_ns() // (3600 * 10**9)) * 3600 * 10**9 - 3600 * 10**9  # an hour boundary, an hour ago
SEC = 10**9
HOUR = 3600 * SEC
DAY = 24 * HOUR


def span(trace: int, i: int = 0, project: str = "p1", **fields) -> SpanRecord:
    base = dict(project=project, trace_id=f"{trace:032x}", span_id=f"{trace:08x}{i:08x}",
                parent_span_id="" if i == 0 else f"{trace:08x}{0:08x}", name=f"span {trace}.{i}",
                start_time_ns=NOW + trace * SEC + i * 1000, end_time_ns=NOW + trace * SEC + i * 1000 + 250 * 10**6,
                kind="agent" if i == 0 else "llm", model="" if i == 0 else "gpt-4o-mini", provider="openai",
                tenant=f"t{trace % 3}", user=f"u{trace % 5}", session=f"s{trace % 4}",
                input_tokens=10 * i, output_tokens=i, cost_usd=0.001 * i, input_text=f"question {trace}",
                output_text=f"answer {trace}.{i}")
    base.update(fields)
    return SpanRecord(**base)


def window(**kw) -> SpanFilter:
    return SpanFilter(start_ns=NOW - DAY, end_ns=NOW + DAY, **kw)


def rollup_total(store: Store, table: str, column: str = "spans") -> int:
    return store._query(f"SELECT sum({column}) FROM {table}", {})[1][0][0] or 0


# -- full text -------------------------------------------------------------------------------------------
TEXTS = {
    1: "请帮我查询订单的退款进度,订单号 998",
    2: "注文をキャンセルしたいのですが、注文番号 12",
    3: "مرحبا، أين طلبي؟ لم يصل بعد",
    4: "Where is my REFUND for order #A-77?",
    5: "The refunded amount was wrong",
    6: "100% sure about the 1000 items",
}


@pytest.fixture
def texts(store: Store) -> Store:
    store.insert_spans([span(t, 0, input_text=text, output_text="") for t, text in TEXTS.items()]
                       + [span(7, 0, input_text="nothing here", output_text="بالتأكيد، سأرسل الطلب غدا")])
    return store


@pytest.mark.parametrize("needle, expected", [
    ("退款", {1}), ("订单号", {1}), ("キャンセル", {2}), ("注文", {2}), ("طلبي", {3}), ("الطلب", {7}),
    ("refund", {4, 5}), ("REFUNDED", {5}), ("#a-77", {4}), ("100%", {6}), ("款", {1}), ("zzz", set()),
    ("order #A-77?", {4}),
])
def test_full_text_finds_substrings_in_any_script(texts: Store, needle: str, expected: set[int]):
    items, _ = texts.search_spans("p1", window(q=needle), 100)
    assert {int(i["trace_id"], 16) for i in items} == expected


def test_full_text_reads_the_text_index_and_answers_the_same_without_it(texts: Store):
    sql, params = queries.search_spans("p1", window(q="キャンセル"), None, 10)
    plan = "\n".join(r[0] for r in texts._query("EXPLAIN indexes = 1 " + sql, params)[1])
    assert "idx_text" in plan
    actions = "\n".join(r[0] for r in texts._query("EXPLAIN actions = 1 " + sql, params)[1])
    assert "__text_index_idx_text_hasAllTokens" in actions  # answered from the index (direct read)
    for needle in ("退款", "طلبي", "refund", "#a-77"):
        sql, params = queries.search_spans("p1", window(q=needle), None, 100)
        with_index = {r[1] for r in texts._query(sql, params)[1]}
        without = {r[1] for r in texts._query(sql, params, {"use_skip_indexes": 0})[1]}
        assert with_index == without and with_index


def test_the_word_breaks_are_the_engines(store: Store):
    """needle_bigrams splits where splitByNonAlpha does, over every ASCII character and some beyond."""
    sample = "".join(chr(c) for c in range(1, 128)) + "é注、。،😀~"
    for i in range(0, len(sample), 16):
        piece = "a" + sample[i:i + 16] + "b"
        engine = store._query("SELECT splitByNonAlpha(lower({s:String}))", {"s": piece})[1][0][0]
        assert engine == [w for w in queries._WORD_BREAK.split(piece.lower()) if w], repr(piece)


def test_random_needles_find_the_same_rows_with_and_without_the_index(store: Store):
    import random
    rng = random.Random(11)
    alphabet = list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ,.-#'\n") + list("注文退款طلبيПриветÉé~")
    texts = {t: "".join(rng.choice(alphabet) for _ in range(rng.randrange(5, 80))) for t in range(1, 41)}
    store.insert_spans([span(t, 0, input_text=text[:30], output_text=text[30:]) for t, text in texts.items()])
    texts = {t: rng.choice((text[:30], text[30:] or text)) for t, text in texts.items()}  # needles from one column
    for _ in range(60):
        source = rng.choice(list(texts))
        text = texts[source]
        a = rng.randrange(len(text))
        needle = "".join(c.swapcase() if rng.random() < 0.3 else c for c in text[a:a + rng.randrange(2, 9)])
        sql, params = queries.search_spans("p1", window(q=needle), None, 100)
        with_index = {r[1] for r in store._query(sql, params)[1]}
        without = {r[1] for r in store._query(sql, params, {"use_skip_indexes": 0})[1]}
        assert with_index == without and f"{source:032x}" in with_index, needle


def _msgs(*contents, kind="text"):
    return tuple({"role": "user", "parts": [{"type": kind, "content": c} for c in group]} for group in contents)


@pytest.mark.parametrize("messages, text, stored_once", [
    (_msgs(["hello", "world"], ["注文 \"quoted\" \\ back"]), "hello\nworld\n注文 \"quoted\" \\ back", True),
    (_msgs(["tab\tnul\x00 ctrl\x01 emoji 😀 rtl مرحبا"]), "tab\tnul\x00 ctrl\x01 emoji 😀 rtl مرحبا", True),
    ((), "", False),                                      # nothing to store either way
    ((), "plain tool input", False),                      # no messages: the text is all there is
    (_msgs(["a", ""]), "a", False),                       # an empty part: not read back the same
    (_msgs(["x"]), "x but redacted differently", False),  # the text is not the messages' text
    ((*_msgs(["q"]), {"role": "assistant", "parts": [{"type": "tool_call", "name": "f", "arguments": "{}"}]}),
     "q\nf({})", False),
])
def test_texts_the_messages_hold_are_stored_once_and_read_back_exactly(store: Store, messages, text, stored_once):
    store.insert_spans([span(1, 0, input_messages=messages, input_text=text, output_text="")])
    stored, derived, read_back = store._query(
        "SELECT input_text_stored, text_derived, input_text FROM spans", {})[1][0]
    assert read_back == text and stored == ("" if stored_once else text) and bool(derived & 1) == stored_once
    assert store.get_trace("p1", f"{1:032x}")[0]["input_text"] == text


# -- idempotent inserts ----------------------------------------------------------------------------------
ROLLUPS = ("metrics_1m", "metrics_1h", "metrics_1d", "tenant_metrics_1h", "tenant_metrics_1d")


def test_a_replayed_batch_counts_once_everywhere(store: Store):
    batch = [span(t, i) for t in range(10) for i in range(3)]
    assert store.insert_spans(batch, dedup_token="wal-0001") == 30
    store.insert_spans(batch, dedup_token="wal-0001")             # WAL replay after a crash
    store.insert_spans(batch[:12], dedup_token="wal-0002")        # a client retry inside a new batch
    assert store.insert_spans(list(reversed(batch)), dedup_token="wal-0003") == 0
    assert store._query("SELECT count() FROM spans", {})[1][0][0] == 30
    for table in ROLLUPS:
        assert rollup_total(store, table) == 30, table
    assert rollup_total(store, "metrics_1d", "input_tokens") == sum(r.input_tokens for r in batch)
    assert sum(r.spans for r in store.metrics("p1", window(), 3600)) == 30


def test_a_replay_without_skip_existing_is_still_deduplicated_by_token(store: Store):
    batch = [span(t, 1) for t in range(5)]
    store.insert_spans(batch, dedup_token="seg-9", skip_existing=False)
    store.insert_spans(batch, dedup_token="seg-9", skip_existing=False)
    assert store._query("SELECT count() FROM spans", {})[1][0][0] == 5
    assert rollup_total(store, "metrics_1m") == 5 and rollup_total(store, "tenant_metrics_1d") == 5


def test_duplicate_rows_that_slip_in_are_read_once(store: Store):
    batch = [span(1, i) for i in range(3)]
    store.insert_spans(batch, dedup_token="a", skip_existing=False)
    store.insert_spans(batch, dedup_token="b", skip_existing=False)  # two writers racing: stored twice
    assert store._query("SELECT count() FROM spans", {})[1][0][0] == 6
    assert len(store.get_trace("p1", f"{1:032x}")) == 3
    items, cursor = store.search_spans("p1", window(), 2)
    items2, _ = store.search_spans("p1", window(), 2, cursor)
    assert len({i["span_id"] for i in items + items2}) == 3 and len(items + items2) == 3
    (summary,), _ = store.list_traces("p1", window(), 10)
    assert summary["span_count"] == 3
    assert store.top_spans("p1", window(), "cost", 10)[0]["span_id"] == batch[2].span_id
    assert len(store.top_spans("p1", window(), "cost", 10)) == 3


def test_a_fuller_copy_of_a_span_updates_it_and_counts_once(store: Store):
    bare = span(1, 1, input_text="", output_text="")
    store.insert_spans([span(1, 0), bare], dedup_token="spans")
    enriched = SpanRecord(**{**bare.__dict__, "input_text": "late question", "output_text": "late answer",
                             "input_messages": ({"role": "user", "parts": [{"type": "text", "content": "late question"}]},)})
    assert store.insert_spans([enriched], dedup_token="logs") == 1       # content that arrived as log records
    assert store.insert_spans([bare], dedup_token="retry") == 0           # a retry of the bare copy changes nothing
    assert store.insert_spans([enriched], dedup_token="retry-2") == 0     # nor does a retry of the fuller one
    llm = next(s for s in store.get_trace("p1", f"{1:032x}") if s["kind"] == "llm")
    assert llm["input_text"] == "late question" and llm["input_messages"][0]["role"] == "user"
    assert [i["output_text"] for i in store.search_spans("p1", window(q="late answer"), 10)[0]] == ["late answer"]
    assert len(store.search_spans("p1", window(), 10)[0]) == 2
    assert rollup_total(store, "metrics_1m") == 2 and sum(r.spans for r in store.metrics("p1", window(user="u1"), 60)) == 2


# -- rollups ---------------------------------------------------------------------------------------------
def test_rollups_agree_with_the_spans_table(store: Store, monkeypatch: pytest.MonkeyPatch):
    store.insert_spans([span(t, i, model=f"m{t % 2}", status="error" if t % 4 == 0 else "ok",
                             end_time_ns=NOW + t * SEC + i * 1000 + (t + 1) * 10**7)
                        for t in range(40) for i in (1, 2)])
    for step, group_by, f in ((3600, "model", window()), (60, "tenant", window()), (86400, None, window(tenant="t1")),
                              (3600, "kind", window(model="m0"))):
        assert queries.pick_rollup(f, step, [group_by] if group_by else []) is not None
        from_rollup = store.metrics("p1", f, step, group_by)
        monkeypatch.setattr(queries, "pick_rollup", lambda *a, **k: None)
        from_spans = store.metrics("p1", f, step, group_by)
        monkeypatch.undo()
        assert [(r.time_ns, r.group, r.spans, r.errors, r.input_tokens, r.output_tokens) for r in from_rollup] == \
            [(r.time_ns, r.group, r.spans, r.errors, r.input_tokens, r.output_tokens) for r in from_spans]
        for a, b in zip(from_rollup, from_spans):
            assert a.cost_usd == pytest.approx(b.cost_usd)
            assert a.latency_p50_ms == pytest.approx(b.latency_p50_ms, rel=0.1)
            assert a.latency_p99_ms == pytest.approx(b.latency_p99_ms, rel=0.1)


def test_compacting_rollups_folds_rows_and_keeps_totals(store: Store):
    for batch in range(4):  # every insert adds a row per rollup key it touches
        store.insert_spans([span(t, 1 + batch, tenant="t0") for t in range(5)], dedup_token=f"b{batch}")
    rows = store._query("SELECT count() FROM tenant_metrics_1d", {})[1][0][0]
    store.compact_rollups()
    assert store._query("SELECT count() FROM tenant_metrics_1d", {})[1][0][0] < rows
    assert rollup_total(store, "tenant_metrics_1d") == 20 and rollup_total(store, "metrics_1h") == 20
    assert sum(r.spans for r in store.metrics("p1", window(), 86400)) == 20


def test_cost_breakdowns_and_top_n(store: Store):
    store.insert_spans([span(t, 1, tenant=f"t{t % 3}", model=f"m{t % 2}", cost_usd=t / 100, input_tokens=t,
                             cost_input_usd=t / 200, cost_output_usd=t / 200) for t in range(1, 31)])
    daily = store.cost_breakdown("p1", window(), ("tenant", "model"), 86400)
    assert sum(r.spans for r in daily) == 30
    assert sum(r.cost_usd for r in daily) == pytest.approx(sum(t / 100 for t in range(1, 31)))
    assert all(r.time_ns is not None and r.time_ns % DAY == 0 for r in daily)
    top = store.cost_breakdown("p1", window(), ("tenant",), None, order_by="cost", limit=2)
    assert [r.dims["tenant"] for r in top] == ["t0", "t2"]  # t0 holds 3, 6, ..., 30
    assert top[0].time_ns is None and top[0].cost_usd > top[1].cost_usd
    assert top[0].cost_input_usd + top[0].cost_output_usd == pytest.approx(top[0].cost_usd)
    slowest = store.top_spans("p1", window(), "tokens", 3)
    assert [s["input_tokens"] for s in slowest] == [30, 29, 28] and "input_preview" in slowest[0]


# -- traces, sessions, spans -----------------------------------------------------------------------------
def test_trace_lists_page_newest_first_and_filter_by_any_span(store: Store):
    store.insert_spans([span(t, i, tenant="big" if t % 2 else "small", **({"output_text": "a needle"} if (t, i) == (6, 2) else {}))
                        for t in range(1, 13) for i in range(3)])
    store.insert_spans([span(20, 1, parent_span_id="ffffffffffffffff")])  # its root lives elsewhere
    seen, cursor, pages = [], None, 0
    while True:
        items, cursor = store.list_traces("p1", window(), 5, cursor)
        seen += [i["trace_id"] for i in items]
        pages += 1
        if not cursor:
            break
    assert seen == [f"{t:032x}" for t in [20, *range(12, 0, -1)]] and pages == 3
    first = store.list_traces("p1", window(), 5)[0][1]
    assert (first["span_count"], first["name"], first["llm_calls"]) == (3, "span 12.0", 2)
    assert first["input_preview"] == "question 12" and first["output_preview"] == "answer 12.2"
    assert [i["trace_id"] for i in store.list_traces("p1", window(q="NEEDLE"), 10)[0]] == [f"{6:032x}"]
    assert len(store.list_traces("p1", window(tenant="small"), 10)[0]) == 6


def test_one_trace_and_one_session_in_order(store: Store):
    store.insert_spans([span(t, i) for t in range(12) for i in range(3)])
    trace = store.get_trace("p1", f"{5:032x}")
    assert [s["span_id"] for s in trace] == [f"{5:08x}{i:08x}" for i in range(3)]
    assert store.get_trace("p1", "f" * 32) == [] and store.get_trace("p2", f"{5:032x}") == []
    items, cursor = store.get_session("p1", "s1", limit=4)
    rest, end = store.get_session("p1", "s1", limit=100, cursor=cursor)
    ordered = [i["start_time_ns"] for i in items + rest]
    assert ordered == sorted(ordered) and len(ordered) == 9 and end is None  # traces 1, 5, 9
    assert store.get_session("p1", "nobody") == ([], None)


# -- retention -------------------------------------------------------------------------------------------
def test_retention_per_project_drops_whole_parts(store: Store):
    short = store.create_project("short", retention_days=7)
    assert store.retention_days(short) == 7
    default = store.create_project("default")
    assert store.retention_days(default) == 30
    store.set_retention(default, 90)
    assert store.retention_days(default) == 90
    with pytest.raises(InvalidQueryError):
        store.set_retention(default, 0)
    store.insert_spans([span(1, 0, project=short), span(2, 0, project=default)])
    assert dict(store._query("SELECT project, retention_days FROM spans", {})[1]) == {short: 7, default: 90}
    # rows that arrived 10 days ago: the 7-day project's part expires, the 90-day one stays
    store._command("INSERT INTO spans (project, trace_id, span_id, start_time, end_time, retention_days, ingested_at) "
                   "SELECT p, 'old', toString(number), now64(9) - INTERVAL 10 DAY, now64(9) - INTERVAL 10 DAY, d, "
                   "now64(3) - INTERVAL 10 DAY FROM (SELECT arrayJoin([({a:String}, 7), ({b:String}, 90)]) AS x, "
                   "x.1 AS p, x.2 AS d, 1 AS number)", {"a": short, "b": default})
    store._command("OPTIMIZE TABLE spans FINAL")
    left = store._query("SELECT project FROM spans WHERE trace_id = 'old'", {})[1]
    assert left == [(default,)]
    ddl = store._query("SHOW CREATE TABLE spans", {})[1][0][0]
    assert "ttl_only_drop_parts = 1" in ddl


# -- deletion on request ---------------------------------------------------------------------------------
def test_deleting_a_tenant_removes_spans_scores_keys_and_rollups(store: Store):
    store.insert_spans([span(t, i) for t in range(9) for i in range(2)])   # tenants t0, t1, t2
    for t in range(9):
        store.insert_score("p1", f"{t:032x}", "", "thumbs", 1.0)
    report = store.delete_subject("p1", tenant="t1")
    assert report.verified and report.deleted["spans"] == 6 and report.deleted["scores"] == 3
    assert report.deleted["span_keys"] == 3  # traces 1, 4, 7; their sessions hold other tenants' traces too
    assert report.deleted["metrics_1m"] > 0 and "metrics_1h" in report.kept
    assert all(v == 0 for v in report.remaining.values())
    assert store._query("SELECT count() FROM spans WHERE tenant = 't1'", {})[1][0][0] == 0
    assert store._query("SELECT count() FROM spans", {})[1][0][0] == 12
    assert store.get_trace("p1", f"{4:032x}") == [] and len(store.get_trace("p1", f"{3:032x}")) == 2
    assert store._query("SELECT count() FROM scores", {})[1][0][0] == 6
    for table in queries.TENANT_ROLLUPS:
        assert store._query(f"SELECT count() FROM {table} WHERE tenant = 't1'", {})[1][0][0] == 0
    assert rollup_total(store, "metrics_1h") == 18  # anonymous totals stay
    assert rollup_total(store, "tenant_metrics_1d") == 12


def test_deleting_a_user_keeps_everyone_else(store: Store):
    store.insert_spans([span(t, 0) for t in range(10)] + [span(30, 0, user="u2", session="private")])
    store.insert_score("p1", f"{2:032x}", "", "label", 0.0)
    report = store.delete_subject("p1", user="u2")
    # traces 2, 7 and 30, and the session only u2 was in
    assert report.verified and report.deleted == {"spans": 3, "scores": 1, "span_keys": 4,
                                                  "analytics_cluster_members": 0, "analytics_cluster_assignments": 0,
                                                  "examples": 0}
    assert store._query("SELECT count() FROM spans", {})[1][0][0] == 8
    assert store.get_session("p1", "private") == ([], None) and store.get_session("p1", "s2")[0]
    assert {i["user"] for i in store.search_spans("p1", window(), 100)[0]} == {"u0", "u1", "u3", "u4"}
    with pytest.raises(InvalidQueryError):
        store.delete_subject("p1")


def test_deleting_a_subject_scrubs_its_examples_from_clustering_and_drift_results(store: Store):
    import json

    store.insert_spans([span(t, 0) for t in range(4)] + [span(30, 0, user="u9")])
    mine, other = f"{30:032x}", f"{1:032x}"
    examples = [{"trace_id": mine, "span_id": "a", "input_preview": "u9 asked about their diagnosis"},
                {"trace_id": other, "span_id": "b", "input_preview": "someone else"}]
    store._insert("analytics_clusters", [["p1", "run1", "c1", json.dumps(examples)],
                                         ["p1", "run1", "c2", json.dumps(examples[1:])]],
                  ["project", "run_id", "cluster_id", "examples"])
    top = [{"kind": "example", "key": f"{mine}:a", "trace_id": mine, "text": "u9 asked about their diagnosis"},
           {"kind": "model", "key": "gpt-4o"}]
    store._insert("drift_signals", [["p1", "drift1", "topic", json.dumps(top)]], ["project", "run_id", "name", "top"])

    report = store.delete_subject("p1", user="u9")
    assert report.verified and report.deleted["examples"] == 2 and report.remaining["examples"] == 0
    texts = [r[0] for r in store._query("SELECT examples FROM analytics_clusters FINAL ORDER BY cluster_id", {})[1]]
    assert [len(json.loads(t)) for t in texts] == [1, 1] and "diagnosis" not in "".join(texts)
    drift_top = store._query("SELECT `top` FROM drift_signals", {})[1][0][0]
    assert json.loads(drift_top) == [{"kind": "model", "key": "gpt-4o"}]


# -- migrations ------------------------------------------------------------------------------------------
def test_a_changed_migration_fails_loudly(store: Store):
    from datetime import datetime, timedelta, timezone
    later = datetime.now(timezone.utc) + timedelta(days=1)
    store._insert("schema_migrations", [[1, "core", "0000000000000000", later]],
                  ["version", "name", "checksum", "applied_at"])
    with pytest.raises(ConfigError, match="different text"):
        store.migrate()
