"""Time windows for the dashboard's range selector, and RFC 3339 formatting for the API. Pure functions.

A window's end is ``now`` rounded *up* to ``DEFAULT_GRANULARITY``, so every rerun inside those seconds asks the
API the same question and hits Streamlit's data cache (whose TTL is the same length) instead of missing it
because ``now`` moved by a few milliseconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

__all__ = [
    "DEFAULT_GRANULARITY",
    "DEFAULT_RANGE",
    "RANGES",
    "TimeRange",
    "TimeWindow",
    "time_window",
    "to_rfc3339",
]

DEFAULT_GRANULARITY = timedelta(seconds=10)


@dataclass(frozen=True)
class TimeRange:
    label: str
    span: timedelta
    interval: str  # the metrics bucket: a few dozen to a few hundred points per chart


RANGES: dict[str, TimeRange] = {
    "1h": TimeRange("Last hour", timedelta(hours=1), "minute"),
    "24h": TimeRange("Last 24 hours", timedelta(hours=24), "hour"),
    "7d": TimeRange("Last 7 days", timedelta(days=7), "hour"),
    "30d": TimeRange("Last 30 days", timedelta(days=30), "day"),
}
DEFAULT_RANGE = "24h"


@dataclass(frozen=True)
class TimeWindow:
    key: str
    label: str
    start: datetime
    end: datetime
    interval: str

    @property
    def start_param(self) -> str:
        return to_rfc3339(self.start)

    @property
    def end_param(self) -> str:
        return to_rfc3339(self.end)


def to_rfc3339(moment: datetime) -> str:
    """UTC, ``Z`` suffix, as the API expects; a naive datetime is taken to be UTC already."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def time_window(key: str, now: datetime, *, granularity: timedelta = DEFAULT_GRANULARITY) -> TimeWindow:
    """The window for range ``key`` (one of ``RANGES``) ending at ``now`` rounded up to ``granularity``."""
    try:
        time_range = RANGES[key]
    except KeyError:
        raise ValueError(f"unknown time range {key!r}; choose one of {list(RANGES)}") from None
    if now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    step = granularity.total_seconds()
    end = datetime.fromtimestamp(math.ceil(now.timestamp() / step) * step, tz=timezone.utc)
    return TimeWindow(key, time_range.label, end - time_range.span, end, time_range.interval)
