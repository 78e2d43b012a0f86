"""Drift runs inside the collector: submit -> background worker (load -> compute -> save) -> report.

``DriftJobs(store)`` is what the routes and the scheduler call:

* ``submit(project, baseline, current, params=None) -> run_id``   POST /api/v1/analytics/drift/runs
* ``get(project, run_id) -> dict | None``                          GET  .../drift/runs/{run_id}   (None: 404)
* ``list_runs(project, limit) -> list[dict]``                       GET  .../drift/runs
* ``previous_comparison(project, dimension, value, previous)``      release / prompt version / model vs previous
* ``timeline(project, start_ns, end_ns, names)``                    signal verdicts over time (dashboard)
* ``run_periodic(project_ids, every_s, current_s, baseline_s)``     the scheduler hook

``baseline`` and ``current`` are ``WindowSpec`` s or mappings ``{start_ns, end_ns, filters}`` (``start`` /
``end`` as RFC 3339 strings are accepted too, so an API body can be passed as it is). Filters are the span
columns of ``tracehouse.storage.drift.FILTER_COLUMNS`` (tenant, model, release, prompt_version, ...) plus
``cluster_id`` (calls placed in that cluster of the latest clustering run). A comparison is "this window
against that window", "release v2 against v1" or "model A against model B" depending on the two specs.

Load: a uniform sample of at most ``max_rows`` LLM calls per window (the same sample every time), the scores
of the window's traces, and, when a clustering run has saved a model, every call placed in its clusters (so
``cluster_mix`` uses the failure-mode clusters, with their labels). Compute: ``compute_drift`` (pure). Save:
the run's state and every signal (``drift_runs``, ``drift_signals``).

Runs execute one at a time on one daemon worker thread; ``submit`` never blocks on a run. State (``queued``
-> ``running`` -> ``done`` | ``failed`` with a ``reason``) and results live in storage, so any replica answers
``get``. Runs left unfinished by a previous process are marked failed at start-up (over a ClickHouse server only
those without a state change for ``STALE_AFTER_S``). Thread-safe. Every method does storage I/O and blocks:
call them off the event loop. Errors: ``submit`` raises ``ValueError`` (bad window, unknown filter or
parameter; ``InvalidQueryError`` is one) and ``JobQueueFull``; storage failures are ``StorageError``.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any, Callable, Iterable, Mapping

from tracehouse.storage import Store
from tracehouse.storage.drift import FILTER_COLUMNS, VERSION_COLUMNS, DriftStore, filter_clauses

from .drift import DriftParams, DriftReport, compute_drift
from .drift_window import DriftWindow, window_from_rows
from .job_queue import JobQueueFull, JobThread, fail_orphans
from .jobs import PeriodicHandle
from .signals import SignalRules

__all__ = ["DEFAULT_BASELINE_S", "DEFAULT_CURRENT_S", "DriftJobs", "JobQueueFull", "WindowSpec", "format_time",
           "parse_time"]

logger = logging.getLogger("tracehouse.analytics.drift")

DEFAULT_CURRENT_S = 24 * 3600
DEFAULT_BASELINE_S = 7 * 24 * 3600
STALE_AFTER_S = 3 * 3600
TERMINAL = frozenset({"done", "failed"})
CLUSTER_FILTER = "cluster_id"
_NS = 1_000_000_000
_RFC3339 = re.compile(r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|z|[+-]\d{2}:\d{2})?$")


def parse_time(value: str | int) -> int:
    """An RFC 3339 string (``2026-11-23T14:02:00.123456789Z``) or integer ns -> ns since the epoch (UTC)."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a time")
    if isinstance(value, int):
        return value
    match = _RFC3339.match(str(value).strip())
    if not match:
        raise ValueError(f"{value!r} is not an RFC 3339 time such as 2026-11-23T14:02:00Z")
    date, clock, fraction, offset = match.groups()
    offset = "+00:00" if offset in (None, "Z", "z") else offset
    whole = datetime.fromisoformat(f"{date}T{clock}{offset}")
    return int(whole.timestamp()) * _NS + int((fraction or "0").ljust(9, "0"))


def format_time(ns: int) -> str:
    seconds, fraction = divmod(int(ns), _NS)
    return f"{datetime.fromtimestamp(seconds, tz=timezone.utc):%Y-%m-%dT%H:%M:%S}.{fraction:09d}Z"


