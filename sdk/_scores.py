"""Scores (user feedback, evaluator results) sent to the collector's ``POST /api/v1/scores`` in the background.

``ScoreSender.submit`` validates, appends to a bounded queue and returns at once; a daemon thread (started on
the first score) posts one score at a time with ``Authorization: Bearer <api key>``. Retryable answers
(connection errors, timeouts, 408, 429, 5xx) are retried with exponential backoff, honouring ``Retry-After``
(capped), up to ``max_attempts``; other 4xx answers are final. A full queue drops the OLDEST score. Every loss
is counted (``dropped``, ``failed``) and the first of each kind logs one warning. Nothing here raises into the
caller. Uses only the standard library (``urllib``), so the SDK stays thin.
"""

from __future__ import annotations

import collections
import json
import math
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, Callable

from ._safety import report, warn_once

RETRYABLE = frozenset({408, 429, 500, 502, 503, 504})
MAX_RETRY_AFTER_S = 30.0


@dataclass(frozen=True)
class Score:
    trace_id: str
    name: str
    value: float
    span_id: str | None = None
    comment: str | None = None
    source: str | None = None

    def to_json(self) -> bytes:
        body: dict[str, Any] = {"trace_id": self.trace_id, "name": self.name, "value": self.value}
        for key in ("span_id", "comment", "source"):
            if getattr(self, key) is not None:
                body[key] = getattr(self, key)
        return json.dumps(body, ensure_ascii=False).encode()


def _hex_id(value: Any, width: int, what: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        if not 0 < value < 1 << (4 * width):
            raise ValueError(f"{what} out of range")
        return format(value, f"0{width}x")
    text = str(value).strip().lower().removeprefix("0x")
    if len(text) != width or any(c not in "0123456789abcdef" for c in text) or set(text) == {"0"}:
        raise ValueError(f"{what} must be {width} hex characters, got {value!r}")
    return text


def make_score(trace_id: Any, name: Any, value: Any, span_id: Any = None, comment: Any = None,
               source: Any = None) -> Score:
    """Validate and normalise (ids to lowercase hex, value to a finite float); ValueError when unusable."""
    if isinstance(value, bool):
        value = float(value)
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"score value must be a finite number, got {value!r}")
    name = str(name).strip()
    if not name:
        raise ValueError("score name must not be empty")
    return Score(
        trace_id=_hex_id(trace_id, 32, "trace_id"),
        span_id=None if span_id is None else _hex_id(span_id, 16, "span_id"),
        name=name[:200],
        value=float(value),
        comment=None if comment is None else str(comment)[:10_000],
        source=None if source is None else str(source)[:100],
    )


class ScoreSender:
    def __init__(self, url: str, api_key: str | None, *, timeout_s: float, max_queue: int = 1000,
                 max_attempts: int = 4, backoff_s: float = 0.5, shutdown_timeout_s: float = 5.0,
                 transform: Callable[[Score], Score] | None = None) -> None:
        self.url = url
        self._headers = {"Content-Type": "application/json", "User-Agent": "tracehouse-sdk"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._timeout_s = timeout_s
        self._max_queue = max_queue
        self._max_attempts = max_attempts
        self._backoff_s = backoff_s
        self._shutdown_timeout_s = shutdown_timeout_s
        self._transform = transform
        self._queue: collections.deque[Score] = collections.deque()
        self._lock = threading.Lock()
        self._work = threading.Condition(self._lock)
        self._progress = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None
        self._appended = 0
        self._left = 0
        self.sent = 0
        self.failed = 0
        self.dropped = 0

    @property
    def queued(self) -> int:
        return len(self._queue)

    def submit(self, score: Score) -> bool:
        with self._lock:
            if self._stop.is_set():
                self.dropped += 1
                return False
            if len(self._queue) >= self._max_queue:
                self._queue.popleft()
                self.dropped += 1
                self._left += 1
                warn_once("scores.dropped", "score queue full (%d); dropping the oldest scores "
                          "(see tracehouse.stats())", self._max_queue)
            self._queue.append(score)
            self._appended += 1
            if self._worker is None:
                self._worker = threading.Thread(target=self._run, name="tracehouse-scores", daemon=True)
                self._worker.start()
            self._work.notify()
        return True

    def flush(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        with self._lock:
            target = self._appended
            while self._left < target:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._worker is None or not self._worker.is_alive():
                    return False
                self._progress.wait(remaining)
        return True

    def shutdown(self) -> None:
        self.flush(self._shutdown_timeout_s)
        with self._lock:
            self._stop.set()
            self.dropped += len(self._queue)
            self._left += len(self._queue)
            self._queue.clear()
            self._work.notify()
            self._progress.notify_all()

    # -- worker -----------------------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._queue and not self._stop.is_set():
                    self._work.wait()
                if self._stop.is_set():
                    return
                score = self._queue.popleft()
            try:
                ok = self._send(score)
            except Exception:
                report("ScoreSender.send")
                ok = False
            with self._lock:
                if ok:
                    self.sent += 1
                else:
                    self.failed += 1
                self._left += 1
                self._progress.notify_all()
            if not ok:
                warn_once("scores.failed", "could not send a score to %s (see tracehouse.stats())", self.url)

    def _send(self, score: Score) -> bool:
        if self._transform is not None:
            score = self._transform(score)
        body = score.to_json()
        for attempt in range(self._max_attempts):
            delay = self._backoff_s * (2 ** attempt)
            try:
                request = urllib.request.Request(self.url, data=body, headers=self._headers, method="POST")
                with urllib.request.urlopen(request, timeout=self._timeout_s) as response:
                    response.read()
                    return True
            except urllib.error.HTTPError as exc:
                if exc.code not in RETRYABLE:
                    warn_once(f"scores.rejected.{exc.code}", "the collector rejected a score with HTTP %d: %s",
                              exc.code, exc.read()[:300].decode("utf-8", "replace"))
                    return False
                delay = _retry_after(exc.headers.get("Retry-After"), delay)
            except (OSError, ValueError):  # URLError, timeouts, connection resets; bad URL
                pass
            if attempt + 1 < self._max_attempts and self._stop.wait(delay):
                return False
        return False


def _retry_after(header: str | None, default: float) -> float:
    try:
        return min(max(float(header), 0.0), MAX_RETRY_AFTER_S) if header else default
    except ValueError:
        return default
