"""Cached calls to the collector's query API, the only place pages get data from.

``st.cache_data(ttl=10)`` shares an answer between reruns and sessions for ten seconds, which is as stale as a
dashboard of live traffic should get. The settings are part of the cache key, so two collectors (or two keys)
never see each other's data. Streamlit never caches an exception: an ``ApiError`` is raised again on the next
call, so a collector that comes back shows up on the next rerun.

Runs that finish later (analytics) are polled with a shorter TTL; actions (``post_json``) are never cached.
Every call goes through one shared ``ApiClient`` per settings (``st.cache_resource``): kept-alive connections,
and no TLS context built per call.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal, Mapping

import streamlit as st

from .api_client import ApiClient
from .settings import DashboardSettings
from .timerange import to_rfc3339

__all__ = [
    "CACHE_TTL_S",
    "POLL_TTL_S",
    "ROUTES_TTL_S",
    "fetch_json",
    "fetch_metrics",
    "fetch_newest",
    "fetch_routes",
    "fetch_run",
    "fetch_runs",
    "fetch_spans",
    "fetch_trace",
    "fetch_traces",
    "post_json",
]

CACHE_TTL_S = 10
POLL_TTL_S = 2  # a run in progress: fresh enough to see it finish, cached enough to survive a burst of reruns
ROUTES_TTL_S = 30  # which endpoints the collector serves changes only when it is upgraded
RUNS_LISTED = 50  # analytics runs offered in a page's run picker (the API's default page)
# The tails of a window asked first by ``fetch_newest``, shortest first.
NEWEST_TAILS = (timedelta(hours=1), timedelta(hours=6))


def _parse(moment: str) -> datetime:
    return datetime.fromisoformat(moment.replace("Z", "+00:00"))


@st.cache_resource(max_entries=16, show_spinner=False)
def _client(settings: DashboardSettings) -> ApiClient:
    """One client per settings for the whole server, shared by every session: its connection pool keeps
    connections to the collector alive, and its TLS context (loading the CA bundle costs more than a metrics
    query) is made once. httpx clients are safe to share between threads; this one is never closed."""
    return ApiClient(settings.endpoint, settings.api_key, settings.timeout_s)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def fetch_metrics(settings: DashboardSettings, start: str, end: str, interval: str, group_by: str = "",
                  filters: Mapping[str, Any] | None = None) -> Any:
    """``filters``: the metrics filters (tenant, model, kind); blank ones mean "any"."""
    return _client(settings).metrics(start, end, interval, group_by, **(filters or {}))


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def fetch_traces(settings: DashboardSettings, filters: Mapping[str, Any]) -> Any:
    return _client(settings).traces(**filters)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def fetch_trace(settings: DashboardSettings, trace_id: str) -> Any:
    return _client(settings).trace(trace_id)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def fetch_spans(settings: DashboardSettings, filters: Mapping[str, Any], pages: int = 1) -> list[dict[str, Any]]:
    """Up to ``pages`` pages of ``GET /api/v1/spans`` (newest first), concatenated."""
    items: list[dict[str, Any]] = []
    cursor = None
    client = _client(settings)
    for _ in range(max(1, pages)):
        page = client.spans(**filters, cursor=cursor)
        items.extend(page.get("items") or [])
        cursor = page.get("next_cursor")
        if not cursor:
            break
    return items


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def fetch_newest(settings: DashboardSettings, what: Literal["spans", "traces"], filters: Mapping[str, Any],
                 limit: int, start: str, end: str, keep: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """The newest ``limit`` spans (or trace summaries) in ``[start, end)``, asking first for the last hour of
    the window, then the last six hours, then all of it, until one answer is full. ``keep``: only these fields
    of each item are kept (and cached; every cache hit copies the answer, and full spans carry their messages).

    The API sorts a window's rows before it cuts them, so on busy days the newest 500 of 24 hours cost as
    much as reading all 24 hours; the last hour usually holds them and costs a twenty-fourth. For spans the
    answer is exactly the same. For trace summaries a trace that began before the tail counts only its spans
    inside it (pages that show summaries as exact figures should not use this).
    """
    first, last = _parse(start), _parse(end)
    tails = [last - tail for tail in NEWEST_TAILS if last - tail > first] + [first]
    client = _client(settings)
    get = client.spans if what == "spans" else client.traces
    for tail_start in tails:
        items = get(**filters, start=to_rfc3339(tail_start), end=end, limit=limit).get("items") or []
        if len(items) >= limit:
            break
    return [{k: item.get(k) for k in keep} for item in items] if keep else items


@st.cache_data(ttl=ROUTES_TTL_S, show_spinner=False)
def fetch_routes(settings: DashboardSettings) -> dict[str, list[str]]:
    return _client(settings).routes()


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def fetch_json(settings: DashboardSettings, path: str, params: Mapping[str, Any] | None = None) -> Any:
    """``GET`` an API path that has no dedicated helper (compare, scores, analytics results)."""
    return _client(settings).get(path, **(params or {}))


@st.cache_data(ttl=POLL_TTL_S, show_spinner=False)
def fetch_run(settings: DashboardSettings, path: str) -> Any:
    """``GET`` an analytics run, which may still be running: cached for ``POLL_TTL_S`` only."""
    return _client(settings).get(path)


@st.cache_data(ttl=POLL_TTL_S, show_spinner=False)
def fetch_runs(settings: DashboardSettings, path: str, limit: int = RUNS_LISTED) -> list[dict[str, Any]]:
    """The ``items`` of an analytics run list (``GET .../runs``), newest first. Polled like a run: a run in
    the list may be moving. ``fetch_runs.clear()`` after starting one, so the list shows it at once."""
    body = _client(settings).get(path, limit=limit)
    items = body.get("items") if isinstance(body, dict) else None
    return [dict(item) for item in items or [] if isinstance(item, dict)]


def post_json(settings: DashboardSettings, path: str, body: Mapping[str, Any]) -> Any:
    """An action (start a run, replay a call): never cached, so a click always reaches the collector."""
    return _client(settings).post(path, body)