@dataclass(frozen=True)
class WindowSpec:
    """One side of a comparison: [start_ns, end_ns) and filters (see the module docstring)."""

    start_ns: int
    end_ns: int
    filters: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        if int(self.start_ns) >= int(self.end_ns):
            raise ValueError(f"the window is empty: start ({format_time(self.start_ns)}) must be before end "
                             f"({format_time(self.end_ns)})")
        filters = {k: v for k, v in dict(self.filters or {}).items() if v not in (None, "", [])}
        cluster = filters.pop(CLUSTER_FILTER, None)
        filter_clauses(filters, {})  # InvalidQueryError (a ValueError) for an unknown name or a bad value
        if cluster is not None:
            values = [cluster] if isinstance(cluster, str) else cluster
            if not isinstance(values, (list, tuple)) or not all(isinstance(v, str) for v in values):
                raise ValueError(f"filter {CLUSTER_FILTER!r} must be a string or a list of strings, got {cluster!r}")
            filters[CLUSTER_FILTER] = list(values)
        object.__setattr__(self, "start_ns", int(self.start_ns))
        object.__setattr__(self, "end_ns", int(self.end_ns))
        object.__setattr__(self, "filters", MappingProxyType(filters))

    @classmethod
    def parse(cls, value: "WindowSpec | Mapping[str, Any]") -> "WindowSpec":
        if isinstance(value, WindowSpec):
            return value
        if not isinstance(value, Mapping):
            raise ValueError(f"a window must be an object {{start, end, filters?}}, got {value!r}")
        try:
            start = value["start_ns"] if "start_ns" in value else value["start"]
            end = value["end_ns"] if "end_ns" in value else value["end"]
        except KeyError as exc:
            raise ValueError(f"a window needs start and end (RFC 3339) or start_ns and end_ns: {dict(value)!r}") from exc
        unknown = sorted(set(value) - {"start", "end", "start_ns", "end_ns", "filters"})
        if unknown:
            raise ValueError(f"unknown window fields {unknown}: use start, end and filters")
        filters = value.get("filters") or {}
        if not isinstance(filters, Mapping):
            raise ValueError(f"filters must be an object, got {filters!r}")
        return cls(parse_time(start), parse_time(end), filters)

    @property
    def storage_filters(self) -> dict[str, Any]:
        return {k: v for k, v in self.filters.items() if k != CLUSTER_FILTER}

    @property
    def clusters(self) -> frozenset[str] | None:
        values = self.filters.get(CLUSTER_FILTER)
        return frozenset(values) if values else None

    def to_dict(self) -> dict[str, Any]:
        return {"start_ns": self.start_ns, "end_ns": self.end_ns, "filters": dict(self.filters)}

    def to_api(self) -> dict[str, Any]:
        return {"start": format_time(self.start_ns), "end": format_time(self.end_ns), "filters": dict(self.filters)}


@dataclass(frozen=True)
class _Job:
    project: str
    run_id: str
    baseline: WindowSpec
    current: WindowSpec
    params: DriftParams
    trigger: str
    created_ms: int


@dataclass(frozen=True, eq=False)
class Loaded:
    """What ``DriftJobs.load`` read: both windows, the calls' cluster labels and the windows' sizes."""

    baseline: DriftWindow
    current: DriftWindow
    cluster_names: Mapping[str, str]
    cluster_run_id: str | None
    total_baseline: int
    total_current: int


def skipped_signals(baseline: WindowSpec, current: WindowSpec) -> frozenset[str]:
    """Mixes that a filter makes meaningless: comparing model A with model B, ``model_mix`` drifts by design."""
    skip = set()
    for dim in ("model", "tenant"):
        if baseline.filters.get(dim) or current.filters.get(dim):
            skip.add(f"{dim}_mix")
    if baseline.clusters or current.clusters:
        skip.add("cluster_mix")
    return frozenset(skip)


def _params_for(params: DriftParams, baseline: WindowSpec, current: WindowSpec) -> DriftParams:
    from dataclasses import replace

    segment_by = tuple(d for d in params.segment_by if not (baseline.filters.get(d) or current.filters.get(d)))
    return replace(params, segment_by=segment_by) if segment_by != params.segment_by else params


