"""Token buckets with a fake clock."""

from tracehouse.collector.ratelimit import RateLimiter, retry_after_header


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_burst_then_refill_then_wait_time():
    clock = Clock()
    limiter = RateLimiter(rate=2, burst=4, clock=clock)
    assert [limiter.take("k") for _ in range(4)] == [0, 0, 0, 0]
    assert limiter.take("k") == 0.5  # one token short at 2 tokens/s
    clock.now = 0.5
    assert limiter.take("k") == 0
    assert limiter.take("other") == 0  # buckets are per key


def test_costs_and_disabled_limiter():
    clock = Clock()
    limiter = RateLimiter(rate=100, burst=100, clock=clock)
    assert limiter.take("k", cost=100) == 0
    assert limiter.take("k", cost=50) == 0.5
    assert limiter.take("k", cost=10_000) == 1.0  # capped at the burst: never an impossible wait
    assert RateLimiter(rate=0).take("k", 10**9) == 0


def test_retry_after_is_whole_seconds_at_least_one():
    assert retry_after_header(0.01) == "1" and retry_after_header(2.2) == "3"
