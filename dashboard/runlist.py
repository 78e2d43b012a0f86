"""Lists of analytics runs (``GET /api/v1/analytics/{clusters,drift}/runs``, newest first): which one a page
opens by default, and one line per run for the run picker. Pure.

A run in the list is its summary: ``run_id, status, created_at`` and, for clustering, ``start, end,
n_interactions, n_clusters, progress``; for drift, ``verdict, baseline {start, end}, current {start, end},
n_signals, n_drift, trigger, progress``. Missing fields read as unknown, never as an error.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

import pandas as pd

__all__ = ["DONE", "cluster_run_label", "describe_window", "drift_run_label", "newest_done", "run_options"]

DONE = "done"
_VERDICTS = {"drift": "drift", "no_drift": "no drift", "insufficient_data": "insufficient data"}


def newest_done(runs: Iterable[Mapping[str, Any]]) -> str:
    """The id of the first finished run (the list is newest first), or "" when none has finished."""
    return next((str(r["run_id"]) for r in runs if r.get("status") == DONE and r.get("run_id")), "")


def run_options(runs: Sequence[Mapping[str, Any]], wanted: str) -> list[str]:
    """Run ids for the picker: the listed ones, and ``wanted`` first when the list does not hold it (a link to
    an old run, or one started a moment ago)."""
    ids = [str(r["run_id"]) for r in runs if r.get("run_id")]
    return ids if not wanted or wanted in ids else [wanted, *ids]


def _when(value: Any, fmt: str = "%Y-%m-%d %H:%M") -> str:
    try:
        moment = pd.Timestamp(value)
    except (TypeError, ValueError):
        return "?"
    return "?" if pd.isna(moment) else moment.strftime(fmt)


def _window(window: Any) -> str:
    if not isinstance(window, Mapping):
        return "?"
    return f"{_when(window.get('start'), '%m-%d %H:%M')}–{_when(window.get('end'), '%m-%d %H:%M')}"


def describe_window(window: Any) -> str:
    """A run's (or a drift window's) ``{start, end}`` as ``2026-11-23 03:52 to 2026-11-23 04:52 UTC``."""
    if not isinstance(window, Mapping):
        return "an unknown window"
    return f"{_when(window.get('start'))} to {_when(window.get('end'))} UTC"


def _count(run: Mapping[str, Any], field: str) -> int:
    try:
        return int(run.get(field) or 0)
    except (TypeError, ValueError):
        return 0


def _unfinished(run: Mapping[str, Any]) -> str | None:
    status = str(run.get("status") or "unknown")
    if status == DONE:
        return None
    if status == "failed":
        return "failed"
    progress = run.get("progress")
    return f"{status} {progress:.0%}" if isinstance(progress, (int, float)) and progress > 0 else status


def cluster_run_label(run: Mapping[str, Any]) -> str:
    """``2026-11-23 04:52 UTC · 14 clusters of 17,204 interactions · 11-23 03:52–11-23 04:52``."""
    head = f"{_when(run.get('created_at'))} UTC"
    window = _window(run)
    state = _unfinished(run)
    if state is not None:
        return f"{head} · {state} · {window}"
    return (f"{head} · {_count(run, 'n_clusters')} clusters of {_count(run, 'n_interactions'):,} interactions "
            f"· {window}")


def drift_run_label(run: Mapping[str, Any]) -> str:
    """``2026-11-23 04:52 UTC · drift in 3 of 14 signals · 11-23 03:52–11-23 04:52 vs 11-23 02:52–11-23 03:52``;
    scheduled reports say so."""
    head = f"{_when(run.get('created_at'))} UTC"
    windows = f"{_window(run.get('current'))} vs {_window(run.get('baseline'))}"
    state = _unfinished(run)
    if state is None:
        verdict = str(run.get("verdict") or "")
        if verdict == "drift":
            state = f"drift in {_count(run, 'n_drift')} of {_count(run, 'n_signals')} signals"
        else:
            state = _VERDICTS.get(verdict, verdict or "no verdict")
    trigger = run.get("trigger")
    scheduled = " (scheduled)" if trigger and trigger != "api" else ""
    return f"{head}{scheduled} · {state} · {windows}"
