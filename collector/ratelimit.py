"""Token-bucket rate limits per API key and per tenant (pure logic with an injected clock).

A bucket refills at ``rate`` tokens per second up to ``burst``; a request that finds too few tokens is refused
with the seconds until enough have refilled, which the route sends as ``Retry-After``. Buckets of idle keys are
dropped so memory stays bounded. Thread safety: ``RateLimiter.take`` may be called from any thread.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Callable


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    def __init__(self, rate: float, burst: float | None = None, clock: Callable[[], float] = time.monotonic,
                 max_buckets: int = 100_000) -> None:
        self.rate = rate
        self.burst = burst if burst is not None else max(rate, 1.0)
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()
        self._max_buckets = max_buckets

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def take(self, key: str, cost: float = 1.0) -> float:
        """Take ``cost`` tokens; returns 0 when allowed, else the seconds to wait before retrying."""
        if not self.enabled:
            return 0.0
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= self._max_buckets:
                    self._buckets.clear()  # rare: a flood of distinct keys; forgetting buckets only loosens limits
                bucket = self._buckets[key] = _Bucket(self.burst, now)
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
            cost = min(cost, self.burst)  # a request larger than the burst waits for a full bucket, never forever
            if bucket.tokens >= cost:
                bucket.tokens -= cost
                return 0.0
            return (cost - bucket.tokens) / self.rate


class RateExceeded(Exception):
    """A limit met inside the ingest path (e.g. a tenant's span rate): shed the request, retry after a pause."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


def retry_after_header(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))
