"""Batch replay: a filtered set of recorded calls replayed against a candidate model or prompt, scored.

``BatchReplays`` runs in the background of the collector process:

- ``submit(project, filters, overrides) -> run_id`` validates at once (``InvalidReplayRequest``,
  ``ProviderNotConfigured`` for the overrides' provider) and returns; a coordinator thread selects the spans
  (``filters``: ``{trace_id?, tenant?, user?, session?, model?, status?, q?, start?, end?, limit (<= 500,
  default 50), replays? ("exclude" by default: earlier replays are not replayed again)}`` or ``{spans:
  [{trace_id, span_id}]}``; see ``_select``), then replays them on a pool shared by all runs,
  so at most ``concurrency`` provider calls are in flight in the process.
- ``get(project, run_id)`` -> ``{run_id, status ("queued" | "running" | "done" | "failed" | "cancelled"),
  progress (0..1), n, filters, overrides, created_at, finished_at, results, summary, error}``; each result is
  ``{span_id, trace_id, replayed_trace_id, replayed_span_id, exact_match, similarity, json_valid, length_delta,
  cost_delta_usd, latency_delta_ms, scores, error?}`` (``scoring``), in selection order, with ``summary``
  from ``scoring.summarize``. A call whose provider fails has ``error`` and does not fail the run; the run
  fails only when its spans cannot be selected.

Registry: in memory, per process. Runs are lost on restart and are not shared between collector replicas;
the replayed traces themselves are stored (tag ``replay``, ``metadata.replay_id`` = the run id). At most
``max_runs`` runs are kept (the oldest finished ones are forgotten first) and ``max_active`` run at once
(``ReplayBusy`` beyond). Thread-safe.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from tracehouse.storage import Store

from .. import serialize
from ..pricing import price as default_price
from ..timefmt import format_time
from ._records import PriceStep
from ._select import parse_filters, select_spans
from .errors import InvalidReplayRequest, ReplayBusy, ReplayError, RunNotFound
from .providers import Providers
from .replay import ReplayOverrides, replay_loaded_span
from .scoring import Evaluator, score_pair, summarize

__all__ = ["BatchReplays", "MAX_BATCH_SPANS"]

logger = logging.getLogger("tracehouse.collector.replay")
MAX_BATCH_SPANS = 500
_BATCH_OVERRIDES = ("model", "params", "messages", "system", "provider", "stream")


@dataclass
class _Run:
    run_id: str
    project: str
    filters: dict[str, Any]
    overrides: ReplayOverrides
    overrides_json: dict[str, Any]
    created_ns: int
    status: str = "queued"
    n: int = 0
    results: list[dict[str, Any] | None] = field(default_factory=list)
    completed: int = 0
    error: str | None = None
    finished_ns: int | None = None
    cancelled: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


class BatchReplays:
    def __init__(self, store: Store, providers: Providers, *, concurrency: int = 4,
                 price_step: PriceStep | None = None, evaluators: Sequence[Evaluator] = (), max_runs: int = 100,
                 max_active: int = 4) -> None:
        if concurrency < 1 or max_runs < 1 or max_active < 1:
            raise ValueError("concurrency, max_runs and max_active must be at least 1")
        self._store = store
        self._providers = providers
        self._price = price_step or default_price
        self._evaluators = tuple(evaluators)
        self._max_runs = max_runs
        self._max_active = max_active
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="replay-batch")
        self._runs: dict[str, _Run] = {}
        self._lock = threading.Lock()
        self._closed = False

    # -- API ------------------------------------------------------------------------------------------------
    def submit(self, project: str, filters: Mapping[str, Any] | None,
               overrides: ReplayOverrides | Mapping[str, Any] | None) -> str:
        parsed = ReplayOverrides.parse(overrides, allowed=_BATCH_OVERRIDES)
        filters = dict(filters or {})
        if "spans" not in filters:
            parse_filters(filters, max_limit=MAX_BATCH_SPANS)  # fail now, not in the background
        elif not isinstance(filters["spans"], list) or len(filters["spans"]) > MAX_BATCH_SPANS:
            raise InvalidReplayRequest(f"spans must be a list of at most {MAX_BATCH_SPANS} {{trace_id, span_id}}")
        if parsed.provider:  # fail now when the named provider is not configured
            self._providers.get(parsed.provider)
        run = _Run(uuid.uuid4().hex, project, filters, parsed,
                   dict(overrides) if isinstance(overrides, Mapping) else {}, time.time_ns())
        with self._lock:
            if self._closed:
                raise ReplayBusy("batch replay is shutting down")
            if sum(r.status in ("queued", "running") for r in self._runs.values()) >= self._max_active:
                raise ReplayBusy(f"{self._max_active} batch replays are already running; retry when one is done")
            self._forget_old()
            self._runs[run.run_id] = run
        threading.Thread(target=self._coordinate, args=(run,), name=f"replay-batch-{run.run_id[:8]}",
                         daemon=True).start()
        return run.run_id

    def get(self, project: str, run_id: str) -> dict[str, Any]:
        with self._lock:
            run = self._runs.get(run_id)
        if run is None or run.project != project:
            raise RunNotFound(f"batch replay {run_id} not found (runs are kept in memory until restart)")
        with run.lock:
            results = [r for r in run.results if r is not None]
            progress = 1.0 if run.status == "done" else (run.completed / run.n if run.n else 0.0)
            return {
                "run_id": run.run_id, "status": run.status, "progress": progress, "n": run.n,
                "completed": run.completed, "filters": run.filters, "overrides": run.overrides_json,
                "created_at": format_time(run.created_ns),
                "finished_at": format_time(run.finished_ns) if run.finished_ns else None,
                "results": results, "summary": summarize(results), "error": run.error,
            }

    def cancel(self, project: str, run_id: str) -> None:
        """Stop sending calls for a run; those in flight finish and are kept."""
        with self._lock:
            run = self._runs.get(run_id)
        if run is None or run.project != project:
            raise RunNotFound(f"batch replay {run_id} not found")
        with run.lock:
            run.cancelled = True

    def close(self, wait: bool = True) -> None:
        """Stop accepting runs, cancel the running ones and (``wait``) let calls in flight finish."""
        with self._lock:
            self._closed = True
            runs = list(self._runs.values())
        for run in runs:
            with run.lock:
                run.cancelled = True
        self._pool.shutdown(wait=wait, cancel_futures=True)

    # -- work -----------------------------------------------------------------------------------------------
    def _forget_old(self) -> None:
        finished = sorted((r for r in self._runs.values() if r.status not in ("queued", "running")),
                          key=lambda r: r.created_ns)
        while len(self._runs) >= self._max_runs and finished:
            del self._runs[finished.pop(0).run_id]

    def _coordinate(self, run: _Run) -> None:
        try:
            spans = select_spans(self._store, run.project, run.filters, max_limit=MAX_BATCH_SPANS)
        except Exception as exc:
            logger.warning("batch replay %s: selecting spans failed: %s", run.run_id, exc)
            with run.lock:
                run.status, run.error, run.finished_ns = "failed", f"selecting spans failed: {exc}", time.time_ns()
            return
        with run.lock:
            run.n, run.results, run.status = len(spans), [None] * len(spans), "running"
        futures: list[Future[None]] = []
        try:
            for index, span in enumerate(spans):
                futures.append(self._pool.submit(self._one, run, index, span))
        except RuntimeError:  # the pool was shut down (close()) while submitting
            pass
        for future in futures:
            try:
                future.result()
            except Exception:  # _one records its own errors; a cancelled future lands here
                pass
        with run.lock:
            run.status = "cancelled" if run.cancelled and run.completed < run.n else "done"
            run.finished_ns = time.time_ns()

    def _one(self, run: _Run, index: int, span: dict[str, Any]) -> None:
        with run.lock:
            if run.cancelled:
                return
        item: dict[str, Any] = {"span_id": span["span_id"], "trace_id": span["trace_id"], "replayed_trace_id": None,
                                "replayed_span_id": None}
        try:
            replay = replay_loaded_span(self._store, run.project, span, run.overrides, self._providers,
                                        price_step=self._price, kind="batch", replay_id=run.run_id)
            item.update(replayed_trace_id=replay["trace_id"], replayed_span_id=replay["span_id"])
            if replay["status"] == "done":
                item.update(score_pair(serialize.span_json(span), replay["span"], self._evaluators))
            else:
                error = replay["error"] or {}
                item["error"] = _error_text(error)
                item["error_detail"] = error
        except ReplayError as exc:
            item["error"] = str(exc)
        except Exception as exc:  # storage down and the like: the item fails, the run goes on
            logger.warning("batch replay %s: span %s failed", run.run_id, span["span_id"], exc_info=True)
            item["error"] = f"{type(exc).__name__}: {exc}"
        with run.lock:
            run.results[index] = item
            run.completed += 1


def _error_text(error: Mapping[str, Any]) -> str:
    provider, status = error.get("provider"), error.get("status_code")
    where = f"{provider} answered {status}" if status is not None else f"{provider} unreachable"
    return f"{where}: {error.get('message')}"
