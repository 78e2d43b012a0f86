"""The ingest pipeline: decode -> normalize -> price -> storage rows -> write-ahead log (fsync) -> acknowledged.

Requests are paced to storage (``pacing.Pacer``): while the writer is healthy but a span logged now would
be stored more than ``ingest_max_lag_ms`` later, a request waits before it is logged, up to
``ingest_max_wait_ms``.

``Pipeline.ingest`` is blocking (run it off the event loop); it returns only when the spans are durable in the
log, and the writer stores them in ClickHouse shortly after. The log holds storage rows (``rows.span_row``),
built once on the ingest threads and handed to the writer in memory; logs written by an older version hold
span records, which the writer converts. Memory is bounded by ``max_inflight_bytes`` of
request bodies in process at once; disk by the log's ``max_bytes``. Both answer ``Overloaded`` (503).
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from tracehouse.storage import SpanRecord, StorageError, Store
from tracehouse.storage.rows import span_row, with_text_derived

from .conventions import content_from_logs
from .log_join import LogJoiner
from .normalize import normalize
from .otlp import Rejected, decode_logs, decode_traces
from .pacing import Pacer
from .policy import apply_policy
from .project_config import ProjectConfig, ProjectConfigs, load_price_file
from .ratelimit import RateLimiter
from .settings import Settings
from .wal import WALError, WALFullError, WriteAheadLog
from .writer import Writer, encode_batch


class Overloaded(Exception):
    """Shed load: the client should retry after a pause (503 + Retry-After)."""

    def __init__(self, message: str, retry_after_s: float = 5.0) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Pipeline:
    def __init__(self, settings: Settings, store: Store, configs: ProjectConfigs | None = None) -> None:
        self.settings = settings
        self.configs = configs or ProjectConfigs(store, settings.default_redaction,
                                                 load_price_file(settings.price_overrides_file))
        self.wal = WriteAheadLog(resolve_wal_dir(settings, store), max_bytes=settings.wal_max_bytes,
                                 segment_bytes=settings.wal_segment_bytes)
        self.writer = Writer(self.wal, lambda rows, token: store.insert_span_rows(_rows(rows), dedup_token=token),
                             batch_rows=settings.writer_batch_rows,
                             max_delay_s=settings.writer_max_delay_ms / 1000, on_stored=self._stored_batch)
        self.joiner = LogJoiner()
        self.pacer = Pacer(settings.ingest_max_lag_ms / 1000)
        self._stored = threading.Condition()
        self.span_limiter = RateLimiter(settings.rate_limit_spans_per_s, settings.rate_limit_spans_per_s)
        self._inflight = 0
        self._lock = threading.Lock()

    def start(self) -> None:
        self.writer.start()

    def stop(self) -> None:
        self.writer.stop()
        self.wal.close()

    @property
    def ready(self) -> bool:
        return self.writer.replayed.is_set()

    def ingest(self, project: str, body: bytes, fmt: str, limit_key: str = "") -> tuple[int, list[Rejected]]:
        """OTLP traces: returns (spans stored durably, spans rejected). ``limit_key`` meters the span rate."""
        with self._admitted(body):
            raw_spans, rejected = decode_traces(body, fmt)
            wait = self.span_limiter.take(limit_key or project, len(raw_spans))
            if wait:
                raise Overloaded(f"span rate limit of {self.span_limiter.rate:g}/s reached for this key", wait)
            config = self._config(project)
            records = self.joiner.on_spans(project, [normalize(raw, project, config.steps) for raw in raw_spans])
            self._append_durably([apply_policy(r, config.redaction) for r in records])
            return len(records), rejected

    def ingest_logs(self, project: str, body: bytes, fmt: str, limit_key: str = "") -> tuple[int, list[Rejected]]:
        """OTLP logs: GenAI content events join their spans; returns (log records accepted, rejected)."""
        with self._admitted(body):
            logs, rejected = decode_logs(body, fmt)
            redaction = self._config(project).redaction
            self._append_durably([apply_policy(r, redaction)
                                  for r in self.joiner.on_logs(project, content_from_logs(logs))])
            return len(logs), rejected

    def _pace(self) -> None:
        """Wait while storage is healthy and too far behind; shed the request if that lasts too long."""
        deadline = time.monotonic() + self.settings.ingest_max_wait_ms / 1000
        while self.pacer.must_wait(self.wal.checkpoint, time.monotonic()) and not self.writer.stats.last_error:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise Overloaded("storage is behind the write-ahead log by more than "
                                 f"{self.pacer.max_lag_s:g} s; retry shortly", 1.0)
            with self._stored:  # woken by the next stored batch; the timeout re-checks a failing writer
                self._stored.wait(min(remaining, 0.25))

    def _stored_batch(self, spans: int, seconds: float) -> None:
        self.pacer.stored(spans, seconds)
        with self._stored:
            self._stored.notify_all()

    def _config(self, project: str) -> ProjectConfig:
        try:
            return self.configs.get(project)
        except StorageError as exc:
            raise Overloaded(f"storage unreachable and this project's settings are not cached yet: {exc}") from exc

    @contextmanager
    def _admitted(self, body: bytes) -> Iterator[None]:
        """Bound the request bytes being decoded at once (memory), shedding load past it."""
        with self._lock:
            if self._inflight + len(body) > self.settings.max_inflight_bytes:
                raise Overloaded("too many request bytes in process; retry shortly")
            self._inflight += len(body)
        try:
            yield
        finally:
            with self._lock:
                self._inflight -= len(body)

    def _append_durably(self, records: list[SpanRecord]) -> None:
        if not records:
            return
        rows = [span_row(r) for r in records]
        self._pace()
        try:
            end = self.wal.append(encode_batch(rows), rows)
            self.pacer.logged(end, time.monotonic(), len(rows))
            self.wal.wait_durable(end)
        except WALFullError as exc:
            raise Overloaded(str(exc)) from exc
        except WALError as exc:
            raise Overloaded(f"write-ahead log unavailable: {exc}") from exc

    def wait_stored(self, timeout: float = 10.0) -> bool:
        """Block until everything acknowledged so far is in storage (tests, shutdown, benchmarks)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.wal.read(self.wal.checkpoint, limit_bytes=1):  # no durable record left unstored
                return True
            time.sleep(0.01)
        return False

    def stats(self) -> dict[str, Any]:
        s = self.writer.stats
        return {"stored_spans": s.stored_spans, "batches": s.batches, "insert_failures": s.failures,
                "last_error": s.last_error, "wal_pending_bytes": self.wal.pending_bytes(),
                "storage_lag_s": round(self.pacer.lag(self.wal.checkpoint, time.monotonic()), 3),
                "replayed": self.ready}


def _rows(items: list[Any]) -> list[Any]:
    """Storage rows from a log batch; what older versions logged (span records, rows without
    ``text_derived``) is converted."""
    return [span_row(item) if isinstance(item, SpanRecord) else with_text_derived(item) for item in items]


def resolve_wal_dir(settings: Settings, store: Store) -> Path:
    """The setting if given; else beside an embedded data directory; else ./.tracehouse/wal."""
    if settings.wal_dir:
        return Path(settings.wal_dir).resolve()
    if store.target.kind == "chdb":
        return Path(store.target.path).parent / "wal"
    return Path(".tracehouse/wal").resolve()
