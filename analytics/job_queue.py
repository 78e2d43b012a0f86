"""What clustering and drift runs share: one daemon thread draining a queue of runs, and failing the runs a
stopped process left unfinished."""

from __future__ import annotations

import queue
import threading
from typing import Any, Callable, Protocol

_NS = 1_000_000_000
ORPHAN_REASON = "interrupted: the process running it stopped before it finished"


class JobQueueFull(RuntimeError):
    """Too many runs are waiting; try again once some have finished."""


class RunTable(Protocol):
    def unfinished_runs(self, before_ns: int | None) -> list[dict[str, Any]]: ...

    def put_run(self, run: dict[str, Any]) -> Any: ...


def fail_orphans(runs: RunTable, embedded: bool, now_ns: int, stale_after_s: float) -> None:
    """Embedded storage has one process, so its unfinished runs are orphans. On a ClickHouse server other
    replicas may be running theirs: only runs without a state change for ``stale_after_s`` are orphans."""
    before = None if embedded else now_ns - int(stale_after_s * _NS)
    for run in runs.unfinished_runs(before):
        runs.put_run({**run, "status": "failed", "stage": "", "reason": ORPHAN_REASON})


class JobThread:
    """Mixin: ``self._queue`` of jobs (``None`` stops), drained by ``self._work`` on one daemon thread named
    ``thread_name``, started on demand."""

    thread_name = "tracehouse-jobs"
    _queue: "queue.Queue[Any]"
    _lock: threading.Lock
    _worker: threading.Thread | None
    _closed: threading.Event
    _work: Callable[[], None]
    _live: dict[tuple[str, str], dict[str, Any]]
    _fail: Callable[[dict[str, Any], str], None]

    def _enqueue(self, job: Any, state: dict[str, Any], runs: RunTable, what: str) -> str:
        """Record a queued run and hand it to the thread; ``JobQueueFull`` when ``what`` runs already wait."""
        full = f"{self._queue.maxsize} {what} runs are already waiting; retry later"
        if self._queue.full():
            raise JobQueueFull(full)
        runs.put_run(state)
        with self._lock:
            self._live[(state["project"], state["run_id"])] = state
        try:
            self._queue.put_nowait(job)
        except queue.Full as exc:
            self._fail(state, "the run queue was full")
            raise JobQueueFull(full) from exc
        self._ensure_worker()
        return str(state["run_id"])

    def _ensure_worker(self) -> None:
        with self._lock:
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._work, name=self.thread_name, daemon=True)
                self._worker.start()

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop taking runs; the run in progress finishes in the background (the thread is a daemon)."""
        self._closed.set()
        try:
            self._queue.put_nowait(None)
        except queue.Full:
            pass
        if self._worker is not None:
            self._worker.join(timeout_s)