class DriftJobs(JobThread):
    """Drift runs over one ``Store`` (see the module docstring)."""

    thread_name = "tracehouse-drift-jobs"

    def __init__(self, store: Store, *, params: DriftParams = DriftParams(), rules: SignalRules = SignalRules(),
                 max_rows: int = 20_000, use_clusters: bool = True, max_queued: int = 16, recover: bool = True,
                 clock_ns: Callable[[], int] = time.time_ns) -> None:
        self.drift = DriftStore(store)
        self.params = params
        self.rules = rules
        self.max_rows = max_rows
        self.use_clusters = use_clusters
        self._clock_ns = clock_ns
        self._queue: queue.Queue[_Job | None] = queue.Queue(maxsize=max_queued)
        self._lock = threading.Lock()
        self._live: dict[tuple[str, str], dict[str, Any]] = {}
        self._worker: threading.Thread | None = None
        self._closed = threading.Event()
        if recover:
            self._recover()

    # -- lifecycle ----------------------------------------------------------------------------------------------
    def _recover(self) -> None:
        embedded = getattr(self.drift.store.target, "kind", "chdb") == "chdb"
        fail_orphans(self.drift, embedded, self._clock_ns(), STALE_AFTER_S)

    # -- API ----------------------------------------------------------------------------------------------------
    def submit(self, project: str, baseline: WindowSpec | Mapping[str, Any], current: WindowSpec | Mapping[str, Any],
               *, params: DriftParams | Mapping[str, Any] | None = None, trigger: str = "api") -> str:
        """Queue a comparison of ``current`` against ``baseline`` and return its run id at once."""
        if self._closed.is_set():
            raise RuntimeError("DriftJobs is closed")
        b, c = WindowSpec.parse(baseline), WindowSpec.parse(current)
        if params is None:
            run_params = self.params
        elif isinstance(params, DriftParams):
            run_params = params
        else:
            run_params = DriftParams.from_mapping({**asdict(self.params), **dict(params)})
        if (b.clusters or c.clusters) and not self._has_cluster_model(project):
            raise ValueError("a cluster_id filter needs a finished clustering run with a saved model in this project")
        job = _Job(project, uuid.uuid4().hex, b, c, run_params, trigger, self._clock_ns() // 1_000_000)
        state = {"project": project, "run_id": job.run_id, "status": "queued", "progress": 0.0, "stage": "",
                 "trigger": trigger, "baseline": b.to_dict(), "current": c.to_dict(), "params": asdict(run_params),
                 "created_ms": job.created_ms}
        return self._enqueue(job, state, self.drift, "drift")

    def get(self, project: str, run_id: str) -> dict[str, Any] | None:
        """``{run_id, status, signals: [{name, statistic, p_value, effect_size, verdict, n_baseline, n_current,
        ...}], ...}``; ``signals`` is empty until the run is done. None for an unknown run."""
        run = self._state(project, run_id)
        if run is None:
            return None
        out = self._summary(run)
        out["signals"] = (_signals_out(self.drift.get_signals(project, run_id)) if run["status"] == "done" else [])
        return out

    def list_runs(self, project: str, limit: int = 50) -> list[dict[str, Any]]:
        """Runs of the project, newest first, without their signals."""
        out = []
        for run in self.drift.list_runs(project, limit):
            with self._lock:
                live = self._live.get((project, run["run_id"]))
            out.append(self._summary(dict(live) if live is not None and run["status"] not in TERMINAL else run))
        return out

    def wait(self, project: str, run_id: str, timeout_s: float = 120.0, poll_s: float = 0.1) -> dict[str, Any]:
        """Block until the run is done or failed (tests, in-process callers); TimeoutError otherwise."""
        deadline = time.monotonic() + timeout_s
        while True:
            run = self.get(project, run_id)
            if run is None:
                raise KeyError(f"no drift run {run_id} in project {project}")
            if run["status"] in TERMINAL:
                return run
            if time.monotonic() > deadline:
                raise TimeoutError(f"drift run {run_id} still {run['status']} after {timeout_s} s")
            time.sleep(poll_s)

    def timeline(self, project: str, start_ns: int, end_ns: int, names: Iterable[str] | None = None,
                 trigger: str | None = None) -> list[dict[str, Any]]:
        """Verdicts of finished runs whose current window ended in [start_ns, end_ns), oldest first."""
        rows = self.drift.timeline(project, start_ns, end_ns, list(names) if names else None, trigger)
        return [{"run_id": r["run_id"], "time": format_time(r["current_end_ns"]), "name": r["name"],
                 "verdict": r["verdict"], "effect_size": _num(r["effect_size"]), "p_value": _num(r["p_value"]),
                 "q_value": _num(r["q_value"])} for r in rows]

    def previous_comparison(self, project: str, dimension: str, value: str | None = None,
                            previous: str | None = None, *, filters: Mapping[str, Any] | None = None,
                            lookback_s: float = 90 * 24 * 3600, max_window_s: float = DEFAULT_BASELINE_S,
                            now_ns: int | None = None) -> tuple[WindowSpec, WindowSpec]:
        """(baseline, current) comparing ``value`` of ``dimension`` (release, prompt_version, model,
        request_model; default: the newest value seen) with ``previous`` (default: the value first seen before
        it), each over the last ``max_window_s`` in which it was seen. ``LookupError`` when there is no such
        value or no previous one; ``ValueError`` for an unknown dimension."""
        if dimension not in VERSION_COLUMNS:
            raise ValueError(f"cannot compare by {dimension!r}: use one of {', '.join(sorted(VERSION_COLUMNS))}")
        now_ns = self._clock_ns() if now_ns is None else int(now_ns)
        base_filters = {k: v for k, v in dict(filters or {}).items() if k != dimension}
        seen = self.drift.versions(project, dimension, now_ns - int(lookback_s * _NS), now_ns + 1,
                                   {k: v for k, v in base_filters.items() if k != CLUSTER_FILTER})
        if not seen:
            raise LookupError(f"no {dimension} seen in the last {lookback_s / 86400:.0f} days")
        by_value = {r["value"]: r for r in seen}
        value = value or seen[-1]["value"]
        if value not in by_value:
            raise LookupError(f"{dimension} {value!r} was not seen in the last {lookback_s / 86400:.0f} days")
        if previous is None:
            order = [r["value"] for r in seen]
            at = order.index(value)
            if at == 0:
                raise LookupError(f"no {dimension} was seen before {value!r}")
            previous = order[at - 1]
        if previous not in by_value:
            raise LookupError(f"{dimension} {previous!r} was not seen in the last {lookback_s / 86400:.0f} days")

        def spec(v: str) -> WindowSpec:
            row = by_value[v]
            end = int(row["last_ns"]) + 1
            start = max(int(row["first_ns"]), end - int(max_window_s * _NS))
            return WindowSpec(start, end, {**base_filters, dimension: v})

        return spec(previous), spec(value)

    # -- the scheduler hook -------------------------------------------------------------------------------------
    def run_periodic(self, project_ids: Iterable[str] | Callable[[], Iterable[str]] | None, every_s: float = 3600.0,
                     *, current_s: float = DEFAULT_CURRENT_S, baseline_s: float = DEFAULT_BASELINE_S,
                     first_run_after_s: float = 60.0) -> PeriodicHandle:
        """Start the scheduler thread: every ``every_s`` per project, a run of the last ``current_s`` against
        the ``baseline_s`` before it (``trigger="schedule"``, what drift alert rules read), skipped while one of
        the project's runs is unfinished. ``project_ids``: a list, a callable re-read each tick, or None (every
        project). Errors are logged, never raised."""
        if every_s <= 0 or current_s <= 0 or baseline_s <= 0:
            raise ValueError("every_s, current_s and baseline_s must be > 0")
        stop = threading.Event()
        tick_s = max(0.05, min(every_s, 30.0))
        next_run: dict[str, float] = {}

        def projects() -> list[str]:
            if project_ids is None:
                return self.drift.project_ids()
            return sorted(set(project_ids() if callable(project_ids) else project_ids))

        def loop() -> None:
            delay = max(0.0, first_run_after_s)
            while not stop.wait(delay):
                delay = tick_s
                now = time.monotonic()
                try:
                    for project in projects():
                        if now >= next_run.get(project, 0.0):
                            self.scheduled_run(project, current_s, baseline_s)
                            next_run[project] = now + every_s
                except Exception:
                    logger.exception("the drift scheduler tick failed; it will try again")

        thread = threading.Thread(target=loop, name="tracehouse-drift-scheduler", daemon=True)
        thread.start()
        return PeriodicHandle(thread, stop)

    def scheduled_run(self, project: str, current_s: float = DEFAULT_CURRENT_S,
                      baseline_s: float = DEFAULT_BASELINE_S, now_ns: int | None = None) -> str | None:
        """One scheduled comparison now (what ``run_periodic`` does per tick); None when one is still running or
        the queue is full. Never raises for those."""
        try:
            if any(r["status"] not in TERMINAL for r in self.drift.list_runs(project, 20)):
                return None
            end = self._clock_ns() if now_ns is None else int(now_ns)
            mid = end - int(current_s * _NS)
            return self.submit(project, WindowSpec(mid - int(baseline_s * _NS), mid), WindowSpec(mid, end),
                               trigger="schedule")
        except JobQueueFull:
            logger.warning("drift queue full; project %s waits for the next tick", project)
            return None

    # -- state ----------------------------------------------------------------------------------------------------
    def _state(self, project: str, run_id: str) -> dict[str, Any] | None:
        stored = self.drift.get_run(project, run_id)
        with self._lock:
            live = self._live.get((project, run_id))
            live = dict(live) if live is not None else None
        if live is not None and (stored is None or stored["status"] not in TERMINAL):
            return live
        return stored

    @staticmethod
    def _summary(run: Mapping[str, Any]) -> dict[str, Any]:
        out = {
            "run_id": run["run_id"], "status": run["status"], "verdict": run.get("verdict") or None,
            "baseline": _window_api(run["baseline"]), "current": _window_api(run["current"]),
            "trigger": run.get("trigger", "api"), "created_at": format_time(int(run["created_ms"]) * 1_000_000),
            "progress": round(float(run.get("progress", 0.0)), 3), "stage": run.get("stage", ""),
            "n_baseline": int(run.get("n_baseline", 0)), "n_current": int(run.get("n_current", 0)),
            "n_signals": int(run.get("n_signals", 0)), "n_drift": int(run.get("n_drift", 0)),
            "drifted": list(run.get("drifted") or []), "duration_ms": round(float(run.get("duration_ms", 0.0)), 1),
        }
        if run["status"] == "failed":
            out["reason"] = run.get("reason") or "unknown error"
        return out

    def _update(self, state: dict[str, Any], persist: bool = True, **changes: Any) -> None:
        with self._lock:
            state.update(changes)
        if persist:
            self.drift.put_run(state)

    def _fail(self, state: dict[str, Any], reason: str) -> None:
        try:
            self._update(state, status="failed", reason=reason[:1000], stage="")
        except Exception:
            logger.exception("could not record the failure of drift run %s", state["run_id"])

    # -- the worker -----------------------------------------------------------------------------------------------
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
            except Exception as exc:
                logger.exception("drift run %s of project %s failed", job.run_id, job.project)
                self._fail(state, f"{type(exc).__name__}: {exc}")
            finally:
                with self._lock:
                    if state.get("status") in TERMINAL:
                        self._live.pop((job.project, job.run_id), None)

    def _run(self, job: _Job, state: dict[str, Any]) -> None:
        started = time.perf_counter()
        self._update(state, status="running", progress=0.05, stage="loading")
        loaded = self.load(job)
        self._update(state, progress=0.4, stage="computing")
        report = self.compute(job, loaded)
        self._update(state, persist=False, progress=0.9, stage="saving")
        self.save(job, report)
        drifted = [s.name for s in report.drifted]
        self._update(state, status="done", progress=1.0, stage="", verdict=report.verdict,
                     n_baseline=report.n_baseline, n_current=report.n_current, n_signals=len(report.signals),
                     n_drift=len(drifted), drifted=drifted, duration_ms=(time.perf_counter() - started) * 1000)
        logger.info("drift run %s of project %s: %s (%d of %d signals drifted) in %.1f s", job.run_id, job.project,
                    report.verdict, len(drifted), len(report.signals), time.perf_counter() - started)

    def load(self, job: _Job) -> Loaded:
        """Both windows from storage (see the module docstring)."""
        ds = self.drift
        sides = []
        for spec in (job.baseline, job.current):
            rows = ds.load_window(job.project, spec.start_ns, spec.end_ns, spec.storage_filters, self.max_rows)
            total = len(rows)
            if total >= self.max_rows:
                total = ds.count_window(job.project, spec.start_ns, spec.end_ns, spec.storage_filters)
            scores = ds.load_scores(job.project, spec.start_ns, spec.end_ns, spec.storage_filters)
            sides.append((spec, rows, scores, total))
        clusters: list[list[str] | None] = [None, None]
        names: dict[str, str] = {}
        cluster_run: str | None = None
        wants_clusters = job.baseline.clusters or job.current.clusters
        if self.use_clusters and (wants_clusters or self._wants("cluster_mix", job)):
            assigned = self._assign_clusters(job.project, [rows for _, rows, _, _ in sides])
            if assigned is not None:
                cluster_run, names, clusters = assigned  # type: ignore[assignment]
        if wants_clusters and cluster_run is None:
            raise ValueError("a cluster_id filter needs a finished clustering run with a saved model in this project")
        windows = []
        for (spec, rows, scores, _), ids in zip(sides, clusters):
            if spec.clusters is not None and ids is not None:
                keep = [i for i, cid in enumerate(ids) if cid in spec.clusters]
                rows = [rows[i] for i in keep]
                ids = [ids[i] for i in keep]
                traces = {r["trace_id"] for r in rows}
                scores = [s for s in scores if s["trace_id"] in traces]
            windows.append(window_from_rows(rows, scores, rules=self.rules, cluster=ids))
        return Loaded(windows[0], windows[1], MappingProxyType(names), cluster_run, sides[0][3], sides[1][3])

    def _has_cluster_model(self, project: str) -> bool:
        from tracehouse.storage.analytics import AnalyticsStore

        return self.use_clusters and AnalyticsStore(self.drift.store).latest_model(project) is not None

    def _wants(self, name: str, job: _Job) -> bool:
        return job.params.signals is None or name in job.params.signals

    def _assign_clusters(self, project: str, windows: list[list[dict[str, Any]]]
                         ) -> tuple[str, dict[str, str], list[list[str]]] | None:
        """Place every loaded call in the latest clustering run's clusters; None when no run saved a model."""
        from tracehouse.storage.analytics import AnalyticsStore

        from ._state import FittedModel
        from .clustering import assign
        from .interactions import interactions_from_rows

        analytics = AnalyticsStore(self.drift.store)
        saved = analytics.latest_model(project)
        if saved is None:
            return None
        run_id, text = saved
        try:
            model = FittedModel.from_text(text)
        except ValueError:
            logger.warning("the saved cluster model of run %s is unreadable; drift clusters its own sample", run_id)
            return None
        names = {c["cluster_id"]: c.get("label") or c["cluster_id"] for c in analytics.get_clusters(project, run_id)}
        ids = [list(assign(interactions_from_rows(rows), model).cluster_ids) if rows else [] for rows in windows]
        return run_id, names, ids

    def compute(self, job: _Job, loaded: Loaded) -> DriftReport:
        return compute_drift(loaded.baseline, loaded.current, _params_for(job.params, job.baseline, job.current),
                             skip=skipped_signals(job.baseline, job.current), cluster_names=loaded.cluster_names)

    def save(self, job: _Job, report: DriftReport) -> None:
        self.drift.save_signals(job.project, job.run_id, [s.to_dict() for s in report.signals], job.current.end_ns,
                                job.trigger)


def _window_api(window: Mapping[str, Any]) -> dict[str, Any]:
    return {"start": format_time(window["start_ns"]), "end": format_time(window["end_ns"]),
            "filters": dict(window.get("filters") or {})}


def _num(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number and abs(number) != float("inf") else None


def _signals_out(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Stored signals as the API shows them: the contract's fields first, then the extensions."""
    out = []
    for r in rows:
        out.append({
            "name": r["name"], "statistic": _num(r["statistic"]), "p_value": _num(r["p_value"]),
            "effect_size": _num(r["effect_size"]), "verdict": r["verdict"], "n_baseline": int(r["n_baseline"]),
            "n_current": int(r["n_current"]), "kind": r["kind"], "test": r["test"], "q_value": _num(r["q_value"]),
            "effect_measure": r["effect_measure"], "threshold": _num(r["threshold"]),
            "baseline_value": _num(r["baseline_value"]), "current_value": _num(r["current_value"]),
            "change": _num(r["change"]), "direction": r["direction"], "reason": r["reason"], "top": r["top"],
        })
    return out
