"""RFC 3339 times <-> integer nanoseconds (UTC), keeping nanoseconds that ``datetime`` would drop (pure)."""

from __future__ import annotations

import re
from datetime import datetime, timezone

_RFC3339 = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|z|[+-]\d{2}:\d{2})?$"
)


def parse_time(text: str) -> int:
    """Parse an RFC 3339 string (``2026-11-23T14:02:00.123456789Z``) to ns since the epoch. ValueError if bad."""
    match = _RFC3339.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not an RFC 3339 time such as 2026-11-23T14:02:00Z")
    date, clock, fraction, offset = match.groups()
    offset = "+00:00" if offset in (None, "Z", "z") else offset
    whole = datetime.fromisoformat(f"{date}T{clock}{offset}")
    return int(whole.timestamp()) * 1_000_000_000 + int((fraction or "0").ljust(9, "0"))


def format_time(ns: int) -> str:
    seconds, fraction = divmod(int(ns), 1_000_000_000)
    stamp = datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{fraction:09d}Z"
