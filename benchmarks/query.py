"""Query benchmark: load N synthetic spans into embedded storage, then time every dashboard and API read.

    python benchmarks/query.py                      # 10 million spans over 30 days (the issue's target)
    python benchmarks/query.py --spans 1000000 --days 3 --dir /tmp/th-bench

Loads through the fast bulk path (rows generated inside ClickHouse by ``INSERT ... SELECT`` from
``numbers()``, see ``synth.py``), waits for merges to settle, then runs each query ``--repeat`` times with
varying arguments through the real ``Store`` methods (SQL, Python conversion and all), with ClickHouse's
query condition cache off. Prints load time, bytes per span on disk and a table of p50/p95 per query against
its target. ``--insert-cost`` also measures insert throughput with and without each index and view.
The data directory is deleted at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
import statistics
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))

import synth  # noqa: E402

import clickhouse_connect  # noqa: E402

from tracehouse.storage import SpanFilter, SpanRecord, StorageTarget, Store  # noqa: E402
from tracehouse.storage.migrate import Layout, load_migrations  # noqa: E402

PROJECT = "bench"
HOUR_NS = 3600 * 10**9
DAY_NS = 24 * HOUR_NS
LIST_MS, TEXT_MS, TRACE_MS, COST_MS = 150.0, 300.0, 50.0, 300.0
TRACES_PER_CHUNK = 50_000  # ~200k spans per INSERT


@dataclass
class Result:
    name: str
    target_ms: float | None
    times_ms: list[float]
    rows: int

    def quantile(self, q: float) -> float:
        ordered = sorted(self.times_ms)
        return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- load ------------------------------------------------------------------------------------------------
def load(store: Store, spans: int, days: float, now: datetime) -> tuple[int, float]:
    """Insert about ``spans`` spans (traces average four) ending at ``now``; returns (spans, seconds)."""
    traces = max(1, spans // 4)
    sql = synth.insert_sql()
    started = time.monotonic()
    for t0 in range(0, traces, TRACES_PER_CHUNK):
        tn = min(TRACES_PER_CHUNK, traces - t0)
        store._command(sql, {"t0": t0, "tn": tn, "now": now, "days": float(days), "project": PROJECT,
                             "retention_days": 30},
                       settings={"max_insert_threads": 1, "max_threads": 2})
        done = t0 + tn
        if done == traces or (done // TRACES_PER_CHUNK) % 5 == 0:
            elapsed = time.monotonic() - started
            log(f"loaded {done:,}/{traces:,} traces in {elapsed:,.0f} s")
    seconds = time.monotonic() - started
    total = store._query("SELECT count() FROM spans WHERE project = {p:String}", {"p": PROJECT})[1][0][0]
    return int(total), seconds


def wait_for_merges(store: Store, limit_s: float = 900) -> float:
    started = time.monotonic()
    while time.monotonic() - started < limit_s:
        busy = store._query("SELECT count() FROM system.merges WHERE database = currentDatabase()", {})[1][0][0]
        if not busy:
            break
        time.sleep(5)
    return time.monotonic() - started


def disk_usage(store: Store) -> list[tuple[str, int, int, int]]:
    _, rows = store._query(
        "SELECT table, sum(rows), sum(data_compressed_bytes), sum(secondary_indices_compressed_bytes) "
        "FROM system.parts WHERE database = currentDatabase() AND active GROUP BY table ORDER BY table", {})
    return [(t, int(r), int(d), int(i)) for t, r, d, i in rows]


# -- queries ---------------------------------------------------------------------------------------------
def sample_keys(store: Store, now_ns: int) -> dict[str, list[str]]:
    """Real values to query by: tenants, users, sessions, traces, models drawn from the data."""
    _, rows = store._query(
        "SELECT trace_id, tenant, user, session, model FROM spans WHERE project = {p:String} "
        "AND start_time >= fromUnixTimestamp64Nano({lo:Int64}, 'UTC') AND cityHash64(span_id) % 997 = 7 "
        "LIMIT 400", {"p": PROJECT, "lo": now_ns - DAY_NS})
    keys: dict[str, list[str]] = {"trace": [], "tenant": [], "user": [], "session": [], "model": []}
    for trace_id, tenant, user, session, model in rows:
        keys["trace"].append(trace_id)
        keys["tenant"].append(tenant)
        keys["user"].append(user)
        keys["session"].append(session)
        if model:
            keys["model"].append(model)
    return keys


def queries(store: Store, now_ns: int, keys: dict[str, list[str]], rng: random.Random,
            ) -> list[tuple[str, float | None, Callable[[], int]]]:
    day = SpanFilter(start_ns=now_ns - DAY_NS, end_ns=now_ns)
    week = SpanFilter(start_ns=now_ns - 7 * DAY_NS, end_ns=now_ns)
    month = SpanFilter(start_ns=now_ns - 30 * DAY_NS, end_ns=now_ns)
    hour = SpanFilter(start_ns=now_ns - HOUR_NS, end_ns=now_ns)

    def pick(kind: str) -> str:
        return rng.choice(keys[kind])

    def with_(f: SpanFilter, **kw: Any) -> SpanFilter:
        return SpanFilter(**{**f.__dict__, **kw})

    def n(result: Any) -> int:
        return len(result[0]) if isinstance(result, tuple) else len(result)

    _, cursor = store.search_spans(PROJECT, day, 50)

    texts_en = ["refund", "damaged item", "tracking number", "invoice", "password reset", "warranty"]
    return [
        ("spans: newest 50 (24 h)", LIST_MS, lambda: n(store.search_spans(PROJECT, day, 50))),
        ("spans: second page (cursor)", LIST_MS, lambda: n(store.search_spans(PROJECT, day, 50, cursor))),
        ("spans: newest 50 (7 d)", LIST_MS, lambda: n(store.search_spans(PROJECT, week, 50))),
        ("spans: tenant = X (24 h)", LIST_MS, lambda: n(store.search_spans(PROJECT, with_(day, tenant=pick("tenant")), 50))),
        ("spans: user = X (7 d)", LIST_MS, lambda: n(store.search_spans(PROJECT, with_(week, user=pick("user")), 50))),
        ("spans: session = X (7 d)", LIST_MS, lambda: n(store.search_spans(PROJECT, with_(week, session=pick("session")), 50))),
        ("spans: model = X (24 h)", LIST_MS, lambda: n(store.search_spans(PROJECT, with_(day, model=pick("model")), 50))),
        ("spans: status = error (24 h)", LIST_MS, lambda: n(store.search_spans(PROJECT, with_(day, status="error"), 50))),
        ("spans: kind = tool, tenant = X (7 d)", LIST_MS,
         lambda: n(store.search_spans(PROJECT, with_(week, kind="tool", tenant=pick("tenant")), 50))),
        ("traces: newest 50 (24 h)", LIST_MS, lambda: n(store.list_traces(PROJECT, day, 50))),
        ("traces: tenant = X (7 d)", LIST_MS, lambda: n(store.list_traces(PROJECT, with_(week, tenant=pick("tenant")), 50))),
        ("traces: with errors (24 h)", LIST_MS, lambda: n(store.list_traces(PROJECT, with_(day, status="error"), 50))),
        ("text: English word(s) (24 h)", TEXT_MS,
         lambda: n(store.search_spans(PROJECT, with_(day, q=rng.choice(texts_en)), 50))),
        ("text: order number, rare (30 d)", TEXT_MS,
         lambda: n(store.search_spans(PROJECT, with_(month, q=f"#{rng.randrange(1000000, 10000000)}"), 50))),
        ("text: Chinese 退款 (24 h)", TEXT_MS, lambda: n(store.search_spans(PROJECT, with_(day, q="退款"), 50))),
        ("text: Japanese キャンセル (24 h)", TEXT_MS, lambda: n(store.search_spans(PROJECT, with_(day, q="キャンセル"), 50))),
        ("text: Arabic الطلب (24 h)", TEXT_MS, lambda: n(store.search_spans(PROJECT, with_(day, q="الطلب"), 50))),
        ("text: 'refund' in traces list (24 h)", TEXT_MS, lambda: n(store.list_traces(PROJECT, with_(day, q="refund"), 50))),
        ("one trace", TRACE_MS, lambda: n(store.get_trace(PROJECT, pick("trace")))),
        ("one session (all spans)", LIST_MS, lambda: n(store.get_session(PROJECT, pick("session"), 200))),
        ("metrics: 1 h by minute", LIST_MS, lambda: n(store.metrics(PROJECT, hour, 60))),
        ("metrics: 24 h by hour", LIST_MS, lambda: n(store.metrics(PROJECT, day, 3600))),
        ("metrics: 24 h by hour, per model", LIST_MS, lambda: n(store.metrics(PROJECT, day, 3600, "model"))),
        ("metrics: 7 d by hour", LIST_MS, lambda: n(store.metrics(PROJECT, week, 3600))),
        ("metrics: 30 d by day, per model", LIST_MS, lambda: n(store.metrics(PROJECT, month, 86400, "model"))),
        ("metrics: 7 d by hour, tenant = X", LIST_MS,
         lambda: n(store.metrics(PROJECT, with_(week, tenant=pick("tenant")), 3600))),
        ("metrics: 24 h by hour, user = X (spans)", LIST_MS,
         lambda: n(store.metrics(PROJECT, with_(day, user=pick("user")), 3600))),
        ("cost: by tenant by day (30 d)", COST_MS,
         lambda: n(store.cost_breakdown(PROJECT, month, ("tenant",), 86400))),
        ("cost: by tenant x model by day (30 d), ~100k lines", None,
         lambda: n(store.cost_breakdown(PROJECT, month, ("tenant", "model"), 86400))),
        ("cost: top 20 tenants (30 d)", COST_MS,
         lambda: n(store.cost_breakdown(PROJECT, month, ("tenant",), None, order_by="cost", limit=20))),
        ("top 20 slowest spans (24 h)", LIST_MS, lambda: n(store.top_spans(PROJECT, day, "duration", 20))),
        ("top 20 most expensive spans (7 d)", LIST_MS, lambda: n(store.top_spans(PROJECT, week, "cost", 20))),
    ]


def time_queries(store: Store, now_ns: int, repeat: int, seed: int) -> list[Result]:
    rng = random.Random(seed)
    keys = sample_keys(store, now_ns)
    results = []
    for name, target, run in queries(store, now_ns, keys, rng):
        run()  # warm up: first touch of files and marks
        times, rows = [], 0
        for _ in range(repeat):
            started = time.perf_counter()
            rows = run()
            times.append((time.perf_counter() - started) * 1000)
        results.append(Result(name, target, times, rows))
        log(f"{name}: p50 {statistics.median(times):.1f} ms")
    return results


# -- insert cost -----------------------------------------------------------------------------------------
def insert_cost(store: Store, spans: int) -> list[tuple[str, float, float | None]]:
    """Insert throughput (rows/s) of the same spans into variants of the schema: bulk INSERT ... SELECT, and
    the Python path (SpanRecord -> clickhouse-connect) for the full schema and without the text index."""
    from tracehouse.storage.rows import SPAN_COLUMNS

    statements = load_migrations()[0].render(Layout(database="x"))
    spans_ddl = statements[0]
    views = [s for s in statements if s.startswith("CREATE MATERIALIZED VIEW")]
    others = [s for s in statements if s.startswith("CREATE TABLE") and s is not spans_ddl]
    names = [re.match(r"CREATE \w+(?: \w+)? IF NOT EXISTS (\w+)", s).group(1) for s in statements]
    src = f"bench_src_{uuid.uuid4().hex[:6]}"
    store._command(re.sub(r"CREATE TABLE IF NOT EXISTS spans", f"CREATE TABLE {src}", _without_indexes(spans_ddl, ())))
    # the 0001 schema's stored columns, read through today's (texts are aliases there now)
    legacy = ", ".join(f"`{c}`" for c in (*SPAN_COLUMNS, "retention_days", "ingested_at", "insert_token", "is_update"))
    store._command(f"INSERT INTO {src} ({legacy}) SELECT {legacy} FROM spans "
                   f"WHERE project = {{p:String}} ORDER BY start_time DESC LIMIT {{n:UInt64}}",
                   {"p": PROJECT, "n": spans})
    records = _records(store, src, min(spans, 20_000))
    variants = [
        ("no indexes, no views", (), False),
        ("+ bloom filters (trace, session, user, tenant)", ("idx_trace", "idx_session", "idx_user", "idx_tenant"), False),
        ("+ text index (ngrams(2)) only", ("idx_text",), False),
        ("+ materialized views only", (), True),
        ("full schema", ("idx_trace", "idx_session", "idx_user", "idx_tenant", "idx_text"), True),
    ]
    out = []
    for label, indexes, with_views in variants:
        db = f"bench_ic_{uuid.uuid4().hex[:6]}"
        store._command(f"CREATE DATABASE {db}")
        try:
            ddl = [_without_indexes(spans_ddl, indexes)] + others + (views if with_views else [])
            for statement in ddl:
                store._command(_qualify(statement, db, names))
            best = float("inf")
            for _ in range(3):
                store._command(f"TRUNCATE TABLE {db}.spans")
                started = time.perf_counter()
                store._command(f"INSERT INTO {db}.spans SELECT * EXCEPT (input_preview, output_preview) FROM {src}",
                               settings={"max_insert_threads": 1, "max_threads": 1})
                best = min(best, time.perf_counter() - started)
            bulk = spans / best
            python = None
            if label in ("no indexes, no views", "+ bloom filters (trace, session, user, tenant)", "full schema"):
                python = _python_insert_rate(store, db, records)
            out.append((label, bulk, python))
            log(f"insert cost: {label}: {bulk:,.0f} rows/s bulk" + (f", {python:,.0f} rows/s Python" if python else ""))
        finally:
            store._command(f"DROP DATABASE IF EXISTS {db}")
    store._command(f"DROP TABLE IF EXISTS {src}")
    # the real ingest path: Store.insert_spans (retention lookup, stored-key check, dedup token, encoding)
    db = f"bench_ic_{uuid.uuid4().hex[:6]}"
    store._command(f"CREATE DATABASE {db}")
    try:
        target = StorageTarget(kind=store.target.kind, database=db, path=store.target.path)
        fresh = Store(clickhouse_connect.get_client(dsn=f"chdb://{store.target.path}", database=db), target)
        fresh.migrate()
        started = time.perf_counter()
        for i in range(0, len(records), 5000):
            fresh.insert_spans(records[i:i + 5000], dedup_token=f"bench-{i}")
        rate = len(records) / (time.perf_counter() - started)
        out.append(("full schema via Store.insert_spans (+ stored-key check)", float("nan"), rate))
        log(f"insert cost: Store.insert_spans: {rate:,.0f} rows/s")
    finally:
        store._command(f"DROP DATABASE IF EXISTS {db}")
    return out


def _without_indexes(ddl: str, keep: tuple[str, ...]) -> str:
    ddl = re.sub(r"\n\s*INDEX (\w+)[^\n]*", lambda m: m.group(0) if m.group(1) in keep else "", ddl)
    return re.sub(r",(\s*\n\))", r"\1", ddl)


def _qualify(statement: str, db: str, names: list[str]) -> str:
    statement = re.sub(r"^(CREATE (?:TABLE|MATERIALIZED VIEW) IF NOT EXISTS )(\w+)", rf"\1{db}.\2", statement)
    return re.sub(rf"\b(TO|FROM) ({'|'.join(names)})\b", rf"\1 {db}.\2", statement)


def _records(store: Store, table: str, n: int) -> list[SpanRecord]:
    import json
    from tracehouse.storage.rows import JSON_COLUMNS, SPAN_COLUMNS
    columns = [f"toUnixTimestamp64Nano({c}) AS {c}" if c in ("start_time", "end_time") else f"`{c}`"
               for c in SPAN_COLUMNS]
    _, rows = store._query(f"SELECT {', '.join(columns)} FROM {table} LIMIT {int(n)}", {})
    out = []
    for row in rows:
        values = dict(zip(SPAN_COLUMNS, row))
        values["start_time_ns"], values["end_time_ns"] = values.pop("start_time"), values.pop("end_time")
        values.pop("duration_ms")
        for c in JSON_COLUMNS:
            values[c] = json.loads(values[c])
            if isinstance(values[c], list):
                values[c] = tuple(values[c])
        values["tags"] = tuple(values["tags"])
        values["redacted"] = bool(values["redacted"])
        out.append(SpanRecord(**values))
    return out


def _python_insert_rate(store: Store, db: str, records: list[SpanRecord]) -> float:
    from tracehouse.storage.rows import SPAN_COLUMNS, SPAN_INDEX, span_row

    def row(r: SpanRecord) -> list:  # the variants are of the 0001 schema: texts are stored columns there
        values = span_row(r)[:len(SPAN_COLUMNS)]
        values[SPAN_INDEX["input_text"]], values[SPAN_INDEX["output_text"]] = r.input_text, r.output_text
        return [*values, 30]

    best = float("inf")
    for _ in range(2):
        store._command(f"TRUNCATE TABLE {db}.spans")
        started = time.perf_counter()
        for i in range(0, len(records), 5000):
            rows = [row(r) for r in records[i:i + 5000]]
            store._client.insert(f"{db}.spans", rows, column_names=[*SPAN_COLUMNS, "retention_days"])
        best = min(best, time.perf_counter() - started)
    return len(records) / best


# -- report ----------------------------------------------------------------------------------------------
def report(args: argparse.Namespace, spans: int, load_s: float, merge_s: float, compact_s: float,
           usage: list[tuple[str, int, int, int]], results: list[Result],
           inserts: list[tuple[str, float, float | None]]) -> None:
    span_bytes = sum(d + i for t, _, d, i in usage if t == "spans")
    all_bytes = sum(d + i for _, _, d, i in usage)
    print(f"\ntracehouse query benchmark: {spans:,} spans over {args.days:g} days, {args.repeat} runs per query, "
          f"query condition cache off")
    print(f"load: {load_s:,.1f} s ({spans / load_s:,.0f} spans/s, bulk INSERT ... SELECT, all indexes and views); "
          f"merges settled in {merge_s:,.0f} s more; hour and day rollups compacted in {compact_s:,.1f} s")
    print(f"on disk: {span_bytes / spans:,.0f} bytes/span in spans (incl. indexes), "
          f"{all_bytes / spans:,.0f} bytes/span with rollups and keys")
    for table, rows, data, index in usage:
        print(f"  {table:20s} {rows:>12,} rows {data / 2**20:>10,.1f} MiB data {index / 2**20:>8,.1f} MiB indexes")
    if inserts:
        print(f"\n{'insert throughput (rows/s), best of 3':56s} {'bulk':>10s} {'Python':>14s}")
        for label, bulk, python in inserts:
            bulk_text = "" if bulk != bulk else format(bulk, ",.0f")
            print(f"  {label:56s} {bulk_text:>10s} {python and format(python, ',.0f') or '':>14}")
    width = max(len(r.name) for r in results)
    print(f"\n{'query':{width}s}  {'p50 ms':>8s}  {'p95 ms':>8s}  {'target':>8s}  {'rows':>6s}  ok")
    misses = 0
    for r in results:
        p50, p95 = statistics.median(r.times_ms), r.quantile(0.95)
        ok = r.target_ms is None or p95 <= r.target_ms
        misses += not ok
        target = f"{r.target_ms:.0f}" if r.target_ms else "-"
        print(f"{r.name:{width}s}  {p50:8.1f}  {p95:8.1f}  {target:>8s}  {r.rows:6d}  {'yes' if ok else 'MISS'}")
    print(f"\n{len(results) - misses}/{len(results)} queries within target (p95)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spans", type=int, default=10_000_000, help="spans to load (default 10 million)")
    parser.add_argument("--days", type=float, default=30, help="days the spans cover, ending now (default 30)")
    parser.add_argument("--repeat", type=int, default=20, help="runs per query (default 20)")
    parser.add_argument("--dir", default=None, help="data directory (default: a new one under /tmp)")
    parser.add_argument("--reuse", action="store_true", help="query the spans already loaded in --dir")
    parser.add_argument("--keep", action="store_true", help="keep the data directory")
    parser.add_argument("--insert-cost", action="store_true", help="also measure insert cost per index and view")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)

    data_dir = Path(args.dir or f"/tmp/tracehouse-bench-{uuid.uuid4().hex[:8]}")
    if data_dir.exists() and not args.reuse:
        parser.error(f"{data_dir} exists: pass --reuse to query it, or another --dir")
    # --reuse queries data loaded by an earlier run as it is (its schema may predate edits of the migrations)
    store = Store.open(f"chdb://{data_dir}?database=bench", migrate=not args.reuse)
    store.read_settings["use_query_condition_cache"] = 0
    try:
        if args.reuse:
            spans = store._query("SELECT count() FROM spans", {})[1][0][0]
            load_s, merge_s = float("nan"), 0.0
            now_ns = store._query("SELECT toUnixTimestamp64Nano(max(start_time)) + 60000000000 FROM spans", {})[1][0][0]
        else:
            now = datetime.now(timezone.utc)
            now_ns = int(now.timestamp() * 1e9)
            log(f"loading {args.spans:,} spans into {data_dir}")
            spans, load_s = load(store, args.spans, args.days, now)
            log(f"loaded {spans:,} spans in {load_s:,.0f} s; waiting for merges")
            merge_s = wait_for_merges(store)
        log("compacting the hour and day rollups (Store.compact_rollups, what a scheduler runs hourly)")
        compact_s = store.compact_rollups()
        usage = disk_usage(store)
        results = time_queries(store, now_ns, args.repeat, args.seed)
        inserts = insert_cost(store, min(spans, 200_000)) if args.insert_cost else []
        report(args, spans, load_s, merge_s, compact_s, usage, results, inserts)
    finally:
        store.close()
        if not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
