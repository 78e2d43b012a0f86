"""Clustering runs inside the collector: submit -> background worker (load -> compute -> save) -> results.

``ClusterJobs(store)`` is what the routes and the scheduler call:

* ``submit(project, start_ns, end_ns, filters) -> run_id``  POST /api/v1/analytics/clusters/runs
* ``get(project, run_id) -> dict | None``                    GET  .../runs/{run_id}   (None: 404)
* ``members(project, run_id, cluster_id, limit, cursor)``    GET  .../runs/{run_id}/members   (None: 404)
* ``list_runs(project)``                                     GET  .../runs
* ``assign_new(project, since_ns)``                          new spans -> nearest cluster of the latest run
* ``run_periodic(project_ids, every_s)``                     the collector's scheduler hook

Runs execute one at a time on one daemon worker thread; ``submit`` never blocks on a run. A run's state
(``queued`` -> ``running`` -> ``done`` | ``failed`` with a ``reason``) and results are in storage, so any
replica can answer ``get``; progress (0..1) is finer while the run is on this process. At start-up, runs left
queued or running by a previous process are marked failed ("interrupted"; over a ClickHouse server, only runs
with no state change for ``STALE_AFTER_S``, since other replicas may own them). Thread-safe.

Every method does storage I/O and blocks: call them off the event loop (``run_in_threadpool``). The compute
step runs on the worker thread: numpy and scikit-learn release the GIL, the Python parts (rules,
redaction, tokenizing) hold it in short slices, so ingest stays responsive but slows while a large run works.

Errors: ``submit`` raises ``ValueError`` (``InvalidQueryError`` for an unknown filter, or a bad window) and
``JobQueueFull`` (a ``RuntimeError``) when ``max_queued`` runs are waiting; storage failures are
``StorageError``. A run that fails records its reason instead of raising.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from tracehouse.storage import Store
from tracehouse.storage.analytics import AnalyticsStore, interactions_query

from .clustering import ClusterParams, ClusterResult, PreviousCluster, assign, compute_clusters
from .embedding import Embedder
from .interactions import Interaction, Score, ToolError, interactions_from_rows
from .signals import SignalRules, detect_all
from ._state import FittedModel
from .job_queue import JobQueueFull, JobThread, fail_orphans

__all__ = ["DEFAULT_WINDOW_S", "ClusterJobs", "JobQueueFull", "PeriodicHandle", "TERMINAL"]

logger = logging.getLogger("tracehouse.analytics")

DEFAULT_WINDOW_S = 7 * 24 * 3600
STALE_AFTER_S = 3 * 3600
TERMINAL = frozenset({"done", "failed"})
_LOAD, _COMPUTE, _SAVE = (0.0, 0.1), (0.1, 0.85), (0.85, 1.0)


@dataclass(frozen=True)
class _Job:
    project: str
    run_id: str
    start_ns: int
    end_ns: int
    filters: Mapping[str, Any]
    params: ClusterParams
    created_ms: int


def _rfc3339(ns: int) -> str:
    seconds, fraction = divmod(int(ns), 1_000_000_000)
    stamp = datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{fraction:09d}Z"


def _finite(value: float, digits: int) -> float:
    value = float(value)
    return round(value, digits) if np.isfinite(value) else 0.0


class PeriodicHandle:
    """The scheduler thread started by ``ClusterJobs.run_periodic``; ``stop()`` ends it (idempotent)."""

    def __init__(self, thread: threading.Thread, stop: threading.Event) -> None:
        self._thread = thread
        self._stop = stop

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout_s)


class ClusterJobs(JobThread):
    """Failure-mode clustering runs over one ``Store`` (see the module docstring)."""

    thread_name = "tracehouse-cluster-jobs"

    def __init__(self, store: Store, *, params: ClusterParams = ClusterParams(), rules: SignalRules = SignalRules(),
                 embedder_factory: Callable[[ClusterParams], Embedder] | None = None, max_queued: int = 16,
                 recover: bool = True, clock_ns: Callable[[], int] = time.time_ns) -> None:
        self.analytics = AnalyticsStore(store)
        self.params = params
        self.rules = rules
        self._embedder_factory = embedder_factory
        self._clock_ns = clock_ns
        self._queue: queue.Queue[_Job | None] = queue.Queue(maxsize=max_queued)
        self._lock = threading.Lock()
        self._live: dict[tuple[str, str], dict[str, Any]] = {}
        self._worker: threading.Thread | None = None
        self._closed = threading.Event()
        self._assigned_until: dict[str, int] = {}
        if recover:
            self._recover()

    # -- lifecycle ----------------------------------------------------------------------------------------------
    def _recover(self) -> None:
        embedded = getattr(self.analytics.store.target, "kind", "chdb") == "chdb"
        fail_orphans(self.analytics, embedded, self._clock_ns(), STALE_AFTER_S)

    # -- API --------------------------------------------------------------------------------------------------------
    def submit(self, project: str, start_ns: int | None = None, end_ns: int | None = None,
               filters: Mapping[str, Any] | None = None, *, params: ClusterParams | None = None) -> str:
        """Queue a run over [start_ns, end_ns) (default: the last 7 days) and return its id at once."""
        if self._closed.is_set():
            raise RuntimeError("ClusterJobs is closed")
        end_ns = int(end_ns) if end_ns is not None else self._clock_ns()
        start_ns = int(start_ns) if start_ns is not None else end_ns - DEFAULT_WINDOW_S * 1_000_000_000
        if start_ns >= end_ns:
            raise ValueError(f"the window is empty: start ({_rfc3339(start_ns)}) must be before end "
                             f"({_rfc3339(end_ns)})")
        filters = dict(filters or {})
        interactions_query(project, start_ns, end_ns, filters, 1)  # validates filters: InvalidQueryError
        job = _Job(project, uuid.uuid4().hex, start_ns, end_ns, filters, params or self.params,
                   self._clock_ns() // 1_000_000)
        state = {"project": project, "run_id": job.run_id, "status": "queued", "progress": 0.0, "stage": "",
                 "start_ns": start_ns, "end_ns": end_ns, "filters": filters, "params": asdict(job.params),
                 "created_ms": job.created_ms}
        return self._enqueue(job, state, self.analytics, "clustering")

    def get(self, project: str, run_id: str) -> dict[str, Any] | None:
        """The run as the API shows it, with its ranked clusters once done; None for an unknown run."""
        run = self._state(project, run_id)
        if run is None:
            return None
        out = self._run_summary(run)
        out["clusters"] = ([_cluster_out(c) for c in self.analytics.get_clusters(project, run_id)]
                           if run["status"] == "done" else [])
        return out

    def members(self, project: str, run_id: str, cluster_id: str | None = None, limit: int = 100,
                cursor: str | None = None, include_assigned: bool = False) -> dict[str, Any] | None:
        """``{items: [{trace_id, span_id, cluster_id, x, y, failed, signals, reasons, assigned}], next_cursor}``;
        None for an unknown run. ``InvalidQueryError`` for a bad cursor."""
        if self._state(project, run_id) is None:
            return None
        items, next_cursor = self.analytics.members(project, run_id, cluster_id or None, limit, cursor,
                                                    include_assigned)
        for item in items:
            item["x"], item["y"] = _finite(item["x"], 5), _finite(item["y"], 5)
            item["similarity"] = _finite(item["similarity"], 4)
            item["start_time"] = _rfc3339(item.pop("start_time_ns"))
        return {"items": items, "next_cursor": next_cursor}

    def list_runs(self, project: str, limit: int = 50) -> list[dict[str, Any]]:
        """Runs of the project, newest first, without their clusters."""
        out = []
        for run in self.analytics.list_runs(project, limit):
            live = self._live.get((project, run["run_id"]))
            out.append(self._run_summary(live if live is not None and live["status"] not in TERMINAL
                                         and run["status"] not in TERMINAL else run))
        return out

    def wait(self, project: str, run_id: str, timeout_s: float = 120.0, poll_s: float = 0.1) -> dict[str, Any]:
        """Block until the run is done or failed (for tests and in-process callers); TimeoutError otherwise."""
        deadline = time.monotonic() + timeout_s
        while True:
            run = self.get(project, run_id)
            if run is None:
                raise KeyError(f"no clustering run {run_id} in project {project}")
            if run["status"] in TERMINAL:
                return run
            if time.monotonic() > deadline:
                raise TimeoutError(f"clustering run {run_id} still {run['status']} after {timeout_s} s")
            time.sleep(poll_s)

    # -- state ----------------------------------------------------------------------------------------------------
    def _state(self, project: str, run_id: str) -> dict[str, Any] | None:
        stored = self.analytics.get_run(project, run_id)
        with self._lock:
            live = self._live.get((project, run_id))
        if live is not None and (stored is None or stored["status"] not in TERMINAL):
            return dict(live)
        return stored

    @staticmethod
    def _run_summary(run: Mapping[str, Any]) -> dict[str, Any]:
        out = {
            "run_id": run["run_id"], "status": run["status"], "progress": _finite(run.get("progress", 0.0), 3),
            "stage": run.get("stage", ""), "created_at": _rfc3339(int(run["created_ms"]) * 1_000_000),
            "start": _rfc3339(run["start_ns"]), "end": _rfc3339(run["end_ns"]), "filters": run.get("filters") or {},
            "n_interactions": int(run.get("n_interactions", 0)), "n_failed": int(run.get("n_failed", 0)),
            "failure_rate": _finite(run.get("failure_rate", 0.0), 5), "n_clusters": int(run.get("n_clusters", 0)),
            "embedder": run.get("embedder", ""), "duration_ms": _finite(run.get("duration_ms", 0.0), 1),
        }
        if run["status"] == "failed":
            out["reason"] = run.get("reason") or "unknown error"
        return out

    def _update(self, state: dict[str, Any], persist: bool = True, **changes: Any) -> None:
        with self._lock:
            state.update(changes)
        if persist:
            self.analytics.put_run(state)

    def _fail(self, state: dict[str, Any], reason: str) -> None:
        try:
            self._update(state, status="failed", reason=reason[:1000], stage="")
        except Exception:  # storage is down too: the live state still says why
            logger.exception("could not record the failure of clustering run %s", state["run_id"])

    # -- the worker ---------------------------------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            with self._lock:
                state = self._live.get((job.project, job.run_id))
            if state is None:
                continue
            try:
                self._run(job, state)
            except Exception as exc:  # a run fails with its reason; the worker goes on
                logger.exception("clustering run %s of project %s failed", job.run_id, job.project)
                self._fail(state, f"{type(exc).__name__}: {exc}")
            finally:
                with self._lock:  # stored state is authoritative once terminal
                    if state.get("status") in TERMINAL:
                        self._live.pop((job.project, job.run_id), None)

    def _run(self, job: _Job, state: dict[str, Any]) -> None:
        started = time.perf_counter()
        self._update(state, status="running", progress=_LOAD[0], stage="loading")
        interactions, tool_errors, scores, previous = self.load(job)

        def progress(fraction: float, stage: str) -> None:
            low, high = _COMPUTE
            self._update(state, persist=False, progress=low + (high - low) * fraction, stage=stage)

        self._update(state, progress=_COMPUTE[0], stage="computing")
        result = self.compute(job, interactions, tool_errors, scores, previous, progress)
        self._update(state, progress=_SAVE[0], stage="saving")
        self.save(job, interactions, result)
        self._update(state, status="done", progress=1.0, stage="", n_interactions=result.n_interactions,
                     n_failed=result.n_failed, failure_rate=result.failure_rate, n_clusters=len(result.clusters),
                     embedder=result.embedder, duration_ms=(time.perf_counter() - started) * 1000)
        logger.info("clustering run %s of project %s: %d interactions, %d clusters in %.1f s", job.run_id,
                    job.project, result.n_interactions, len(result.clusters), time.perf_counter() - started)

    # load -> compute -> save (each usable on its own, e.g. by a benchmark)
    def load(self, job: _Job) -> tuple[list[Interaction], list[ToolError], list[Score], list[PreviousCluster]]:
        a = self.analytics
        rows = a.load_interactions(job.project, job.start_ns, job.end_ns, job.filters, job.params.max_interactions)
        interactions = interactions_from_rows(rows)
        tool_errors = [ToolError(r["trace_id"], r["span_id"], r["name"], r["message"], int(r["start_time_ns"]))
                       for r in a.load_tool_errors(job.project, job.start_ns, job.end_ns)] if interactions else []
        scores = [Score(r["trace_id"], r["span_id"], r["name"], float(r["value"]))
                  for r in a.load_scores(job.project, job.start_ns, job.end_ns)] if interactions else []
        previous: list[PreviousCluster] = []
        last = a.latest_done_run(job.project)
        if last is not None:
            previous = [PreviousCluster(c["cluster_id"], c["profile"]) for c in a.get_clusters(job.project,
                                                                                                last["run_id"])
                        if not c["is_outlier"]]
        return interactions, tool_errors, scores, previous

    def compute(self, job: _Job, interactions: list[Interaction], tool_errors: list[ToolError], scores: list[Score],
                previous: list[PreviousCluster], progress: Callable[[float, str], None] | None = None) -> ClusterResult:
        signals = detect_all(interactions, tool_errors, scores, self.rules)
        embedder = self._embedder_factory(job.params) if self._embedder_factory is not None else None
        return compute_clusters(interactions, signals, job.params, rules=self.rules, embedder=embedder,
                                previous=previous, id_salt=job.run_id, progress=progress)

    def save(self, job: _Job, interactions: list[Interaction], result: ClusterResult) -> None:
        a = self.analytics
        a.save_clusters(job.project, job.run_id, [_cluster_row(c) for c in result.clusters])
        ids = result.member_cluster_ids()
        a.save_members(job.project, job.run_id, (
            (ids[n], i.trace_id, i.span_id, i.start_time_ns, result.x[n], result.y[n], result.similarity[n],
             result.failed[n], [s.name for s in result.signals[n]], [s.reason for s in result.signals[n]])
            for n, i in enumerate(interactions)))
        if result.model is not None and result.n_interactions:
            a.save_model(job.project, job.run_id, result.embedder, result.model.to_text())
            self._assigned_until[job.project] = job.end_ns

    # -- between runs ---------------------------------------------------------------------------------------------
    def assign_new(self, project: str, since_ns: int, until_ns: int | None = None,
                   filters: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Assign LLM spans that started in [since_ns, until_ns) to the nearest cluster of the project's latest
        model, with their signals; stored as assignments of that run (idempotent). Blocking; call it off the event
        loop. Returns ``{run_id, assigned, until, by_cluster}`` (``run_id`` None when no run has a model)."""
        until_ns = int(until_ns) if until_ns is not None else self._clock_ns()
        saved = self.analytics.latest_model(project)
        if saved is None or since_ns >= until_ns:
            return {"run_id": saved[0] if saved else None, "assigned": 0, "until": _rfc3339(until_ns),
                    "by_cluster": {}}
        run_id, text = saved
        model = FittedModel.from_text(text)
        job = _Job(project, run_id, int(since_ns), until_ns, dict(filters or {}), self.params, 0)
        interactions, tool_errors, scores, _ = self.load(job)
        signals = detect_all(interactions, tool_errors, scores, self.rules)
        wanted = frozenset(self.rules.failure_signals)
        placed = assign(interactions, model)
        self.analytics.save_assignments(project, run_id, (
            (placed.cluster_ids[n], i.trace_id, i.span_id, i.start_time_ns, placed.x[n], placed.y[n],
             placed.similarity[n], any(s.name in wanted for s in signals[n]), [s.name for s in signals[n]],
             [s.reason for s in signals[n]]) for n, i in enumerate(interactions)))
        counts: dict[str, int] = {}
        for cid in placed.cluster_ids:
            counts[cid] = counts.get(cid, 0) + 1
        self._assigned_until[project] = max(self._assigned_until.get(project, 0), until_ns)
        return {"run_id": run_id, "assigned": len(interactions), "until": _rfc3339(until_ns), "by_cluster": counts}

    def run_periodic(self, project_ids: Iterable[str] | Callable[[], Iterable[str]] | None, every_s: float, *,
                     window_s: float = DEFAULT_WINDOW_S, assign_every_s: float | None = 300.0,
                     first_run_after_s: float = 60.0) -> PeriodicHandle:
        """Start the scheduler thread: every ``every_s`` a run per project over the last ``window_s`` (skipped
        while one of its runs is unfinished), and every ``assign_every_s`` in between, new spans assigned to the
        latest run's clusters. ``project_ids`` may be a callable, re-read at each tick (projects created later);
        None means every project in the store.
        The first runs start ``first_run_after_s`` after the call. Errors are logged, never raised."""
        if every_s <= 0:
            raise ValueError(f"every_s must be > 0, got {every_s}")
        stop = threading.Event()
        tick_s = max(0.05, min(every_s, assign_every_s or every_s, 30.0))
        start = time.monotonic()
        next_run: dict[str, float] = {}
        next_assign: dict[str, float] = {}

        def projects() -> list[str]:
            if project_ids is None:
                return self.analytics.project_ids()
            return sorted(set(project_ids() if callable(project_ids) else project_ids))

        def loop() -> None:
            while not stop.wait(tick_s if time.monotonic() - start >= first_run_after_s
                                else min(tick_s, first_run_after_s)):
                now = time.monotonic()
                if now - start < first_run_after_s:
                    continue
                try:
                    for project in projects():
                        self._tick(project, now, every_s, window_s, assign_every_s, next_run, next_assign)
                except Exception:
                    logger.exception("the clustering scheduler tick failed; it will try again")

        thread = threading.Thread(target=loop, name="tracehouse-cluster-scheduler", daemon=True)
        thread.start()
        return PeriodicHandle(thread, stop)

    def _tick(self, project: str, now: float, every_s: float, window_s: float, assign_every_s: float | None,
              next_run: dict[str, float], next_assign: dict[str, float]) -> None:
        try:
            if now >= next_run.get(project, 0.0):
                busy = any(r["status"] not in TERMINAL for r in self.analytics.list_runs(project, 20))
                if not busy:
                    end_ns = self._clock_ns()
                    self.submit(project, end_ns - int(window_s * 1e9), end_ns)
                    next_run[project] = now + every_s
                    next_assign[project] = now + (assign_every_s or every_s)
                return
            if assign_every_s and now >= next_assign.get(project, 0.0):
                since = self._assigned_until.get(project)
                if since is None:
                    last = self.analytics.latest_done_run(project)
                    since = last["end_ns"] if last else None
                if since is not None:
                    self.assign_new(project, since)
                next_assign[project] = now + assign_every_s
        except JobQueueFull:
            logger.warning("clustering queue full; project %s waits for the next tick", project)
        except Exception:
            logger.exception("scheduled clustering work for project %s failed", project)


