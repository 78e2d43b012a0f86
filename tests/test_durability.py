"""Fault tests with real collector processes: kill -9 mid-load, overload with shedding, storage outage.

Small and bounded for the suite; ``benchmarks/ingest.py`` runs the large load.
"""

from __future__ import annotations

import os
import signal
import threading

import httpx
import pytest

from benchmarks.otlp_load import make_batches
from tracehouse.collector.pipeline import Pipeline
from tracehouse.collector.settings import Settings
from tracehouse.collector.wal import WriteAheadLog
from tracehouse.collector.writer import Writer, encode_batch
from tracehouse.storage import QueryError, SpanFilter, SpanRecord

from .conftest import start_collector, stop_collector, wait_until

pytestmark = pytest.mark.e2e
PB = {"Content-Type": "application/x-protobuf"}


def stored_span_ids(client: httpx.Client) -> list[str]:
    ids, cursor = [], None
    while True:
        params = {"limit": 1000, "start": "2000-01-01T00:00:00Z", **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/spans", params=params).json()
        ids += [s["span_id"] for s in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            return ids


def stored_rows(client: httpx.Client) -> int:
    """Raw rows counted by the metrics query (it does not deduplicate, so duplicates would show)."""
    items = client.get("/api/v1/metrics", params={"interval": "day", "start": "2000-01-01T00:00:00Z"}).json()["items"]
    return sum(i["spans"] for i in items)


def send(base: str, key: str, batches, acked: list[str], stop: threading.Event, retry_503: bool = False,
         shed: list[int] | None = None) -> None:
    with httpx.Client(base_url=base, headers={**PB, "Authorization": f"Bearer {key}"}, timeout=30) as client:
        for batch in batches:
            while not stop.is_set():
                try:
                    response = client.post("/v1/traces", content=batch.body)
                except httpx.HTTPError:
                    return  # the collector died: whatever was not acknowledged may be lost
                if response.status_code == 200:
                    acked.extend(batch.span_ids)
                    break
                assert response.status_code == 503 and response.headers.get("Retry-After")
                if shed is not None:
                    shed.append(1)
                if not retry_503:
                    return
                stop.wait(0.05)


def test_kill_9_mid_load_loses_no_acknowledged_span_and_duplicates_none(tmp_path):
    collector = start_collector(tmp_path)
    batches = make_batches(4000, batch_size=100, seed=11, content_words=200)
    acked: list[str] = []
    stop = threading.Event()
    senders = [threading.Thread(target=send, args=(collector.base_url, collector.api_key, batches[i::2], acked, stop))
               for i in range(2)]
    for t in senders:
        t.start()
    wait_until(lambda: len(acked) >= 1200, timeout_s=60, interval_s=0.01)
    os.kill(collector.process.pid, signal.SIGKILL)  # no shutdown hooks, no final flush
    collector.process.wait()
    for t in senders:
        t.join()
    assert 1200 <= len(acked) < 4000
    key = collector.api_key
    restarted = start_collector(tmp_path, create_project=False)
    try:
        with restarted.client(key) as client:
            wait_until(lambda: stored_rows(client) >= len(acked), timeout_s=60)
            stored = stored_span_ids(client)
            assert set(acked) <= set(stored)                 # nothing acknowledged is lost
            assert len(stored) == len(set(stored))
            assert stored_rows(client) == len(set(stored))   # no row stored twice
    finally:
        stop_collector(restarted)


def test_overload_sheds_with_503_and_client_retries_store_everything(tmp_path):
    collector = start_collector(tmp_path, env_extra={"TRACEHOUSE_WAL_MAX_BYTES": str(600_000),
                                                     "TRACEHOUSE_WRITER_MAX_DELAY_MS": "300"})
    batches = make_batches(2400, batch_size=100, seed=12, content_words=200)
    acked: list[str] = []
    shed: list[int] = []
    stop = threading.Event()
    senders = [threading.Thread(target=send, args=(collector.base_url, collector.api_key, batches[i::4], acked,
                                                   stop, True, shed)) for i in range(4)]
    try:
        for t in senders:
            t.start()
        for t in senders:
            t.join(timeout=120)
        assert len(acked) == 2400
        assert shed, "the log bound was never reached: the test did not overload the collector"
        with collector.client() as client:
            wait_until(lambda: stored_rows(client) >= 2400, timeout_s=60)
            assert stored_rows(client) == 2400
            assert set(stored_span_ids(client)) == set(acked)
    finally:
        stop.set()
        stop_collector(collector)


class FailingFor:
    """A real embedded store whose inserts fail ``n`` times first, like a ClickHouse outage."""

    def __init__(self, store, n: int) -> None:
        self.store, self.n = store, n

    def insert(self, spans, token):
        if self.n > 0:
            self.n -= 1
            raise QueryError("Connection refused (simulated outage)")
        return self.store.insert_spans(spans, dedup_token=token)


def test_storage_outage_then_recovery_loses_nothing(store, tmp_path):
    wal = WriteAheadLog(tmp_path / "wal")
    writer = Writer(wal, FailingFor(store, 4).insert, batch_rows=50, max_delay_s=0.01)
    writer.start()
    records = [SpanRecord(project="p", trace_id=f"{i:032x}", span_id=f"{i + 1:016x}", parent_span_id="",
                          name="s", start_time_ns=1_700_000_000 * 10**9 + i, end_time_ns=1_700_000_000 * 10**9 + i)
               for i in range(300)]
    for chunk in range(0, 300, 30):
        wal.wait_durable(wal.append(encode_batch(records[chunk:chunk + 30])))  # acknowledged during the outage
    writer.stop(timeout=60)
    wal.close()
    window = SpanFilter(start_ns=1_699_000_000 * 10**9, end_ns=1_701_000_000 * 10**9)
    items, _ = store.search_spans("p", window, limit=1000)
    assert len(items) == 300 and writer.stats.failures == 4
    assert sum(r.spans for r in store.metrics("p", window, 86400)) == 300


def replay_with_this_version(store, wal_dir) -> None:
    """Start this version's pipeline on a log an older one left, and wait until the log is stored."""
    pipeline = Pipeline(Settings(wal_dir=str(wal_dir)), store)
    pipeline.start()
    try:
        assert pipeline.wait_stored(30)
    finally:
        pipeline.stop()


def test_a_log_of_span_records_from_the_previous_version_is_stored_after_an_upgrade(store, tmp_path):
    """Older collectors logged pickled span records; this one logs storage rows. A log left unstored by an
    upgrade is replayed through the new writer."""
    wal = WriteAheadLog(tmp_path / "wal")
    records = [SpanRecord(project="p", trace_id=f"{i:032x}", span_id=f"{i + 1:016x}", parent_span_id="",
                          name="old", start_time_ns=1_700_000_000 * 10**9 + i, end_time_ns=1_700_000_000 * 10**9 + i)
               for i in range(20)]
    wal.wait_durable(wal.append(encode_batch(records)))
    wal.close()
    replay_with_this_version(store, tmp_path / "wal")
    window = SpanFilter(start_ns=1_699_000_000 * 10**9, end_ns=1_701_000_000 * 10**9)
    items, _ = store.search_spans("p", window, limit=100)
    assert sorted(i["span_id"] for i in items) == sorted(r.span_id for r in records)


def test_rows_logged_before_content_once_keep_their_texts_after_an_upgrade(store, tmp_path):
    """The previous version logged rows without ``text_derived``; replayed, their texts are stored as written."""
    from tracehouse.storage.rows import SPAN_COLUMNS, SPAN_INDEX, span_row

    wal = WriteAheadLog(tmp_path / "wal")
    record = SpanRecord(project="p", trace_id="ab" * 16, span_id="cd" * 8, parent_span_id="", name="old",
                        start_time_ns=1_700_000_000 * 10**9, end_time_ns=1_700_000_000 * 10**9, input_text="hi",
                        input_messages=({"role": "user", "parts": [{"type": "text", "content": "hi"}]},))
    old = span_row(record)[:len(SPAN_COLUMNS)]
    old[SPAN_INDEX["input_text"]] = "hi"  # that version stored every text
    wal.wait_durable(wal.append(encode_batch([old])))
    wal.close()
    replay_with_this_version(store, tmp_path / "wal")
    assert store._query("SELECT input_text_stored, text_derived, input_text FROM spans", {})[1] == [("hi", 0, "hi")]
