"""One bounded queue, one writer: the span processor that hands finished spans to the exporter in batches.

Contract (STYLE habit 5):
- ``on_end`` runs on the application thread and costs one lock and one deque append. It never blocks on I/O.
  When the queue is full the OLDEST span is dropped and counted (``dropped``); the first drop logs a warning.
- A single daemon worker exports batches of ``max_batch`` spans, every ``delay_s`` or as soon as a batch is
  full. The exporter (and its retries and timeouts) only ever runs on that worker.
- ``force_flush(timeout)`` waits, at most ``timeout``, until every span queued before the call has left the
  queue (exported, failed or dropped); it returns False when the time ran out. It never exports on the caller's
  thread, so a hanging collector costs the caller the timeout and nothing more.
- ``shutdown()`` drains for at most ``shutdown_timeout_s``; whatever is still queued then is counted as dropped.

The OpenTelemetry ``BatchSpanProcessor`` is close to this but exports on the caller's thread in
``force_flush`` (ignoring its timeout), logs every dropped span, and does not expose the drop count.
"""

from __future__ import annotations

import collections
import os
import threading
import time
import weakref
from typing import Callable

from opentelemetry.context import Context, _SUPPRESS_INSTRUMENTATION_KEY, attach, detach, set_value
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter

from ._safety import report


class BatchingProcessor(SpanProcessor):
    def __init__(
        self,
        exporter: SpanExporter,
        *,
        max_queue_size: int,
        max_batch: int,
        delay_s: float,
        shutdown_timeout_s: float,
        on_first_drop: Callable[[], None] | None = None,
    ) -> None:
        self._exporter = exporter
        self._max_queue = max_queue_size
        self._max_batch = max_batch
        self._delay_s = delay_s
        self._shutdown_timeout_s = shutdown_timeout_s
        self._on_first_drop = on_first_drop
        self.dropped = 0  # lost to a full queue or to a shutdown that ran out of time
        self._init_state()
        if hasattr(os, "register_at_fork"):
            ref = weakref.WeakMethod(self._after_fork)
            os.register_at_fork(after_in_child=lambda: (m := ref()) is not None and m())

    def _init_state(self) -> None:
        self._queue: collections.deque[ReadableSpan] = collections.deque()
        self._lock = threading.Lock()
        self._work = threading.Condition(self._lock)  # the worker waits here
        self._progress = threading.Condition(self._lock)  # flushers wait here
        self._appended = 0  # spans ever queued
        self._left = 0  # spans that left the queue: exported, failed or dropped
        self._flushers = 0
        self._stopping = False
        self._abandon = False
        self._worker = threading.Thread(target=self._run, name="tracehouse-export", daemon=True)
        self._worker.start()

    def _after_fork(self) -> None:
        """In a forked child the worker thread is gone and the lock may be held: start afresh, empty."""
        self._init_state()

    @property
    def queued(self) -> int:
        return len(self._queue)

    # -- application thread ---------------------------------------------------------------------------
    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        pass

    def on_end(self, span: ReadableSpan) -> None:
        if not span.context.trace_flags.sampled:
            return
        with self._lock:
            if self._stopping:
                self.dropped += 1
                return
            if len(self._queue) >= self._max_queue:
                self._queue.popleft()
                self.dropped += 1
                self._left += 1
                if self.dropped == 1 and self._on_first_drop is not None:
                    self._on_first_drop()
            self._queue.append(span)
            self._appended += 1
            if len(self._queue) == self._max_batch:
                self._work.notify()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        deadline = time.monotonic() + timeout_millis / 1000
        with self._lock:
            target = self._appended
            self._flushers += 1
            self._work.notify()
            try:
                while self._left < target:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or not self._worker.is_alive():
                        return False
                    self._progress.wait(remaining)
                return True
            finally:
                self._flushers -= 1

    def shutdown(self) -> None:
        with self._lock:
            if self._stopping:
                return
            self._stopping = True
            self._work.notify()
        self._worker.join(self._shutdown_timeout_s)
        with self._lock:
            self._abandon = True  # a worker stuck in a slow export stops after it
            self.dropped += len(self._queue)
            self._left += len(self._queue)
            self._queue.clear()
            self._progress.notify_all()
        try:
            self._exporter.shutdown()
        except Exception:
            report("BatchingProcessor.shutdown")

    # -- worker thread ----------------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._lock:
                if not self._stopping and (
                        not self._queue or (self._flushers == 0 and len(self._queue) < self._max_batch)):
                    self._work.wait(self._delay_s)
                if self._abandon or (self._stopping and not self._queue):
                    return
                batch = [self._queue.popleft() for _ in range(min(self._max_batch, len(self._queue)))]
            if batch:
                self._export(batch)
            with self._lock:
                self._left += len(batch)
                self._progress.notify_all()

    def _export(self, batch: list[ReadableSpan]) -> None:
        token = attach(set_value(_SUPPRESS_INSTRUMENTATION_KEY, True))  # don't trace our own HTTP calls
        try:
            self._exporter.export(batch)
        except Exception:
            report("BatchingProcessor.export")
        finally:
            detach(token)
