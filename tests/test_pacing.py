"""Ingest pacing: acknowledged spans stay at most about ``ingest_max_lag_ms`` from storage while storage is
healthy; a failing storage makes nothing wait (the write-ahead log absorbs the outage)."""

from __future__ import annotations

import threading
import time

import pytest

from benchmarks.otlp_load import make_batches
from tracehouse.collector.pacing import Pacer
from tracehouse.collector.pipeline import Overloaded, Pipeline
from tracehouse.collector.settings import Settings
from tracehouse.storage import QueryError


def test_the_lag_is_the_oldest_unstored_request_and_the_backlog_at_storage_speed():
    pacer = Pacer(max_lag_s=1.0)
    pacer.logged(10, now=100.0, spans=100)
    pacer.logged(20, now=100.5, spans=300)
    assert pacer.lag(stored=0, now=101.2) == pytest.approx(1.2) and pacer.must_wait(0, 101.2)
    assert pacer.lag(stored=10, now=101.2) == pytest.approx(0.7) and not pacer.must_wait(10, 101.2)
    pacer.stored(spans=100, seconds=0.2)  # storage: 2 ms a span, so 300 spans are 0.6 s more
    assert pacer.expected_lag(stored=10, now=101.2) == pytest.approx(0.7 + 0.6) and pacer.must_wait(10, 101.2)
    assert pacer.lag(stored=20, now=105.0) == 0.0 and pacer.expected_lag(20, 105.0) == 0.0
    off = Pacer(max_lag_s=0)
    off.logged(10, now=0.0, spans=1)
    assert off.lag(0, 1000.0) == 1000.0 and not off.must_wait(0, 1000.0)


class SlowStore:
    """The real store, with inserts that take ``per_span`` seconds a span (a storage slower than ingest) or
    fail."""

    def __init__(self, store, per_span: float = 0.0, failing: bool = False) -> None:
        self._store, self.per_span, self.failing = store, per_span, failing

    def insert_span_rows(self, rows, dedup_token=None):
        time.sleep(self.per_span * len(rows))
        if self.failing:
            raise QueryError("Connection refused (simulated outage)")
        return self._store.insert_span_rows(rows, dedup_token=dedup_token)

    def __getattr__(self, name):
        return getattr(self._store, name)


def load(pipeline: Pipeline, requests: int, clients: int = 4) -> float:
    """Send ``requests`` requests of 20 spans from ``clients`` threads until all is stored; returns the largest
    storage lag seen (sampled every 10 ms)."""
    todo = make_batches(20 * requests, 20, seed=5)
    pipeline.ingest("p-pace", todo.pop().body, "protobuf")  # storage's speed is known from the first batch on
    pipeline.wait_stored(30)
    lock = threading.Lock()
    lags = [0.0]
    done = threading.Event()

    def client() -> None:
        while True:
            with lock:
                if not todo:
                    return
                batch = todo.pop()
            pipeline.ingest("p-pace", batch.body, "protobuf")

    def monitor() -> None:
        while not done.is_set():
            lags.append(pipeline.pacer.lag(pipeline.wal.checkpoint, time.monotonic()))
            time.sleep(0.01)

    watcher = threading.Thread(target=monitor)
    watcher.start()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    pipeline.wait_stored(60)
    done.set()
    watcher.join()
    return max(lags)


def make_pipeline(store, tmp_path, **settings) -> Pipeline:
    pipeline = Pipeline(Settings(wal_dir=str(tmp_path / "wal"), writer_max_delay_ms=10, **settings), store)
    pipeline.start()
    return pipeline


def test_a_slow_storage_paces_ingest_to_the_lag_bound(store, tmp_path):
    # storage does 500 spans/s; 4 clients offer many times that
    paced = make_pipeline(SlowStore(store, per_span=0.002), tmp_path / "paced", ingest_max_lag_ms=200)
    unpaced = make_pipeline(SlowStore(store, per_span=0.002), tmp_path / "unpaced", ingest_max_lag_ms=0)
    try:
        paced_lag = load(paced, 60)
        unpaced_lag = load(unpaced, 60)
    finally:
        paced.stop()
        unpaced.stop()
    # paced: about the bound plus the insert in flight; unpaced: the whole load waits behind storage
    # (measured: 0.37-0.51 s paced, 2.7 s unpaced; the margins are for a busy machine)
    assert paced_lag < 1.0 and unpaced_lag > 2.0, (paced_lag, unpaced_lag)


def test_a_failing_storage_makes_nothing_wait(store, tmp_path):
    pipeline = make_pipeline(SlowStore(store, failing=True), tmp_path, ingest_max_lag_ms=50,
                             ingest_max_wait_ms=100)
    try:
        began = time.monotonic()
        for batch in make_batches(400, 20, seed=7):  # acknowledged into the log although nothing is stored
            pipeline.ingest("p-pace", batch.body, "protobuf")
        assert time.monotonic() - began < 5 and pipeline.writer.stats.failures > 0
        assert pipeline.stats()["storage_lag_s"] > 0.05
    finally:
        pipeline.writer.stop(timeout=0.5)  # without waiting for the outage to end (the log keeps the spans)
        pipeline.wal.close()


def test_a_storage_stalled_past_the_longest_wait_sheds_with_503(store, tmp_path):
    pipeline = make_pipeline(SlowStore(store, per_span=0.15), tmp_path, ingest_max_lag_ms=50, ingest_max_wait_ms=300)
    try:
        batches = make_batches(40, 20, seed=6)
        pipeline.ingest("p-pace", batches[0].body, "protobuf")
        time.sleep(0.2)  # the first request is now older than the bound, its insert still running
        with pytest.raises(Overloaded, match="behind the write-ahead log") as shed:
            pipeline.ingest("p-pace", batches[1].body, "protobuf")
        assert shed.value.retry_after_s > 0
    finally:
        pipeline.stop()
