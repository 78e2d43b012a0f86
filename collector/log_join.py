"""Join GenAI content that arrives as OTLP log records with its span, whichever arrives first.

Some instrumentations send prompts and completions only as log events (``EVENT_ONLY`` capture), in requests
separate from their spans. Content that comes first waits here for its span; a span that comes first without
content is remembered so late content can be written as an enriched copy of the span (ReplacingMergeTree keeps
the newest ``ingested_at`` per span). Both caches are bounded in entries and age.

Limit: content waiting for its span lives in memory only; a collector restart in that window drops it.
Thread safety: all methods may be called from any thread.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Iterable

from tracehouse.storage import SpanRecord

from .conventions import LogContent, apply_log_content

Key = tuple[str, str, str]  # project, trace_id, span_id
_CONTENT_KINDS = frozenset({"llm", "embedding"})


class _Expiring(OrderedDict):  # type: ignore[type-arg]
    """Insertion-ordered map that forgets entries past ``ttl_s`` or beyond ``max_entries`` (oldest first)."""

    def __init__(self, ttl_s: float, max_entries: int) -> None:
        super().__init__()
        self.ttl_s, self.max_entries = ttl_s, max_entries

    def put(self, key: Key, value: object, now: float) -> None:
        self[key] = (now, value)
        self.move_to_end(key)
        while len(self) > self.max_entries:
            self.popitem(last=False)

    def take(self, key: Key, now: float) -> object | None:
        entry = self.pop(key, None)
        return entry[1] if entry and now - entry[0] <= self.ttl_s else None

    def expire(self, now: float) -> None:
        while self and now - next(iter(self.values()))[0] > self.ttl_s:
            self.popitem(last=False)


class LogJoiner:
    def __init__(self, ttl_s: float = 300.0, max_entries: int = 50_000) -> None:
        self._pending = _Expiring(ttl_s, max_entries)  # content waiting for its span
        self._bare = _Expiring(ttl_s, max_entries)  # content-less LLM spans waiting for content
        self._lock = threading.Lock()

    def on_spans(self, project: str, records: Iterable[SpanRecord]) -> list[SpanRecord]:
        """Apply waiting content to arriving spans; remember LLM spans that still lack content."""
        now = time.monotonic()
        out = []
        with self._lock:
            self._pending.expire(now)
            self._bare.expire(now)
            for record in records:
                key = (project, record.trace_id, record.span_id)
                content = self._pending.take(key, now) if self._pending else None
                if isinstance(content, LogContent):
                    record = apply_log_content(record, content)
                if record.kind in _CONTENT_KINDS and not (record.input_messages and record.output_messages):
                    self._bare.put(key, record, now)
                out.append(record)
        return out

    def on_logs(self, project: str, contents: dict[tuple[str, str], LogContent]) -> list[SpanRecord]:
        """Content from log records: returns enriched copies of spans already stored, keeps the rest waiting."""
        now = time.monotonic()
        enriched = []
        with self._lock:
            for (trace_id, span_id), content in contents.items():
                key = (project, trace_id, span_id)
                record = self._bare.take(key, now)
                if isinstance(record, SpanRecord):
                    updated = apply_log_content(record, content)
                    if updated is not record:
                        enriched.append(updated)
                else:
                    self._pending.put(key, content, now)
        return enriched