def _cluster_row(c: Any) -> dict[str, Any]:
    """A ClusterSummary as ``AnalyticsStore.save_clusters`` takes it."""
    return {
        "cluster_id": c.cluster_id, "rank": c.rank, "label": c.label, "terms": list(c.terms),
        "is_outlier": c.is_outlier, "size": c.size, "failures": c.failures, "failure_rate": c.failure_rate,
        "lift": c.lift, "lift_ci": c.lift_ci, "score": c.score,
        "top_failure_reasons": [asdict(r) for r in c.top_failure_reasons],
        "examples": [asdict(e) for e in c.examples], "cost_usd": c.cost_usd, "latency_p50_ms": c.latency_p50_ms,
        "latency_p95_ms": c.latency_p95_ms, "x": c.x, "y": c.y, "profile": dict(c.profile),
        "previous_similarity": c.previous_similarity,
    }


def _cluster_out(row: Mapping[str, Any]) -> dict[str, Any]:
    """A stored cluster as the API shows it (the contract's fields first, then extensions)."""
    reasons = row.get("top_failure_reasons") or []
    return {
        "cluster_id": row["cluster_id"], "label": row["label"], "size": int(row["size"]),
        "failure_rate": _finite(row["failure_rate"], 5), "lift": _finite(row["lift"], 4),
        "lift_ci": [_finite(row["lift_ci"][0], 4), _finite(row["lift_ci"][1], 4)],
        "top_failure_reasons": [f"{r['signal']} ({r['share']:.0%})" for r in reasons],
        "examples": list(row.get("examples") or []),
        "cost_usd": _finite(row["cost_usd"], 6), "latency_p50_ms": _finite(row["latency_p50_ms"], 1),
        "rank": int(row["rank"]), "score": _finite(row["score"], 3), "failures": int(row["failures"]),
        "failure_reasons": reasons, "terms": list(row.get("terms") or []), "is_outlier": bool(row["is_outlier"]),
        "latency_p95_ms": _finite(row["latency_p95_ms"], 1), "x": _finite(row["x"], 5), "y": _finite(row["y"], 5),
        "previous_similarity": _finite(row.get("previous_similarity", 0.0), 4),
    }
