"""The writer: one thread that drains the write-ahead log into storage in large batches.

It flushes after ``batch_rows`` spans, ``batch_bytes`` of logged payload (a bound on memory and on how long
one insert takes, whatever the size of a span) or ``max_delay_s`` since the oldest waiting record, whichever
comes first. Each batch is announced in the checkpoint before the insert (``WriteAheadLog.begin_batch``) and
inserted with a deduplication token derived from its log positions, so a crash between insert and checkpoint
replays the identical batch and storage drops the repeat. When storage fails, the batch is retried with
backoff while ingest keeps filling the log up to its bound.

Records the log still holds in memory (``WriteAheadLog.append(payload, value)``) are taken as they are; only a
replay, or a backlog past the log's memory bound, decodes payloads from disk.
"""

from __future__ import annotations

import logging
import pickle
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from tracehouse.storage import StorageError

from .wal import Position, Record, WriteAheadLog

logger = logging.getLogger("tracehouse.writer")


def encode_batch(records: list[Any]) -> bytes:
    """WAL payload for one request's normalized span records (our own files: pickle is safe and fast here)."""
    return pickle.dumps(records, protocol=pickle.HIGHEST_PROTOCOL)


def decode_batch(payload: bytes) -> list[Any]:
    return pickle.loads(payload)


def _items(record: Record) -> list[Any]:
    return record.value if record.value is not None else decode_batch(record.payload)


@dataclass
class WriterStats:
    stored_spans: int = 0
    batches: int = 0
    failures: int = 0
    last_error: str = ""
    last_insert_ms: float = 0.0
    replayed: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


class Writer:
    def __init__(self, wal: WriteAheadLog, insert: Callable[[list[Any], str], Any], *,
                 batch_rows: int = 20_000, max_delay_s: float = 0.2, poll_s: float = 0.01,
                 batch_bytes: int = 48 * 1024 * 1024, on_stored: Callable[[int, float], None] | None = None) -> None:
        self.wal = wal
        self._on_stored = on_stored  # told (spans, seconds) after each batch is stored (ingest pacing)
        self._insert = insert
        self.batch_rows = batch_rows
        self.batch_bytes = batch_bytes
        self.max_delay_s = max_delay_s
        self.poll_s = poll_s
        self.stats = WriterStats()
        self.replayed = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tracehouse-writer", daemon=True)
        self._startup_end = wal.durable
        self._give_up_at = float("inf")

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Store everything durable, then stop (bounded by ``timeout``)."""
        self._give_up_at = time.monotonic() + timeout
        self._stop.set()
        self._thread.join(timeout + 1)

    # -- loop -----------------------------------------------------------------------------------
    def _run(self) -> None:
        read_from = self.wal.checkpoint
        intent = self.wal.intent()
        if intent is not None and intent > read_from:
            read_from = self._finish_intent(read_from, intent)
            if read_from is None:
                return
        batch: list[Record] = []
        spans: list[Any] = []
        size = 0
        oldest = 0.0
        backoff = 0.5
        while True:
            stopping = self._stop.is_set()
            full = len(spans) >= self.batch_rows or size >= self.batch_bytes
            records = [] if full else self.wal.read(read_from, limit_bytes=self.batch_bytes - size)
            for record in records:
                if not batch:
                    oldest = time.monotonic()
                batch.append(record)
                spans.extend(_items(record))
                size += _framed_size(record)
                read_from = record.end
            drained = not records and not full  # nothing more to read now
            if drained:
                moved = self.wal.next_position(read_from)
                if moved != read_from:
                    read_from = moved
                    continue
            if batch and (len(spans) >= self.batch_rows or size >= self.batch_bytes or stopping
                          or time.monotonic() - oldest >= self.max_delay_s):
                if self._flush(batch, spans):
                    batch, spans, size, backoff = [], [], 0, 0.5
                elif stopping and time.monotonic() >= self._give_up_at:
                    logger.error("writer: stopping with %d spans unstored (kept in the log for replay)", len(spans))
                    return
                else:
                    time.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
                    continue
            if not batch and not self.replayed.is_set() and read_from >= self._startup_end:
                self.stats.replayed = True
                self.replayed.set()
            if stopping and not batch and drained:
                return
            if drained:
                time.sleep(self.poll_s)

    def _finish_intent(self, read_from: Position, intent: Position) -> Position | None:
        """Repeat the batch that was in flight at the last stop, cut exactly as before (same token)."""
        batch: list[Record] = []
        position = read_from
        while position < intent:
            records = [r for r in self.wal.read(position) if r.end <= intent]
            if not records:
                moved = self.wal.next_position(position)
                if moved == position:
                    break  # the log ends early (should not happen); store what is there
                position = moved
                continue
            batch.extend(records)
            position = records[-1].end
        spans = [span for record in batch for span in _items(record)]
        backoff = 0.5
        while batch and not self._flush(batch, spans):
            if self._stop.is_set() and time.monotonic() >= self._give_up_at:
                return None
            time.sleep(backoff)
            backoff = min(backoff * 2, 5.0)
        return position

    def _flush(self, batch: list[Record], spans: list[Any]) -> bool:
        start, end = batch[0].start, batch[-1].end
        token = f"wal-{start.segment}-{start.offset}-{end.segment}-{end.offset}"
        began = time.monotonic()
        try:
            self.wal.begin_batch(end)
            self._insert(spans, token)
        except (StorageError, OSError) as exc:
            self.stats.failures += 1
            self.stats.last_error = str(exc)
            logger.warning("writer: insert of %d spans failed, will retry: %s", len(spans), exc)
            return False
        self.wal.mark_stored(end, sum(_framed_size(r) for r in batch))
        self.stats.stored_spans += len(spans)
        self.stats.batches += 1
        self.stats.last_error = ""
        self.stats.last_insert_ms = (time.monotonic() - began) * 1000
        if self._on_stored is not None:
            self._on_stored(len(spans), self.stats.last_insert_ms / 1000)
        return True


def _framed_size(record: Record) -> int:
    return record.end.offset - record.start.offset  # a record never spans two segments


