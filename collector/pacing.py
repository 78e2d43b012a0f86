"""Ingest pacing: keep what was acknowledged at most ``max_lag_s`` from being queryable.

The write-ahead log can take spans faster than storage can index them, and an unbounded backlog means spans
that were acknowledged long ago are still invisible. While the writer is healthy and a span acknowledged now
would wait longer than ``max_lag_s`` to be stored (the oldest unstored request's age, plus the backlog at
storage's measured speed), new requests wait: the clients are paced to storage's speed instead of failing.
After ``max_wait_s`` they are shed with 503 + Retry-After. While storage is failing nothing waits: the log
is there to absorb outages, up to its byte bound.

Pure bookkeeping with the clock passed in; ``Pipeline`` does the waiting.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any


class Pacer:
    def __init__(self, max_lag_s: float) -> None:
        self.max_lag_s = max_lag_s
        # (end position in the log, when it was logged, spans): recorded even when pacing is off, for stats
        self._logged: deque[tuple[Any, float, int]] = deque()
        self._pending_spans = 0
        self._seconds_per_span = 0.0  # storage's speed, smoothed over recent batches
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.max_lag_s > 0

    def logged(self, end: Any, now: float, spans: int) -> None:
        """A request's ``spans`` are in the log, ending at ``end``."""
        with self._lock:
            self._logged.append((end, now, spans))
            self._pending_spans += spans

    def stored(self, spans: int, seconds: float) -> None:
        """The writer stored a batch of ``spans`` in ``seconds``."""
        if spans > 0:
            sample = seconds / spans
            with self._lock:
                self._seconds_per_span = sample if not self._seconds_per_span else (
                    0.7 * self._seconds_per_span + 0.3 * sample)

    def lag(self, stored: Any, now: float) -> float:
        """Seconds the oldest logged request not yet stored (everything before ``stored`` is) has waited."""
        with self._lock:
            self._forget(stored)
            return now - self._logged[0][1] if self._logged else 0.0

    def expected_lag(self, stored: Any, now: float) -> float:
        """How long a span logged now would wait: the current lag plus the backlog at storage's speed."""
        with self._lock:
            self._forget(stored)
            if not self._logged:
                return 0.0
            return now - self._logged[0][1] + self._pending_spans * self._seconds_per_span

    def must_wait(self, stored: Any, now: float) -> bool:
        return self.enabled and self.expected_lag(stored, now) > self.max_lag_s

    def _forget(self, stored: Any) -> None:
        while self._logged and self._logged[0][0] <= stored:
            self._pending_spans -= self._logged.popleft()[2]
